//! Joining (RFC 9594 section 4.3.1; Group OSCORE profile sections 6.1 to
//! 6.3) on the sans-I/O core: the success path byte by byte, and every
//! refusal with its code and error id and no state change.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod support;

use ace_kdc::{Caller, Effect};
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::credential::Credential;
use ace_proto::groupcomm::{GetCreds, GroupcommErrorBody, JoinResponse};
use ace_proto::keys::{SignatureAlgorithm, random_bytes};
use ace_proto::pop::PopCheck;
use ace_proto::problem::error_id_of;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use support::core_client::Harness;
use support::{ClientKeys, GROUPS, Proof, join_request, kdc_dh_key};

fn decode_join(out: &ace_kdc::Outcome) -> JoinResponse {
    assert_eq!(out.response.content_format, Some(cf::ACE_GROUPCOMM_CBOR));
    JoinResponse::decode(&out.response.payload).unwrap()
}

#[test]
fn join_succeeds_with_everything_the_profile_requires() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let (caller, n_s) = h.client(&keys, &[("g1", REQUESTER | RESPONDER)]);
    let req = join_request(
        "g1",
        REQUESTER | RESPONDER,
        &n_s,
        Proof::Signature(&keys),
        None,
        Some("coap://[::1]:9999/rk".into()),
    );
    let out = h.join(&caller, "g1", &req);
    assert_eq!(out.response.code, Code::CREATED);
    assert_eq!(
        out.response.location_path,
        ["ace-group", "g1", "nodes", "node0"]
    );
    let resp = decode_join(&out);
    let key = resp.material.key.group_oscore().unwrap();
    assert_eq!(resp.material.num, 0);
    assert_eq!(resp.material.ace_groupcomm_profile, Some(1));
    assert_eq!(resp.material.exi, Some(86_400));
    assert_eq!(resp.material.exp, Some(h.now + 86_400));
    assert_eq!(key.oscore.ms.as_ref().unwrap().len(), 16);
    assert_eq!(key.oscore.salt.as_ref().unwrap().len(), 8);
    assert_eq!(key.gid().unwrap().len(), 6);
    assert_eq!(key.group_sender_id.as_deref(), Some(&[0u8][..]));
    assert_eq!(key.cred_fmt, Some(14));
    assert!(key.has_group_mode() && key.has_pairwise_mode());
    let policies = resp.group_policies.unwrap();
    assert_eq!(policies.key_update_check_interval, Some(3600));
    assert_eq!(policies.expiration_delta, Some(0));
    assert!(resp.peers.is_none(), "no get_creds, no creds");
    // kdc_cred_verify verifies over N_C | N_KDC with the KDC's credential.
    let kdc = resp.kdc.unwrap();
    let kdc_key = Credential::parse_ccs(&kdc.kdc_cred)
        .unwrap()
        .verifying_key()
        .unwrap();
    let _proof = kdc
        .verify(&req.cnonce, PopCheck::Signature(&kdc_key))
        .unwrap();
    assert!(out.effects.is_empty(), "no backward security in g1");

    // A re-join is 2.04 with a new Sender ID; the old one is stale.
    let again = join_request("g1", REQUESTER, &n_s, Proof::None, None, None);
    let out = h.join(&caller, "g1", &again);
    assert_eq!(out.response.code, Code::CHANGED);
    assert_eq!(
        out.response.location_path,
        ["ace-group", "g1", "nodes", "node0"]
    );
    let resp = decode_join(&out);
    assert_eq!(
        support::sender_id(&resp.material).as_deref(),
        Some(&[1u8][..])
    );
    let summary = h.kdc.group_summary("g1").unwrap();
    assert_eq!(summary.members.len(), 1);
    assert_eq!(summary.members[0].roles, REQUESTER);
    assert_eq!(summary.stale, vec![(0, vec![vec![0]])]);
}

#[test]
fn monitors_join_without_credential_or_sender_id() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let (caller, n_s) = h.client(&keys, &[("g1", MONITOR)]);
    let out = h.join(
        &caller,
        "g1",
        &join_request("g1", MONITOR, &n_s, Proof::None, Some(GetCreds::All), None),
    );
    assert_eq!(out.response.code, Code::CREATED);
    let resp = decode_join(&out);
    assert!(support::sender_id(&resp.material).is_none());
    assert!(resp.peers.unwrap().is_empty(), "no requesters yet");
}

#[test]
fn es256_and_pairwise_only_groups() {
    let h = Harness::memory(GROUPS);
    // ES256 group mode.
    let keys = ClientKeys::new(SignatureAlgorithm::Es256);
    let (caller, n_s) = h.client(&keys, &[("ges", REQUESTER)]);
    let req = join_request("ges", REQUESTER, &n_s, Proof::Signature(&keys), None, None);
    let out = h.join(&caller, "ges", &req);
    assert_eq!(out.response.code, Code::CREATED);
    let resp = decode_join(&out);
    let key = resp.material.key.group_oscore().unwrap();
    assert!(key.has_group_mode() && !key.has_pairwise_mode());
    let kdc = resp.kdc.unwrap();
    let kdc_key = Credential::parse_ccs(&kdc.kdc_cred)
        .unwrap()
        .verifying_key()
        .unwrap();
    assert_eq!(kdc_key.algorithm(), SignatureAlgorithm::Es256);
    let _proof = kdc
        .verify(&req.cnonce, PopCheck::Signature(&kdc_key))
        .unwrap();

    // Pairwise-only: the PoP is the HKDF MAC with the KDC's DH credential,
    // which the token transfer gives in kdc_dh_creds and a 4.00 in its body.
    let keys = ClientKeys::ed25519();
    let (caller, n_s) = h.client(&keys, &[("gp", REQUESTER)]);
    let probe = h.join(
        &caller,
        "gp",
        &join_request("gp", REQUESTER, &n_s, Proof::None, None, None),
    );
    assert_eq!(probe.response.code, Code::BAD_REQUEST);
    let body = GroupcommErrorBody::decode(&probe.response.payload).unwrap();
    let kdc_dh = kdc_dh_key(&body.kdc_dh_creds.unwrap()[0].cred);
    let req = join_request(
        "gp",
        REQUESTER,
        &n_s,
        Proof::Mac(&keys, &kdc_dh),
        None,
        None,
    );
    let out = h.join(&caller, "gp", &req);
    assert_eq!(
        out.response.code,
        Code::CREATED,
        "{:?}",
        String::from_utf8_lossy(&out.response.payload)
    );
    let resp = decode_join(&out);
    let key = resp.material.key.group_oscore().unwrap();
    assert!(!key.has_group_mode() && key.has_pairwise_mode());
    let _proof = resp
        .kdc
        .unwrap()
        .verify(
            &req.cnonce,
            PopCheck::Mac {
                own: &keys.dh,
                peer: &kdc_dh,
            },
        )
        .unwrap();
}

/// Every refused join: code, error id, and nothing changed.
#[test]
fn refused_joins_change_nothing() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    let (caller, n_s) = h.client(&keys, &[("g1", REQUESTER), ("g2", REQUESTER)]);
    // A member, so that rejoin cases exist.
    let other = ClientKeys::ed25519();
    let (member, m_ns) = h.client(&other, &[("g1", REQUESTER)]);
    assert_eq!(
        h.join(
            &member,
            "g1",
            &join_request("g1", REQUESTER, &m_ns, Proof::Signature(&other), None, None)
        )
        .response
        .code,
        Code::CREATED
    );

    let es_keys = ClientKeys::new(SignatureAlgorithm::Es256);
    let no_alg = {
        // A CCS whose COSE_Key has no alg.
        let pk = ace_proto::credential::PublicKey::from(&keys.signing.verifying_key());
        let cose_key = pk.to_cose_key(None, -8);
        let entries: Vec<_> = cose_key
            .entries()
            .iter()
            .filter(|(k, _)| *k != ace_proto::cbor::IntOrText::Int(3))
            .cloned()
            .collect();
        let stripped = ace_proto::credential::CoseKey::from_entries(entries).unwrap();
        ace_proto::cwt::ClaimsSet {
            sub: Some(String::new()),
            cnf: Some(ace_proto::cwt::Confirmation::CoseKey(stripped)),
            ..Default::default()
        }
        .encode()
    };
    let forged = {
        let mut r = join_request("g1", REQUESTER, &n_s, Proof::Signature(&keys), None, None);
        let sig = r.client_cred_verify.as_mut().unwrap();
        sig[0] ^= 0x80;
        r
    };
    let stale = join_request(
        "g1",
        REQUESTER,
        &random_bytes(8),
        Proof::Signature(&keys),
        None,
        None,
    );
    let wrong_alg = join_request(
        "g1",
        REQUESTER,
        &n_s,
        Proof::Signature(&es_keys),
        None,
        None,
    );
    let alg_missing = join_request(
        "g1",
        REQUESTER,
        &n_s,
        Proof::Raw {
            cred: no_alg,
            evidence: Some(vec![0; 64]),
        },
        None,
        None,
    );
    let garbage_cred = join_request(
        "g1",
        REQUESTER,
        &n_s,
        Proof::Raw {
            cred: vec![1, 2, 3],
            evidence: Some(vec![0; 64]),
        },
        None,
        None,
    );
    let no_pop = join_request(
        "g1",
        REQUESTER,
        &n_s,
        Proof::Raw {
            cred: keys.credential.clone(),
            evidence: None,
        },
        None,
        None,
    );
    let not_granted = join_request("g1", RESPONDER, &n_s, Proof::Signature(&keys), None, None);
    let bad_roles = join_request(
        "g1",
        REQUESTER | MONITOR,
        &n_s,
        Proof::Signature(&keys),
        None,
        None,
    );
    let other_group_scope =
        join_request("g2", REQUESTER, &n_s, Proof::Signature(&keys), None, None);
    let no_cred = join_request("g1", REQUESTER, &n_s, Proof::None, None, None);
    let bad_control = join_request(
        "g1",
        REQUESTER,
        &n_s,
        Proof::Signature(&keys),
        None,
        Some("coap://h/ace-group/g1".into()),
    );
    let bad_get_creds = {
        let mut r = join_request("g1", REQUESTER, &n_s, Proof::Signature(&keys), None, None);
        r.get_creds = Some(GetCreds::Filter(ace_proto::groupcomm::CredsFilter {
            inclusion_flag: false,
            role_filter: vec![ace_proto::roles::Roles::Aif(REQUESTER)],
            id_filter: vec![],
        }));
        r
    };

    // (what, caller, path group, request, code, error id)
    let cases: Vec<(&str, Caller, &str, Vec<u8>, Code, Option<i64>)> = vec![
        (
            "forged PoP",
            caller.clone(),
            "g1",
            forged.encode(),
            Code::BAD_REQUEST,
            Some(3),
        ),
        (
            "PoP over a stale kdcchallenge",
            caller.clone(),
            "g1",
            stale.encode(),
            Code::BAD_REQUEST,
            Some(3),
        ),
        (
            "credential with the wrong algorithm",
            caller.clone(),
            "g1",
            wrong_alg.encode(),
            Code::BAD_REQUEST,
            Some(2),
        ),
        (
            "credential without alg",
            caller.clone(),
            "g1",
            alg_missing.encode(),
            Code::BAD_REQUEST,
            Some(2),
        ),
        (
            "not a credential",
            caller.clone(),
            "g1",
            garbage_cred.encode(),
            Code::BAD_REQUEST,
            Some(2),
        ),
        (
            "no client_cred_verify",
            caller.clone(),
            "g1",
            no_pop.encode(),
            Code::BAD_REQUEST,
            Some(3),
        ),
        (
            "role not in the token",
            caller.clone(),
            "g1",
            not_granted.encode(),
            Code::FORBIDDEN,
            None,
        ),
        (
            "Requester+Monitor",
            caller.clone(),
            "g1",
            bad_roles.encode(),
            Code::BAD_REQUEST,
            None,
        ),
        (
            "scope names another group",
            caller.clone(),
            "g1",
            other_group_scope.encode(),
            Code::BAD_REQUEST,
            None,
        ),
        (
            "no credential on a first join",
            caller.clone(),
            "g1",
            no_cred.encode(),
            Code::BAD_REQUEST,
            None,
        ),
        (
            "control_uri is the group resource",
            caller.clone(),
            "g1",
            bad_control.encode(),
            Code::BAD_REQUEST,
            None,
        ),
        (
            "get_creds with the exclusion flag",
            caller.clone(),
            "g1",
            bad_get_creds.encode(),
            Code::BAD_REQUEST,
            None,
        ),
        (
            "not CBOR",
            caller.clone(),
            "g1",
            vec![0xff],
            Code::BAD_REQUEST,
            None,
        ),
        (
            "no cnonce",
            caller.clone(),
            "g1",
            vec![0xa0],
            Code::BAD_REQUEST,
            None,
        ),
        (
            "unknown group",
            caller.clone(),
            "nosuch",
            join_request(
                "nosuch",
                REQUESTER,
                &n_s,
                Proof::Signature(&keys),
                None,
                None,
            )
            .encode(),
            Code::NOT_FOUND,
            None,
        ),
        (
            "group not in the token",
            caller.clone(),
            "ges",
            join_request("ges", REQUESTER, &n_s, Proof::Signature(&keys), None, None).encode(),
            Code::FORBIDDEN,
            None,
        ),
        (
            "no token",
            Caller::Unauthenticated,
            "g1",
            join_request("g1", REQUESTER, &n_s, Proof::Signature(&keys), None, None).encode(),
            Code::UNAUTHORIZED,
            None,
        ),
    ];
    for (what, who, group, body, code, error_id) in cases {
        let before = h.fingerprint();
        let out = h.send(
            &who,
            ace_kdc::Method::Post,
            &format!("/ace-group/{group}"),
            cf::ACE_GROUPCOMM_CBOR,
            body,
        );
        assert_eq!(
            out.response.code,
            code,
            "{what}: {}",
            String::from_utf8_lossy(&out.response.payload)
        );
        if let Some(id) = error_id {
            assert_eq!(
                out.response.content_format,
                Some(cf::CONCISE_PROBLEM_DETAILS_CBOR),
                "{what}"
            );
            assert_eq!(error_id_of(&out.response.payload), Some(id), "{what}");
        }
        assert!(out.effects.is_empty(), "{what}");
        assert_eq!(h.fingerprint(), before, "{what} changed state");
    }
}

#[test]
fn missing_kdcchallenge_gets_a_new_one_that_then_works() {
    let h = Harness::memory(GROUPS);
    let keys = ClientKeys::ed25519();
    // A Monitor+Requester... no: a token granting Monitor only has no N_S;
    // the access-rights update then grants Requester without a new N_S.
    let (caller, n_s) = h.client(&keys, &[("g1", MONITOR)]);
    assert!(n_s.is_empty());
    let mut update = keys.token(&[("g1", REQUESTER)], h.now + 600);
    update.cnf = ace_proto::cwt::Confirmation::Kid(keys.material.id.clone().unwrap());
    let body = ace_proto::authz_info::TokenTransferRequest {
        access_token: h.authority.mint(&update),
        ..Default::default()
    };
    assert_eq!(
        h.send(
            &caller,
            ace_kdc::Method::Post,
            "/authz-info",
            cf::ACE_CBOR,
            body.encode()
        )
        .response
        .code,
        Code::CREATED
    );
    let out = h.join(
        &caller,
        "g1",
        &join_request("g1", REQUESTER, &[], Proof::Signature(&keys), None, None),
    );
    assert_eq!(out.response.code, Code::BAD_REQUEST);
    assert_eq!(out.response.content_format, Some(cf::ACE_GROUPCOMM_CBOR));
    let body = GroupcommErrorBody::decode(&out.response.payload).unwrap();
    let fresh = body.kdcchallenge.unwrap();
    assert!(body.sign_info.is_some());
    let out = h.join(
        &caller,
        "g1",
        &join_request("g1", REQUESTER, &fresh, Proof::Signature(&keys), None, None),
    );
    assert_eq!(out.response.code, Code::CREATED);
}

#[test]
fn backward_security_rekeys_on_every_join() {
    let h = Harness::memory(GROUPS);
    let a = ClientKeys::ed25519();
    let (ca, na) = h.client(&a, &[("gb", REQUESTER | RESPONDER)]);
    let out = h.join(
        &ca,
        "gb",
        &join_request(
            "gb",
            REQUESTER | RESPONDER,
            &na,
            Proof::Signature(&a),
            None,
            Some("coap://127.0.0.1:1/rk".into()),
        ),
    );
    assert_eq!(
        decode_join(&out).material.num,
        1,
        "first joiner gets never-used material"
    );
    let b = ClientKeys::ed25519();
    let (cb, nb) = h.client(&b, &[("gb", REQUESTER)]);
    let out = h.join(
        &cb,
        "gb",
        &join_request("gb", REQUESTER, &nb, Proof::Signature(&b), None, None),
    );
    let resp = decode_join(&out);
    assert_eq!(resp.material.num, 2);
    // The first member gets the rekeying message with the joiner's
    // credential and Sender ID.
    let Some(Effect::Rekey(d)) = out.effects.first() else {
        panic!("no rekey")
    };
    assert_eq!(d.num, 2);
    assert_eq!(d.targets.len(), 1);
    assert_eq!(d.targets[0].node, "node0");
    assert_eq!(
        d.targets[0].control_uri.as_deref(),
        Some("coap://127.0.0.1:1/rk")
    );
    let msg = ace_proto::groupcomm::RekeyingMessage::decode(&d.payload).unwrap();
    assert_eq!(msg.material.num, 2);
    let peers = msg.peers.unwrap();
    assert_eq!(peers.creds, vec![b.credential.clone()]);
    assert_eq!(
        peers.peer_identifiers,
        vec![support::sender_id(&resp.material).unwrap()]
    );
    assert_eq!(
        msg.material.key.group_oscore().unwrap().gid(),
        resp.material.key.group_oscore().unwrap().gid()
    );
}

#[test]
fn sender_ids_run_out() {
    let h = Harness::memory(GROUPS);
    // g8 hands out one-byte Sender IDs: 256 of them.
    let mut last = None;
    for i in 0..257 {
        let k = ClientKeys::ed25519();
        let (c, n) = h.client(&k, &[("g8", REQUESTER)]);
        let out = h.join(
            &c,
            "g8",
            &join_request("g8", REQUESTER, &n, Proof::Signature(&k), None, None),
        );
        if i < 256 {
            assert_eq!(out.response.code, Code::CREATED, "join {i}");
        } else {
            last = Some(out);
        }
    }
    let out = last.unwrap();
    assert_eq!(out.response.code, Code::SERVICE_UNAVAILABLE);
    assert_eq!(error_id_of(&out.response.payload), Some(4));
}
