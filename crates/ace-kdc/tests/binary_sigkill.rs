//! Crash safety of the `ace-kdc` binary: SIGKILL during a stream of joins,
//! restart on the same database. Every join that was answered is still a
//! member, `num` did not go down, no Sender ID is reissued under the same
//! Gid, and the answered members keep their OSCORE channels across the
//! restart (the first request after it goes through Echo, RFC 8613
//! Appendix B.1.2).

#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod support;

use ace_kdc::store::{SqliteStore, Store};
use ace_proto::code::Code;
use ace_proto::roles::group_oscore::REQUESTER;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::net::{NetClient, NetMember};
use support::{ClientKeys, TestAs};

use support::binary::{binary, start};

/// One answered join.
#[derive(Clone, Debug)]
struct Answered {
    group: &'static str,
    node: String,
    sender_id: Vec<u8>,
    gid: Vec<u8>,
    num: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_joins_loses_no_answered_join() {
    let bin = tokio::task::spawn_blocking(binary).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kdc.sqlite");
    let config = dir.path().join("kdc.toml");
    std::fs::write(&config, support::config_toml(&db, support::GROUPS)).unwrap();
    let authority = Arc::new(TestAs::new());
    let mut kdc = start(&bin, &config);

    // A stream of token transfers and joins from 4 endpoints into g1 (no
    // rekeying) and gb (a rekeying per join), until SIGKILL.
    let answered: Arc<Mutex<Vec<(Answered, NetMember, usize)>>> = Arc::default();
    let clients: Vec<Arc<NetClient>> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(Arc::new(NetClient::new(kdc.addr).await));
        }
        v
    };
    let exp = support::core_client::T0.max(now()) + 3600;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        for lane in 0..4 {
            let c = c.clone();
            let authority = authority.clone();
            let answered = answered.clone();
            let stop = stop.clone();
            let group: &'static str = if lane % 2 == 0 { "g1" } else { "gb" };
            workers.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let keys = ClientKeys::ed25519();
                    let token = authority.mint(&keys.token(&[(group, REQUESTER)], exp));
                    // Transport failures (the KDC is killed) end the lane.
                    let Ok(m) = c.try_member_with_token(keys, token).await else {
                        return;
                    };
                    let Ok(m) = m else { continue };
                    let Ok((r, join)) = c.try_join(&m, group, REQUESTER, None, false).await else {
                        return;
                    };
                    if r.code == Code::CREATED {
                        let join = join.unwrap();
                        let key = join.material.key.group_oscore().unwrap();
                        answered.lock().unwrap().push((
                            Answered {
                                group,
                                node: r.location_path()[3].clone(),
                                sender_id: key.group_sender_id.clone().unwrap(),
                                gid: key.gid().unwrap().to_vec(),
                                num: join.material.num,
                            },
                            m,
                            i,
                        ));
                    }
                }
            }));
        }
    }
    // Let joins flow, then kill the KDC in the middle of the stream.
    let started = Instant::now();
    while answered.lock().unwrap().len() < 150 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kdc.child.kill().unwrap(); // SIGKILL
    kdc.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 150,
        "only {} joins answered",
        answered.len()
    );

    // Every answered join is in the database, with its Sender ID.
    let store = SqliteStore::open(&db).unwrap();
    let snap = store.load().unwrap();
    let stored: HashMap<(&str, String), Vec<u8>> = snap
        .groups
        .iter()
        .flat_map(|g| {
            g.members.iter().map(move |m| {
                (
                    (
                        if g.row.spec.name == "g1" {
                            "g1"
                        } else if g.row.spec.name == "gb" {
                            "gb"
                        } else {
                            "other"
                        },
                        m.node.clone(),
                    ),
                    m.sender_id.clone().unwrap_or_default(),
                )
            })
        })
        .collect();
    for (a, _, _) in &answered {
        assert_eq!(
            stored.get(&(a.group, a.node.clone())),
            Some(&a.sender_id),
            "answered join {a:?} lost"
        );
    }
    let num_of = |name: &str| {
        snap.groups
            .iter()
            .find(|g| g.row.spec.name == name)
            .unwrap()
            .row
            .num
    };
    let max_answered_gb = answered
        .iter()
        .filter(|a| a.0.group == "gb")
        .map(|a| a.0.num)
        .max()
        .unwrap_or(0);
    assert!(num_of("gb") as i64 >= max_answered_gb, "num went down");
    drop(store);

    // Restart on the same database.
    let kdc2 = start(&bin, &config);
    // num did not go down after the restart either.
    let c = NetClient::new(kdc2.addr).await;
    // Answered members keep their channels: over the old OSCORE context
    // (Echo first), they still read the group they joined.
    for client in &clients {
        client.retarget(kdc2.addr);
    }
    for (a, m, ci) in answered.iter().filter(|a| a.0.group == "g1").take(5) {
        let client = &clients[*ci];
        let r = client.get(m, "/ace-group/g1/num").await;
        assert_eq!(r.code, Code::CONTENT, "member {} lost its channel", a.node);
        let r = client
            .get(m, &format!("/ace-group/g1/nodes/{}", a.node))
            .await;
        assert_eq!(r.code, Code::CONTENT, "member {} lost its node", a.node);
    }
    let r = {
        let (_, m, ci) = answered.iter().find(|a| a.0.group == "gb").unwrap();
        clients[*ci].get(m, "/ace-group/gb/num").await
    };
    let num_after: i64 =
        ace_proto::cbor::int(ace_proto::cbor::from_slice(&r.payload).unwrap(), "num").unwrap();
    assert!(
        num_after >= max_answered_gb,
        "num after restart {num_after} < {max_answered_gb}"
    );

    // No Sender ID is reissued under the Gid of g1: new joins get new ones.
    let g1_gid = answered
        .iter()
        .find(|a| a.0.group == "g1")
        .unwrap()
        .0
        .gid
        .clone();
    let used: HashSet<Vec<u8>> = snap
        .groups
        .iter()
        .find(|g| g.row.spec.name == "g1")
        .unwrap()
        .members
        .iter()
        .filter_map(|m| m.sender_id.clone())
        .chain(
            answered
                .iter()
                .filter(|a| a.0.group == "g1")
                .map(|a| a.0.sender_id.clone()),
        )
        .collect();
    for _ in 0..20 {
        let m = c
            .member(&authority, ClientKeys::ed25519(), &[("g1", REQUESTER)], exp)
            .await;
        let (r, join) = c.join(&m, "g1", REQUESTER, None, false).await;
        assert_eq!(r.code, Code::CREATED);
        let key = join.unwrap().material.key.group_oscore().unwrap().clone();
        assert_eq!(key.gid().unwrap(), g1_gid.as_slice(), "same Gid");
        let sid = key.group_sender_id.unwrap();
        assert!(
            !used.contains(&sid),
            "Sender ID {} reissued",
            hex::encode(&sid)
        );
    }
    let mut kdc2 = kdc2;
    kdc2.child.kill().unwrap();
    kdc2.child.wait().unwrap();
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
