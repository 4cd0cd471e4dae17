//! Scopes: RFC 9594 textual scope entries, AIF scopes (RFC 9237) for Group OSCORE
//! and pub-sub topics, and space-separated text scopes; coverage and
//! intersection with policies.
//!
//! Three layers:
//!
//! - [`ScopeValue`]: the OAuth `scope` parameter or claim as it travels (a
//!   text string, a byte string, or in a token an "extended" tagged byte
//!   string, RFC 9594 section 7).
//! - [`GroupScope`]: the array of scope entries a binary scope wraps (RFC
//!   9594 section 3.1): textual entries `[gname, ? role / [2* role]]`
//!   (Figure 5) or AIF entries `[gname, Tperm]` (Figure 4, RFC 9237). AIF is
//!   what the Group OSCORE profile (draft-ietf-ace-key-groupcomm-oscore-21
//!   section 3) and the pub-sub profile (draft-ietf-ace-coap-pubsub-profile-05
//!   section 3) use.
//! - [`TextScope`]: the space-separated OAuth scope string (RFC 6749 section
//!   3.3), with MQTT topic permissions `publish_FILTER` / `subscribe_FILTER`
//!   matched by the MQTT v5.0 section 4.7 rules.
//!
//! A [`ScopePolicy`] lists what a client may be granted, with group names
//! given as [`GroupPattern`]s; [`ScopePolicy::intersect`] narrows a request
//! to it. Granting never adds a role or group that the request did not ask
//! for.

use crate::cbor::{self, Codec, Value};
use crate::consts::aif::pubsub;
use crate::error::DecodeError;
use crate::roles::{Roles, group_oscore};
use std::fmt;
use std::str::FromStr;

// ---------------------------------------------------------------------------
// The scope parameter
// ---------------------------------------------------------------------------

/// The value of an OAuth `scope` parameter (RFC 9200 section 5.8.1) or `scope`
/// claim (RFC 9200 section 8.14): `tstr / bstr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopeValue {
    /// A text scope, e.g. `"read"` or `"publish_topic1 subscribe_topic1/#"`.
    Text(String),
    /// A binary scope; in RFC 9594 it wraps a CBOR array of scope entries
    /// ([`GroupScope`]).
    Binary(Vec<u8>),
    /// An extended scope (RFC 9594 section 7): the binary scope wrapped in a
    /// CBOR tag naming its semantics (for AIF, the tag of its Content-Format,
    /// see [`crate::consts::content_format::content_format_tag`]). Only
    /// allowed in the `scope` claim of an access token, never in the
    /// Authorization Request or Response, AS Request Creation Hints or an
    /// Introspection Response.
    Extended {
        /// The CBOR tag number.
        tag: u64,
        /// The binary scope.
        bytes: Vec<u8>,
    },
}

impl ScopeValue {
    /// A binary scope holding `scope`.
    pub fn group(scope: &GroupScope) -> Self {
        Self::Binary(scope.encode())
    }

    /// The CBOR data item.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Text(t) => Value::Text(t.clone()),
            Self::Binary(b) => Value::Bytes(b.clone()),
            Self::Extended { tag, bytes } => {
                Value::Tag(*tag, Box::new(Value::Bytes(bytes.clone())))
            }
        }
    }

    /// Reads a scope as a token claim may carry it: text, bytes, or a tagged
    /// byte string.
    pub fn from_claim_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Tag(tag, inner) => match *inner {
                Value::Bytes(bytes) => Ok(Self::Extended { tag, bytes }),
                other => Err(DecodeError::UnexpectedItem {
                    context,
                    want: "tagged byte string (extended scope)",
                    got: cbor::type_name(&other),
                }),
            },
            other => Self::from_parameter_value(other, context),
        }
    }

    /// Reads a scope as an OAuth parameter carries it: text or bytes (an
    /// extended scope is refused, RFC 9594 section 3.2).
    pub fn from_parameter_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Text(t) => Ok(Self::Text(t)),
            Value::Bytes(b) => Ok(Self::Binary(b)),
            other => Err(DecodeError::UnexpectedItem {
                context,
                want: "text or byte string",
                got: cbor::type_name(&other),
            }),
        }
    }

    /// The binary scope, of a plain or an extended scope.
    pub fn binary(&self) -> Option<&[u8]> {
        match self {
            Self::Binary(b) | Self::Extended { bytes: b, .. } => Some(b),
            Self::Text(_) => None,
        }
    }

    /// Decodes the scope entries of a binary (or extended) scope.
    pub fn group_scope(&self) -> Result<GroupScope, DecodeError> {
        match self.binary() {
            Some(bytes) => GroupScope::decode(bytes),
            None => Err(DecodeError::invalid(
                "scope",
                "expected a binary scope, got a text scope",
            )),
        }
    }

    /// Parses a text scope.
    pub fn text_scope(&self) -> Result<TextScope, DecodeError> {
        match self {
            Self::Text(t) => t.parse(),
            _ => Err(DecodeError::invalid(
                "scope",
                "expected a text scope, got a binary scope",
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// RFC 9594 scope entries (textual and AIF)
// ---------------------------------------------------------------------------

/// The two scope entry formats of RFC 9594 section 3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeFormat {
    /// AIF entries `[Toid, Tperm]` (RFC 9594 Figure 4, RFC 9237).
    Aif,
    /// Textual entries `[gname, ? role / [2* role]]` (RFC 9594 Figure 5).
    Textual,
}

/// One scope entry: a group (or topic) name and the roles or permissions on
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeEntry {
    /// The group name (`gname`), or for pub-sub the topic or security group
    /// name.
    pub name: String,
    /// The roles: textual roles, or an AIF permission bitmap. `None` only in
    /// a textual entry that omits the role (RFC 9594 section 3.1: the role
    /// is pre-assigned or implied).
    pub roles: Option<Roles>,
}

impl ScopeEntry {
    /// An AIF entry `[name, bits]`.
    pub fn aif(name: impl Into<String>, bits: u64) -> Self {
        Self {
            name: name.into(),
            roles: Some(Roles::Aif(bits)),
        }
    }

    /// A textual entry with the given roles (none: the role is omitted).
    pub fn textual(name: impl Into<String>, roles: &[&str]) -> Self {
        Self {
            name: name.into(),
            roles: (!roles.is_empty())
                .then(|| Roles::Text(roles.iter().map(|r| (*r).to_string()).collect())),
        }
    }

    /// The entry's format.
    pub fn format(&self) -> ScopeFormat {
        match self.roles {
            Some(Roles::Aif(_)) => ScopeFormat::Aif,
            _ => ScopeFormat::Textual,
        }
    }

    /// The AIF permission bitmap, for an AIF entry.
    pub fn aif_bits(&self) -> Option<u64> {
        match self.roles {
            Some(Roles::Aif(bits)) => Some(bits),
            _ => None,
        }
    }
}

impl Codec for ScopeEntry {
    fn to_value(&self) -> Value {
        let mut items = vec![Value::Text(self.name.clone())];
        if let Some(roles) = &self.roles {
            items.push(roles.to_value());
        }
        Value::Array(items)
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        const CONTEXT: &str = "scope entry";
        let mut items = cbor::array(value, CONTEXT)?.into_iter();
        let name = match items.next() {
            Some(v) => cbor::text(v, "scope entry gname")?,
            None => return Err(DecodeError::invalid(CONTEXT, "empty scope entry")),
        };
        let roles = items
            .next()
            .map(|v| Roles::from_value(v, "scope entry roles"))
            .transpose()?;
        if items.next().is_some() {
            return Err(DecodeError::invalid(
                CONTEXT,
                "a scope entry has at most two elements",
            ));
        }
        Ok(Self { name, roles })
    }
}

/// The scope entries of an RFC 9594 binary scope: `scope = bstr .cbor
/// scope_entries`, `scope_entries = [* scope_entry]` (RFC 9594 section 3.1).
///
/// [`Codec::encode`] gives the CBOR array, i.e. the content of the `scope`
/// byte string; [`ScopeValue::group`] wraps it. All entries of one scope use
/// the same format (RFC 9594 section 3.1); decoding refuses a mix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GroupScope {
    /// The entries, in wire order.
    pub entries: Vec<ScopeEntry>,
}

impl GroupScope {
    /// A scope of the given entries.
    pub fn new(entries: Vec<ScopeEntry>) -> Self {
        Self { entries }
    }

    /// The format of the entries, `None` for an empty scope.
    pub fn format(&self) -> Option<ScopeFormat> {
        self.entries.first().map(ScopeEntry::format)
    }

    /// All roles granted on `name`, merged over every entry naming it (AIF
    /// entries with the same object merge by OR, RFC 9237 section 2). `None`
    /// when no entry names the group; `Some(None)` when the only entries
    /// naming it omit the role.
    pub fn roles_for(&self, name: &str) -> Option<Option<Roles>> {
        let mut found = false;
        let mut merged: Option<Roles> = None;
        for entry in self.entries.iter().filter(|e| e.name == name) {
            found = true;
            if let Some(roles) = &entry.roles {
                merged = Some(match merged {
                    None => roles.clone(),
                    Some(have) => union(&have, roles),
                });
            }
        }
        found.then_some(merged)
    }

    /// Whether this (granted) scope covers `requested`: some entry names the
    /// same group and the granted roles, merged over all such entries,
    /// include every requested role. A requested entry without a role is
    /// covered only by a granted entry without a role; roles in different
    /// formats never cover each other.
    pub fn covers(&self, requested: &ScopeEntry) -> bool {
        match (self.roles_for(&requested.name), &requested.roles) {
            (None, _) => false,
            (Some(_), None) => self
                .entries
                .iter()
                .any(|e| e.name == requested.name && e.roles.is_none()),
            (Some(None), Some(_)) => false,
            (Some(Some(granted)), Some(wanted)) => {
                !wanted.is_empty() && granted.contains_all(wanted)
            }
        }
    }

    /// Whether this scope covers every entry of `requested`.
    pub fn covers_all(&self, requested: &Self) -> bool {
        requested.entries.iter().all(|e| self.covers(e))
    }

    /// Checks the scope against the AIF-OSCORE-GROUPCOMM data model
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 3): AIF entries only,
    /// each with at least one role, only defined role bits, and the reserved
    /// bit 0 clear (entries with bit 0 set belong to the Group Manager admin
    /// interface, not to group membership).
    pub fn check_group_oscore(&self) -> Result<(), DecodeError> {
        self.check_aif_bits("Group OSCORE scope", group_oscore::ALL)
    }

    /// Checks the scope against the AIF-PUBSUB-GROUPCOMM data model
    /// (draft-ietf-ace-coap-pubsub-profile-05 section 3): AIF entries only,
    /// each with at least one permission, only defined permission bits, and
    /// the Admin bit 0 clear.
    pub fn check_pubsub(&self) -> Result<(), DecodeError> {
        self.check_aif_bits("pub-sub scope", pubsub::ALL)
    }

    fn check_aif_bits(&self, context: &'static str, allowed: u64) -> Result<(), DecodeError> {
        for entry in &self.entries {
            let bits = entry.aif_bits().ok_or_else(|| {
                DecodeError::invalid(
                    context,
                    format!("entry {:?} is not an AIF entry", entry.name),
                )
            })?;
            if bits == 0 {
                return Err(DecodeError::invalid(
                    context,
                    format!("entry {:?} grants nothing", entry.name),
                ));
            }
            if bits & !allowed != 0 {
                return Err(DecodeError::invalid(
                    context,
                    format!(
                        "entry {:?} has undefined permission bits 0x{:x}",
                        entry.name,
                        bits & !allowed
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Codec for GroupScope {
    fn to_value(&self) -> Value {
        Value::Array(self.entries.iter().map(Codec::to_value).collect())
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let entries = cbor::array(value, "scope entries")?
            .into_iter()
            .map(ScopeEntry::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        let scope = Self { entries };
        if let Some(format) = scope.format()
            && scope.entries.iter().any(|e| e.format() != format)
        {
            return Err(DecodeError::invalid(
                "scope entries",
                "AIF and textual entries mixed in one scope",
            ));
        }
        Ok(scope)
    }
}

/// The one entry of a Group OSCORE Join Request scope, checked: the scope has
/// exactly one AIF entry (draft-ietf-ace-key-groupcomm-oscore-21 section
/// 6.1) whose roles are a set a node may join with: not empty, no Verifier,
/// neither Requester+Monitor nor Responder+Monitor (section 3). Returns the
/// group name and role bits; a refusal is a 4.00.
pub fn group_oscore_join_entry(scope: &GroupScope) -> Result<(&str, u64), DecodeError> {
    const CONTEXT: &str = "Join Request scope";
    let [entry] = scope.entries.as_slice() else {
        return Err(DecodeError::invalid(
            CONTEXT,
            format!(
                "expected exactly one scope entry, got {}",
                scope.entries.len()
            ),
        ));
    };
    let bits = entry
        .aif_bits()
        .ok_or_else(|| DecodeError::invalid(CONTEXT, "expected an AIF scope entry"))?;
    if !group_oscore::is_valid_join_set(bits) {
        return Err(DecodeError::invalid(
            CONTEXT,
            format!(
                "role set {} cannot be used to join a group",
                group_oscore::names(bits)
            ),
        ));
    }
    Ok((&entry.name, bits))
}

fn union(a: &Roles, b: &Roles) -> Roles {
    match (a, b) {
        (Roles::Aif(x), Roles::Aif(y)) => Roles::Aif(x | y),
        (Roles::Text(x), Roles::Text(y)) => {
            let mut all = x.clone();
            for r in y {
                if !all.contains(r) {
                    all.push(r.clone());
                }
            }
            Roles::Text(all)
        }
        // Different encodings do not merge; the first one stays.
        (a, _) => a.clone(),
    }
}

// ---------------------------------------------------------------------------
// Policies with group-name patterns
// ---------------------------------------------------------------------------

/// A group-name pattern of a [`ScopePolicy`].
///
/// Syntax (matched against the whole group name, case-sensitively, character
/// by character over Unicode scalar values):
///
/// - `*` matches any sequence of zero or more characters;
/// - `\*` matches a literal `*`, and `\\` a literal `\`;
/// - every other character matches itself.
///
/// A `\` followed by anything other than `*` or `\`, or at the end, is a
/// syntax error. There is no `?`, no character class and no anchoring
/// syntax: a pattern without `*` matches exactly one name. Examples: `g1`
/// matches only `g1`; `sensors-*` matches `sensors-` and `sensors-kitchen`;
/// `*` matches every name; `a*b*c` matches `abc` and `axxbyyc`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupPattern {
    source: String,
    /// The literal pieces between the stars; `pieces.len() == stars + 1`.
    pieces: Vec<String>,
}

impl GroupPattern {
    /// Parses a pattern.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let mut pieces = vec![String::new()];
        let mut chars = pattern.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '*' => pieces.push(String::new()),
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => {
                        if let Some(piece) = pieces.last_mut() {
                            piece.push(escaped);
                        }
                    }
                    _ => return Err(PatternError { at }),
                },
                c => {
                    if let Some(piece) = pieces.last_mut() {
                        piece.push(c);
                    }
                }
            }
        }
        Ok(Self {
            source: pattern.to_string(),
            pieces,
        })
    }

    /// A pattern matching exactly `name` (stars and backslashes in it are
    /// literal).
    pub fn exact(name: &str) -> Self {
        Self {
            source: name.replace('\\', "\\\\").replace('*', "\\*"),
            pieces: vec![name.to_string()],
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `name` matches the whole pattern. Runs in time linear in
    /// `name` per piece: with `*` as the only wildcard, taking each middle
    /// piece at its leftmost occurrence is optimal.
    pub fn matches(&self, name: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return name.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return name == first;
        };
        if name.len() < first.len() + last.len()
            || !name.starts_with(first.as_str())
            || !name.ends_with(last.as_str())
        {
            return false;
        }
        let mut window = &name[first.len()..name.len() - last.len()];
        for piece in middle {
            match window.find(piece.as_str()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

impl fmt::Display for GroupPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for GroupPattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A [`GroupPattern`] with a dangling or unknown `\` escape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid escape in group-name pattern at byte {at} (only \\* and \\\\ are defined)")]
pub struct PatternError {
    /// Byte offset of the backslash.
    pub at: usize,
}

/// One rule of a [`ScopePolicy`]: groups whose name matches `pattern` may be
/// granted `roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    /// Which group names the rule applies to.
    pub pattern: GroupPattern,
    /// The roles that may be granted. `None` allows textual entries that
    /// omit the role (the role implied by the group); it grants no explicit
    /// role.
    pub roles: Option<Roles>,
}

impl PolicyEntry {
    /// A rule granting AIF permission `bits` on groups matching `pattern`.
    pub fn aif(pattern: &str, bits: u64) -> Result<Self, PatternError> {
        Ok(Self {
            pattern: GroupPattern::parse(pattern)?,
            roles: Some(Roles::Aif(bits)),
        })
    }

    /// A rule granting textual `roles` on groups matching `pattern`.
    pub fn textual(pattern: &str, roles: &[&str]) -> Result<Self, PatternError> {
        Ok(Self {
            pattern: GroupPattern::parse(pattern)?,
            roles: (!roles.is_empty())
                .then(|| Roles::Text(roles.iter().map(|r| (*r).to_string()).collect())),
        })
    }
}

/// What a client may be granted: a list of [`PolicyEntry`] rules. A group
/// matched by several rules may be granted the union of their roles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopePolicy {
    /// The rules.
    pub entries: Vec<PolicyEntry>,
}

impl ScopePolicy {
    /// A policy of the given rules.
    pub fn new(entries: Vec<PolicyEntry>) -> Self {
        Self { entries }
    }

    /// The union of the explicit roles the policy allows on `name`, and
    /// whether a rule allows the role-less form.
    fn allowed(&self, name: &str) -> (Option<Roles>, bool) {
        let mut roles: Option<Roles> = None;
        let mut implied = false;
        for rule in self.entries.iter().filter(|r| r.pattern.matches(name)) {
            match &rule.roles {
                None => implied = true,
                Some(r) => {
                    roles = Some(match roles {
                        None => r.clone(),
                        Some(have) => union(&have, r),
                    })
                }
            }
        }
        (roles, implied)
    }

    /// Narrows `request` to this policy, entry by entry: each requested
    /// entry keeps the requested roles the policy allows on its group
    /// (roles in a different format than the policy's are not allowed);
    /// entries left without a role are dropped. A requested entry without a
    /// role is kept when a rule without roles matches its group. Returns
    /// `None` when nothing remains (the AS then answers `invalid_scope`).
    ///
    /// The result never holds a group or a role that the request did not
    /// ask for.
    pub fn intersect(&self, request: &GroupScope) -> Option<GroupScope> {
        let mut granted = Vec::new();
        for entry in &request.entries {
            let (allowed, implied) = self.allowed(&entry.name);
            match &entry.roles {
                None => {
                    if implied {
                        granted.push(entry.clone());
                    }
                }
                Some(wanted) => {
                    if let Some(roles) = allowed.and_then(|a| a.intersect(wanted)) {
                        granted.push(ScopeEntry {
                            name: entry.name.clone(),
                            roles: Some(ordered_like(wanted, roles)),
                        });
                    }
                }
            }
        }
        (!granted.is_empty()).then_some(GroupScope { entries: granted })
    }
}

/// `roles` (a subset of `wanted`) in the order `wanted` lists them, and as a
/// single role or an array of at least two as the textual form requires.
fn ordered_like(wanted: &Roles, roles: Roles) -> Roles {
    match (wanted, roles) {
        (Roles::Text(order), Roles::Text(subset)) => Roles::Text(
            order
                .iter()
                .filter(|r| subset.contains(r))
                .cloned()
                .collect(),
        ),
        (_, roles) => roles,
    }
}

// ---------------------------------------------------------------------------
// Space-separated text scopes with MQTT topic permissions
// ---------------------------------------------------------------------------

/// Maximum length of an MQTT topic name or filter (MQTT v5.0 section 1.5.4).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// The permission of a topic entry in a text scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicPermission {
    /// `publish_FILTER`: may PUBLISH to topic names the filter matches.
    Publish,
    /// `subscribe_FILTER`: may SUBSCRIBE to filters the filter covers.
    Subscribe,
}

impl TopicPermission {
    /// The token prefix, without the underscore.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Subscribe => "subscribe",
        }
    }
}

/// A valid MQTT topic filter (MQTT v5.0 section 4.7): levels separated by
/// `/`; `+` alone in a level matches exactly one level; `#` alone in the last
/// level matches the parent level and any number of child levels; no NUL;
/// 1 to 65535 bytes. A topic name is a filter without wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(String);

impl TopicFilter {
    /// Validates a topic filter.
    pub fn new(filter: &str) -> Result<Self, DecodeError> {
        const CONTEXT: &str = "MQTT topic filter";
        if filter.is_empty() || filter.len() > MAX_TOPIC_LEN {
            return Err(DecodeError::invalid(
                CONTEXT,
                "length must be 1 to 65535 bytes",
            ));
        }
        if filter.contains('\0') {
            return Err(DecodeError::invalid(CONTEXT, "NUL character"));
        }
        let levels: Vec<&str> = filter.split('/').collect();
        for (i, level) in levels.iter().enumerate() {
            if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
                return Err(DecodeError::invalid(
                    CONTEXT,
                    "'#' must be alone in the last level",
                ));
            }
            if level.contains('+') && *level != "+" {
                return Err(DecodeError::invalid(
                    CONTEXT,
                    "'+' must occupy a whole level",
                ));
            }
        }
        Ok(Self(filter.to_string()))
    }

    /// Validates a topic name: a filter without wildcards.
    pub fn topic_name(name: &str) -> Result<Self, DecodeError> {
        if name.contains(['+', '#']) {
            return Err(DecodeError::invalid(
                "MQTT topic name",
                "wildcards are not allowed in a topic name",
            ));
        }
        Self::new(name)
    }

    /// The filter text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the filter has a `+` or `#` level.
    pub fn has_wildcards(&self) -> bool {
        self.levels().any(is_wildcard)
    }

    fn levels(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }

    /// Whether this filter matches the topic name `topic` (MQTT v5.0 section
    /// 4.7). A topic starting with `$` is not matched by a filter whose first
    /// level is a wildcard (section 4.7.2). `topic` is taken literally.
    pub fn matches(&self, topic: &str) -> bool {
        let filter: Vec<&str> = self.levels().collect();
        let name: Vec<&str> = topic.split('/').collect();
        if topic.starts_with('$') && filter.first().is_some_and(|f| is_wildcard(f)) {
            return false;
        }
        for (i, level) in filter.iter().enumerate() {
            if *level == "#" {
                // `#` also matches the parent level: "a/#" matches "a".
                return i <= name.len();
            }
            let Some(topic_level) = name.get(i) else {
                return false;
            };
            if *level != "+" && level != topic_level {
                return false;
            }
        }
        filter.len() == name.len()
    }

    /// Whether every topic name `other` matches is also matched by `self`
    /// (`other` is equal to or a subset of `self`, RFC 9431 section 3).
    pub fn covers(&self, other: &Self) -> bool {
        let granted: Vec<&str> = self.levels().collect();
        let requested: Vec<&str> = other.levels().collect();
        if dollar_conflict(&granted, &requested) {
            return false;
        }
        let mut i = 0;
        loop {
            match (granted.get(i), requested.get(i)) {
                (Some(&"#"), _) => return true,
                (None, None) => return true,
                (Some(_), None) | (None, Some(_)) => return false,
                (Some(_), Some(&"#")) => return false,
                (Some(&"+"), Some(_)) => {}
                (Some(_), Some(&"+")) => return false,
                (Some(g), Some(r)) => {
                    if g != r {
                        return false;
                    }
                }
            }
            i += 1;
        }
    }

    /// The filter matching exactly the topic names both filters match, or
    /// `None` when they share none.
    pub fn intersection(&self, other: &Self) -> Option<Self> {
        let a: Vec<&str> = self.levels().collect();
        let b: Vec<&str> = other.levels().collect();
        if dollar_conflict(&a, &b) || dollar_conflict(&b, &a) {
            return None;
        }
        let mut out: Vec<&str> = Vec::with_capacity(a.len().max(b.len()));
        let mut i = 0;
        loop {
            match (a.get(i), b.get(i)) {
                (Some(&"#"), _) => {
                    out.extend_from_slice(b.get(i..).unwrap_or_default());
                    break;
                }
                (_, Some(&"#")) => {
                    out.extend_from_slice(a.get(i..).unwrap_or_default());
                    break;
                }
                (None, None) => break,
                (Some(_), None) | (None, Some(_)) => return None,
                (Some(&"+"), Some(y)) => out.push(y),
                (Some(x), Some(&"+")) => out.push(x),
                (Some(x), Some(y)) => {
                    if x != y {
                        return None;
                    }
                    out.push(x);
                }
            }
            i += 1;
        }
        Some(Self(out.join("/")))
    }
}

fn is_wildcard(level: &str) -> bool {
    level == "+" || level == "#"
}

/// Whether `wild`'s first level is a wildcard while `lit`'s is a literal `$`
/// level: the wildcard never reaches `$` topics (MQTT v5.0 section 4.7.2).
fn dollar_conflict(wild: &[&str], lit: &[&str]) -> bool {
    matches!((wild.first(), lit.first()), (Some(w), Some(l)) if is_wildcard(w) && l.starts_with('$'))
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One token of a [`TextScope`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TextScopeToken {
    /// `publish_FILTER` or `subscribe_FILTER`.
    Topic {
        /// The permission.
        permission: TopicPermission,
        /// The topic filter it applies to.
        filter: TopicFilter,
    },
    /// Any other scope token (e.g. `read`, `temperature_g`), compared
    /// exactly.
    Other(String),
}

impl TextScopeToken {
    /// A topic token.
    pub fn topic(permission: TopicPermission, filter: &str) -> Result<Self, DecodeError> {
        Ok(Self::Topic {
            permission,
            filter: TopicFilter::new(filter)?,
        })
    }

    fn parse(token: &str) -> Result<Self, DecodeError> {
        for permission in [TopicPermission::Publish, TopicPermission::Subscribe] {
            if let Some(filter) = token
                .strip_prefix(permission.as_str())
                .and_then(|t| t.strip_prefix('_'))
            {
                return Self::topic(permission, filter);
            }
        }
        Ok(Self::Other(token.to_string()))
    }

    /// Whether this (granted) token covers `requested`.
    pub fn covers(&self, requested: &Self) -> bool {
        match (self, requested) {
            (Self::Other(a), Self::Other(b)) => a == b,
            (
                Self::Topic {
                    permission: p,
                    filter: g,
                },
                Self::Topic {
                    permission: q,
                    filter: r,
                },
            ) => p == q && g.covers(r),
            _ => false,
        }
    }
}

impl fmt::Display for TextScopeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topic { permission, filter } => write!(f, "{}_{}", permission.as_str(), filter),
            Self::Other(t) => f.write_str(t),
        }
    }
}

/// A space-separated OAuth text scope (RFC 6749 section 3.3: `scope-token *(
/// SP scope-token )`, each token of the characters `%x21 / %x23-5B /
/// %x5D-7E`), with MQTT topic permissions as in
/// `"publish_topic1 subscribe_topic1/#"`.
///
/// Parsing and [`fmt::Display`] are inverse for every valid scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TextScope {
    /// The tokens, in order.
    pub tokens: Vec<TextScopeToken>,
}

impl TextScope {
    /// Whether some token covers `requested`.
    pub fn covers(&self, requested: &TextScopeToken) -> bool {
        self.tokens.iter().any(|t| t.covers(requested))
    }

    /// Whether a PUBLISH to `topic_name` is allowed. A name with wildcards
    /// is never allowed.
    pub fn allows_publish(&self, topic_name: &str) -> bool {
        TopicFilter::topic_name(topic_name).is_ok_and(|filter| {
            self.covers(&TextScopeToken::Topic {
                permission: TopicPermission::Publish,
                filter,
            })
        })
    }

    /// Whether a SUBSCRIBE to `filter` is allowed: the filter must be equal
    /// to or a subset of a granted `subscribe_` filter.
    pub fn allows_subscribe(&self, filter: &str) -> bool {
        TopicFilter::new(filter).is_ok_and(|filter| {
            self.covers(&TextScopeToken::Topic {
                permission: TopicPermission::Subscribe,
                filter,
            })
        })
    }

    /// Narrows this (requested) scope to `policy`: other tokens stay when
    /// the policy lists them exactly; a topic token becomes the
    /// intersections of its filter with each policy filter of the same
    /// permission. Duplicates and tokens covered by another result token are
    /// removed. `None` when nothing remains.
    pub fn intersect(&self, policy: &Self) -> Option<Self> {
        let mut out: Vec<TextScopeToken> = Vec::new();
        for token in &self.tokens {
            match token {
                TextScopeToken::Other(_) => {
                    if policy.tokens.contains(token) && !out.contains(token) {
                        out.push(token.clone());
                    }
                }
                TextScopeToken::Topic { permission, filter } => {
                    for allowed in &policy.tokens {
                        let TextScopeToken::Topic {
                            permission: p,
                            filter: f,
                        } = allowed
                        else {
                            continue;
                        };
                        if p != permission {
                            continue;
                        }
                        if let Some(common) = filter.intersection(f) {
                            let candidate = TextScopeToken::Topic {
                                permission: *permission,
                                filter: common,
                            };
                            if !out.contains(&candidate) {
                                out.push(candidate);
                            }
                        }
                    }
                }
            }
        }
        // Drop tokens another token already covers.
        let minimal: Vec<TextScopeToken> = out
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                !out.iter()
                    .enumerate()
                    .any(|(j, other)| j != *i && other.covers(t))
            })
            .map(|(_, t)| t.clone())
            .collect();
        (!minimal.is_empty()).then_some(Self { tokens: minimal })
    }
}

impl FromStr for TextScope {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const CONTEXT: &str = "text scope";
        if s.is_empty() {
            return Ok(Self::default());
        }
        let tokens =
            s.split(' ')
                .map(|token| {
                    if token.is_empty() {
                        return Err(DecodeError::invalid(
                            CONTEXT,
                            "tokens must be separated by exactly one space",
                        ));
                    }
                    if !token.bytes().all(|b| {
                        b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)
                    }) {
                        return Err(DecodeError::invalid(
                            CONTEXT,
                            format!("invalid character in scope token {token:?}"),
                        ));
                    }
                    TextScopeToken::parse(token)
                })
                .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { tokens })
    }
}

impl fmt::Display for TextScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, token) in self.tokens.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{token}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::group_oscore::*;

    #[test]
    fn aif_scope_of_the_profile_digest() {
        // [["gp1", 6]] = 81826367703106; bstr-wrapped 4781826367703106.
        let scope = GroupScope::new(vec![ScopeEntry::aif("gp1", REQUESTER | RESPONDER)]);
        assert_eq!(hex::encode(scope.encode()), "81826367703106");
        assert_eq!(
            hex::encode(cbor::to_vec(&ScopeValue::group(&scope).to_value())),
            "4781826367703106"
        );
        assert_eq!(GroupScope::decode(&scope.encode()).unwrap(), scope);
    }

    #[test]
    fn mixed_formats_and_bad_entries_are_refused() {
        // [["a", 2], ["b", "x"]]
        let mixed = cbor::to_vec(&Value::Array(vec![
            ScopeEntry::aif("a", 2).to_value(),
            ScopeEntry::textual("b", &["x"]).to_value(),
        ]));
        assert!(GroupScope::decode(&mixed).is_err());
        assert!(
            GroupScope::decode(&hex::decode("8180").unwrap()).is_err(),
            "[[]]"
        );
        assert!(GroupScope::decode(&hex::decode("81830102").unwrap()).is_err());
        assert!(GroupScope::decode(&hex::decode("818161").unwrap()).is_err());
    }

    #[test]
    fn glob_patterns() {
        let p = GroupPattern::parse("a*b*c").unwrap();
        assert!(p.matches("abc"));
        assert!(p.matches("axxbyyc"));
        assert!(!p.matches("ab"));
        assert!(!p.matches("acb"));
        let star = GroupPattern::parse("*").unwrap();
        assert!(star.matches(""));
        assert!(star.matches("anything"));
        let lit = GroupPattern::parse(r"g\*1").unwrap();
        assert!(lit.matches("g*1"));
        assert!(!lit.matches("gx1"));
        assert!(GroupPattern::parse(r"g\x").is_err());
        assert!(GroupPattern::parse("g\\").is_err());
        // Prefix and suffix may not overlap.
        assert!(!GroupPattern::parse("ab*ba").unwrap().matches("aba"));
        assert!(GroupPattern::exact("a*b").matches("a*b"));
        assert!(!GroupPattern::exact("a*b").matches("axb"));
    }

    #[test]
    fn mqtt_matching_rules() {
        let f = |s: &str| TopicFilter::new(s).unwrap();
        assert!(f("sport/#").matches("sport"));
        assert!(f("sport/#").matches("sport/tennis/player1"));
        assert!(!f("sport/+").matches("sport"));
        assert!(f("sport/+").matches("sport/"));
        assert!(f("+/+").matches("/finance"));
        assert!(!f("+").matches("/finance"));
        assert!(!f("#").matches("$SYS/monitor"));
        assert!(!f("+/monitor").matches("$SYS/monitor"));
        assert!(f("$SYS/#").matches("$SYS/monitor"));
        assert!(TopicFilter::new("a/#/b").is_err());
        assert!(TopicFilter::new("a#").is_err());
        assert!(TopicFilter::new("a/b+").is_err());
        assert!(TopicFilter::new("").is_err());
        assert!(TopicFilter::topic_name("a/+").is_err());
    }
}
