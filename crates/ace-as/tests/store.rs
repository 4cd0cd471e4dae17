//! The token store: one contract for both implementations, and a restart
//! of the AS over the same SQLite file keeps every record.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_as::AuthorizationServer;
use ace_as::store::{
    MemoryStore, RevokeOutcome, SequenceMarks, SqliteStore, StoreError, TokenFilter, TokenRecord,
    TokenStatus, TokenStore,
};
use ace_proto::Codec;
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::oauth::{AccessTokenRequest, IntrospectionRequest, IntrospectionResponse};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use common::*;
use std::sync::Arc;

fn record(cti: u8, client: &str, audience: &str, expires_at: u64) -> TokenRecord {
    TokenRecord {
        cti: vec![cti; 8],
        client: client.into(),
        audience: audience.into(),
        scope: ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 2)])),
        profile: 2,
        format: "cwt sign1+encrypt0".into(),
        issued_at: 100,
        expires_at,
        exi: None,
        key_id: Some(vec![cti, 0xee]),
        revoked_at: None,
    }
}

fn contract(store: &dyn TokenStore) {
    let a = record(1, "c1", "kdc", 1000);
    let mut b = record(2, "c2", "kdc", 2000);
    b.scope = ScopeValue::Text("publish_a/# read".into());
    b.exi = Some(60);
    b.key_id = None;
    let c = record(3, "c1", "rs", 500);
    for r in [&a, &b, &c] {
        store.insert(r).unwrap();
    }
    assert_eq!(store.insert(&a), Err(StoreError::DuplicateCti));
    assert_eq!(store.get(&a.cti).unwrap(), Some(a.clone()));
    assert_eq!(
        store.get(&b.cti).unwrap(),
        Some(b.clone()),
        "text scope and exi kept"
    );
    assert_eq!(store.get(&[9; 8]).unwrap(), None);

    let all = store.list(&TokenFilter::default()).unwrap();
    assert_eq!(all, vec![a.clone(), b.clone(), c.clone()], "oldest first");
    let c1 = TokenFilter {
        client: Some("c1".into()),
        ..TokenFilter::default()
    };
    assert_eq!(store.list(&c1).unwrap(), vec![a.clone(), c.clone()]);
    let kdc_active = TokenFilter {
        audience: Some("kdc".into()),
        active_at: Some(1500),
        ..TokenFilter::default()
    };
    assert_eq!(store.list(&kdc_active).unwrap(), vec![b.clone()]);

    assert_eq!(store.revoke(&a.cti, 700).unwrap(), RevokeOutcome::Revoked);
    assert_eq!(
        store.revoke(&a.cti, 800).unwrap(),
        RevokeOutcome::AlreadyRevoked(700)
    );
    assert_eq!(store.revoke(&[9; 8], 800).unwrap(), RevokeOutcome::NotFound);
    let revoked = store.get(&a.cti).unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(700));
    assert_eq!(revoked.status(701), TokenStatus::Revoked);
    assert_eq!(
        store.get(&c.cti).unwrap().unwrap().status(500),
        TokenStatus::Expired
    );
    assert_eq!(
        store.get(&b.cti).unwrap().unwrap().status(1999),
        TokenStatus::Active
    );

    assert_eq!(store.by_key_id(&[1, 0xee]).unwrap().len(), 1);
    assert!(store.by_key_id(&[7]).unwrap().is_empty());

    assert_eq!(store.next_exi_sequence("kdc").unwrap(), 1);
    assert_eq!(store.next_exi_sequence("kdc").unwrap(), 2);
    assert_eq!(store.next_exi_sequence("rs").unwrap(), 1);
    assert_eq!(store.next_exi_sequence("kdc").unwrap(), 3);
}

#[test]
fn memory_store_contract() {
    contract(&MemoryStore::new());
}

#[test]
fn sqlite_store_contract() {
    contract(&SqliteStore::open_in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    contract(&SqliteStore::open(&dir.path().join("t.sqlite")).unwrap());
}

#[test]
fn sqlite_uses_wal_and_versions_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    // A database from a newer program is refused, not misread.
    conn.execute("INSERT INTO schema_version (version) VALUES (7)", [])
        .unwrap();
    drop(conn);
    assert_eq!(
        SqliteStore::open(&path).unwrap_err(),
        StoreError::SchemaVersion {
            found: 7,
            supported: 2
        }
    );
}

#[test]
fn a_version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    {
        // The version 1 schema as the first release wrote it, with a token.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);
             CREATE TABLE tokens (cti BLOB PRIMARY KEY, client TEXT NOT NULL, audience TEXT NOT NULL,
                 scope BLOB NOT NULL, profile INTEGER NOT NULL, format TEXT NOT NULL,
                 issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, exi INTEGER,
                 key_id BLOB, revoked_at INTEGER);
             CREATE INDEX tokens_by_key_id ON tokens (key_id) WHERE key_id IS NOT NULL;
             CREATE TABLE exi_sequence (audience TEXT PRIMARY KEY, last INTEGER NOT NULL);",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tokens VALUES (x'0102', 'c1', 'kdc', x'4161', 2, 'cwt sign1', 1, 2, NULL, NULL, NULL)",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    assert_eq!(store.get(&[1, 2]).unwrap().unwrap().client, "c1");
    assert_eq!(store.sequence_mark("client/c1").unwrap(), None);
    store.reserve_sequence("client/c1", 256).unwrap();
    assert_eq!(store.sequence_mark("client/c1").unwrap(), Some(256));
}

fn marks_contract(marks: &dyn SequenceMarks) {
    assert_eq!(marks.sequence_mark("client/c1").unwrap(), None);
    marks.reserve_sequence("client/c1", 0).unwrap();
    assert_eq!(marks.sequence_mark("client/c1").unwrap(), Some(0));
    marks.reserve_sequence("client/c1", 512).unwrap();
    marks.reserve_sequence("client/c1", 256).unwrap();
    assert_eq!(
        marks.sequence_mark("client/c1").unwrap(),
        Some(512),
        "never lowered"
    );
    assert_eq!(marks.sequence_mark("audience/kdc").unwrap(), None);
}

#[test]
fn sequence_marks_never_go_down_and_survive_a_reopen() {
    marks_contract(&MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marks.sqlite");
    marks_contract(&SqliteStore::open(&path).unwrap());
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.sequence_mark("client/c1").unwrap(), Some(512));
}

#[test]
fn a_restart_keeps_the_issued_token_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.sqlite");
    let scope = ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 2)]));
    let request = |audience: &str| AccessTokenRequest {
        audience: Some(audience.into()),
        scope: Some(scope.clone()),
        ..AccessTokenRequest::default()
    };
    let (token, revoked_token, cti_before) = {
        let store: Arc<dyn TokenStore> = Arc::new(SqliteStore::open(&path).unwrap());
        let server = AuthorizationServer::new(config(), store.clone());
        let token = server
            .issue(Some(&client("c1")), &request("kdc"), NOW)
            .unwrap();
        let other = server
            .issue(Some(&client("c1")), &request("kdc"), NOW)
            .unwrap();
        store.revoke(other.record.cti.as_slice(), NOW + 1).unwrap();
        let exi = server
            .issue(Some(&client("c1")), &request("kdc-noclock"), NOW)
            .unwrap();
        (
            token.response.access_token,
            other.response.access_token,
            exi.record.cti,
        )
    };
    // A new process: a new store object and a new AS on the same file.
    let store: Arc<dyn TokenStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let server = AuthorizationServer::new(config(), store.clone());
    assert_eq!(store.list(&TokenFilter::default()).unwrap().len(), 3);
    let introspect = |token: &[u8]| {
        let body = IntrospectionRequest {
            token: token.to_vec(),
            ..IntrospectionRequest::default()
        }
        .encode();
        let reply = server.handle_introspect(Some(&rs("kdc")), Some(ACE_CBOR), &body, NOW + 2);
        IntrospectionResponse::decode(&reply.payload).unwrap()
    };
    let answer = introspect(&token);
    assert!(answer.active, "the record survived the restart");
    assert_eq!(answer.client_id.as_deref(), Some("c1"));
    assert!(
        !introspect(&revoked_token).active,
        "the revocation survived too"
    );
    // The exi sequence continues where it stopped.
    let next = server
        .issue(Some(&client("c1")), &request("kdc-noclock"), NOW)
        .unwrap();
    assert_eq!(
        ace_as::server::exi_sequence(b"\x6b\x31", &cti_before),
        Some(1)
    );
    assert_eq!(
        ace_as::server::exi_sequence(b"\x6b\x31", &next.record.cti),
        Some(2)
    );
}

#[test]
fn concurrent_issuance_over_sqlite_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> =
        Arc::new(SqliteStore::open(&dir.path().join("as.sqlite")).unwrap());
    let server = Arc::new(AuthorizationServer::new(config(), store.clone()));
    let scope = ScopeValue::group(&GroupScope::new(vec![ScopeEntry::aif("g1", 2)]));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let server = server.clone();
            let scope = scope.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let request = AccessTokenRequest {
                        audience: Some("kdc-noclock".into()),
                        scope: Some(scope.clone()),
                        ..AccessTokenRequest::default()
                    };
                    server.issue(Some(&client("c1")), &request, NOW).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let records = store.list(&TokenFilter::default()).unwrap();
    assert_eq!(records.len(), 100);
    let mut seqs: Vec<u64> = records
        .iter()
        .map(|r| ace_as::server::exi_sequence(b"\x6b\x31", &r.cti).unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=100).collect::<Vec<_>>(),
        "no sequence number twice"
    );
}
