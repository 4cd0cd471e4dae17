//! RFC 8613 Appendix C test vectors, byte for byte: derived keys and IVs
//! (C.1 to C.3), protected requests (C.4 to C.6) and responses (C.7, C.8),
//! in both directions (protect on one side, verify on the other).
//!
//! Hex values copied from `vectors/rfc8613-oscore.json` (RFC 8613 Appendix C).

#![allow(clippy::unwrap_used)] // tests may unwrap

use coap_lite::Packet;
use group_oscore::sequence::{SenderSequence, Volatile};
use group_oscore::{ContextParams, SecurityContext};

const MASTER_SECRET: &str = "0102030405060708090a0b0c0d0e0f10";
const MASTER_SALT: &str = "9e7ca92223786340";
const ID_CONTEXT: &str = "37cbf3210017a2d3";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn packet(s: &str) -> Packet {
    Packet::from_bytes(&h(s)).unwrap()
}

fn encode(p: &Packet) -> String {
    hex::encode(p.to_bytes().unwrap())
}

/// The C.1 context (salt, no ID Context) from the client or server side.
fn c1(client: bool) -> ContextParams {
    let (s, r) = if client {
        (h(""), h("01"))
    } else {
        (h("01"), h(""))
    };
    ContextParams::new(&h(MASTER_SECRET), &s, &r).master_salt(&h(MASTER_SALT))
}

fn c2(client: bool) -> ContextParams {
    let (s, r) = if client {
        (h("00"), h("01"))
    } else {
        (h("01"), h("00"))
    };
    ContextParams::new(&h(MASTER_SECRET), &s, &r)
}

fn c3(client: bool) -> ContextParams {
    let (s, r) = if client {
        (h(""), h("01"))
    } else {
        (h("01"), h(""))
    };
    ContextParams::new(&h(MASTER_SECRET), &s, &r)
        .master_salt(&h(MASTER_SALT))
        .id_context(&h(ID_CONTEXT))
}

fn at_sequence(params: &ContextParams, seq: u64) -> SecurityContext {
    SecurityContext::new(params)
        .unwrap()
        .with_sequence(SenderSequence::resume(seq, Box::new(Volatile), 100))
}

#[test]
fn c1_key_derivation_with_master_salt() {
    let client = SecurityContext::new(&c1(true)).unwrap();
    assert_eq!(
        hex::encode(client.sender_key()),
        "f0910ed7295e6ad4b54fc793154302ff"
    );
    assert_eq!(
        hex::encode(client.recipient_key()),
        "ffb14e093c94c9cac9471648b4f98710"
    );
    assert_eq!(
        hex::encode(client.common_iv()),
        "4622d4dd6d944168eefb54987c"
    );
    let server = SecurityContext::new(&c1(false)).unwrap();
    assert_eq!(
        hex::encode(server.sender_key()),
        "ffb14e093c94c9cac9471648b4f98710"
    );
    assert_eq!(
        hex::encode(server.recipient_key()),
        "f0910ed7295e6ad4b54fc793154302ff"
    );
    assert_eq!(
        hex::encode(server.common_iv()),
        "4622d4dd6d944168eefb54987c"
    );
}

#[test]
fn c2_key_derivation_without_master_salt() {
    let client = SecurityContext::new(&c2(true)).unwrap();
    assert_eq!(
        hex::encode(client.sender_key()),
        "321b26943253c7ffb6003b0b64d74041"
    );
    assert_eq!(
        hex::encode(client.recipient_key()),
        "e57b5635815177cd679ab4bcec9d7dda"
    );
    assert_eq!(
        hex::encode(client.common_iv()),
        "be35ae297d2dace910c52e99f9"
    );
    let server = SecurityContext::new(&c2(false)).unwrap();
    assert_eq!(
        hex::encode(server.sender_key()),
        "e57b5635815177cd679ab4bcec9d7dda"
    );
    assert_eq!(
        hex::encode(server.recipient_key()),
        "321b26943253c7ffb6003b0b64d74041"
    );
}

#[test]
fn c3_key_derivation_with_id_context() {
    let client = SecurityContext::new(&c3(true)).unwrap();
    assert_eq!(
        hex::encode(client.sender_key()),
        "af2a1300a5e95788b356336eeecd2b92"
    );
    assert_eq!(
        hex::encode(client.recipient_key()),
        "e39a0c7c77b43f03b4b39ab9a268699f"
    );
    assert_eq!(
        hex::encode(client.common_iv()),
        "2ca58fb85ff1b81c0b7181b85e"
    );
    let server = SecurityContext::new(&c3(false)).unwrap();
    assert_eq!(
        hex::encode(server.sender_key()),
        "e39a0c7c77b43f03b4b39ab9a268699f"
    );
    assert_eq!(
        hex::encode(server.recipient_key()),
        "af2a1300a5e95788b356336eeecd2b92"
    );
}

const C4_PLAIN: &str = "44015d1f00003974396c6f63616c686f737483747631";
const C4_PROTECTED: &str = "44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e";
const C7_PLAIN: &str = "64455d1f00003974ff48656c6c6f20576f726c6421";
const C7_PROTECTED: &str = "64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106";
const C8_PROTECTED: &str = "64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e";

#[test]
fn c4_request_is_byte_exact_and_verifies() {
    let mut client = at_sequence(&c1(true), 20);
    let (protected, exchange) = client.protect_request(&packet(C4_PLAIN)).unwrap();
    assert_eq!(encode(&protected), C4_PROTECTED);
    assert_eq!(exchange.request_kid(), b"");
    assert_eq!(exchange.request_piv(), [0x14]);
    assert_eq!(client.sender_sequence_number(), 21);

    let mut server = SecurityContext::new(&c1(false)).unwrap();
    let (request, sx) = server.unprotect_request(&packet(C4_PROTECTED)).unwrap();
    assert_eq!(encode(&request), C4_PLAIN);
    assert_eq!(sx.request_kid(), b"");
    assert_eq!(sx.request_piv(), [0x14]);
}

#[test]
fn c5_request_is_byte_exact_and_verifies() {
    const PLAIN: &str = "440171c30000b932396c6f63616c686f737483747631";
    const PROTECTED: &str =
        "440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0";
    let mut client = at_sequence(&c2(true), 20);
    let (protected, _) = client.protect_request(&packet(PLAIN)).unwrap();
    assert_eq!(encode(&protected), PROTECTED);
    let mut server = SecurityContext::new(&c2(false)).unwrap();
    let (request, _) = server.unprotect_request(&packet(PROTECTED)).unwrap();
    assert_eq!(encode(&request), PLAIN);
}

#[test]
fn c6_request_with_kid_context_is_byte_exact_and_verifies() {
    const PLAIN: &str = "44012f8eef9bbf7a396c6f63616c686f737483747631";
    const PROTECTED: &str =
        "44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff72cd7273fd331ac45cffbe55c3";
    let mut client = at_sequence(&c3(true), 20);
    let (protected, exchange) = client.protect_request(&packet(PLAIN)).unwrap();
    assert_eq!(encode(&protected), PROTECTED);
    assert_eq!(
        exchange.request_kid_context(),
        Some(h(ID_CONTEXT).as_slice())
    );
    let mut server = SecurityContext::new(&c3(false)).unwrap();
    let (request, _) = server.unprotect_request(&packet(PROTECTED)).unwrap();
    assert_eq!(encode(&request), PLAIN);
}

#[test]
fn c7_response_reuses_the_request_nonce() {
    let mut server = SecurityContext::new(&c1(false)).unwrap();
    let (_, mut sx) = server.unprotect_request(&packet(C4_PROTECTED)).unwrap();
    assert!(sx.may_reuse_nonce());
    let protected = server.protect_response(&packet(C7_PLAIN), &mut sx).unwrap();
    assert_eq!(encode(&protected), C7_PROTECTED);
    // No Partial IV was consumed.
    assert_eq!(server.sender_sequence_number(), 0);

    let mut client = at_sequence(&c1(true), 20);
    let (_, mut cx) = client.protect_request(&packet(C4_PLAIN)).unwrap();
    let response = client
        .unprotect_response(&packet(C7_PROTECTED), &mut cx)
        .unwrap();
    assert_eq!(encode(&response), C7_PLAIN);
}

#[test]
fn c8_response_with_partial_iv() {
    let mut server = SecurityContext::new(&c1(false)).unwrap();
    let (_, mut sx) = server.unprotect_request(&packet(C4_PROTECTED)).unwrap();
    let protected = server
        .protect_response_with(&packet(C7_PLAIN), &mut sx, true)
        .unwrap();
    assert_eq!(encode(&protected), C8_PROTECTED);
    assert_eq!(server.sender_sequence_number(), 1);

    let mut client = at_sequence(&c1(true), 20);
    let (_, mut cx) = client.protect_request(&packet(C4_PLAIN)).unwrap();
    let response = client
        .unprotect_response(&packet(C8_PROTECTED), &mut cx)
        .unwrap();
    assert_eq!(encode(&response), C7_PLAIN);
}

#[test]
fn a_second_response_to_a_plain_request_is_refused() {
    let mut client = at_sequence(&c1(true), 20);
    let (_, mut cx) = client.protect_request(&packet(C4_PLAIN)).unwrap();
    client
        .unprotect_response(&packet(C7_PROTECTED), &mut cx)
        .unwrap();
    assert!(matches!(
        client.unprotect_response(&packet(C8_PROTECTED), &mut cx),
        Err(group_oscore::UnprotectError::Replay(_))
    ));
}
