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
use group_oscore::group::{GroupSecurity, Rekeying, RequestMode, ResponseMode};
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
    security: Mutex<GroupSecurity>,
    config: RwLock<GroupConfig>,
    /// The current Gid and the previous one (during its grace period), so
    /// that finding the member of a request does not wait for the member's
    /// lock (held during signature checks).
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

    /// Drops the previous context if its grace period is over at `now`,
    /// then verifies a request (RFC 10021 sections 7.2 and 8.4).
    pub(crate) fn verify_request(
        &self,
        packet: &coap_lite::Packet,
        now: u64,
    ) -> Result<(coap_lite::Packet, ServerExchange), UnprotectError> {
        let mut g = self.security();
        if g.poll_timeout().is_some_and(|until| now >= until) {
            g.handle_timeout(now);
            self.refresh(&g);
        }
        g.unprotect_request(packet)
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
