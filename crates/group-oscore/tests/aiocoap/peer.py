"""An aiocoap OSCORE / Group OSCORE endpoint driven over stdin/stdout, for the
interop tests of the group-oscore crate (tests/aiocoap_interop.rs).

No network: CoAP messages travel as hex strings. Each input line is one JSON
command, each output line one JSON answer. The protection itself is done by
aiocoap's own classes (aiocoap.oscore.FilesystemSecurityContext,
SimpleGroupContext and its aspects), called the way aiocoap's transport calls
them.

Commands ("op"):
  oscore            set up an OSCORE context (hex ms, salt, sid, rid, idctx,
                    optional seq and lost_replay for Echo recovery)
  group             set up a SimpleGroupContext (alg "EdDSA" or "ES256", gid,
                    ms, salt, sid, priv, cred, peers {kid: cred}, gm_cred)
  protect_request   {msg, mode: "oscore" | "group" | "pairwise", peer}
  unprotect_request {msg}
  protect_response  {msg, mode: "oscore" | "group" | "pairwise"}
  unprotect_response {msg}
  echo_request      {msg}: protect msg again with the Echo value of the last
                    4.01 Echo response (the client side of RFC 9175)
Answers: {"msg": hex, ...} or {"error": name, "detail": text}.
"""

import atexit
import gc
import json
import os
import shutil
import sys
import tempfile

from aiocoap import Message
from aiocoap.message import Direction
from aiocoap import oscore
from cryptography.hazmat.primitives.asymmetric import ec


class EcdhSsHkdf256P256(oscore.ECDSA_SHA256_P256):
    """aiocoap 0.4.17 has no separate P-256 key agreement object: its ES256
    class does the static-static ECDH and reports its signature identifier
    (-7) for the Pairwise Key Agreement Algorithm. RFC 10021 sections 2.1.10
    and 10 name ECDH-SS + HKDF-256 (-27); this subclass only corrects the
    identifier, aiocoap computes everything else."""

    value = -27


state = {}


def incoming(hexmsg):
    return Message.decode(bytes.fromhex(hexmsg))


def outgoing(hexmsg):
    msg = Message.decode(bytes.fromhex(hexmsg))
    msg.direction = Direction.OUTGOING
    return msg


def wire(msg, like):
    """Encodes msg with the header fields (type, MID, token) of like."""
    msg.mtype = like.mtype
    msg.mid = like.mid
    msg.token = like.token
    msg.direction = Direction.OUTGOING
    return msg.encode().hex()


def setup_oscore(cmd):
    d = tempfile.mkdtemp(prefix="aiocoap-oscore-")

    def cleanup():
        # The context writes its sequence number back when it is dropped:
        # drop it, and the exchanges that hold it, while its directory still
        # exists, then remove the directory.
        state.clear()
        gc.collect()
        shutil.rmtree(d, True)

    atexit.register(cleanup)
    settings = {
        "sender-id_hex": cmd["sid"],
        "recipient-id_hex": cmd["rid"],
        "secret_hex": cmd["ms"],
    }
    if cmd.get("salt"):
        settings["salt_hex"] = cmd["salt"]
    if cmd.get("idctx") is not None:
        settings["id-context_hex"] = cmd["idctx"]
    with open(os.path.join(d, "settings.json"), "w") as f:
        json.dump(settings, f)
    if cmd.get("seq") is not None or cmd.get("lost_replay"):
        sequence = {
            "next-to-send": cmd.get("seq") or 0,
            "received": "unknown"
            if cmd.get("lost_replay")
            else {"index": 0, "bitfield": 0},
        }
        with open(os.path.join(d, "sequence.json"), "w") as f:
            json.dump(sequence, f)
    state["ctx"] = oscore.FilesystemSecurityContext(d)
    state["kind"] = "oscore"
    return {"ok": True}


def private_key(alg, priv):
    if alg == "EdDSA":
        return bytes.fromhex(priv)
    return ec.derive_private_key(int(priv, 16), ec.SECP256R1())


def setup_group(cmd):
    alg = cmd["alg"]
    if alg == "EdDSA":
        signature = oscore.Ed25519()
        agreement = oscore.EcdhSsHkdf256()
    else:
        signature = oscore.ECDSA_SHA256_P256()
        agreement = EcdhSsHkdf256P256()
    aead = oscore.algorithms[oscore.DEFAULT_ALGORITHM]
    state["ctx"] = oscore.SimpleGroupContext(
        alg_aead=aead,
        hashfun=oscore.hashfunctions[oscore.DEFAULT_HASHFUNCTION],
        alg_signature=signature,
        alg_group_enc=aead,
        alg_pairwise_key_agreement=agreement,
        group_id=bytes.fromhex(cmd["gid"]),
        master_secret=bytes.fromhex(cmd["ms"]),
        master_salt=bytes.fromhex(cmd.get("salt", "")),
        sender_id=bytes.fromhex(cmd["sid"]),
        private_key=private_key(alg, cmd["priv"]),
        sender_auth_cred=bytes.fromhex(cmd["cred"]),
        peers={bytes.fromhex(k): bytes.fromhex(v) for k, v in cmd["peers"].items()},
        group_manager_cred=bytes.fromhex(cmd["gm_cred"]),
    )
    state["kind"] = "group"
    return {"ok": True}


def protect_request(cmd):
    msg = outgoing(cmd["msg"])
    ctx = state["ctx"]
    if cmd.get("mode") == "pairwise":
        ctx = ctx.pairwise_for(bytes.fromhex(cmd["peer"]))
    outer, request_id = ctx.protect(msg)
    state["client"] = (ctx, request_id, msg)
    return {"msg": wire(outer, msg)}


def echo_request(cmd):
    """Repeats a request with the Echo value of the last 4.01 response."""
    msg = outgoing(cmd["msg"])
    msg.opt.echo = state["echo"]
    return protect_request({"msg": msg.encode().hex(), "mode": cmd.get("mode"), "peer": cmd.get("peer")})


def unprotect_request(cmd):
    msg = incoming(cmd["msg"])
    ctx = state["ctx"]
    answer = {}
    if state["kind"] == "group":
        unprotected = oscore.verify_start(msg)
        ctx = ctx.get_oscore_context_for(unprotected)
        if ctx is None:
            return {"error": "ContextUnavailable", "detail": "no group context for kid"}
        answer["kid"] = ctx.recipient_id.hex()
        answer["group_mode"] = oscore.COSE_COUNTERSIGNATURE0 in unprotected
    try:
        inner, request_id = ctx.unprotect(msg)
    except oscore.ReplayErrorWithEcho as e:
        challenge = e.to_message()
        state["server"] = (ctx, e.request_id)
        return {
            "error": "ReplayErrorWithEcho",
            "detail": str(e),
            "msg": wire(challenge, msg),
        }
    state["server"] = (ctx, request_id)
    answer["msg"] = wire(inner, msg)
    return answer


def protect_response(cmd):
    msg = outgoing(cmd["msg"])
    ctx, request_id = state["server"]
    mode = cmd.get("mode", "oscore")
    if mode == "pairwise":
        ctx = ctx.context_for_response()
    elif mode == "group":
        ctx = state["ctx"]
    outer, _ = ctx.protect(msg, request_id)
    return {"msg": wire(outer, msg)}


def unprotect_response(cmd):
    msg = incoming(cmd["msg"])
    ctx, request_id, _ = state["client"]
    answer = {}
    if state["kind"] == "group":
        unprotected = oscore.verify_start(msg)
        ctx = ctx.context_from_response(unprotected)
        answer["kid"] = ctx.recipient_id.hex()
    inner, _ = ctx.unprotect(msg, request_id)
    if inner.opt.echo is not None:
        state["echo"] = inner.opt.echo
    # aiocoap replaces the Observe value of a notification by its Partial IV
    # (-1 for one without); report it, and keep the wire form encodable.
    answer["observe"] = inner.opt.observe
    if inner.opt.observe is not None and inner.opt.observe < 0:
        inner.opt.observe = 0
    answer["msg"] = wire(inner, msg)
    return answer


OPS = {
    "oscore": setup_oscore,
    "group": setup_group,
    "protect_request": protect_request,
    "unprotect_request": unprotect_request,
    "protect_response": protect_response,
    "unprotect_response": unprotect_response,
    "echo_request": echo_request,
}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        try:
            answer = OPS[cmd["op"]](cmd)
        except Exception as e:  # reported to the Rust side, which decides
            answer = {"error": type(e).__name__, "detail": str(e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
