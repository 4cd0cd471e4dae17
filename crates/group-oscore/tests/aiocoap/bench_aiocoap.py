"""Times aiocoap 0.4.17's OSCORE and Group OSCORE per-message operations,
the same ones benches/oscore.rs measures for our crate, and prints one JSON
object of mean microseconds per operation. Run by the bench itself, in the
same run, for the comparison in BENCHMARKS.md.

The contexts are in memory (no sequence-number file writes), so that the
figures compare protection work, not storage.
"""

import json
import sys
import time

from aiocoap import Message
from aiocoap.message import Direction
from aiocoap.numbers.codes import GET, CONTENT
from aiocoap import oscore
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization

AEAD = oscore.algorithms[oscore.DEFAULT_ALGORITHM]
SHA256 = oscore.hashfunctions[oscore.DEFAULT_HASHFUNCTION]
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


class MemoryContext(oscore.CanProtect, oscore.CanUnprotect, oscore.SecurityContextUtils):
    """An OSCORE context without persistence, built from aiocoap's mixins."""

    echo_recovery = None

    def __init__(self, sid, rid):
        self.alg_aead = AEAD
        self.hashfun = SHA256
        self.sender_id = sid
        self.recipient_id = rid
        self.id_context = None
        self.derive_keys(b"salt", bytes(range(16)))
        self.sender_sequence_number = 0
        self.recipient_replay_window = oscore.ReplayWindow(32, lambda: None)
        self.recipient_replay_window.initialize_empty()

    def post_seqnoincrease(self):
        pass


def request():
    m = Message(code=GET, uri_path=("sensors", "temp"))
    m.direction = Direction.OUTGOING
    m.mtype = 0
    m.mid = 1
    m.token = b"\x01\x02"
    return m


def response():
    m = Message(code=CONTENT, payload=b"21.5 C at 12:00:00 UTC")
    m.direction = Direction.OUTGOING
    return m


def wire(outer):
    outer.mtype = 0
    outer.mid = 1
    outer.token = b"\x01\x02"
    return Message.decode(outer.encode())


def mean_us(fn, n=N):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


results = {}

client = MemoryContext(b"", b"\x01")
server = MemoryContext(b"\x01", b"")


def oscore_request():
    outer, _ = client.protect(request())
    server.unprotect(wire(outer))


results["oscore_protect_unprotect_request"] = mean_us(oscore_request)


def keypair():
    private = ed25519.Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    cred = oscore.cbor.dumps({8: {1: {1: 1, 3: -8, -1: 6, -2: public}}})
    return seed, cred


(seed_a, cred_a), (seed_b, cred_b), (_, cred_gm) = keypair(), keypair(), keypair()


def group(sid, seed, cred, peer, peer_cred):
    return oscore.SimpleGroupContext(
        alg_aead=AEAD,
        hashfun=SHA256,
        alg_signature=oscore.Ed25519(),
        alg_group_enc=AEAD,
        alg_pairwise_key_agreement=oscore.EcdhSsHkdf256(),
        group_id=b"\xee",
        master_secret=bytes(range(16)),
        master_salt=b"",
        sender_id=sid,
        private_key=seed,
        sender_auth_cred=cred,
        peers={peer: peer_cred},
        group_manager_cred=cred_gm,
    )


ga = group(b"\x0a", seed_a, cred_a, b"\x0b", cred_b)
gb = group(b"\x0b", seed_b, cred_b, b"\x0a", cred_a)


def group_protect():
    ga.protect(request())


results["group_protect_request"] = mean_us(group_protect, N // 2)

prepared = [wire(ga.protect(request())[0]) for _ in range(N // 2 + 1)]
it = iter(prepared)


def group_verify():
    msg = next(it)
    aspect = gb.get_oscore_context_for(oscore.verify_start(msg))
    aspect.unprotect(msg)


results["group_verify_request"] = mean_us(group_verify, N // 2)

# The raw Ed25519 operations inside, over about as many bytes as the
# countersign structure of the request (its external_aad carries two
# credentials, so ciphertext plus about 120 bytes).
key = ed25519.Ed25519PrivateKey.from_private_bytes(seed_a)
body = bytes(len(prepared[0].payload) + 120)
sig = key.sign(body)
pub = key.public_key()
results["ed25519_sign"] = mean_us(lambda: key.sign(body))
results["ed25519_verify"] = mean_us(lambda: pub.verify(sig, body))
results["iterations"] = N

print(json.dumps(results))
