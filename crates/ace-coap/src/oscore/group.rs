//! A Group OSCORE member (RFC 10021) on this endpoint: its
//! [`GroupSecurity`] behind one mutex, shared by the server layer (requests
//! from other members, in group or pairwise mode, by multicast or unicast)
//! and the client side (group requests to a multicast address, pairwise
//! requests to one member).
//!
//! The keying material is replaceable at runtime: [`GroupMember::rekey`]
//! installs new material and keeps the previous context for its grace
//! period (the profile's Expiration Delta), [`GroupMember::replace`] swaps
//! in a whole new [`GroupSecurity`] (e.g. after a re-join). Exchanges in
//! flight keep working across a rekeying as RFC 10021 section 2.6.3.2
//! describes: responses are protected with the latest context, requests
//! under the previous Gid are accepted during the grace period.
//!
//! # Roles
//!
//! `group-oscore` enforces them: requests from members without the
//! Requester role are refused ([`group_oscore::UnprotectError::RoleNotAuthorized`]),
//! and a member without a Sender Context (a Monitor, RFC 10021 section 2.2)
//! or without the Responder role cannot protect a response. The server layer
//! then stays silent: it still hands a Monitor's verified requests to the
//! application, and answers nothing at all ([`crate::Response::no_response`]:
//! a Confirmable request gets only the empty ACK that stops its
//! retransmissions), by unicast as by multicast.

use super::convert::{
    ConvertError, outer_request, packet_to_response, request_to_packet, response_to_packet,
};
use super::table::lock;
use crate::request::Request;
use crate::response::Response;
use group_oscore::group::{
    GroupSecurity, PendingRequest, Rekeying, RequestMode, ResponseMode, Verification,
};
use group_oscore::{ClientExchange, ContextError, ProtectError, ServerExchange, UnprotectError};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// How a member protects its responses to verified requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponsePolicy {
    /// Pairwise mode (RFC 10021 section 8.5), as aiocoap does; group mode
    /// in a group without pairwise mode. The default: no signature to
    /// compute, and only the requester can read it.
    #[default]
    Pairwise,
    /// Group mode (section 7.3), signed; pairwise mode in a group without
    /// group mode.
    Group,
    /// The mode of the request.
    LikeRequest,
}

/// The behaviour of a member's server side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupConfig {
    /// How responses are protected.
    pub responses: ResponsePolicy,
    /// Whether a multicast request whose (inner) response is an error is
    /// answered. By default it is not: RFC 10021 section 7 says servers
    /// SHOULD NOT send error responses to group requests, like RFC 7252
    /// section 8.2 for plain CoAP.
    pub respond_to_multicast_errors: bool,
}

struct Inner {
    /// The state. Held for the checks before and after a request's
    /// verification and for protecting responses, not while a request's
    /// countersignature is verified or its payload decrypted.
    security: Mutex<GroupSecurity>,
    config: RwLock<GroupConfig>,
    /// The current Gid and the previous one (during its grace period), so
    /// that finding the member of a request does not wait for the member's
    /// lock.
    gids: RwLock<(Vec<u8>, Option<Vec<u8>>)>,
}

fn gids_of(g: &GroupSecurity) -> (Vec<u8>, Option<Vec<u8>>) {
    (g.gid().to_vec(), g.previous().map(|p| p.gid().to_vec()))
}

/// A Group OSCORE member, cheap to clone (see the module docs).
#[derive(Clone)]
pub struct GroupMember {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMember")
            .field("security", &*self.security())
            .field("config", &self.config())
            .finish()
    }
}

impl GroupMember {
    /// A member with `security` and the default [`GroupConfig`].
    pub fn new(security: GroupSecurity) -> Self {
        Self::with_config(security, GroupConfig::default())
    }

    /// A member with `security` and `config`.
    pub fn with_config(security: GroupSecurity, config: GroupConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                gids: RwLock::new(gids_of(&security)),
                security: Mutex::new(security),
                config: RwLock::new(config),
            }),
        }
    }

    /// The server-side behaviour.
    pub fn config(&self) -> GroupConfig {
        *self
            .inner
            .config
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes the server-side behaviour.
    pub fn set_config(&self, config: GroupConfig) {
        *self
            .inner
            .config
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
    }

    /// Replaces the whole Group OSCORE state (e.g. after a re-join) and
    /// returns the previous one. Exchanges protected with the previous state
    /// can no longer be verified.
    pub fn replace(&self, security: GroupSecurity) -> GroupSecurity {
        self.update(|g| std::mem::replace(g, security))
    }

    /// Installs new keying material at `now` (seconds since the epoch),
    /// keeping the previous context for verification during
    /// `rekeying.grace` seconds (RFC 10021 section 12.2,
    /// [`GroupSecurity::rekey`]).
    pub fn rekey(&self, rekeying: Rekeying, now: u64) -> Result<(), ContextError> {
        self.update(|g| g.rekey(rekeying, now))
    }

    /// Runs `f` on the Group OSCORE state (to add or remove members, read
    /// keys, ...).
    pub fn update<R>(&self, f: impl FnOnce(&mut GroupSecurity) -> R) -> R {
        let mut g = self.security();
        let result = f(&mut g);
        self.refresh(&g);
        result
    }

    /// Records the Gids of `g` (called with the member's lock held).
    fn refresh(&self, g: &GroupSecurity) {
        *self
            .inner
            .gids
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = gids_of(g);
    }

    /// Verifies a request (RFC 10021 sections 7.2 and 8.4) in three steps,
    /// so that requests to one group are verified in parallel: the checks
    /// against the state with the member's lock held
    /// ([`GroupMember::check_request`]), the countersignature and the
    /// decryption without it ([`PendingRequest::verify`]), and the checks
    /// again with the replay window update, atomically, with the lock held
    /// ([`GroupMember::finish_request`]).
    pub(crate) fn verify_request(
        &self,
        packet: &coap_lite::Packet,
        now: u64,
    ) -> Result<(coap_lite::Packet, ServerExchange), UnprotectError> {
        let pending = self.check_request(packet, now)?;
        self.finish_request(pending.verify())
    }

    /// Drops the previous context if its grace period is over at `now`,
    /// then checks a request against the state.
    pub(crate) fn check_request(
        &self,
        packet: &coap_lite::Packet,
        now: u64,
    ) -> Result<PendingRequest, UnprotectError> {
        let mut g = self.security();
        if g.poll_timeout().is_some_and(|until| now >= until) {
            g.handle_timeout(now);
            self.refresh(&g);
        }
        g.check_request(packet)
    }

    /// Accepts a verified request if the state still allows it.
    pub(crate) fn finish_request(
        &self,
        verification: Verification,
    ) -> Result<(coap_lite::Packet, ServerExchange), UnprotectError> {
        self.security().finish_request(verification)
    }

    /// The current Gid.
    pub fn gid(&self) -> Vec<u8> {
        self.inner
            .gids
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    /// The Key Generation Number of the current keying material.
    pub fn key_generation(&self) -> Option<u64> {
        self.security().key_generation()
    }

    /// Whether `gid` is the current Gid or that of the previous context
    /// still in its grace period.
    pub(crate) fn knows_gid(&self, gid: &[u8]) -> bool {
        let gids = self
            .inner
            .gids
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gids.0 == gid || gids.1.as_deref() == Some(gid)
    }

    pub(crate) fn security(&self) -> MutexGuard<'_, GroupSecurity> {
        lock(&self.inner.security)
    }

    /// Whether two handles are the same member.
    pub(crate) fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The mode for the response to a request verified as `exchange`.
    pub(crate) fn response_mode(
        &self,
        g: &GroupSecurity,
        exchange: &ServerExchange,
    ) -> ResponseMode {
        let params = g.current().params();
        let pairwise = params.has_pairwise_mode();
        let group = params.has_group_mode();
        match self.config().responses {
            ResponsePolicy::Pairwise if pairwise => ResponseMode::Pairwise,
            ResponsePolicy::Group if group => ResponseMode::Group,
            ResponsePolicy::LikeRequest if exchange.is_group_mode() && group => ResponseMode::Group,
            ResponsePolicy::LikeRequest if !exchange.is_group_mode() && pairwise => {
                ResponseMode::Pairwise
            }
            _ if pairwise => ResponseMode::Pairwise,
            _ => ResponseMode::Group,
        }
    }

    /// The mode of an Echo challenge: pairwise when the group has it (RFC
    /// 10021 section 9 makes the repeated request pairwise and unicast).
    pub(crate) fn challenge_mode(g: &GroupSecurity) -> ResponseMode {
        if g.current().params().has_pairwise_mode() {
            ResponseMode::Pairwise
        } else {
            ResponseMode::Group
        }
    }

    /// Protects a complete request in `mode` (RFC 10021 sections 7.1 and
    /// 8.3); returns the outer request and the exchange for its responses.
    pub fn protect_request(
        &self,
        request: &Request,
        mode: &RequestMode,
    ) -> Result<(Request, ClientExchange), ProtectError> {
        let packet = request_to_packet(request);
        let (outer, exchange) = self.security().protect_request(&packet, mode)?;
        Ok((outer_request(&outer, request), exchange))
    }

    /// Verifies a response to a request protected with
    /// [`GroupMember::protect_request`] (RFC 10021 sections 7.4 and 8.6);
    /// returns the responder's Sender ID and the decrypted response.
    pub fn unprotect_response(
        &self,
        exchange: &mut ClientExchange,
        response: &Response,
    ) -> Result<(Vec<u8>, Response), UnprotectError> {
        let packet = response_to_packet(response);
        let got = self.security().unprotect_response(&packet, exchange)?;
        let mut out = packet_to_response(&got.message);
        super::client::carry_observe(response, &mut out);
        Ok((got.kid, out))
    }
}

/// A decrypted request that cannot become a [`Request`] gets this protected
/// error response.
pub(crate) fn convert_error_response(e: &ConvertError) -> Response {
    Response::new(e.code()).with_payload(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ace_proto::keys::{SignatureAlgorithm, SigningKey};
    use coap_lite::{MessageClass, Packet};
    use group_oscore::group::{Credential, GroupParams, Member, OwnIdentity};

    struct Identity {
        id: Vec<u8>,
        key: SigningKey,
        credential: Vec<u8>,
    }

    fn identity(id: u8) -> Identity {
        let key = SigningKey::generate(SignatureAlgorithm::EdDsa);
        let credential =
            ace_proto::credential::Credential::ccs_for_signing_key(&key, "m", None).into_bytes();
        Identity {
            id: vec![id],
            key,
            credential,
        }
    }

    fn state(me: &Identity, others: &[&Identity]) -> GroupSecurity {
        let params = GroupParams::new(&[0x47], &[3u8; 16], SignatureAlgorithm::EdDsa, b"gm");
        GroupSecurity::new(
            params,
            OwnIdentity::new(&me.id, me.key.clone(), &me.credential),
            others.iter().map(|o| {
                Member::new(
                    &o.id,
                    Credential::new(&o.credential, o.key.verifying_key()).unwrap(),
                )
            }),
        )
        .unwrap()
    }

    fn post(body: &[u8]) -> Packet {
        let mut p = Packet::new();
        p.header.code = MessageClass::from(0x02);
        p.payload = body.to_vec();
        p
    }

    #[test]
    fn requests_to_one_group_are_verified_while_its_lock_is_held_elsewhere() {
        let (a, b, server) = (identity(1), identity(2), identity(3));
        let member = GroupMember::new(state(&server, &[&a, &b]));
        let (ra, _) = state(&a, &[&b, &server])
            .protect_request(&post(b"from a"), &RequestMode::Group)
            .unwrap();
        let (rb, _) = state(&b, &[&a, &server])
            .protect_request(&post(b"from b"), &RequestMode::Group)
            .unwrap();
        let pending = [
            member.check_request(&ra, 0).unwrap(),
            member.check_request(&rb, 0).unwrap(),
        ];
        // Both countersignatures are verified and both payloads decrypted,
        // on two threads at once, while the member's lock is held (as by a
        // third request's checks or a response being protected).
        let verified = {
            let _held = member.security();
            std::thread::scope(|scope| {
                let handles: Vec<_> = pending
                    .into_iter()
                    .map(|p| scope.spawn(move || p.verify()))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
        };
        let payloads: Vec<Vec<u8>> = verified
            .into_iter()
            .map(|v| member.finish_request(v).unwrap().0.payload)
            .collect();
        assert_eq!(payloads, vec![b"from a".to_vec(), b"from b".to_vec()]);
        // The replay windows moved: the same requests again are replays.
        assert!(matches!(
            member.verify_request(&ra, 0),
            Err(UnprotectError::Replay(_))
        ));
    }
}
