//! The join flow as a sequence of phase types, without I/O (the rustls and
//! quinn-proto pattern): each phase makes the request to send and consumes
//! itself with the response to become the next phase, so a step cannot be
//! skipped or repeated by mistake.
//!
//! ```text
//!  AwaitHints --(4.01 + AS Request Creation Hints)--> AwaitToken
//!  AwaitToken --(2.01 Access Information, cnf: osc)--> AwaitTokenTransfer
//!  AwaitTokenTransfer --(2.01 nonce2, ID2, N_S, sign_info)--> KdcSession
//!  AwaitToken + KdcSession -> AwaitUpdatedToken --(2.01, no cnf)--> AwaitRightsUpdate
//!  AwaitRightsUpdate --(2.01 over the session's OSCORE context)--> KdcSession (new token)
//!  KdcSession + group -> AwaitJoin --(2.01/2.04 Join Response, kdc_cred_verify ok)--> Joined
//!                                  \--(4.00 with a new kdcchallenge)--> AwaitJoin (retry)
//! ```
//!
//! * [`AwaitHints`]: a request to the KDC without a token; the KDC answers
//!   4.01 with AS Request Creation Hints (RFC 9200 section 5.3): the AS,
//!   the audience, a scope and a `cnonce`.
//! * [`AwaitToken`]: `POST /token` to the AS named in the hints, over the
//!   client's OSCORE context with that AS, with the `cnonce` copied (RFC 9200
//!   sections 5.3.1 and 5.8.1).
//! * [`AwaitTokenTransfer`]: `POST /authz-info` with the token, `nonce1`,
//!   the client's Recipient ID and `sign_info: null` (RFC 9203 section 4.1,
//!   RFC 9594 section 3.3).
//! * [`KdcSession`]: the OSCORE context with the KDC (RFC 9203 section 4.3)
//!   and what the token grants.
//! * [`AwaitUpdatedToken`], [`AwaitRightsUpdate`]: the access-rights update
//!   of a session (RFC 9203 section 4.1, RFC 9594 section 3.3): a token
//!   with the session's scope plus new entries, `req_cnf` naming the
//!   session's Input Material by its `id`, POSTed to `/authz-info` over the
//!   session's OSCORE context, which stays.
//! * [`AwaitJoin`]: the Join Request with `client_cred`, `cnonce` and the
//!   PoP over `scope | N_S | N_C` (RFC 9594 section 4.3.1); the response's
//!   `kdc_cred_verify` must verify, or the join failed.
//! * [`Joined`]: the Join Response together with the proof that the KDC's
//!   PoP verified ([`ace_proto::pop::PopVerified`]).

use crate::config::{ClientConfig, Identity};
use crate::error::{ClientError, Rejection};
use ace_coap::{Request, Response};
use ace_proto::authz_info::{
    KdcDhCredsEntry, SignInfoEntry, TokenTransferRequest, TokenTransferResponse,
};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::content_format as cf;
use ace_proto::credential::{Credential, PublicKey};
use ace_proto::cwt::Confirmation;
use ace_proto::groupcomm::{GetCreds, GroupcommErrorBody, JoinRequest, JoinResponse};
use ace_proto::keys::random_bytes;
use ace_proto::oauth::{
    AccessTokenRequest, AccessTokenResponse, AsRequestCreationHints, ErrorResponse,
};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::pop::{DhPrivateKey, DhPublicKey, PopCheck, PopProver, PopVerified};
use ace_proto::problem::ProblemDetails;
use ace_proto::roles::group_oscore::{self as roles, MONITOR};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use group_oscore::ContextParams;
use group_oscore::profile::{AuthzInfoExchange, MissingSalt, Role, context_params};

/// The ACE profile value of `coap_oscore` (RFC 9203 section 9.1).
const COAP_OSCORE: i64 = 2;

/// Length of `nonce1` and `cnonce`: 64 random bits (RFC 9203 section 4.1,
/// Group OSCORE profile section 6.1: at least 8 bytes).
pub const NONCE_LEN: usize = 8;

/// Builds the [`Rejection`] of a non-success response from the KDC.
pub fn rejection(operation: impl Into<String>, response: &Response) -> ClientError {
    let problem = (response.content_format() == Some(cf::CONCISE_PROBLEM_DETAILS_CBOR))
        .then(|| ProblemDetails::decode(&response.payload).ok())
        .flatten();
    let diagnostic =
        (problem.is_none() && !response.payload.is_empty() && response.content_format().is_none())
            .then(|| String::from_utf8_lossy(&response.payload).into_owned());
    ClientError::Rejected(Box::new(Rejection {
        operation: operation.into(),
        code: response.code,
        error_id: problem.as_ref().and_then(|p| p.error_id),
        problem,
        diagnostic,
    }))
}

/// Checks that `roles` is a set a node may join with (Group OSCORE profile
/// section 3): not empty, only Requester, Responder and Monitor, and no
/// Monitor together with another role.
pub fn check_join_roles(roles: u64) -> Result<(), ClientError> {
    if roles::is_valid_join_set(roles) {
        Ok(())
    } else {
        Err(ClientError::Config(format!(
            "roles {} ({roles}) cannot be joined with: one or more of Requester (2) and \
             Responder (4), or Monitor (8) alone",
            roles::names(roles)
        )))
    }
}

/// The content of the Join Request's `scope`: the CBOR encoding of one AIF
/// scope entry `[gname, roles]` (RFC 9594 section 4.3.1; Group OSCORE
/// profile section 3).
pub fn join_scope(group: &str, roles: u64) -> Vec<u8> {
    ScopeEntry::aif(group, roles).encode()
}

// ---------------------------------------------------------------------------
// Phase 1: hints
// ---------------------------------------------------------------------------

/// The first phase: the client knows the KDC and nothing else. It sends
/// its request without a token and expects 4.01 with AS Request Creation
/// Hints (RFC 9200 section 5.3).
#[derive(Debug, Clone)]
pub struct AwaitHints {
    group: String,
    roles: u64,
    more: Vec<(String, u64)>,
}

impl AwaitHints {
    /// Starts the flow for joining `group` with AIF `roles`; `more` are
    /// further (group, roles) entries to ask for in the same token.
    pub fn new(group: &str, roles: u64, more: &[(String, u64)]) -> Result<Self, ClientError> {
        check_join_roles(roles)?;
        for (g, r) in more {
            check_join_roles(*r).map_err(|e| ClientError::Config(format!("{g}: {e}")))?;
        }
        Ok(Self {
            group: group.to_string(),
            roles,
            more: more.to_vec(),
        })
    }

    /// The request: an unprotected POST to the group-membership resource,
    /// without payload (the KDC checks the token first, RFC 9594 section
    /// 4.1.2, so nothing is revealed).
    pub fn request(&self) -> Request {
        Request::post(&format!("/ace-group/{}", self.group))
    }

    /// Reads the 4.01 with hints. The audience comes from the configuration
    /// if set, else from the hints (RFC 9200 section 6.9 warns that the
    /// hint is unauthenticated); the AS must be one the client has a
    /// context with.
    pub fn handle(
        self,
        response: &Response,
        config: &ClientConfig,
    ) -> Result<AwaitToken, ClientError> {
        if response.code != Code::UNAUTHORIZED || response.content_format() != Some(cf::ACE_CBOR) {
            return Err(ClientError::NoCreationHints {
                code: response.code,
            });
        }
        let hints = AsRequestCreationHints::decode(&response.payload)
            .map_err(|e| ClientError::decode("AS Request Creation Hints", e))?;
        AwaitToken::from_hints(self, hints, config)
    }
}

// ---------------------------------------------------------------------------
// Phase 2: token
// ---------------------------------------------------------------------------

/// The second phase: ask the AS for a token (RFC 9200 section 5.8.1).
#[derive(Debug, Clone)]
pub struct AwaitToken {
    as_uri: String,
    audience: String,
    cnonce: Option<Vec<u8>>,
    scope: GroupScope,
    group: String,
    roles: u64,
}

impl AwaitToken {
    fn from_hints(
        hints_phase: AwaitHints,
        hints: AsRequestCreationHints,
        config: &ClientConfig,
    ) -> Result<Self, ClientError> {
        let as_uri = hints.as_uri.ok_or(ClientError::Malformed {
            what: "AS Request Creation Hints",
            reason: "no AS URI".into(),
        })?;
        if config.authority(&as_uri).is_none() {
            return Err(ClientError::UnknownAuthorizationServer(as_uri));
        }
        let audience = match (&config.kdc_audience, hints.audience) {
            (Some(configured), _) => configured.clone(),
            (None, Some(hinted)) => hinted,
            (None, None) => {
                return Err(ClientError::Malformed {
                    what: "AS Request Creation Hints",
                    reason: "no audience, and none configured".into(),
                });
            }
        };
        Ok(Self::new(
            &as_uri,
            &audience,
            hints.cnonce,
            &hints_phase.group,
            hints_phase.roles,
            &hints_phase.more,
        ))
    }

    /// A token request for `group` with `roles` (and the `more` entries) at
    /// the AS `as_uri`, for `audience`, with the hints' `cnonce`.
    pub fn new(
        as_uri: &str,
        audience: &str,
        cnonce: Option<Vec<u8>>,
        group: &str,
        roles: u64,
        more: &[(String, u64)],
    ) -> Self {
        let mut entries = vec![ScopeEntry::aif(group, roles)];
        entries.extend(
            more.iter()
                .filter(|(g, _)| g != group)
                .map(|(g, r)| ScopeEntry::aif(g.clone(), *r)),
        );
        Self {
            as_uri: as_uri.to_string(),
            audience: audience.to_string(),
            cnonce,
            scope: GroupScope::new(entries),
            group: group.to_string(),
            roles,
        }
    }

    /// The AS's token endpoint.
    pub fn as_uri(&self) -> &str {
        &self.as_uri
    }

    /// The request: `POST /token` with the Access Token Request
    /// (`application/ace+cbor`): `audience`, the AIF `scope`, `cnonce` from
    /// the hints, and `ace_profile` (null) to learn the profile.
    pub fn request(&self) -> Request {
        self.token_request(None)
    }

    fn token_request(&self, req_cnf: Option<Confirmation>) -> Request {
        let body = AccessTokenRequest {
            audience: Some(self.audience.clone()),
            scope: Some(ScopeValue::group(&self.scope)),
            req_cnf,
            ace_profile: true,
            cnonce: self.cnonce.clone(),
            ..AccessTokenRequest::default()
        };
        Request::post("/token")
            .with_content_format(cf::ACE_CBOR)
            .with_payload(body.encode())
    }

    /// Turns this token request into the one of an access-rights update of
    /// `session` (RFC 9203 section 4.1; RFC 9594 section 3.3): the scope
    /// asks for everything the session's token grants plus the new entries
    /// (the new token replaces the old one at the KDC, which evicts members
    /// whose roles it no longer grants), and `req_cnf` names the session's
    /// OSCORE_Input_Material by its `id`, so that the new token is bound to
    /// the same material and the OSCORE context with the KDC stays.
    pub fn for_update(self, session: &KdcSession) -> Result<AwaitUpdatedToken, ClientError> {
        let kid = session.material.id.clone().ok_or_else(|| {
            ClientError::malformed(
                "OSCORE_Input_Material",
                "no id: the token cannot be named in an access-rights update",
            )
        })?;
        let mut entries: Vec<ScopeEntry> = session.granted.entries.clone();
        for wanted in &self.scope.entries {
            let bits = wanted.aif_bits().unwrap_or(0);
            match entries.iter_mut().find(|e| e.name == wanted.name) {
                Some(e) => {
                    let have = e.aif_bits().unwrap_or(0);
                    *e = ScopeEntry::aif(e.name.clone(), have | bits);
                }
                None => entries.push(wanted.clone()),
            }
        }
        let mut token = self;
        token.scope = GroupScope::new(entries);
        Ok(AwaitUpdatedToken {
            token,
            kid,
            previous: session.granted.clone(),
        })
    }

    /// The Access Information's checks common to a new token and an
    /// updated one: 2.01, the profile, the granted scope (which must grant
    /// the roles asked for), and the lifetime.
    fn access_information(
        &self,
        response: &Response,
        now: u64,
    ) -> Result<(AccessTokenResponse, GroupScope, u64), ClientError> {
        if response.code != Code::CREATED {
            let error = ErrorResponse::decode(&response.payload).ok();
            return Err(ClientError::TokenRefused {
                code: response.code,
                error: error.as_ref().map(|e| e.error),
                description: error.and_then(|e| e.error_description),
            });
        }
        let info = AccessTokenResponse::decode(&response.payload)
            .map_err(|e| ClientError::decode("Access Information", e))?;
        if let Some(profile) = info.ace_profile
            && profile != COAP_OSCORE
        {
            return Err(ClientError::malformed(
                "Access Information",
                format!("ace_profile {profile}, this client implements coap_oscore (2)"),
            ));
        }
        let granted = match &info.scope {
            Some(value) => value
                .group_scope()
                .map_err(|e| ClientError::decode("granted scope", e))?,
            None => self.scope.clone(),
        };
        if !granted.covers(&ScopeEntry::aif(self.group.clone(), self.roles)) {
            return Err(ClientError::ScopeNotGranted {
                group: self.group.clone(),
                roles: roles::names(self.roles),
            });
        }
        let lifetime = info.expires_in.ok_or(ClientError::Malformed {
            what: "Access Information",
            reason: "no expires_in (the client MUST NOT use a token of unknown lifetime, \
                     RFC 9200 section 5.10.4)"
                .into(),
        })?;
        Ok((info, granted, now.saturating_add(lifetime)))
    }

    /// Reads the Access Information (RFC 9200 section 5.8.2): the token,
    /// `cnf` with OSCORE_Input_Material (RFC 9203 section 3.2), the granted
    /// scope (the requested one when absent, RFC 9594 section 3.2), which
    /// must grant the roles asked for, and `expires_in` (the Group OSCORE
    /// profile section 5: MUST), from which the token's expiry at `now`
    /// follows.
    pub fn handle(self, response: &Response, now: u64) -> Result<AwaitTokenTransfer, ClientError> {
        let (info, granted, expires_at) = self.access_information(response, now)?;
        let material = match info.cnf {
            Some(Confirmation::Osc(m)) => m,
            _ => {
                return Err(ClientError::malformed(
                    "Access Information",
                    "no OSCORE_Input_Material in cnf",
                ));
            }
        };
        material
            .check_usable()
            .map_err(|e| ClientError::decode("OSCORE_Input_Material", e))?;
        Ok(AwaitTokenTransfer {
            token: info.access_token,
            material,
            granted,
            expires_at,
        })
    }
}

// ---------------------------------------------------------------------------
// Access-rights update
// ---------------------------------------------------------------------------

/// The token request of an access-rights update (RFC 9203 section 4.1):
/// made by [`AwaitToken::for_update`].
#[derive(Debug, Clone)]
pub struct AwaitUpdatedToken {
    token: AwaitToken,
    kid: Vec<u8>,
    previous: GroupScope,
}

impl AwaitUpdatedToken {
    /// The AS's token endpoint.
    pub fn as_uri(&self) -> &str {
        self.token.as_uri()
    }

    /// The scope asked for: the session's plus the new entries.
    pub fn scope(&self) -> &GroupScope {
        &self.token.scope
    }

    /// The request: `POST /token` as for a new token, with `req_cnf`
    /// naming the Input Material: `{3 (kid): id}`.
    pub fn request(&self) -> Request {
        self.token
            .token_request(Some(Confirmation::Kid(self.kid.clone())))
    }

    /// Reads the Access Information of the updated token: no `cnf` (the
    /// token is bound to the Input Material already held, RFC 9203 section
    /// 4.1), a scope that grants the new roles and still everything the
    /// session's token granted (else the KDC would evict this client from
    /// its other groups), and the lifetime.
    pub fn handle(self, response: &Response, now: u64) -> Result<AwaitRightsUpdate, ClientError> {
        let (info, granted, expires_at) = self.token.access_information(response, now)?;
        if info.cnf.is_some() {
            return Err(ClientError::malformed(
                "Access Information",
                "cnf in the answer to an access-rights update: the token is not bound to the \
                 Input Material held",
            ));
        }
        if !granted.covers_all(&self.previous) {
            return Err(ClientError::ScopeNotGranted {
                group: self.token.group,
                roles: "the roles of the token it replaces".into(),
            });
        }
        Ok(AwaitRightsUpdate {
            token: info.access_token,
            granted,
            expires_at,
        })
    }
}

/// The last phase of an access-rights update: the new token POSTed to the
/// KDC's `/authz-info` over the existing OSCORE context (RFC 9203 section
/// 4.1; RFC 9594 section 3.3).
#[derive(Debug, Clone)]
pub struct AwaitRightsUpdate {
    token: Vec<u8>,
    granted: GroupScope,
    expires_at: u64,
}

impl AwaitRightsUpdate {
    /// The granted scope.
    pub fn granted(&self) -> &GroupScope {
        &self.granted
    }

    /// The request: `POST /authz-info` with only the `access_token`
    /// (`application/ace+cbor`), to be protected with the session's OSCORE
    /// context.
    pub fn request(&self) -> Request {
        let body = TokenTransferRequest {
            access_token: self.token.clone(),
            ..TokenTransferRequest::default()
        };
        Request::post("/authz-info")
            .with_content_format(cf::ACE_CBOR)
            .with_payload(body.encode())
    }

    /// Reads the KDC's (decrypted) answer, 2.01 without payload, and
    /// returns `session` bound to the new token: same OSCORE context, the
    /// new scope and expiry.
    pub fn handle(
        self,
        response: &Response,
        session: &KdcSession,
    ) -> Result<KdcSession, ClientError> {
        if response.code != Code::CREATED {
            return Err(rejection(
                "POST /authz-info (access-rights update)",
                response,
            ));
        }
        Ok(KdcSession {
            token: self.token,
            granted: self.granted,
            expires_at: self.expires_at,
            ..session.clone()
        })
    }
}

// ---------------------------------------------------------------------------
// Phase 3: token transfer
// ---------------------------------------------------------------------------

/// The third phase: post the token to the KDC's `/authz-info` (RFC 9203
/// section 4.1, RFC 9594 section 3.3).
#[derive(Debug, Clone)]
pub struct AwaitTokenTransfer {
    token: Vec<u8>,
    material: OscoreInputMaterial,
    granted: GroupScope,
    expires_at: u64,
}

/// What the client sent in its token transfer, kept for the context
/// derivation.
#[derive(Debug, Clone)]
pub struct TransferNonces {
    /// `nonce1` (N1).
    pub nonce1: Vec<u8>,
    /// `ace_client_recipientid` (ID1), the client's Recipient ID.
    pub id1: Vec<u8>,
}

impl AwaitTokenTransfer {
    /// The token (opaque to the client).
    pub fn token(&self) -> &[u8] {
        &self.token
    }

    /// The granted scope.
    pub fn granted(&self) -> &GroupScope {
        &self.granted
    }

    /// The request: `POST /authz-info` (unprotected, `application/ace+cbor`)
    /// with the token, a fresh `nonce1`, the client's Recipient ID `id1`, and
    /// `sign_info`, `ecdh_info` and `kdc_dh_creds` set to null to learn the
    /// groups' algorithms and, for pairwise-only groups, the KDC's
    /// Diffie-Hellman credential.
    pub fn request(&self, id1: &[u8]) -> (Request, TransferNonces) {
        let nonce1 = random_bytes(NONCE_LEN);
        let body = TokenTransferRequest {
            access_token: self.token.clone(),
            nonce1: Some(nonce1.clone()),
            ace_client_recipientid: Some(id1.to_vec()),
            sign_info: true,
            ecdh_info: true,
            kdc_dh_creds: true,
            ..TokenTransferRequest::default()
        };
        let request = Request::post("/authz-info")
            .with_content_format(cf::ACE_CBOR)
            .with_payload(body.encode());
        (
            request,
            TransferNonces {
                nonce1,
                id1: id1.to_vec(),
            },
        )
    }

    /// Reads the 2.01 Token Transfer Response and derives the OSCORE
    /// context parameters (RFC 9203 section 4.3): Master Salt = `bstr(salt)
    /// | bstr(N1) | bstr(N2)`, Sender ID = ID2, Recipient ID = ID1; equal IDs
    /// abort.
    pub fn handle(
        self,
        response: &Response,
        sent: TransferNonces,
    ) -> Result<KdcSession, ClientError> {
        if response.code != Code::CREATED {
            return Err(rejection("POST /authz-info", response));
        }
        let body = TokenTransferResponse::decode(&response.payload)
            .map_err(|e| ClientError::decode("Token Transfer Response", e))?;
        let (nonce2, id2) = body
            .oscore_inputs(&sent.id1)
            .map_err(|e| ClientError::decode("Token Transfer Response", e))?;
        let (nonce2, id2) = (nonce2.to_vec(), id2.to_vec());
        let session = KdcSession {
            token: self.token,
            material: self.material,
            granted: self.granted,
            expires_at: self.expires_at,
            nonce1: sent.nonce1,
            nonce2,
            id1: sent.id1,
            id2,
            kdcchallenge: body.kdcchallenge.clone(),
            sign_info: body.sign_info.clone().unwrap_or_default(),
            kdc_dh_creds: body.kdc_dh_creds.clone().unwrap_or_default(),
        };
        session.context_params()?;
        Ok(session)
    }
}

// ---------------------------------------------------------------------------
// The session with the KDC
// ---------------------------------------------------------------------------

/// A transferred token and the OSCORE context with the KDC it set up (RFC
/// 9203 section 4.3), with what the token grants.
#[derive(Debug, Clone)]
pub struct KdcSession {
    /// The access token.
    pub token: Vec<u8>,
    /// The OSCORE_Input_Material of the token (`cnf`).
    pub material: OscoreInputMaterial,
    /// The granted scope.
    pub granted: GroupScope,
    /// When the token expires (Unix seconds, from `expires_in`).
    pub expires_at: u64,
    /// `nonce1`.
    pub nonce1: Vec<u8>,
    /// `nonce2`.
    pub nonce2: Vec<u8>,
    /// ID1: the client's Recipient ID.
    pub id1: Vec<u8>,
    /// ID2: the client's Sender ID.
    pub id2: Vec<u8>,
    /// N_S, the latest `kdcchallenge`.
    pub kdcchallenge: Option<Vec<u8>>,
    /// The `sign_info` entries of the groups in the scope.
    pub sign_info: Vec<SignInfoEntry>,
    /// The KDC's Diffie-Hellman credentials for pairwise-only groups.
    pub kdc_dh_creds: Vec<KdcDhCredsEntry>,
}

impl KdcSession {
    /// The client's OSCORE context parameters (RFC 9203 section 4.3; an
    /// Input Material without `salt` omits it from the Master Salt).
    pub fn context_params(&self) -> Result<ContextParams, ClientError> {
        context_params(
            &self.material,
            &AuthzInfoExchange {
                nonce1: &self.nonce1,
                nonce2: &self.nonce2,
                client_recipient_id: &self.id1,
                server_recipient_id: &self.id2,
            },
            Role::Client,
            MissingSalt::Omit,
        )
        .map_err(|e| ClientError::Oscore(e.to_string()))
    }

    /// Whether the token is valid at `now` and grants `roles` on `group`.
    pub fn grants(&self, group: &str, roles: u64, now: u64) -> bool {
        now < self.expires_at && self.granted.covers(&ScopeEntry::aif(group, roles))
    }

    /// Whether the token is still valid at `now`.
    pub fn is_valid(&self, now: u64) -> bool {
        now < self.expires_at
    }

    /// Whether the token transfer described `group` (its `sign_info` or
    /// `kdc_dh_creds` entry), so that the join knows how to prove
    /// possession there. Groups added by an access-rights update are not
    /// described (the KDC answers the update without payload).
    pub fn describes(&self, group: &str) -> bool {
        self.sign_info.iter().any(|e| e.id.contains(group))
            || self.kdc_dh_creds.iter().any(|e| e.id.contains(group))
    }
}

// ---------------------------------------------------------------------------
// Phase 4: join
// ---------------------------------------------------------------------------

/// How this client proves possession of its key to the KDC in `group`.
#[derive(Debug, Clone)]
enum Proof {
    /// Monitor only: no credential, no PoP (profile section 6.1).
    None,
    /// A signature with the identity's key (groups with signatures).
    Signature,
    /// The HKDF MAC with the Diffie-Hellman form of the identity's key and
    /// the KDC's DH key (pairwise-only groups, profile section 6.1).
    Mac {
        kdc: DhPublicKey,
        credential: Vec<u8>,
    },
}

/// The Diffie-Hellman credential of `identity` for pairwise-only groups:
/// the DH form of its key (Ed25519 to X25519, P-256 as is) in a CCS whose
/// COSE_Key names ECDH-SS + HKDF-256 (-27), as the Group OSCORE profile
/// expects in such groups.
pub fn dh_credential(
    identity: &Identity,
    subject: &str,
) -> Result<(DhPrivateKey, Vec<u8>), ClientError> {
    let own = DhPrivateKey::from_signing_key(identity.key());
    let public = match own.public_key() {
        DhPublicKey::X25519(p) => PublicKey::X25519(*p.as_bytes()),
        DhPublicKey::P256(_) => {
            // The P-256 DH key is the ECDSA key's scalar: same point.
            let (x, y) = identity.key().verifying_key().coordinates();
            let (Ok(x), Some(Ok(y))) = (
                <[u8; 32]>::try_from(x.as_slice()),
                y.map(|y| <[u8; 32]>::try_from(y.as_slice())),
            ) else {
                return Err(ClientError::Config("unexpected P-256 coordinates".into()));
            };
            PublicKey::P256 { x, y }
        }
    };
    let credential = Credential::ccs(&public, -27, subject, None)
        .map_err(|e| ClientError::Config(e.to_string()))?;
    Ok((own, credential.into_bytes()))
}

/// The DH key in the KDC's DH credential (pairwise-only groups).
fn kdc_dh_key(bytes: &[u8]) -> Result<DhPublicKey, ClientError> {
    let cred = Credential::parse_ccs(bytes).map_err(|e| ClientError::decode("kdc_dh_creds", e))?;
    match *cred.public_key() {
        PublicKey::X25519(x) => DhPublicKey::x25519(&x).map_err(ClientError::from),
        PublicKey::P256 { x, y } => DhPublicKey::p256(&x, &y).map_err(ClientError::from),
        PublicKey::Ed25519(_) => Err(ClientError::malformed(
            "kdc_dh_creds",
            "a signature key where a Diffie-Hellman key is expected",
        )),
    }
}

/// The fourth phase: the Join Request (RFC 9594 section 4.3.1; Group OSCORE
/// profile section 6.1).
#[derive(Debug, Clone)]
pub struct AwaitJoin {
    group: String,
    roles: u64,
    body: JoinRequest,
    proof: Proof,
}

impl AwaitJoin {
    /// The Join Request for `group` with `roles` under `session`:
    /// `scope` (one AIF entry), `get_creds`, `cnonce` (fresh N_C), and, unless
    /// joining only as Monitor, `client_cred` with `client_cred_verify`
    /// over `bstr(scope) | bstr(N_S) | bstr(N_C)`: a signature, or in a
    /// pairwise-only group the 8-byte MAC with the KDC's DH key.
    pub fn new(
        session: &KdcSession,
        identity: &Identity,
        group: &str,
        roles: u64,
        get_creds: Option<GetCreds>,
        control_uri: Option<String>,
    ) -> Result<Self, ClientError> {
        check_join_roles(roles)?;
        let proof = if roles & MONITOR != 0 {
            Proof::None
        } else if session.sign_info.iter().any(|e| e.id.contains(group)) {
            Proof::Signature
        } else if let Some(entry) = session.kdc_dh_creds.iter().find(|e| e.id.contains(group)) {
            let (_, credential) = dh_credential(identity, "")?;
            Proof::Mac {
                kdc: kdc_dh_key(&entry.cred)?,
                credential,
            }
        } else {
            // No sign_info for the group (a KDC may omit it): a signature
            // is what groups with group mode expect.
            Proof::Signature
        };
        let n_s = session.kdcchallenge.clone().unwrap_or_default();
        Self::build(group, roles, get_creds, control_uri, proof, n_s, identity)
    }

    fn build(
        group: &str,
        roles: u64,
        get_creds: Option<GetCreds>,
        control_uri: Option<String>,
        proof: Proof,
        n_s: Vec<u8>,
        identity: &Identity,
    ) -> Result<Self, ClientError> {
        let scope = join_scope(group, roles);
        let cnonce = random_bytes(NONCE_LEN);
        let input = ace_proto::pop::client_pop_input(&scope, &n_s, &cnonce);
        let (client_cred, client_cred_verify) = match &proof {
            Proof::None => (None, None),
            Proof::Signature => (
                Some(identity.credential().to_vec()),
                Some(PopProver::Signature(identity.key()).prove(&input)?),
            ),
            Proof::Mac { kdc, credential } => {
                let own = DhPrivateKey::from_signing_key(identity.key());
                (
                    Some(credential.clone()),
                    Some(
                        PopProver::Mac {
                            own: &own,
                            peer: kdc,
                        }
                        .prove(&input)?,
                    ),
                )
            }
        };
        Ok(Self {
            group: group.to_string(),
            roles,
            body: JoinRequest {
                scope: Some(scope),
                get_creds,
                client_cred,
                cnonce,
                client_cred_verify,
                creds_repo: None,
                control_uri,
            },
            proof,
        })
    }

    /// The group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The Join Request body.
    pub fn body(&self) -> &JoinRequest {
        &self.body
    }

    /// The request: POST `/ace-group/GROUPNAME`, `application/ace-groupcomm+cbor`.
    pub fn request(&self) -> Request {
        Request::post(&format!("/ace-group/{}", self.group))
            .with_content_format(cf::ACE_GROUPCOMM_CBOR)
            .with_payload(self.body.encode())
    }

    /// Reads the answer. 2.01 or 2.04 with a Join Response whose
    /// `kdc_cred_verify` verifies over `bstr(N_C) | bstr(N_KDC)`: joined. A
    /// 4.00 with Content-Format 261 and a new `kdcchallenge`: the same join,
    /// signed over the new N_S (RFC 9594 section 4.3.1), unless this was
    /// already a retry. Anything else: the KDC's refusal.
    pub fn handle(
        self,
        response: &Response,
        identity: &Identity,
        retried: bool,
    ) -> Result<JoinStep, ClientError> {
        let operation = format!("POST /ace-group/{}", self.group);
        if response.code == Code::BAD_REQUEST
            && response.content_format() == Some(cf::ACE_GROUPCOMM_CBOR)
            && !retried
            && let Ok(body) = GroupcommErrorBody::decode(&response.payload)
            && let Some(n_s) = body.kdcchallenge
        {
            let retry = Self::build(
                &self.group,
                self.roles,
                self.body.get_creds.clone(),
                self.body.control_uri.clone(),
                self.proof.clone(),
                n_s,
                identity,
            )?;
            return Ok(JoinStep::Retry(Box::new(retry)));
        }
        if response.code != Code::CREATED && response.code != Code::CHANGED {
            return Err(rejection(operation, response));
        }
        let join = JoinResponse::decode(&response.payload)
            .map_err(|e| ClientError::decode("Join Response", e))?;
        let location = response.location_path();
        let node = match location.as_slice() {
            [a, g, n, node] if a == "ace-group" && *g == self.group && n == "nodes" => node.clone(),
            _ => {
                return Err(ClientError::malformed(
                    "Join Response",
                    format!(
                        "Location-Path {location:?} is not /ace-group/{}/nodes/NODENAME",
                        self.group
                    ),
                ));
            }
        };
        let kdc = join.kdc.as_ref().ok_or(ClientError::KdcProofFailed(
            "the Join Response has no kdc_cred, kdc_nonce and kdc_cred_verify".into(),
        ))?;
        let proof = verify_kdc_pop(kdc, &self.body.cnonce, &self.proof, identity)?;
        Ok(JoinStep::Joined(Box::new(Joined {
            group: self.group,
            roles: self.roles,
            node,
            created: response.code == Code::CREATED,
            cnonce: self.body.cnonce,
            response: join,
            own_credential: match &self.proof {
                Proof::Mac { credential, .. } => credential.clone(),
                _ => identity.credential().to_vec(),
            },
            pairwise_only: matches!(self.proof, Proof::Mac { .. }),
            kdc_verified: proof,
        })))
    }
}

/// Verifies the KDC's PoP of `kdc_cred` for the client's nonce `n_c`: a
/// signature with the key of `kdc_cred`, or the MAC in pairwise-only groups
/// (RFC 9594 sections 4.3.1 and 4.5.1; profile section 6.3/6.4).
fn verify_kdc_pop(
    kdc: &ace_proto::groupcomm::KdcCred,
    n_c: &[u8],
    proof: &Proof,
    identity: &Identity,
) -> Result<PopVerified, ClientError> {
    let cred = Credential::parse_ccs(&kdc.kdc_cred)
        .map_err(|e| ClientError::KdcProofFailed(format!("kdc_cred: {e}")))?;
    match proof {
        Proof::Mac { .. } => {
            let peer = kdc_dh_key(&kdc.kdc_cred)?;
            let own = DhPrivateKey::from_signing_key(identity.key());
            Ok(kdc.verify(
                n_c,
                PopCheck::Mac {
                    own: &own,
                    peer: &peer,
                },
            )?)
        }
        _ => {
            let key = cred
                .verifying_key()
                .map_err(|e| ClientError::KdcProofFailed(format!("kdc_cred: {e}")))?;
            Ok(kdc.verify(n_c, PopCheck::Signature(&key))?)
        }
    }
}

/// Verifies a KDC credential from GET `/kdc-cred` against the stored
/// `clientchallenge` N_C (the `cnonce` of the latest Join Request; RFC 9594
/// section 4.5.1).
pub fn verify_kdc_cred(
    kdc: &ace_proto::groupcomm::KdcCred,
    n_c: &[u8],
    pairwise_only: bool,
    identity: &Identity,
) -> Result<PopVerified, ClientError> {
    let proof = if pairwise_only {
        Proof::Mac {
            kdc: kdc_dh_key(&kdc.kdc_cred)?,
            credential: Vec::new(),
        }
    } else {
        Proof::Signature
    };
    verify_kdc_pop(kdc, n_c, &proof, identity)
}

/// What a Join Request led to.
#[derive(Debug)]
pub enum JoinStep {
    /// Joined.
    Joined(Box<Joined>),
    /// The KDC sent a new `kdcchallenge`: send this request instead.
    Retry(Box<AwaitJoin>),
}

/// A successful join, with the proof that the KDC's PoP verified.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The group.
    pub group: String,
    /// The roles joined with.
    pub roles: u64,
    /// NODENAME, from the Location-Path.
    pub node: String,
    /// 2.01 (a new member) rather than 2.04 (already a member).
    pub created: bool,
    /// N_C: kept as the KDC keeps it (`clientchallenge`) for `/kdc-cred`.
    pub cnonce: Vec<u8>,
    /// The Join Response.
    pub response: JoinResponse,
    /// The credential the client joined with (its DH credential in a
    /// pairwise-only group).
    pub own_credential: Vec<u8>,
    /// Whether the group is pairwise-only.
    pub pairwise_only: bool,
    /// The proof that `kdc_cred_verify` verified.
    pub kdc_verified: PopVerified,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ace_proto::keys::SignatureAlgorithm;

    #[test]
    fn join_scope_is_one_aif_entry() {
        // ["g1", 6]
        assert_eq!(join_scope("g1", 6), [0x82, 0x62, b'g', b'1', 0x06]);
    }

    #[test]
    fn forbidden_role_sets_are_refused() {
        assert!(check_join_roles(2).is_ok());
        assert!(check_join_roles(6).is_ok());
        assert!(check_join_roles(8).is_ok());
        for bad in [0, 1, 10, 12, 16, 32] {
            assert!(check_join_roles(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hints_are_required() {
        let phase = AwaitHints::new("g1", 2, &[]).unwrap();
        let identity = Identity::generate(SignatureAlgorithm::EdDsa, "c");
        let config = ClientConfig::new(
            "c",
            identity,
            crate::config::AsContext {
                uri: "coap://127.0.0.1:1/token".into(),
                sender_id: vec![2],
                recipient_id: vec![1],
                master_secret: vec![0; 16].into(),
                master_salt: Vec::new(),
                id_context: None,
            },
            "127.0.0.1:2".parse().unwrap(),
        );
        let e = phase
            .clone()
            .handle(&Response::new(Code::FORBIDDEN), &config)
            .unwrap_err();
        assert!(matches!(e, ClientError::NoCreationHints { .. }), "{e}");
        let hints = AsRequestCreationHints {
            as_uri: Some("coap://elsewhere/token".into()),
            audience: Some("kdc".into()),
            ..AsRequestCreationHints::default()
        };
        let r = Response::new(Code::UNAUTHORIZED)
            .with_content_format(cf::ACE_CBOR)
            .with_payload(hints.encode());
        let e = phase.clone().handle(&r, &config).unwrap_err();
        assert!(
            matches!(e, ClientError::UnknownAuthorizationServer(_)),
            "{e}"
        );
        let hints = AsRequestCreationHints {
            as_uri: Some("coap://127.0.0.1:1/token".into()),
            audience: Some("kdc".into()),
            cnonce: Some(vec![7; 8]),
            ..AsRequestCreationHints::default()
        };
        let r = Response::new(Code::UNAUTHORIZED)
            .with_content_format(cf::ACE_CBOR)
            .with_payload(hints.encode());
        let token = phase.handle(&r, &config).unwrap();
        let request = AccessTokenRequest::decode(&token.request().payload).unwrap();
        assert_eq!(request.cnonce, Some(vec![7; 8]));
        assert_eq!(request.audience.as_deref(), Some("kdc"));
    }
}
