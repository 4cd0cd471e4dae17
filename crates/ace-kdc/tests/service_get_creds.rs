//! `get_creds` selection end to end through the service over CoAP +
//! OSCORE: FETCH `/creds` with both inclusion-flag values, single roles and
//! role combinations, identifier filters; `get_creds` null and a role filter
//! in a Join Request (RFC 9594 sections 4.3.1 and 4.4.1; Group OSCORE
//! profile section 6.3).

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

use ace_coap::Method;
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{CredsFilter, CredsResponse, FetchCredsRequest, GetCreds, OrNothing};
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use support::ClientKeys;
use support::service::ServiceHarness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_creds_end_to_end() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let mut sids = Vec::new();
    let mut creds = Vec::new();
    let roles = [REQUESTER, RESPONDER, REQUESTER | RESPONDER, MONITOR];
    let mut members = Vec::new();
    for r in roles {
        let m = c
            .member(&h.authority, ClientKeys::ed25519(), &[("g1", r)], exp)
            .await;
        let (resp, join) = c.join(&m, "g1", r, None, false).await;
        assert_eq!(resp.code, Code::CREATED);
        let key = join.unwrap().material.key.group_oscore().unwrap().clone();
        sids.push(key.group_sender_id.clone().unwrap_or_default());
        creds.push(m.keys.credential.clone());
        members.push(m);
    }
    let (a, b, rr) = (sids[0].clone(), sids[1].clone(), sids[2].clone());
    let asker = &members[0];
    let aif = Roles::Aif;
    let cases: Vec<(&str, bool, Vec<Roles>, Vec<Vec<u8>>, Vec<Vec<u8>>)> = vec![
        (
            "inclusive, Requester",
            true,
            vec![aif(REQUESTER)],
            vec![],
            vec![a.clone(), rr.clone()],
        ),
        (
            "inclusive, Responder",
            true,
            vec![aif(RESPONDER)],
            vec![],
            vec![b.clone(), rr.clone()],
        ),
        (
            "inclusive, combination Requester+Responder",
            true,
            vec![aif(REQUESTER | RESPONDER)],
            vec![],
            vec![rr.clone()],
        ),
        (
            "inclusive, Requester or Responder",
            true,
            vec![aif(REQUESTER), aif(RESPONDER)],
            vec![],
            vec![a.clone(), b.clone(), rr.clone()],
        ),
        (
            "inclusive, ids only",
            true,
            vec![],
            vec![b.clone(), vec![0x7f]],
            vec![b.clone()],
        ),
        (
            "inclusive, role or id",
            true,
            vec![aif(RESPONDER)],
            vec![a.clone()],
            vec![a.clone(), b.clone(), rr.clone()],
        ),
        (
            "exclusive, role and not id",
            false,
            vec![aif(RESPONDER)],
            vec![rr.clone()],
            vec![b.clone()],
        ),
        (
            "exclusive, combination and not id",
            false,
            vec![aif(REQUESTER | RESPONDER)],
            vec![a.clone()],
            vec![rr.clone()],
        ),
        (
            "exclusive, everyone but ids",
            false,
            vec![],
            vec![a.clone(), b.clone()],
            vec![rr.clone()],
        ),
        (
            "exclusive, nobody left",
            false,
            vec![aif(REQUESTER)],
            vec![a.clone(), rr.clone()],
            vec![],
        ),
    ];
    for (what, flag, role_filter, id_filter, mut want) in cases {
        let body = FetchCredsRequest {
            get_creds: GetCreds::Filter(CredsFilter {
                inclusion_flag: flag,
                role_filter,
                id_filter,
            }),
        };
        let r = c
            .send_cbor(
                asker,
                Method::Fetch,
                "/ace-group/g1/creds",
                cf::ACE_GROUPCOMM_CBOR,
                body.encode(),
            )
            .await;
        assert_eq!(r.code, Code::CONTENT, "{what}");
        match OrNothing::<CredsResponse>::decode(&r.payload)
            .unwrap()
            .content()
        {
            None => assert!(want.is_empty(), "{what}: got nothing"),
            Some(resp) => {
                let mut got = resp.peers.peer_identifiers.clone();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{what}");
                for (i, id) in resp.peers.peer_identifiers.iter().enumerate() {
                    let k = sids.iter().position(|s| s == id).unwrap();
                    assert_eq!(resp.peers.creds[i], creds[k], "{what}");
                    assert_eq!(
                        resp.peers.peer_roles.as_ref().unwrap()[i],
                        aif(roles[k]),
                        "{what}"
                    );
                }
            }
        }
    }
    // Both filters empty: 4.00.
    let body = FetchCredsRequest {
        get_creds: GetCreds::Filter(CredsFilter {
            inclusion_flag: false,
            role_filter: vec![],
            id_filter: vec![],
        }),
    };
    let r = c
        .send_cbor(
            asker,
            Method::Fetch,
            "/ace-group/g1/creds",
            cf::ACE_GROUPCOMM_CBOR,
            body.encode(),
        )
        .await;
    assert_eq!(r.code, Code::BAD_REQUEST);

    // In a Join Request: null gives the members relevant to the joiner's
    // roles (Requesters for a Responder); a role filter gives those roles.
    let j = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", RESPONDER)],
            exp,
        )
        .await;
    let (_, join) = c
        .join(&j, "g1", RESPONDER, Some(GetCreds::All), false)
        .await;
    let mut got = join.unwrap().peers.unwrap().peer_identifiers;
    got.sort();
    let mut want = vec![a.clone(), rr.clone()];
    want.sort();
    assert_eq!(got, want);
    let k = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;
    let filter = GetCreds::Filter(CredsFilter::roles(vec![aif(REQUESTER | RESPONDER)]));
    let (_, join) = c.join(&k, "g1", REQUESTER, Some(filter), false).await;
    assert_eq!(
        join.unwrap().peers.unwrap().peer_identifiers,
        vec![rr.clone()]
    );
}
