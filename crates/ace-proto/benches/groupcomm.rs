//! Encode and decode cost of the RFC 9594 join messages: the Join Request of
//! Figure 13 and a Group OSCORE Join Response carrying 10 and 100 member
//! credentials (84-byte CCS each, as in the RFC examples).

#![allow(clippy::unwrap_used)] // benchmarks may unwrap
#![allow(missing_docs)] // criterion_main! generates an undocumented main

use ace_proto::Codec;
use ace_proto::cbor::IntOrText;
use ace_proto::consts::groupcomm::profile;
use ace_proto::groupcomm::{
    Capabilities, CredsFilter, GetCreds, GroupKey, GroupKeyingMaterial, GroupOscoreInputMaterial,
    GroupPolicies, JoinRequest, JoinResponse, KdcCred, PeerCredentials,
};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// An 84-byte CCS like those of RFC 9594 section 7, with `kid` = `i`.
fn credential(i: usize) -> Vec<u8> {
    let mut c = hex::decode(
        "a2026008a101a5010202410a2001215820bbc34960526ea4d32e940cad2a234148\
         ddc21791a12afbcbac93622046dd44f02258204519e257236b2a0ce2023f0931f1f3\
         86ca7afda64fcde0108c224c51eabf6072",
    )
    .unwrap();
    c[12] = i as u8;
    c
}

fn join_request() -> JoinRequest {
    JoinRequest {
        scope: Some(hex::decode("826667726f757031826673656e646572687265636569766572").unwrap()),
        get_creds: Some(GetCreds::Filter(CredsFilter::roles(vec![Roles::text(
            "sender",
        )]))),
        client_cred: Some(credential(0x0a)),
        cnonce: vec![0x25; 8],
        client_cred_verify: Some(vec![0x66; 64]),
        creds_repo: None,
        control_uri: Some("coap://[2001:db8::1]/ace-group/g1/node".into()),
    }
}

fn join_response(members: usize) -> JoinResponse {
    let key = GroupOscoreInputMaterial {
        oscore: OscoreInputMaterial {
            ms: Some(vec![0x11; 16]),
            hkdf: Some(IntOrText::Int(5)),
            alg: Some(IntOrText::Int(10)),
            salt: Some(vec![0x22; 8]),
            context_id: Some(vec![0x37, 0xfc]),
            ..Default::default()
        },
        group_sender_id: Some(vec![0x52]),
        cred_fmt: Some(14),
        gp_enc_alg: Some(IntOrText::Int(10)),
        sign_alg: Some(IntOrText::Int(-8)),
        sign_params: Some(Capabilities::eddsa_ed25519()),
        ecdh_alg: Some(IntOrText::Int(-27)),
        ecdh_params: Some(Capabilities::okp_x25519()),
    };
    JoinResponse {
        material: GroupKeyingMaterial {
            key: GroupKey::GroupOscore(Box::new(key)),
            num: 12,
            ace_groupcomm_profile: Some(profile::COAP_GROUP_OSCORE_APP),
            exp: Some(1_924_992_000),
            exi: Some(2_592_000),
        },
        peers: Some(PeerCredentials {
            creds: (0..members).map(credential).collect(),
            peer_roles: Some(
                (0..members)
                    .map(|i| {
                        Roles::Aif(if i % 2 == 0 {
                            RESPONDER
                        } else {
                            REQUESTER | RESPONDER
                        })
                    })
                    .collect(),
            ),
            peer_identifiers: (0..members)
                .map(|i| (i as u16).to_be_bytes().to_vec())
                .collect(),
        }),
        group_policies: Some(GroupPolicies {
            key_update_check_interval: Some(3600),
            expiration_delta: Some(0),
            ..Default::default()
        }),
        kdc: Some(KdcCred {
            kdc_cred: credential(0x99),
            kdc_nonce: vec![0x0b; 8],
            kdc_cred_verify: vec![0x3f; 64],
        }),
        rekeying_scheme: None,
        mgt_key_material: None,
        control_group_uri: None,
    }
}

fn bench_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("join_request");
    let request = join_request();
    let bytes = request.encode();
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&request).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| JoinRequest::decode(black_box(&bytes)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("join_response");
    for members in [10usize, 100] {
        let response = join_response(members);
        let bytes = response.encode();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("encode", members), &response, |b, r| {
            b.iter(|| black_box(r).encode())
        });
        group.bench_with_input(BenchmarkId::new("decode", members), &bytes, |b, bytes| {
            b.iter(|| JoinResponse::decode(black_box(bytes)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_join);
criterion_main!(benches);
