"""An aiocoap Group OSCORE member for the interop scenario
(scenarios/aiocoap-interop.toml, run by crates/ace-scenario/tests).

It holds no keys of its own: the scenario runner hands it the membership that
one of our group clients obtained from our KDC (keying material, Sender ID,
private key, the members' and the KDC's credentials) and hands it again after
every rekeying. With it, it builds an aiocoap SimpleGroupContext, serves
Group OSCORE requests from our members on any path (aiocoap answers in
pairwise mode), and sends Group OSCORE requests (group mode) to them.

Protocol: JSON lines. First output line: {"ready": true, "port": P}. Then one
answer line per input line:
  {"cmd": "install", "group", "num", "gid", "ms", "salt", "sid", "alg",
   "priv", "cred", "peers": {kid: cred}, "gm_cred", ...}   -> {"ok": true}
  {"cmd": "send", "targets": ["127.0.0.1:P", ...], "path", "payload" (hex),
   "window_ms"}                       -> {"ok": true, "replies": [...]}
  {"cmd": "received"}                 -> {"ok": true, "received": [...]}
  {"cmd": "quit"}                     -> exits
Byte strings are hex. Errors: {"ok": false, "error": "..."}.
"""

import asyncio
import json
import socket
import sys

import aiocoap
from aiocoap import Message, error, oscore, resource
from aiocoap.numbers.codes import Code
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper
from aiocoap.credentials import CredentialsMap
from aiocoap.util.linkformat import LinkFormat
from cryptography.hazmat.primitives.asymmetric import ec


class EcdhSsHkdf256P256(oscore.ECDSA_SHA256_P256):
    """aiocoap 0.4.17 reports -7 for its P-256 key agreement; RFC 10021
    names ECDH-SS + HKDF-256 (-27). Only the identifier is corrected."""

    value = -27


state = {"ctx": None, "group": None, "received": []}


def private_key(alg, priv):
    if alg == "EdDSA":
        return bytes.fromhex(priv)
    return ec.derive_private_key(int(priv, 16), ec.SECP256R1())


def group_context(cmd):
    if cmd["alg"] == "EdDSA":
        signature, agreement = oscore.Ed25519(), oscore.EcdhSsHkdf256()
    else:
        signature, agreement = oscore.ECDSA_SHA256_P256(), EcdhSsHkdf256P256()
    aead = oscore.algorithms[oscore.DEFAULT_ALGORITHM]
    return oscore.SimpleGroupContext(
        alg_aead=aead,
        hashfun=oscore.hashfunctions[oscore.DEFAULT_HASHFUNCTION],
        alg_signature=signature,
        alg_group_enc=aead,
        alg_pairwise_key_agreement=agreement,
        group_id=bytes.fromhex(cmd["gid"]),
        master_secret=bytes.fromhex(cmd["ms"]),
        master_salt=bytes.fromhex(cmd.get("salt", "")),
        sender_id=bytes.fromhex(cmd["sid"]),
        private_key=private_key(cmd["alg"], cmd["priv"]),
        sender_auth_cred=bytes.fromhex(cmd["cred"]),
        peers={bytes.fromhex(k): bytes.fromhex(v) for k, v in cmd["peers"].items()},
        group_manager_cred=bytes.fromhex(cmd["gm_cred"]),
    )


class AnyPath(resource.Resource, resource.PathCapable):
    """Answers every verified request (any method, any path) with 2.05.
    OscoreSiteWrapper passes unprotected requests through as well: those
    are refused here and not recorded, so that what the runner sees as
    received was Group OSCORE-protected."""

    async def render(self, request):
        remote = request.remote
        if not hasattr(remote, "security_context"):
            return Message(code=Code.UNAUTHORIZED, payload=b"OSCORE required")
        kid = getattr(remote.security_context, "recipient_id", b"") or b""
        path = "/" + "/".join(request.opt.uri_path)
        state["received"].append(
            {"group": state["group"], "path": path, "payload": request.payload.hex(), "kid": kid.hex()}
        )
        return Message(code=Code.CONTENT, payload=b"aiocoap read " + path.encode())

    def get_resources_as_linkheader(self):
        return LinkFormat([])


class Credentials(CredentialsMap):
    """The current group context, whatever it is at the time of a request."""

    def find_oscore(self, unprotected):
        ctx = state["ctx"]
        if ctx is None:
            raise KeyError("no group context installed")
        found = ctx.get_oscore_context_for(unprotected)
        if found is None:
            raise KeyError("not for this group")
        return found


def code_text(code):
    return code.dotted


async def send(ctx, cmd):
    group = state["ctx"]
    if group is None:
        return {"ok": False, "error": "no group context installed"}
    window = cmd.get("window_ms", 500) / 1000.0
    payload = bytes.fromhex(cmd.get("payload", ""))

    async def one(target):
        ctx.client_credentials["coap://%s/*" % target] = group
        request = Message(code=Code.FETCH, uri="coap://%s%s" % (target, cmd["path"]), payload=payload)
        try:
            response = await asyncio.wait_for(ctx.request(request).response, window + 1.0)
        except Exception as e:  # noqa: BLE001 - reported to the runner
            return {"target": target, "error": "%s: %s" % (type(e).__name__, e)}
        kid = b""
        if hasattr(response.remote, "security_context"):
            kid = getattr(response.remote.security_context, "recipient_id", b"") or b""
        return {
            "from": target,
            "kid": kid.hex(),
            "code": code_text(response.code),
            "payload": response.payload.hex(),
            "protected": hasattr(response.remote, "security_context"),
        }

    results = await asyncio.gather(*(one(t) for t in cmd.get("targets", [])))
    replies = [r for r in results if "code" in r]
    # A reply that was not OSCORE-protected would mean aiocoap sent in the
    # clear (INTEROP-NOTES: the "oscore" transport must be listed).
    if any(not r["protected"] for r in replies):
        return {"ok": False, "error": "an unprotected exchange: %r" % replies}
    return {"ok": True, "replies": replies, "failed": [r for r in results if "error" in r]}


def quiet_about_shutdown(loop, context):
    """The loop's exception handler while the context shuts down. A request
    to a silent Monitor is still open then; aiocoap 0.4.17 ends it with
    LibraryShutdown and, reporting that to nobody, raises a TypeError from
    its own logging call. That one case is shutdown noise, not an interop
    result; everything else goes to the default handler."""
    exc = context.get("exception")
    if isinstance(exc, TypeError) and isinstance(exc.__context__, error.LibraryShutdown):
        return
    loop.default_exception_handler(context)


async def main():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    site = OscoreSiteWrapper(AnyPath(), Credentials())
    ctx = await aiocoap.Context.create_server_context(
        site, bind=("127.0.0.1", port), transports=["oscore", "udp6"]
    )
    print(json.dumps({"ready": True, "port": port}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        try:
            cmd = json.loads(line)
        except ValueError as e:
            print(json.dumps({"ok": False, "error": "bad JSON: %s" % e}), flush=True)
            continue
        op = cmd.get("cmd")
        try:
            if op == "install":
                state["ctx"] = group_context(cmd)
                state["group"] = cmd.get("group")
                answer = {"ok": True}
            elif op == "send":
                answer = await send(ctx, cmd)
            elif op == "received":
                answer = {"ok": True, "received": state["received"]}
            elif op == "quit":
                break
            else:
                answer = {"ok": False, "error": "unknown command %r" % op}
        except Exception as e:  # noqa: BLE001 - reported to the runner
            answer = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(answer), flush=True)
    loop.set_exception_handler(quiet_about_shutdown)
    await ctx.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
