"""aiocoap 0.4.17 as an OSCORE client of our AS: POSTs a token request
(application/ace+cbor) to /token over a pre-established OSCORE context and
prints the response as one JSON object.

Usage: token_client.py URI CONTEXT_DIR SENDER_ID_HEX RECIPIENT_ID_HEX
                       SECRET_HEX SALT_HEX PAYLOAD_HEX [PAYLOAD_HEX ...]

Each payload is sent in turn over the same context. The client context lists
the "oscore" transport explicitly: without it, aiocoap would send the request
unprotected (see INTEROP-NOTES.md).
"""

import asyncio
import binascii
import json
import os
import sys

from aiocoap import Context, Message
from aiocoap.numbers.codes import POST


async def main():
    uri, ctxdir, sid, rid, secret, salt = sys.argv[1:7]
    payloads = sys.argv[7:]
    os.makedirs(ctxdir, exist_ok=True)
    with open(os.path.join(ctxdir, "settings.json"), "w") as f:
        json.dump(
            {
                "sender-id_hex": sid,
                "recipient-id_hex": rid,
                "secret_hex": secret,
                "salt_hex": salt,
            },
            f,
        )
    ctx = await Context.create_client_context(transports=["oscore", "udp6"])
    scheme_host = uri.split("/", 3)
    pattern = "/".join(scheme_host[:3]) + "/*"
    ctx.client_credentials.load_from_dict(
        {pattern: {"oscore": {"contextfile": ctxdir}}}
    )
    results = []
    for payload in payloads:
        request = Message(
            code=POST,
            uri=uri,
            payload=binascii.unhexlify(payload),
            content_format=19,
        )
        response = await asyncio.wait_for(ctx.request(request).response, 20)
        results.append(
            {
                "code": str(response.code.dotted),
                "content_format": None
                if response.opt.content_format is None
                else int(response.opt.content_format),
                "payload": binascii.hexlify(response.payload).decode(),
            }
        )
    await ctx.shutdown()
    print(json.dumps(results))


asyncio.run(main())
