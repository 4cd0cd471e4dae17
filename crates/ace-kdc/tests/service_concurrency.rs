//! 500 concurrent joins to one group through the service (token POST and
//! join over CoAP + OSCORE, from several client endpoints): all succeed with
//! distinct Sender IDs; with backward security on, `num` rises by exactly
//! one per join.

#![allow(clippy::unwrap_used)]

mod support;

use ace_proto::code::Code;
use ace_proto::roles::group_oscore::REQUESTER;
use std::collections::HashSet;
use std::sync::Arc;
use support::ClientKeys;
use support::net::NetClient;
use support::service::ServiceHarness;

const JOINS: usize = 500;
const ENDPOINTS: usize = 8;

/// Runs `JOINS` concurrent token transfers and joins to `group`; returns
/// each join's (Sender ID, num).
async fn join_all(h: &ServiceHarness, group: &'static str) -> Vec<(Vec<u8>, i64)> {
    let mut clients = Vec::new();
    for _ in 0..ENDPOINTS {
        clients.push(Arc::new(NetClient::new(h.service.local_addr()).await));
    }
    let exp = h.now() + 3600;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..JOINS {
        let c = clients[i % ENDPOINTS].clone();
        let keys = ClientKeys::ed25519();
        let token = h.authority.mint(&keys.token(&[(group, REQUESTER)], exp));
        tasks.spawn(async move {
            let m = c.member_with_token(keys, token).await.unwrap();
            let (r, join) = c.join(&m, group, REQUESTER, None, false).await;
            assert_eq!(
                r.code,
                Code::CREATED,
                "{}",
                String::from_utf8_lossy(&r.payload)
            );
            let join = join.unwrap();
            let key = join.material.key.group_oscore().unwrap();
            (key.group_sender_id.clone().unwrap(), join.material.num)
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_joins() {
    let h = ServiceHarness::start().await;
    let t = std::time::Instant::now();
    let joined = join_all(&h, "g1").await;
    let sids: HashSet<_> = joined.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(sids.len(), JOINS, "distinct Sender IDs");
    assert!(
        joined.iter().all(|(_, n)| *n == 0),
        "no rekeying without backward security"
    );
    let summary = h.service.kdc().group_summary("g1").unwrap();
    assert_eq!(summary.members.len(), JOINS);
    assert_eq!(summary.num, 0);
    eprintln!(
        "{JOINS} joins without backward security in {:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_joins_with_backward_security() {
    let h = ServiceHarness::start().await;
    let t = std::time::Instant::now();
    let joined = join_all(&h, "gb").await;
    let sids: HashSet<_> = joined.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(sids.len(), JOINS, "distinct Sender IDs");
    // Each join rekeyed once: the versions handed out are exactly 1..=500.
    let mut nums: Vec<i64> = joined.iter().map(|(_, n)| *n).collect();
    nums.sort_unstable();
    assert_eq!(nums, (1..=JOINS as i64).collect::<Vec<_>>());
    let summary = h.service.kdc().group_summary("gb").unwrap();
    assert_eq!(summary.num, JOINS as u64);
    assert_eq!(summary.members.len(), JOINS);
    eprintln!("{JOINS} joins with backward security in {:?}", t.elapsed());
}
