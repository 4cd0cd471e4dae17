//! Starting the real service on loopback for a test.

#![allow(dead_code, clippy::unwrap_used)]

use super::net::{NetClient, test_protocol};
use super::{GROUPS, TestAs};
use ace_kdc::Kdc;
use ace_kdc::service::{Clock, KdcService, ServiceOptions, SystemClock};
use ace_kdc::store::{SqliteStore, Store};
use std::sync::Arc;
use std::time::Duration;

/// A running KDC service on an ephemeral loopback port with a SQLite store
/// in a temporary directory.
pub struct ServiceHarness {
    pub service: KdcService,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    pub authority: TestAs,
    pub clock: Arc<SystemClock>,
}

impl ServiceHarness {
    pub async fn start() -> Self {
        Self::start_with(GROUPS).await
    }

    pub async fn start_with(groups: &str) -> Self {
        Self::start_tuned(groups, |o| o).await
    }

    /// A service whose options (test defaults) `tune` adjusts.
    pub async fn start_tuned(
        groups: &str,
        tune: impl FnOnce(ServiceOptions) -> ServiceOptions,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kdc.sqlite");
        let config = super::config(&db, groups);
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
        let clock = Arc::new(SystemClock::default());
        let (kdc, restore) = Kdc::open(config, store.clone(), clock.now()).unwrap();
        let kdc = kdc.with_group_commit().unwrap();
        let mut options = ServiceOptions::new("127.0.0.1:0".parse().unwrap());
        options.protocol = test_protocol();
        options.protocol.transmission.nstart = 32;
        options.tick = Duration::from_millis(50);
        options.eviction_grace = Duration::from_millis(300);
        options.clock = clock.clone();
        let service = KdcService::start(kdc, restore, tune(options))
            .await
            .unwrap();
        Self {
            service,
            store,
            dir,
            authority: TestAs::new(),
            clock,
        }
    }

    pub async fn client(&self) -> NetClient {
        NetClient::new(self.service.local_addr()).await
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Everything the KDC stores and shows (compared around refused
    /// requests).
    pub fn fingerprint(&self) -> String {
        let kdc = self.service.kdc();
        let summaries: Vec<_> = kdc
            .group_names()
            .iter()
            .map(|g| kdc.group_summary(g))
            .collect();
        let mut snap = self.store.load().unwrap();
        // Sequence marks move with every protected response; they are not
        // group or membership state.
        for t in &mut snap.tokens {
            t.channel.sequence_mark = 0;
        }
        format!("{summaries:?}\n{snap:?}")
    }
}
