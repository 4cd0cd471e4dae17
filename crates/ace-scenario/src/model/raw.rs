//! The scenario file as written (serde). Only the TOML shape is checked
//! here; [`super::parse`] resolves names and values. Steps are kept as
//! spanned tables so that every refusal can name the step's line.

use super::duration::RawDuration;
use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `timeout`: bound on the whole run.
    pub timeout: Option<RawDuration>,
    /// `step_timeout`: default bound on each step.
    pub step_timeout: Option<RawDuration>,
    /// `[network]`.
    pub network: Option<RawNetwork>,
    /// `[as]`.
    #[serde(rename = "as")]
    pub authority: Option<RawAs>,
    /// `[kdc]`.
    pub kdc: Option<RawKdc>,
    /// `[[group]]`: the KDC's `[[groups]]` entries (same keys).
    #[serde(default)]
    pub group: Vec<Spanned<toml::Table>>,
    /// `[[client]]`.
    #[serde(default)]
    pub client: Vec<Spanned<RawClient>>,
    /// `[[external]]`.
    #[serde(default)]
    pub external: Vec<Spanned<RawExternal>>,
    /// `[[step]]`.
    #[serde(default)]
    pub step: Vec<Spanned<toml::Table>>,
    /// `"rfc9338"` (default) or `"aiocoap-0.4.17"`.
    pub countersignature: Option<String>,
}

/// `[network]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Share of datagrams dropped at every endpoint, 0.0 to 1.0.
    pub loss: Option<f64>,
    /// Seed of the drop decisions.
    pub seed: Option<u64>,
}

/// `[as]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAs {
    /// Token lifetime: seconds, or a duration string.
    pub token_lifetime: Option<RawDuration>,
    /// Packet loss at the AS.
    pub loss: Option<f64>,
}

/// `[kdc]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKdc {
    /// Timer period.
    pub tick: Option<RawDuration>,
    /// Seconds before material expiry at which the KDC rekeys.
    pub rekey_margin: Option<u64>,
    /// Require KDC-issued `cnonce`.
    pub require_cnonce: Option<bool>,
}

/// A grant in `[[client]] grant`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    /// The group.
    pub group: String,
    /// Role names.
    pub roles: Vec<String>,
}

/// `[[client]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// The name (with `count`, the prefix of `NAME-1` ... `NAME-N`).
    pub name: String,
    /// How many clients this entry defines.
    pub count: Option<usize>,
    /// `"EdDSA"` (default) or `"ES256"`.
    pub signature: Option<String>,
    /// What the AS grants; default: what its join steps ask for.
    pub grant: Option<Vec<RawGrant>>,
    /// Observe the group resource for rekeying (default true).
    pub observe: Option<bool>,
    /// Offer a `control_uri` (default false).
    pub control_uri: Option<bool>,
    /// Packet loss at its endpoint.
    pub loss: Option<f64>,
}

/// `[[external]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExternal {
    /// Its name.
    pub name: String,
    /// `"aiocoap-member"`.
    pub kind: String,
    /// The command.
    pub command: Vec<String>,
    /// The client that joins for it and hands it the material.
    pub sponsor: String,
}

/// One client, several, or a `NAME-*` pattern.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ClientList {
    /// One name or a pattern ending in `*`.
    One(String),
    /// Names.
    Many(Vec<String>),
}

/// An `expect` value: `"ok"` or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawExpect {
    /// `"ok"` / `"success"`.
    Word(String),
    /// `{ code = "4.03", error_id = 0 }`.
    Refusal(RawRefusal),
}

/// The table form of `expect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefusal {
    /// `"4.03"`.
    pub code: Option<String>,
    /// 0 to 9.
    pub error_id: Option<i64>,
}

/// `join`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// One client.
    pub client: Option<String>,
    /// Several, or a pattern.
    pub clients: Option<ClientList>,
    /// One group.
    pub group: Option<String>,
    /// Several groups under one token.
    pub groups: Option<Vec<String>>,
    /// Role names.
    pub roles: Vec<String>,
    /// Joins in flight at once.
    pub concurrency: Option<usize>,
    /// Ask for the members' credentials.
    pub get_creds: Option<bool>,
    /// Groups the token also covers, not joined now.
    pub token_for: Option<Vec<String>>,
}

/// `forged_join`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgedJoinBody {
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
    /// Role names.
    pub roles: Vec<String>,
    /// `"signature"` or `"credential"`.
    pub flaw: String,
}

/// `token`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
    /// Role names.
    pub roles: Vec<String>,
}

/// Steps naming a client and a group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientGroupBody {
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
}

/// `keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysBody {
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
    /// Expected `num`.
    pub num: Option<u64>,
}

/// `num`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumBody {
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
    /// Expected value.
    pub equals: Option<u64>,
}

/// `creds`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredsBody {
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
    /// `inclusion_flag`; with no filter at all, GET `/creds`.
    pub inclusion: Option<bool>,
    /// Role filter: role names, or arrays of names (a combination).
    pub roles: Option<Vec<RoleElement>>,
    /// Members whose Sender IDs form the id filter.
    pub ids: Option<Vec<String>>,
    /// The members expected back.
    pub members: Option<Vec<String>>,
}

/// One role filter element.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RoleElement {
    /// A role name.
    One(String),
    /// A combination.
    Combination(Vec<String>),
}

/// `policies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesBody {
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
    /// Expected Key Update Check Interval.
    pub check_interval: Option<i64>,
}

/// `send`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The requester.
    pub client: String,
    /// The group.
    pub group: String,
    /// Inner Uri-Path.
    pub path: Option<String>,
    /// Payload text.
    pub payload: Option<String>,
    /// Collection window.
    pub window: Option<RawDuration>,
    /// Who must answer.
    pub responders: Option<Vec<String>>,
    /// Who must see the request.
    pub seen_by: Option<Vec<String>>,
    /// Who must not read it.
    pub not_seen_by: Option<Vec<String>>,
}

/// `leave`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveBody {
    /// One client.
    pub client: Option<String>,
    /// Several.
    pub clients: Option<ClientList>,
    /// The group.
    pub group: String,
}

/// `observing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservingBody {
    /// One client.
    pub client: Option<String>,
    /// Several.
    pub clients: Option<ClientList>,
    /// The group.
    pub group: String,
}

/// `rekey`, `delete_group`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    /// The group.
    pub group: String,
}

/// `expire`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireBody {
    /// `"token"` or `"material"`.
    pub what: String,
    /// The client.
    pub client: String,
    /// The group.
    pub group: String,
}

/// Steps without parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// `converge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvergeBody {
    /// The group.
    pub group: String,
    /// Members (all current ones if absent).
    pub clients: Option<ClientList>,
    /// The value to reach.
    pub num: Option<u64>,
}

/// `wait`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitBody {
    /// How long.
    pub duration: RawDuration,
}

/// `request`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// The client.
    pub client: String,
    /// GET, POST, PUT, DELETE, FETCH.
    pub method: String,
    /// The path.
    pub path: String,
    /// Payload, hex.
    pub payload: Option<String>,
    /// Content-Format number.
    pub content_format: Option<u16>,
}

/// `unreadable`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnreadableBody {
    /// The sender.
    pub sender: String,
    /// The group.
    pub group: String,
    /// The former member.
    pub former: String,
}

/// `handover`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    /// The external member.
    pub external: String,
    /// The group.
    pub group: String,
}
