//! The SQLite store: schema version and migrations, a KDC restarted on the
//! same database comes back with its groups, members, issued Sender IDs,
//! stale sets and channels, and `num` never goes down.

#![allow(clippy::unwrap_used)]

mod support;

use ace_kdc::store::{Change, SqliteStore, Store, StoreError};
use ace_kdc::{Effect, Kdc};
use ace_proto::code::Code;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use std::sync::Arc;
use support::core_client::{Harness, T0};
use support::{ClientKeys, GROUPS, Proof, join_request};

#[test]
fn schema_is_versioned_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kdc.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 1);
    drop(store);
    // Opening again runs no migration and keeps the version.
    assert_eq!(
        SqliteStore::open(&path).unwrap().schema_version().unwrap(),
        1
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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kdc.sqlite");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let h = Harness::new(store.clone(), GROUPS);
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
