//! The policy engine: which client may be granted what, at which audience
//! (RFC 9200 section 5.8.1, RFC 9594 section 3.2).
//!
//! A [`Policy`] is a list of [`PolicyRule`]s from the configuration. A rule
//! names clients and audiences by [`GroupPattern`] (`*` matches any run of
//! characters) and grants scope entries: Group OSCORE roles on groups
//! (AIF, draft-ietf-ace-key-groupcomm-oscore-21 section 3), pub-sub
//! permissions on topics or security groups (AIF,
//! draft-ietf-ace-coap-pubsub-profile-05 section 3), textual RFC 9594 scope
//! entries (RFC 9594 section 3.1, Figure 5), or OAuth text scope tokens with
//! MQTT topic filters (RFC 6749 section 3.3).
//!
//! [`Policy::grant`] intersects a requested scope with the union of the
//! rules that match the client and the audience, entry by entry: each
//! requested entry keeps the requested roles the policy allows on its name,
//! entries left with nothing are dropped, and if nothing remains the request
//! fails with `invalid_scope`. The result never holds a name or a role the
//! request did not ask for.

use ace_proto::Codec;
use ace_proto::scope::{
    GroupPattern, GroupScope, PolicyEntry, ScopeFormat, ScopePolicy, ScopeValue, TextScope,
    TextScopeToken,
};
use std::fmt;

/// The scope semantics an audience uses (RFC 9594 section 3.1: the
/// application profile fixes the format; REQ1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeModel {
    /// AIF-OSCORE-GROUPCOMM: `[[gname, roles-bitmap], ...]` in a byte
    /// string, the Group OSCORE profile's format.
    AifGroupOscore,
    /// AIF-PUBSUB-GROUPCOMM: `[[topic-or-group, permission-bitmap], ...]`
    /// in a byte string (draft-ietf-ace-coap-pubsub-profile-05 section 3).
    AifPubSub,
    /// Textual RFC 9594 entries `[gname, ? role / [2* role]]` in a byte
    /// string (RFC 9594 Figure 5).
    Textual,
    /// An OAuth text scope: space-separated tokens, with MQTT topic
    /// permissions `publish_FILTER` / `subscribe_FILTER`.
    Text,
}

impl ScopeModel {
    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Self::AifGroupOscore => "aif-group-oscore",
            Self::AifPubSub => "aif-pubsub",
            Self::Textual => "textual",
            Self::Text => "text",
        }
    }

    /// The model with configuration name `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::AifGroupOscore,
            Self::AifPubSub,
            Self::Textual,
            Self::Text,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }

    /// The Content-Format whose CBOR tag marks an extended scope of this
    /// model (RFC 9594 section 7, RFC 9277 section 4.3), where one is
    /// registered.
    pub fn content_format(self) -> Option<u16> {
        use ace_proto::consts::content_format as cf;
        match self {
            Self::AifGroupOscore => Some(cf::AIF_OSCORE_GROUPCOMM_CBOR),
            Self::AifPubSub => Some(cf::AIF_PUBSUB_CBOR),
            Self::Textual | Self::Text => None,
        }
    }
}

impl fmt::Display for ScopeModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one rule grants, per scope model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeGrants {
    /// Group OSCORE role bitmaps on group-name patterns.
    pub group_oscore: Vec<PolicyEntry>,
    /// Pub-sub permission bitmaps on topic or group-name patterns.
    pub pubsub: Vec<PolicyEntry>,
    /// Textual roles on group-name patterns.
    pub textual: Vec<PolicyEntry>,
    /// Text scope tokens (exact tokens, or topic permissions on MQTT
    /// filters).
    pub text: Vec<TextScopeToken>,
}

impl ScopeGrants {
    /// Whether the rule grants anything under `model`.
    pub fn has(&self, model: ScopeModel) -> bool {
        match model {
            ScopeModel::AifGroupOscore => !self.group_oscore.is_empty(),
            ScopeModel::AifPubSub => !self.pubsub.is_empty(),
            ScopeModel::Textual => !self.textual.is_empty(),
            ScopeModel::Text => !self.text.is_empty(),
        }
    }

    /// The models under which the rule grants something.
    pub fn models(&self) -> Vec<ScopeModel> {
        [
            ScopeModel::AifGroupOscore,
            ScopeModel::AifPubSub,
            ScopeModel::Textual,
            ScopeModel::Text,
        ]
        .into_iter()
        .filter(|m| self.has(*m))
        .collect()
    }
}

/// One rule of the policy: the clients and audiences it applies to, and
/// what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// Client-id patterns; the rule applies to a client matching any.
    pub clients: Vec<GroupPattern>,
    /// Audience-name patterns; the rule applies at an audience matching
    /// any.
    pub audiences: Vec<GroupPattern>,
    /// What the rule grants.
    pub grants: ScopeGrants,
}

impl PolicyRule {
    /// Whether the rule applies to `client` at `audience`.
    pub fn applies(&self, client: &str, audience: &str) -> bool {
        self.clients.iter().any(|p| p.matches(client))
            && self.audiences.iter().any(|p| p.matches(audience))
    }
}

/// The rules of the AS. A client at an audience may be granted the union
/// of what every applying rule grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The rules, in configuration order.
    pub rules: Vec<PolicyRule>,
}

/// A granted scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedScope {
    /// The scope to put in the token (plain, never extended).
    pub scope: ScopeValue,
    /// Whether it differs from the requested scope, in which case the
    /// response carries it (RFC 6749 section 5.1, RFC 9594 section 3.2).
    pub narrowed: bool,
}

/// Why no scope was granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeRefusal {
    /// No rule applies to this client at this audience (`unauthorized_client`).
    #[error("client {client:?} may not request tokens for audience {audience:?}")]
    NoRule {
        /// The client.
        client: String,
        /// The audience.
        audience: String,
    },
    /// The requested scope is not of the audience's scope model, or does not
    /// parse under it (`invalid_scope`).
    #[error("scope is not a valid {model} scope: {reason}")]
    Malformed {
        /// The audience's model.
        model: ScopeModel,
        /// What is wrong.
        reason: String,
    },
    /// Nothing of the request is allowed (`invalid_scope`).
    #[error("no requested scope entry is granted")]
    NothingGranted,
}

impl Policy {
    /// The rules applying to `client` at `audience`.
    pub fn rules_for<'a>(
        &'a self,
        client: &'a str,
        audience: &'a str,
    ) -> impl Iterator<Item = &'a PolicyRule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.applies(client, audience))
    }

    /// Whether any rule applies to `client` at `audience`.
    pub fn applies(&self, client: &str, audience: &str) -> bool {
        self.rules_for(client, audience).next().is_some()
    }

    /// Intersects `requested` with what the rules allow `client` at
    /// `audience`, whose scope model is `model`.
    pub fn grant(
        &self,
        client: &str,
        audience: &str,
        model: ScopeModel,
        requested: &ScopeValue,
    ) -> Result<GrantedScope, ScopeRefusal> {
        let rules: Vec<&PolicyRule> = self.rules_for(client, audience).collect();
        if rules.is_empty() {
            return Err(ScopeRefusal::NoRule {
                client: client.to_string(),
                audience: audience.to_string(),
            });
        }
        let malformed = |reason: String| ScopeRefusal::Malformed { model, reason };
        let granted = match model {
            ScopeModel::Text => {
                let ScopeValue::Text(text) = requested else {
                    return Err(malformed("expected a text string".into()));
                };
                let wanted: TextScope = text.parse().map_err(|e| malformed(format!("{e}")))?;
                let allowed = TextScope {
                    tokens: rules
                        .iter()
                        .flat_map(|r| r.grants.text.iter().cloned())
                        .collect(),
                };
                let granted = wanted
                    .intersect(&allowed)
                    .ok_or(ScopeRefusal::NothingGranted)?;
                ScopeValue::Text(granted.to_string())
            }
            ScopeModel::AifGroupOscore | ScopeModel::AifPubSub | ScopeModel::Textual => {
                let ScopeValue::Binary(bytes) = requested else {
                    return Err(malformed(
                        "expected a byte string wrapping scope entries".into(),
                    ));
                };
                let wanted = GroupScope::decode(bytes).map_err(|e| malformed(format!("{e}")))?;
                check_model(&wanted, model).map_err(malformed)?;
                let entries = rules
                    .iter()
                    .flat_map(|r| match model {
                        ScopeModel::AifGroupOscore => r.grants.group_oscore.iter(),
                        ScopeModel::AifPubSub => r.grants.pubsub.iter(),
                        _ => r.grants.textual.iter(),
                    })
                    .cloned()
                    .collect();
                let granted = ScopePolicy::new(entries)
                    .intersect(&wanted)
                    .ok_or(ScopeRefusal::NothingGranted)?;
                ScopeValue::group(&granted)
            }
        };
        let narrowed = granted != *requested;
        Ok(GrantedScope {
            scope: granted,
            narrowed,
        })
    }
}

/// Checks decoded scope entries against the audience's model.
fn check_model(scope: &GroupScope, model: ScopeModel) -> Result<(), String> {
    match (model, scope.format()) {
        (_, None) => Err("the scope has no entries".into()),
        (ScopeModel::AifGroupOscore, Some(ScopeFormat::Aif)) => {
            scope.check_group_oscore().map_err(|e| e.to_string())
        }
        (ScopeModel::AifPubSub, Some(ScopeFormat::Aif)) => {
            scope.check_pubsub().map_err(|e| e.to_string())
        }
        (ScopeModel::Textual, Some(ScopeFormat::Textual)) => Ok(()),
        (ScopeModel::Textual, Some(ScopeFormat::Aif)) => {
            Err("AIF entries where textual entries are expected".into())
        }
        (_, Some(ScopeFormat::Textual)) => {
            Err("textual entries where AIF entries are expected".into())
        }
        (ScopeModel::Text, _) => Err("a binary scope where a text scope is expected".into()),
    }
}
