//! Driving the sans-I/O core directly: a client talks to `Kdc::handle`
//! with a channel identity, no sockets.

#![allow(dead_code, clippy::unwrap_used)]

use super::{ClientKeys, Proof, TestAs, TokenSpec, join_request, sender_id};
use ace_kdc::store::Store;
use ace_kdc::{Caller, ChannelId, Effect, Kdc, KdcRequest, Method, Outcome};
use ace_proto::Codec;
use ace_proto::authz_info::{TokenTransferRequest, TokenTransferResponse};
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::JoinResponse;
use ace_proto::keys::random_bytes;
use ace_proto::roles::group_oscore::{REQUESTER, RESPONDER};
use std::sync::Arc;

/// A KDC core on a store, with a clock the test moves.
pub struct Harness {
    pub kdc: Kdc,
    pub store: Arc<dyn Store>,
    pub authority: TestAs,
    pub now: u64,
}

pub const T0: u64 = 1_900_000_000;

impl Harness {
    pub fn new(store: Arc<dyn Store>, groups: &str) -> Self {
        let dir = std::env::temp_dir();
        let config = super::config(&dir.join("unused.sqlite"), groups);
        let (kdc, _) = Kdc::open(config, store.clone(), T0).unwrap();
        Self {
            kdc,
            store,
            authority: TestAs::new(),
            now: T0,
        }
    }

    pub fn memory(groups: &str) -> Self {
        Self::new(Arc::new(ace_kdc::store::MemoryStore::new()), groups)
    }

    pub fn request(&self, caller: &Caller, req: KdcRequest) -> Outcome {
        self.kdc.handle(&req, caller, self.now)
    }

    pub fn get(&self, caller: &Caller, path: &str) -> Outcome {
        self.request(caller, KdcRequest::new(Method::Get, path))
    }

    pub fn send(
        &self,
        caller: &Caller,
        method: Method,
        path: &str,
        cf: u16,
        body: Vec<u8>,
    ) -> Outcome {
        self.request(caller, KdcRequest::new(method, path).with_payload(cf, body))
    }

    /// Posts `token` to /authz-info with fresh nonce1 and ID1; returns the
    /// response (decoded) and the caller of the new channel.
    pub fn authz(
        &self,
        token: Vec<u8>,
        sign_info: bool,
    ) -> (Outcome, Option<(Caller, TokenTransferResponse)>) {
        let req = TokenTransferRequest {
            access_token: token,
            nonce1: Some(random_bytes(8)),
            ace_client_recipientid: Some(vec![0x77]),
            sign_info,
            ..TokenTransferRequest::default()
        };
        let out = self.send(
            &Caller::Unauthenticated,
            Method::Post,
            "/authz-info",
            cf::ACE_CBOR,
            req.encode(),
        );
        if !out.response.code.is_success() {
            return (out, None);
        }
        let resp = TokenTransferResponse::decode(&out.response.payload).unwrap();
        let ch = ChannelId(resp.ace_server_recipientid.clone().unwrap());
        assert!(
            out.effects
                .iter()
                .any(|e| matches!(e, Effect::InstallChannel(s) if s.channel == ch))
        );
        (out, Some((Caller::Channel(ch), resp)))
    }

    /// A client with a token for `grant`, valid for an hour.
    pub fn client(&self, keys: &ClientKeys, grant: &[(&str, u64)]) -> (Caller, Vec<u8>) {
        let spec: TokenSpec = keys.token(grant, self.now + 3600);
        let (_, got) = self.authz(self.authority.mint(&spec), true);
        let (caller, resp) = got.expect("token accepted");
        (caller, resp.kdcchallenge.unwrap_or_default())
    }
}

impl Harness {
    /// Everything the KDC stores and shows, to compare before and after a
    /// refused request.
    pub fn fingerprint(&self) -> String {
        let summaries: Vec<_> = self
            .kdc
            .group_names()
            .iter()
            .map(|g| self.kdc.group_summary(g))
            .collect();
        format!("{:?}\n{:?}", summaries, self.store.load().unwrap())
    }

    /// Joins `group` with `roles` as `keys`, signing over `n_s`.
    pub fn join(
        &self,
        caller: &Caller,
        group: &str,
        req: &ace_proto::groupcomm::JoinRequest,
    ) -> Outcome {
        self.send(
            caller,
            Method::Post,
            &format!("/ace-group/{group}"),
            cf::ACE_GROUPCOMM_CBOR,
            req.encode(),
        )
    }
}

/// A client that joined through [`Harness::joined`].
pub struct Joined {
    pub caller: Caller,
    pub keys: ClientKeys,
    /// The node name (NODENAME).
    pub node: String,
    pub resp: JoinResponse,
    /// N_C of the Join Request.
    pub cnonce: Vec<u8>,
}

impl Joined {
    /// The member's Sender ID.
    pub fn sid(&self) -> Vec<u8> {
        sender_id(&self.resp.material).unwrap_or_default()
    }
}

impl Harness {
    /// A new client with fresh keys and a token for `group` with `roles`
    /// joins it (signing its PoP unless it joins as Monitor only); the join
    /// must succeed.
    pub fn joined(&self, group: &str, roles: u64, control_uri: Option<&str>) -> Joined {
        let keys = ClientKeys::ed25519();
        let (caller, n_s) = self.client(&keys, &[(group, roles)]);
        let proof = if roles & (REQUESTER | RESPONDER) != 0 {
            Proof::Signature(&keys)
        } else {
            Proof::None
        };
        let req = join_request(
            group,
            roles,
            &n_s,
            proof,
            None,
            control_uri.map(str::to_string),
        );
        let out = self.join(&caller, group, &req);
        assert_eq!(out.response.code, Code::CREATED);
        Joined {
            cnonce: req.cnonce,
            caller,
            node: out.response.location_path[3].clone(),
            resp: JoinResponse::decode(&out.response.payload).unwrap(),
            keys,
        }
    }
}
