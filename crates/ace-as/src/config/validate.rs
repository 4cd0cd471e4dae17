//! Raw configuration -> validated [`AsConfig`], with the line of every
//! refusal.

use super::error::{ConfigError, Source};
use super::raw::{
    GrantTables, RawAudience, RawClient, RawConfig, RawEntryGrant, RawOscore, RawPolicy,
    RawPublicKey, RawServer,
};
use super::{
    AceProfile, AsConfig, AudienceConfig, ClientConfig, ClientKey, CwtProtection,
    OscoreContextConfig, PopKeyType, ServerConfig, SharedKey, TokenFormat,
};
use crate::policy::{Policy, PolicyRule, ScopeGrants, ScopeModel};
use ace_coap::SocketOptions;
use ace_proto::consts::aif::pubsub;
use ace_proto::consts::cose::crv;
use ace_proto::credential::{CoseKey, PublicKey};
use ace_proto::cwt::{MacAlgorithm, Tagging};
use ace_proto::keys::{SignatureAlgorithm, SigningKey, VerifyingKey};
use ace_proto::roles::{Roles, group_oscore};
use ace_proto::scope::{GroupPattern, GroupScope, PolicyEntry, ScopeEntry, ScopeValue, TextScope};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;
use zeroize::Zeroizing;

/// Longest OSCORE Sender or Recipient ID with AES-CCM-16-64-128: nonce
/// length 13 minus 6 (RFC 8613 section 3.3).
const MAX_OSCORE_ID_LEN: usize = 7;
/// Default token lifetime, seconds.
const DEFAULT_LIFETIME: u64 = 3600;
/// Longest token lifetime accepted, seconds (about 68 years: `exp` stays a
/// 32-bit NumericDate offset).
const MAX_LIFETIME: i64 = i32::MAX as i64;

type Result<T> = std::result::Result<T, ConfigError>;

pub(super) fn validate(text: &str, base_dir: &Path) -> Result<AsConfig> {
    let src = Source::new(text);
    let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let v = Validator { src, base_dir };
    let server = v.server(&raw.server)?;
    let mut clients: Vec<ClientConfig> = Vec::with_capacity(raw.clients.len());
    for raw_client in &raw.clients {
        let client = v.client(raw_client)?;
        if clients.iter().any(|c| c.id == client.id) {
            return Err(v.at(raw_client.get_ref().id.span(), "duplicate client id"));
        }
        clients.push(client);
    }
    let mut audiences: Vec<AudienceConfig> = Vec::with_capacity(raw.audiences.len());
    for raw_audience in &raw.audiences {
        let audience = v.audience(raw_audience, &server)?;
        if audiences.iter().any(|a| a.name == audience.name) {
            return Err(v.at(
                raw_audience.get_ref().name.span(),
                "duplicate audience name",
            ));
        }
        audiences.push(audience);
    }
    v.unique_oscore_contexts(&raw)?;
    if let Some(default) = &raw.server.get_ref().default_audience
        && !audiences.iter().any(|a| &a.name == default.get_ref())
    {
        return Err(v.at(
            default.span(),
            format!(
                "default_audience {:?} is not a configured audience",
                default.get_ref()
            ),
        ));
    }
    let mut rules = Vec::with_capacity(raw.policies.len());
    for raw_policy in &raw.policies {
        rules.push(v.policy_rule(raw_policy, &clients, &audiences)?);
    }
    Ok(AsConfig {
        server,
        clients,
        audiences,
        policy: Policy { rules },
    })
}

struct Validator<'a> {
    src: Source<'a>,
    base_dir: &'a Path,
}

impl Validator<'_> {
    fn at(&self, span: Range<usize>, reason: impl Into<String>) -> ConfigError {
        self.src.error(span, reason)
    }

    fn hex(&self, value: &Spanned<String>, what: &str) -> Result<Vec<u8>> {
        let text: String = value
            .get_ref()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        hex::decode(&text)
            .map_err(|e| self.at(value.span(), format!("{what} is not valid hex: {e}")))
    }

    fn opt_hex(&self, value: Option<&Spanned<String>>, what: &str) -> Result<Option<Vec<u8>>> {
        value.map(|v| self.hex(v, what)).transpose()
    }

    // -- [server] ----------------------------------------------------------

    fn server(&self, raw: &Spanned<RawServer>) -> Result<ServerConfig> {
        let s = raw.get_ref();
        let key = s.signing_key.get_ref();
        let algorithm = match key.alg.as_ref() {
            None => SignatureAlgorithm::EdDsa,
            Some(a) => {
                match a.get_ref().as_str() {
                    "EdDSA" => SignatureAlgorithm::EdDsa,
                    "ES256" => SignatureAlgorithm::Es256,
                    other => {
                        return Err(self.at(
                        a.span(),
                        format!("unknown signing algorithm {other:?} (expected \"EdDSA\" or \"ES256\")"),
                    ));
                    }
                }
            }
        };
        let (secret, span) = match (&key.d, &key.file) {
            (Some(d), None) => (Zeroizing::new(self.hex(d, "signing_key.d")?), d.span()),
            (None, Some(file)) => {
                let path = self.base_dir.join(file.get_ref());
                let content = std::fs::read_to_string(&path).map_err(|e| {
                    self.at(
                        file.span(),
                        format!("cannot read signing key file {}: {e}", path.display()),
                    )
                })?;
                let content = Zeroizing::new(content);
                let hex_text = Zeroizing::new(
                    content
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>(),
                );
                let bytes = hex::decode(hex_text.as_str()).map_err(|e| {
                    self.at(
                        file.span(),
                        format!("signing key file {} is not hex: {e}", path.display()),
                    )
                })?;
                (Zeroizing::new(bytes), file.span())
            }
            (Some(_), Some(file)) => {
                return Err(self.at(
                    file.span(),
                    "give signing_key.d or signing_key.file, not both",
                ));
            }
            (None, None) => {
                return Err(self.at(
                    s.signing_key.span(),
                    "signing_key needs the private key: d = \"<hex>\" or file = \"<path>\"",
                ));
            }
        };
        let signing_key = SigningKey::from_bytes(algorithm, &secret).map_err(|e| {
            self.at(
                span,
                format!("{e}: expected the 32-byte private key in hex"),
            )
        })?;
        let listen =
            match &s.listen {
                None => None,
                Some(l) => Some(l.get_ref().parse().map_err(|e| {
                    self.at(l.span(), format!("listen is not an address:port: {e}"))
                })?),
            };
        let socket_buffer = match &s.socket_buffer {
            None => Some(SocketOptions::SERVER_BUFFER_SIZE),
            Some(b) => SocketOptions::configured_buffer_size(*b.get_ref())
                .map_err(|e| self.at(b.span(), format!("socket_buffer {e}")))?,
        };
        if let Some(issuer) = &s.issuer
            && issuer.get_ref().is_empty()
        {
            return Err(self.at(issuer.span(), "issuer is empty"));
        }
        Ok(ServerConfig {
            issuer: s.issuer.as_ref().map(|i| i.get_ref().clone()),
            listen,
            socket_buffer,
            database: s.database.as_ref().map(|d| self.base_dir.join(d.get_ref())),
            default_audience: s.default_audience.as_ref().map(|d| d.get_ref().clone()),
            signing_key,
            signing_kid: self.opt_hex(key.kid.as_ref(), "signing_key.kid")?,
        })
    }

    // -- [[client]] --------------------------------------------------------

    fn client(&self, raw: &Spanned<RawClient>) -> Result<ClientConfig> {
        let c = raw.get_ref();
        if c.id.get_ref().is_empty() {
            return Err(self.at(c.id.span(), "client id is empty"));
        }
        let profiles = match &c.profiles {
            None => AceProfile::ALL.to_vec(),
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(self.at(list.span(), "a client needs at least one profile"));
                }
                let mut out = Vec::new();
                for name in list.get_ref() {
                    let profile = AceProfile::from_name(name.get_ref()).ok_or_else(|| {
                        self.at(
                            name.span(),
                            format!(
                                "unknown ACE profile {:?} (expected \"coap_oscore\" or \"coap_dtls\")",
                                name.get_ref()
                            ),
                        )
                    })?;
                    if !out.contains(&profile) {
                        out.push(profile);
                    }
                }
                out
            }
        };
        Ok(ClientConfig {
            id: c.id.get_ref().clone(),
            profiles,
            oscore: c.oscore.as_ref().map(|o| self.oscore(o)).transpose()?,
            public_key: c
                .public_key
                .as_ref()
                .map(|k| self.public_key(k))
                .transpose()?,
        })
    }

    fn oscore(&self, raw: &Spanned<RawOscore>) -> Result<OscoreContextConfig> {
        let o = raw.get_ref();
        let sender_id = self.hex(&o.sender_id, "oscore.sender_id")?;
        let recipient_id = self.hex(&o.recipient_id, "oscore.recipient_id")?;
        for (id, value, name) in [
            (&sender_id, &o.sender_id, "sender_id"),
            (&recipient_id, &o.recipient_id, "recipient_id"),
        ] {
            if id.len() > MAX_OSCORE_ID_LEN {
                return Err(self.at(
                    value.span(),
                    format!(
                        "oscore.{name} has {} bytes; AES-CCM-16-64-128 allows at most {MAX_OSCORE_ID_LEN} (RFC 8613 section 3.3)",
                        id.len()
                    ),
                ));
            }
        }
        if sender_id == recipient_id {
            return Err(self.at(
                o.recipient_id.span(),
                "oscore.sender_id and oscore.recipient_id must differ (RFC 8613 section 3.3)",
            ));
        }
        let master_secret = Zeroizing::new(self.hex(&o.master_secret, "oscore.master_secret")?);
        if master_secret.is_empty() {
            return Err(self.at(o.master_secret.span(), "oscore.master_secret is empty"));
        }
        Ok(OscoreContextConfig {
            sender_id,
            recipient_id,
            master_secret,
            master_salt: self
                .opt_hex(o.master_salt.as_ref(), "oscore.master_salt")?
                .unwrap_or_default(),
            id_context: self.opt_hex(o.id_context.as_ref(), "oscore.id_context")?,
        })
    }

    fn public_key(&self, raw: &Spanned<RawPublicKey>) -> Result<ClientKey> {
        let k = raw.get_ref();
        let x = self.hex(&k.x, "public_key.x")?;
        let key = match k.crv.get_ref().as_str() {
            "Ed25519" => {
                if let Some(y) = &k.y {
                    return Err(self.at(y.span(), "an Ed25519 key has no y"));
                }
                VerifyingKey::ed25519(&x).map_err(|e| {
                    self.at(k.x.span(), format!("{e}: x must be the 32-byte public key"))
                })?;
                let cose = CoseKey::okp(crv::ED25519, &x, None, None);
                PublicKey::from_cose_key(&cose).map_err(|e| self.at(k.x.span(), e.to_string()))?
            }
            "P-256" => {
                let Some(y_value) = &k.y else {
                    return Err(self.at(raw.span(), "a P-256 key needs y"));
                };
                let y = self.hex(y_value, "public_key.y")?;
                let cose = CoseKey::ec2(crv::P256, &x, &y, None, None);
                PublicKey::from_cose_key(&cose)
                    .map_err(|e| self.at(k.x.span(), format!("invalid P-256 public key: {e}")))?
            }
            other => {
                return Err(self.at(
                    k.crv.span(),
                    format!("unsupported curve {other:?} (expected \"Ed25519\" or \"P-256\")"),
                ));
            }
        };
        Ok(ClientKey {
            key,
            kid: self.opt_hex(k.kid.as_ref(), "public_key.kid")?,
        })
    }

    fn unique_oscore_contexts(&self, raw: &RawConfig) -> Result<()> {
        let mut seen: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let contexts = raw
            .clients
            .iter()
            .filter_map(|c| c.get_ref().oscore.as_ref())
            .chain(
                raw.audiences
                    .iter()
                    .filter_map(|a| a.get_ref().oscore.as_ref()),
            );
        for raw_ctx in contexts {
            let ctx = self.oscore(raw_ctx)?;
            let key = (ctx.recipient_id, ctx.id_context);
            if seen.contains(&key) {
                return Err(self.at(
                    raw_ctx.get_ref().recipient_id.span(),
                    "another OSCORE context has the same recipient_id and id_context; the AS could not tell the peers apart by the 'kid' and 'kid context' of their requests",
                ));
            }
            seen.push(key);
        }
        Ok(())
    }

    // -- [[audience]] ------------------------------------------------------

    fn audience(
        &self,
        raw: &Spanned<RawAudience>,
        server: &ServerConfig,
    ) -> Result<AudienceConfig> {
        let a = raw.get_ref();
        let name = a.name.get_ref().clone();
        if name.is_empty() {
            return Err(self.at(a.name.span(), "audience name is empty"));
        }
        let profile = match &a.profile {
            None => AceProfile::CoapOscore,
            Some(p) => AceProfile::from_name(p.get_ref()).ok_or_else(|| {
                self.at(
                    p.span(),
                    format!(
                        "unknown ACE profile {:?} (expected \"coap_oscore\" or \"coap_dtls\")",
                        p.get_ref()
                    ),
                )
            })?,
        };
        let format = self.token_format(a, profile, server)?;
        let lifetime = match &a.lifetime {
            None => DEFAULT_LIFETIME,
            Some(l) => {
                let v = *l.get_ref();
                if !(1..=MAX_LIFETIME).contains(&v) {
                    return Err(self.at(
                        l.span(),
                        format!("lifetime must be 1 to {MAX_LIFETIME} seconds"),
                    ));
                }
                v.unsigned_abs()
            }
        };
        let clock = a.clock.unwrap_or(true);
        let rs_id = match &a.rs_id {
            None => name.as_bytes().to_vec(),
            Some(r) => {
                let id = self.hex(r, "rs_id")?;
                if id.is_empty() {
                    return Err(self.at(r.span(), "rs_id is empty"));
                }
                id
            }
        };
        let scope_model = match &a.scope_format {
            None => ScopeModel::AifGroupOscore,
            Some(s) => ScopeModel::from_name(s.get_ref()).ok_or_else(|| {
                self.at(
                    s.span(),
                    format!(
                        "unknown scope_format {:?} (expected \"aif-group-oscore\", \"aif-pubsub\", \"textual\" or \"text\")",
                        s.get_ref()
                    ),
                )
            })?,
        };
        let extended_scope = match &a.extended_scope {
            None => false,
            Some(e) if !*e.get_ref() => false,
            Some(e) => {
                if scope_model.content_format().is_none() {
                    return Err(self.at(
                        e.span(),
                        format!(
                            "extended_scope needs a scope format with a registered Content-Format (RFC 9594 section 7); {scope_model} has none"
                        ),
                    ));
                }
                if matches!(format, TokenFormat::Jwt) {
                    return Err(self.at(
                        e.span(),
                        "extended_scope is a CBOR tag and needs CWT tokens",
                    ));
                }
                true
            }
        };
        let default_scope = match &a.default_scope {
            None => None,
            Some(d) => Some(self.default_scope(d, scope_model)?),
        };
        let accepted_pop_keys = match &a.accepted_pop_keys {
            None => vec![PopKeyType::Ed25519, PopKeyType::P256],
            Some(list) => {
                let mut out = Vec::new();
                for k in list.get_ref() {
                    let kind = match k.get_ref().as_str() {
                        "Ed25519" => PopKeyType::Ed25519,
                        "P-256" => PopKeyType::P256,
                        other => {
                            return Err(self.at(
                                k.span(),
                                format!(
                                    "unknown key type {other:?} (expected \"Ed25519\" or \"P-256\")"
                                ),
                            ));
                        }
                    };
                    if !out.contains(&kind) {
                        out.push(kind);
                    }
                }
                out
            }
        };
        let rs_public_key = match &a.rs_public_key {
            None => None,
            Some(k) => Some(self.public_key(k)?.cose_key()),
        };
        Ok(AudienceConfig {
            name,
            profile,
            format,
            lifetime,
            clock,
            rs_id,
            scope_model,
            extended_scope,
            default_scope,
            accepted_pop_keys,
            rs_public_key,
            oscore: a.oscore.as_ref().map(|o| self.oscore(o)).transpose()?,
        })
    }

    fn token_format(
        &self,
        a: &RawAudience,
        profile: AceProfile,
        server: &ServerConfig,
    ) -> Result<TokenFormat> {
        let jwt = match &a.format {
            None => false,
            Some(f) => match f.get_ref().as_str() {
                "cwt" => false,
                "jwt" => true,
                other => {
                    return Err(self.at(
                        f.span(),
                        format!("unknown token format {other:?} (expected \"cwt\" or \"jwt\")"),
                    ));
                }
            },
        };
        if jwt {
            let span = a.format.as_ref().map(Spanned::span).unwrap_or_default();
            for (field, name) in [
                (a.protection.as_ref(), "protection"),
                (a.tagging.as_ref(), "tagging"),
                (a.shared_key.as_ref(), "shared_key"),
                (a.mac_alg.as_ref(), "mac_alg"),
            ] {
                if let Some(f) = field {
                    return Err(self.at(
                        f.span(),
                        format!("{name} applies to CWT tokens; JWT tokens are signed with the AS's EdDSA key"),
                    ));
                }
            }
            if server.signing_key.algorithm() != SignatureAlgorithm::EdDsa {
                return Err(self.at(
                    span,
                    "JWT tokens are signed with EdDSA; the AS's signing key is not Ed25519",
                ));
            }
            if profile == AceProfile::CoapOscore {
                return Err(self.at(
                    span,
                    format!(
                        "audience {:?} uses coap_oscore, whose tokens carry the OSCORE master secret in cnf (RFC 9203 section 3.2); a signed JWT does not encrypt it, and this AS issues no JWE",
                        a.name.get_ref()
                    ),
                ));
            }
            return Ok(TokenFormat::Jwt);
        }
        let shared_key = match &a.shared_key {
            None => None,
            Some(k) => {
                let key = Zeroizing::new(self.hex(k, "shared_key")?);
                Some((
                    SharedKey {
                        key,
                        kid: self.opt_hex(a.shared_key_id.as_ref(), "shared_key_id")?,
                    },
                    k.span(),
                ))
            }
        };
        if shared_key.is_none()
            && let Some(kid) = &a.shared_key_id
        {
            return Err(self.at(kid.span(), "shared_key_id without shared_key"));
        }
        let protection_name = match &a.protection {
            Some(p) => p.get_ref().as_str(),
            None => match profile {
                AceProfile::CoapOscore => "sign1+encrypt0",
                AceProfile::CoapDtls => "sign1",
            },
        };
        let protection_span = a
            .protection
            .as_ref()
            .map(Spanned::span)
            .unwrap_or_else(|| a.name.span());
        if profile == AceProfile::CoapOscore && matches!(protection_name, "sign1" | "mac0") {
            return Err(self.at(
                protection_span,
                format!(
                    "audience {:?} uses coap_oscore, whose tokens carry the OSCORE master secret in cnf (RFC 9203 section 3.2), and the token crosses /authz-info unprotected: protection {protection_name} would expose it; use \"sign1+encrypt0\" (the default) or \"encrypt0\"",
                    a.name.get_ref(),
                ),
            ));
        }
        let need_key = |len_ok: &dyn Fn(usize) -> bool, want: &str| -> Result<SharedKey> {
            match &shared_key {
                None => Err(self.at(
                    protection_span.clone(),
                    format!(
                        "protection {protection_name} of audience {:?} needs shared_key, the {want} the AS shares with the RS",
                        a.name.get_ref()
                    ),
                )),
                Some((key, span)) => {
                    if len_ok(key.key.len()) {
                        Ok(key.clone())
                    } else {
                        Err(self.at(
                            span.clone(),
                            format!("shared_key has {} bytes; protection {protection_name} needs {want}", key.key.len()),
                        ))
                    }
                }
            }
        };
        let protection = match protection_name {
            "sign1" => {
                if let Some((_, span)) = &shared_key {
                    return Err(self.at(span.clone(), "shared_key is not used by protection sign1"));
                }
                CwtProtection::Sign1
            }
            "mac0" => {
                let algorithm = match &a.mac_alg {
                    None => MacAlgorithm::Hmac256_256,
                    Some(m) => match m.get_ref().as_str() {
                        "HMAC 256/64" => MacAlgorithm::Hmac256_64,
                        "HMAC 256/256" => MacAlgorithm::Hmac256_256,
                        other => {
                            return Err(self.at(
                                m.span(),
                                format!("unknown mac_alg {other:?} (expected \"HMAC 256/64\" or \"HMAC 256/256\")"),
                            ));
                        }
                    },
                };
                CwtProtection::Mac0 {
                    key: need_key(&|n| n >= 32, "key of at least 32 bytes")?,
                    algorithm,
                }
            }
            "encrypt0" => CwtProtection::Encrypt0 {
                key: need_key(&|n| n == 16, "16-byte AES-CCM-16-64-128 key")?,
            },
            "sign1+encrypt0" => CwtProtection::Sign1Encrypt0 {
                key: need_key(&|n| n == 16, "16-byte AES-CCM-16-64-128 key")?,
            },
            other => {
                return Err(self.at(
                    protection_span,
                    format!(
                        "unknown protection {other:?} (expected \"sign1\", \"mac0\", \"encrypt0\" or \"sign1+encrypt0\")"
                    ),
                ));
            }
        };
        if let Some(m) = &a.mac_alg
            && !matches!(protection, CwtProtection::Mac0 { .. })
        {
            return Err(self.at(m.span(), "mac_alg applies to protection mac0 only"));
        }
        let tagging = match &a.tagging {
            None => Tagging::Cose,
            Some(t) => {
                match t.get_ref().as_str() {
                    "untagged" => Tagging::Untagged,
                    "cose" => Tagging::Cose,
                    "cwt" => Tagging::Cwt,
                    other => {
                        return Err(self.at(
                        t.span(),
                        format!("unknown tagging {other:?} (expected \"untagged\", \"cose\" or \"cwt\")"),
                    ));
                    }
                }
            }
        };
        Ok(TokenFormat::Cwt {
            protection,
            tagging,
        })
    }

    fn default_scope(
        &self,
        raw: &Spanned<super::raw::RawGrants>,
        model: ScopeModel,
    ) -> Result<ScopeValue> {
        let tables = raw.get_ref().grants();
        let grants = self.grants(tables, true)?;
        let wrong = grants.models().into_iter().find(|m| *m != model);
        if let Some(other) = wrong {
            return Err(self.at(
                raw.span(),
                format!(
                    "default_scope gives a {other} scope; the audience's scope_format is {model}"
                ),
            ));
        }
        let to_entries = |entries: &[PolicyEntry]| -> Vec<ScopeEntry> {
            entries
                .iter()
                .map(|e| ScopeEntry {
                    name: e.pattern.as_str().to_string(),
                    roles: e.roles.clone(),
                })
                .collect()
        };
        let scope = match model {
            ScopeModel::AifGroupOscore => {
                ScopeValue::group(&GroupScope::new(to_entries(&grants.group_oscore)))
            }
            ScopeModel::AifPubSub => {
                ScopeValue::group(&GroupScope::new(to_entries(&grants.pubsub)))
            }
            ScopeModel::Textual => ScopeValue::group(&GroupScope::new(to_entries(&grants.textual))),
            ScopeModel::Text => ScopeValue::Text(
                TextScope {
                    tokens: grants.text.clone(),
                }
                .to_string(),
            ),
        };
        if !grants.has(model) {
            return Err(self.at(raw.span(), "default_scope is empty"));
        }
        Ok(scope)
    }

    // -- [[policy]] --------------------------------------------------------

    fn policy_rule(
        &self,
        raw: &Spanned<RawPolicy>,
        clients: &[ClientConfig],
        audiences: &[AudienceConfig],
    ) -> Result<PolicyRule> {
        let p = raw.get_ref();
        let client_patterns = self.patterns(&p.clients, "client")?;
        for (pattern, span) in client_patterns.iter().zip(p.clients.get_ref()) {
            if !clients.iter().any(|c| pattern.matches(&c.id)) {
                return Err(self.at(
                    span.span(),
                    format!(
                        "client pattern {:?} matches no configured client",
                        pattern.as_str()
                    ),
                ));
            }
        }
        let audience_patterns = self.patterns(&p.audiences, "audience")?;
        for (pattern, span) in audience_patterns.iter().zip(p.audiences.get_ref()) {
            if !audiences.iter().any(|a| pattern.matches(&a.name)) {
                return Err(self.at(
                    span.span(),
                    format!(
                        "audience pattern {:?} matches no configured audience",
                        pattern.as_str()
                    ),
                ));
            }
        }
        let grants = self.grants(p.grants(), false)?;
        let models = grants.models();
        if models.is_empty() {
            return Err(self.at(
                raw.span(),
                "a policy rule must grant something: groups, topics, textual or text",
            ));
        }
        let matched: Vec<&AudienceConfig> = audiences
            .iter()
            .filter(|a| audience_patterns.iter().any(|p| p.matches(&a.name)))
            .collect();
        for model in models {
            if !matched.iter().any(|a| a.scope_model == model) {
                let names: Vec<String> = matched
                    .iter()
                    .map(|a| format!("{:?} ({})", a.name, a.scope_model))
                    .collect();
                return Err(self.at(
                    raw.span(),
                    format!(
                        "this rule grants a {model} scope, but none of its audiences uses that scope_format: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        Ok(PolicyRule {
            clients: client_patterns,
            audiences: audience_patterns,
            grants,
        })
    }

    fn patterns(
        &self,
        list: &Spanned<Vec<Spanned<String>>>,
        what: &str,
    ) -> Result<Vec<GroupPattern>> {
        if list.get_ref().is_empty() {
            return Err(self.at(
                list.span(),
                format!("a policy rule needs at least one {what} pattern"),
            ));
        }
        list.get_ref()
            .iter()
            .map(|p| {
                GroupPattern::parse(p.get_ref())
                    .map_err(|e| self.at(p.span(), format!("{what} pattern: {e}")))
            })
            .collect()
    }

    /// Reads grant tables. With `exact`, names are literal (a default
    /// scope); otherwise they are [`GroupPattern`]s.
    fn grants(&self, tables: GrantTables<'_>, exact: bool) -> Result<ScopeGrants> {
        let name = |entry: &RawEntryGrant| -> Result<GroupPattern> {
            let n = &entry.name;
            if n.get_ref().is_empty() {
                return Err(self.at(n.span(), "name is empty"));
            }
            if exact {
                Ok(GroupPattern::exact(n.get_ref()))
            } else {
                GroupPattern::parse(n.get_ref()).map_err(|e| self.at(n.span(), e.to_string()))
            }
        };
        let mut grants = ScopeGrants::default();
        for g in tables.groups {
            let e = g.get_ref();
            if let Some(p) = &e.permissions {
                return Err(self.at(p.span(), "groups take roles (or bits), not permissions"));
            }
            let bits = self.bits(
                e,
                g.span(),
                &e.roles,
                group_oscore_role,
                group_oscore::ALL,
                "Group OSCORE role",
            )?;
            grants.group_oscore.push(PolicyEntry {
                pattern: name(e)?,
                roles: Some(Roles::Aif(bits)),
            });
        }
        for t in tables.topics {
            let e = t.get_ref();
            if let Some(r) = &e.roles {
                return Err(self.at(r.span(), "topics take permissions (or bits), not roles"));
            }
            let bits = self.bits(
                e,
                t.span(),
                &e.permissions,
                pubsub_permission,
                pubsub::ALL,
                "pub-sub permission",
            )?;
            grants.pubsub.push(PolicyEntry {
                pattern: name(e)?,
                roles: Some(Roles::Aif(bits)),
            });
        }
        for t in tables.textual {
            let e = t.get_ref();
            if let Some(b) = &e.bits {
                return Err(self.at(b.span(), "textual entries take role names, not bits"));
            }
            if let Some(p) = &e.permissions {
                return Err(self.at(p.span(), "textual entries take roles, not permissions"));
            }
            let roles = match &e.roles {
                None => None,
                Some(list) => {
                    let names: Vec<String> =
                        list.get_ref().iter().map(|r| r.get_ref().clone()).collect();
                    if let Some(empty) = list.get_ref().iter().find(|r| r.get_ref().is_empty()) {
                        return Err(self.at(empty.span(), "role name is empty"));
                    }
                    (!names.is_empty()).then_some(Roles::Text(names))
                }
            };
            grants.textual.push(PolicyEntry {
                pattern: name(e)?,
                roles,
            });
        }
        if let Some(text) = tables.text {
            let scope: TextScope = text
                .get_ref()
                .parse()
                .map_err(|e| self.at(text.span(), format!("text scope: {e}")))?;
            if scope.tokens.is_empty() {
                return Err(self.at(text.span(), "text scope is empty"));
            }
            grants.text = scope.tokens;
        }
        Ok(grants)
    }

    /// The bitmap of an AIF grant entry: from names (`roles` or
    /// `permissions`) or from `bits`, exactly one of the two.
    fn bits(
        &self,
        e: &RawEntryGrant,
        span: Range<usize>,
        names: &Option<Spanned<Vec<Spanned<String>>>>,
        lookup: fn(&str) -> Option<u64>,
        allowed: u64,
        what: &str,
    ) -> Result<u64> {
        let bits = match (names, &e.bits) {
            (Some(_), Some(b)) => {
                return Err(self.at(b.span(), "give names or bits, not both"));
            }
            (None, None) => {
                return Err(self.at(span, format!("the entry names no {what}")));
            }
            (Some(list), None) => {
                let mut bits = 0u64;
                for n in list.get_ref() {
                    bits |= lookup(n.get_ref()).ok_or_else(|| {
                        self.at(n.span(), format!("unknown {what} {:?}", n.get_ref()))
                    })?;
                }
                if bits == 0 {
                    return Err(self.at(list.span(), format!("the entry names no {what}")));
                }
                bits
            }
            (None, Some(b)) => {
                let v = *b.get_ref();
                let bits =
                    u64::try_from(v).map_err(|_| self.at(b.span(), "bits must not be negative"))?;
                if bits == 0 || bits & !allowed != 0 {
                    return Err(self.at(
                        b.span(),
                        format!(
                            "bits {bits} has bits outside the {what}s (allowed mask 0x{allowed:x})"
                        ),
                    ));
                }
                bits
            }
        };
        Ok(bits)
    }
}

/// Group OSCORE role names (draft-ietf-ace-key-groupcomm-oscore-21 section 3).
fn group_oscore_role(name: &str) -> Option<u64> {
    match name {
        "requester" => Some(group_oscore::REQUESTER),
        "responder" => Some(group_oscore::RESPONDER),
        "monitor" => Some(group_oscore::MONITOR),
        "verifier" => Some(group_oscore::VERIFIER),
        _ => None,
    }
}

/// Pub-sub permission names (draft-ietf-ace-coap-pubsub-profile-05 section 3).
fn pubsub_permission(name: &str) -> Option<u64> {
    match name {
        "app_group" => Some(pubsub::APP_GROUP),
        "publish" => Some(pubsub::PUBLISH),
        "read" => Some(pubsub::READ),
        "delete" => Some(pubsub::DELETE),
        _ => None,
    }
}
