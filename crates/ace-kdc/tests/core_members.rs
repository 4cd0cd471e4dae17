//! Member and verifier resources on the sans-I/O core: every row of the
//! RFC 9594 / Group OSCORE profile matrix with its checks, `get_creds`
//! selection end to end, key renewal, leaving with forward security.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

use ace_kdc::{Caller, Effect, Method};
use ace_proto::Codec;
use ace_proto::cbor::{self, Value};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{
    CredsFilter, CredsResponse, FetchCredsRequest, GetCreds, GroupId, GroupNamesRequest,
    GroupNamesResponse, IndividualKeyingMaterial, JoinResponse, KdcCred, KdcCredFetchRequest,
    KeyDistributionResponse, OrNothing, PoliciesResponse, RekeyingMessage, StaleSidsResponse,
    VerifDataResponse,
};
use ace_proto::problem::error_id_of;
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
use support::core_client::Harness;
use support::{ClientKeys, GROUPS, Proof, join_request};

fn problem(out: &ace_kdc::Outcome) -> Option<i64> {
    error_id_of(&out.response.payload)
}

#[test]
fn non_members_and_other_members() {
    let h = Harness::memory(GROUPS);
    let a = h.joined("g1", REQUESTER, None);
    let b = h.joined("g1", RESPONDER, None);
    // A client with a token for g1 that has not joined.
    let outsider = ClientKeys::ed25519();
    let (o, _) = h.client(&outsider, &[("g1", REQUESTER)]);
    for path in [
        "/ace-group/g1",
        "/ace-group/g1/policies",
        "/ace-group/g1/num",
        "/ace-group/g1/active",
        "/ace-group/g1/kdc-cred",
        "/ace-group/g1/creds",
        &format!("/ace-group/g1/nodes/{}", a.node),
    ] {
        let before = h.fingerprint();
        let out = h.get(&o, path);
        assert_eq!(out.response.code, Code::FORBIDDEN, "{path}");
        assert_eq!(problem(&out), Some(0), "{path}: error id 0");
        assert_eq!(h.fingerprint(), before);
    }
    // Non-member DELETE and POST on a node, FETCH stale-sids.
    for (m, path, cfmt, body) in [
        (
            Method::Delete,
            format!("/ace-group/g1/nodes/{}", a.node),
            None,
            vec![],
        ),
        (
            Method::Post,
            format!("/ace-group/g1/nodes/{}", a.node),
            None,
            vec![],
        ),
        (
            Method::Fetch,
            "/ace-group/g1/stale-sids".to_string(),
            Some(cf::CBOR),
            vec![0],
        ),
    ] {
        let req = match cfmt {
            Some(c) => ace_kdc::KdcRequest::new(m, &path).with_payload(c, body),
            None => ace_kdc::KdcRequest::new(m, &path),
        };
        let out = h.request(&o, req);
        assert_eq!(out.response.code, Code::FORBIDDEN, "{m:?} {path}");
        assert_eq!(problem(&out), Some(0));
    }
    // A member reading, renewing or deleting another member's node: 4.03
    // without an error id, and nothing changes.
    for m in [Method::Get, Method::Post, Method::Delete] {
        let before = h.fingerprint();
        let out = h.request(
            &a.caller,
            ace_kdc::KdcRequest::new(m, &format!("/ace-group/g1/nodes/{}", b.node)),
        );
        assert_eq!(out.response.code, Code::FORBIDDEN, "{m:?}");
        assert_eq!(problem(&out), None);
        assert!(out.effects.is_empty());
        assert_eq!(h.fingerprint(), before);
    }
    // A token without g1 at all: 4.03; unknown group: 4.04; unknown
    // resource: 4.04; wrong method: 4.05.
    let (other, _) = h.client(&ClientKeys::ed25519(), &[("ges", REQUESTER)]);
    assert_eq!(
        h.get(&other, "/ace-group/g1/num").response.code,
        Code::FORBIDDEN
    );
    assert_eq!(
        h.get(&a.caller, "/ace-group/nosuch/num").response.code,
        Code::NOT_FOUND
    );
    assert_eq!(
        h.get(&a.caller, "/ace-group/g1/bogus").response.code,
        Code::NOT_FOUND
    );
    assert_eq!(
        h.request(
            &a.caller,
            ace_kdc::KdcRequest::new(Method::Put, "/ace-group/g1")
        )
        .response
        .code,
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        h.request(
            &Caller::Unauthenticated,
            ace_kdc::KdcRequest::new(Method::Put, "/ace-group/g1")
        )
        .response
        .code,
        Code::UNAUTHORIZED
    );
}

#[test]
fn member_reads() {
    let h = Harness::memory(GROUPS);
    let a = h.joined("g1", REQUESTER, None);
    let out = h.get(&a.caller, "/ace-group/g1");
    assert_eq!(out.response.code, Code::CONTENT);
    let keys = KeyDistributionResponse::decode(&out.response.payload).unwrap();
    let k = keys.material.key.group_oscore().unwrap();
    assert!(
        k.group_sender_id.is_none(),
        "no Sender ID in a Key Distribution Response"
    );
    assert_eq!(
        k.oscore.ms,
        a.resp.material.key.group_oscore().unwrap().oscore.ms
    );

    let out = h.get(&a.caller, &format!("/ace-group/g1/nodes/{}", a.node));
    assert_eq!(out.response.code, Code::CONTENT);
    let ind = IndividualKeyingMaterial::decode(&out.response.payload).unwrap();
    assert_eq!(
        support::sender_id(&ind.group.unwrap().material),
        Some(a.sid())
    );

    let out = h.get(&a.caller, "/ace-group/g1/num");
    assert_eq!(
        (out.response.code, out.response.content_format),
        (Code::CONTENT, Some(cf::CBOR))
    );
    assert_eq!(out.response.payload, [0x00]);
    let out = h.get(&a.caller, "/ace-group/g1/active");
    assert_eq!(out.response.payload, [0xf5]);
    let out = h.get(&a.caller, "/ace-group/g1/policies");
    let p = OrNothing::<PoliciesResponse>::decode(&out.response.payload)
        .unwrap()
        .content()
        .unwrap();
    assert_eq!(p.group_policies.key_update_check_interval, Some(3600));

    // GET /kdc-cred: PoP over the stored clientchallenge.
    let out = h.get(&a.caller, "/ace-group/g1/kdc-cred");
    assert_eq!(out.response.code, Code::CONTENT);
    let kc = KdcCred::decode(&out.response.payload).unwrap();
    let vk = ace_proto::credential::Credential::parse_ccs(&kc.kdc_cred)
        .unwrap()
        .verifying_key()
        .unwrap();
    let join_kdc = a.resp.kdc.as_ref().unwrap();
    assert_ne!(kc.kdc_nonce, join_kdc.kdc_nonce, "a fresh N_KDC");
    // N_C is the stored clientchallenge: the cnonce of the Join Request.
    let _proof = kc
        .verify(&a.cnonce, ace_proto::pop::PopCheck::Signature(&vk))
        .unwrap();
    assert!(
        kc.verify(&[0; 8], ace_proto::pop::PopCheck::Signature(&vk))
            .is_err()
    );

    // FETCH /ace-group by Gid: only groups the token names.
    let gid = a
        .resp
        .material
        .key
        .group_oscore()
        .unwrap()
        .gid()
        .unwrap()
        .to_vec();
    let body = GroupNamesRequest {
        gid: vec![GroupId::Bytes(gid.clone()), GroupId::Bytes(vec![9, 9])],
    }
    .encode();
    let out = h.send(
        &a.caller,
        Method::Fetch,
        "/ace-group",
        cf::ACE_GROUPCOMM_CBOR,
        body.clone(),
    );
    let names = OrNothing::<GroupNamesResponse>::decode(&out.response.payload)
        .unwrap()
        .content()
        .unwrap();
    assert_eq!(names.gname, ["g1"]);
    assert_eq!(names.guri, ["/ace-group/g1"]);
    let (stranger, _) = h.client(&ClientKeys::ed25519(), &[("ges", REQUESTER)]);
    let out = h.send(
        &stranger,
        Method::Fetch,
        "/ace-group",
        cf::ACE_GROUPCOMM_CBOR,
        body,
    );
    assert_eq!(out.response.payload, [0x40], "nothing found: h''");
    let out = h.send(
        &a.caller,
        Method::Fetch,
        "/ace-group",
        cf::ACE_GROUPCOMM_CBOR,
        vec![0xa1, 0x00, 0x80],
    );
    assert_eq!(
        out.response.code,
        Code::BAD_REQUEST,
        "gid must not be empty"
    );
}

#[test]
fn get_creds_filters_end_to_end() {
    let h = Harness::memory(GROUPS);
    let a = h.joined("g1", REQUESTER, None);
    let b = h.joined("g1", RESPONDER, None);
    let c = h.joined("g1", REQUESTER | RESPONDER, None);
    let _d = h.joined("g1", MONITOR, None);
    let (sa, sb, sc) = (a.sid(), b.sid(), c.sid());
    let r = |bits| Roles::Aif(bits);
    let cases: Vec<(&str, bool, Vec<Roles>, Vec<Vec<u8>>, Option<Vec<Vec<u8>>>)> = vec![
        (
            "requesters",
            true,
            vec![r(REQUESTER)],
            vec![],
            Some(vec![sa.clone(), sc.clone()]),
        ),
        (
            "responders",
            true,
            vec![r(RESPONDER)],
            vec![],
            Some(vec![sb.clone(), sc.clone()]),
        ),
        (
            "requester+responder combination",
            true,
            vec![r(REQUESTER | RESPONDER)],
            vec![],
            Some(vec![sc.clone()]),
        ),
        (
            "requester or responder",
            true,
            vec![r(REQUESTER), r(RESPONDER)],
            vec![],
            Some(vec![sa.clone(), sb.clone(), sc.clone()]),
        ),
        (
            "by id",
            true,
            vec![],
            vec![sb.clone()],
            Some(vec![sb.clone()]),
        ),
        (
            "role or id",
            true,
            vec![r(REQUESTER)],
            vec![sb.clone()],
            Some(vec![sa.clone(), sb.clone(), sc.clone()]),
        ),
        (
            "role and not id",
            false,
            vec![r(REQUESTER)],
            vec![sa.clone()],
            Some(vec![sc.clone()]),
        ),
        (
            "all but id",
            false,
            vec![],
            vec![sa.clone()],
            Some(vec![sb.clone(), sc.clone()]),
        ),
        (
            "exclusive by role only",
            false,
            vec![r(RESPONDER)],
            vec![],
            Some(vec![sb.clone(), sc.clone()]),
        ),
        (
            "monitors have no credential",
            true,
            vec![r(MONITOR)],
            vec![],
            None,
        ),
        ("unknown id", true, vec![], vec![vec![0xee]], None),
    ];
    for (what, flag, roles, ids, want) in cases {
        let body = FetchCredsRequest {
            get_creds: GetCreds::Filter(CredsFilter {
                inclusion_flag: flag,
                role_filter: roles,
                id_filter: ids,
            }),
        }
        .encode();
        let out = h.send(
            &a.caller,
            Method::Fetch,
            "/ace-group/g1/creds",
            cf::ACE_GROUPCOMM_CBOR,
            body,
        );
        assert_eq!(out.response.code, Code::CONTENT, "{what}");
        let got = OrNothing::<CredsResponse>::decode(&out.response.payload)
            .unwrap()
            .content();
        match (got, want) {
            (None, None) => assert_eq!(out.response.payload, [0x40], "{what}"),
            (Some(resp), Some(mut want)) => {
                let mut ids = resp.peers.peer_identifiers.clone();
                ids.sort();
                want.sort();
                assert_eq!(ids, want, "{what}");
                assert_eq!(resp.num, Some(0));
                // Credentials and roles line up with the identifiers.
                for (i, id) in resp.peers.peer_identifiers.iter().enumerate() {
                    let (cred, roles) = if *id == sa {
                        (&a.keys.credential, REQUESTER)
                    } else if *id == sb {
                        (&b.keys.credential, RESPONDER)
                    } else {
                        (&c.keys.credential, REQUESTER | RESPONDER)
                    };
                    assert_eq!(&resp.peers.creds[i], cred, "{what}");
                    assert_eq!(
                        resp.peers.peer_roles.as_ref().unwrap()[i],
                        Roles::Aif(roles)
                    );
                }
            }
            (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
    // Both filters empty: 4.00.
    let body = FetchCredsRequest {
        get_creds: GetCreds::Filter(CredsFilter {
            inclusion_flag: true,
            role_filter: vec![],
            id_filter: vec![],
        }),
    }
    .encode();
    let out = h.send(
        &a.caller,
        Method::Fetch,
        "/ace-group/g1/creds",
        cf::ACE_GROUPCOMM_CBOR,
        body,
    );
    assert_eq!(out.response.code, Code::BAD_REQUEST);
    // GET: everyone with a credential.
    let out = h.get(&a.caller, "/ace-group/g1/creds");
    let all = CredsResponse::decode(&out.response.payload).unwrap();
    assert_eq!(all.peers.len(), 3);
    // get_creds null in a Join Request: the relevant members only
    // (Responders for a Requester).
    let e = ClientKeys::ed25519();
    let (ce, ne) = h.client(&e, &[("g1", REQUESTER)]);
    let out = h.join(
        &ce,
        "g1",
        &join_request(
            "g1",
            REQUESTER,
            &ne,
            Proof::Signature(&e),
            Some(GetCreds::All),
            None,
        ),
    );
    let resp = JoinResponse::decode(&out.response.payload).unwrap();
    let mut ids = resp.peers.unwrap().peer_identifiers;
    ids.sort();
    assert_eq!(ids, {
        let mut v = vec![sb.clone(), sc.clone()];
        v.sort();
        v
    });
}

#[test]
fn key_renewal_and_stale_sids() {
    let h = Harness::memory(GROUPS);
    let a = h.joined("g1", REQUESTER, None);
    let m = h.joined("g1", MONITOR, None);
    let node = format!("/ace-group/g1/nodes/{}", a.node);
    let out = h.request(&a.caller, ace_kdc::KdcRequest::new(Method::Post, &node));
    assert_eq!(out.response.code, Code::CHANGED);
    let ind = IndividualKeyingMaterial::decode(&out.response.payload).unwrap();
    let new_sid = ind.group_sender_id.unwrap();
    assert_ne!(new_sid, a.sid());
    // A monitor has nothing to renew.
    let out = h.request(
        &m.caller,
        ace_kdc::KdcRequest::new(Method::Post, &format!("/ace-group/g1/nodes/{}", m.node)),
    );
    assert_eq!(
        (out.response.code, problem(&out)),
        (Code::BAD_REQUEST, Some(1))
    );

    // The old Sender ID is in the current stale set; after a leave (rekey
    // to 1) a member at 0 learns it from /stale-sids.
    let b = h.joined("g1", RESPONDER, None);
    let out = h.request(
        &b.caller,
        ace_kdc::KdcRequest::new(Method::Delete, &format!("/ace-group/g1/nodes/{}", b.node)),
    );
    assert_eq!(out.response.code, Code::DELETED);
    let fetch = |v: u8| {
        h.send(
            &a.caller,
            Method::Fetch,
            "/ace-group/g1/stale-sids",
            cf::CBOR,
            vec![v],
        )
    };
    let out = fetch(0);
    assert_eq!(
        (out.response.code, out.response.content_format),
        (Code::CONTENT, Some(cf::CBOR))
    );
    let StaleSidsResponse::Sids(mut ids) =
        StaleSidsResponse::from_payload(&out.response.payload).unwrap()
    else {
        panic!()
    };
    ids.sort();
    let mut want = vec![a.sid(), b.sid()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(fetch(1).response.code, Code::BAD_REQUEST, "not behind");
    // Two more rekeys: the set of version 0 is no longer kept (3 sets).
    for _ in 0..2 {
        let x = h.joined("g1", RESPONDER, None);
        h.request(
            &x.caller,
            ace_kdc::KdcRequest::new(Method::Delete, &format!("/ace-group/g1/nodes/{}", x.node)),
        );
    }
    let out = fetch(0);
    assert_eq!(out.response.code, Code::CONTENT);
    assert!(
        out.response.payload.is_empty(),
        "no payload: the sets are gone"
    );
    assert_eq!(
        h.send(
            &a.caller,
            Method::Fetch,
            "/ace-group/g1/stale-sids",
            cf::CBOR,
            vec![0x61, 0x78]
        )
        .response
        .code,
        Code::BAD_REQUEST
    );
}

#[test]
fn leaving_rekeys_for_forward_security() {
    let h = Harness::memory(GROUPS);
    let a = h.joined("g1", REQUESTER | RESPONDER, Some("coap://127.0.0.1:5/rk"));
    let b = h.joined("g1", REQUESTER | RESPONDER, None);
    let leaver = h.joined("g1", REQUESTER | RESPONDER, None);
    let out = h.request(
        &leaver.caller,
        ace_kdc::KdcRequest::new(
            Method::Delete,
            &format!("/ace-group/g1/nodes/{}", leaver.node),
        ),
    );
    assert_eq!(out.response.code, Code::DELETED);
    let Some(Effect::Rekey(d)) = out.effects.first() else {
        panic!("no rekey")
    };
    assert_eq!(d.num, 1);
    let mut nodes: Vec<&str> = d.targets.iter().map(|t| t.node.as_str()).collect();
    nodes.sort();
    assert_eq!(
        nodes,
        [a.node.as_str(), b.node.as_str()],
        "the leaver is not a target"
    );
    let msg = RekeyingMessage::decode(&d.payload).unwrap();
    assert_eq!(msg.stale_node_ids, Some(vec![leaver.sid()]));
    let new_key = msg.material.key.group_oscore().unwrap();
    // The remaining member, with the new material, protects a group-mode
    // request; the leaver's old material cannot read it, even when it
    // guesses the new Gid.
    let full = a.resp.material.key.group_oscore().unwrap();
    let kdc_cred = &a.resp.kdc.as_ref().unwrap().kdc_cred;
    let mut sender = support::member_context(
        full,
        new_key,
        Some((&a.sid(), &a.keys.signing, &a.keys.credential)),
        kdc_cred,
        vec![],
    );
    let (protected, _) = sender
        .protect_request(
            &support::test_request(),
            &group_oscore::group::RequestMode::Group,
        )
        .unwrap();
    let old = leaver.resp.material.key.group_oscore().unwrap();
    let peers = vec![support::peer(&a.sid(), &a.keys.credential)];
    let mut left = support::member_context(
        full,
        old,
        Some((&leaver.sid(), &leaver.keys.signing, &leaver.keys.credential)),
        kdc_cred,
        peers.clone(),
    );
    assert!(left.unprotect_request(&protected).is_err(), "old Gid");
    let mut guessed = old.clone();
    guessed.oscore.context_id = new_key.oscore.context_id.clone();
    let mut left = support::member_context(
        full,
        &guessed,
        Some((&leaver.sid(), &leaver.keys.signing, &leaver.keys.credential)),
        kdc_cred,
        peers.clone(),
    );
    assert!(
        left.unprotect_request(&protected).is_err(),
        "old Master Secret"
    );
    // Another remaining member with the new material can.
    let mut stays = support::member_context(
        full,
        new_key,
        Some((&b.sid(), &b.keys.signing, &b.keys.credential)),
        kdc_cred,
        peers,
    );
    let (plain, _) = stays.unprotect_request(&protected).unwrap();
    assert_eq!(plain.payload, b"forward secrecy");
    // The leaver is no longer a member.
    let out = h.get(&leaver.caller, "/ace-group/g1/num");
    assert_eq!(problem(&out), Some(0));
    let out = h.get(&a.caller, "/ace-group/g1/num");
    assert_eq!(
        cbor::from_slice(&out.response.payload).unwrap(),
        Value::from(1)
    );
}

#[test]
fn verifiers() {
    let h = Harness::memory(GROUPS);
    let _a = h.joined("g1", REQUESTER, None);
    let v = ClientKeys::ed25519();
    let (vc, _) = h.client(&v, &[("g1", VERIFIER), ("gp", VERIFIER)]);
    let out = h.get(&vc, "/ace-group/g1/verif-data");
    assert_eq!(
        out.response.code,
        Code::CONTENT,
        "{}",
        String::from_utf8_lossy(&out.response.payload)
    );
    let vd = VerifDataResponse::decode(&out.response.payload).unwrap();
    let key = vd.material.key.group_oscore().unwrap();
    assert!(key.oscore.ms.is_none(), "never the Master Secret");
    assert_eq!(vd.sign_enc_key.len(), 16);
    // Verifiers may read credentials, not keys.
    assert_eq!(
        h.get(&vc, "/ace-group/g1/creds").response.code,
        Code::CONTENT
    );
    assert_eq!(problem(&h.get(&vc, "/ace-group/g1")), Some(0));
    // FETCH /kdc-cred with the verifier's nonce.
    let n_c = vec![7u8; 8];
    let out = h.send(
        &vc,
        Method::Fetch,
        "/ace-group/g1/kdc-cred",
        cf::ACE_GROUPCOMM_CBOR,
        KdcCredFetchRequest {
            cnonce: n_c.clone(),
        }
        .encode(),
    );
    assert_eq!(out.response.code, Code::CONTENT);
    let kc = KdcCred::decode(&out.response.payload).unwrap();
    let vk = ace_proto::credential::Credential::parse_ccs(&kc.kdc_cred)
        .unwrap()
        .verifying_key()
        .unwrap();
    let _proof = kc
        .verify(&n_c, ace_proto::pop::PopCheck::Signature(&vk))
        .unwrap();
    // Pairwise-only: error 7. A member (not a verifier): error 8.
    let out = h.get(&vc, "/ace-group/gp/verif-data");
    assert_eq!(
        (out.response.code, problem(&out)),
        (Code::BAD_REQUEST, Some(7))
    );
    let out = h.get(&_a.caller, "/ace-group/g1/verif-data");
    assert_eq!(
        (out.response.code, problem(&out)),
        (Code::FORBIDDEN, Some(8))
    );
    let out = h.send(
        &_a.caller,
        Method::Fetch,
        "/ace-group/g1/kdc-cred",
        cf::ACE_GROUPCOMM_CBOR,
        KdcCredFetchRequest { cnonce: n_c }.encode(),
    );
    assert_eq!(
        (out.response.code, problem(&out)),
        (Code::FORBIDDEN, Some(8))
    );
    // Verifiers cannot join.
    let out = h.join(
        &vc,
        "g1",
        &join_request("g1", VERIFIER, &[], Proof::None, None, None),
    );
    assert_eq!(out.response.code, Code::BAD_REQUEST);
}

#[test]
fn discovery() {
    let h = Harness::memory(GROUPS);
    let get = |q: &str| {
        let out = h.get(&Caller::Unauthenticated, &format!("/.well-known/core{q}"));
        assert_eq!(out.response.content_format, Some(cf::LINK_FORMAT));
        String::from_utf8(out.response.payload).unwrap()
    };
    assert_eq!(get("?if=ace.groups"), "</ace-group>;if=\"ace.groups\"");
    let groups = get("?if=ace.group");
    assert!(
        groups.contains("</ace-group/g1>;rt=\"core.osc.gm\";if=\"ace.group\""),
        "{groups}"
    );
    assert_eq!(groups.matches("if=\"ace.group\"").count(), 5);
    assert_eq!(get("?rt=ace.ai"), "</authz-info>;rt=\"ace.ai\"");
    assert_eq!(get("?rt=core.osc*").split(',').count(), 5);
    assert!(get("").contains("</authz-info>"));
}

#[test]
fn keying_material_is_renewed_before_it_expires() {
    let h = Harness::memory(
        r#"
[[groups]]
name = "short"
key_lifetime = 100
"#,
    );
    let a = h.joined("short", REQUESTER, Some("coap://127.0.0.1:7/rk"));
    assert_eq!(a.resp.material.exp, Some(h.now + 100));
    // Nothing to do before the material expires (rekey_margin is 0 in the
    // test configuration).
    assert!(h.kdc.tick(h.now + 99).is_empty());
    assert_eq!(h.kdc.next_deadline(), Some(h.now + 100));
    let effects = h.kdc.tick(h.now + 100);
    let Some(Effect::Rekey(d)) = effects.first() else {
        panic!("no rekeying: {effects:?}")
    };
    assert_eq!(d.num, 1);
    assert_eq!(d.targets.len(), 1);
    let msg = RekeyingMessage::decode(&d.payload).unwrap();
    assert_eq!(msg.material.exp, Some(h.now + 200));
    assert_ne!(
        msg.material.key.group_oscore().unwrap().gid(),
        a.resp.material.key.group_oscore().unwrap().gid()
    );
}
