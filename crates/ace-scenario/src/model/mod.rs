//! The scenario model: a TOML file ([`raw`], as written) validated into a
//! ready [`Scenario`] ([`parse`]) whose names all resolve, whose roles are
//! AIF bits (RFC 9594 section 3.1, Group OSCORE roles) and whose groups the
//! KDC accepts. A refused file names the line and the reason
//! ([`ScenarioError`]).
//!
//! The format itself is documented in the crate documentation and in the
//! README's "Scenarios" section.

pub mod duration;
mod error;
pub mod raw;
#[cfg(test)]
mod tests;
mod validate;

pub use error::{Location, ScenarioError};
pub(crate) use validate::parse_code;
pub use validate::{ACTIONS, parse, parse_file};

use ace_kdc::GroupSpec;
use ace_proto::code::Code;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::keys::SignatureAlgorithm;
use std::time::Duration;

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (file stem by default).
    pub name: String,
    /// One line saying what it shows.
    pub description: String,
    /// Bound on the whole run.
    pub timeout: Duration,
    /// Default bound on each step.
    pub step_timeout: Duration,
    /// Packet loss and its seed.
    pub network: Network,
    /// The Authorization Server.
    pub authority: AsSettings,
    /// The KDC.
    pub kdc: KdcSettings,
    /// The groups the KDC creates at start (the KDC's `[[groups]]` entries).
    pub groups: Vec<GroupSpec>,
    /// The group clients (with `count` expanded).
    pub clients: Vec<ClientSpec>,
    /// External processes acting as group members.
    pub externals: Vec<ExternalSpec>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The group-mode countersignature structure of every member: RFC
    /// 10021 (RFC 9338) by default, or aiocoap 0.4.17's for interop.
    pub countersignature: group_oscore::group::CountersignatureStructure,
}

impl Scenario {
    /// The client named `name`.
    pub fn client(&self, name: &str) -> Option<&ClientSpec> {
        self.clients.iter().find(|c| c.name == name)
    }

    /// The external member named `name`.
    pub fn external(&self, name: &str) -> Option<&ExternalSpec> {
        self.externals.iter().find(|c| c.name == name)
    }

    /// The group named `name`.
    pub fn group(&self, name: &str) -> Option<&GroupSpec> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Whether any step talks to an external member.
    pub fn uses_externals(&self) -> bool {
        !self.externals.is_empty()
    }
}

/// Packet loss injected with `ace-coap`'s fault injection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    /// Share of datagrams dropped, in each direction, at every endpoint the
    /// runner owns (clients and AS) unless an actor sets its own.
    pub loss: f64,
    /// Seed of the drop decisions (each endpoint derives its own from it).
    pub seed: u64,
}

/// The in-process (or spawned) Authorization Server.
#[derive(Debug, Clone, PartialEq)]
pub struct AsSettings {
    /// Lifetime of access tokens, seconds (RFC 9200 `expires_in`).
    pub token_lifetime: u64,
    /// Packet loss at the AS's endpoint (in-process only); `None`: global.
    pub loss: Option<f64>,
}

/// The KDC.
#[derive(Debug, Clone, PartialEq)]
pub struct KdcSettings {
    /// The KDC timer period, milliseconds (token expiry, material refresh).
    pub tick_ms: u64,
    /// Seconds before material expiry at which the KDC rekeys.
    pub rekey_margin: u64,
    /// Require a KDC-issued `cnonce` in tokens (RFC 9200 section 5.3.1).
    pub require_cnonce: bool,
}

/// A group client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    /// Its name: actor name, AS client id, lifeline label.
    pub name: String,
    /// The signature algorithm of its key and credential.
    pub signature: SignatureAlgorithm,
    /// What the AS grants it: group name and AIF role bits.
    pub grants: Vec<(String, u64)>,
    /// Whether it observes `/ace-group/GROUPNAME` for rekeying (RFC 9594
    /// section 6.1).
    pub observe: bool,
    /// Whether it offers a `control_uri` for rekeying and eviction messages.
    pub control_uri: bool,
    /// Packet loss at its endpoint; `None`: the global setting.
    pub loss: Option<f64>,
    /// The bulk client set it belongs to (`[[client]] count = N`), if any.
    pub set: Option<String>,
}

/// The kind of external member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalKind {
    /// An aiocoap Group OSCORE member (`SimpleGroupContext`) driven by the
    /// JSON-lines protocol of `tests/interop/aiocoap_member.py`.
    AiocoapMember,
}

/// An external process acting as a group member with keying material a
/// client of ours obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalSpec {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: ExternalKind,
    /// The command and its arguments; `{python}` is replaced by the venv
    /// python (`ACE_VENV_PYTHON`), `{root}` by the workspace root.
    pub command: Vec<String>,
    /// The client of ours that joins on its behalf and hands it the keying
    /// material and credentials.
    pub sponsor: String,
}

/// What a step expects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Expectation {
    /// The operation succeeds (and its own checks hold).
    #[default]
    Success,
    /// The operation is refused with this code and/or error id.
    Refused {
        /// The CoAP response code, if given.
        code: Option<Code>,
        /// The ACE Groupcomm error id (RFC 9594 section 9), if given.
        error_id: Option<ErrorId>,
    },
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Success => f.write_str("success"),
            Self::Refused { code, error_id } => {
                f.write_str("refused")?;
                if let Some(c) = code {
                    write!(f, " with {c}")?;
                }
                if let Some(e) = error_id {
                    write!(f, ", error id {e}")?;
                }
                Ok(())
            }
        }
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based position.
    pub index: usize,
    /// Line of its `[[step]]` header.
    pub line: usize,
    /// A note for the step log.
    pub note: Option<String>,
    /// Bound on this step.
    pub timeout: Duration,
    /// Success or a refusal.
    pub expect: Expectation,
    /// What to do.
    pub action: Action,
}

/// The `get_creds` / FETCH `/creds` filter of a step (RFC 9594 section
/// 4.4.1): roles as AIF bits, node identifiers named by member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredsQuery {
    /// `inclusion_flag`.
    pub inclusion: bool,
    /// Role filter elements (AIF bits; several bits = a role combination).
    pub roles: Vec<u64>,
    /// Members whose current Sender ID goes into `id_filter`.
    pub ids: Vec<String>,
}

/// Which credentials a step reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredsForm {
    /// GET `/creds`: every member.
    All,
    /// FETCH `/creds` with a filter.
    Filter(CredsQuery),
}

/// The defect of a forged Join Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// `client_cred_verify` is a signature by another key (error id 3).
    Signature,
    /// `client_cred` is of the other signature algorithm than the group's
    /// (error id 2), correctly signed.
    Credential,
}

/// The kind of expiry a step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryKind {
    /// The client's access token expires: the KDC evicts it (RFC 9594
    /// section 6.5 and 4.1.2; error id 5 to observers).
    Token,
    /// The group keying material expires (`exp`): the KDC rekeys before it,
    /// and a member never uses expired material.
    Material,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A request to the KDC without a token: expects 4.01 with AS Request
    /// Creation Hints (RFC 9200 section 5.3) naming the AS, the audience
    /// and the scope.
    Hints {
        /// The client.
        client: String,
        /// The group named in the request path.
        group: String,
    },
    /// The full flow (hints, token, authz-info, join), for several clients
    /// at once if a set is named.
    Join {
        /// The clients.
        clients: Vec<String>,
        /// The groups, all under one token.
        groups: Vec<String>,
        /// AIF role bits.
        roles: u64,
        /// How many joins run at once.
        concurrency: usize,
        /// Ask for the members' credentials (`get_creds`).
        get_creds: bool,
        /// Groups the token also covers (same roles), not joined now.
        token_for: Vec<String>,
    },
    /// A Join Request the client could not have built honestly, sent over
    /// its OSCORE channel: the KDC must refuse it (RFC 9594 section 4.3.1).
    ForgedJoin {
        /// The client (it needs a token for the group).
        client: String,
        /// The group.
        group: String,
        /// AIF role bits.
        roles: u64,
        /// What is wrong with it.
        flaw: Flaw,
    },
    /// An access token for roles on a group without joining (e.g. an
    /// external signature verifier, Group OSCORE profile section 9).
    Token {
        /// The client.
        client: String,
        /// The group.
        group: String,
        /// AIF role bits.
        roles: u64,
    },
    /// GET `/ace-group/GROUPNAME` (RFC 9594 section 4.3.2).
    Keys {
        /// The client.
        client: String,
        /// The group.
        group: String,
        /// The version the material must have.
        num: Option<u64>,
    },
    /// GET `/ace-group/GROUPNAME/num` (section 4.7.1), compared with the
    /// client's installed version.
    Num {
        /// The client.
        client: String,
        /// The group.
        group: String,
        /// The expected value.
        equals: Option<u64>,
    },
    /// POST `/ace-group/GROUPNAME/nodes/NODENAME`: a new Sender ID (section
    /// 4.8.2; Group OSCORE profile section 7.2).
    Renew {
        /// The client.
        client: String,
        /// The group.
        group: String,
    },
    /// GET or FETCH `/creds` (sections 4.4.1, 4.4.2).
    Creds {
        /// The client.
        client: String,
        /// The group.
        group: String,
        /// GET or a filter.
        form: CredsForm,
        /// The members whose credentials must come back (exactly).
        members: Option<Vec<String>>,
    },
    /// GET `/kdc-cred` (section 4.5.1), verified.
    KdcCred {
        /// The client.
        client: String,
        /// The group.
        group: String,
    },
    /// GET `/policies` (section 4.6.1).
    Policies {
        /// The client.
        client: String,
        /// The group.
        group: String,
        /// The expected Key Update Check Interval.
        check_interval: Option<i64>,
    },
    /// A Group OSCORE request to the group; who answers and who sees it.
    Send {
        /// The requester (a client or an external member).
        client: String,
        /// The group.
        group: String,
        /// Uri-Path of the inner request.
        path: String,
        /// Payload.
        payload: String,
        /// How long to collect responses.
        window: Duration,
        /// Members that must answer (exactly these).
        responders: Option<Vec<String>>,
        /// Members that must receive and verify the request.
        seen_by: Vec<String>,
        /// Members that must not be able to read it.
        not_seen_by: Vec<String>,
    },
    /// DELETE `/ace-group/GROUPNAME/nodes/NODENAME` (section 4.8.3).
    Leave {
        /// The clients.
        clients: Vec<String>,
        /// The group.
        group: String,
    },
    /// The KDC operator evicts a member (`ace-kdc group evict`).
    Evict {
        /// The member.
        client: String,
        /// The group.
        group: String,
    },
    /// The KDC operator rekeys a group (`ace-kdc group rekey`).
    Rekey {
        /// The group.
        group: String,
    },
    /// The KDC operator deletes a group (error id 6 to its members).
    DeleteGroup {
        /// The group.
        group: String,
    },
    /// Waits for an expiry with the short lifetimes the scenario configures.
    Expire {
        /// Token or keying material.
        kind: ExpiryKind,
        /// The client (token expiry) or a member observing it (material).
        client: String,
        /// The group.
        group: String,
    },
    /// Stops the KDC (its database stays).
    KillKdc,
    /// Starts the KDC again on the same database and address.
    RestartKdc,
    /// Waits until each client registered its observation of
    /// `/ace-group/GROUPNAME` since the KDC last started: after
    /// `restart_kdc`, it shows that they noticed that the KDC lost their
    /// observations and registered again.
    Observing {
        /// The clients.
        clients: Vec<String>,
        /// The group.
        group: String,
    },
    /// Waits until members have installed the same `num`.
    Converge {
        /// The group.
        group: String,
        /// The members (every current member if empty).
        clients: Vec<String>,
        /// The value they must reach (the KDC's current one if `None`).
        num: Option<u64>,
    },
    /// Waits a fixed time.
    Wait {
        /// How long.
        duration: Duration,
    },
    /// A request to the KDC over the client's OSCORE channel.
    Request {
        /// The client.
        client: String,
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// CBOR payload in hex.
        payload: Option<Vec<u8>>,
        /// Content-Format.
        content_format: Option<u16>,
    },
    /// Checks that a message protected under the current keys of `group` by
    /// `sender` cannot be read with the keys `former` held before it left.
    Unreadable {
        /// The sender.
        sender: String,
        /// The group.
        group: String,
        /// The former member.
        former: String,
    },
    /// A client hands its current keying material and the members'
    /// credentials to an external member.
    Handover {
        /// The external member.
        external: String,
        /// The group.
        group: String,
    },
}

impl Action {
    /// The step's name as the file writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hints { .. } => "hints",
            Self::Join { .. } => "join",
            Self::Token { .. } => "token",
            Self::ForgedJoin { .. } => "forged_join",
            Self::Keys { .. } => "keys",
            Self::Num { .. } => "num",
            Self::Renew { .. } => "renew",
            Self::Creds { .. } => "creds",
            Self::KdcCred { .. } => "kdc_cred",
            Self::Policies { .. } => "policies",
            Self::Send { .. } => "send",
            Self::Leave { .. } => "leave",
            Self::Evict { .. } => "evict",
            Self::Rekey { .. } => "rekey",
            Self::DeleteGroup { .. } => "delete_group",
            Self::Expire { .. } => "expire",
            Self::KillKdc => "kill_kdc",
            Self::RestartKdc => "restart_kdc",
            Self::Observing { .. } => "observing",
            Self::Converge { .. } => "converge",
            Self::Wait { .. } => "wait",
            Self::Request { .. } => "request",
            Self::Unreadable { .. } => "unreadable",
            Self::Handover { .. } => "handover",
        }
    }
}

/// The AIF bits of a Group OSCORE role name (draft-ietf-ace-key-groupcomm-
/// oscore section 3): `requester`, `responder`, `monitor`, `verifier`.
pub fn role_bit(name: &str) -> Option<u64> {
    use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
    match name.to_ascii_lowercase().as_str() {
        "requester" => Some(REQUESTER),
        "responder" => Some(RESPONDER),
        "monitor" => Some(MONITOR),
        "verifier" => Some(VERIFIER),
        _ => None,
    }
}
