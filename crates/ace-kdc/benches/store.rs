//! The SQLite store's share of a join, without the network or the
//! signatures: one transaction holding what a group commit of 8 joins
//! writes (8 tokens with their OSCORE channels, 8 members, 8 Sender IDs and
//! the group row), on a file in WAL mode with `synchronous = NORMAL`, as the
//! KDC runs it. The database grows during the run, as it does under a
//! stream of joins.
//!
//! `cargo bench -p ace-kdc --bench store`
#![allow(clippy::unwrap_used)] // a benchmark: failing loudly is the point

use ace_kdc::GroupSpec;
use ace_kdc::model::{ChannelId, ChannelRecord, Member, TokenRecord};
use ace_kdc::store::{Change, GroupRow, SqliteStore, Store};
use ace_proto::keys::random_bytes;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::Roles;
use ace_proto::scope::{GroupScope, ScopeEntry};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use zeroize::Zeroizing;

const JOINS_PER_TRANSACTION: usize = 8;

fn group_row(spec: &GroupSpec, next_node: u64) -> GroupRow {
    GroupRow {
        spec: spec.clone(),
        prefix: vec![0xa1, 0xb2],
        num: 0,
        gid: vec![0xa1, 0xb2, 0, 0, 0, 1],
        master_secret: Zeroizing::new(random_bytes(16)),
        master_salt: random_bytes(8),
        exp: 2_000_000_000,
        next_node,
        active: true,
    }
}

/// The rows of join `n`: the token identifier is random, as the `cti`s of
/// the AS are; the channel and the Sender ID come in sequence, as the KDC
/// allocates them.
fn join_changes(n: u64) -> [Change; 3] {
    let token_id = random_bytes(8);
    let sender_id = (n as u32).to_be_bytes().to_vec();
    let token = TokenRecord {
        id: token_id.clone(),
        scope: GroupScope::new(vec![ScopeEntry {
            name: "g1".into(),
            roles: Some(Roles::Aif(10)),
        }]),
        expires_at: Some(2_000_000_000),
        kdcchallenge: Some(random_bytes(8)),
        channel: ChannelRecord {
            id: ChannelId((n as u32).to_be_bytes().to_vec()),
            client_recipient_id: random_bytes(2),
            nonce1: random_bytes(8),
            nonce2: random_bytes(8),
            material: OscoreInputMaterial {
                id: Some(token_id.clone()),
                ms: Some(random_bytes(16)),
                salt: Some(random_bytes(8)),
                ..OscoreInputMaterial::default()
            },
            sequence_mark: 0,
        },
    };
    let member = Member {
        node: format!("node{n}"),
        token_id,
        roles: 10,
        sender_id: Some(sender_id.clone()),
        credential: Some(random_bytes(84)),
        control_uri: Some(format!("coap://127.0.0.1:{}/ctl", 10_000 + n % 50_000)),
        join_scope: random_bytes(8),
        client_challenge: random_bytes(8),
    };
    [
        Change::PutToken(Box::new(token)),
        Change::PutMember {
            group: "g1".into(),
            member: Box::new(member),
        },
        Change::IssueSenderIds {
            group: "g1".into(),
            gid: vec![0xa1, 0xb2, 0, 0, 0, 1],
            ids: vec![sender_id],
        },
    ]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kdc.sqlite")).unwrap();
    let spec: GroupSpec = toml::from_str(
        r#"
        name = "g1"
        "#,
    )
    .unwrap();
    store
        .apply(&[Change::PutGroup(Box::new(group_row(&spec, 0)))])
        .unwrap();
    let mut next = 0u64;
    c.bench_function("store: one transaction of 8 joins", |b| {
        b.iter_batched(
            || {
                let mut changes = Vec::with_capacity(3 * JOINS_PER_TRANSACTION + 1);
                for _ in 0..JOINS_PER_TRANSACTION {
                    changes.extend(join_changes(next));
                    next += 1;
                }
                changes.push(Change::PutGroup(Box::new(group_row(&spec, next))));
                changes
            },
            |changes| store.apply(&changes).unwrap(),
            BatchSize::SmallInput,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
