//! The sans-I/O core of the AS: `/token` (RFC 9200 section 5.8) and
//! `/introspect` (RFC 9200 section 5.9) as functions of the request, the
//! authenticated peer and the time. No sockets, no clock: the service
//! around it ([`crate::service`]) passes `now` and the peer its security
//! layer authenticated; the token store is a trait object.
//!
//! # Processing a token request
//!
//! In this order, each failure with its RFC 9200 section 5.8.3 error:
//!
//! 1. the channel must authenticate a registered client (`invalid_client`,
//!    4.01); a `client_id` parameter must name that client
//!    (`invalid_client`); a `client_secret` on top is a second
//!    authentication method (`invalid_request`);
//! 2. the payload must be an `application/ace+cbor` Access Token Request
//!    (`invalid_request`); the grant type must be `client_credentials`
//!    (`unsupported_grant_type`);
//! 3. the audience (or the default audience) must be configured
//!    (`invalid_request`), the client must support its profile
//!    (`incompatible_ace_profiles`) and a policy rule must cover the client
//!    at that audience (`unauthorized_client`);
//! 4. the scope (or the audience's default scope) is intersected with the
//!    policy entry by entry (`invalid_scope` when malformed or when nothing
//!    remains);
//! 5. the proof-of-possession key: for `coap_oscore`, a fresh
//!    OSCORE_Input_Material (16-byte master secret, 8-byte salt, and the
//!    token's `cti` as `id`), or with `req_cnf: {kid}` the material of an earlier
//!    valid token of this client for this audience (an access-rights
//!    update, RFC 9203 section 4.4; `invalid_grant` otherwise); a COSE_Key
//!    is `unsupported_pop_key`. For `coap_dtls`, the client's registered
//!    public key (named or given in `req_cnf`, `unsupported_pop_key` if the
//!    RS does not take its type, `invalid_request` if it is not the
//!    registered one or is symmetric), or without any, a fresh symmetric
//!    key when the tokens are encrypted (PSK mode, RFC 9202 section 3.2.1);
//! 6. the claims: `iss` (when configured), `aud`, `exp`, `iat`, `cti`,
//!    `cnf`, `scope` (extended when configured, RFC 9594 section 7),
//!    `ace_profile`, `cnonce` copied from the request (RFC 9200 section
//!    5.3.1), and for an RS without a clock `exi` with `cti` = RS
//!    identifier ‖ 8-byte big-endian sequence number (RFC 9200 section
//!    5.10.3);
//! 7. the token is sealed, recorded in the store, and answered with 2.01:
//!    `access_token`, `ace_profile`, `expires_in`, `scope` when it differs
//!    from the request, `cnf` (not for an access-rights update), and
//!    `rs_cnf` for RPK tokens when the RS key is configured.

use crate::config::{
    AceProfile, AsConfig, AudienceConfig, ClientConfig, CwtProtection, PopKeyType, TokenFormat,
};
use crate::error::{IntrospectionError, TokenRequestError};
use crate::jwt;
use crate::mint::TokenMinter;
use crate::policy::ScopeRefusal;
use crate::store::{StoreError, TokenRecord, TokenStatus, TokenStore};
use ace_proto::Code;
use ace_proto::Codec;
use ace_proto::consts::content_format::{ACE_CBOR, content_format_tag};
use ace_proto::consts::oauth::grant_type;
use ace_proto::credential::CoseKey;
use ace_proto::cwt::{Audience, ClaimsSet, Confirmation, NumericDate, TokenKey, TokenVerifier};
use ace_proto::keys::random_bytes;
use ace_proto::oauth::{
    AccessTokenRequest, AccessTokenResponse, IntrospectionRequest, IntrospectionResponse,
};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::scope::ScopeValue;
use std::sync::Arc;

/// Length of a random `cti`.
pub const CTI_LEN: usize = 8;
/// Length of the OSCORE Master Secret the AS generates (RFC 9203 section
/// 3.2.1 recommends at least 128 bits).
pub const MASTER_SECRET_LEN: usize = 16;
/// Length of the OSCORE salt the AS always sends.
pub const SALT_LEN: usize = 8;
/// Length of a PSK-mode symmetric PoP key (AES-CCM-16-64-128).
pub const PSK_LEN: usize = 16;
/// Attempts at drawing a fresh random identifier before giving up.
const FRESH_ATTEMPTS: usize = 4;

/// The peer a security layer authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A registered client, by id.
    Client(String),
    /// A registered resource server, by audience name.
    ResourceServer(String),
}

/// A CoAP response, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The response code.
    pub code: Code,
    /// The Content-Format, when there is a payload.
    pub content_format: Option<u16>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Reply {
    fn ace_cbor(code: Code, payload: Vec<u8>) -> Self {
        Self {
            code,
            content_format: Some(ACE_CBOR),
            payload,
        }
    }

    fn empty(code: Code) -> Self {
        Self {
            code,
            content_format: None,
            payload: Vec::new(),
        }
    }
}

/// A token issued: what the client receives, the claims inside, and the
/// stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    /// The Access Information for the client.
    pub response: AccessTokenResponse,
    /// The claims sealed in the token.
    pub claims: ClaimsSet,
    /// The record kept in the store.
    pub record: TokenRecord,
}

/// The proof-of-possession key a token binds.
struct PopBinding {
    /// The token's `cnf`.
    cnf: Confirmation,
    /// The response's `cnf` (none for an access-rights update).
    response_cnf: Option<Confirmation>,
    /// The key identifier recorded in the store.
    key_id: Option<Vec<u8>>,
    /// Whether the key is the client's public key (then `rs_cnf` applies).
    asymmetric: bool,
}

/// The Authorization Server's protocol logic.
pub struct AuthorizationServer {
    config: Arc<AsConfig>,
    store: Arc<dyn TokenStore>,
    minter: TokenMinter,
    verifiers: Vec<(String, TokenVerifier)>,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.config.server.issuer)
            .field("clients", &self.config.clients.len())
            .field("audiences", &self.config.audiences.len())
            .finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// An AS with `config`, recording tokens in `store`.
    pub fn new(config: AsConfig, store: Arc<dyn TokenStore>) -> Self {
        for client in config.clients.iter().filter(|c| c.oscore.is_none()) {
            tracing::warn!(
                client = %client.id,
                "client has no OSCORE context with the AS: its requests cannot be authenticated and will be refused"
            );
        }
        let minter = TokenMinter::new(
            config.server.signing_key.clone(),
            config.server.signing_kid.clone(),
        );
        let verifiers = config
            .audiences
            .iter()
            .map(|a| (a.name.clone(), verifier_for(&config, a)))
            .collect();
        Self {
            config: Arc::new(config),
            store,
            minter,
            verifiers,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AsConfig {
        &self.config
    }

    /// The token store.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// A [`TokenVerifier`] configured as the RS of `audience` should be to
    /// open this AS's tokens: the AS's public key, the shared key (with its
    /// `kid`), the audience, the issuer, and the claims RFC 9594 section 3.2
    /// requires (`cnf`, `exp`, `scope`).
    pub fn verifier(&self, audience: &str) -> Option<&TokenVerifier> {
        self.verifiers
            .iter()
            .find(|(a, _)| a == audience)
            .map(|(_, v)| v)
    }

    // -- /token ------------------------------------------------------------

    /// Answers a `POST /token` with `payload` of `content_format` from
    /// `peer` at time `now` (Unix seconds).
    pub fn handle_token(
        &self,
        peer: Option<&Peer>,
        content_format: Option<u16>,
        payload: &[u8],
        now: u64,
    ) -> Reply {
        let _span = tracing::debug_span!("token", peer = ?peer).entered();
        let result = self.authenticate(peer).and_then(|client| {
            let request = decode_ace_cbor::<AccessTokenRequest>(content_format, payload)
                .map_err(TokenRequestError::Malformed)?;
            self.issue_for(client, &request, now)
        });
        match result {
            Ok(issued) => Reply::ace_cbor(Code::CREATED, issued.response.encode()),
            Err(e) => {
                match &e {
                    TokenRequestError::Store(_) | TokenRequestError::Mint(_) => {
                        tracing::error!(error = %e, "token request failed");
                    }
                    _ => tracing::info!(peer = ?peer, error = %e, "token request refused"),
                }
                match e.to_response() {
                    Some(body) => Reply::ace_cbor(e.coap_code(), body.encode()),
                    None => Reply::empty(e.coap_code()),
                }
            }
        }
    }

    /// Processes a decoded token request from `peer` at time `now`.
    pub fn issue(
        &self,
        peer: Option<&Peer>,
        request: &AccessTokenRequest,
        now: u64,
    ) -> Result<Issued, TokenRequestError> {
        let client = self.authenticate(peer)?;
        self.issue_for(client, request, now)
    }

    fn authenticate(&self, peer: Option<&Peer>) -> Result<&ClientConfig, TokenRequestError> {
        match peer {
            None => Err(TokenRequestError::Unauthenticated),
            Some(Peer::ResourceServer(_)) => Err(TokenRequestError::NotAClient),
            Some(Peer::Client(id)) => self.config.client(id).ok_or(TokenRequestError::NotAClient),
        }
    }

    fn issue_for(
        &self,
        client: &ClientConfig,
        request: &AccessTokenRequest,
        now: u64,
    ) -> Result<Issued, TokenRequestError> {
        if let Some(claimed) = &request.client_id
            && *claimed != client.id
        {
            return Err(TokenRequestError::ClientIdMismatch {
                claimed: claimed.clone(),
            });
        }
        if request.client_secret.is_some() {
            return Err(TokenRequestError::SeveralAuthenticationMethods);
        }
        let grant = request.effective_grant_type();
        if grant != grant_type::CLIENT_CREDENTIALS {
            return Err(TokenRequestError::UnsupportedGrantType(grant));
        }
        let audience_name = request
            .audience
            .as_deref()
            .or(self.config.server.default_audience.as_deref())
            .ok_or(TokenRequestError::MissingAudience)?;
        let audience = self
            .config
            .audience(audience_name)
            .ok_or_else(|| TokenRequestError::UnknownAudience(audience_name.to_string()))?;
        if !client.profiles.contains(&audience.profile) {
            return Err(TokenRequestError::IncompatibleProfiles {
                audience: audience.name.clone(),
                profile: audience.profile.name(),
            });
        }
        let not_authorized = || TokenRequestError::NotAuthorized {
            client: client.id.clone(),
            audience: audience.name.clone(),
        };
        if !self.config.policy.applies(&client.id, &audience.name) {
            return Err(not_authorized());
        }
        let requested = request
            .scope
            .clone()
            .or_else(|| audience.default_scope.clone())
            .ok_or(TokenRequestError::MissingScope)?;
        let granted = self
            .config
            .policy
            .grant(&client.id, &audience.name, audience.scope_model, &requested)
            .map_err(|e| match e {
                ScopeRefusal::NoRule { .. } => not_authorized(),
                other => TokenRequestError::Scope(other),
            })?;
        let scope_in_response = granted.narrowed || request.scope.is_none();

        let lifetime = audience.lifetime;
        let token_scope = match (
            audience.extended_scope,
            audience.scope_model.content_format(),
        ) {
            (true, Some(cf)) => match &granted.scope {
                ScopeValue::Binary(bytes) => ScopeValue::Extended {
                    tag: content_format_tag(cf),
                    bytes: bytes.clone(),
                },
                other => other.clone(),
            },
            _ => granted.scope.clone(),
        };
        let iat = to_date(now);
        let exp = to_date(now.saturating_add(lifetime));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let cti = self.fresh_cti(audience)?;
            let binding =
                self.pop_binding(client, audience, request.req_cnf.as_ref(), &cti, now)?;
            let claims = ClaimsSet {
                iss: self.config.server.issuer.clone(),
                aud: Some(Audience::Single(audience.name.clone())),
                exp: Some(exp),
                iat: Some(iat),
                cti: Some(cti.clone()),
                cnf: Some(binding.cnf.clone()),
                scope: Some(token_scope.clone()),
                ace_profile: Some(audience.profile.value()),
                cnonce: request.cnonce.clone(),
                exi: (!audience.clock).then_some(lifetime),
                ..ClaimsSet::default()
            };
            let token = self
                .minter
                .mint(&claims, &audience.format)
                .map_err(TokenRequestError::Mint)?;
            let record = TokenRecord {
                cti: cti.clone(),
                client: client.id.clone(),
                audience: audience.name.clone(),
                scope: granted.scope.clone(),
                profile: audience.profile.value(),
                format: audience.format.describe(),
                issued_at: now,
                expires_at: now.saturating_add(lifetime),
                exi: claims.exi,
                key_id: binding.key_id.clone(),
                revoked_at: None,
            };
            match self.store.insert(&record) {
                Ok(()) => {}
                Err(StoreError::DuplicateCti) if audience.clock && attempt < FRESH_ATTEMPTS => {
                    continue;
                }
                Err(e) => return Err(TokenRequestError::Store(e)),
            }
            tracing::info!(
                client = %client.id,
                audience = %audience.name,
                cti = %hex::encode(&cti),
                scope = %describe_scope(&granted.scope),
                "issued access token"
            );
            let rs_cnf = if binding.asymmetric {
                audience.rs_public_key.clone().map(Confirmation::CoseKey)
            } else {
                None
            };
            let response = AccessTokenResponse {
                access_token: token,
                ace_profile: Some(audience.profile.value()),
                expires_in: Some(lifetime),
                scope: scope_in_response.then(|| granted.scope.clone()),
                cnf: binding.response_cnf.clone(),
                rs_cnf,
                ..AccessTokenResponse::default()
            };
            return Ok(Issued {
                response,
                claims,
                record,
            });
        }
    }

    /// A `cti`: random for an RS with a clock; RS identifier ‖ sequence
    /// number (8 bytes, big-endian) for one without (RFC 9200 section
    /// 5.10.3).
    fn fresh_cti(&self, audience: &AudienceConfig) -> Result<Vec<u8>, TokenRequestError> {
        if audience.clock {
            return Ok(random_bytes(CTI_LEN));
        }
        let seq = self
            .store
            .next_exi_sequence(&audience.name)
            .map_err(TokenRequestError::Store)?;
        Ok(exi_cti(&audience.rs_id, seq))
    }

    /// The PoP key of a token whose `cti` is `cti`. A key the AS generates
    /// takes the token's `cti` as its identifier (the
    /// OSCORE_Input_Material `id`, the PSK `kid`): the store keeps `cti`s
    /// unique, so these identifiers are unique at the AS as RFC 9203
    /// section 3.2.1 requires, without another look-up.
    fn pop_binding(
        &self,
        client: &ClientConfig,
        audience: &AudienceConfig,
        req_cnf: Option<&Confirmation>,
        cti: &[u8],
        now: u64,
    ) -> Result<PopBinding, TokenRequestError> {
        match audience.profile {
            AceProfile::CoapOscore => match req_cnf {
                None => {
                    let id = cti.to_vec();
                    let material = OscoreInputMaterial {
                        id: Some(id.clone()),
                        ms: Some(random_bytes(MASTER_SECRET_LEN)),
                        salt: Some(random_bytes(SALT_LEN)),
                        ..OscoreInputMaterial::default()
                    };
                    let cnf = Confirmation::Osc(material);
                    Ok(PopBinding {
                        response_cnf: Some(cnf.clone()),
                        cnf,
                        key_id: Some(id),
                        asymmetric: false,
                    })
                }
                Some(Confirmation::Kid(kid)) => {
                    let earlier = self
                        .store
                        .by_key_id(kid)
                        .map_err(TokenRequestError::Store)?;
                    let valid = earlier.iter().any(|r| {
                        r.client == client.id
                            && r.audience == audience.name
                            && r.profile == AceProfile::CoapOscore.value()
                            && r.status(now) == TokenStatus::Active
                    });
                    if !valid {
                        return Err(TokenRequestError::UnknownKeyReference(hex::encode(kid)));
                    }
                    Ok(PopBinding {
                        cnf: Confirmation::Kid(kid.clone()),
                        response_cnf: None,
                        key_id: Some(kid.clone()),
                        asymmetric: false,
                    })
                }
                Some(Confirmation::CoseKey(_)) => Err(TokenRequestError::UnsupportedPopKey(
                    "the coap_oscore profile binds tokens to OSCORE input material the AS generates, not to a COSE_Key"
                        .into(),
                )),
                Some(_) => Err(TokenRequestError::InvalidReqCnf(
                    "for coap_oscore, req_cnf may only name an earlier OSCORE_Input_Material by kid"
                        .into(),
                )),
            },
            AceProfile::CoapDtls => self.dtls_binding(client, audience, req_cnf, cti),
        }
    }

    fn dtls_binding(
        &self,
        client: &ClientConfig,
        audience: &AudienceConfig,
        req_cnf: Option<&Confirmation>,
        cti: &[u8],
    ) -> Result<PopBinding, TokenRequestError> {
        let registered = client.public_key.as_ref();
        let rpk = |key: &crate::config::ClientKey| -> Result<PopBinding, TokenRequestError> {
            let kind = key.kind();
            if !audience.accepted_pop_keys.contains(&kind) {
                return Err(TokenRequestError::UnsupportedPopKey(format!(
                    "audience {:?} does not accept {} keys",
                    audience.name,
                    kind.name()
                )));
            }
            let cnf = Confirmation::CoseKey(key.cose_key());
            Ok(PopBinding {
                response_cnf: Some(cnf.clone()),
                cnf,
                key_id: key.kid.clone(),
                asymmetric: true,
            })
        };
        match req_cnf {
            Some(Confirmation::CoseKey(offered)) => {
                if offered.symmetric_key().is_some() {
                    return Err(TokenRequestError::InvalidReqCnf(
                        "symmetric keys are not accepted in req_cnf (RFC 9201 section 5.1)".into(),
                    ));
                }
                let public = offered
                    .public_key()
                    .map_err(|e| TokenRequestError::InvalidReqCnf(e.to_string()))?;
                let kind = PopKeyType::of(&public).ok_or_else(|| {
                    TokenRequestError::UnsupportedPopKey(format!(
                        "a {} key cannot sign",
                        public.name()
                    ))
                })?;
                if !audience.accepted_pop_keys.contains(&kind) {
                    return Err(TokenRequestError::UnsupportedPopKey(format!(
                        "audience {:?} does not accept {} keys",
                        audience.name,
                        kind.name()
                    )));
                }
                match registered {
                    Some(key) if key.key == public => rpk(key),
                    Some(_) => Err(TokenRequestError::InvalidReqCnf(
                        "the key is not the one registered for this client".into(),
                    )),
                    None => Err(TokenRequestError::InvalidReqCnf(
                        "no public key is registered for this client, so the AS cannot verify that it holds the private key"
                            .into(),
                    )),
                }
            }
            Some(Confirmation::Kid(kid)) => match registered {
                Some(key) if key.kid.as_deref() == Some(kid.as_slice()) => rpk(key),
                _ => Err(TokenRequestError::InvalidReqCnf(format!(
                    "kid {} names no key registered for this client",
                    hex::encode(kid)
                ))),
            },
            Some(_) => Err(TokenRequestError::InvalidReqCnf(
                "for coap_dtls, req_cnf must be a COSE_Key or a kid".into(),
            )),
            None => match registered {
                Some(key) => rpk(key),
                None if audience.format.is_encrypted() => {
                    let kid = cti.to_vec();
                    let key = CoseKey::symmetric(&random_bytes(PSK_LEN), Some(&kid), None);
                    let cnf = Confirmation::CoseKey(key);
                    Ok(PopBinding {
                        response_cnf: Some(cnf.clone()),
                        cnf,
                        key_id: Some(kid),
                        asymmetric: false,
                    })
                }
                None => Err(TokenRequestError::InvalidReqCnf(format!(
                    "no req_cnf and no public key registered for this client; the tokens of audience {:?} are not encrypted, so they cannot carry a symmetric key",
                    audience.name
                ))),
            },
        }
    }

    // -- /introspect -------------------------------------------------------

    /// Answers a `POST /introspect` with `payload` of `content_format` from
    /// `peer` at time `now`.
    pub fn handle_introspect(
        &self,
        peer: Option<&Peer>,
        content_format: Option<u16>,
        payload: &[u8],
        now: u64,
    ) -> Reply {
        let _span = tracing::debug_span!("introspect", peer = ?peer).entered();
        let result = self.introspection_requester(peer).and_then(|audience| {
            let request = decode_ace_cbor::<IntrospectionRequest>(content_format, payload)
                .map_err(IntrospectionError::Malformed)?;
            self.introspect_for(audience, &request, now)
        });
        match result {
            Ok(response) => Reply::ace_cbor(Code::CREATED, response.encode()),
            Err(e) => {
                tracing::info!(peer = ?peer, error = %e, "introspection refused");
                match e.to_response() {
                    Some(body) => Reply::ace_cbor(e.coap_code(), body.encode()),
                    None => Reply::empty(e.coap_code()),
                }
            }
        }
    }

    /// Introspects a token for `peer` at time `now` (RFC 9200 section 5.9).
    /// A token that does not open for the requesting RS (another audience,
    /// a bad signature), that the AS has no record of, or that is expired
    /// or revoked is answered `active: false`.
    pub fn introspect(
        &self,
        peer: Option<&Peer>,
        request: &IntrospectionRequest,
        now: u64,
    ) -> Result<IntrospectionResponse, IntrospectionError> {
        let audience = self.introspection_requester(peer)?;
        self.introspect_for(audience, request, now)
    }

    fn introspection_requester(
        &self,
        peer: Option<&Peer>,
    ) -> Result<&AudienceConfig, IntrospectionError> {
        match peer {
            None => Err(IntrospectionError::Unauthenticated),
            Some(Peer::Client(_)) => Err(IntrospectionError::Forbidden),
            Some(Peer::ResourceServer(name)) => self
                .config
                .audience(name)
                .ok_or(IntrospectionError::Forbidden),
        }
    }

    fn introspect_for(
        &self,
        audience: &AudienceConfig,
        request: &IntrospectionRequest,
        now: u64,
    ) -> Result<IntrospectionResponse, IntrospectionError> {
        let inactive = IntrospectionResponse::default();
        let Some(claims) = self.open(audience, &request.token, now) else {
            return Ok(inactive);
        };
        let Some(cti) = &claims.cti else {
            return Ok(inactive);
        };
        let Some(record) = self.store.get(cti).map_err(IntrospectionError::Store)? else {
            return Ok(inactive);
        };
        if record.audience != audience.name || record.status(now) != TokenStatus::Active {
            return Ok(inactive);
        }
        Ok(IntrospectionResponse {
            active: true,
            iss: claims.iss,
            aud: claims.aud,
            exp: claims.exp,
            iat: claims.iat,
            cti: claims.cti,
            // Never the extended form in an introspection response (RFC
            // 9594 section 7).
            scope: claims.scope.map(|s| match s {
                ScopeValue::Extended { bytes, .. } => ScopeValue::Binary(bytes),
                plain => plain,
            }),
            client_id: Some(record.client),
            ace_profile: claims.ace_profile,
            cnonce: claims.cnonce,
            exi: claims.exi,
            cnf: claims.cnf,
            ..IntrospectionResponse::default()
        })
    }

    /// Opens a token addressed to `audience`, checking signature or MAC or
    /// decryption, audience and expiry; `None` if anything fails.
    fn open(&self, audience: &AudienceConfig, token: &[u8], now: u64) -> Option<ClaimsSet> {
        if matches!(audience.format, TokenFormat::Jwt) && jwt::looks_like_jwt(token) {
            let text = std::str::from_utf8(token).ok()?;
            let claims = jwt::decode(
                text,
                &self.config.server.signing_key.verifying_key(),
                &audience.name,
                audience.scope_model,
            )
            .ok()?;
            let live = claims.exp.is_some_and(|exp| match exp {
                NumericDate::Integer(e) => i128::from(now) < i128::from(e),
                NumericDate::Float(e) => (now as f64) < e,
            });
            return live.then_some(claims);
        }
        self.verifier(&audience.name)?
            .open(token, now)
            .ok()
            .map(|v| v.into_claims())
    }
}

/// The verifier an RS of `audience` uses for this AS's tokens.
fn verifier_for(config: &AsConfig, audience: &AudienceConfig) -> TokenVerifier {
    use ace_proto::consts::cwt as claim;
    let mut as_key = TokenKey::verifying(config.server.signing_key.verifying_key());
    if let Some(kid) = &config.server.signing_kid {
        as_key = as_key.with_kid(kid);
    }
    let mut verifier = TokenVerifier::new(audience.name.clone())
        .with_key(as_key)
        .with_required_claim(claim::CNF)
        .with_required_claim(claim::EXP)
        .with_required_claim(claim::SCOPE);
    if let Some(issuer) = &config.server.issuer {
        verifier = verifier.with_issuer(issuer.clone());
    }
    if let TokenFormat::Cwt { protection, .. } = &audience.format
        && let Some(shared) = protection.shared_key()
    {
        let key = match protection {
            CwtProtection::Mac0 { .. } => Some(TokenKey::mac(&shared.key)),
            _ => <[u8; 16]>::try_from(shared.key.as_slice())
                .ok()
                .map(|k| TokenKey::aes_ccm_16_64_128(&k)),
        };
        if let Some(mut key) = key {
            if let Some(kid) = &shared.kid {
                key = key.with_kid(kid);
            }
            verifier = verifier.with_key(key);
        }
    }
    verifier
}

/// The `cti` of an `exi` token: `rs_id` followed by `sequence` as 8 bytes,
/// big-endian (RFC 9200 section 5.10.3: "RS identifier ‖ sequence
/// number"). An RS reads the number back with [`exi_sequence`].
pub fn exi_cti(rs_id: &[u8], sequence: u64) -> Vec<u8> {
    let mut cti = Vec::with_capacity(rs_id.len() + 8);
    cti.extend_from_slice(rs_id);
    cti.extend_from_slice(&sequence.to_be_bytes());
    cti
}

/// The sequence number of an `exi` token's `cti` issued for the RS
/// `rs_id`, or `None` if the `cti` is not of that form.
pub fn exi_sequence(rs_id: &[u8], cti: &[u8]) -> Option<u64> {
    let rest = cti.strip_prefix(rs_id)?;
    let bytes: [u8; 8] = rest.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn to_date(seconds: u64) -> NumericDate {
    NumericDate::Integer(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// A scope for logs: text as is, binary in CBOR diagnostic notation.
pub fn describe_scope(scope: &ScopeValue) -> String {
    match scope {
        ScopeValue::Text(t) => format!("{t:?}"),
        ScopeValue::Binary(b) | ScopeValue::Extended { bytes: b, .. } => {
            match ace_proto::cbor::from_slice(b) {
                Ok(v) => ace_proto::diag::value_to_diag(&v),
                Err(_) => format!("h'{}'", hex::encode(b)),
            }
        }
    }
}

/// Decodes an `application/ace+cbor` payload; an absent Content-Format is
/// accepted, another one is not (RFC 9200 section 5.8.1).
fn decode_ace_cbor<T: Codec>(content_format: Option<u16>, payload: &[u8]) -> Result<T, String> {
    if let Some(cf) = content_format
        && cf != ACE_CBOR
    {
        return Err(format!(
            "Content-Format {cf}; the payload must be application/ace+cbor ({ACE_CBOR})"
        ));
    }
    T::decode(payload).map_err(|e| e.to_string())
}
