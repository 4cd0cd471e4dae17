//! Refusals over the network, as RFC 8613 section 8.2 and RFC 10021
//! sections 7.2 and 8.4 prescribe, each followed by a valid request that
//! the same endpoint still serves: replayed, tampered, unknown-kid and
//! undecodable OSCORE requests; wrong-Gid, forged-signature, replayed and
//! wrong-role Group OSCORE requests; a Monitor that processes group
//! requests and never answers; a tampered response refused by the client
//! with a typed error.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod oscore_support;

use ace_coap::option::number;
use ace_coap::oscore::{self, ClientError, GroupMember, OscoreClient, OscoreContexts, RequestMode};
use ace_coap::{Code, Request, Response, Router};
use ace_proto::keys::SignatureAlgorithm;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use group_oscore::UnprotectError;
use group_oscore::group::OwnIdentity;
use oscore_support::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);
/// How long to listen to make sure nothing more comes (loopback answers
/// within milliseconds).
const QUIET: Duration = Duration::from_millis(300);

fn counting_router(hits: Arc<AtomicU32>) -> Router {
    Router::new().post("/act", move |req: Request| {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            let who = oscore::label::<String>(&req).cloned().unwrap_or_default();
            Response::changed()
                .with_payload(format!("{who}:{}", String::from_utf8_lossy(&req.payload)))
        }
    })
}

fn l(s: &str) -> String {
    s.to_string()
}

/// Unprotected OSCORE error with its diagnostic and Outer Max-Age 0.
fn assert_refusal(m: &ace_coap::wire::Message, code: Code, diag: &str) {
    assert_eq!(Code(m.code), code, "{}", diagnostic(m));
    assert!(
        !m.options.contains(number::OSCORE),
        "an OSCORE error is unprotected"
    );
    assert_eq!(m.options.get_uint(number::MAX_AGE), Some(0));
    assert_eq!(diagnostic(m), diag);
}

#[tokio::test]
async fn oscore_refusals_and_the_server_keeps_serving() {
    bounded(async {
        let hits = Arc::new(AtomicU32::new(0));
        let table = OscoreContexts::<String>::new();
        let (srv, _) = pair(b"\x0c", b"\x01");
        table.install(&l("client-c"), srv);
        let server = server(&table, counting_router(hits.clone()).into_handler()).await;
        let addr = server.local_addr();
        let (_, mut attacker_ctx) = pair(b"\x0c", b"\x01");
        let mut raw = Raw::new().await;

        // A valid request, then the same protected bytes again (new
        // Message ID, so not a CoAP duplicate): 4.01 "Replay detected".
        let (outer, _) = attacker_ctx
            .protect_request(&request_packet(0x02, "/act", b"once"))
            .unwrap();
        let ok = raw.exchange(addr, &outer, WAIT).await.unwrap();
        assert_eq!(Code(ok.code), Code::CHANGED);
        assert!(ok.options.contains(number::OSCORE));
        let replay = raw.exchange(addr, &outer, WAIT).await.unwrap();
        assert_refusal(&replay, Code::UNAUTHORIZED, "Replay detected");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "the replay reached no handler"
        );

        // Tampered ciphertext: 4.00 "Decryption failed".
        let (mut outer, _) = attacker_ctx
            .protect_request(&request_packet(0x02, "/act", b"x"))
            .unwrap();
        let last = outer.payload.len() - 1;
        outer.payload[last] ^= 0x01;
        let m = raw.exchange(addr, &outer, WAIT).await.unwrap();
        assert_refusal(&m, Code::BAD_REQUEST, "Decryption failed");

        // Unknown 'kid': 4.01 "Security context not found".
        let (_, mut stranger) = pair(b"\x0d", b"\x01");
        let (outer, _) = stranger
            .protect_request(&request_packet(0x02, "/act", b"x"))
            .unwrap();
        let m = raw.exchange(addr, &outer, WAIT).await.unwrap();
        assert_refusal(&m, Code::UNAUTHORIZED, "Security context not found");

        // An OSCORE option with reserved bits set: 4.02 "Failed to decode
        // COSE".
        let mut bad = request_packet(0x02, "", b"\x01\x02\x03\x04\x05\x06\x07\x08\x09");
        bad.add_option(coap_lite::CoapOption::Oscore, vec![0x80 | 0x01, 0x05]);
        let m = raw.exchange(addr, &bad, WAIT).await.unwrap();
        assert_refusal(&m, Code::BAD_OPTION, "Failed to decode COSE");

        // The same context still works, through the real client.
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let client_table = OscoreContexts::<String>::new();
        let (_, c) = pair(b"\x0c", b"\x01");
        // The client's Sender Sequence Number must be past the attacker's
        // (same keys): skip ahead.
        let c = c.with_sequence(group_oscore::SenderSequence::resume(
            100,
            Box::new(group_oscore::Volatile),
            10,
        ));
        client_table.install(&l("server"), c);
        let client = OscoreClient::new(client_endpoint().await, client_table);
        let r = client
            .request(
                addr,
                &l("server"),
                Request::post("/act").with_payload("after"),
            )
            .await
            .unwrap();
        assert_eq!(r.payload, b"client-c:after");
    })
    .await;
}

#[tokio::test]
async fn tampered_responses_are_refused_by_the_client_with_a_typed_error() {
    bounded(async {
        // A fake server answering every request with a "protected" 2.04
        // whose ciphertext does not verify.
        let fake = tokio::net::UdpSocket::bind(loopback()).await.unwrap();
        let addr = fake.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, from)) = fake.recv_from(&mut buf).await {
                let Ok(req) = ace_coap::wire::decode(&buf[..n]) else {
                    continue;
                };
                let mut options = ace_coap::Options::new();
                options.push(number::OSCORE, Vec::<u8>::new());
                let resp = ace_coap::wire::Message {
                    mtype: ace_coap::wire::MessageType::Ack,
                    code: Code::CHANGED.0,
                    mid: req.mid,
                    token: req.token,
                    options,
                    payload: vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6],
                };
                let bytes = ace_coap::wire::encode(&resp, 1152).unwrap();
                let _ = fake.send_to(&bytes, from).await;
            }
        });
        let table = OscoreContexts::<String>::new();
        let (_, c) = pair(b"\x0e", b"\x01");
        table.install(&l("server"), c);
        let client = OscoreClient::new(client_endpoint().await, table);
        let err = client
            .request(addr, &l("server"), Request::get("/x"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Unprotect(UnprotectError::DecryptionFailed)
            ),
            "{err}"
        );
    })
    .await;
}

/// Member 0 is the server under test; members 1 and 2 send.
struct GroupServer {
    group: TestGroup,
    hits: Arc<AtomicU32>,
    addr: std::net::SocketAddr,
    _server: ace_coap::CoapEndpoint,
}

async fn group_server(alg: SignatureAlgorithm, roles: &[Option<u64>]) -> GroupServer {
    let group = TestGroup::new(alg, 3);
    let hits = Arc::new(AtomicU32::new(0));
    let table = OscoreContexts::<String>::new();
    table.add_group(&l("g"), GroupMember::new(group.security(0, roles)));
    let server = server(&table, counting_router(hits.clone()).into_handler()).await;
    GroupServer {
        addr: server.local_addr(),
        group,
        hits,
        _server: server,
    }
}

#[tokio::test]
async fn group_refusals_and_the_member_keeps_serving() {
    bounded(async {
        let roles = [None, Some(REQUESTER | RESPONDER), Some(RESPONDER)];
        let g = group_server(SignatureAlgorithm::EdDsa, &roles).await;
        let mut raw = Raw::new().await;
        let mut requester = g.group.security(1, &[]);
        let req = request_packet(0x02, "/act", b"g");

        // Valid group-mode request by unicast, then its replay.
        let (outer, _) = requester
            .protect_request(&req, &RequestMode::Group)
            .unwrap();
        let ok = raw.exchange(g.addr, &outer, WAIT).await.unwrap();
        assert_eq!(Code(ok.code), Code::CHANGED);
        let replay = raw.exchange(g.addr, &outer, WAIT).await.unwrap();
        assert_refusal(&replay, Code::UNAUTHORIZED, "Replay detected");

        // Forged countersignature (the last bytes of a group-mode payload):
        // 4.00 "Decryption failed" (RFC 10021 section 7.2).
        let (mut outer, _) = requester
            .protect_request(&req, &RequestMode::Group)
            .unwrap();
        let last = outer.payload.len() - 1;
        outer.payload[last] ^= 0x80;
        let m = raw.exchange(g.addr, &outer, WAIT).await.unwrap();
        assert_refusal(&m, Code::BAD_REQUEST, "Decryption failed");

        // Wrong Gid: another group's keying material, 4.01.
        let mut other = TestGroup::new(SignatureAlgorithm::EdDsa, 2);
        other.members[1] = Identity {
            sender_id: g.group.members[1].sender_id.clone(),
            key: g.group.members[1].key.clone(),
            credential: g.group.members[1].credential.clone(),
        };
        let (outer, _) = other
            .security(1, &[])
            .protect_request(&req, &RequestMode::Group)
            .unwrap();
        let m = raw.exchange(g.addr, &outer, WAIT).await.unwrap();
        assert_refusal(&m, Code::UNAUTHORIZED, "Security context not found");

        // Wrong role: member 2 is a Responder only, its requests are
        // ignored (RFC 10021 section 7): no response at all, only the empty
        // ACK that stops the retransmissions of a CON.
        let (outer, _) = g
            .group
            .security(2, &[])
            .protect_request(&req, &RequestMode::Group)
            .unwrap();
        let mid = raw.send(g.addr, &outer, true, None).await;
        let got = raw.collect(QUIET).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(is_empty_ack(&got[0], mid), "{:?}", got[0]);
        assert_eq!(g.hits.load(Ordering::SeqCst), 1);

        // Still serving, in pairwise mode too.
        let (outer, _) = requester
            .protect_request(
                &req,
                &RequestMode::Pairwise(g.group.members[0].sender_id.clone()),
            )
            .unwrap();
        let ok = raw.exchange(g.addr, &outer, WAIT).await.unwrap();
        assert_eq!(Code(ok.code), Code::CHANGED);
        assert_eq!(g.hits.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test]
async fn group_refusals_with_es256() {
    bounded(async {
        let g = group_server(SignatureAlgorithm::Es256, &[]).await;
        let mut raw = Raw::new().await;
        let mut requester = g.group.security(1, &[]);
        let req = request_packet(0x02, "/act", b"es");
        let (mut outer, _) = requester
            .protect_request(&req, &RequestMode::Group)
            .unwrap();
        let i = outer.payload.len() - 10;
        outer.payload[i] ^= 0x04;
        let m = raw.exchange(g.addr, &outer, WAIT).await.unwrap();
        assert_refusal(&m, Code::BAD_REQUEST, "Decryption failed");
        let (outer, _) = requester
            .protect_request(&req, &RequestMode::Group)
            .unwrap();
        let ok = raw.exchange(g.addr, &outer, WAIT).await.unwrap();
        assert_eq!(Code(ok.code), Code::CHANGED);
    })
    .await;
}

#[tokio::test]
async fn a_monitor_processes_requests_and_never_answers_them_protected() {
    bounded(async {
        let group = TestGroup::new(SignatureAlgorithm::EdDsa, 2);
        let hits = Arc::new(AtomicU32::new(0));
        let table = OscoreContexts::<String>::new();
        let monitor = group_oscore::group::GroupSecurity::new(
            group.params(),
            OwnIdentity::monitor(),
            [group.member_entry(1)],
        )
        .unwrap();
        table.add_group(&l("g"), GroupMember::new(monitor));
        let server = server(&table, counting_router(hits.clone()).into_handler()).await;
        let mut raw = Raw::new().await;
        let mut requester = group.security(1, &[]);
        let (outer, _) = requester
            .protect_request(&request_packet(0x02, "/act", b"m"), &RequestMode::Group)
            .unwrap();
        // A CON by unicast: the Monitor processes it and sends nothing but
        // the empty ACK that ends the client's retransmissions (RFC 10021
        // section 2.2: a Monitor never sends protected messages).
        let mid = raw.send(server.local_addr(), &outer, true, None).await;
        let got = raw.collect(QUIET).await;
        assert_eq!(hits.load(Ordering::SeqCst), 1, "the monitor processed it");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(is_empty_ack(&got[0], mid), "{:?}", got[0]);
        // A retransmission gets the same empty ACK and is not processed
        // again.
        raw.send(server.local_addr(), &outer, true, Some(mid)).await;
        let got = raw.collect(QUIET).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(is_empty_ack(&got[0], mid));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // A NON gets nothing at all.
        let (outer, _) = requester
            .protect_request(&request_packet(0x02, "/act", b"n"), &RequestMode::Group)
            .unwrap();
        raw.send(server.local_addr(), &outer, false, None).await;
        let got = raw.collect(QUIET).await;
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 2, "the monitor processed it");
    })
    .await;
}

#[tokio::test]
async fn requests_with_our_own_sender_id_are_not_processed() {
    bounded(async {
        let g = group_server(SignatureAlgorithm::EdDsa, &[]).await;
        let mut raw = Raw::new().await;
        // A request carrying the server's own Sender ID is not processed.
        let mut twin = g.group.security(0, &[]);
        let (outer, _) = twin
            .protect_request(&request_packet(0x02, "/act", b"t"), &RequestMode::Group)
            .unwrap();
        let mid = raw.send(g.addr, &outer, true, None).await;
        let got = raw.collect(QUIET).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(is_empty_ack(&got[0], mid), "{:?}", got[0]);
        assert_eq!(g.hits.load(Ordering::SeqCst), 0);
    })
    .await;
}

#[tokio::test]
async fn responses_from_non_responders_are_refused_by_the_client() {
    bounded(async {
        // Member 0 serves (it believes it may respond); the requester knows
        // it as a Requester only, so its responses are not delivered.
        let g = group_server(SignatureAlgorithm::EdDsa, &[]).await;
        let table = OscoreContexts::<String>::new();
        table.add_group(
            &l("g"),
            GroupMember::new(g.group.security(1, &[Some(REQUESTER), None, None])),
        );
        let client = OscoreClient::new(client_endpoint().await, table);
        let err = client
            .group_unicast(
                g.addr,
                &l("g"),
                Request::post("/act").with_payload("r"),
                RequestMode::Group,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Unprotect(UnprotectError::RoleNotAuthorized("response"))
            ),
            "{err}"
        );
        // The server did process the request; only its answer was refused.
        assert_eq!(g.hits.load(Ordering::SeqCst), 1);
    })
    .await;
}
