//! Cost of sealing and opening an access token (RFC 8392 CWT) as the AS and the
//! KDC handle it: COSE_Sign1 with Ed25519 (EdDSA), compared with the raw
//! Ed25519 sign + verify of the same to-be-signed bytes, plus COSE_Mac0 and
//! COSE_Encrypt0 for contrast. The claims are those of a Group OSCORE
//! token: `iss`, `aud`, `exp`, `iat`, `cti`, an AIF `scope` and a `cnf`
//! with OSCORE_Input_Material.

#![allow(clippy::unwrap_used)] // benchmarks may unwrap
#![allow(missing_docs)] // criterion_main! generates an undocumented main

use ace_proto::Codec;
use ace_proto::cwt::{
    Audience, ClaimsSet, Confirmation, MacAlgorithm, NumericDate, Tagging, TokenKey, TokenVerifier,
};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const NOW: u64 = 1_700_000_000;

fn claims() -> ClaimsSet {
    ClaimsSet {
        iss: Some("coaps://as.example.com".into()),
        aud: Some(Audience::Single("coaps://kdc.example.com".into())),
        exp: Some(NumericDate::Integer(NOW as i64 + 3600)),
        iat: Some(NumericDate::Integer(NOW as i64)),
        cti: Some(vec![0x0b, 0x71, 0x42, 0x17]),
        scope: Some(ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif(
            "g1",
            REQUESTER | RESPONDER,
        )]))),
        cnf: Some(Confirmation::Osc(OscoreInputMaterial {
            id: Some(vec![0x01]),
            ms: Some(vec![0x5a; 16]),
            salt: Some(vec![0xa5; 8]),
            ..OscoreInputMaterial::default()
        })),
        ..ClaimsSet::default()
    }
}

fn bench_ed25519(c: &mut Criterion) {
    let key = SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &[7; 32]).unwrap();
    let verifier = TokenVerifier::new("coaps://kdc.example.com")
        .with_key(TokenKey::verifying(key.verifying_key()));
    let claims = claims();
    let token = claims.seal_sign1(&key, None, Tagging::Cose).unwrap();
    assert!(verifier.open(&token, NOW).is_ok());

    let mut group = c.benchmark_group(format!("cwt_sign1_ed25519_{}B", token.len()));
    group.bench_function("seal", |b| {
        b.iter(|| {
            black_box(&claims)
                .seal_sign1(&key, None, Tagging::Cose)
                .unwrap()
        })
    });
    group.bench_function("open", |b| {
        b.iter(|| verifier.open(black_box(&token), NOW).unwrap())
    });
    group.bench_function("seal+open", |b| {
        b.iter(|| {
            let t = black_box(&claims)
                .seal_sign1(&key, None, Tagging::Cose)
                .unwrap();
            verifier.open(&t, NOW).unwrap()
        })
    });
    // The raw signature over the same Sig_structure the token signs.
    let value: ciborium::Value = ciborium::de::from_reader(&token[..]).unwrap();
    let ciborium::Value::Tag(18, inner) = value else {
        unreachable!("sealed with the COSE tag")
    };
    let sign1 = <coset::CoseSign1 as coset::AsCborValue>::from_cbor_value(*inner).unwrap();
    let tbs = sign1.tbs_data(&[]);
    let public = key.verifying_key();
    group.bench_function("raw ed25519 sign+verify", |b| {
        b.iter(|| {
            let sig = key.sign(black_box(&tbs));
            public.verify(&tbs, &sig).unwrap()
        })
    });
    group.bench_function("claims encode+decode", |b| {
        b.iter(|| ClaimsSet::decode(&black_box(&claims).encode()).unwrap())
    });
    group.finish();
}

fn bench_symmetric(c: &mut Criterion) {
    let claims = claims();
    let mac_key = [3u8; 32];
    let aead_key = [4u8; 16];
    let verifier = TokenVerifier::new("coaps://kdc.example.com")
        .with_key(TokenKey::mac(&mac_key))
        .with_key(TokenKey::aes_ccm_16_64_128(&aead_key));
    let mut group = c.benchmark_group("cwt_symmetric");
    group.bench_function("mac0 hmac256/64 seal+open", |b| {
        b.iter(|| {
            let t = black_box(&claims)
                .seal_mac0(&mac_key, MacAlgorithm::Hmac256_64, None, Tagging::Cose)
                .unwrap();
            verifier.open(&t, NOW).unwrap()
        })
    });
    group.bench_function("encrypt0 aes-ccm-16-64-128 seal+open", |b| {
        b.iter(|| {
            let t = black_box(&claims)
                .seal_encrypt0(&aead_key, None, Tagging::Cose)
                .unwrap();
            verifier.open(&t, NOW).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_ed25519, bench_symmetric);
criterion_main!(benches);
