//! The AS over real CoAP + OSCORE on loopback: a token request and
//! response decoded and verified as the KDC will; every refusal of RFC 9200
//! section 5.8.3 answered with its code on the wire; unknown clients and
//! clients without an OSCORE context rejected; expired and revoked tokens
//! introspected as inactive; a restart that keeps the token records and
//! challenges replays with Echo.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_as::service::{RunningAs, oscore, protocol, serve_with};
use ace_as::store::{MemoryStore, SequenceMarks, SqliteStore, TokenFilter, TokenStore};
use ace_as::{AuthorizationServer, Peer};
use ace_coap::{CoapEndpoint, EndpointConfig};
use ace_proto::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format::ACE_CBOR;
use ace_proto::consts::cwt as claim;
use ace_proto::cwt::{Confirmation, TokenKey, TokenVerifier};
use ace_proto::oauth::{
    AccessTokenResponse, ErrorCode, ErrorResponse, IntrospectionRequest, IntrospectionResponse,
};
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use ace_proto::scope::ScopeValue;
use common::cases::{aif, request, token_error_cases};
use common::oscore_client::AsClient;
use common::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The AS on an ephemeral loopback port, with a clock the test moves.
struct Running {
    server: RunningAs,
    core: Arc<AuthorizationServer>,
    clock: Arc<AtomicU64>,
}

async fn start_with(tokens: Arc<dyn TokenStore>, marks: Arc<dyn SequenceMarks>) -> Running {
    let core = Arc::new(AuthorizationServer::new(config(), tokens));
    let clock = Arc::new(AtomicU64::new(NOW));
    let read = clock.clone();
    let server = serve_with(
        core.clone(),
        marks,
        EndpointConfig::new("127.0.0.1:0".parse().unwrap()).protocol(protocol()),
        Arc::new(move || read.load(Ordering::Relaxed)),
    )
    .await
    .unwrap();
    Running {
        server,
        core,
        clock,
    }
}

async fn start() -> Running {
    let store = Arc::new(MemoryStore::new());
    start_with(store.clone(), store).await
}

impl Running {
    fn addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// A client holding the peer side of `peer`'s context.
    async fn client_for(&self, peer: &Peer) -> AsClient {
        let cfg = self.core.config();
        let oscore = match peer {
            Peer::Client(id) => cfg.client(id).unwrap().oscore.clone().unwrap(),
            Peer::ResourceServer(name) => cfg.audience(name).unwrap().oscore.clone().unwrap(),
        };
        AsClient::new(self.addr(), &oscore).await
    }
}

/// A verifier configured as the KDC of audience `kdc` would configure it.
fn kdc_verifier() -> TokenVerifier {
    TokenVerifier::new("kdc")
        .with_key(TokenKey::verifying(as_key().verifying_key()).with_kid(&[0xa5]))
        .with_key(
            TokenKey::aes_ccm_16_64_128(&hex::decode(KDC_KEY).unwrap().try_into().unwrap())
                .with_kid(&[0x4b]),
        )
        .with_issuer("coap://as.test")
        .with_required_claim(claim::CNF)
        .with_required_claim(claim::EXP)
        .with_required_claim(claim::SCOPE)
}

fn introspection(token: &[u8]) -> Vec<u8> {
    IntrospectionRequest {
        token: token.to_vec(),
        ..IntrospectionRequest::default()
    }
    .encode()
}

#[tokio::test]
async fn token_over_oscore_verified_as_the_kdc_will() {
    let running = start().await;
    let c1 = running.client_for(&client("c1")).await;
    let mut body = request("kdc", aif(&[("g1", REQUESTER | RESPONDER)]));
    body.ace_profile = true;
    let response = c1.post("/token", body.encode()).await;
    assert_eq!(response.code, Code::CREATED);
    assert_eq!(response.content_format(), Some(ACE_CBOR));
    let info = AccessTokenResponse::decode(&response.payload).unwrap();
    assert_eq!(info.ace_profile, Some(2));
    assert_eq!(info.expires_in, Some(3600));
    let claims = kdc_verifier()
        .open(&info.access_token, NOW + 1)
        .unwrap()
        .into_claims();
    assert_eq!(claims.scope, Some(aif(&[("g1", REQUESTER | RESPONDER)])));
    let Some(Confirmation::Osc(material)) = &claims.cnf else {
        panic!("{:?}", claims.cnf)
    };
    assert_eq!(material.check_usable(), Ok(()));
    assert!(material.salt.is_some());
    assert_eq!(
        claims.cnf, info.cnf,
        "the client and the KDC hold the same input material"
    );
    // The record names the client the channel authenticated.
    let record = running
        .core
        .store()
        .get(claims.cti.as_ref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(record.client, "c1");

    // A JWT for an RPK audience, verified with jsonwebtoken.
    ace_as::jwt::install_provider();
    let c2 = running.client_for(&client("c2")).await;
    let jwt_request = ace_proto::oauth::AccessTokenRequest {
        audience: Some("jwt-rs".into()),
        scope: Some(ScopeValue::Text("read".into())),
        ..Default::default()
    };
    let response = c2.post("/token", jwt_request.encode()).await;
    assert_eq!(response.code, Code::CREATED);
    let jwt = String::from_utf8(
        AccessTokenResponse::decode(&response.payload)
            .unwrap()
            .access_token,
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["jwt-rs"]);
    validation.validate_exp = false;
    let key = jsonwebtoken::DecodingKey::from_ed_der(&as_key().verifying_key().coordinates().0);
    let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &validation).unwrap();
    assert_eq!(data.claims["scope"], "read");
    assert_eq!(data.claims["exp"], NOW + 3600);
    for c in [c1, c2] {
        c.shutdown().await;
    }
    running.server.shutdown().await;
}

#[tokio::test]
async fn every_refusal_of_rfc9200_section_5_8_3_on_the_wire() {
    let running = start().await;
    let plain = CoapEndpoint::bind(
        EndpointConfig::new("127.0.0.1:0".parse().unwrap()).protocol(protocol()),
        ace_coap::handler::not_found(),
    )
    .await
    .unwrap();
    let mut clients: HashMap<Peer, AsClient> = HashMap::new();
    let mut wrong = Vec::new();
    let mut sent = 0;
    for (what, peer, cf, payload, want) in token_error_cases() {
        let response = match &peer {
            None => {
                let mut request = ace_coap::Request::post("/token").with_payload(payload);
                if let Some(cf) = cf {
                    request = request.with_content_format(cf);
                }
                plain.request(running.addr(), request).await.unwrap()
            }
            Some(p) => {
                let has_context = match p {
                    Peer::Client(id) => running
                        .core
                        .config()
                        .client(id)
                        .is_some_and(|c| c.oscore.is_some()),
                    Peer::ResourceServer(n) => running
                        .core
                        .config()
                        .audience(n)
                        .is_some_and(|a| a.oscore.is_some()),
                };
                if !has_context {
                    // A peer the AS shares no context with cannot speak
                    // OSCORE to it: see the next test.
                    continue;
                }
                if !clients.contains_key(p) {
                    let c = running.client_for(p).await;
                    clients.insert(p.clone(), c);
                }
                clients[p].post_with("/token", cf, payload).await
            }
        };
        sent += 1;
        let expected = if want == ErrorCode::InvalidClient {
            Code::UNAUTHORIZED
        } else {
            Code::BAD_REQUEST
        };
        let body = ErrorResponse::decode(&response.payload);
        if response.code != expected
            || response.content_format() != Some(ACE_CBOR)
            || !body.as_ref().is_ok_and(|b| b.error == want)
        {
            wrong.push(format!("{what}: {} {body:?}", response.code));
        }
    }
    assert!(sent >= 25, "{sent}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        running
            .core
            .store()
            .list(&TokenFilter::default())
            .unwrap()
            .is_empty()
    );
    for (_, c) in clients {
        c.shutdown().await;
    }
    plain.shutdown().await;
    running.server.shutdown().await;
}

#[tokio::test]
async fn unknown_clients_and_clients_without_a_context_are_rejected() {
    let running = start().await;
    let body = request("kdc", aif(&[("g1", REQUESTER)])).encode();
    let c1_side = running
        .core
        .config()
        .client("c1")
        .unwrap()
        .oscore
        .clone()
        .unwrap();

    // A client with a context the AS does not have ('kid' unknown): the
    // OSCORE layer answers 4.01 "Security context not found" (RFC 8613
    // section 8.2), unprotected.
    let mut stranger_side = c1_side.clone();
    stranger_side.recipient_id = vec![0xee];
    let stranger = AsClient::new(running.addr(), &stranger_side).await;
    let response = stranger.post("/token", body.clone()).await;
    assert_eq!(response.code, Code::UNAUTHORIZED);
    assert_ne!(response.content_format(), Some(ACE_CBOR));
    assert!(String::from_utf8_lossy(&response.payload).contains("Security context not found"));

    // A client that knows c1's 'kid' but not its key: 4.00 "Decryption
    // failed".
    let impostor = AsClient::with_secret(running.addr(), &c1_side, &[0x42; 16]).await;
    let response = impostor.post("/token", body.clone()).await;
    assert_eq!(response.code, Code::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&response.payload).contains("Decryption failed"));

    // The configured client "nochannel" has no OSCORE context with the AS:
    // it can only send without OSCORE, and is refused as unauthenticated.
    assert!(
        running
            .core
            .config()
            .client("nochannel")
            .unwrap()
            .oscore
            .is_none()
    );
    let mut claimed = request("kdc", aif(&[("g1", REQUESTER)]));
    claimed.client_id = Some("nochannel".into());
    let response = stranger.post_plain("/token", claimed.encode()).await;
    assert_eq!(response.code, Code::UNAUTHORIZED);
    assert_eq!(
        ErrorResponse::decode(&response.payload).unwrap().error,
        ErrorCode::InvalidClient
    );
    assert!(
        running
            .core
            .store()
            .list(&TokenFilter::default())
            .unwrap()
            .is_empty()
    );
    for c in [stranger, impostor] {
        c.shutdown().await;
    }
    running.server.shutdown().await;
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_introspected_as_inactive() {
    let running = start().await;
    let c1 = running.client_for(&client("c1")).await;
    let rs = running.client_for(&rs("kdc")).await;
    let issue = || async {
        let response = c1
            .post("/token", request("kdc", aif(&[("g1", REQUESTER)])).encode())
            .await;
        AccessTokenResponse::decode(&response.payload)
            .unwrap()
            .access_token
    };
    let kept = issue().await;
    let revoked = issue().await;
    let ask = |token: Vec<u8>| {
        let rs = &rs;
        async move {
            let response = rs.post("/introspect", introspection(&token)).await;
            assert_eq!(response.code, Code::CREATED);
            IntrospectionResponse::decode(&response.payload).unwrap()
        }
    };
    let answer = ask(kept.clone()).await;
    assert!(answer.active);
    assert_eq!(answer.client_id.as_deref(), Some("c1"));
    assert!(ask(revoked.clone()).await.active);

    let cti = kdc_verifier()
        .open(&revoked, NOW)
        .unwrap()
        .into_claims()
        .cti
        .unwrap();
    running.core.store().revoke(&cti, NOW + 10).unwrap();
    running.clock.store(NOW + 10, Ordering::Relaxed);
    assert!(!ask(revoked).await.active, "revoked");
    assert!(ask(kept.clone()).await.active);

    running.clock.store(NOW + 3600, Ordering::Relaxed);
    let expired = ask(kept.clone()).await;
    assert!(!expired.active, "expired");
    assert_eq!(
        expired,
        IntrospectionResponse::default(),
        "only active: false"
    );
    assert!(!ask(b"garbage".to_vec()).await.active, "unknown");

    // A client may not introspect.
    let response = c1.post("/introspect", introspection(&kept)).await;
    assert_eq!(response.code, Code::FORBIDDEN);
    assert!(response.payload.is_empty());
    // Nor may anyone without OSCORE.
    let response = c1.post_plain("/introspect", introspection(&kept)).await;
    assert_eq!(response.code, Code::UNAUTHORIZED);
    for c in [c1, rs] {
        c.shutdown().await;
    }
    running.server.shutdown().await;
}

#[tokio::test]
async fn a_restart_keeps_records_and_challenges_replays_with_echo() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.sqlite");
    let first = {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        start_with(store.clone(), store).await
    };
    let c1 = first.client_for(&client("c1")).await;
    let rs = first.client_for(&rs("kdc")).await;
    let body = request("kdc", aif(&[("g1", REQUESTER)])).encode();
    let response = c1.post("/token", body.clone()).await;
    assert_eq!(response.code, Code::CREATED);
    let token = AccessTokenResponse::decode(&response.payload)
        .unwrap()
        .access_token;
    assert_eq!(
        c1.echoes(),
        0,
        "a first start has a valid, empty replay window"
    );
    first.server.shutdown().await;
    drop(first.core);

    // The AS comes back on the same database.
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let second = start_with(store.clone(), store.clone()).await;
    c1.retarget(second.addr());
    rs.retarget(second.addr());

    // The token issued before the restart is still known and active.
    let response = rs.post("/introspect", introspection(&token)).await;
    assert_eq!(response.code, Code::CREATED);
    assert!(
        IntrospectionResponse::decode(&response.payload)
            .unwrap()
            .active
    );
    assert_eq!(
        rs.echoes(),
        1,
        "the lost replay window was re-established with Echo"
    );

    // The client is challenged once too, then served.
    let response = c1.post("/token", body).await;
    assert_eq!(response.code, Code::CREATED);
    assert_eq!(c1.echoes(), 1);
    assert_eq!(store.list(&TokenFilter::default()).unwrap().len(), 2);
    // The Echo responses carried the AS's own Partial IV: the numbers used
    // are reserved in the database before use.
    let mark = store
        .sequence_mark(&oscore::context_name(&client("c1")))
        .unwrap()
        .unwrap();
    assert!(mark >= 1, "{mark}");
    for c in [c1, rs] {
        c.shutdown().await;
    }
    second.server.shutdown().await;
}
