//! Property tests of the RFC 9594 / Group OSCORE profile message types:
//! `decode(encode(x)) == x` for every message type, and no decoder panics on
//! arbitrary bytes, on arbitrary CBOR, or on damaged valid messages.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::authz_info::{EcdhInfoEntry, GroupNames, KdcDhCredsEntry, SignInfoEntry};
use ace_proto::cbor::{self, IntOrText, Value};
use ace_proto::groupcomm::*;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::problem::ProblemDetails;
use ace_proto::roles::Roles;
use ace_proto::{Codec, DecodeError};
use proptest::prelude::*;
use std::collections::BTreeMap;

// ---------------------------------------------------------------- strategies

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..12)
}

fn text() -> impl Strategy<Value = String> {
    "[a-z/ -]{0,10}"
}

fn int_or_text() -> impl Strategy<Value = IntOrText> {
    prop_oneof![
        any::<i64>().prop_map(IntOrText::Int),
        text().prop_map(IntOrText::Text)
    ]
}

/// Any CBOR value this crate round-trips (no floats: NaN is not equal to
/// itself; no simple values other than bool and null).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        bytes().prop_map(Value::Bytes),
        text().prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Value::Map),
            // Not tags 2 and 3: ciborium reads bignums back as integers.
            (4u64..1000, inner).prop_map(|(t, v)| Value::Tag(t, Box::new(v))),
        ]
    })
}

/// Extra map entries with keys in `ints` or text keys, without duplicates.
fn extras(ints: std::ops::Range<i64>) -> impl Strategy<Value = Vec<(IntOrText, Value)>> {
    (
        prop::collection::btree_map(ints, value(), 0..3),
        prop::collection::btree_map("[a-z-]{1,8}", value(), 0..3),
    )
        .prop_map(|(i, t): (BTreeMap<i64, Value>, BTreeMap<String, Value>)| {
            i.into_iter()
                .map(|(k, v)| (IntOrText::Int(k), v))
                .chain(t.into_iter().map(|(k, v)| (IntOrText::Text(k), v)))
                .collect()
        })
}

fn roles() -> impl Strategy<Value = Roles> {
    prop_oneof![
        prop::collection::vec("[a-z]{1,8}", 1..4).prop_map(Roles::Text),
        any::<u64>().prop_map(Roles::Aif),
    ]
}

fn capabilities() -> impl Strategy<Value = Capabilities> {
    (
        prop::collection::vec(value(), 0..3),
        prop::collection::vec(value(), 0..3),
    )
        .prop_map(|(alg, key_type)| Capabilities { alg, key_type })
}

/// A Group_OSCORE_Input_Material with the member fields (`ms`, `contextId`,
/// `cred_fmt`) present, as every message but `verif-data` requires.
fn group_oscore_key() -> impl Strategy<Value = GroupOscoreInputMaterial> {
    (
        (
            prop::option::of(bytes()),
            prop::option::of(any::<u64>()),
            bytes(),
            prop::option::of(int_or_text()),
            prop::option::of(int_or_text()),
            prop::option::of(bytes()),
            bytes(),
        ),
        (
            prop::option::of(bytes()),
            any::<i64>(),
            prop::option::of(int_or_text()),
            prop::option::of(int_or_text()),
            prop::option::of(capabilities()),
            prop::option::of(int_or_text()),
            prop::option::of(capabilities()),
        ),
        extras(14..40),
    )
        .prop_map(
            |(
                (id, version, ms, hkdf, alg, salt, context_id),
                (sid, cred_fmt, gp_enc_alg, sign_alg, sign_params, ecdh_alg, ecdh_params),
                rest,
            )| GroupOscoreInputMaterial {
                oscore: OscoreInputMaterial {
                    id,
                    version,
                    ms: Some(ms),
                    hkdf,
                    alg,
                    salt,
                    context_id: Some(context_id),
                    rest,
                },
                group_sender_id: sid,
                cred_fmt: Some(cred_fmt),
                gp_enc_alg,
                sign_alg,
                sign_params,
                ecdh_alg,
                ecdh_params,
            },
        )
}

fn group_key() -> impl Strategy<Value = GroupKey> {
    prop_oneof![
        group_oscore_key().prop_map(|k| GroupKey::GroupOscore(Box::new(k))),
        (
            int_or_text().prop_filter("not the Group OSCORE key type", |g| *g != IntOrText::Int(1)),
            value()
        )
            .prop_map(|(gkty, key)| GroupKey::Other { gkty, key }),
    ]
}

fn material() -> impl Strategy<Value = GroupKeyingMaterial> {
    (
        group_key(),
        any::<i64>(),
        prop::option::of(any::<i64>()),
        prop::option::of((prop::option::of(any::<u64>()), any::<u64>())),
    )
        .prop_map(|(key, num, profile, times)| {
            let (exp, exi) = match times {
                Some((exp, exi)) => (exp, Some(exi)),
                None => (None, None),
            };
            GroupKeyingMaterial {
                key,
                num,
                ace_groupcomm_profile: profile,
                exp,
                exi,
            }
        })
}

fn peers() -> impl Strategy<Value = PeerCredentials> {
    (0usize..4).prop_flat_map(|n| {
        (
            prop::collection::vec(bytes(), n),
            prop::option::of(prop::collection::vec(roles(), n)),
            prop::collection::vec(bytes(), n),
        )
            .prop_map(|(creds, peer_roles, peer_identifiers)| PeerCredentials {
                creds,
                peer_roles,
                peer_identifiers,
            })
    })
}

fn policies() -> impl Strategy<Value = GroupPolicies> {
    (
        prop::option::of(int_or_text()),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<u64>()),
        extras(3..30),
    )
        .prop_map(|(s, k, e, other)| GroupPolicies {
            sequence_number_sync: s,
            key_update_check_interval: k,
            expiration_delta: e,
            other,
        })
}

fn kdc_cred() -> impl Strategy<Value = KdcCred> {
    (bytes(), bytes(), bytes()).prop_map(|(kdc_cred, kdc_nonce, kdc_cred_verify)| KdcCred {
        kdc_cred,
        kdc_nonce,
        kdc_cred_verify,
    })
}

fn join_get_creds() -> impl Strategy<Value = GetCreds> {
    prop_oneof![
        Just(GetCreds::All),
        prop::collection::vec(roles(), 1..3).prop_map(|r| GetCreds::Filter(CredsFilter::roles(r))),
    ]
}

fn fetch_get_creds() -> impl Strategy<Value = GetCreds> {
    (
        any::<bool>(),
        prop::collection::vec(roles(), 0..3),
        prop::collection::vec(bytes(), 0..3),
    )
        .prop_filter("filters not both empty", |(_, r, i)| {
            !(r.is_empty() && i.is_empty())
        })
        .prop_map(|(inclusion_flag, role_filter, id_filter)| {
            GetCreds::Filter(CredsFilter {
                inclusion_flag,
                role_filter,
                id_filter,
            })
        })
}

fn join_request() -> impl Strategy<Value = JoinRequest> {
    (
        prop::option::of(bytes()),
        prop::option::of(join_get_creds()),
        prop::option::of(bytes()),
        bytes(),
        prop::option::of(bytes()),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(
            |(scope, get_creds, client_cred, cnonce, verify, repo, uri)| JoinRequest {
                scope,
                get_creds,
                client_cred,
                cnonce,
                client_cred_verify: verify,
                creds_repo: repo,
                control_uri: uri,
            },
        )
}

fn join_response() -> impl Strategy<Value = JoinResponse> {
    (
        material(),
        prop::option::of(peers()),
        prop::option::of(policies()),
        prop::option::of(kdc_cred()),
        prop::option::of(any::<i64>()),
        prop::option::of(bytes()),
        prop::option::of(text()),
    )
        .prop_map(
            |(material, peers, pol, kdc, scheme, mgt, uri)| JoinResponse {
                material,
                peers,
                group_policies: pol,
                kdc,
                rekeying_scheme: scheme,
                mgt_key_material: mgt,
                control_group_uri: uri,
            },
        )
}

fn key_distribution() -> impl Strategy<Value = KeyDistributionResponse> {
    (
        material(),
        prop::option::of(any::<i64>()),
        prop::option::of(bytes()),
    )
        .prop_map(
            |(material, rekeying_scheme, mgt_key_material)| KeyDistributionResponse {
                material,
                rekeying_scheme,
                mgt_key_material,
            },
        )
}

fn individual() -> impl Strategy<Value = IndividualKeyingMaterial> {
    (
        prop::option::of(key_distribution()),
        prop::option::of(bytes()),
        extras(100..120),
    )
        .prop_filter("some keying material", |(g, s, i)| {
            g.is_some() || s.is_some() || !i.is_empty()
        })
        .prop_map(
            |(group, group_sender_id, individual)| IndividualKeyingMaterial {
                group,
                group_sender_id,
                individual,
            },
        )
}

fn group_id() -> impl Strategy<Value = GroupId> {
    prop_oneof![
        any::<i64>().prop_map(GroupId::Int),
        bytes().prop_map(GroupId::Bytes),
        text().prop_map(GroupId::Text),
    ]
}

fn group_names_response() -> impl Strategy<Value = GroupNamesResponse> {
    (0usize..4).prop_flat_map(|n| {
        (
            prop::collection::vec(group_id(), n),
            prop::collection::vec(text(), n),
            prop::collection::vec(text(), n),
        )
            .prop_map(|(gid, gname, guri)| GroupNamesResponse { gid, gname, guri })
    })
}

fn rekeying() -> impl Strategy<Value = RekeyingMessage> {
    (
        material(),
        prop::option::of(peers()),
        prop::option::of(bytes()),
        prop::option::of(prop::collection::vec(bytes(), 0..4)),
    )
        .prop_map(|(material, peers, mgt, stale)| RekeyingMessage {
            material,
            peers,
            mgt_key_material: mgt,
            stale_node_ids: stale,
        })
}

fn problem_details() -> impl Strategy<Value = ProblemDetails> {
    (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(any::<i64>()),
        extras(-7..-2),
        extras(1..20),
    )
        .prop_map(|(title, detail, error_id, standard, custom)| {
            // Standard entries come before the custom ones, as on the wire.
            let other = standard
                .into_iter()
                .filter(|(k, _)| matches!(k, IntOrText::Int(_)))
                .chain(custom)
                .collect();
            ProblemDetails {
                title,
                detail,
                error_id,
                other,
            }
        })
        .prop_filter("non-empty", |p| {
            p.title.is_some() || p.detail.is_some() || p.error_id.is_some() || !p.other.is_empty()
        })
}

fn group_names() -> impl Strategy<Value = GroupNames> {
    prop_oneof![
        "[a-z0-9]{1,6}".prop_map(GroupNames::One),
        prop::collection::vec("[a-z0-9]{1,6}", 1..3).prop_map(GroupNames::Many),
    ]
}

fn caps() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(value(), 0..3)
}

fn error_body() -> impl Strategy<Value = GroupcommErrorBody> {
    let sign = (
        group_names(),
        int_or_text(),
        caps(),
        caps(),
        prop::collection::vec(caps(), 0..2),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(id, sign_alg, p, k, more, cred_fmt)| SignInfoEntry {
            id,
            sign_alg,
            sign_parameters: p,
            sign_key_parameters: k,
            more_capabilities: more,
            cred_fmt,
        });
    let ecdh = (
        group_names(),
        int_or_text(),
        caps(),
        caps(),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(id, ecdh_alg, p, k, cred_fmt)| EcdhInfoEntry {
            id,
            ecdh_alg,
            ecdh_parameters: p,
            ecdh_key_parameters: k,
            more_capabilities: vec![],
            cred_fmt,
        });
    let dh = (group_names(), any::<i64>(), bytes())
        .prop_map(|(id, cred_fmt, cred)| KdcDhCredsEntry { id, cred_fmt, cred });
    (
        prop::option::of(prop::collection::vec(sign, 1..3)),
        prop::option::of(bytes()),
        prop::option::of(prop::collection::vec(ecdh, 1..3)),
        prop::option::of(prop::collection::vec(dh, 1..3)),
    )
        .prop_map(
            |(sign_info, kdcchallenge, ecdh_info, kdc_dh_creds)| GroupcommErrorBody {
                sign_info,
                kdcchallenge,
                ecdh_info,
                kdc_dh_creds,
            },
        )
}

// ---------------------------------------------------------------- round trips

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(x: &T) -> Result<(), TestCaseError> {
    let bytes = x.encode();
    let back = T::decode(&bytes);
    prop_assert_eq!(back.as_ref(), Ok(x), "decode(encode(x)) for {:?}", x);
    prop_assert_eq!(back.unwrap().encode(), bytes);
    Ok(())
}

proptest! {
    #[test]
    fn join_request_round_trips(x in join_request()) { round_trip(&x)?; }

    #[test]
    fn join_response_round_trips(x in join_response()) { round_trip(&x)?; }

    #[test]
    fn key_distribution_round_trips(x in key_distribution()) { round_trip(&x)?; }

    #[test]
    fn individual_keying_material_round_trips(x in individual()) { round_trip(&x)?; }

    #[test]
    fn creds_round_trip(
        g in fetch_get_creds(),
        num in prop::option::of(any::<i64>()),
        p in peers(),
        nothing in any::<bool>(),
    ) {
        round_trip(&FetchCredsRequest { get_creds: g })?;
        let response = CredsResponse { num, peers: p };
        round_trip(&response)?;
        let body = if nothing { OrNothing::Nothing } else { OrNothing::Content(response) };
        round_trip(&body)?;
    }

    #[test]
    fn get_creds_round_trips(g in prop_oneof![join_get_creds(), fetch_get_creds()]) {
        round_trip(&g)?;
    }

    #[test]
    fn kdc_cred_round_trips(x in kdc_cred(), n in bytes()) {
        round_trip(&x)?;
        round_trip(&KdcCredFetchRequest { cnonce: n })?;
    }

    #[test]
    fn policies_round_trip(p in policies(), nothing in any::<bool>()) {
        round_trip(&p)?;
        let body = if nothing {
            OrNothing::Nothing
        } else {
            OrNothing::Content(PoliciesResponse { group_policies: p })
        };
        round_trip(&body)?;
    }

    #[test]
    fn version_and_stale_sids_round_trip(
        n in any::<i64>(),
        v in any::<u64>(),
        ids in prop::option::of(prop::collection::vec(bytes(), 0..5)),
    ) {
        round_trip(&VersionResponse(n))?;
        round_trip(&StaleSidsRequest(v))?;
        let response = ids.map_or(StaleSidsResponse::Unavailable, StaleSidsResponse::Sids);
        prop_assert_eq!(StaleSidsResponse::from_payload(&response.to_payload()), Ok(response));
    }

    #[test]
    fn group_names_round_trip(
        gid in prop::collection::vec(group_id(), 1..4),
        response in group_names_response(),
    ) {
        round_trip(&GroupNamesRequest { gid })?;
        round_trip(&response)?;
        round_trip(&OrNothing::Content(response))?;
    }

    #[test]
    fn cred_update_round_trips(c in bytes(), n in bytes(), v in bytes()) {
        round_trip(&CredUpdateRequest { client_cred: c, cnonce: n, client_cred_verify: v })?;
    }

    #[test]
    fn rekeying_message_round_trips(x in rekeying()) { round_trip(&x)?; }

    #[test]
    fn verif_data_round_trips(material in material(), key in bytes()) {
        round_trip(&VerifDataResponse { material, sign_enc_key: key })?;
    }

    #[test]
    fn group_oscore_key_round_trips(k in group_oscore_key()) { round_trip(&k)?; }

    #[test]
    fn problem_details_round_trip(p in problem_details()) { round_trip(&p)?; }

    #[test]
    fn error_body_round_trips(b in error_body()) { round_trip(&b)?; }
}

// ---------------------------------------------------------------- no panics

/// Feeds `bytes` to every decoder; only the absence of a panic is checked,
/// plus the contract that a refusal maps to a 4.xx code.
fn decode_everything(bytes: &[u8]) {
    fn one<T: Codec>(bytes: &[u8]) {
        if let Err(e) = T::decode(bytes) {
            let e: DecodeError = e;
            assert_eq!(e.code().class(), 4, "{e}");
        }
    }
    one::<JoinRequest>(bytes);
    one::<JoinResponse>(bytes);
    one::<KeyDistributionResponse>(bytes);
    one::<IndividualKeyingMaterial>(bytes);
    one::<GetCreds>(bytes);
    one::<FetchCredsRequest>(bytes);
    one::<CredsResponse>(bytes);
    one::<OrNothing<CredsResponse>>(bytes);
    one::<KdcCred>(bytes);
    one::<KdcCredFetchRequest>(bytes);
    one::<GroupPolicies>(bytes);
    one::<PoliciesResponse>(bytes);
    one::<OrNothing<PoliciesResponse>>(bytes);
    one::<VersionResponse>(bytes);
    one::<GroupNamesRequest>(bytes);
    one::<GroupNamesResponse>(bytes);
    one::<OrNothing<GroupNamesResponse>>(bytes);
    one::<CredUpdateRequest>(bytes);
    one::<RekeyingMessage>(bytes);
    one::<StaleSidsRequest>(bytes);
    one::<VerifDataResponse>(bytes);
    one::<GroupOscoreInputMaterial>(bytes);
    one::<ProblemDetails>(bytes);
    one::<GroupcommErrorBody>(bytes);
    let _ = StaleSidsResponse::from_payload(bytes);
    let _ = ace_proto::problem::error_id_of(bytes);
    // A decoded get_creds goes straight into the selection function.
    if let Ok(g) = GetCreds::decode(bytes) {
        let members = [Member {
            node_id: vec![1],
            roles: Roles::Aif(6),
            credential: vec![],
        }];
        for ctx in [CredsContext::Join, CredsContext::Fetch] {
            let _ = select_creds(&g, ctx, &members);
        }
    }
}

/// A map with integer keys 0-40 (the parameter space) and arbitrary values,
/// to reach the per-parameter type checks.
fn parameter_map() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(0i64..41, value(), 0..8)
        .prop_map(|m| Value::Map(m.into_iter().map(|(k, v)| (Value::from(k), v)).collect()))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_everything(&bytes);
    }

    #[test]
    fn arbitrary_cbor_never_panics(v in prop_oneof![value(), parameter_map()]) {
        decode_everything(&cbor::to_vec(&v));
    }

    #[test]
    fn damaged_messages_never_panic(
        x in join_response(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = x.encode();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        decode_everything(&bytes);
        let j = cut.index(bytes.len());
        decode_everything(&bytes[..j]);
    }
}
