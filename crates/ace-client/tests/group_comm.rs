//! Group communication among clients that joined through the real KDC: a
//! Requester's group request answered by a Responder and seen by a
//! Monitor, by multicast and to listed members; members learning each
//! other's credentials from the KDC on first contact.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use ace_client::{ClientEvent, GroupClient, JoinOptions};
use ace_coap::{MulticastGroup, Request, Response, SharedHandler};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use support::{World, wait_event};

const T: Duration = Duration::from_secs(30);

fn temperature(name: &'static str) -> SharedHandler {
    Arc::new(move |req: Request| async move {
        if req.path_string() == "/temp" {
            Response::content(format!("{name}: 21.5"))
        } else {
            Response::not_found()
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

struct Trio {
    requester: GroupClient,
    responder: GroupClient,
    monitor: GroupClient,
}

async fn trio(world: &World, multicast: Option<MulticastGroup>, responder_first: bool) -> Trio {
    let make = |name: &str| {
        let mut c = world.client_config(name);
        if let Some(g) = &multicast {
            c.multicast_groups.push(g.clone());
            c.socket.multicast_interface_v4 = Some(Ipv4Addr::LOCALHOST);
        }
        c
    };
    let requester = GroupClient::start(make("requester")).await.unwrap();
    let responder = GroupClient::start(make("responder")).await.unwrap();
    let monitor = GroupClient::start(make("monitor")).await.unwrap();
    let opts = JoinOptions {
        multicast: multicast.as_ref().map(|g| g.group),
        ..JoinOptions::default()
    };
    if responder_first {
        responder.join("g1", RESPONDER, opts.clone()).await.unwrap();
        requester.join("g1", REQUESTER, opts.clone()).await.unwrap();
    } else {
        requester.join("g1", REQUESTER, opts.clone()).await.unwrap();
        responder.join("g1", RESPONDER, opts.clone()).await.unwrap();
    }
    monitor.join("g1", MONITOR, opts).await.unwrap();
    responder.serve("g1", temperature("responder")).unwrap();
    monitor.serve("g1", temperature("monitor")).unwrap();
    Trio {
        requester,
        responder,
        monitor,
    }
}

async fn answered_and_seen(t: &Trio) {
    let mut seen_by_monitor = t.monitor.events();
    let mut seen_by_responder = t.responder.events();
    let responses = t
        .requester
        .group_request("g1", Request::get("/temp"), Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(
        responses.len(),
        1,
        "only the Responder answers: {responses:?}"
    );
    assert_eq!(responses[0].payload, b"responder: 21.5");
    assert_eq!(Some(responses[0].kid.clone()), t.responder.sender_id("g1"));
    let requester_sid = t.requester.sender_id("g1").unwrap();
    for events in [&mut seen_by_monitor, &mut seen_by_responder] {
        let e = wait_event(events, T, |e| {
            matches!(e, ClientEvent::MessageReceived { .. })
        })
        .await;
        let ClientEvent::MessageReceived {
            group, kid, path, ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!(group, "g1");
        assert_eq!(kid, requester_sid);
        assert_eq!(path, "/temp");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multicast_request_answered_by_the_responder_and_seen_by_the_monitor() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let port = free_port();
        let group = MulticastGroup::all_coap_nodes_v4(port, Ipv4Addr::LOCALHOST);
        let t = trio(&world, Some(group), true).await;
        answered_and_seen(&t).await;
        // A Monitor never sends a request.
        let e = t
            .monitor
            .group_request("g1", Request::get("/temp"), Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ace_client::ClientError::RoleNotAllowed { .. }),
            "{e}"
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_to_listed_members_and_credentials_learnt_on_first_contact() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        // The Responder joins after the Requester: neither knows the other
        // from its Join Response; both ask the KDC on first contact.
        let t = trio(&world, None, false).await;
        let peers: Vec<SocketAddr> = vec![t.responder.local_addr(), t.monitor.local_addr()];
        t.requester.set_group_targets("g1", None, peers).unwrap();
        answered_and_seen(&t).await;
        let known = t.requester.material("g1").unwrap().members;
        assert!(
            known
                .iter()
                .any(|m| Some(m.sender_id.clone()) == t.responder.sender_id("g1"))
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairwise_only_group_joined_with_the_mac_proof_and_used_pairwise() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let responder = world.client("responder").await;
        let requester = world.client("requester").await;
        responder
            .join("gp", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        requester
            .join("gp", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        let view = requester.material("gp").unwrap();
        assert_eq!(view.sign_alg, None, "pairwise-only: no signature algorithm");
        assert_eq!(view.ecdh_alg, Some(-27));
        responder.serve("gp", temperature("responder")).unwrap();
        let kid = responder.sender_id("gp").unwrap();
        let reply = requester
            .pairwise_request("gp", responder.local_addr(), &kid, Request::get("/temp"))
            .await
            .unwrap();
        assert_eq!(reply.payload, b"responder: 21.5");
        assert_eq!(reply.kid, kid);
        // No group mode in this group.
        requester
            .set_group_targets("gp", None, vec![responder.local_addr()])
            .unwrap();
        let e = requester
            .group_request("gp", Request::get("/temp"), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(e, ace_client::ClientError::Oscore(_)), "{e}");
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_members_in_a_signature_only_group() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let es256 = ace_proto::keys::SignatureAlgorithm::Es256;
        let responder = GroupClient::start(world.client_config_with("responder", es256))
            .await
            .unwrap();
        let requester = GroupClient::start(world.client_config_with("requester", es256))
            .await
            .unwrap();
        responder
            .join("ges", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        requester
            .join("ges", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("ges", temperature("responder")).unwrap();
        requester
            .set_group_targets("ges", None, vec![responder.local_addr()])
            .unwrap();
        let replies = requester
            .group_request("ges", Request::get("/temp"), Duration::from_millis(1500))
            .await
            .unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].payload, b"responder: 21.5");
        // An Ed25519 credential does not fit this group: error id 2.
        let ed = world.client("ed").await;
        let e = ed
            .join("ges", REQUESTER, JoinOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            e.error_id(),
            Some(ace_proto::consts::groupcomm::ErrorId::IncompatibleCredential),
            "{e}"
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_material_is_enough_for_another_implementation_to_take_over() {
    tokio::time::timeout(T, async {
        let world = World::start().await;
        let responder = world.client("responder").await;
        let requester = world.client("requester").await;
        responder
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        requester
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("g1", temperature("responder")).unwrap();
        requester
            .set_group_targets("g1", None, vec![responder.local_addr()])
            .unwrap();
        // The requester talks, then hands its membership over (JSON, with
        // the private key and the next sequence number) and stops.
        assert_eq!(
            requester
                .group_request("g1", Request::get("/temp"), T)
                .await
                .unwrap()
                .len(),
            1
        );
        let exported = serde_json::to_string(&requester.export("g1", true).unwrap()).unwrap();
        requester.shutdown().await;
        let view: ace_client::KeyingMaterialView = serde_json::from_str(&exported).unwrap();
        assert!(view.private_key.is_some());
        assert!(view.sender_sequence_number.unwrap() > 0);
        // Another stack built only from the export: its group request is
        // accepted (no replay: it continues the sequence numbers) and the
        // response verifies with the responder's exported credential.
        let security = view
            .group_security(group_oscore::group::CountersignatureStructure::Rfc9338)
            .unwrap();
        let table = ace_coap::oscore::OscoreContexts::<String>::new();
        table.add_group(
            &"g1".to_string(),
            ace_coap::oscore::GroupMember::new(security),
        );
        let config = ace_coap::EndpointConfig::new("127.0.0.1:0".parse().unwrap())
            .protocol(ace_coap::oscore::protocol_config(support::protocol()));
        let endpoint = ace_coap::CoapEndpoint::bind(config, ace_coap::handler::not_found())
            .await
            .unwrap();
        let other = ace_coap::oscore::OscoreClient::new(endpoint, table);
        let reply = other
            .group_unicast(
                responder.local_addr(),
                &"g1".to_string(),
                Request::get("/temp"),
                group_oscore::group::RequestMode::Group,
            )
            .await
            .unwrap();
        assert_eq!(reply.response.payload, b"responder: 21.5");
        assert_eq!(Some(reply.kid), responder.sender_id("g1"));
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_link_is_bridged_by_retransmissions() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let world = World::start().await;
        let responder = world.client("responder").await;
        responder
            .join("g1", RESPONDER, JoinOptions::default())
            .await
            .unwrap();
        responder.serve("g1", temperature("responder")).unwrap();
        // The requester loses 10 % of its datagrams in each direction: the
        // join flow and the (confirmable) requests to listed members are
        // retransmitted until they get through.
        let mut config = world.client_config("requester");
        config.faults = Some(ace_coap::fault::FaultConfig::lossy(0.1, 7));
        config.observe = false;
        let requester = GroupClient::start(config).await.unwrap();
        requester
            .join("g1", REQUESTER, JoinOptions::default())
            .await
            .unwrap();
        requester
            .set_group_targets("g1", None, vec![responder.local_addr()])
            .unwrap();
        for _ in 0..10 {
            let replies = requester
                .group_request("g1", Request::get("/temp"), Duration::from_secs(20))
                .await
                .unwrap();
            assert_eq!(replies.len(), 1);
        }
        // Datagrams were lost, and sent again.
        let (stats, _) = requester.oscore().endpoint().stats().await.unwrap();
        assert!(stats.retransmissions > 0, "{stats:?}");
    })
    .await
    .expect("bounded");
}
