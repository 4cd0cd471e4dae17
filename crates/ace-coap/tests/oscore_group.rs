//! Group OSCORE (RFC 10021) between members on loopback: a group-mode
//! request to the All CoAP Nodes multicast address answered by two members
//! (pairwise by default, group mode or like the request when configured),
//! verified and collected by the requester; pairwise requests by unicast;
//! the identity handlers see; Ed25519 and ES256 groups; a Monitor that
//! stays silent on multicast; a requester without the Requester role that
//! is ignored; rekeying at runtime with the previous Gid accepted during
//! its grace period only; a whole state replaced; and the same requests
//! through the client layer of `CoapEndpoint::group_request`.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod oscore_support;

use ace_coap::option::number;
use ace_coap::oscore::{
    self, GroupConfig, GroupMember, GroupSend, OscoreClient, OscoreContexts, Protection,
    RequestMode, ResponsePolicy,
};
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::{CoapEndpoint, Code, MulticastGroup, Request, Response, Router, SecurityIdentity};
use ace_proto::keys::SignatureAlgorithm;
use ace_proto::roles::group_oscore::RESPONDER;
use group_oscore::group::{GroupSecurity, OwnIdentity, Rekeying};
use oscore_support::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WINDOW: Duration = Duration::from_millis(400);

fn l(s: &str) -> String {
    s.to_string()
}

/// One request a member's handler saw: label, requester's kid, mode, and
/// whether it came by multicast.
type SeenRequest = (String, Vec<u8>, Protection, bool);

/// What the handlers of one member saw.
#[derive(Default)]
struct Seen(Mutex<Vec<SeenRequest>>);

fn member_router(name: &'static str, seen: Arc<Seen>) -> Router {
    Router::new().get("/temp", move |req: Request| {
        let seen = seen.clone();
        async move {
            let id = oscore::identity::<String>(&req).cloned();
            if let Some(id) = &id {
                seen.0.lock().unwrap().push((
                    id.label.clone(),
                    id.kid.clone(),
                    id.protection,
                    req.meta.multicast,
                ));
            }
            match id {
                Some(_) => Response::content(format!("{name} 21.5")),
                None => Response::new(Code::UNAUTHORIZED),
            }
        }
    })
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two servers (members 1 and 2) on the All CoAP Nodes group of a fresh
/// port, and a requester (member 0) that can send multicast on loopback.
struct Multicast {
    group: TestGroup,
    address: SocketAddr,
    servers: Vec<(CoapEndpoint, Arc<OscoreContexts<String>>, Arc<Seen>)>,
    client: OscoreClient<String>,
    client_tap: Arc<MemorySink>,
    clock: Arc<AtomicU64>,
}

async fn multicast(
    alg: SignatureAlgorithm,
    server_state: impl Fn(&TestGroup, usize) -> GroupSecurity,
    group_config: GroupConfig,
) -> Multicast {
    let group = TestGroup::new(alg, 3);
    let clock = Arc::new(AtomicU64::new(1_000_000));
    let mut last_err = None;
    for _attempt in 0..5 {
        let port = free_port();
        let mcast = MulticastGroup::all_coap_nodes_v4(port, Ipv4Addr::LOCALHOST);
        let mut servers = Vec::new();
        for (i, name) in [(1usize, "one"), (2, "two")] {
            let c = clock.clone();
            let table =
                OscoreContexts::<String>::with_clock(Arc::new(move || c.load(Ordering::SeqCst)));
            table.add_group(
                &l("g"),
                GroupMember::with_config(server_state(&group, i), group_config),
            );
            let seen = Arc::new(Seen::default());
            let bound = CoapEndpoint::bind(
                config().join(mcast.clone()),
                ace_coap::Layer::layer(
                    &table.server_layer(),
                    member_router(name, seen.clone()).into_handler(),
                ),
            )
            .await;
            match bound {
                Ok(s) => servers.push((s, table, seen)),
                Err(e) => {
                    last_err = Some(e);
                    break;
                }
            }
        }
        if servers.len() < 2 {
            continue;
        }
        let client_tap = Arc::new(MemorySink::new());
        let mut cfg = config().tap(client_tap.clone());
        cfg.socket.multicast_interface_v4 = Some(Ipv4Addr::LOCALHOST);
        let endpoint = CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
            .await
            .unwrap();
        let table = OscoreContexts::<String>::new();
        table.add_group(&l("g"), group.member(0));
        return Multicast {
            address: mcast.group,
            group,
            servers,
            client: OscoreClient::new(endpoint, table),
            client_tap,
            clock,
        };
    }
    panic!("could not bind the multicast members: {last_err:?}");
}

fn default_state(g: &TestGroup, i: usize) -> GroupSecurity {
    g.security(i, &[])
}

fn sorted_payloads(replies: &oscore::GroupReplies) -> Vec<(Vec<u8>, String)> {
    let mut v: Vec<_> = replies
        .replies
        .iter()
        .map(|r| {
            (
                r.kid.clone(),
                String::from_utf8_lossy(&r.response.payload).into_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn group_mode_request_over_multicast(alg: SignatureAlgorithm) {
    let m = multicast(alg, default_state, GroupConfig::default()).await;
    let replies = m
        .client
        .group_request(
            m.address,
            &l("g"),
            Request::get("/temp"),
            RequestMode::Group,
            WINDOW,
        )
        .await
        .unwrap();
    assert!(replies.refused.is_empty(), "{:?}", replies.refused);
    assert_eq!(
        sorted_payloads(&replies),
        vec![
            (vec![0x11], "one 21.5".to_string()),
            (vec![0x12], "two 21.5".to_string())
        ]
    );
    for (_, _, seen) in &m.servers {
        let seen = seen.0.lock().unwrap();
        assert_eq!(
            *seen,
            vec![(l("g"), vec![0x10], Protection::GroupMode, true)]
        );
    }
    // On the wire: one NON group-mode request (Group Flag set) to the group
    // address; pairwise responses (flag clear) from each member.
    let out = messages(&m.client_tap, Direction::Out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].options.get(number::OSCORE).unwrap()[0] & 0x20, 0x20);
    let incoming = messages(&m.client_tap, Direction::In);
    assert_eq!(incoming.len(), 2);
    for r in &incoming {
        assert_eq!(
            r.options
                .get(number::OSCORE)
                .unwrap()
                .first()
                .map_or(0, |b| b & 0x20),
            0
        );
    }
}

#[tokio::test]
async fn ed25519_group_mode_request_to_a_multicast_address() {
    bounded(group_mode_request_over_multicast(SignatureAlgorithm::EdDsa)).await;
}

#[tokio::test]
async fn es256_group_mode_request_to_a_multicast_address() {
    bounded(group_mode_request_over_multicast(SignatureAlgorithm::Es256)).await;
}

#[tokio::test]
async fn responses_in_group_mode_and_like_the_request_when_configured() {
    bounded(async {
        for (policy, request_mode_flags) in [
            (ResponsePolicy::Group, 0x20u8),
            (ResponsePolicy::LikeRequest, 0x20),
        ] {
            let m = multicast(
                SignatureAlgorithm::EdDsa,
                default_state,
                GroupConfig {
                    responses: policy,
                    ..GroupConfig::default()
                },
            )
            .await;
            let replies = m
                .client
                .group_request(
                    m.address,
                    &l("g"),
                    Request::get("/temp"),
                    RequestMode::Group,
                    WINDOW,
                )
                .await
                .unwrap();
            assert_eq!(replies.replies.len(), 2, "{policy:?}");
            for r in messages(&m.client_tap, Direction::In) {
                assert_eq!(
                    r.options.get(number::OSCORE).unwrap()[0] & 0x20,
                    request_mode_flags
                );
            }
            // A pairwise request by unicast: answered in pairwise mode under
            // LikeRequest, in group mode under Group.
            let reply = m
                .client
                .group_unicast(
                    m.servers[0].0.local_addr(),
                    &l("g"),
                    Request::get("/temp"),
                    RequestMode::Pairwise(vec![0x11]),
                )
                .await
                .unwrap();
            assert_eq!(reply.response.payload, b"one 21.5");
            let last = messages(&m.client_tap, Direction::In).pop().unwrap();
            let flag = last
                .options
                .get(number::OSCORE)
                .unwrap()
                .first()
                .map_or(0, |b| b & 0x20);
            let want = if policy == ResponsePolicy::Group {
                0x20
            } else {
                0
            };
            assert_eq!(flag, want, "{policy:?}");
            let seen = m.servers[0].2.0.lock().unwrap();
            assert_eq!(seen.last().unwrap().2, Protection::PairwiseMode);
            assert!(!seen.last().unwrap().3, "unicast");
        }
    })
    .await;
}

#[tokio::test]
async fn monitors_and_non_requesters_stay_silent_on_multicast() {
    bounded(async {
        // Member 1 is a Monitor; member 2 knows member 0 as a Responder only.
        let state = |g: &TestGroup, i: usize| {
            if i == 1 {
                GroupSecurity::new(
                    g.params(),
                    OwnIdentity::monitor(),
                    [g.member_entry(0), g.member_entry(2)],
                )
                .unwrap()
            } else {
                g.security(i, &[Some(RESPONDER), None, None])
            }
        };
        let m = multicast(SignatureAlgorithm::EdDsa, state, GroupConfig::default()).await;
        let replies = m
            .client
            .group_request(
                m.address,
                &l("g"),
                Request::get("/temp"),
                RequestMode::Group,
                WINDOW,
            )
            .await
            .unwrap();
        assert!(replies.replies.is_empty() && replies.refused.is_empty());
        assert!(
            messages(&m.client_tap, Direction::In).is_empty(),
            "nothing at all came back"
        );
        // The Monitor processed the request; the other member ignored it.
        assert_eq!(m.servers[0].2.0.lock().unwrap().len(), 1);
        assert_eq!(m.servers[1].2.0.lock().unwrap().len(), 0);
    })
    .await;
}

#[tokio::test]
async fn rekeying_at_runtime_with_a_grace_period_and_replacement() {
    bounded(async {
        let m = multicast(
            SignatureAlgorithm::EdDsa,
            default_state,
            GroupConfig::default(),
        )
        .await;
        let old_gid = m.group.gid.clone();
        let new_gid = vec![0xee, 0x01];
        let new_secret = [0x42u8; 16];
        let now = m.clock.load(Ordering::SeqCst);
        // The servers install the new material with a grace period of 60 s;
        // the requester still has the old one.
        for (_, table, _) in &m.servers {
            let member = table.group(&l("g")).unwrap();
            let mut rekeying = Rekeying::new(&new_gid, &new_secret);
            rekeying.key_generation = Some(1);
            rekeying.grace = 60;
            member.rekey(rekeying, now).unwrap();
            assert_eq!(member.gid(), new_gid);
            assert_eq!(member.key_generation(), Some(1));
        }
        let replies = m
            .client
            .group_request(
                m.address,
                &l("g"),
                Request::get("/temp"),
                RequestMode::Group,
                WINDOW,
            )
            .await
            .unwrap();
        // Accepted under the old Gid; answered with the new context, which
        // the requester cannot read yet (its 'kid context' names the new Gid).
        assert_eq!(replies.replies.len() + replies.refused.len(), 2);
        assert!(
            replies.replies.is_empty(),
            "responses use the latest context"
        );
        // The requester catches up: everything works again.
        let requester = m.client.contexts().group(&l("g")).unwrap();
        let mut rekeying = Rekeying::new(&new_gid, &new_secret);
        rekeying.key_generation = Some(1);
        requester.rekey(rekeying, now).unwrap();
        let replies = m
            .client
            .group_request(
                m.address,
                &l("g"),
                Request::get("/temp"),
                RequestMode::Group,
                WINDOW,
            )
            .await
            .unwrap();
        assert_eq!(replies.replies.len(), 2, "{:?}", replies.refused);

        // After the grace period, the old Gid is unknown: a member still on
        // it gets no answer on multicast.
        m.clock.store(now + 61, Ordering::SeqCst);
        let stale = OscoreContexts::<String>::new();
        stale.add_group(&l("g"), m.group.member(0));
        let mut cfg = config();
        cfg.socket.multicast_interface_v4 = Some(Ipv4Addr::LOCALHOST);
        let stale_client = OscoreClient::new(
            CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
                .await
                .unwrap(),
            stale,
        );
        let replies = stale_client
            .group_request(
                m.address,
                &l("g"),
                Request::get("/temp"),
                RequestMode::Group,
                WINDOW,
            )
            .await
            .unwrap();
        assert!(replies.replies.is_empty() && replies.refused.is_empty());
        let err = stale_client
            .group_unicast(
                m.servers[0].0.local_addr(),
                &l("g"),
                Request::get("/temp"),
                RequestMode::Group,
            )
            .await
            .unwrap_err();
        assert_eq!(err.refused_code(), Some(Code::UNAUTHORIZED), "{err}");

        // Replacing the whole state (a re-join under the old material).
        for (i, (_, table, _)) in m.servers.iter().enumerate() {
            let member = table.group(&l("g")).unwrap();
            let previous = member.replace(m.group.security(i + 1, &[]));
            assert_eq!(previous.gid(), new_gid);
            assert_eq!(member.gid(), old_gid);
        }
        let r = stale_client
            .group_unicast(
                m.servers[0].0.local_addr(),
                &l("g"),
                Request::get("/temp"),
                RequestMode::Group,
            )
            .await
            .unwrap();
        assert_eq!(r.response.payload, b"one 21.5");
    })
    .await;
}

#[tokio::test]
async fn group_requests_through_the_client_layer() {
    bounded(async {
        let m = multicast(
            SignatureAlgorithm::EdDsa,
            default_state,
            GroupConfig::default(),
        )
        .await;
        let table = m.client.contexts().clone();
        let mut cfg = config().client_layer(table.client_layer());
        cfg.socket.multicast_interface_v4 = Some(Ipv4Addr::LOCALHOST);
        let endpoint = CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
            .await
            .unwrap();
        let mut request = Request::get("/temp");
        request.security = Some(SecurityIdentity::new(GroupSend {
            group: l("g"),
            mode: RequestMode::Group,
        }));
        let mut responses = endpoint
            .group_request(m.address, request, WINDOW)
            .await
            .unwrap();
        responses.sort_by_key(|(a, _)| *a);
        let mut payloads: Vec<_> = responses.iter().map(|(_, r)| r.payload.clone()).collect();
        payloads.sort();
        assert_eq!(payloads, vec![b"one 21.5".to_vec(), b"two 21.5".to_vec()]);
        // Pairwise through the layer, by unicast.
        let mut request = Request::get("/temp");
        request.security = Some(SecurityIdentity::new(GroupSend {
            group: l("g"),
            mode: RequestMode::Pairwise(vec![0x12]),
        }));
        let r = endpoint
            .request(m.servers[1].0.local_addr(), request)
            .await
            .unwrap();
        assert_eq!(r.payload, b"two 21.5");
    })
    .await;
}

#[tokio::test]
async fn a_member_without_replay_state_is_asked_again_by_unicast_after_a_multicast_request() {
    bounded(async {
        // Member 1 deleted and re-created the requester's Recipient Context
        // (its replay window for member 0 is invalid, RFC 10021 section
        // 2.6.1.2); member 2 is in order.
        let state = |g: &TestGroup, i: usize| {
            let mut s = g.security(i, &[]);
            if i == 1 {
                s.remove_members(&[g.members[0].sender_id.clone()]);
                s.add_member(g.member_entry(0)).unwrap();
            }
            s
        };
        let m = multicast(SignatureAlgorithm::EdDsa, state, GroupConfig::default()).await;
        let replies = m
            .client
            .group_request(
                m.address,
                &l("g"),
                Request::get("/temp"),
                RequestMode::Group,
                WINDOW,
            )
            .await
            .unwrap();
        assert!(replies.refused.is_empty(), "{:?}", replies.refused);
        assert_eq!(
            sorted_payloads(&replies),
            vec![
                (vec![0x11], "one 21.5".to_string()),
                (vec![0x12], "two 21.5".to_string())
            ]
        );
        // Member 1 saw the request once, repeated in pairwise mode by
        // unicast with the Echo value; member 2 once, by multicast.
        assert_eq!(
            *m.servers[0].2.0.lock().unwrap(),
            vec![(l("g"), vec![0x10], Protection::PairwiseMode, false)]
        );
        assert_eq!(
            *m.servers[1].2.0.lock().unwrap(),
            vec![(l("g"), vec![0x10], Protection::GroupMode, true)]
        );
        let out = messages(&m.client_tap, Direction::Out);
        assert_eq!(
            out.len(),
            2,
            "the multicast request and one unicast repetition"
        );
        assert!(out[1].options.contains(number::OSCORE));
    })
    .await;
}

#[tokio::test]
async fn observe_in_a_group_through_the_client_layer() {
    bounded(async {
        let g = TestGroup::new(SignatureAlgorithm::EdDsa, 2);
        let level = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let lv = level.clone();
        let router = Router::new().resource(
            ace_coap::Resource::new("/level")
                .get(move |req: Request| {
                    let v = lv.load(Ordering::SeqCst);
                    let mode = oscore::identity::<String>(&req).map(|i| i.protection);
                    async move { Response::content(format!("{v} {mode:?}")) }
                })
                .observable(),
        );
        let server_table = OscoreContexts::<String>::new();
        server_table.add_group(&l("g"), GroupMember::new(g.security(1, &[])));
        let server = CoapEndpoint::bind(
            config(),
            ace_coap::Layer::layer(&server_table.server_layer(), router.into_handler()),
        )
        .await
        .unwrap();
        let client_table = OscoreContexts::<String>::new();
        client_table.add_group(&l("g"), g.member(0));
        let endpoint = CoapEndpoint::bind(
            config().client_layer(client_table.client_layer()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        for mode in [RequestMode::Group, RequestMode::Pairwise(vec![0x11])] {
            level.store(0, Ordering::SeqCst);
            let mut request = Request::get("/level");
            request.options.set_uint(number::OBSERVE, 0);
            request.security = Some(SecurityIdentity::new(GroupSend {
                group: l("g"),
                mode: mode.clone(),
            }));
            let mut obs = endpoint
                .observe(server.local_addr(), request)
                .await
                .unwrap();
            let protection = if mode == RequestMode::Group {
                "Some(GroupMode)"
            } else {
                "Some(PairwiseMode)"
            };
            let first = obs.next().await.unwrap().unwrap();
            assert_eq!(first.payload, format!("0 {protection}").as_bytes());
            for v in 1..=3 {
                level.store(v, Ordering::SeqCst);
                server.notify("/level");
                let n = obs.next().await.unwrap().unwrap();
                assert_eq!(n.payload, format!("{v} {protection}").as_bytes());
                assert!(n.observe().is_some());
            }
            drop(obs);
        }
        // A dropped observation is forgotten by the client only; the server
        // keeps it until a notification is answered with a Reset (RFC 7641
        // section 3.6). The first one got the second round's notifications
        // and is gone; the endpoint told the layer, which freed its state.
        let observers = |server: &CoapEndpoint| {
            let server = server.clone();
            async move { server.stats().await.unwrap().1 }
        };
        assert_eq!(observers(&server).await, 1);
        assert_eq!(server_table.observation_count(), 1);
        server.notify("/level");
        while observers(&server).await > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(server_table.observation_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_member_without_replay_state_answers_a_group_request_through_the_client_layer() {
    bounded(async {
        // As above, through `CoapEndpoint::group_request` and the client
        // layer: member 1's Echo challenge is answered by unicast in
        // pairwise mode and its answer replaces the challenge.
        let state = |g: &TestGroup, i: usize| {
            let mut s = g.security(i, &[]);
            if i == 1 {
                s.remove_members(&[g.members[0].sender_id.clone()]);
                s.add_member(g.member_entry(0)).unwrap();
            }
            s
        };
        let m = multicast(SignatureAlgorithm::EdDsa, state, GroupConfig::default()).await;
        let table = m.client.contexts().clone();
        let tap = Arc::new(MemorySink::new());
        let mut cfg = config().client_layer(table.client_layer()).tap(tap.clone());
        cfg.socket.multicast_interface_v4 = Some(Ipv4Addr::LOCALHOST);
        let endpoint = CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
            .await
            .unwrap();
        let mut request = Request::get("/temp");
        request.security = Some(SecurityIdentity::new(GroupSend {
            group: l("g"),
            mode: RequestMode::Group,
        }));
        let responses = endpoint
            .group_request(m.address, request, WINDOW)
            .await
            .unwrap();
        let mut payloads: Vec<_> = responses
            .iter()
            .map(|(_, r)| (r.code, r.payload.clone()))
            .collect();
        payloads.sort();
        assert_eq!(
            payloads,
            vec![
                (Code::CONTENT, b"one 21.5".to_vec()),
                (Code::CONTENT, b"two 21.5".to_vec())
            ]
        );
        assert_eq!(
            *m.servers[0].2.0.lock().unwrap(),
            vec![(l("g"), vec![0x10], Protection::PairwiseMode, false)]
        );
        let out = messages(&tap, Direction::Out);
        assert_eq!(out.len(), 2, "the multicast request and one repetition");
        assert_eq!(out[1].options.get(number::OSCORE).unwrap()[0] & 0x20, 0);
    })
    .await;
}
