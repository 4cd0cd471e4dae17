//! Table-driven tests of `get_creds` selection (RFC 9594 sections 4.3.1 and
//! 4.4.1): both inclusion-flag values, single roles and role combinations,
//! id filters, empty filters, node identifiers of non-members, the Join and
//! FETCH shape rules, and the AIF role bitmaps of the Group OSCORE profile.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::groupcomm::{
    CredsContext, CredsFilter, CredsResponse, FetchCredsRequest, GetCreds, Member, OrNothing,
    PeerCredentials, select_creds,
};
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
use ace_proto::{Code, Codec};

fn member(id: u8, roles: Roles) -> Member {
    Member {
        node_id: vec![id],
        roles,
        credential: vec![0xc0, id],
    }
}

fn text(roles: &[&str]) -> Roles {
    Roles::Text(roles.iter().map(|r| r.to_string()).collect())
}

/// Members with textual roles, as in RFC 9594's examples (01 sender, 02
/// sender+receiver, 03 receiver) plus 04 monitor.
fn textual_members() -> Vec<Member> {
    vec![
        member(1, text(&["sender"])),
        member(2, text(&["sender", "receiver"])),
        member(3, text(&["receiver"])),
        member(4, text(&["monitor"])),
    ]
}

/// Members with Group OSCORE AIF roles.
fn aif_members() -> Vec<Member> {
    vec![
        member(1, Roles::Aif(REQUESTER)),
        member(2, Roles::Aif(RESPONDER)),
        member(3, Roles::Aif(REQUESTER | RESPONDER)),
        member(4, Roles::Aif(MONITOR)),
    ]
}

fn filter(flag: bool, roles: Vec<Roles>, ids: &[u8]) -> GetCreds {
    GetCreds::Filter(CredsFilter {
        inclusion_flag: flag,
        role_filter: roles,
        id_filter: ids.iter().map(|i| vec![*i]).collect(),
    })
}

/// `Ok(ids selected)` or `Err(())` for a 4.00.
type Expect = Result<&'static [u8], ()>;

fn run(members: &[Member], cases: &[(&str, GetCreds, CredsContext, Expect)]) {
    for (name, get_creds, context, expected) in cases {
        let got = select_creds(get_creds, *context, members);
        match (expected, got) {
            (Ok(ids), Ok(selected)) => {
                let got_ids: Vec<u8> = selected.iter().map(|m| m.node_id[0]).collect();
                assert_eq!(&got_ids[..], *ids, "{name}");
            }
            (Err(()), Err(e)) => assert_eq!(e.code(), Code::BAD_REQUEST, "{name}"),
            (expected, got) => panic!("{name}: expected {expected:?}, got {got:?}"),
        }
        // The same request survives the wire.
        assert_eq!(
            &GetCreds::decode(&get_creds.encode()).unwrap(),
            get_creds,
            "{name}"
        );
    }
}

#[test]
fn textual_roles() {
    use CredsContext::{Fetch, Join};
    let s = || text(&["sender"]);
    let r = || text(&["receiver"]);
    let sr = || text(&["sender", "receiver"]);
    let cases: Vec<(&str, GetCreds, CredsContext, Expect)> = vec![
        (
            "null in a join: everyone",
            GetCreds::All,
            Join,
            Ok(&[1, 2, 3, 4]),
        ),
        ("null in a FETCH: 4.00", GetCreds::All, Fetch, Err(())),
        ("one role", filter(true, vec![s()], &[]), Fetch, Ok(&[1, 2])),
        (
            "other role",
            filter(true, vec![r()], &[]),
            Fetch,
            Ok(&[2, 3]),
        ),
        (
            "combination = has all of them",
            filter(true, vec![sr()], &[]),
            Fetch,
            Ok(&[2]),
        ),
        (
            "two elements = any of them",
            filter(true, vec![s(), r()], &[]),
            Fetch,
            Ok(&[1, 2, 3]),
        ),
        (
            "role plus combination",
            filter(true, vec![text(&["monitor"]), sr()], &[]),
            Fetch,
            Ok(&[2, 4]),
        ),
        (
            "role nobody has",
            filter(true, vec![text(&["admin"])], &[]),
            Fetch,
            Ok(&[]),
        ),
        (
            "combination nobody has",
            filter(true, vec![text(&["sender", "monitor"])], &[]),
            Fetch,
            Ok(&[]),
        ),
        (
            "Figure 17: ids only, inclusive",
            filter(true, vec![], &[2, 3]),
            Fetch,
            Ok(&[2, 3]),
        ),
        (
            "inclusive: role match OR listed",
            filter(true, vec![s()], &[3]),
            Fetch,
            Ok(&[1, 2, 3]),
        ),
        (
            "exclusive, ids only: everyone not listed",
            filter(false, vec![], &[2]),
            Fetch,
            Ok(&[1, 3, 4]),
        ),
        (
            "exclusive: role match AND NOT listed",
            filter(false, vec![s()], &[2]),
            Fetch,
            Ok(&[1]),
        ),
        (
            "exclusive, roles only: nothing to exclude",
            filter(false, vec![r()], &[]),
            Fetch,
            Ok(&[2, 3]),
        ),
        (
            "exclusive, everyone listed",
            filter(false, vec![], &[1, 2, 3, 4]),
            Fetch,
            Ok(&[]),
        ),
        (
            "[true, [], []] on FETCH: 4.00",
            filter(true, vec![], &[]),
            Fetch,
            Err(()),
        ),
        (
            "[false, [], []] on FETCH: 4.00",
            filter(false, vec![], &[]),
            Fetch,
            Err(()),
        ),
        (
            "non-member id, inclusive: silently ignored",
            filter(true, vec![], &[9]),
            Fetch,
            Ok(&[]),
        ),
        (
            "non-member id among members",
            filter(true, vec![], &[9, 3]),
            Fetch,
            Ok(&[3]),
        ),
        (
            "non-member id, exclusive: excludes nobody",
            filter(false, vec![], &[9]),
            Fetch,
            Ok(&[1, 2, 3, 4]),
        ),
        (
            "join: inclusive by roles",
            filter(true, vec![s()], &[]),
            Join,
            Ok(&[1, 2]),
        ),
        (
            "join: flag false refused",
            filter(false, vec![s()], &[]),
            Join,
            Err(()),
        ),
        (
            "join: id filter refused",
            filter(true, vec![s()], &[1]),
            Join,
            Err(()),
        ),
        (
            "join: empty role filter refused",
            filter(true, vec![], &[]),
            Join,
            Err(()),
        ),
    ];
    run(&textual_members(), &cases);
}

#[test]
fn aif_role_bitmaps() {
    use CredsContext::{Fetch, Join};
    let cases: Vec<(&str, GetCreds, CredsContext, Expect)> = vec![
        (
            "Requester",
            filter(true, vec![Roles::Aif(REQUESTER)], &[]),
            Fetch,
            Ok(&[1, 3]),
        ),
        (
            "Requester+Responder bitmap = both roles",
            filter(true, vec![Roles::Aif(REQUESTER | RESPONDER)], &[]),
            Fetch,
            Ok(&[3]),
        ),
        (
            "Requester or Responder",
            filter(
                true,
                vec![Roles::Aif(REQUESTER), Roles::Aif(RESPONDER)],
                &[],
            ),
            Fetch,
            Ok(&[1, 2, 3]),
        ),
        (
            "Responders except 03",
            filter(false, vec![Roles::Aif(RESPONDER)], &[3]),
            Fetch,
            Ok(&[2]),
        ),
        (
            "Monitor or 01",
            filter(true, vec![Roles::Aif(MONITOR)], &[1]),
            Join,
            Err(()),
        ),
        (
            "Monitor or 01 (FETCH)",
            filter(true, vec![Roles::Aif(MONITOR)], &[1]),
            Fetch,
            Ok(&[1, 4]),
        ),
        (
            "textual filter never matches AIF roles",
            filter(true, vec![text(&["sender"])], &[]),
            Fetch,
            Ok(&[]),
        ),
    ];
    run(&aif_members(), &cases);
}

#[test]
fn group_oscore_relevant_members_for_null() {
    let members = aif_members();
    let ids = |joiner: u64| -> Vec<u8> {
        let f = CredsFilter::group_oscore_relevant(joiner).unwrap();
        select_creds(&GetCreds::Filter(f), CredsContext::Join, &members)
            .unwrap()
            .iter()
            .map(|m| m.node_id[0])
            .collect()
    };
    // A Requester needs the Responders' credentials.
    assert_eq!(ids(REQUESTER), [2, 3]);
    // A Responder and a Monitor need the Requesters'.
    assert_eq!(ids(RESPONDER), [1, 3]);
    assert_eq!(ids(MONITOR), [1, 3]);
    assert_eq!(ids(REQUESTER | RESPONDER), [1, 2, 3]);
    assert!(CredsFilter::group_oscore_relevant(VERIFIER).is_none());
}

#[test]
fn selection_feeds_the_creds_response() {
    let members = textual_members();
    let request = FetchCredsRequest::decode(
        &FetchCredsRequest {
            get_creds: filter(true, vec![], &[2, 3]),
        }
        .encode(),
    )
    .unwrap();
    let selected = select_creds(&request.get_creds, CredsContext::Fetch, &members).unwrap();
    let response = CredsResponse {
        num: Some(5),
        peers: PeerCredentials::from_members(&selected),
    };
    assert_eq!(response.peers.peer_identifiers, [vec![2], vec![3]]);
    assert_eq!(response.peers.creds, [vec![0xc0, 2], vec![0xc0, 3]]);
    assert_eq!(
        response.peers.peer_roles.as_deref(),
        Some(&[text(&["sender", "receiver"]), text(&["receiver"])][..])
    );
    assert_eq!(CredsResponse::decode(&response.encode()).unwrap(), response);

    // Nothing selected: the KDC answers with the zero-length byte string.
    let none = select_creds(&filter(true, vec![], &[9]), CredsContext::Fetch, &members).unwrap();
    let body: OrNothing<CredsResponse> = if none.is_empty() {
        OrNothing::Nothing
    } else {
        OrNothing::Content(CredsResponse {
            num: Some(5),
            peers: PeerCredentials::from_members(&none),
        })
    };
    assert_eq!(body.encode(), [0x40]);
}

#[test]
fn fetch_request_decoder_applies_the_shape_rules() {
    // {4: [true, [], []]} and {4: null}: 4.00.
    for bytes in [
        &[0xa1, 0x04, 0x83, 0xf5, 0x80, 0x80][..],
        &[0xa1, 0x04, 0xf6],
    ] {
        let err = FetchCredsRequest::decode(bytes).unwrap_err();
        assert_eq!(err.code(), Code::BAD_REQUEST);
    }
    // Missing get_creds.
    assert!(FetchCredsRequest::decode(&[0xa0]).is_err());
}
