//! Group OSCORE byte-level examples (`vectors/group-oscore.json`).
//!
//! * The encoding examples of RFC 10021 section 4.3 and the Gid example of
//!   Appendix C: official.
//! * The computed vectors ("unofficial_computed_vectors"): NOT from any
//!   specification. They are used here as regression vectors because
//!   aiocoap 0.4.17 reproduces every value that does not depend on the
//!   countersignature structure (keys, Common IV, Signature Encryption Key,
//!   AAD, nonce, ciphertext, keystream, pairwise keys and the pairwise
//!   request), see `tests/aiocoap/check_vectors.py` run by
//!   `aiocoap_interop.rs`. The signature values follow the RFC 9338
//!   structure of RFC 10021, which aiocoap does not implement; aiocoap's
//!   own Ed25519 code signs the same bytes to the same signature when given
//!   the RFC structure (same script).

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::keys::{SignatureAlgorithm, SigningKey, VerifyingKey};
use coap_lite::{CoapOption, MessageClass, Packet};
use group_oscore::group::{
    Credential, GroupParams, GroupSecurity, Member, OwnIdentity, RequestMode, ResponseMode,
    gid_from_prefix_and_epoch,
};
use group_oscore::option::OscoreOption;
use group_oscore::sequence::{SenderSequence, Volatile};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const MASTER_SECRET: &str = "0102030405060708090a0b0c0d0e0f10";
const MASTER_SALT: &str = "9e7ca92223786340";
const GID: &str = "37cbf3210017a2d3";
const CLIENT_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const SERVER_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const CLIENT_CRED: &str = "a20266636c69656e7408a101a301012006215820d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const SERVER_CRED: &str = "a2026673657276657208a101a3010120062158203d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const GM_CRED: &str = "a20262676d08a101a301012006215820fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025";

fn key(seed: &str) -> SigningKey {
    SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &h(seed)).unwrap()
}

fn member(id: &str, seed: &str, cred: &str) -> Member {
    Member::new(
        &h(id),
        Credential::new(&h(cred), key(seed).verifying_key()).unwrap(),
    )
}

fn params() -> GroupParams {
    GroupParams::new(
        &h(GID),
        &h(MASTER_SECRET),
        SignatureAlgorithm::EdDsa,
        &h(GM_CRED),
    )
    .master_salt(&h(MASTER_SALT))
}

fn client() -> GroupSecurity {
    GroupSecurity::new(
        params(),
        OwnIdentity::new(b"", key(CLIENT_SEED), &h(CLIENT_CRED)),
        [member("01", SERVER_SEED, SERVER_CRED)],
    )
    .unwrap()
    .with_sequence(SenderSequence::resume(20, Box::new(Volatile), 100))
}

fn server() -> GroupSecurity {
    GroupSecurity::new(
        params(),
        OwnIdentity::new(&h("01"), key(SERVER_SEED), &h(SERVER_CRED)),
        [member("", CLIENT_SEED, CLIENT_CRED)],
    )
    .unwrap()
}

fn get_tv1() -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(0x01);
    p.header.message_id = 0x1234;
    p.add_option(CoapOption::UriPath, b"tv1".to_vec());
    p
}

fn hello() -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(0x45);
    p.header.message_id = 0x1234;
    p.payload = b"Hello World!".to_vec();
    p
}

fn oscore_option(p: &Packet) -> String {
    hex::encode(p.get_first_option(CoapOption::Oscore).unwrap())
}

#[test]
fn rfc10021_section_4_3_compression_examples() {
    let ctx = h("44616c");
    let examples = [
        (
            true,
            Some(vec![5]),
            Some(ctx.clone()),
            Some(vec![0x25]),
            "39050344616c25",
        ),
        (true, None, None, Some(vec![0x52]), "2852"),
        (
            false,
            Some(vec![5]),
            Some(ctx),
            Some(vec![0x25]),
            "19050344616c25",
        ),
        (false, None, None, None, ""),
    ];
    for (group_flag, partial_iv, kid_context, kid, value) in examples {
        let option = OscoreOption {
            group_flag,
            partial_iv,
            kid_context,
            kid,
        };
        assert_eq!(hex::encode(option.encode().unwrap()), value);
        assert_eq!(OscoreOption::decode(&h(value)).unwrap(), option);
    }
}

#[test]
fn appendix_c_gid_example() {
    assert_eq!(
        hex::encode(gid_from_prefix_and_epoch(&[0xb1], 61532, 2)),
        "b1f05c"
    );
}

#[test]
fn derived_common_context() {
    let c = client();
    let ctx = c.current();
    assert_eq!(
        hex::encode(ctx.sender_key().unwrap()),
        "af2a1300a5e95788b356336eeecd2b92"
    );
    assert_eq!(
        hex::encode(ctx.recipient_key(&[1]).unwrap()),
        "e39a0c7c77b43f03b4b39ab9a268699f"
    );
    assert_eq!(hex::encode(ctx.common_iv()), "2ca58fb85ff1b81c0b7181b85e");
    assert_eq!(
        hex::encode(ctx.signature_encryption_key().unwrap()),
        "35b0a927e0f1c46200bd9bae3b8cddf0"
    );
    let algs = ctx.params().algorithms();
    assert_eq!(
        (
            algs.aead,
            algs.group_enc,
            algs.signature,
            algs.key_agreement
        ),
        (Some(10), Some(10), Some(-8), Some(-27))
    );
}

#[test]
fn ed25519_public_keys_are_rfc8032_tests_1_and_2() {
    assert_eq!(
        key(CLIENT_SEED).verifying_key(),
        VerifyingKey::ed25519(&h(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        ))
        .unwrap()
    );
    assert_eq!(
        key(SERVER_SEED).verifying_key(),
        VerifyingKey::ed25519(&h(
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        ))
        .unwrap()
    );
}

const REQUEST_PAYLOAD: &str = "72cd7273fd797f6594d1bbe9dcf69fdcdfa9521483d2c09c43e32a9d63d9981b845aefd675133dcbbea9235594e7bd7ea4370bd8743e24718443cd230606b78a60ee5a8519e7a80a1a0ce9f5f2";
const RESPONSE_PAYLOAD: &str = "d2aad87ca5bb4e8623982b79ed54f938d791647ffccf51e99d799b97c3317cac5f7d0de0f8878e2ecaa8e807c93e273490a46de605a530da5c678ed2e5f94c76bf4fadb86fef25a4b4b142dd4eb3fe873036a47d44a0";

#[test]
fn group_mode_request_and_response() {
    let mut client = client();
    let (request, mut cx) = client
        .protect_request(&get_tv1(), &RequestMode::Group)
        .unwrap();
    assert_eq!(oscore_option(&request), "39140837cbf3210017a2d3");
    assert_eq!(hex::encode(&request.payload), REQUEST_PAYLOAD);

    let mut server = server();
    let (inner, mut sx) = server.unprotect_request(&request).unwrap();
    assert_eq!(
        inner.get_first_option(CoapOption::UriPath),
        Some(&b"tv1".to_vec())
    );
    assert!(sx.is_group_mode());
    assert_eq!(sx.request_kid(), b"");

    // The vector's response carries the server's own Partial IV 0.
    let response = server
        .protect_response_with(&hello(), &mut sx, ResponseMode::Group, true)
        .unwrap();
    assert_eq!(oscore_option(&response), "290001");
    assert_eq!(hex::encode(&response.payload), RESPONSE_PAYLOAD);

    let got = client.unprotect_response(&response, &mut cx).unwrap();
    assert_eq!(got.kid, vec![1]);
    assert_eq!(got.message.payload, b"Hello World!");
}

#[test]
fn pairwise_keys_and_request() {
    let mut client = client();
    let (sender, recipient) = client.current_mut().pairwise_keys(&[1]).unwrap();
    assert_eq!(hex::encode(sender), "a6adecf51b6fb32fa65ee15c60309d9d");
    assert_eq!(hex::encode(recipient), "84b9f0f25988ed2f555257e9529a3379");

    let (request, _) = client
        .protect_request(&get_tv1(), &RequestMode::Pairwise(vec![1]))
        .unwrap();
    assert_eq!(oscore_option(&request), "19140837cbf3210017a2d3");
    assert_eq!(hex::encode(&request.payload), "dac0afcc4ab4165e764bd32cc4");

    let mut server = server();
    let (server_sender, server_recipient) = server.current_mut().pairwise_keys(b"").unwrap();
    assert_eq!(
        hex::encode(server_sender),
        "84b9f0f25988ed2f555257e9529a3379"
    );
    assert_eq!(
        hex::encode(server_recipient),
        "a6adecf51b6fb32fa65ee15c60309d9d"
    );
    let (inner, sx) = server.unprotect_request(&request).unwrap();
    assert_eq!(
        inner.get_first_option(CoapOption::UriPath),
        Some(&b"tv1".to_vec())
    );
    assert!(!sx.is_group_mode());
}
