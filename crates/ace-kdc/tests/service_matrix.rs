//! The RFC 9594 / Group OSCORE profile interface through the real service
//! over CoAP + OSCORE on loopback: one test per row of the matrix and per
//! error path, with the code, the error id, and no state change on every
//! refused request.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

use ace_coap::{Method, Request};
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{
    CredsResponse, GroupId, GroupNamesRequest, GroupNamesResponse, IndividualKeyingMaterial,
    KdcCred, KdcCredFetchRequest, KeyDistributionResponse, OrNothing, PoliciesResponse,
    StaleSidsResponse, VerifDataResponse,
};
use ace_proto::keys::random_bytes;
use ace_proto::oauth::AsRequestCreationHints;
use ace_proto::problem::error_id_of;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
use support::net::NetClient;
use support::service::ServiceHarness;
use support::{ClientKeys, Proof, join_request};

fn id(r: &ace_coap::Response) -> Option<i64> {
    error_id_of(&r.payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_coap_gets_hints_and_unknown_contexts_are_refused() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    // No OSCORE: 4.01 with AS Request Creation Hints.
    let r = c
        .endpoint
        .request(c.kdc(), Request::get("/ace-group/g1"))
        .await
        .unwrap();
    assert_eq!(r.code, Code::UNAUTHORIZED);
    assert_eq!(r.content_format(), Some(cf::ACE_CBOR));
    let hints = AsRequestCreationHints::decode(&r.payload).unwrap();
    assert_eq!(hints.audience.as_deref(), Some(support::AUDIENCE));
    assert!(hints.cnonce.is_some());
    // Discovery is open.
    let r = c
        .endpoint
        .request(c.kdc(), Request::get("/.well-known/core?if=ace.group"))
        .await
        .unwrap();
    assert_eq!(r.content_format(), Some(cf::LINK_FORMAT));
    assert!(
        String::from_utf8(r.payload)
            .unwrap()
            .contains("</ace-group/g1>")
    );
    // A member whose context the KDC does not have: 4.01 "Security context
    // not found", unprotected.
    let m = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            h.now() + 600,
        )
        .await;
    h.service
        .contexts()
        .remove(&ace_kdc::ChannelId(m.kdc_id.clone()));
    let r = c.get(&m, "/ace-group/g1/num").await;
    assert_eq!(r.code, Code::UNAUTHORIZED);
    assert_eq!(r.payload, b"Security context not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_over_the_network() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let keys = ClientKeys::ed25519();
    let mut other_audience = keys.token(&[("g1", REQUESTER)], h.now() + 600);
    other_audience.audience = "coap://elsewhere".into();
    let mut expired = keys.token(&[("g1", REQUESTER)], h.now() + 600);
    expired.exp = h.now() - 10;
    let before = h.fingerprint();
    for (what, spec, code) in [
        (
            "a token for another audience",
            other_audience,
            Code::FORBIDDEN,
        ),
        ("an expired token", expired, Code::UNAUTHORIZED),
    ] {
        let r = c
            .member_with_token(keys.clone(), h.authority.mint(&spec))
            .await
            .err()
            .unwrap();
        assert_eq!(r.code, code, "{what}");
        assert_eq!(h.fingerprint(), before, "{what} changed state");
    }
    assert_eq!(h.service.contexts().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_every_member_resource() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let a = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER | RESPONDER)],
            exp,
        )
        .await;
    let (r, join) = c.join(&a, "g1", REQUESTER | RESPONDER, None, true).await;
    assert_eq!(r.code, Code::CREATED);
    let node = r.location_path();
    assert_eq!(node[..3], ["ace-group", "g1", "nodes"]);
    let node_path = format!("/{}", node.join("/"));
    let join = join.unwrap();
    let sid = support::sender_id(&join.material).unwrap();

    // GET /ace-group/g1
    let r = c.get(&a, "/ace-group/g1").await;
    assert_eq!(r.code, Code::CONTENT);
    let k = KeyDistributionResponse::decode(&r.payload).unwrap();
    assert_eq!(k.material.num, 0);
    // GET /nodes/N
    let r = c.get(&a, &node_path).await;
    let ind = IndividualKeyingMaterial::decode(&r.payload).unwrap();
    assert_eq!(
        support::sender_id(&ind.group.unwrap().material),
        Some(sid.clone())
    );
    // GET /num, /active, /policies
    assert_eq!(c.get(&a, "/ace-group/g1/num").await.payload, [0x00]);
    assert_eq!(c.get(&a, "/ace-group/g1/active").await.payload, [0xf5]);
    let p = c.get(&a, "/ace-group/g1/policies").await;
    assert!(
        OrNothing::<PoliciesResponse>::decode(&p.payload)
            .unwrap()
            .content()
            .is_some()
    );
    // GET /creds
    let r = c.get(&a, "/ace-group/g1/creds").await;
    let creds = CredsResponse::decode(&r.payload).unwrap();
    assert_eq!(creds.peers.peer_identifiers, vec![sid.clone()]);
    assert_eq!(creds.peers.creds, vec![a.keys.credential.clone()]);
    // GET /kdc-cred
    let r = c.get(&a, "/ace-group/g1/kdc-cred").await;
    assert_eq!(r.code, Code::CONTENT);
    KdcCred::decode(&r.payload).unwrap();
    // FETCH /ace-group by Gid
    let gid = join
        .material
        .key
        .group_oscore()
        .unwrap()
        .gid()
        .unwrap()
        .to_vec();
    let r = c
        .send_cbor(
            &a,
            Method::Fetch,
            "/ace-group",
            cf::ACE_GROUPCOMM_CBOR,
            GroupNamesRequest {
                gid: vec![GroupId::Bytes(gid)],
            }
            .encode(),
        )
        .await;
    let names = OrNothing::<GroupNamesResponse>::decode(&r.payload)
        .unwrap()
        .content()
        .unwrap();
    assert_eq!(names.gname, ["g1"]);
    // POST /nodes/N: a new Sender ID.
    let r = c.send(&a, Request::post(&node_path)).await;
    assert_eq!(r.code, Code::CHANGED);
    let new_sid = IndividualKeyingMaterial::decode(&r.payload)
        .unwrap()
        .group_sender_id
        .unwrap();
    assert_ne!(new_sid, sid);
    // POST /nodes/N/cred: a new credential with its PoP.
    let fresh = ClientKeys::ed25519();
    let cnonce = random_bytes(8);
    let scope = support::join_scope("g1", REQUESTER | RESPONDER);
    let input = ace_proto::pop::client_pop_input(&scope, &a.n_s, &cnonce);
    let update = ace_proto::groupcomm::CredUpdateRequest {
        client_cred: fresh.credential.clone(),
        cnonce,
        client_cred_verify: fresh.signing.sign(&input),
    };
    let r = c
        .send_cbor(
            &a,
            Method::Post,
            &format!("{node_path}/cred"),
            cf::ACE_GROUPCOMM_CBOR,
            update.encode(),
        )
        .await;
    assert_eq!(
        r.code,
        Code::CHANGED,
        "{}",
        String::from_utf8_lossy(&r.payload)
    );
    let r = c.get(&a, "/ace-group/g1/creds").await;
    assert_eq!(
        CredsResponse::decode(&r.payload).unwrap().peers.creds,
        vec![fresh.credential]
    );
    // A second member leaves: FETCH /stale-sids then reports the old Sender
    // IDs.
    let b = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", RESPONDER)],
            exp,
        )
        .await;
    let (r, _) = c.join(&b, "g1", RESPONDER, None, false).await;
    let b_node = format!("/{}", r.location_path().join("/"));
    assert_eq!(
        c.send(&b, Request::delete(&b_node)).await.code,
        Code::DELETED
    );
    let r = c
        .send_cbor(
            &a,
            Method::Fetch,
            "/ace-group/g1/stale-sids",
            cf::CBOR,
            vec![0],
        )
        .await;
    assert_eq!(r.code, Code::CONTENT);
    let StaleSidsResponse::Sids(ids) = StaleSidsResponse::from_payload(&r.payload).unwrap() else {
        panic!()
    };
    assert!(ids.contains(&sid));
    // DELETE /nodes/N: leave.
    assert_eq!(
        c.send(&a, Request::delete(&node_path)).await.code,
        Code::DELETED
    );
    let r = c.get(&a, "/ace-group/g1").await;
    assert_eq!((r.code, id(&r)), (Code::FORBIDDEN, Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifier_resources() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let v = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", VERIFIER), ("gp", VERIFIER)],
            exp,
        )
        .await;
    let r = c.get(&v, "/ace-group/g1/verif-data").await;
    assert_eq!(r.code, Code::CONTENT);
    let vd = VerifDataResponse::decode(&r.payload).unwrap();
    assert!(vd.material.key.group_oscore().unwrap().oscore.ms.is_none());
    let n_c = random_bytes(8);
    let r = c
        .send_cbor(
            &v,
            Method::Fetch,
            "/ace-group/g1/kdc-cred",
            cf::ACE_GROUPCOMM_CBOR,
            KdcCredFetchRequest {
                cnonce: n_c.clone(),
            }
            .encode(),
        )
        .await;
    let kc = KdcCred::decode(&r.payload).unwrap();
    let vk = ace_proto::credential::Credential::parse_ccs(&kc.kdc_cred)
        .unwrap()
        .verifying_key()
        .unwrap();
    let _proof = kc
        .verify(&n_c, ace_proto::pop::PopCheck::Signature(&vk))
        .unwrap();
    let r = c.get(&v, "/ace-group/gp/verif-data").await;
    assert_eq!((r.code, id(&r)), (Code::BAD_REQUEST, Some(7)));
    let m = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;
    c.join(&m, "g1", REQUESTER, None, false).await;
    let r = c.get(&m, "/ace-group/g1/verif-data").await;
    assert_eq!((r.code, id(&r)), (Code::FORBIDDEN, Some(8)));
}

/// Every refused request of the list, over the network, with its
/// code and error id and no state change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_change_nothing() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let member = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;
    let (r, _) = c.join(&member, "g1", REQUESTER, None, false).await;
    let member_node = format!("/{}", r.location_path().join("/"));
    let other = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;
    c.join(&other, "g1", REQUESTER, None, false).await;
    let joiner = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;
    let outsider = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;

    let forged = {
        let mut r = join_request(
            "g1",
            REQUESTER,
            &joiner.n_s,
            Proof::Signature(&joiner.keys),
            None,
            None,
        );
        r.client_cred_verify.as_mut().unwrap()[10] ^= 1;
        r
    };
    // The PoP signs an N_S the KDC no longer holds: the token was posted
    // again since (a new N_S), and the client signed the old one.
    let stale_member = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;
    let old_n_s = stale_member.n_s.clone();
    let stale_member = c
        .member_with_token(
            stale_member.keys.clone(),
            h.authority
                .mint(&stale_member.keys.token(&[("g1", REQUESTER)], exp)),
        )
        .await
        .unwrap();
    assert_ne!(stale_member.n_s, old_n_s);
    let stale = join_request(
        "g1",
        REQUESTER,
        &old_n_s,
        Proof::Signature(&stale_member.keys),
        None,
        None,
    );
    let es = ClientKeys::new(ace_proto::keys::SignatureAlgorithm::Es256);
    let wrong_alg = join_request(
        "g1",
        REQUESTER,
        &joiner.n_s,
        Proof::Signature(&es),
        None,
        None,
    );
    let no_role = join_request(
        "g1",
        RESPONDER,
        &joiner.n_s,
        Proof::Signature(&joiner.keys),
        None,
        None,
    );

    let post = |r: &ace_proto::groupcomm::JoinRequest| {
        Request::post("/ace-group/g1")
            .with_content_format(cf::ACE_GROUPCOMM_CBOR)
            .with_payload(r.encode())
    };
    let cases: Vec<(&str, &support::net::NetMember, Request, Code, Option<i64>)> = vec![
        (
            "forged PoP",
            &joiner,
            post(&forged),
            Code::BAD_REQUEST,
            Some(3),
        ),
        (
            "PoP over a stale kdcchallenge",
            &stale_member,
            post(&stale),
            Code::BAD_REQUEST,
            Some(3),
        ),
        (
            "credential with the wrong algorithm",
            &joiner,
            post(&wrong_alg),
            Code::BAD_REQUEST,
            Some(2),
        ),
        (
            "scope without the requested role",
            &joiner,
            post(&no_role),
            Code::FORBIDDEN,
            None,
        ),
        (
            "a member reading another member's node",
            &other,
            Request::get(&member_node),
            Code::FORBIDDEN,
            None,
        ),
        (
            "a member renewing another member's Sender ID",
            &other,
            Request::post(&member_node),
            Code::FORBIDDEN,
            None,
        ),
        (
            "a member deleting another member",
            &other,
            Request::delete(&member_node),
            Code::FORBIDDEN,
            None,
        ),
        (
            "a non-member reading keys",
            &outsider,
            Request::get("/ace-group/g1"),
            Code::FORBIDDEN,
            Some(0),
        ),
        (
            "a non-member reading a node",
            &outsider,
            Request::get(&member_node),
            Code::FORBIDDEN,
            Some(0),
        ),
        (
            "a non-member reading num",
            &outsider,
            Request::get("/ace-group/g1/num"),
            Code::FORBIDDEN,
            Some(0),
        ),
        (
            "a non-member reading policies",
            &outsider,
            Request::get("/ace-group/g1/policies"),
            Code::FORBIDDEN,
            Some(0),
        ),
        (
            "a non-member reading kdc-cred",
            &outsider,
            Request::get("/ace-group/g1/kdc-cred"),
            Code::FORBIDDEN,
            Some(0),
        ),
        (
            "a non-member reading creds",
            &outsider,
            Request::get("/ace-group/g1/creds"),
            Code::FORBIDDEN,
            Some(0),
        ),
        (
            "a group outside the token",
            &outsider,
            Request::get("/ace-group/ges"),
            Code::FORBIDDEN,
            None,
        ),
        (
            "an unknown group",
            &outsider,
            Request::get("/ace-group/nope"),
            Code::NOT_FOUND,
            None,
        ),
        (
            "an unknown resource",
            &outsider,
            Request::get("/ace-group/g1/bogus"),
            Code::NOT_FOUND,
            None,
        ),
        (
            "an unsupported method",
            &outsider,
            Request::put("/ace-group/g1"),
            Code::METHOD_NOT_ALLOWED,
            None,
        ),
        (
            "a malformed join",
            &joiner,
            Request::post("/ace-group/g1")
                .with_content_format(cf::ACE_GROUPCOMM_CBOR)
                .with_payload(vec![0xa0]),
            Code::BAD_REQUEST,
            None,
        ),
        (
            "a wrong Content-Format",
            &joiner,
            Request::post("/ace-group/g1")
                .with_content_format(cf::CBOR)
                .with_payload(vec![0xa0]),
            Code::UNSUPPORTED_CONTENT_FORMAT,
            None,
        ),
        (
            "stale-sids not behind",
            &member,
            Request::fetch("/ace-group/g1/stale-sids")
                .with_content_format(cf::CBOR)
                .with_payload(vec![0]),
            Code::BAD_REQUEST,
            None,
        ),
    ];
    for (what, who, request, code, error_id) in cases {
        let before = h.fingerprint();
        let r = c.send(who, request).await;
        assert_eq!(
            r.code,
            code,
            "{what}: {}",
            String::from_utf8_lossy(&r.payload)
        );
        if let Some(e) = error_id {
            assert_eq!(
                r.content_format(),
                Some(cf::CONCISE_PROBLEM_DETAILS_CBOR),
                "{what}"
            );
            assert_eq!(id(&r), Some(e), "{what}");
        }
        assert_eq!(h.fingerprint(), before, "{what} changed state");
    }
    // And the refused joiner can still join properly afterwards.
    let (r, _) = c.join(&joiner, "g1", REQUESTER, None, false).await;
    assert_eq!(r.code, Code::CREATED);
    let _ = MONITOR;
    let _: &NetClient = &c;
}

/// An access-rights update POSTed over the OSCORE channel (RFC 9203
/// section 4.1), then a join without a stored N_S: 4.00 with a fresh
/// `kdcchallenge` (Content-Format 261), which the retry signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_rights_update_and_a_fresh_kdcchallenge_over_oscore() {
    let h = ServiceHarness::start().await;
    let c = h.client().await;
    let exp = h.now() + 600;
    let m = c
        .member(&h.authority, ClientKeys::ed25519(), &[("g1", MONITOR)], exp)
        .await;
    assert!(
        m.n_s.is_empty(),
        "a Monitor-only token gets no kdcchallenge"
    );
    let mut update = m.keys.token(&[("g1", REQUESTER)], exp);
    update.cnf = ace_proto::cwt::Confirmation::Kid(m.keys.material.id.clone().unwrap());
    let body = ace_proto::authz_info::TokenTransferRequest {
        access_token: h.authority.mint(&update),
        ..Default::default()
    };
    let r = c
        .send_cbor(&m, Method::Post, "/authz-info", cf::ACE_CBOR, body.encode())
        .await;
    assert_eq!(r.code, Code::CREATED);
    assert!(r.payload.is_empty());
    let (r, _) = c.join(&m, "g1", REQUESTER, None, false).await;
    assert_eq!(r.code, Code::BAD_REQUEST);
    assert_eq!(r.content_format(), Some(cf::ACE_GROUPCOMM_CBOR));
    let body = ace_proto::groupcomm::GroupcommErrorBody::decode(&r.payload).unwrap();
    let mut m = m;
    m.n_s = body.kdcchallenge.unwrap();
    let (r, _) = c.join(&m, "g1", REQUESTER, None, false).await;
    assert_eq!(r.code, Code::CREATED);
}

/// The remaining error ids through the service: 1 (a Monitor renewing a
/// Sender ID or updating a credential), 2 and 3 on a credential update, 4
/// (no Sender ID left), 9 (group not active); each without state change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaining_error_ids_over_the_network() {
    let groups = format!(
        "{}\n[[groups]]\nname = \"off\"\nactive = false\n",
        support::GROUPS
    );
    let h = ServiceHarness::start_with(&groups).await;
    let c = h.client().await;
    let exp = h.now() + 600;

    // 9: the group is not active.
    let m = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("off", REQUESTER)],
            exp,
        )
        .await;
    let before = h.fingerprint();
    let (r, _) = c.join(&m, "off", REQUESTER, None, false).await;
    assert_eq!((r.code, id(&r)), (Code::SERVICE_UNAVAILABLE, Some(9)));
    assert_eq!(h.fingerprint(), before);

    // 1: a Monitor has no Sender ID to renew and no credential to update.
    let mon = c
        .member(&h.authority, ClientKeys::ed25519(), &[("g1", MONITOR)], exp)
        .await;
    let (r, _) = c.join(&mon, "g1", MONITOR, None, false).await;
    let mon_node = format!("/{}", r.location_path().join("/"));
    let before = h.fingerprint();
    let r = c.send(&mon, Request::post(&mon_node)).await;
    assert_eq!((r.code, id(&r)), (Code::BAD_REQUEST, Some(1)));
    let r = c
        .send_cbor(
            &mon,
            Method::Post,
            &format!("{mon_node}/cred"),
            cf::ACE_GROUPCOMM_CBOR,
            vec![0xa0],
        )
        .await;
    assert_eq!((r.code, id(&r)), (Code::BAD_REQUEST, Some(1)));
    assert_eq!(h.fingerprint(), before);

    // 2 and 3 on a credential update.
    let a = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g1", REQUESTER)],
            exp,
        )
        .await;
    let (r, _) = c.join(&a, "g1", REQUESTER, None, false).await;
    let node = format!("/{}/cred", r.location_path().join("/"));
    let scope = support::join_scope("g1", REQUESTER);
    let update = |keys: &ClientKeys, forge: bool| {
        let cnonce = random_bytes(8);
        let input = ace_proto::pop::client_pop_input(&scope, &a.n_s, &cnonce);
        let mut sig = keys.signing.sign(&input);
        if forge {
            sig[3] ^= 1;
        }
        ace_proto::groupcomm::CredUpdateRequest {
            client_cred: keys.credential.clone(),
            cnonce,
            client_cred_verify: sig,
        }
        .encode()
    };
    let es = ClientKeys::new(ace_proto::keys::SignatureAlgorithm::Es256);
    let fresh = ClientKeys::ed25519();
    for (what, body, code, error_id) in [
        (
            "a credential with the wrong algorithm",
            update(&es, false),
            Code::BAD_REQUEST,
            2,
        ),
        ("a forged PoP", update(&fresh, true), Code::BAD_REQUEST, 3),
    ] {
        let before = h.fingerprint();
        let r = c
            .send_cbor(&a, Method::Post, &node, cf::ACE_GROUPCOMM_CBOR, body)
            .await;
        assert_eq!((r.code, id(&r)), (code, Some(error_id)), "{what}");
        assert_eq!(h.fingerprint(), before, "{what}");
    }

    // 4: g8 hands out one-byte Sender IDs; the 257th joiner gets none.
    for _ in 0..256 {
        let m = c
            .member(
                &h.authority,
                ClientKeys::ed25519(),
                &[("g8", REQUESTER)],
                exp,
            )
            .await;
        let (r, _) = c.join(&m, "g8", REQUESTER, None, false).await;
        assert_eq!(r.code, Code::CREATED);
    }
    let last = c
        .member(
            &h.authority,
            ClientKeys::ed25519(),
            &[("g8", REQUESTER)],
            exp,
        )
        .await;
    let before = h.fingerprint();
    let (r, _) = c.join(&last, "g8", REQUESTER, None, false).await;
    assert_eq!((r.code, id(&r)), (Code::SERVICE_UNAVAILABLE, Some(4)));
    assert_eq!(h.fingerprint(), before);
}
