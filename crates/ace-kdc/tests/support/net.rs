//! A minimal but honest group client over CoAP + OSCORE for the service
//! tests: token transfer to `/authz-info` (RFC 9203: nonce1, ID1, the
//! client-side context from the token's OSCORE_Input_Material), requests
//! and observations protected with that context by `ace-coap`'s OSCORE
//! client (Echo answered, RFC 8613 Appendix B.1.2), and a `control_uri`
//! resource on which the KDC's rekeying POSTs and eviction DELETEs arrive,
//! verified by `ace-coap`'s OSCORE server layer.
//!
//! One [`NetClient`] endpoint carries any number of simulated members, each
//! with its own OSCORE channel (its own Recipient ID in the table).

#![allow(dead_code, clippy::unwrap_used)]

use super::{ClientKeys, Proof, TestAs, join_request};
use ace_coap::oscore::{ClientError, OscoreClient, OscoreContexts, OscoreObservation};
use ace_coap::{CoapEndpoint, EndpointConfig, ProtocolConfig, Request, Response};
use ace_kdc::ChannelId;
use ace_proto::Codec;
use ace_proto::authz_info::{TokenTransferRequest, TokenTransferResponse};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{GetCreds, JoinResponse};
use ace_proto::keys::random_bytes;
use group_oscore::SecurityContext;
use group_oscore::profile::{AuthzInfoExchange, MissingSalt, Role, context_params};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Something the KDC sent to a member's `control_uri`.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The member (its channel key).
    pub member: ChannelId,
    /// The method.
    pub method: ace_coap::Method,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A client endpoint with simulated members.
pub struct NetClient {
    pub endpoint: CoapEndpoint,
    pub contexts: Arc<OscoreContexts<ChannelId>>,
    client: OscoreClient<ChannelId>,
    kdc: std::sync::Mutex<SocketAddr>,
    next_id: AtomicU64,
    pub pushed: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pushed>>,
}

/// A member as the tests hold it.
#[derive(Clone)]
pub struct NetMember {
    pub keys: ClientKeys,
    /// Its channel key: its own Recipient ID (ID1).
    pub channel: ChannelId,
    /// The KDC's N_S.
    pub n_s: Vec<u8>,
    /// The KDC's Recipient ID (ID2).
    pub kdc_id: Vec<u8>,
    /// The parameters of its OSCORE context with the KDC.
    pub params: group_oscore::ContextParams,
}

/// Protocol parameters for tests: short timers, NSTART raised so many
/// members share a socket.
pub fn test_protocol() -> ProtocolConfig {
    let mut p = ProtocolConfig::fast_for_tests();
    // Short timers, but a retransmission span (about 4.5 s) that a loaded
    // CI machine does not exceed.
    p.transmission.ack_timeout = Duration::from_millis(200);
    p.transmission.processing_delay = Duration::from_millis(200);
    p.transmission.nstart = 64;
    p.response_timeout = Duration::from_secs(10);
    p.extra_critical_options.push(9);
    p.limits.max_observers = 1 << 20;
    p.limits.dedup_per_peer = 1024;
    ace_coap::oscore::protocol_config(p)
}

impl NetClient {
    /// A client endpoint on an ephemeral loopback port talking to `kdc`.
    pub async fn new(kdc: SocketAddr) -> Self {
        Self::new_with(kdc, |_| {}).await
    }

    /// [`NetClient::new`] with the endpoint configuration (test protocol
    /// parameters) adjusted by `tune`.
    pub async fn new_with(kdc: SocketAddr, tune: impl FnOnce(&mut EndpointConfig)) -> Self {
        let contexts = OscoreContexts::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let inner: ace_coap::SharedHandler = Arc::new(move |req: Request| {
            let tx = tx.clone();
            async move {
                let Some(member) = ace_coap::oscore::label::<ChannelId>(&req).cloned() else {
                    return Response::new(Code::UNAUTHORIZED);
                };
                let _ = tx.send(Pushed {
                    member,
                    method: req.method,
                    payload: req.payload.clone(),
                });
                match req.method {
                    ace_coap::Method::Delete => Response::deleted(),
                    _ => Response::changed(),
                }
            }
        });
        let handler = ace_coap::Layer::layer(&contexts.server_layer(), inner);
        let mut config = EndpointConfig::new("127.0.0.1:0".parse().unwrap())
            .protocol(test_protocol())
            .client_layer(contexts.client_layer());
        tune(&mut config);
        let endpoint = CoapEndpoint::bind(config, handler).await.unwrap();
        Self {
            client: OscoreClient::new(endpoint.clone(), contexts.clone()),
            endpoint,
            contexts,
            kdc: std::sync::Mutex::new(kdc),
            next_id: AtomicU64::new(1),
            pushed: tokio::sync::Mutex::new(rx),
        }
    }

    /// The KDC's address.
    pub fn kdc(&self) -> SocketAddr {
        *self.kdc.lock().unwrap()
    }

    /// Talks to a KDC at another address from now on (a restarted KDC);
    /// the members' channels stay.
    pub fn retarget(&self, kdc: SocketAddr) {
        *self.kdc.lock().unwrap() = kdc;
    }

    /// This endpoint's `control_uri` for `member`.
    pub fn control_uri(&self, member: &NetMember) -> String {
        format!(
            "coap://{}/rk/{}",
            self.endpoint.local_addr(),
            hex::encode(&member.channel.0)
        )
    }

    /// Posts `token` to `/authz-info`; returns the raw response.
    pub async fn post_token(
        &self,
        token: Vec<u8>,
        id1: &[u8],
        nonce1: &[u8],
        sign_info: bool,
    ) -> Response {
        self.try_post_token(token, id1, nonce1, sign_info)
            .await
            .unwrap()
    }

    /// [`NetClient::post_token`], with transport failures as errors.
    pub async fn try_post_token(
        &self,
        token: Vec<u8>,
        id1: &[u8],
        nonce1: &[u8],
        sign_info: bool,
    ) -> Result<Response, ace_coap::RequestError> {
        let body = TokenTransferRequest {
            access_token: token,
            nonce1: Some(nonce1.to_vec()),
            ace_client_recipientid: Some(id1.to_vec()),
            sign_info,
            ..TokenTransferRequest::default()
        };
        self.endpoint
            .request(
                self.kdc(),
                Request::post("/authz-info")
                    .with_content_format(cf::ACE_CBOR)
                    .with_payload(body.encode()),
            )
            .await
    }

    /// A member: a token from `authority` for `grant`, transferred, with
    /// the OSCORE channel installed on this endpoint.
    pub async fn member(
        &self,
        authority: &TestAs,
        keys: ClientKeys,
        grant: &[(&str, u64)],
        exp: u64,
    ) -> NetMember {
        let token = authority.mint(&keys.token(grant, exp));
        self.member_with_token(keys, token).await.unwrap()
    }

    /// Transfers `token` for `keys`; `Err` with the response when refused.
    pub async fn member_with_token(
        &self,
        keys: ClientKeys,
        token: Vec<u8>,
    ) -> Result<NetMember, Response> {
        self.try_member_with_token(keys, token).await.unwrap()
    }

    /// [`NetClient::member_with_token`], with transport failures as errors.
    pub async fn try_member_with_token(
        &self,
        keys: ClientKeys,
        token: Vec<u8>,
    ) -> Result<Result<NetMember, Response>, ace_coap::RequestError> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        // ID1: unique on this endpoint; 3 bytes with a tag so that it never
        // collides with the KDC's short identifiers by accident.
        let id1 = vec![0xc0 | ((n >> 16) as u8 & 0x3f), (n >> 8) as u8, n as u8];
        let nonce1 = random_bytes(8);
        let response = self.try_post_token(token, &id1, &nonce1, true).await?;
        if response.code != Code::CREATED {
            return Ok(Err(response));
        }
        let resp = TokenTransferResponse::decode(&response.payload).unwrap();
        let (nonce2, id2) = resp.oscore_inputs(&id1).unwrap();
        let params = context_params(
            &keys.material,
            &AuthzInfoExchange {
                nonce1: &nonce1,
                nonce2,
                client_recipient_id: &id1,
                server_recipient_id: id2,
            },
            Role::Client,
            MissingSalt::Omit,
        )
        .unwrap();
        let channel = ChannelId(id1);
        self.contexts
            .install(&channel, SecurityContext::new(&params).unwrap());
        Ok(Ok(NetMember {
            kdc_id: id2.to_vec(),
            n_s: resp.kdcchallenge.clone().unwrap_or_default(),
            keys,
            channel,
            params,
        }))
    }

    /// `member`'s context with the KDC as a restarted member has it: the
    /// same keys, its Sender Sequence Number resumed at `mark` (above any
    /// number used before), and no replay state, so that it answers the
    /// first request it receives with an Echo challenge (RFC 8613 Appendix
    /// B.1.2).
    pub fn restore_member(&self, member: &NetMember, mark: u64) {
        self.contexts.remove(&member.channel);
        self.contexts
            .install_persistent(
                &member.channel,
                &member.params,
                ace_coap::oscore::Persistence::restored(Box::new(group_oscore::Volatile), mark, 64),
            )
            .unwrap();
    }

    /// Sends `request` over `member`'s channel; a 4.01 with Echo (a KDC
    /// that restarted) is answered once by repeating with the Echo value.
    pub async fn send(&self, member: &NetMember, request: Request) -> Response {
        self.try_send(member, request).await.unwrap()
    }

    /// [`NetClient::send`], with transport failures as errors. An
    /// unprotected refusal by the KDC's OSCORE layer (RFC 8613 section
    /// 8.2) comes back as a response with its code and diagnostic.
    pub async fn try_send(
        &self,
        member: &NetMember,
        request: Request,
    ) -> Result<Response, ace_coap::RequestError> {
        match self
            .client
            .request(self.kdc(), &member.channel, request)
            .await
        {
            Ok(r) => Ok(r),
            Err(ClientError::Refused { code, diagnostic }) => {
                Ok(Response::new(code).with_payload(diagnostic.unwrap_or_default()))
            }
            Err(ClientError::Request(e)) => Err(e),
            Err(e) => panic!("OSCORE exchange failed: {e}"),
        }
    }

    /// GET `path` over the member's channel.
    pub async fn get(&self, member: &NetMember, path: &str) -> Response {
        self.send(member, Request::get(path)).await
    }

    /// A request with an `application/ace-groupcomm+cbor` payload.
    pub async fn send_cbor(
        &self,
        member: &NetMember,
        method: ace_coap::Method,
        path: &str,
        format: u16,
        body: Vec<u8>,
    ) -> Response {
        self.send(
            member,
            Request::new(method, path)
                .with_content_format(format)
                .with_payload(body),
        )
        .await
    }

    /// Joins `group` with `roles`, signing with the member's key.
    pub async fn join(
        &self,
        member: &NetMember,
        group: &str,
        roles: u64,
        get_creds: Option<GetCreds>,
        control_uri: bool,
    ) -> (Response, Option<JoinResponse>) {
        self.try_join(member, group, roles, get_creds, control_uri)
            .await
            .unwrap()
    }

    /// [`NetClient::join`], with transport failures as errors.
    pub async fn try_join(
        &self,
        member: &NetMember,
        group: &str,
        roles: u64,
        get_creds: Option<GetCreds>,
        control_uri: bool,
    ) -> Result<(Response, Option<JoinResponse>), ace_coap::RequestError> {
        let proof = if roles & 6 != 0 {
            Proof::Signature(&member.keys)
        } else {
            Proof::None
        };
        let uri = control_uri.then(|| self.control_uri(member));
        let req = join_request(group, roles, &member.n_s, proof, get_creds, uri);
        let r = self
            .try_send(
                member,
                Request::post(&format!("/ace-group/{group}"))
                    .with_content_format(cf::ACE_GROUPCOMM_CBOR)
                    .with_payload(req.encode()),
            )
            .await?;
        let decoded = r
            .code
            .is_success()
            .then(|| JoinResponse::decode(&r.payload).unwrap());
        Ok((r, decoded))
    }

    /// Observes `path` over the member's channel.
    pub async fn observe(&self, member: &NetMember, path: &str) -> OscoreObservation<ChannelId> {
        self.client
            .observe(self.kdc(), &member.channel, Request::get(path))
            .await
            .unwrap()
    }

    /// The next message pushed to a `control_uri` on this endpoint, within
    /// `timeout`.
    pub async fn next_pushed(&self, timeout: Duration) -> Option<Pushed> {
        let mut rx = self.pushed.lock().await;
        tokio::time::timeout(timeout, rx.recv())
            .await
            .ok()
            .flatten()
    }
}
