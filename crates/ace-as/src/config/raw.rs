//! The configuration file as written: serde structures that mirror the TOML
//! tables, every value kept with its byte span so that validation can name
//! the line of a bad value. Nothing here is checked beyond its TOML type;
//! [`super::validate`] turns these into the validated [`super::AsConfig`].

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub server: Spanned<RawServer>,
    #[serde(default, rename = "client")]
    pub clients: Vec<Spanned<RawClient>>,
    #[serde(default, rename = "audience")]
    pub audiences: Vec<Spanned<RawAudience>>,
    #[serde(default, rename = "policy")]
    pub policies: Vec<Spanned<RawPolicy>>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub issuer: Option<Spanned<String>>,
    pub listen: Option<Spanned<String>>,
    pub socket_buffer: Option<Spanned<i64>>,
    pub database: Option<Spanned<String>>,
    pub default_audience: Option<Spanned<String>>,
    pub signing_key: Spanned<RawSigningKey>,
}

/// `[server.signing_key]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSigningKey {
    pub alg: Option<Spanned<String>>,
    pub d: Option<Spanned<String>>,
    pub file: Option<Spanned<String>>,
    pub kid: Option<Spanned<String>>,
}

/// `[[client]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClient {
    pub id: Spanned<String>,
    pub profiles: Option<Spanned<Vec<Spanned<String>>>>,
    pub oscore: Option<Spanned<RawOscore>>,
    pub public_key: Option<Spanned<RawPublicKey>>,
}

/// `[client.oscore]` and `[audience.oscore]`: a pre-established OSCORE
/// Security Context between the AS and a peer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOscore {
    pub sender_id: Spanned<String>,
    pub recipient_id: Spanned<String>,
    pub master_secret: Spanned<String>,
    pub master_salt: Option<Spanned<String>>,
    pub id_context: Option<Spanned<String>>,
}

/// A raw public key: `{ crv, x, y?, kid? }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPublicKey {
    pub crv: Spanned<String>,
    pub x: Spanned<String>,
    pub y: Option<Spanned<String>>,
    pub kid: Option<Spanned<String>>,
}

/// `[[audience]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudience {
    pub name: Spanned<String>,
    pub profile: Option<Spanned<String>>,
    pub format: Option<Spanned<String>>,
    pub protection: Option<Spanned<String>>,
    pub tagging: Option<Spanned<String>>,
    pub shared_key: Option<Spanned<String>>,
    pub shared_key_id: Option<Spanned<String>>,
    pub mac_alg: Option<Spanned<String>>,
    pub lifetime: Option<Spanned<i64>>,
    pub clock: Option<bool>,
    pub rs_id: Option<Spanned<String>>,
    pub scope_format: Option<Spanned<String>>,
    pub extended_scope: Option<Spanned<bool>>,
    pub default_scope: Option<Spanned<RawGrants>>,
    pub accepted_pop_keys: Option<Spanned<Vec<Spanned<String>>>>,
    pub rs_public_key: Option<Spanned<RawPublicKey>>,
    pub oscore: Option<Spanned<RawOscore>>,
}

/// The scope grants of a `[[policy]]` rule, or an audience's
/// `default_scope`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGrants {
    #[serde(default)]
    pub groups: Vec<Spanned<RawEntryGrant>>,
    #[serde(default)]
    pub topics: Vec<Spanned<RawEntryGrant>>,
    #[serde(default)]
    pub textual: Vec<Spanned<RawEntryGrant>>,
    pub text: Option<Spanned<String>>,
}

/// One AIF or textual entry of a grant: a name (or pattern) and its roles
/// or permissions, by name or as a bitmap.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntryGrant {
    pub name: Spanned<String>,
    pub roles: Option<Spanned<Vec<Spanned<String>>>>,
    pub permissions: Option<Spanned<Vec<Spanned<String>>>>,
    pub bits: Option<Spanned<i64>>,
}

/// `[[policy]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub clients: Spanned<Vec<Spanned<String>>>,
    pub audiences: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub groups: Vec<Spanned<RawEntryGrant>>,
    #[serde(default)]
    pub topics: Vec<Spanned<RawEntryGrant>>,
    #[serde(default)]
    pub textual: Vec<Spanned<RawEntryGrant>>,
    pub text: Option<Spanned<String>>,
}

impl RawPolicy {
    /// The grant tables of the rule.
    pub fn grants(&self) -> GrantTables<'_> {
        GrantTables {
            groups: &self.groups,
            topics: &self.topics,
            textual: &self.textual,
            text: self.text.as_ref(),
        }
    }
}

impl RawGrants {
    /// The grant tables.
    pub fn grants(&self) -> GrantTables<'_> {
        GrantTables {
            groups: &self.groups,
            topics: &self.topics,
            textual: &self.textual,
            text: self.text.as_ref(),
        }
    }
}

/// The grant tables of a policy rule or of a default scope, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrantTables<'a> {
    pub groups: &'a [Spanned<RawEntryGrant>],
    pub topics: &'a [Spanned<RawEntryGrant>],
    pub textual: &'a [Spanned<RawEntryGrant>],
    pub text: Option<&'a Spanned<String>>,
}
