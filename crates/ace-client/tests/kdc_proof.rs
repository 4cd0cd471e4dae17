//! A join whose `kdc_cred_verify` does not verify fails (RFC 9594 section
//! 4.3.1: the client MUST treat the join as failed), over loopback against
//! a stand-in KDC that answers like the real one but signs the wrong PoP
//! input. The same stand-in with an honest signature is joined, which shows
//! that the proof is the only difference.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;

use ace_client::{ClientError, GroupClient, JoinOptions};
use ace_coap::oscore::{self, OscoreContexts};
use ace_coap::{CoapEndpoint, EndpointConfig, Layer, Request, Response, Router};
use ace_proto::authz_info::{
    GroupNames, SignInfoEntry, TokenTransferRequest, TokenTransferResponse,
};
use ace_proto::cbor::{Codec, IntOrText, Value};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::credential::Credential;
use ace_proto::cwt::{Confirmation, TokenKey, TokenVerifier};
use ace_proto::groupcomm::{
    Capabilities, GroupKey, GroupKeyingMaterial, GroupOscoreInputMaterial, JoinRequest,
    JoinResponse, KdcCred,
};
use ace_proto::keys::{SignatureAlgorithm, SigningKey, random_bytes};
use ace_proto::oauth::AsRequestCreationHints;
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::pop;
use ace_proto::roles::group_oscore::REQUESTER;
use group_oscore::SecurityContext;
use group_oscore::profile::{AuthzInfoExchange, MissingSalt, Role, context_params};
use std::time::Duration;
use support::{AS_SEED, AUDIENCE, KDC_ED25519, SHARED_KEY, World};

fn verifier() -> TokenVerifier {
    let as_key = SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &hex::decode(AS_SEED).unwrap())
        .unwrap()
        .verifying_key();
    let shared: [u8; 16] = hex::decode(SHARED_KEY).unwrap().try_into().unwrap();
    TokenVerifier::new(AUDIENCE)
        .with_key(TokenKey::verifying(as_key))
        .with_key(TokenKey::aes_ccm_16_64_128(&shared))
}

/// A KDC stand-in for group `g1`; `honest` decides whether its PoP signs
/// `bstr(N_C) | bstr(N_KDC)` or something else.
async fn stand_in(as_uri: String, honest: bool) -> CoapEndpoint {
    let table = OscoreContexts::<String>::new();
    let kdc_key = SigningKey::from_bytes(
        SignatureAlgorithm::EdDsa,
        &hex::decode(KDC_ED25519).unwrap(),
    )
    .unwrap();
    let kdc_cred = Credential::ccs_for_signing_key(&kdc_key, "kdc", None).into_bytes();
    let install = table.clone();
    let router = Router::new()
        .post("/authz-info", move |req: Request| {
            let table = install.clone();
            async move {
                let transfer = TokenTransferRequest::decode(&req.payload).unwrap();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let claims = verifier()
                    .open(&transfer.access_token, now)
                    .unwrap()
                    .into_claims();
                let Some(Confirmation::Osc(material)) = claims.cnf else {
                    return Response::bad_request("no osc");
                };
                let material: OscoreInputMaterial = material;
                let nonce2 = random_bytes(8);
                let id2 = vec![0x07];
                let (nonce1, id1) = transfer.oscore_inputs().unwrap();
                let params = context_params(
                    &material,
                    &AuthzInfoExchange {
                        nonce1,
                        nonce2: &nonce2,
                        client_recipient_id: id1,
                        server_recipient_id: &id2,
                    },
                    Role::ResourceServer,
                    MissingSalt::Omit,
                )
                .unwrap();
                table.install(
                    &"client".to_string(),
                    SecurityContext::new(&params).unwrap(),
                );
                let body = TokenTransferResponse {
                    nonce2: Some(nonce2),
                    ace_server_recipientid: Some(id2),
                    kdcchallenge: Some(random_bytes(8)),
                    sign_info: Some(vec![SignInfoEntry {
                        id: GroupNames::One("g1".into()),
                        sign_alg: IntOrText::Int(-8),
                        sign_parameters: vec![Value::from(1)],
                        sign_key_parameters: vec![Value::from(1), Value::from(6)],
                        more_capabilities: vec![],
                        cred_fmt: Some(14),
                    }]),
                    ..TokenTransferResponse::default()
                };
                Response::created()
                    .with_content_format(cf::ACE_CBOR)
                    .with_payload(body.encode())
            }
        })
        .post("/ace-group/g1", move |req: Request| {
            let kdc_key = kdc_key.clone();
            let kdc_cred = kdc_cred.clone();
            let as_uri = as_uri.clone();
            async move {
                if oscore::label::<String>(&req).is_none() {
                    let hints = AsRequestCreationHints {
                        as_uri: Some(as_uri),
                        audience: Some(AUDIENCE.into()),
                        cnonce: Some(random_bytes(8)),
                        ..AsRequestCreationHints::default()
                    };
                    return Response::new(Code::UNAUTHORIZED)
                        .with_content_format(cf::ACE_CBOR)
                        .with_payload(hints.encode());
                }
                let join = JoinRequest::decode(&req.payload).unwrap();
                let n_kdc = random_bytes(8);
                let signed = if honest {
                    pop::kdc_pop_input(&join.cnonce, &n_kdc)
                } else {
                    // Signs its own nonce twice instead of N_C | N_KDC.
                    pop::kdc_pop_input(&n_kdc, &n_kdc)
                };
                let key = GroupOscoreInputMaterial {
                    oscore: OscoreInputMaterial {
                        ms: Some(random_bytes(16)),
                        context_id: Some(vec![0xb1, 0x00, 0x01]),
                        ..OscoreInputMaterial::default()
                    },
                    group_sender_id: Some(vec![0x01]),
                    cred_fmt: Some(14),
                    gp_enc_alg: Some(IntOrText::Int(10)),
                    sign_alg: Some(IntOrText::Int(-8)),
                    sign_params: Some(Capabilities::eddsa_ed25519()),
                    ecdh_alg: None,
                    ecdh_params: None,
                };
                let response = JoinResponse {
                    material: GroupKeyingMaterial {
                        key: GroupKey::GroupOscore(Box::new(key)),
                        num: 0,
                        ace_groupcomm_profile: Some(1),
                        exp: Some(4_000_000_000),
                        exi: Some(3600),
                    },
                    peers: None,
                    group_policies: None,
                    kdc: Some(KdcCred {
                        kdc_cred,
                        kdc_nonce: n_kdc,
                        kdc_cred_verify: pop::sign(&kdc_key, &signed),
                    }),
                    rekeying_scheme: None,
                    mgt_key_material: None,
                    control_group_uri: None,
                };
                Response::created()
                    .with_content_format(cf::ACE_GROUPCOMM_CBOR)
                    .with_location_path("ace-group/g1/nodes/n1")
                    .with_payload(response.encode())
            }
        });
    let handler = table.server_layer().layer(router.into_handler());
    let config = EndpointConfig::new("127.0.0.1:0".parse().unwrap())
        .protocol(oscore::protocol_config(support::protocol()));
    CoapEndpoint::bind(config, handler).await.unwrap()
}

async fn join_stand_in(world: &World, honest: bool) -> (GroupClient, Result<(), ClientError>) {
    let kdc = stand_in(world.as_uri.clone(), honest).await;
    let mut config = world.client_config("client");
    config.kdc = kdc.local_addr();
    config.observe = false;
    let client = GroupClient::start(config).await.unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        client.join("g1", REQUESTER, JoinOptions::default()),
    )
    .await
    .expect("bounded")
    .map(|_| ());
    (client, result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kdc_proof_that_does_not_verify_aborts_the_join() {
    let world = World::start().await;
    let (client, result) = join_stand_in(&world, false).await;
    let e = result.unwrap_err();
    assert!(matches!(e, ClientError::KdcProofFailed(_)), "{e}");
    assert!(
        client.groups().is_empty(),
        "no membership after a failed join"
    );
    assert!(client.group_security("g1").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_kdc_with_a_correct_proof_is_joined() {
    let world = World::start().await;
    let (client, result) = join_stand_in(&world, true).await;
    result.unwrap();
    assert_eq!(client.groups(), vec!["g1".to_string()]);
}
