//! Freshness after a restart over the network (RFC 8613 Appendix B.1,
//! RFC 9175 section 2.4, RFC 10021 section 9): a server whose context was
//! restored without replay state challenges the first request with a
//! protected 4.01 carrying Echo and its own Partial IV; the client
//! (`OscoreClient`, and the client layer inside `CoapEndpoint::request`,
//! `observe` and `group_request`) repeats the request with the Echo value
//! without the application noticing, and the handler runs once. Sender Sequence Numbers resume past
//! the reserved mark, so none is used twice across the restart.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod oscore_support;

use ace_coap::option::number;
use ace_coap::oscore::{GroupMember, OscoreClient, OscoreContexts, Persistence, RequestMode};
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::{Code, Request, Resource, Response, Router, SecurityIdentity};
use ace_proto::keys::SignatureAlgorithm;
use oscore_support::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

fn l(s: &str) -> String {
    s.to_string()
}

fn router(hits: Arc<AtomicU32>) -> Router {
    let h = hits.clone();
    Router::new()
        .post("/actuate", move |req: Request| {
            let hits = h.clone();
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                Response::changed().with_payload(req.payload)
            }
        })
        .resource(
            Resource::new("/state")
                .get(|_req: Request| async { Response::content("on") })
                .observable(),
        )
}

/// A store that records the marks it is asked to make durable.
fn recording_store() -> (Arc<Mutex<Vec<u64>>>, Box<dyn group_oscore::SequenceStore>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    let store = move |mark: u64| {
        l2.lock().unwrap().push(mark);
        Ok(())
    };
    (log, Box::new(store))
}

/// The Partial IVs of the protected messages a tap saw leaving.
fn sent_pivs(tap: &MemorySink) -> Vec<Vec<u8>> {
    messages(tap, Direction::Out)
        .into_iter()
        .filter_map(|m| m.options.get(number::OSCORE).map(<[u8]>::to_vec))
        .filter_map(|o| {
            let n = usize::from(*o.first()? & 0x07);
            (n > 0).then(|| o[1..=n].to_vec())
        })
        .collect()
}

#[tokio::test]
async fn restarted_server_challenges_with_echo_and_the_client_repeats_transparently() {
    bounded(async {
        let hits = Arc::new(AtomicU32::new(0));
        let (server_params, client_params) = params(b"\x21", b"\x01");
        let client_table = OscoreContexts::<String>::new();
        client_table.install(
            &l("server"),
            group_oscore::SecurityContext::new(&client_params).unwrap(),
        );
        let client = OscoreClient::new(client_endpoint().await, client_table);

        // First life of the server: Sender Sequence Numbers reserved 4 at a
        // time; observations make it send protected notifications with its
        // own Partial IVs.
        let (log, store) = recording_store();
        let table = OscoreContexts::<String>::new();
        table
            .install_persistent(&l("c"), &server_params, Persistence::new(store, 4))
            .unwrap();
        let tap1 = Arc::new(MemorySink::new());
        let server = server_with(
            &table,
            router(hits.clone()).into_handler(),
            config().tap(tap1.clone()),
        )
        .await;
        let mut obs = client
            .observe(server.local_addr(), &l("server"), Request::get("/state"))
            .await
            .unwrap();
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"on");
        for _ in 0..5 {
            server.notify("/state");
            assert_eq!(obs.next().await.unwrap().unwrap().payload, b"on");
        }
        drop(obs);
        server.shutdown().await;
        let mark = *log.lock().unwrap().last().unwrap();
        assert!(mark >= 5, "marks {:?}", log.lock().unwrap());

        // Restart: the context is restored from the store's mark, without
        // replay state.
        let (log2, store2) = recording_store();
        let table = OscoreContexts::<String>::new();
        table
            .install_persistent(
                &l("c"),
                &server_params,
                Persistence::restored(store2, mark, 4),
            )
            .unwrap();
        assert_eq!(table.sender_sequence_number(&l("c")), Some(mark));
        let tap2 = Arc::new(MemorySink::new());
        let server = server_with(
            &table,
            router(hits.clone()).into_handler(),
            config().tap(tap2.clone()),
        )
        .await;
        let r = client
            .request(
                server.local_addr(),
                &l("server"),
                Request::post("/actuate").with_payload("go"),
            )
            .await
            .unwrap();
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(r.payload, b"go");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "the challenged request was not executed"
        );
        // Two requests reached the server; the first answer was the
        // protected challenge with the server's own Partial IV (outer 2.04).
        assert_eq!(messages(&tap2, Direction::In).len(), 2);
        let out = messages(&tap2, Direction::Out);
        assert_eq!(out.len(), 2);
        assert_eq!(Code(out[0].code), Code::CHANGED);
        assert_ne!(out[0].options.get(number::OSCORE), Some(&[][..]));
        // Replay state is now valid: a further request is not challenged.
        client
            .request(
                server.local_addr(),
                &l("server"),
                Request::post("/actuate").with_payload("again"),
            )
            .await
            .unwrap();
        assert_eq!(messages(&tap2, Direction::In).len(), 3);
        // No Partial IV of the server was used twice across the restart.
        let mut all = sent_pivs(&tap1);
        let before = all.len();
        all.extend(sent_pivs(&tap2));
        assert!(before >= 5 && all.len() > before);
        assert_eq!(
            all.iter().collect::<HashSet<_>>().len(),
            all.len(),
            "{all:?}"
        );
        assert!(log2.lock().unwrap().iter().all(|m| *m > mark));
    })
    .await;
}

#[tokio::test]
async fn observe_registration_after_a_restart_goes_through_echo() {
    bounded(async {
        let (server_params, client_params) = params(b"\x22", b"\x01");
        let table = OscoreContexts::<String>::new();
        table
            .install_persistent(
                &l("c"),
                &server_params,
                Persistence::restored(Box::new(group_oscore::Volatile), 1000, 100),
            )
            .unwrap();
        let server = server(&table, router(Arc::default()).into_handler()).await;
        let client_table = OscoreContexts::<String>::new();
        client_table.install(
            &l("s"),
            group_oscore::SecurityContext::new(&client_params).unwrap(),
        );
        let client = OscoreClient::new(client_endpoint().await, client_table);
        let mut obs = client
            .observe(server.local_addr(), &l("s"), Request::get("/state"))
            .await
            .unwrap();
        let first = obs.next().await.unwrap().unwrap();
        assert_eq!(first.payload, b"on");
        server.notify("/state");
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"on");
    })
    .await;
}

/// A server whose context was restored without replay state (e.g. a
/// member restored from its state file), with a tap.
async fn restored_server(
    server_id: &[u8],
    hits: Arc<AtomicU32>,
) -> (
    ace_coap::CoapEndpoint,
    Arc<MemorySink>,
    group_oscore::ContextParams,
) {
    let (server_params, client_params) = params(server_id, b"\x01");
    let table = OscoreContexts::<String>::new();
    table
        .install_persistent(
            &l("c"),
            &server_params,
            Persistence::restored(Box::new(group_oscore::Volatile), 50, 10),
        )
        .unwrap();
    let tap = Arc::new(MemorySink::new());
    let server = server_with(
        &table,
        router(hits).into_handler(),
        config().tap(tap.clone()),
    )
    .await;
    (server, tap, client_params)
}

/// A client endpoint whose client layer protects requests naming "s".
async fn layered_client(client_params: &group_oscore::ContextParams) -> ace_coap::CoapEndpoint {
    let client_table = OscoreContexts::<String>::new();
    client_table.install(
        &l("s"),
        group_oscore::SecurityContext::new(client_params).unwrap(),
    );
    ace_coap::CoapEndpoint::bind(
        config().client_layer(client_table.client_layer()),
        ace_coap::handler::not_found(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_client_layer_repeats_a_request_challenged_with_echo() {
    // The KDC sends its rekeying POSTs to a member's control_uri with
    // `CoapEndpoint::request` through the client layer: a member restored
    // without replay state must still receive them.
    bounded(async {
        let hits = Arc::new(AtomicU32::new(0));
        let (server, tap, client_params) = restored_server(b"\x23", hits.clone()).await;
        let endpoint = layered_client(&client_params).await;
        let mut request = Request::post("/actuate").with_payload("rekey");
        request.security = Some(SecurityIdentity::new(l("s")));
        let r = endpoint
            .request(server.local_addr(), request.clone())
            .await
            .unwrap();
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(r.payload, b"rekey");
        assert_eq!(hits.load(Ordering::SeqCst), 1, "handled once");
        // On the wire: the request, the protected challenge, the request
        // repeated (with Echo, inside), the answer.
        let received = messages(&tap, Direction::In);
        assert_eq!(received.len(), 2);
        assert!(received.iter().all(|m| m.options.contains(number::OSCORE)));
        assert_ne!(
            received[0].options.get(number::OSCORE),
            received[1].options.get(number::OSCORE),
            "a fresh Partial IV for the repetition"
        );
        assert_eq!(
            sent_pivs(&tap).len(),
            1,
            "the challenge has the server's own Partial IV"
        );
        // The replay window is valid now: no further challenge.
        let r = endpoint
            .request(server.local_addr(), request)
            .await
            .unwrap();
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(messages(&tap, Direction::In).len(), 3);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test]
async fn an_observation_through_the_client_layer_registers_again_after_echo() {
    bounded(async {
        let (server, tap, client_params) = restored_server(b"\x24", Arc::default()).await;
        let endpoint = layered_client(&client_params).await;
        let mut request = Request::get("/state");
        request.options.set_uint(number::OBSERVE, 0);
        request.security = Some(SecurityIdentity::new(l("s")));
        let mut obs = endpoint
            .observe(server.local_addr(), request)
            .await
            .unwrap();
        let first = obs.next().await.unwrap().unwrap();
        assert_eq!(first.code, Code::CONTENT);
        assert_eq!(first.payload, b"on");
        assert!(first.observe().is_some());
        server.notify("/state");
        assert_eq!(obs.next().await.unwrap().unwrap().payload, b"on");
        assert_eq!(messages(&tap, Direction::In).len(), 2, "registered twice");
        assert_eq!(server.stats().await.unwrap().1, 1, "one observer");
    })
    .await;
}

#[tokio::test]
async fn the_client_layer_answers_a_group_member_challenge_in_pairwise_mode() {
    bounded(async {
        let group = TestGroup::new(SignatureAlgorithm::EdDsa, 2);
        let hits = Arc::new(AtomicU32::new(0));
        let mut security = group.security(0, &[]);
        security.remove_members(&[group.members[1].sender_id.clone()]);
        security.add_member(group.member_entry(1)).unwrap();
        let table = OscoreContexts::<String>::new();
        table.add_group(&l("g"), GroupMember::new(security));
        let tap = Arc::new(MemorySink::new());
        let server = server_with(
            &table,
            router(hits.clone()).into_handler(),
            config().tap(tap.clone()),
        )
        .await;
        let client_table = OscoreContexts::<String>::new();
        client_table.add_group(&l("g"), group.member(1));
        let endpoint = ace_coap::CoapEndpoint::bind(
            config().client_layer(client_table.client_layer()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let mut request = Request::post("/actuate").with_payload("grp");
        request.security = Some(SecurityIdentity::new(ace_coap::oscore::GroupSend {
            group: l("g"),
            mode: RequestMode::Group,
        }));
        let r = endpoint
            .request(server.local_addr(), request)
            .await
            .unwrap();
        assert_eq!(r.code, Code::CHANGED);
        assert_eq!(r.payload, b"grp");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let flags: Vec<u8> = messages(&tap, Direction::In)
            .iter()
            .map(|m| m.options.get(number::OSCORE).unwrap()[0] & 0x20)
            .collect();
        assert_eq!(flags, vec![0x20, 0], "group mode, then pairwise with Echo");
    })
    .await;
}

#[tokio::test]
async fn group_member_with_lost_replay_state_is_asked_again_in_pairwise_mode() {
    bounded(async {
        let group = TestGroup::new(SignatureAlgorithm::EdDsa, 2);
        let hits = Arc::new(AtomicU32::new(0));
        // Member 0 serves; it deleted and re-created member 1's Recipient
        // Context, so its replay window for member 1 is invalid (RFC 10021
        // section 2.6.1.2).
        let mut security = group.security(0, &[]);
        security.remove_members(&[group.members[1].sender_id.clone()]);
        security.add_member(group.member_entry(1)).unwrap();
        let table = OscoreContexts::<String>::new();
        table.add_group(&l("g"), GroupMember::new(security));
        let tap = Arc::new(MemorySink::new());
        let server = server_with(
            &table,
            router(hits.clone()).into_handler(),
            config().tap(tap.clone()),
        )
        .await;

        let client_table = OscoreContexts::<String>::new();
        client_table.add_group(&l("g"), group.member(1));
        let client = OscoreClient::new(client_endpoint().await, client_table);
        let reply = client
            .group_unicast(
                server.local_addr(),
                &l("g"),
                Request::post("/actuate").with_payload("grp"),
                RequestMode::Group,
            )
            .await
            .unwrap();
        assert_eq!(reply.response.code, Code::CHANGED);
        assert_eq!(reply.response.payload, b"grp");
        assert_eq!(reply.kid, group.members[0].sender_id);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // The group-mode request (Group Flag set) was challenged; the
        // repetition with Echo went in pairwise mode (flag clear).
        let flags: Vec<u8> = messages(&tap, Direction::In)
            .iter()
            .map(|m| m.options.get(number::OSCORE).unwrap()[0] & 0x20)
            .collect();
        assert_eq!(flags, vec![0x20, 0]);
    })
    .await;
}
