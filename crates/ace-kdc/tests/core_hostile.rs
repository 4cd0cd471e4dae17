//! Hostile requests against the sans-I/O core, generated. Any method on any
//! KDC resource, with any Content-Format and payload, from any caller. The
//! payload is random bytes, or a valid RFC 9594 body with bytes flipped,
//! cut or appended. The callers are a member, a non-member with a token, a
//! plain CoAP client and an unknown channel. The core must not panic and
//! must never answer 5.00. A refused request (4.xx, 5.xx) must change
//! nothing stored or shown. Afterwards the member is still served.
//!
//! The hand-written cases of each error class are in `core_join.rs`,
//! `core_members.rs`, `core_authz.rs` and `service_matrix.rs`; this file
//! looks for the inputs nobody thought of.

#![allow(clippy::unwrap_used)]

mod support;

use ace_kdc::{Caller, ChannelId, KdcRequest, Method};
use ace_proto::Codec;
use ace_proto::authz_info::TokenTransferRequest;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{CredsFilter, FetchCredsRequest, GetCreds, GroupId, GroupNamesRequest};
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use proptest::prelude::*;
use support::core_client::Harness;
use support::{ClientKeys, GROUPS, Proof, join_request};

/// A KDC with one member of g1 (requester and responder) and one client with a token
/// for g1 that has not joined.
struct World {
    h: Harness,
    member: Caller,
    node: String,
    outsider: Caller,
    /// A valid join request of the outsider (signed over its challenge).
    join_body: Vec<u8>,
}

fn world() -> World {
    let h = Harness::memory(GROUPS);
    let member = h.joined("g1", REQUESTER | RESPONDER, None);
    let other = ClientKeys::ed25519();
    let (outsider, o_ns) = h.client(&other, &[("g1", REQUESTER)]);
    let join_body =
        join_request("g1", REQUESTER, &o_ns, Proof::Signature(&other), None, None).encode();
    World {
        h,
        member: member.caller,
        node: member.node,
        outsider,
        join_body,
    }
}

const METHODS: [Method; 7] = [
    Method::Get,
    Method::Post,
    Method::Put,
    Method::Delete,
    Method::Fetch,
    Method::Patch,
    Method::IPatch,
];

/// Every resource of the KDC and a few that do not exist; `NODE` is the
/// member's node name.
const PATHS: [&str; 20] = [
    "/authz-info",
    "/.well-known/core",
    "/.well-known/core?if=ace.group",
    "/ace-group",
    "/ace-group/g1",
    "/ace-group/g1/creds",
    "/ace-group/g1/creds?x=1",
    "/ace-group/g1/kdc-cred",
    "/ace-group/g1/verif-data",
    "/ace-group/g1/policies",
    "/ace-group/g1/num",
    "/ace-group/g1/active",
    "/ace-group/g1/stale-sids",
    "/ace-group/g1/nodes/NODE",
    "/ace-group/g1/nodes/NODE/cred",
    "/ace-group/g1/nodes/other",
    "/ace-group/g2",
    "/ace-group/nosuch/num",
    "/ace-group/g1/nodes/NODE/cred/extra",
    "/ace-group//g1",
];

const FORMATS: [Option<u16>; 6] = [
    None,
    Some(cf::ACE_CBOR),
    Some(cf::ACE_GROUPCOMM_CBOR),
    Some(60),
    Some(0),
    Some(65_000),
];

/// Well-formed bodies of the interface, to mutate: the outsider's valid
/// Join Request, a Token Transfer Request (its token a bare COSE_Sign1
/// shell), a get_creds filter, a gid list, and two minimal CBOR items.
fn bodies(w: &World) -> Vec<Vec<u8>> {
    let token_transfer = TokenTransferRequest {
        access_token: vec![0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0x40, 0x40],
        nonce1: Some(vec![1; 8]),
        ace_client_recipientid: Some(vec![0x42]),
        sign_info: true,
        ..TokenTransferRequest::default()
    };
    let creds = FetchCredsRequest {
        get_creds: GetCreds::Filter(CredsFilter {
            inclusion_flag: true,
            role_filter: vec![Roles::Aif(REQUESTER)],
            id_filter: vec![vec![0]],
        }),
    };
    vec![
        w.join_body.clone(),
        token_transfer.encode(),
        creds.encode(),
        GroupNamesRequest {
            gid: vec![GroupId::Bytes(vec![1, 2, 3])],
        }
        .encode(),
        vec![0x01],
        vec![0xa0],
    ]
}

/// A body with mutations: (position, xor) flips, then a cut or an append.
fn mutate(body: &[u8], flips: &[(usize, u8)], cut: Option<usize>, append: &[u8]) -> Vec<u8> {
    let mut d = body.to_vec();
    for &(at, x) in flips {
        if !d.is_empty() {
            let i = at % d.len();
            d[i] ^= x;
        }
    }
    if let Some(c) = cut {
        d.truncate(c % (d.len() + 1));
    }
    d.extend_from_slice(append);
    d
}

/// One generated request: (method, path, format, caller, body choice).
type Pick = (usize, usize, usize, usize, Body);

#[derive(Debug, Clone)]
enum Body {
    Random(Vec<u8>),
    Mutated {
        which: usize,
        flips: Vec<(usize, u8)>,
        cut: Option<usize>,
        append: Vec<u8>,
    },
}

fn body_strategy() -> impl Strategy<Value = Body> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Body::Random),
        (
            any::<usize>(),
            prop::collection::vec((any::<usize>(), 1u8..=255), 0..4),
            prop::option::of(any::<usize>()),
            prop::collection::vec(any::<u8>(), 0..4),
        )
            .prop_map(|(which, flips, cut, append)| Body::Mutated {
                which,
                flips,
                cut,
                append
            }),
    ]
}

fn run(picks: &[Pick]) {
    let w = world();
    let bodies = bodies(&w);
    let unknown = Caller::Channel(ChannelId(vec![0x99, 0x99]));
    let callers = [
        w.member.clone(),
        w.outsider.clone(),
        Caller::Unauthenticated,
        unknown,
    ];
    for (m, p, f, c, body) in picks {
        let method = METHODS[m % METHODS.len()];
        let path = PATHS[p % PATHS.len()].replace("NODE", &w.node);
        let payload = match body {
            Body::Random(b) => b.clone(),
            Body::Mutated {
                which,
                flips,
                cut,
                append,
            } => mutate(&bodies[which % bodies.len()], flips, *cut, append),
        };
        let mut req = KdcRequest::new(method, &path);
        req.content_format = FORMATS[f % FORMATS.len()];
        req.payload = payload;
        let caller = &callers[c % callers.len()];
        let before = w.h.fingerprint();
        let out = w.h.request(caller, req.clone());
        let code = out.response.code;
        assert_ne!(
            code,
            Code::INTERNAL_SERVER_ERROR,
            "5.00 for {method:?} {path} from {caller:?}: {req:?}"
        );
        if !code.is_success() {
            assert_eq!(
                before,
                w.h.fingerprint(),
                "refused {method:?} {path} ({code:?}) from {caller:?} changed state"
            );
        }
    }
    // The member is still served (it may have left or renewed its
    // credential above, but its channel and the group remain).
    let num = w.h.get(&w.member, "/ace-group/g1/num");
    assert!(
        num.response.code.is_success() || num.response.code == Code::FORBIDDEN,
        "member read of num after the storm: {:?}",
        num.response.code
    );
    let discovery = w.h.get(&Caller::Unauthenticated, "/.well-known/core");
    assert_eq!(discovery.response.code, Code::CONTENT);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn hostile_requests_never_panic_and_refusals_change_nothing(
        picks in prop::collection::vec(
            (any::<usize>(), any::<usize>(), any::<usize>(), any::<usize>(), body_strategy()),
            1..24,
        )
    ) {
        run(&picks);
    }
}

/// The unmutated join body of the outsider is valid: the generator starts
/// from requests that pass every check up to the one a mutation breaks.
#[test]
fn the_valid_join_body_joins() {
    let w = world();
    let out = w.h.send(
        &w.outsider,
        Method::Post,
        "/ace-group/g1",
        cf::ACE_GROUPCOMM_CBOR,
        w.join_body.clone(),
    );
    assert_eq!(out.response.code, Code::CREATED);
}
