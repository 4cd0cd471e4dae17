//! The SQLite store: schema version and migrations, a KDC restarted on the
//! same database comes back with its groups, members, issued Sender IDs,
//! stale sets and channels, and `num` never goes down.

#![allow(clippy::unwrap_used)]

mod support;

use ace_kdc::store::{Change, MIGRATIONS, SqliteStore, Store, StoreError};
use ace_kdc::{Effect, Kdc};
use ace_proto::code::Code;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use std::sync::Arc;
use support::core_client::{Harness, T0};
use support::{ClientKeys, GROUPS, Proof, join_request};

/// A KDC core on a fresh SQLite file: the directory (kept alive), the
/// file, the store and the harness.
fn sqlite_harness() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Arc<dyn Store>,
    Harness,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kdc.sqlite");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let h = Harness::new(store.clone(), GROUPS);
    (dir, path, store, h)
}

#[test]
fn schema_is_versioned_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kdc.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    assert_eq!(MIGRATIONS.len(), 2);
    drop(store);
    // Opening again runs no migration and keeps the version.
    assert_eq!(
        SqliteStore::open(&path).unwrap().schema_version().unwrap(),
        2
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::SchemaTooNew { found: 99, .. })
    ));
}

#[test]
fn a_restarted_kdc_has_everything_back() {
    let (_dir, path, _store, h) = sqlite_harness();
    let a = ClientKeys::ed25519();
    let (ca, na) = h.client(&a, &[("g1", REQUESTER | RESPONDER)]);
    assert_eq!(
        h.join(
            &ca,
            "g1",
            &join_request(
                "g1",
                REQUESTER | RESPONDER,
                &na,
                Proof::Signature(&a),
                None,
                None
            )
        )
        .response
        .code,
        Code::CREATED
    );
    let b = ClientKeys::ed25519();
    let (cb, nb) = h.client(&b, &[("g1", REQUESTER)]);
    let out = h.join(
        &cb,
        "g1",
        &join_request("g1", REQUESTER, &nb, Proof::Signature(&b), None, None),
    );
    let b_node = out.response.location_path.join("/");
    // b renews its Sender ID (the old one becomes stale), then leaves
    // (rekey to num 1).
    let out = h.request(
        &cb,
        ace_kdc::KdcRequest::new(ace_kdc::Method::Post, &b_node),
    );
    assert_eq!(out.response.code, Code::CHANGED);
    let out = h.request(
        &cb,
        ace_kdc::KdcRequest::new(ace_kdc::Method::Delete, &b_node),
    );
    assert_eq!(out.response.code, Code::DELETED);
    let before = h.kdc.group_summary("g1").unwrap();
    assert_eq!(before.num, 1);
    let tokens = h.kdc.token_count();
    let channels_before: Vec<_> = h
        .kdc
        .channel_setups()
        .iter()
        .map(|s| s.channel.clone())
        .collect();
    drop(h);

    // Restart on the same file.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let config = support::config(&path, GROUPS);
    let (kdc, effects) = Kdc::open(config, store.clone(), T0 + 10).unwrap();
    let after = kdc.group_summary("g1").unwrap();
    assert_eq!(after, before);
    assert_eq!(kdc.token_count(), tokens);
    let mut restored: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::InstallChannel(s) => {
                assert!(s.restored, "restored channels ask for Echo first");
                Some(s.channel.clone())
            }
            _ => None,
        })
        .collect();
    let mut channels_before = channels_before;
    restored.sort();
    channels_before.sort();
    assert_eq!(restored, channels_before);
    // a still reads the group over its channel.
    let out = kdc.handle(
        &ace_kdc::KdcRequest::new(ace_kdc::Method::Get, "/ace-group/g1/num"),
        &ca,
        T0 + 10,
    );
    assert_eq!(out.response.payload, [0x01]);

    // num never goes down: a row with a lower num is ignored.
    let snap = store.load().unwrap();
    let mut row = snap
        .groups
        .iter()
        .find(|g| g.row.spec.name == "g1")
        .unwrap()
        .row
        .clone();
    row.num = 0;
    store.apply(&[Change::PutGroup(Box::new(row))]).unwrap();
    let snap = store.load().unwrap();
    assert_eq!(
        snap.groups
            .iter()
            .find(|g| g.row.spec.name == "g1")
            .unwrap()
            .row
            .num,
        1
    );
}

/// A database of schema version 1 (tokens keyed by their identifier) with
/// one token, as that version wrote it, in a new directory: the directory
/// (kept alive) and the file.
fn version_1_database() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kdc.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(MIGRATIONS[0]).unwrap();
    conn.execute_batch(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);
         INSERT INTO schema_version (version) VALUES (1);",
    )
    .unwrap();
    let material = ace_proto::oscore_input::OscoreInputMaterial {
        id: Some(vec![0x11; 8]),
        ms: Some(vec![0x22; 16]),
        salt: Some(vec![0x33; 8]),
        ..Default::default()
    };
    let scope =
        ace_proto::scope::GroupScope::new(vec![ace_proto::scope::ScopeEntry::aif("g1", REQUESTER)]);
    use ace_proto::Codec;
    conn.execute(
        "INSERT INTO tokens (id, scope, expires_at, kdcchallenge, channel, \
         client_recipient_id, nonce1, nonce2, material, sequence_mark) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params![
            vec![0x11u8; 8],
            scope.encode(),
            i64::try_from(T0 + 3600).unwrap(),
            vec![0x44u8; 8],
            vec![0x05u8],
            vec![0x77u8],
            vec![0x55u8; 8],
            vec![0x66u8; 8],
            material.encode(),
            42,
        ],
    )
    .unwrap();
    (dir, path)
}

#[test]
fn a_version_1_database_is_migrated_with_its_tokens() {
    let (_dir, path) = version_1_database();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    let snap = store.load().unwrap();
    assert_eq!(snap.tokens.len(), 1);
    let t = &snap.tokens[0];
    assert_eq!(t.id, vec![0x11; 8]);
    assert_eq!(t.channel.id.0, vec![0x05]);
    assert_eq!(t.channel.client_recipient_id, vec![0x77]);
    assert_eq!(t.channel.nonce1, vec![0x55; 8]);
    assert_eq!(t.channel.nonce2, vec![0x66; 8]);
    assert_eq!(t.channel.sequence_mark, 42);
    assert_eq!(t.kdcchallenge, Some(vec![0x44; 8]));
    assert_eq!(t.expires_at, Some(T0 + 3600));
    assert_eq!(t.channel.material.ms, Some(vec![0x22; 16]));
    // The migrated table takes new writes keyed by channel.
    store
        .reserve_sequence(&ace_kdc::model::ChannelId(vec![0x05]), 100)
        .unwrap();
    store
        .apply(&[Change::DeleteToken(ace_kdc::model::ChannelId(vec![0x06]))])
        .unwrap();
    let snap = store.load().unwrap();
    assert_eq!(snap.tokens.len(), 1);
    assert_eq!(snap.tokens[0].channel.sequence_mark, 100);
    store
        .apply(&[Change::DeleteToken(ace_kdc::model::ChannelId(vec![0x05]))])
        .unwrap();
    assert!(store.load().unwrap().tokens.is_empty());
}

#[test]
fn a_token_posted_again_is_stored_once_on_its_new_channel() {
    let (_dir, path, store, h) = sqlite_harness();
    let keys = ClientKeys::ed25519();
    let spec = keys.token(&[("g1", REQUESTER)], h.now + 3600);
    let token = h.authority.mint(&spec);
    let (_, first) = h.authz(token.clone(), false);
    let (first, _) = first.unwrap();
    let (_, second) = h.authz(token, false);
    let (second, _) = second.unwrap();
    assert_ne!(first, second);
    let ace_kdc::Caller::Channel(new_channel) = &second else {
        unreachable!()
    };
    let snap = store.load().unwrap();
    assert_eq!(snap.tokens.len(), 1, "one row per token");
    assert_eq!(&snap.tokens[0].channel.id, new_channel);
    drop(h);
    // After a restart only the new channel exists.
    let config = support::config(&path, GROUPS);
    let (kdc, effects) = Kdc::open(config, store, T0 + 10).unwrap();
    assert_eq!(kdc.token_count(), 1);
    let restored: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::InstallChannel(s) => Some(s.channel.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(&restored, std::slice::from_ref(new_channel));
}

#[test]
fn an_expired_token_leaves_the_database() {
    let (_dir, _path, store, h) = sqlite_harness();
    let short = ClientKeys::ed25519();
    let (_, got) = h.authz(
        h.authority
            .mint(&short.token(&[("g1", REQUESTER)], h.now + 100)),
        false,
    );
    assert!(got.is_some());
    let long = ClientKeys::ed25519();
    let (kept, _) = h.client(&long, &[("g1", REQUESTER)]);
    assert_eq!(store.load().unwrap().tokens.len(), 2);
    let effects = h.kdc.tick(h.now + 101);
    assert!(effects.iter().any(|e| matches!(e, Effect::DropChannel(_))));
    let snap = store.load().unwrap();
    assert_eq!(snap.tokens.len(), 1);
    let ace_kdc::Caller::Channel(kept) = kept else {
        unreachable!()
    };
    assert_eq!(snap.tokens[0].channel.id, kept);
}

#[test]
fn a_token_on_two_channels_is_refused_as_corrupt() {
    let (_dir, path) = version_1_database();
    let store = SqliteStore::open(&path).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO tokens SELECT X'06', id, scope, expires_at, kdcchallenge, \
         client_recipient_id, nonce1, nonce2, material, sequence_mark FROM tokens",
        [],
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    match store.load() {
        Err(StoreError::Corrupt(why)) => assert!(why.contains("two channels"), "{why}"),
        other => panic!("expected a corrupt store, got {other:?}"),
    }
}

/// A token written again (an access-rights update, a new `kdcchallenge`)
/// carries the Sender Sequence Number mark the core had when it loaded;
/// the mark reserved since (RFC 8613 Appendix B.1.1) must not go down, or
/// a restarted KDC would reuse sequence numbers, and so nonces, on that
/// channel. Both stores.
#[test]
fn a_token_written_again_keeps_its_reserved_sequence_mark() {
    let dir = tempfile::tempdir().unwrap();
    let stores: [(&str, Arc<dyn Store>); 2] = [
        (
            "sqlite",
            Arc::new(SqliteStore::open(&dir.path().join("kdc.sqlite")).unwrap()),
        ),
        ("memory", Arc::new(ace_kdc::store::MemoryStore::default())),
    ];
    for (name, store) in stores {
        let h = Harness::new(store.clone(), GROUPS);
        let keys = ClientKeys::ed25519();
        h.client(&keys, &[("g1", REQUESTER)]);
        let token = store.load().unwrap().tokens.remove(0);
        assert_eq!(token.channel.sequence_mark, 0);
        store.reserve_sequence(&token.channel.id, 500).unwrap();
        store
            .apply(&[Change::PutToken(Box::new(token.clone()))])
            .unwrap();
        let stored = store.load().unwrap().tokens.remove(0);
        assert_eq!(stored.channel.sequence_mark, 500, "{name}");
        // A higher mark in the record is taken.
        let mut higher = token;
        higher.channel.sequence_mark = 900;
        store.apply(&[Change::PutToken(Box::new(higher))]).unwrap();
        assert_eq!(
            store.load().unwrap().tokens[0].channel.sequence_mark,
            900,
            "{name}"
        );
    }
}
