//! Every example payload of RFC 9594 section 7 / the spec digest
//! (Figures 6 to 33 that carry a payload) and the PoP inputs of Figures 10,
//! 11, 20 and 31, plus the byte-level examples of
//! draft-ietf-ace-key-groupcomm-oscore-21 (Figures 3, 5, 11): each is built
//! from typed values and encoded byte for byte, then decoded and re-encoded
//! to the same bytes.
//!
//! The hex of each figure was produced from the RFC's diagnostic notation
//! with Python `cbor2` (preferred serialization, keys in the figure's order)
//! and pasted here; the PoP inputs are the RFC's own bytes.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::cbor::{IntOrText, Value};
use ace_proto::consts::groupcomm::{ErrorId, key_type, profile};
use ace_proto::groupcomm::*;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::pop;
use ace_proto::problem::ProblemDetails;
use ace_proto::roles::Roles;
use ace_proto::scope::ScopeEntry;
use ace_proto::{Codec, DecodeError};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

/// Encodes `typed`, compares with `hex`, decodes `hex`, compares with
/// `typed`, and re-encodes the decoded value.
fn check<T: Codec + PartialEq + std::fmt::Debug>(typed: &T, hex: &str) {
    let bytes = h(hex);
    assert_eq!(hex::encode(typed.encode()), hex::encode(&bytes), "encoding");
    let decoded = T::decode(&bytes).expect("decodes");
    assert_eq!(&decoded, typed, "decoded value");
    assert_eq!(decoded.encode(), bytes, "re-encoding");
}

// The CCS credentials of the examples (84 bytes each; kid 0a, 02, 03, 09,
// 99, fc).
const CRED_0A: &str = "a2026008a101a5010202410a2001215820bbc34960526ea4d32e940cad2a234148\
                       ddc21791a12afbcbac93622046dd44f02258204519e257236b2a0ce2023f0931f1f3\
                       86ca7afda64fcde0108c224c51eabf6072";
const CRED_02: &str = "a2026008a101a501020241022001215820cd4177ba62433375ede279b5e18e8b91\
                       bc3ed8f1e174474a26fc0edb44ea5373225820a0391de29c5c5badda610d4e301eaa\
                       a18422367722289cd18cbe6624e89b9cfd";
const CRED_03: &str = "a2026008a101a501020241032001215820ac75e9ece3e50bfc8ed60399889522405c\
                       47bf16df96660a41298cb4307f7eb62258206e5de611388a4b8a8211334ac7d37ecb\
                       52a387d257e6db3c2a93df21ff3affc8";
const CRED_09: &str = "a2026008a101a5010202410920012158206f9702a66602d78f5e81bac1e0af01f8b5\
                       2810c502e87ebb7c926c07426fd02f225820c8d33274c71c9b3ee57d842bbf2238b8\
                       283cb410eca216fb72a78ea7a870f800";
const CRED_99: &str = "a2026008a101a50102024199200121582065eda5a12577c2bae829437fe338701a10\
                       aaa375e1bb5b5de108de439c08551d2258201e52ed75701163f7f9e40ddf9f341b3d\
                       c9ba860af7e0ca7ca7e9eecd0084d19c";
const CRED_FC: &str = "a2026008a101a501020241fc2001215820bac5b11cad8f99f9c72b05cf4b9e26d244\
                       dc189f745228255a219a86d6a09eff22582020138bf82dc1b6d562be0fa54ab7804a\
                       3a64b6d72ccfed6b6fb6ed28bbfc117e";

fn sender() -> Roles {
    Roles::text("sender")
}
fn receiver() -> Roles {
    Roles::text("receiver")
}
fn sender_receiver() -> Roles {
    Roles::Text(vec!["sender".into(), "receiver".into()])
}

/// `gkty` 65600 with `key` h'73657373696f6e6b6579' ("sessionkey"), num 12.
fn session_key(num: i64) -> GroupKeyingMaterial {
    GroupKeyingMaterial {
        key: GroupKey::Other {
            gkty: IntOrText::Int(65600),
            key: Value::Bytes(b"sessionkey".to_vec()),
        },
        num,
        ace_groupcomm_profile: None,
        exp: None,
        exi: None,
    }
}

#[test]
fn figure_6_problem_details() {
    let typed = ProblemDetails::groupcomm(
        ErrorId::NoIndividualKeyingMaterial,
        Some("Things will change after a group rekeying; try later".into()),
    );
    check(
        &typed,
        "a32078274e6f20617661696c61626c6520696e646976696475616c206b6579696e67206d6174\
         657269616c2178345468696e67732077696c6c206368616e676520616674657220612067726f\
         75702072656b6579696e673b20747279206c6174657200a10004",
    );
    assert_eq!(
        typed.known_error(),
        Some(ErrorId::NoIndividualKeyingMaterial)
    );
}

#[test]
fn figure_8_group_name_retrieval() {
    let request = GroupNamesRequest {
        gid: vec![GroupId::Int(1), GroupId::Int(2)],
    };
    check(&request, "a100820102");
    let response = GroupNamesResponse {
        gid: vec![GroupId::Int(1), GroupId::Int(2)],
        gname: vec!["group1".into(), "group2".into()],
        guri: vec!["/ace-group/g1".into(), "/ace-group/g2".into()],
    };
    let hex = "a30082010201826667726f7570316667726f75703202826d2f6163652d67726f75702f\
               67316d2f6163652d67726f75702f6732";
    check(&response, hex);
    check(&OrNothing::Content(response), hex);
    check(&OrNothing::<GroupNamesResponse>::Nothing, "40");
}

#[test]
fn figure_10_and_11_pop_inputs() {
    // Figure 10: scope = ["group1", "sender"], N_S, N_C.
    let scope = ScopeEntry::textual("group1", &["sender"]).encode();
    assert_eq!(hex::encode(&scope), "826667726f7570316673656e646572");
    let input = pop::client_pop_input(&scope, &h("018a278f7faab55a"), &h("25a8991cd700ac01"));
    assert_eq!(
        hex::encode(&input),
        "4f826667726f7570316673656e64657248018a278f7faab55a4825a8991cd700ac01"
    );
    assert_eq!(input.len(), 34);
    // The same through a Join Request carrying that scope and cnonce.
    let join = JoinRequest {
        scope: Some(scope),
        get_creds: None,
        client_cred: None,
        cnonce: h("25a8991cd700ac01"),
        client_cred_verify: None,
        creds_repo: None,
        control_uri: None,
    };
    assert_eq!(join.pop_input(&h("018a278f7faab55a"), None), Some(input));

    // Figure 11: N_C and N_KDC.
    let input = pop::kdc_pop_input(&h("25a8991cd700ac01"), &h("cef04b2aa791bc6d"));
    assert_eq!(hex::encode(&input), "4825a8991cd700ac0148cef04b2aa791bc6d");
    assert_eq!(input.len(), 18);
}

fn figure_13_request() -> JoinRequest {
    JoinRequest {
        scope: Some(ScopeEntry::textual("group1", &["sender", "receiver"]).encode()),
        get_creds: Some(GetCreds::Filter(CredsFilter::roles(vec![sender()]))),
        client_cred: Some(h(CRED_0A)),
        cnonce: h("25a8991cd700ac01"),
        client_cred_verify: Some(h(
            "66e6d9b0db009f3e105a673f8855611726caed57f530f8cae9d0b168513ab949\
             fedc3e80a96ebe94ba08d3f8d3bf83487458e2ab4c2f936ff78b50e33c885e35",
        )),
        creds_repo: None,
        control_uri: None,
    }
}

#[test]
fn figure_13_join_request() {
    let typed = figure_13_request();
    assert_eq!(
        hex::encode(typed.scope.as_ref().unwrap()),
        "826667726f757031826673656e646572687265636569766572"
    );
    check(
        &typed,
        "a5035819826667726f757031826673656e6465726872656365697665720483f5816673656e\
         64657280055854a2026008a101a5010202410a2001215820bbc34960526ea4d32e940cad2a23\
         4148ddc21791a12afbcbac93622046dd44f02258204519e257236b2a0ce2023f0931f1f386ca\
         7afda64fcde0108c224c51eabf6072064825a8991cd700ac011818584066e6d9b0db009f3e10\
         5a673f8855611726caed57f530f8cae9d0b168513ab949fedc3e80a96ebe94ba08d3f8d3bf83\
         487458e2ab4c2f936ff78b50e33c885e35",
    );
}

#[test]
fn figure_13_join_response() {
    let typed = JoinResponse {
        material: GroupKeyingMaterial {
            exp: Some(1_924_992_000),
            exi: Some(2_592_000),
            ..session_key(12)
        },
        peers: Some(PeerCredentials {
            creds: vec![h(CRED_02), h(CRED_03)],
            peer_roles: Some(vec![sender(), sender_receiver()]),
            peer_identifiers: vec![h("01"), h("02")],
        }),
        group_policies: None,
        kdc: None,
        rekeying_scheme: None,
        mgt_key_material: None,
        control_group_uri: None,
    };
    check(
        &typed,
        "a8071a00010040084a73657373696f6e6b6579090c0b1a72bd0c000c1a00278d000d825854a2\
         026008a101a501020241022001215820cd4177ba62433375ede279b5e18e8b91bc3ed8f1e174\
         474a26fc0edb44ea5373225820a0391de29c5c5badda610d4e301eaaa18422367722289cd18c\
         be6624e89b9cfd5854a2026008a101a501020241032001215820ac75e9ece3e50bfc8ed60399\
         889522405c47bf16df96660a41298cb4307f7eb62258206e5de611388a4b8a8211334ac7d37e\
         cb52a387d257e6db3c2a93df21ff3affc80e826673656e646572826673656e64657268726563\
         65697665720f8241014102",
    );
}

#[test]
fn figure_15_key_distribution() {
    let typed = KeyDistributionResponse {
        material: session_key(12),
        rekeying_scheme: None,
        mgt_key_material: None,
    };
    check(&typed, "a3071a00010040084a73657373696f6e6b6579090c");
}

#[test]
fn figure_17_fetch_creds() {
    let request = FetchCredsRequest {
        get_creds: GetCreds::Filter(CredsFilter {
            inclusion_flag: true,
            role_filter: vec![],
            id_filter: vec![h("02"), h("03")],
        }),
    };
    check(&request, "a10483f5808241024103");
    let response = CredsResponse {
        num: None,
        peers: PeerCredentials {
            creds: vec![h(CRED_03), h(CRED_09)],
            peer_roles: Some(vec![sender_receiver(), receiver()]),
            peer_identifiers: vec![h("02"), h("03")],
        },
    };
    let hex = "a30d825854a2026008a101a501020241032001215820ac75e9ece3e50bfc8ed603998895\
               22405c47bf16df96660a41298cb4307f7eb62258206e5de611388a4b8a8211334ac7d37ecb\
               52a387d257e6db3c2a93df21ff3affc85854a2026008a101a5010202410920012158206f97\
               02a66602d78f5e81bac1e0af01f8b52810c502e87ebb7c926c07426fd02f225820c8d33274\
               c71c9b3ee57d842bbf2238b8283cb410eca216fb72a78ea7a870f8000e82826673656e6465\
               726872656365697665726872656365697665720f8241024103";
    check(&response, hex);
    check(&OrNothing::Content(response), hex);
}

#[test]
fn figure_19_get_all_creds() {
    let typed = CredsResponse {
        num: Some(12),
        peers: PeerCredentials {
            creds: vec![h(CRED_02), h(CRED_03), h(CRED_09)],
            peer_roles: Some(vec![sender(), sender_receiver(), receiver()]),
            peer_identifiers: vec![h("01"), h("02"), h("03")],
        },
    };
    check(
        &typed,
        "a4090c0d835854a2026008a101a501020241022001215820cd4177ba62433375ede279b5e18e\
         8b91bc3ed8f1e174474a26fc0edb44ea5373225820a0391de29c5c5badda610d4e301eaaa184\
         22367722289cd18cbe6624e89b9cfd5854a2026008a101a501020241032001215820ac75e9ec\
         e3e50bfc8ed60399889522405c47bf16df96660a41298cb4307f7eb62258206e5de611388a4b\
         8a8211334ac7d37ecb52a387d257e6db3c2a93df21ff3affc85854a2026008a101a501020241\
         0920012158206f9702a66602d78f5e81bac1e0af01f8b52810c502e87ebb7c926c07426fd02f\
         225820c8d33274c71c9b3ee57d842bbf2238b8283cb410eca216fb72a78ea7a870f8000e8366\
         73656e646572826673656e6465726872656365697665726872656365697665720f8341014102\
         4103",
    );
}

#[test]
fn figure_20_and_22_kdc_cred() {
    let typed = KdcCred {
        kdc_cred: h(CRED_99),
        kdc_nonce: h("0b7db12aaff56da3"),
        kdc_cred_verify: h(
            "3fc54702aa56e1b2cb20284294c9106a63f91bac658d69351210a031d8fc7c5f\
             f3e4be39445b1a3e83e1510d1aca2f2e8a7c081c7645042b18aba9d1fad1bd9c",
        ),
    };
    check(
        &typed,
        "a3115854a2026008a101a50102024199200121582065eda5a12577c2bae829437fe338701a10\
         aaa375e1bb5b5de108de439c08551d2258201e52ed75701163f7f9e40ddf9f341b3dc9ba860a\
         f7e0ca7ca7e9eecd0084d19c12480b7db12aaff56da31358403fc54702aa56e1b2cb20284294\
         c9106a63f91bac658d69351210a031d8fc7c5ff3e4be39445b1a3e83e1510d1aca2f2e8a7c08\
         1c7645042b18aba9d1fad1bd9c",
    );
    // Figure 20: the PoP input of that response for the stored N_C.
    assert_eq!(
        hex::encode(typed.pop_input(&h("25a8991cd700ac01"))),
        "4825a8991cd700ac01480b7db12aaff56da3"
    );
}

#[test]
fn figure_24_policies() {
    let typed = PoliciesResponse {
        group_policies: GroupPolicies {
            expiration_delta: Some(120),
            ..Default::default()
        },
    };
    check(&typed, "a110a1021878");
    check(&OrNothing::Content(typed), "a110a1021878");
    check(&OrNothing::<PoliciesResponse>::Nothing, "40");
}

#[test]
fn figure_26_version() {
    check(&VersionResponse(13), "0d");
}

#[test]
fn figure_28_group_and_individual_keying_material() {
    let typed = IndividualKeyingMaterial {
        group: Some(KeyDistributionResponse {
            material: session_key(12),
            rekeying_scheme: None,
            mgt_key_material: None,
        }),
        group_sender_id: None,
        individual: vec![(
            IntOrText::Text("ind-key".into()),
            Value::Bytes(h("fcae9023")),
        )],
    };
    check(
        &typed,
        "a4071a00010040084a73657373696f6e6b6579090c67696e642d6b657944fcae9023",
    );
}

#[test]
fn figure_30_key_renewal() {
    let typed = IndividualKeyingMaterial {
        group: None,
        group_sender_id: None,
        individual: vec![(
            IntOrText::Text("ind-key".into()),
            Value::Bytes(h("b71acc28")),
        )],
    };
    check(&typed, "a167696e642d6b657944b71acc28");
}

#[test]
fn figure_31_and_33_credential_update() {
    let scope = ScopeEntry::textual("group1", &["sender"]).encode();
    let typed = CredUpdateRequest {
        client_cred: h(CRED_FC),
        cnonce: h("0446baefc56111bf"),
        client_cred_verify: h(
            "e2aeafd40d69d19dfe6e52077c5d7ff4e408282cbefb5d06cbf414af2e19d982\
             ac45ac98b8544c908b4507de1e90b717c3d34816fe926a2b98f53afd2fa0f30a",
        ),
    };
    check(
        &typed,
        "a3055854a2026008a101a501020241fc2001215820bac5b11cad8f99f9c72b05cf4b9e26d244\
         dc189f745228255a219a86d6a09eff22582020138bf82dc1b6d562be0fa54ab7804a3a64b6d7\
         2ccfed6b6fb6ed28bbfc117e06480446baefc56111bf18185840e2aeafd40d69d19dfe6e5207\
         7c5d7ff4e408282cbefb5d06cbf414af2e19d982ac45ac98b8544c908b4507de1e90b717c3d3\
         4816fe926a2b98f53afd2fa0f30a",
    );
    // Figure 31 (printed with one line in upper case; bytes are the same).
    assert_eq!(
        hex::encode(typed.pop_input(&scope, &h("018a278f7faab55a"))),
        "4f826667726f7570316673656e64657248018a278f7faab55a480446baefc56111bf"
    );
}

// draft-ietf-ace-key-groupcomm-oscore-21 examples (key_groupcomm_oscore_21
// in ace-profile-examples.json; suggested code points).

#[test]
fn group_oscore_figure_3_kdc_cred_fetch() {
    check(
        &KdcCredFetchRequest {
            cnonce: h("6c5a8891bbcf4199"),
        },
        "a106486c5a8891bbcf4199",
    );
    let response = KdcCred {
        kdc_cred: h(CRED_99),
        kdc_nonce: h("aff56da30b7db12a"),
        kdc_cred_verify: h(
            "f3e4be39445b1a3e83e1510d1aca2f2e3fc54702aa56e1b2cb20284294c9106a\
             8a7c081c7645042b18aba9d1fad1bd9c63f91bac658d69351210a031d8fc7c5f",
        ),
    };
    check(
        &response,
        "a3115854a2026008a101a50102024199200121582065eda5a12577c2bae829437fe338701a10\
         aaa375e1bb5b5de108de439c08551d2258201e52ed75701163f7f9e40ddf9f341b3dc9ba860a\
         f7e0ca7ca7e9eecd0084d19c1248aff56da30b7db12a135840f3e4be39445b1a3e83e1510d1a\
         ca2f2e3fc54702aa56e1b2cb20284294c9106a8a7c081c7645042b18aba9d1fad1bd9c63f91b\
         ac658d69351210a031d8fc7c5f",
    );
    assert_eq!(
        hex::encode(response.pop_input(&h("6c5a8891bbcf4199"))),
        "486c5a8891bbcf419948aff56da30b7db12a"
    );
}

#[test]
fn group_oscore_figure_5_verif_data() {
    let key = GroupOscoreInputMaterial {
        oscore: OscoreInputMaterial {
            hkdf: Some(IntOrText::Int(5)),
            context_id: Some(h("37fc")),
            ..Default::default()
        },
        cred_fmt: Some(33),
        gp_enc_alg: Some(IntOrText::Int(10)),
        sign_alg: Some(IntOrText::Int(-8)),
        sign_params: Some(Capabilities::eddsa_ed25519()),
        ..Default::default()
    };
    let typed = VerifDataResponse {
        material: GroupKeyingMaterial {
            key: GroupKey::GroupOscore(Box::new(key)),
            num: 12,
            ace_groupcomm_profile: Some(profile::COAP_GROUP_OSCORE_APP),
            exp: Some(1_609_459_200),
            exi: Some(2_592_000),
        },
        sign_enc_key: h("bc661fae6742abc3dd01beda1142567c"),
    };
    assert_eq!(
        typed.material.key.gkty(),
        IntOrText::Int(key_type::GROUP_OSCORE_INPUT_MATERIAL)
    );
    check(
        &typed,
        "a7070108a60305064237fc081821090a0a270b828101820106090c0a010b1a5fee66000c1a00\
         278d00182150bc661fae6742abc3dd01beda1142567c",
    );
}

#[test]
fn group_oscore_figure_11_stale_sids() {
    check(&StaleSidsRequest(42), "182a");
    let response = StaleSidsResponse::Sids(vec![h("01"), h("fc"), h("12ab"), h("de44"), h("ff")]);
    let bytes = h("85410141fc4212ab42de4441ff");
    assert_eq!(response.to_payload(), bytes);
    assert_eq!(StaleSidsResponse::from_payload(&bytes).unwrap(), response);
    // No payload: the Group Manager lacks the stale sets.
    assert_eq!(
        StaleSidsResponse::Unavailable.to_payload(),
        Vec::<u8>::new()
    );
    assert_eq!(
        StaleSidsResponse::from_payload(&[]).unwrap(),
        StaleSidsResponse::Unavailable
    );
    assert!(StaleSidsRequest(42).check_behind(43).is_ok());
    assert!(StaleSidsRequest(42).check_behind(42).is_err());
}

// Decoders: what the RFC forbids is refused with 4.00.

#[test]
fn join_request_without_cnonce_is_refused() {
    let mut bytes = figure_13_request().encode();
    // Replace the cnonce key 6 by the unassigned key 22, which is ignored.
    let at = bytes.windows(2).position(|w| w == [0x06, 0x48]).unwrap();
    bytes[at] = 0x16;
    let err = JoinRequest::decode(&bytes).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::MissingParameter { name: "cnonce", .. }
    ));
    assert_eq!(err.code(), ace_proto::Code::BAD_REQUEST);
}

#[test]
fn join_request_with_fetch_style_get_creds_is_refused() {
    for get_creds in ["83f4816673656e64657280", "83f5808241014102", "83f58080"] {
        // {4: get_creds, 6: h'00'}
        let bytes = h(&format!("a204{get_creds}064100"));
        assert!(JoinRequest::decode(&bytes).is_err(), "{get_creds}");
    }
    // null is fine.
    assert!(JoinRequest::decode(&h("a204f6064100")).is_ok());
}

#[test]
fn unknown_parameters_are_ignored() {
    // Figure 15 plus {99: "x", "foo": 1}.
    let bytes = h("a5071a00010040084a73657373696f6e6b6579090c186361786366 6f6f01");
    let decoded = KeyDistributionResponse::decode(&bytes).unwrap();
    assert_eq!(
        decoded.encode(),
        h("a3071a00010040084a73657373696f6e6b6579090c")
    );
}

#[test]
fn wrong_types_are_refused() {
    // Figure 15 with num as text.
    assert!(
        KeyDistributionResponse::decode(&h("a3071a00010040084a73657373696f6e6b65790962 3132"))
            .is_err()
    );
    // exp without exi.
    assert!(
        KeyDistributionResponse::decode(&h("a4071a00010040084a73657373696f6e6b6579090c0b01"))
            .is_err()
    );
    // creds without peer_identifiers.
    assert!(CredsResponse::decode(&h("a10d8141aa")).is_err());
    // peer_identifiers of another length.
    assert!(CredsResponse::decode(&h("a20d8141aa0f824101 4102")).is_err());
    // kdc_cred without kdc_nonce.
    assert!(KdcCred::decode(&h("a21141aa1341bb")).is_err());
    // A non-empty byte string is not the "nothing" body.
    assert!(OrNothing::<PoliciesResponse>::decode(&h("4100")).is_err());
    // Group names of mismatched lengths.
    assert!(GroupNamesResponse::decode(&h("a3008101018002 80")).is_err());
    // Empty gid array.
    assert!(GroupNamesRequest::decode(&h("a10080")).is_err());
    // Trailing bytes, duplicate keys.
    assert!(VersionResponse::decode(&h("0d0d")).is_err());
    assert!(KdcCredFetchRequest::decode(&h("a2064100064100")).is_err());
}

#[test]
fn group_oscore_join_response_needs_ms_context_id_and_cred_fmt() {
    let key = GroupOscoreInputMaterial {
        oscore: OscoreInputMaterial {
            ms: Some(vec![1; 16]),
            context_id: Some(h("37fc")),
            ..Default::default()
        },
        group_sender_id: Some(h("25")),
        cred_fmt: Some(14),
        ..Default::default()
    };
    let response = JoinResponse {
        material: GroupKeyingMaterial {
            key: GroupKey::GroupOscore(Box::new(key.clone())),
            num: 0,
            ace_groupcomm_profile: Some(profile::COAP_GROUP_OSCORE_APP),
            exp: None,
            exi: Some(3600),
        },
        peers: None,
        group_policies: None,
        kdc: None,
        rekeying_scheme: None,
        mgt_key_material: None,
        control_group_uri: None,
    };
    assert_eq!(JoinResponse::decode(&response.encode()).unwrap(), response);
    for strip in 0..3 {
        let mut k = key.clone();
        match strip {
            0 => k.oscore.ms = None,
            1 => k.oscore.context_id = None,
            _ => k.cred_fmt = None,
        }
        let mut r = response.clone();
        r.material.key = GroupKey::GroupOscore(Box::new(k));
        assert!(JoinResponse::decode(&r.encode()).is_err(), "strip {strip}");
    }
}
