//! Authentication credentials: the RFC 9594 section 7 example credentials (CCS
//! with P-256 keys and no `alg`) parse, keep their bytes and give verifying
//! keys; the builder adds `alg` in the RFC key order; malformed, private,
//! off-curve and mismatched keys are refused.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::cbor::{IntOrText, Value};
use ace_proto::consts::cose::{alg, crv};
use ace_proto::credential::{CoseKey, Credential, CredentialFormat, PublicKey};
use ace_proto::cwt::{ClaimsSet, Confirmation};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};

/// The CCS of RFC 9594 section 7 (Figures 13, 17, 19, 22, 33), with their kid.
const EXAMPLES: [(&str, u8); 6] = [
    (
        "a2026008a101a5010202410a2001215820bbc34960526ea4d32e940cad2a234148ddc21791a12afbcbac93622046dd44f02258204519e257236b2a0ce2023f0931f1f386ca7afda64fcde0108c224c51eabf6072",
        0x0a,
    ),
    (
        "a2026008a101a501020241022001215820cd4177ba62433375ede279b5e18e8b91bc3ed8f1e174474a26fc0edb44ea5373225820a0391de29c5c5badda610d4e301eaaa18422367722289cd18cbe6624e89b9cfd",
        0x02,
    ),
    (
        "a2026008a101a501020241032001215820ac75e9ece3e50bfc8ed60399889522405c47bf16df96660a41298cb4307f7eb62258206e5de611388a4b8a8211334ac7d37ecb52a387d257e6db3c2a93df21ff3affc8",
        0x03,
    ),
    (
        "a2026008a101a5010202410920012158206f9702a66602d78f5e81bac1e0af01f8b52810c502e87ebb7c926c07426fd02f225820c8d33274c71c9b3ee57d842bbf2238b8283cb410eca216fb72a78ea7a870f800",
        0x09,
    ),
    (
        "a2026008a101a50102024199200121582065eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d2258201e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c",
        0x99,
    ),
    (
        "a2026008a101a501020241fc2001215820bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff22582020138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e",
        0xfc,
    ),
];

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn rfc9594_example_credentials_parse_and_keep_their_bytes() {
    for (hex, kid) in EXAMPLES {
        let bytes = h(hex);
        assert_eq!(bytes.len(), 84);
        let cred = Credential::parse_ccs(&bytes).unwrap();
        assert_eq!(cred.bytes(), &bytes[..]);
        assert_eq!(cred.format(), CredentialFormat::Ccs);
        assert_eq!(cred.subject(), Some(""));
        assert_eq!(cred.cose_key().kid(), Some(&[kid][..]));
        assert!(matches!(cred.public_key(), PublicKey::P256 { .. }));
        // No alg in the examples: reported, so a KDC can refuse it.
        assert_eq!(cred.alg(), None);
        assert!(cred.check_alg().is_err());
        assert!(cred.signature_algorithm().is_err());
        // The key is usable for ES256 verification regardless.
        let vk = cred.verifying_key().unwrap();
        assert_eq!(vk.algorithm(), SignatureAlgorithm::Es256);
        // Re-encoding the parsed COSE_Key reproduces the bytes inside.
        assert_eq!(cred.claims().unwrap().encode(), bytes);
    }
}

#[test]
fn builder_inserts_alg_after_kid_in_the_rfc_order() {
    let (hex, kid) = EXAMPLES[0];
    let original = Credential::parse_ccs(&h(hex)).unwrap();
    let rebuilt = Credential::ccs(original.public_key(), alg::ES256, "", Some(&[kid])).unwrap();
    // {2: "", 8: {1: {1: 2, 2: h'0a', 3: -7, -1: 1, -2: x, -3: y}}}: the
    // example bytes with the map grown to 6 entries and `3: -7` after kid.
    let mut expected = h(hex);
    expected[6] = 0xa6;
    expected.splice(12..12, [0x03, 0x26]);
    assert_eq!(hex::encode(rebuilt.bytes()), hex::encode(&expected));
    assert_eq!(rebuilt.alg(), Some(alg::ES256));
    assert_eq!(Credential::parse_ccs(&expected).unwrap(), rebuilt);
}

#[test]
fn signing_key_credentials_for_both_algorithms() {
    for algorithm in [SignatureAlgorithm::EdDsa, SignatureAlgorithm::Es256] {
        let key = SigningKey::generate(algorithm);
        let cred = Credential::ccs_for_signing_key(&key, "client-1", Some(b"\x01"));
        let parsed = Credential::parse(CredentialFormat::Ccs, cred.bytes()).unwrap();
        assert_eq!(parsed.subject(), Some("client-1"));
        assert_eq!(parsed.signature_algorithm().unwrap(), algorithm);
        let vk = parsed.verifying_key().unwrap();
        assert_eq!(vk, key.verifying_key());
        assert!(vk.verify(b"m", &key.sign(b"m")).is_ok());

        let bare = Credential::cose_key_for_signing_key(&key, None);
        let parsed = Credential::parse(CredentialFormat::CoseKey, bare.bytes()).unwrap();
        assert_eq!(parsed.format().cred_fmt(), None);
        assert_eq!(parsed.verifying_key().unwrap(), key.verifying_key());
        assert_eq!(parsed.claims(), None);
    }
    assert_eq!(CredentialFormat::Ccs.cred_fmt(), Some(14));
    assert_eq!(
        CredentialFormat::from_cred_fmt(14),
        Some(CredentialFormat::Ccs)
    );
    assert_eq!(CredentialFormat::from_cred_fmt(33), None);
}

#[test]
fn x25519_credentials_agree_but_do_not_verify() {
    let x = PublicKey::X25519([9; 32]);
    let cred = Credential::ccs(&x, alg::ECDH_SS_HKDF_256, "dh", None).unwrap();
    let parsed = Credential::parse_ccs(cred.bytes()).unwrap();
    assert_eq!(parsed.public_key(), &x);
    assert!(parsed.verifying_key().is_err());
    assert!(Credential::ccs(&x, alg::EDDSA, "dh", None).is_err());
}

#[test]
fn compressed_p256_point_gives_the_same_key() {
    let key = SigningKey::generate(SignatureAlgorithm::Es256);
    let (x, y) = key.verifying_key().coordinates();
    let y = y.unwrap();
    let odd = y[31] & 1 == 1;
    let compressed = CoseKey::from_entries(vec![
        (IntOrText::Int(1), Value::from(2)),
        (IntOrText::Int(3), Value::from(-7)),
        (IntOrText::Int(-1), Value::from(1)),
        (IntOrText::Int(-2), Value::Bytes(x.clone())),
        (IntOrText::Int(-3), Value::Bool(odd)),
    ])
    .unwrap();
    let cred = Credential::parse_cose_key(&compressed.encode()).unwrap();
    assert_eq!(
        cred.public_key(),
        &PublicKey::P256 {
            x: x.try_into().unwrap(),
            y: y.try_into().unwrap()
        }
    );
}

fn ccs_with(entries: Vec<(i64, Value)>) -> Vec<u8> {
    let key = CoseKey::from_entries(
        entries
            .into_iter()
            .map(|(k, v)| (IntOrText::Int(k), v))
            .collect(),
    )
    .unwrap();
    ClaimsSet {
        sub: Some(String::new()),
        cnf: Some(Confirmation::CoseKey(key)),
        ..ClaimsSet::default()
    }
    .encode()
}

#[test]
fn unusable_keys_are_refused() {
    let p256 = SigningKey::generate(SignatureAlgorithm::Es256).verifying_key();
    let (px, py) = p256.coordinates();
    let (px, py) = (Value::Bytes(px), Value::Bytes(py.unwrap()));
    let ed = SigningKey::generate(SignatureAlgorithm::EdDsa).verifying_key();
    let ex = Value::Bytes(ed.coordinates().0);
    let rows: Vec<(&str, Vec<(i64, Value)>)> = vec![
        (
            "private d",
            vec![
                (1, 1.into()),
                (-1, crv::ED25519.into()),
                (-2, ex.clone()),
                (-4, Value::Bytes(vec![1; 32])),
            ],
        ),
        (
            "Ed25519 with ES256",
            vec![
                (1, 1.into()),
                (3, alg::ES256.into()),
                (-1, crv::ED25519.into()),
                (-2, ex.clone()),
            ],
        ),
        (
            "P-256 with EdDSA",
            vec![
                (1, 2.into()),
                (3, alg::EDDSA.into()),
                (-1, crv::P256.into()),
                (-2, px.clone()),
                (-3, py.clone()),
            ],
        ),
        (
            "text alg",
            vec![
                (1, 1.into()),
                (3, Value::Text("EdDSA".into())),
                (-1, crv::ED25519.into()),
                (-2, ex.clone()),
            ],
        ),
        (
            "off-curve point",
            vec![
                (1, 2.into()),
                (-1, crv::P256.into()),
                (-2, Value::Bytes(vec![1; 32])),
                (-3, Value::Bytes(vec![2; 32])),
            ],
        ),
        (
            "short x",
            vec![
                (1, 1.into()),
                (-1, crv::ED25519.into()),
                (-2, Value::Bytes(vec![1; 31])),
            ],
        ),
        (
            "y on an OKP key",
            vec![
                (1, 1.into()),
                (-1, crv::ED25519.into()),
                (-2, ex.clone()),
                (-3, py.clone()),
            ],
        ),
        (
            "missing y",
            vec![(1, 2.into()), (-1, crv::P256.into()), (-2, px.clone())],
        ),
        (
            "P-384 curve",
            vec![
                (1, 2.into()),
                (-1, crv::P384.into()),
                (-2, px.clone()),
                (-3, py.clone()),
            ],
        ),
        (
            "OKP with P-256",
            vec![(1, 1.into()), (-1, crv::P256.into()), (-2, ex.clone())],
        ),
        (
            "symmetric key",
            vec![(1, 4.into()), (-1, Value::Bytes(vec![0; 16]))],
        ),
        ("missing crv", vec![(1, 1.into()), (-2, ex.clone())]),
    ];
    for (what, entries) in rows {
        assert!(Credential::parse_ccs(&ccs_with(entries)).is_err(), "{what}");
    }
    // A CCS whose cnf is a kid, or that has no cnf.
    let kid_only = ClaimsSet {
        cnf: Some(Confirmation::Kid(vec![1])),
        ..ClaimsSet::default()
    };
    assert!(Credential::parse_ccs(&kid_only.encode()).is_err());
    assert!(Credential::parse_ccs(&ClaimsSet::default().encode()).is_err());
    // COSE_Key without kty, and with a duplicate label.
    assert!(CoseKey::decode(&h("a12001")).is_err());
    assert!(CoseKey::decode(&h("a201010101")).is_err());
    // Trailing bytes after a credential.
    let mut trailing = h(EXAMPLES[0].0);
    trailing.push(0);
    assert!(Credential::parse_ccs(&trailing).is_err());
}
