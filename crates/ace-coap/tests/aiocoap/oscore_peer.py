"""An aiocoap 0.4.17 OSCORE / Group OSCORE peer on real UDP, for the network
interop tests of ace-coap's OSCORE layer (tests/oscore_aiocoap.rs).

Usage: python oscore_peer.py server|client, then one JSON configuration line
on stdin. Everything aiocoap does here is aiocoap's own code: its OSCORE
server is OscoreSiteWrapper around a Site, its client a context with the
"oscore" transport listed first (without it aiocoap would send requests
unprotected, silently).

Output lines are a word followed by key=value pairs (hex or words).

server: binds 127.0.0.1 on an ephemeral port (with "multicast": true the
  wildcard address, joining 224.0.1.187 on lo), prints "READY <port>", then one
  line per request it served ("REQUEST path= method= oscore=1 if it arrived
  protected, context= the kind of aiocoap context that verified it, kid= the
  requester's Sender ID"). Reading
  "notify" on stdin triggers a notification of /obs; end of stdin stops it.
  Resources: GET /hello, POST /data (2.04 with "got: <payload>"), GET /big
  (3000 bytes, block-wise), GET /obs (observable counter).
client: sends the configured operations to "uri" and prints one line per
  operation ("RESULT code= payload= oscore= notifications=" or "ERROR ..."),
  then "DONE".

Configuration ("kind"):
  oscore  ms, salt, sid, rid (hex), optional idctx, seq, lost_replay
  group   alg ("EdDSA" | "ES256"), gid, ms, salt, sid, priv, cred,
          peers {kid: cred}, gm_cred (hex); the client adds "peer" (the
          server's Sender ID), and each operation a "mode": "group" or
          "pairwise"
"""

import asyncio
import gc
import json
import os
import shutil
import sys
import tempfile

import aiocoap
import aiocoap.resource as resource
from aiocoap import oscore
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper
from aiocoap.transports.oscore import OSCOREAddress
from cryptography.hazmat.primitives.asymmetric import ec


class EcdhSsHkdf256P256(oscore.ECDSA_SHA256_P256):
    """aiocoap 0.4.17 reports its ES256 identifier (-7) as Pairwise Key
    Agreement Algorithm; RFC 10021 section 2.1.10 names ECDH-SS + HKDF-256
    (-27). Only the identifier is corrected; aiocoap computes the rest."""

    value = -27


def emit(obj):
    """One line: a word, or a kind followed by key=value pairs (values are
    hex or words, never containing spaces)."""
    if isinstance(obj, str):
        line = obj
    else:
        kind = obj.pop("kind")
        line = " ".join([kind] + ["%s=%s" % (k, v) for k, v in obj.items()])
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# Temporary directories of the file-backed OSCORE contexts; removed at the
# end, after the contexts have written their state one last time.
DIRS = []


def oscore_context(cfg):
    d = tempfile.mkdtemp(prefix="aiocoap-oscore-")
    DIRS.append(d)
    settings = {
        "sender-id_hex": cfg["sid"],
        "recipient-id_hex": cfg["rid"],
        "secret_hex": cfg["ms"],
    }
    if cfg.get("salt"):
        settings["salt_hex"] = cfg["salt"]
    if cfg.get("idctx") is not None:
        settings["id-context_hex"] = cfg["idctx"]
    with open(os.path.join(d, "settings.json"), "w") as f:
        json.dump(settings, f)
    if cfg.get("seq") is not None or cfg.get("lost_replay"):
        sequence = {
            "next-to-send": cfg.get("seq") or 0,
            "received": "unknown"
            if cfg.get("lost_replay")
            else {"index": 0, "bitfield": 0},
        }
        with open(os.path.join(d, "sequence.json"), "w") as f:
            json.dump(sequence, f)
    return oscore.FilesystemSecurityContext(d)


def group_context(cfg):
    if cfg["alg"] == "EdDSA":
        signature, agreement = oscore.Ed25519(), oscore.EcdhSsHkdf256()
        private = bytes.fromhex(cfg["priv"])
    else:
        signature, agreement = oscore.ECDSA_SHA256_P256(), EcdhSsHkdf256P256()
        private = ec.derive_private_key(int(cfg["priv"], 16), ec.SECP256R1())
    aead = oscore.algorithms[oscore.DEFAULT_ALGORITHM]
    return oscore.SimpleGroupContext(
        alg_aead=aead,
        hashfun=oscore.hashfunctions[oscore.DEFAULT_HASHFUNCTION],
        alg_signature=signature,
        alg_group_enc=aead,
        alg_pairwise_key_agreement=agreement,
        group_id=bytes.fromhex(cfg["gid"]),
        master_secret=bytes.fromhex(cfg["ms"]),
        master_salt=bytes.fromhex(cfg.get("salt", "")),
        sender_id=bytes.fromhex(cfg["sid"]),
        private_key=private,
        sender_auth_cred=bytes.fromhex(cfg["cred"]),
        peers={bytes.fromhex(k): bytes.fromhex(v) for k, v in cfg["peers"].items()},
        group_manager_cred=bytes.fromhex(cfg["gm_cred"]),
    )


def context(cfg):
    return oscore_context(cfg) if cfg["kind"] == "oscore" else group_context(cfg)


def describe(request, path):
    remote = request.remote
    event = {
        "kind": "REQUEST",
        "path": path,
        "method": request.code.name,
        "oscore": int(isinstance(remote, OSCOREAddress)),
    }
    if isinstance(remote, OSCOREAddress):
        sc = remote.security_context
        event["context"] = type(sc).__name__
        rid = getattr(sc, "recipient_id", None)
        event["kid"] = rid.hex() if rid is not None else "none"
    emit(event)


class Hello(resource.Resource):
    async def render_get(self, request):
        describe(request, "/hello")
        return aiocoap.Message(payload=b"hello from aiocoap")


class Data(resource.Resource):
    async def render_post(self, request):
        describe(request, "/data")
        return aiocoap.Message(code=aiocoap.CHANGED, payload=b"got: " + request.payload)


class Big(resource.Resource):
    async def render_get(self, request):
        describe(request, "/big")
        return aiocoap.Message(payload=bytes(i % 251 for i in range(3000)))


class Obs(resource.ObservableResource):
    def __init__(self):
        super().__init__()
        self.value = 0

    def bump(self):
        self.value += 1
        self.updated_state()

    async def render_get(self, request):
        describe(request, "/obs")
        return aiocoap.Message(payload=b"n%d" % self.value)


async def serve(cfg):
    obs = Obs()
    site = resource.Site()
    site.add_resource(["hello"], Hello())
    site.add_resource(["data"], Data())
    site.add_resource(["big"], Big())
    site.add_resource(["obs"], obs)
    credentials = CredentialsMap()
    credentials[":peer"] = context(cfg)
    wrapped = OscoreSiteWrapper(site, credentials)
    if cfg.get("multicast"):
        # The IPv4 All CoAP Nodes group on the loopback interface, on the
        # ephemeral port of a wildcard socket. aiocoap sets only SO_REUSEPORT
        # on it; SO_REUSEADDR is added so that a member of another
        # implementation (which sets SO_REUSEADDR) can bind the same port.
        import socket as socket_module
        import aiocoap.transports.udp6 as udp6

        class SharedPortSocket(socket_module.socket):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_REUSEADDR, 1)

        class SocketModule:
            def __getattr__(self, name):
                return getattr(socket_module, name)

            socket = SharedPortSocket

        udp6.socket = SocketModule()
        ctx = await aiocoap.Context.create_server_context(
            wrapped,
            bind=("::", 0),
            transports=["udp6"],
            multicast=[("224.0.1.187", "lo")],
        )
    else:
        ctx = await aiocoap.Context.create_server_context(
            wrapped, bind=("127.0.0.1", 0), transports=["udp6"]
        )
    port = ctx.request_interfaces[0].token_interface.message_interface._local_port()
    emit("READY %d" % port)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        if line.strip() == b"notify":
            obs.bump()
    await ctx.shutdown()


async def operate(ctx, uri, op):
    msg = aiocoap.Message(
        code=getattr(aiocoap, op.get("method", "GET")),
        uri=uri + op["path"],
        payload=bytes.fromhex(op.get("payload", "")),
    )
    if op.get("observe"):
        msg.opt.observe = 0
    request = ctx.request(msg)
    response = await asyncio.wait_for(request.response, 20)
    result = {
        "kind": "RESULT",
        "code": response.code.dotted,
        "payload": response.payload.hex() or "-",
        "oscore": int(isinstance(response.remote, OSCOREAddress)),
    }
    if op.get("observe"):
        notes = []
        async for note in request.observation:
            notes.append(note.payload.hex())
            if len(notes) >= op["observe"]:
                break
        request.observation.cancel()
        result["notifications"] = ",".join(notes)
    return result


async def client(cfg):
    ctx = await aiocoap.Context.create_client_context(transports=["oscore", "udp6"])
    base = context(cfg)
    for op in cfg["ops"]:
        # One group context for every operation, so that its Sender Sequence
        # Number keeps increasing across modes.
        sc = base
        if cfg["kind"] == "group" and op.get("mode", cfg.get("mode")) == "pairwise":
            sc = base.pairwise_for(bytes.fromhex(cfg["peer"]))
        ctx.client_credentials[cfg["uri"] + "/*"] = sc
        try:
            emit(await operate(ctx, cfg["uri"], op))
        except Exception as e:  # reported to the Rust side, which decides
            emit({"kind": "ERROR", "type": type(e).__name__, "detail": repr(str(e)).replace(" ", "_")})
    emit("DONE")
    await ctx.shutdown()


def main():
    role = sys.argv[1]
    cfg = json.loads(sys.stdin.readline())
    try:
        asyncio.run(serve(cfg) if role == "server" else client(cfg))
    finally:
        gc.collect()
        for d in DIRS:
            shutil.rmtree(d, True)


if __name__ == "__main__":
    main()
