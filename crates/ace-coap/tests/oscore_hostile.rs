//! Tampered OSCORE and Group OSCORE requests against the server layer,
//! generated. A protected request (OSCORE, Group OSCORE group mode with its
//! countersignature, or pairwise mode) has bytes flipped in its OSCORE
//! option or its ciphertext, or either cut short. Every such copy must be
//! refused unprotected with a 4.xx (RFC 8613 section 8.2, RFC 10021
//! sections 7.2 and 8.4), must never reach the handler and must not touch
//! the replay window: the untouched original, sent afterwards, is still
//! accepted exactly once. Group OSCORE may refuse by silence instead, where
//! RFC 10021 lets a server stop processing without answering.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod oscore_support;

use ace_coap::option::number;
use ace_coap::oscore::{GroupMember, OscoreContexts, OscoreServerLayer, RequestMode, convert};
use ace_coap::{Layer, Method, Request, Response, Router, codes};
use ace_proto::keys::SignatureAlgorithm;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use coap_lite::{CoapOption, Packet};
use oscore_support::{TestGroup, pair, request_packet};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where a tampering applies.
#[derive(Debug, Clone)]
enum Tamper {
    /// XOR a byte of the OSCORE option value.
    OptionFlip(usize, u8),
    /// XOR a byte of the payload (ciphertext and tag).
    PayloadFlip(usize, u8),
    /// Cut the OSCORE option value.
    OptionCut(usize),
    /// Cut the payload.
    PayloadCut(usize),
}

fn tamper_strategy() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Tamper::OptionFlip(i, x)),
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Tamper::PayloadFlip(i, x)),
        any::<usize>().prop_map(Tamper::OptionCut),
        any::<usize>().prop_map(Tamper::PayloadCut),
    ]
}

fn oscore_value(p: &Packet) -> Vec<u8> {
    p.get_option(CoapOption::Oscore)
        .and_then(|l| l.front().cloned())
        .unwrap_or_default()
}

/// Applies `tampers`; `None` when they leave the packet as it was (a cut
/// at the full length).
fn tampered(original: &Packet, tampers: &[Tamper]) -> Option<Packet> {
    let mut p = original.clone();
    let mut option = oscore_value(&p);
    for t in tampers {
        match *t {
            Tamper::OptionFlip(i, x) if !option.is_empty() => {
                let n = option.len();
                option[i % n] ^= x;
            }
            Tamper::PayloadFlip(i, x) if !p.payload.is_empty() => {
                let n = p.payload.len();
                p.payload[i % n] ^= x;
            }
            Tamper::OptionCut(at) => option.truncate(at % (option.len() + 1)),
            Tamper::PayloadCut(at) => {
                let n = p.payload.len();
                p.payload.truncate(at % (n + 1));
            }
            _ => {}
        }
    }
    p.clear_option(CoapOption::Oscore);
    p.add_option(CoapOption::Oscore, option.clone());
    let same = option == oscore_value(original) && p.payload == original.payload;
    (!same).then_some(p)
}

fn as_request(p: &Packet) -> Request {
    let mut template = Request::new(Method::Post, "/");
    template.peer = "192.0.2.7:5683".parse().unwrap();
    convert::outer_request(p, &template)
}

/// The protection under test.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// RFC 8613 OSCORE between two endpoints.
    Oscore,
    /// Group OSCORE, group mode (signed).
    GroupMode,
    /// Group OSCORE, pairwise mode.
    Pairwise,
}

/// `POST /act`, counting its calls in `hits`.
fn counting_router(hits: Arc<AtomicU32>) -> Router {
    Router::new().post("/act", move |_req: Request| {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            Response::changed()
        }
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn run(setup: Setup, copies: &[Vec<Tamper>]) {
    block_on(async {
        let hits = Arc::new(AtomicU32::new(0));
        let router = counting_router(hits.clone());
        let table = OscoreContexts::<String>::new();
        let request = request_packet(0x02, "/act", b"payload");
        let original = match setup {
            Setup::Oscore => {
                let (server_ctx, mut client_ctx) = pair(b"\x0c", b"\x01");
                table.install(&"client".to_string(), server_ctx);
                client_ctx.protect_request(&request).unwrap().0
            }
            Setup::GroupMode | Setup::Pairwise => {
                let group = TestGroup::new(SignatureAlgorithm::EdDsa, 2);
                let roles = [Some(RESPONDER), Some(REQUESTER)];
                table.add_group(
                    &"g".to_string(),
                    GroupMember::new(group.security(0, &roles)),
                );
                let mode = match setup {
                    Setup::GroupMode => RequestMode::Group,
                    _ => RequestMode::Pairwise(group.members[0].sender_id.clone()),
                };
                let mut requester = group.security(1, &roles);
                requester.protect_request(&request, &mode).unwrap().0
            }
        };
        let handler = OscoreServerLayer::new(table.clone()).layer(router.into_handler());

        for tampers in copies {
            let Some(copy) = tampered(&original, tampers) else {
                continue;
            };
            let response = handler.call(as_request(&copy)).await;
            let code = response.code;
            // Group OSCORE may also stop without a word (RFC 10021 section
            // 8.4: a 'kid' the group does not know, or the server's own).
            let silent = response.silent && code == codes::EMPTY;
            let group = !matches!(setup, Setup::Oscore);
            assert!(
                code.class() == 4 || (group && silent),
                "tampering {tampers:?} answered {code:?}"
            );
            assert!(
                !response.options.contains(number::OSCORE),
                "an OSCORE error is unprotected"
            );
            assert_eq!(
                hits.load(Ordering::SeqCst),
                0,
                "{tampers:?} reached the handler"
            );
        }
        let response = handler.call(as_request(&original)).await;
        assert!(
            response.options.contains(number::OSCORE),
            "the original is still accepted after {copies:?}: {:?}",
            response.code
        );
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // And only once: the window now holds its Partial IV.
        let replay = handler.call(as_request(&original)).await;
        assert_eq!(replay.code.class(), 4);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tampered_oscore_requests_are_refused_and_leave_the_replay_window_alone(
        copies in prop::collection::vec(prop::collection::vec(tamper_strategy(), 1..4), 1..6)
    ) {
        run(Setup::Oscore, &copies);
    }

    #[test]
    fn tampered_group_mode_requests_are_refused_and_leave_the_replay_window_alone(
        copies in prop::collection::vec(prop::collection::vec(tamper_strategy(), 1..4), 1..6)
    ) {
        run(Setup::GroupMode, &copies);
    }

    #[test]
    fn tampered_pairwise_requests_are_refused_and_leave_the_replay_window_alone(
        copies in prop::collection::vec(prop::collection::vec(tamper_strategy(), 1..4), 1..6)
    ) {
        run(Setup::Pairwise, &copies);
    }
}

/// A group-mode request whose 'kid' is the server's own Sender ID (here:
/// the server's own keys used by someone else) is not processed (RFC 10021
/// section 8.4): no handler call and no answer; a real member's request is
/// served afterwards.
#[test]
fn a_request_under_the_servers_own_sender_id_is_ignored() {
    block_on(async {
        let hits = Arc::new(AtomicU32::new(0));
        let router = counting_router(hits.clone());
        let group = TestGroup::new(SignatureAlgorithm::EdDsa, 2);
        let roles = [Some(REQUESTER | RESPONDER), Some(REQUESTER)];
        let table = OscoreContexts::<String>::new();
        table.add_group(
            &"g".to_string(),
            GroupMember::new(group.security(0, &roles)),
        );
        let handler = OscoreServerLayer::new(table.clone()).layer(router.into_handler());
        let request = request_packet(0x02, "/act", b"payload");
        let (own, _) = group
            .security(0, &roles)
            .protect_request(&request, &RequestMode::Group)
            .unwrap();
        let response = handler.call(as_request(&own)).await;
        assert!(response.silent, "answered {:?}", response.code);
        assert_eq!(response.code, codes::EMPTY);
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        // A real member's request is served.
        let (theirs, _) = group
            .security(1, &roles)
            .protect_request(&request, &RequestMode::Group)
            .unwrap();
        let response = handler.call(as_request(&theirs)).await;
        assert!(response.options.contains(number::OSCORE));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    });
}
