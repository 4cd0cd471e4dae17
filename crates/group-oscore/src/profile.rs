//! The OSCORE security context of the ACE OSCORE profile (RFC 9203 section
//! 4.3), derived from the OSCORE_Input_Material the AS issued
//! ([`ace_proto::oscore_input::OscoreInputMaterial`]), the nonces `nonce1`
//! and `nonce2`, and the two Recipient IDs exchanged at `/authz-info`.
//!
//! * Master Secret = `ms`; AEAD, HKDF, OSCORE version and ID Context from
//!   `alg`, `hkdf`, `version` and `contextId`, or the RFC 8613 defaults.
//! * Master Salt = `bstr(salt) | bstr(nonce1) | bstr(nonce2)`
//!   ([`ace_proto::oscore_input::master_salt`]). When the Input Material has
//!   no `salt`, this implementation omits the first term (RFC 9203 section
//!   4.3 reads "salt ... if present"); [`MissingSalt::EmptyByteString`]
//!   selects the other reading found in the field (the empty byte string
//!   `0x40`). An AS that always sends a `salt` avoids the ambiguity.
//! * The client's Sender ID is `ace_server_recipientid` (ID2) and its
//!   Recipient ID `ace_client_recipientid` (ID1); the RS takes them the
//!   other way round. Equal IDs abort the derivation.
//! * The context knows when its token expires ([`ProfileContext::expires_at`]),
//!   so the caller, with its own clock, drops it (RFC 9203 section 7) and
//!   answers requests under it with an unprotected 4.01.

use ace_proto::cbor::IntOrText;
use ace_proto::oscore_input::{OscoreInputMaterial, master_salt};
use coap_lite::Packet;

use crate::algorithm::{Hkdf, aead_by_id};
use crate::context::{ContextParams, SecurityContext};
use crate::error::{ContextError, ProtectError, UnprotectError};
use crate::exchange::{ClientExchange, ServerExchange};

/// The OSCORE version this crate implements.
const OSCORE_VERSION: u64 = 1;

/// Which side of the RFC 9203 exchange this endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client, which sent `nonce1` and `ace_client_recipientid`.
    Client,
    /// The resource server (e.g. the KDC), which answered with `nonce2` and
    /// `ace_server_recipientid`.
    ResourceServer,
}

/// How an Input Material without `salt` enters the Master Salt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingSalt {
    /// Omit the term: Master Salt = `bstr(N1) | bstr(N2)` (the default).
    #[default]
    Omit,
    /// Use the empty byte string: Master Salt = `0x40 | bstr(N1) | bstr(N2)`.
    EmptyByteString,
}

/// The values exchanged at `/authz-info` (RFC 9203 section 4).
#[derive(Debug, Clone, Copy)]
pub struct AuthzInfoExchange<'a> {
    /// `nonce1` (N1), chosen by the client.
    pub nonce1: &'a [u8],
    /// `nonce2` (N2), chosen by the RS.
    pub nonce2: &'a [u8],
    /// `ace_client_recipientid` (ID1): the client's Recipient ID.
    pub client_recipient_id: &'a [u8],
    /// `ace_server_recipientid` (ID2): the RS's Recipient ID.
    pub server_recipient_id: &'a [u8],
}

/// The [`ContextParams`] of RFC 9203 section 4.3 for `role`.
pub fn context_params(
    material: &OscoreInputMaterial,
    exchange: &AuthzInfoExchange<'_>,
    role: Role,
    missing_salt: MissingSalt,
) -> Result<ContextParams, ContextError> {
    let ms = material
        .ms
        .as_deref()
        .filter(|ms| !ms.is_empty())
        .ok_or(ContextError::Missing("ms"))?;
    if let Some(v) = material.version
        && v != OSCORE_VERSION
    {
        return Err(ContextError::UnsupportedVersion(v));
    }
    if exchange.client_recipient_id == exchange.server_recipient_id {
        return Err(ContextError::SameIds);
    }
    let text_alg = |what: &'static str, name: &str| ContextError::UnsupportedAlgorithmName {
        what,
        name: name.to_string(),
    };
    let hkdf = match &material.hkdf {
        None => Hkdf::Sha256,
        Some(IntOrText::Int(id)) => {
            Hkdf::from_cose_id(*id).ok_or(ContextError::UnsupportedAlgorithm {
                what: "HKDF",
                id: *id,
            })?
        }
        Some(IntOrText::Text(name)) => return Err(text_alg("HKDF", name)),
    };
    let aead = match &material.alg {
        None => &crate::algorithm::AES_CCM_16_64_128,
        Some(IntOrText::Int(id)) => aead_by_id(*id).ok_or(ContextError::UnsupportedAlgorithm {
            what: "AEAD",
            id: *id,
        })?,
        Some(IntOrText::Text(name)) => return Err(text_alg("AEAD", name)),
    };
    let salt = match (&material.salt, missing_salt) {
        (Some(s), _) => Some(s.as_slice()),
        (None, MissingSalt::Omit) => None,
        (None, MissingSalt::EmptyByteString) => Some(&[][..]),
    };
    let master_salt = master_salt(salt, exchange.nonce1, exchange.nonce2);
    let (sender, recipient) = match role {
        Role::Client => (exchange.server_recipient_id, exchange.client_recipient_id),
        Role::ResourceServer => (exchange.client_recipient_id, exchange.server_recipient_id),
    };
    let mut params = ContextParams::new(ms, sender, recipient)
        .master_salt(&master_salt)
        .aead(aead);
    params.hkdf = hkdf;
    if let Some(ctx) = &material.context_id {
        params = params.id_context(ctx);
    }
    Ok(params)
}

/// An OSCORE context bound to the access token it was derived for.
#[derive(Debug)]
pub struct ProfileContext {
    context: SecurityContext,
    input_material_id: Option<Vec<u8>>,
    expires_at: Option<u64>,
}

impl ProfileContext {
    /// Derives the context of RFC 9203 section 4.3 for `role`.
    /// `expires_at` is the token's `exp` (seconds since the epoch), if the
    /// token has one.
    pub fn derive(
        material: &OscoreInputMaterial,
        exchange: &AuthzInfoExchange<'_>,
        role: Role,
        missing_salt: MissingSalt,
        expires_at: Option<u64>,
    ) -> Result<Self, ContextError> {
        let params = context_params(material, exchange, role, missing_salt)?;
        Ok(Self {
            context: SecurityContext::new(&params)?,
            input_material_id: material.id.clone(),
            expires_at,
        })
    }

    /// The `id` of the Input Material: the `kid` an access-rights update
    /// must name (RFC 9203 section 4.1).
    pub fn input_material_id(&self) -> Option<&[u8]> {
        self.input_material_id.as_deref()
    }

    /// When the token, and with it this context, expires.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// Replaces the expiry, after an access-rights update that keeps the
    /// context (RFC 9203 section 4.1).
    pub fn set_expires_at(&mut self, expires_at: Option<u64>) {
        self.expires_at = expires_at;
    }

    /// Whether the context must no longer be used at time `now` (seconds
    /// since the epoch, from the caller's clock).
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|exp| now >= exp)
    }

    /// The OSCORE context.
    pub fn context(&self) -> &SecurityContext {
        &self.context
    }

    /// The OSCORE context, mutably (for protecting and verifying).
    pub fn context_mut(&mut self) -> &mut SecurityContext {
        &mut self.context
    }

    /// Verifies a request unless the token has expired at `now`, in which
    /// case the RS answers with an unprotected 4.01 (RFC 9203 section 4.3):
    /// [`UnprotectError::ContextNotFound`].
    pub fn unprotect_request(
        &mut self,
        request: &Packet,
        now: u64,
    ) -> Result<(Packet, ServerExchange), UnprotectError> {
        if self.is_expired(now) {
            return Err(UnprotectError::ContextNotFound);
        }
        self.context.unprotect_request(request)
    }

    /// Protects a request unless the token has expired at `now` (the client
    /// MUST then discard the context, RFC 9203 section 7).
    pub fn protect_request(
        &mut self,
        request: &Packet,
        now: u64,
    ) -> Result<(Packet, ClientExchange), ProtectError> {
        if self.is_expired(now) {
            return Err(ProtectError::StaleExchange("the access token has expired"));
        }
        self.context.protect_request(request)
    }
}
