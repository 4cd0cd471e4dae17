//! The service's endpoint options: tap sinks see the KDC's traffic, fault
//! injection drops its datagrams, and the inner layer sees each protected
//! exchange as decrypted, so that a capture's protected messages can be
//! labelled with their inner method, path and response code.

#![allow(clippy::unwrap_used)]

mod support;

use ace_coap::fault::{DropPolicy, FaultConfig};
use ace_coap::handler::{Layer, Middleware, SharedHandler};
use ace_coap::tap::{Direction, MemorySink, OwnedRecord};
use ace_coap::wire;
use ace_coap::{Request, Response};
use ace_kdc::service::InnerTrace;
use ace_proto::code::Code;
use ace_proto::roles::group_oscore::REQUESTER;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::ClientKeys;
use support::service::ServiceHarness;

/// (requester, token, inner method and path, inner response code) of each
/// protected exchange, as a scenario runner records them.
type Labels = Arc<Mutex<Vec<(SocketAddr, Vec<u8>, String, Code)>>>;

struct Recorder(Labels);

impl Layer for Recorder {
    fn layer(&self, inner: SharedHandler) -> SharedHandler {
        let labels = self.0.clone();
        Middleware::wrap(inner, move |request: Request, next: SharedHandler| {
            let labels = labels.clone();
            async move {
                let protected = request.security.is_some();
                let key = (
                    request.peer,
                    request.meta.token.as_bytes().to_vec(),
                    format!("{} /{}", request.method.as_str(), request.path.join("/")),
                );
                let response = next.call(request).await;
                if protected {
                    labels
                        .lock()
                        .unwrap()
                        .push((key.0, key.1, key.2, response.code));
                }
                response
            }
        })
    }
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn decoded(records: &[OwnedRecord], direction: Direction) -> Vec<(SocketAddr, wire::Message)> {
    records
        .iter()
        .filter(|r| r.direction == direction)
        .map(|r| (r.peer, wire::decode(&r.bytes).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taps_faults_and_the_inner_layer_see_the_kdc_traffic() {
    let tap = Arc::new(MemorySink::new());
    let labels: Labels = Arc::default();
    let trace = Buffer::default();
    // The KDC drops the first datagram it would send: the answer to the
    // token POST. The client retransmits; the KDC answers the duplicate
    // from its cache.
    let faults = FaultConfig {
        send: DropPolicy::List(vec![1]),
        receive: DropPolicy::None,
        seed: 1,
    };
    let h = {
        let (tap, labels, trace) = (tap.clone(), labels.clone(), trace.clone());
        ServiceHarness::start_tuned(support::GROUPS, move |o| {
            o.tap(tap)
                .faults(faults)
                .inner_layer(Arc::new(Recorder(labels)))
                // Two inner layers compose: the outer one sees the same.
                .inner_layer(Arc::new(InnerTrace::new(Box::new(trace))))
        })
        .await
    };
    let c = h.client().await;
    let client = c.endpoint.local_addr();
    let m = tokio::time::timeout(
        Duration::from_secs(20),
        c.member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            h.now() + 3600,
        ),
    )
    .await
    .unwrap();
    let (r, _) = c.join(&m, "g1", REQUESTER, None, false).await;
    assert_eq!(r.code, Code::CREATED);
    let r = c.get(&m, "/ace-group/g1/num").await;
    assert_eq!(r.code, Code::CONTENT);

    let records = tap.records();
    let received = decoded(&records, Direction::In);
    let sent = decoded(&records, Direction::Out);
    // The token POST arrived twice (the retransmission of an unanswered
    // CON, same Message ID) and was answered once on the wire.
    let token_posts: Vec<&wire::Message> = received
        .iter()
        .filter(|(_, m)| {
            m.options
                .iter()
                .any(|(n, v)| n == ace_coap::option::number::URI_PATH && v == b"authz-info")
        })
        .map(|(_, m)| m)
        .collect();
    assert_eq!(token_posts.len(), 2, "{received:?}");
    assert_eq!(token_posts[0].mid, token_posts[1].mid);
    let answers = sent
        .iter()
        .filter(|(peer, m)| *peer == client && m.token == token_posts[0].token)
        .count();
    assert_eq!(answers, 1);

    // The protected join on the wire: an outer POST with an OSCORE option
    // and no Uri-Path; the inner layer saw POST /ace-group/g1 answered
    // with 2.01 under the same requester and token.
    let protected: Vec<&wire::Message> = received
        .iter()
        .filter(|(peer, m)| *peer == client && m.options.contains(ace_coap::option::number::OSCORE))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(protected.len(), 2, "the join and the GET");
    assert!(
        protected
            .iter()
            .all(|m| !m.options.contains(ace_coap::option::number::URI_PATH))
    );
    let labels = labels.lock().unwrap().clone();
    assert_eq!(
        labels
            .iter()
            .map(|(peer, token, label, code)| (*peer, token.clone(), label.clone(), *code))
            .collect::<Vec<_>>(),
        vec![
            (
                client,
                protected[0].token.as_bytes().to_vec(),
                "POST /ace-group/g1".to_string(),
                Code::CREATED
            ),
            (
                client,
                protected[1].token.as_bytes().to_vec(),
                "GET /ace-group/g1/num".to_string(),
                Code::CONTENT
            ),
        ]
    );
    // The outer responses to them are 2.04 Changed (RFC 8613 section
    // 4.2): the inner code is only in the labels.
    for m in &protected {
        let answer = sent
            .iter()
            .find(|(peer, r)| *peer == client && r.token == m.token && r.code != 0)
            .unwrap();
        assert_eq!(answer.1.code, Code::CHANGED.0);
    }
    let text = String::from_utf8(trace.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text,
        format!(
            "inner {client} token={} POST /ace-group/g1 -> 2.01\n\
             inner {client} token={} GET /ace-group/g1/num -> 2.05\n",
            protected[0].token, protected[1].token
        )
    );
    h.service.shutdown().await;
}

#[test]
fn inner_trace_skips_unprotected_requests_and_marks_notifications() {
    let mut request = Request::get("/ace-group/g1");
    request.peer = "127.0.0.1:5000".parse().unwrap();
    let response = Response::content(Vec::new());
    assert_eq!(InnerTrace::line(&request, &response), None);
    request.security = Some(ace_coap::SecurityIdentity::new(ace_kdc::ChannelId(vec![1])));
    assert_eq!(
        InnerTrace::line(&request, &response).unwrap(),
        "inner 127.0.0.1:5000 token=- GET /ace-group/g1 -> 2.05\n"
    );
    request.meta.token = ace_coap::wire::Token::new(&[0xab, 0x01]).unwrap();
    request.meta.origin = ace_coap::request::Origin::Notification { response: None };
    assert_eq!(
        InnerTrace::line(&request, &response).unwrap(),
        "inner-notification 127.0.0.1:5000 token=ab01 GET /ace-group/g1 -> 2.05\n"
    );
}
