//! Raw scenario -> ready [`Scenario`]: names resolve, roles become AIF
//! bits, groups pass the KDC's own validation, durations and shares are in
//! range. Every refusal carries the line of the table it concerns.

use super::duration::{self, RawDuration};
use super::raw::{self, ClientList, RawExpect, RawScenario, RoleElement};
use super::{
    Action, AsSettings, ClientSpec, CredsForm, CredsQuery, Expectation, ExpiryKind, ExternalKind,
    ExternalSpec, Flaw, KdcSettings, Location, Network, Scenario, ScenarioError, Step, role_bit,
};
use ace_kdc::GroupSpec;
use ace_proto::code::Code;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::keys::SignatureAlgorithm;
use ace_proto::roles::group_oscore;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Default bound on a whole run.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default bound on one step.
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(15);
/// Default window for collecting group responses.
const DEFAULT_WINDOW: Duration = Duration::from_millis(500);
/// Most clients a scenario may define.
const MAX_CLIENTS: usize = 10_000;

/// Reads and validates a scenario file; the name defaults to the file stem.
pub fn parse_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError::new(None, format!("cannot read the file: {e}")).in_file(path.to_path_buf())
    })?;
    let stem = path.file_stem().map_or_else(
        || "scenario".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    parse(&text, &stem).map_err(|e| e.in_file(path.to_path_buf()))
}

/// Validates scenario text; `default_name` is used when it has no `name`.
pub fn parse(text: &str, default_name: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    Validator { text }.scenario(raw, default_name)
}

fn toml_error(text: &str, e: &toml::de::Error) -> ScenarioError {
    let location = e.span().map(|s| Location::of_offset(text, s.start));
    ScenarioError::new(location, e.message().trim().to_string())
}

struct Validator<'t> {
    text: &'t str,
}

/// A bulk set's member names: `NAME-1` ... `NAME-N`.
fn set_member(name: &str, i: usize) -> String {
    format!("{name}-{i}")
}

impl Validator<'_> {
    fn at<T>(&self, spanned: &Spanned<T>) -> Option<Location> {
        Some(Location::of_offset(self.text, spanned.span().start))
    }

    fn err<T>(&self, spanned: &Spanned<T>, reason: impl Into<String>) -> ScenarioError {
        ScenarioError::new(self.at(spanned), reason)
    }

    fn scenario(&self, raw: RawScenario, default_name: &str) -> Result<Scenario, ScenarioError> {
        let top = |reason: String| ScenarioError::new(None, reason);
        let dur = |d: &Option<RawDuration>, default: Duration, what: &str| {
            d.as_ref()
                .map_or(Ok(default), RawDuration::resolve)
                .map_err(|e| top(format!("{what}: {e}")))
        };
        let timeout = dur(&raw.timeout, DEFAULT_TIMEOUT, "timeout")?;
        let step_timeout = dur(&raw.step_timeout, DEFAULT_STEP_TIMEOUT, "step_timeout")?;

        let network = match &raw.network {
            Some(n) => Network {
                loss: share(n.loss.unwrap_or(0.0))
                    .map_err(|e| top(format!("network.loss: {e}")))?,
                seed: n.seed.unwrap_or(1),
            },
            None => Network { loss: 0.0, seed: 1 },
        };
        let authority = match &raw.authority {
            Some(a) => AsSettings {
                token_lifetime: match &a.token_lifetime {
                    // A bare integer is seconds here (the AS's unit).
                    Some(RawDuration::Millis(s)) => *s,
                    Some(RawDuration::Text(t)) => duration::parse(t)
                        .map_err(|e| top(format!("as.token_lifetime: {e}")))?
                        .as_secs(),
                    None => 3600,
                },
                loss: a
                    .loss
                    .map(share)
                    .transpose()
                    .map_err(|e| top(format!("as.loss: {e}")))?,
            },
            None => AsSettings {
                token_lifetime: 3600,
                loss: None,
            },
        };
        if authority.token_lifetime == 0 {
            return Err(top("as.token_lifetime: must be at least one second".into()));
        }
        let kdc = match &raw.kdc {
            Some(k) => KdcSettings {
                tick_ms: k
                    .tick
                    .as_ref()
                    .map(RawDuration::resolve)
                    .transpose()
                    .map_err(|e| top(format!("kdc.tick: {e}")))?
                    .map_or(100, |d| d.as_millis().clamp(10, 60_000) as u64),
                rekey_margin: k.rekey_margin.unwrap_or(0),
                require_cnonce: k.require_cnonce.unwrap_or(false),
            },
            None => KdcSettings {
                tick_ms: 100,
                rekey_margin: 0,
                require_cnonce: false,
            },
        };

        let groups = self.groups(&raw.group)?;
        let group_names: BTreeSet<String> = groups.iter().map(|g| g.name.clone()).collect();
        let mut clients = self.clients(&raw.client, &group_names)?;
        let externals = self.externals(&raw.external, &clients)?;
        let mut steps = Vec::with_capacity(raw.step.len());
        let ctx = Names {
            clients: clients.iter().map(|c| c.name.clone()).collect(),
            sets: clients
                .iter()
                .filter_map(|c| c.set.clone())
                .collect::<BTreeSet<_>>(),
            externals: externals.iter().map(|e| e.name.clone()).collect(),
            groups: group_names,
            client_order: clients.iter().map(|c| c.name.clone()).collect(),
        };
        for (i, table) in raw.step.iter().enumerate() {
            steps.push(self.step(i + 1, table, &ctx, step_timeout)?);
        }
        if steps.is_empty() {
            return Err(top("the scenario has no [[step]]".into()));
        }
        default_grants(&mut clients, &steps);
        let countersignature = match raw.countersignature.as_deref() {
            None => ::group_oscore::group::CountersignatureStructure::Rfc9338,
            Some(name) => crate::actor::client::countersignature(name).ok_or_else(|| {
                top(format!(
                    "countersignature {name:?}: expected \"rfc9338\" or \"aiocoap-0.4.17\""
                ))
            })?,
        };
        Ok(Scenario {
            countersignature,
            name: raw.name.unwrap_or_else(|| default_name.to_string()),
            description: raw.description.unwrap_or_default(),
            timeout,
            step_timeout,
            network,
            authority,
            kdc,
            groups,
            clients,
            externals,
            steps,
        })
    }

    fn groups(&self, tables: &[Spanned<toml::Table>]) -> Result<Vec<GroupSpec>, ScenarioError> {
        let check = group_checker();
        let mut groups: Vec<GroupSpec> = Vec::new();
        for t in tables {
            let spec: GroupSpec = toml::Value::Table(t.get_ref().clone())
                .try_into()
                .map_err(|e| self.err(t, format!("[[group]]: {}", e.message().trim())))?;
            if groups.iter().any(|g| g.name == spec.name) {
                return Err(self.err(t, format!("group {:?} is defined twice", spec.name)));
            }
            if let Err(e) = check(&spec) {
                return Err(self.err(t, format!("group {:?}: {e}", spec.name)));
            }
            groups.push(spec);
        }
        if groups.is_empty() {
            return Err(ScenarioError::new(
                None,
                "the scenario defines no [[group]]".to_string(),
            ));
        }
        Ok(groups)
    }

    fn clients(
        &self,
        raws: &[Spanned<raw::RawClient>],
        groups: &BTreeSet<String>,
    ) -> Result<Vec<ClientSpec>, ScenarioError> {
        let mut out: Vec<ClientSpec> = Vec::new();
        let mut names = BTreeSet::new();
        for spanned in raws {
            let c = spanned.get_ref();
            check_name(&c.name).map_err(|e| self.err(spanned, format!("client name: {e}")))?;
            let signature = match c.signature.as_deref().unwrap_or("EdDSA") {
                "EdDSA" | "Ed25519" => SignatureAlgorithm::EdDsa,
                "ES256" | "P-256" => SignatureAlgorithm::Es256,
                other => {
                    return Err(self.err(
                        spanned,
                        format!(
                            "client {:?}: signature {other:?}: expected \"EdDSA\" or \"ES256\"",
                            c.name
                        ),
                    ));
                }
            };
            let mut grants = Vec::new();
            for g in c.grant.iter().flatten() {
                if !groups.contains(&g.group) {
                    return Err(self.err(
                        spanned,
                        format!(
                            "client {:?}: grant names unknown group {:?}",
                            c.name, g.group
                        ),
                    ));
                }
                let bits = self.roles(spanned, &g.roles, false)?;
                grants.push((g.group.clone(), bits));
            }
            let loss = c
                .loss
                .map(share)
                .transpose()
                .map_err(|e| self.err(spanned, format!("client {:?}: loss: {e}", c.name)))?;
            let template = ClientSpec {
                name: c.name.clone(),
                signature,
                grants,
                observe: c.observe.unwrap_or(true),
                control_uri: c.control_uri.unwrap_or(false),
                loss,
                set: None,
            };
            let expanded: Vec<ClientSpec> = match c.count {
                None => vec![template],
                Some(0) => {
                    return Err(self.err(
                        spanned,
                        format!("client {:?}: count must be at least 1", c.name),
                    ));
                }
                Some(n) => (1..=n)
                    .map(|i| ClientSpec {
                        name: set_member(&c.name, i),
                        set: Some(c.name.clone()),
                        ..template.clone()
                    })
                    .collect(),
            };
            for client in expanded {
                if !names.insert(client.name.clone()) {
                    return Err(self.err(
                        spanned,
                        format!("client {:?} is defined twice", client.name),
                    ));
                }
                out.push(client);
            }
            if out.len() > MAX_CLIENTS {
                return Err(self.err(spanned, format!("more than {MAX_CLIENTS} clients")));
            }
        }
        Ok(out)
    }

    fn externals(
        &self,
        raws: &[Spanned<raw::RawExternal>],
        clients: &[ClientSpec],
    ) -> Result<Vec<ExternalSpec>, ScenarioError> {
        let mut out: Vec<ExternalSpec> = Vec::new();
        for spanned in raws {
            let e = spanned.get_ref();
            check_name(&e.name).map_err(|r| self.err(spanned, format!("external name: {r}")))?;
            if clients.iter().any(|c| c.name == e.name) || out.iter().any(|x| x.name == e.name) {
                return Err(self.err(spanned, format!("actor {:?} is defined twice", e.name)));
            }
            let kind = match e.kind.as_str() {
                "aiocoap-member" => ExternalKind::AiocoapMember,
                other => {
                    return Err(self.err(
                        spanned,
                        format!(
                            "external {:?}: kind {other:?}: expected \"aiocoap-member\"",
                            e.name
                        ),
                    ));
                }
            };
            if e.command.is_empty() {
                return Err(self.err(spanned, format!("external {:?}: empty command", e.name)));
            }
            if !clients.iter().any(|c| c.name == e.sponsor) {
                return Err(self.err(
                    spanned,
                    format!(
                        "external {:?}: sponsor {:?} is not a client",
                        e.name, e.sponsor
                    ),
                ));
            }
            out.push(ExternalSpec {
                name: e.name.clone(),
                kind,
                command: e.command.clone(),
                sponsor: e.sponsor.clone(),
            });
        }
        Ok(out)
    }

    /// Role names -> AIF bits; for a join, a set a node may request.
    fn roles<T>(
        &self,
        at: &Spanned<T>,
        names: &[String],
        join: bool,
    ) -> Result<u64, ScenarioError> {
        let mut bits = 0;
        for n in names {
            bits |= role_bit(n).ok_or_else(|| {
                self.err(
                    at,
                    format!("unknown role {n:?} (requester, responder, monitor, verifier)"),
                )
            })?;
        }
        if bits == 0 {
            return Err(self.err(at, "at least one role is needed"));
        }
        if join && !group_oscore::is_valid_join_set(bits) {
            // Allowed on purpose: scenarios provoke the KDC's refusal.
            tracing::debug!(roles = bits, "join with a role set the profile forbids");
        }
        Ok(bits)
    }

    fn step(
        &self,
        index: usize,
        table: &Spanned<toml::Table>,
        names: &Names,
        default_timeout: Duration,
    ) -> Result<Step, ScenarioError> {
        let mut body = table.get_ref().clone();
        let line = Location::of_offset(self.text, table.span().start).line;
        let action = match body.remove("action") {
            Some(toml::Value::String(s)) => s,
            Some(_) => {
                return Err(self.err(table, format!("step {index}: `action` must be a string")));
            }
            None => return Err(self.err(table, format!("step {index}: `action` is missing"))),
        };
        let here = |reason: String| self.err(table, format!("step {index} ({action}): {reason}"));
        let note = match body.remove("note") {
            Some(toml::Value::String(s)) => Some(s),
            Some(_) => return Err(here("`note` must be a string".into())),
            None => None,
        };
        let timeout = match body.remove("timeout") {
            Some(v) => v
                .try_into::<RawDuration>()
                .map_err(|e| here(format!("timeout: {}", e.message().trim())))?
                .resolve()
                .map_err(|e| here(format!("timeout: {e}")))?,
            None => default_timeout,
        };
        let expect = match body.remove("expect") {
            Some(v) => {
                let raw: RawExpect = v
                    .try_into()
                    .map_err(|e| here(format!("expect: {}", e.message().trim())))?;
                expectation(raw).map_err(|e| here(format!("expect: {e}")))?
            }
            None => Expectation::Success,
        };
        let rest = toml::Value::Table(body);
        let action_value = self.action(&action, rest, table, names, &here)?;
        Ok(Step {
            index,
            line,
            note,
            timeout,
            expect,
            action: action_value,
        })
    }

    fn action(
        &self,
        action: &str,
        rest: toml::Value,
        table: &Spanned<toml::Table>,
        names: &Names,
        here: &dyn Fn(String) -> ScenarioError,
    ) -> Result<Action, ScenarioError> {
        fn body<T: DeserializeOwned>(
            rest: toml::Value,
            here: &dyn Fn(String) -> ScenarioError,
        ) -> Result<T, ScenarioError> {
            rest.try_into()
                .map_err(|e| here(e.message().trim().to_string()))
        }
        let client = |name: &str| names.client(name).map_err(here);
        let member = |name: &str| names.actor(name).map_err(here);
        let group = |name: &str| names.group(name).map_err(here);
        Ok(match action {
            "hints" => {
                let b: raw::ClientGroupBody = body(rest, here)?;
                Action::Hints {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                }
            }
            "join" => {
                let b: raw::JoinBody = body(rest, here)?;
                let clients = names
                    .client_selection(b.client.as_deref(), b.clients.as_ref())
                    .map_err(here)?;
                let groups = match (b.group, b.groups) {
                    (Some(g), None) => vec![group(&g)?],
                    (None, Some(gs)) if !gs.is_empty() => {
                        gs.iter().map(|g| group(g)).collect::<Result<_, _>>()?
                    }
                    _ => return Err(here("give either `group` or a non-empty `groups`".into())),
                };
                let roles = self.roles(table, &b.roles, true)?;
                let token_for = b
                    .token_for
                    .iter()
                    .flatten()
                    .map(|g| group(g))
                    .collect::<Result<Vec<_>, _>>()?;
                Action::Join {
                    clients,
                    groups,
                    roles,
                    concurrency: b.concurrency.unwrap_or(64).max(1),
                    get_creds: b.get_creds.unwrap_or(true),
                    token_for,
                }
            }
            "forged_join" => {
                let b: raw::ForgedJoinBody = body(rest, here)?;
                let flaw = match b.flaw.as_str() {
                    "signature" => Flaw::Signature,
                    "credential" => Flaw::Credential,
                    other => {
                        return Err(here(format!(
                            "flaw = {other:?}: expected \"signature\" or \"credential\""
                        )));
                    }
                };
                Action::ForgedJoin {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                    roles: self.roles(table, &b.roles, false)?,
                    flaw,
                }
            }
            "token" => {
                let b: raw::TokenBody = body(rest, here)?;
                Action::Token {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                    roles: self.roles(table, &b.roles, false)?,
                }
            }
            "keys" => {
                let b: raw::KeysBody = body(rest, here)?;
                Action::Keys {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                    num: b.num,
                }
            }
            "num" => {
                let b: raw::NumBody = body(rest, here)?;
                Action::Num {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                    equals: b.equals,
                }
            }
            "renew" => {
                let b: raw::ClientGroupBody = body(rest, here)?;
                Action::Renew {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                }
            }
            "creds" => {
                let b: raw::CredsBody = body(rest, here)?;
                let form = if b.inclusion.is_none() && b.roles.is_none() && b.ids.is_none() {
                    CredsForm::All
                } else {
                    let mut roles = Vec::new();
                    for element in b.roles.iter().flatten() {
                        let list = match element {
                            RoleElement::One(r) => std::slice::from_ref(r).to_vec(),
                            RoleElement::Combination(rs) => rs.clone(),
                        };
                        roles.push(self.roles(table, &list, false)?);
                    }
                    let ids = b
                        .ids
                        .iter()
                        .flatten()
                        .map(|n| member(n))
                        .collect::<Result<Vec<_>, _>>()?;
                    CredsForm::Filter(CredsQuery {
                        inclusion: b.inclusion.unwrap_or(true),
                        roles,
                        ids,
                    })
                };
                Action::Creds {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                    form,
                    members: b
                        .members
                        .map(|ms| ms.iter().map(|m| member(m)).collect::<Result<Vec<_>, _>>())
                        .transpose()?,
                }
            }
            "kdc_cred" => {
                let b: raw::ClientGroupBody = body(rest, here)?;
                Action::KdcCred {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                }
            }
            "policies" => {
                let b: raw::PoliciesBody = body(rest, here)?;
                Action::Policies {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                    check_interval: b.check_interval,
                }
            }
            "send" => {
                let b: raw::SendBody = body(rest, here)?;
                let list = |v: Option<Vec<String>>| -> Result<Vec<String>, ScenarioError> {
                    v.iter().flatten().map(|n| member(n)).collect()
                };
                Action::Send {
                    client: member(&b.client)?,
                    group: group(&b.group)?,
                    path: b.path.unwrap_or_else(|| "/hello".into()),
                    payload: b.payload.unwrap_or_default(),
                    window: b
                        .window
                        .as_ref()
                        .map(RawDuration::resolve)
                        .transpose()
                        .map_err(|e| here(format!("window: {e}")))?
                        .unwrap_or(DEFAULT_WINDOW),
                    responders: b.responders.map(|r| list(Some(r))).transpose()?,
                    seen_by: list(b.seen_by)?,
                    not_seen_by: list(b.not_seen_by)?,
                }
            }
            "leave" => {
                let b: raw::LeaveBody = body(rest, here)?;
                Action::Leave {
                    clients: names
                        .client_selection(b.client.as_deref(), b.clients.as_ref())
                        .map_err(here)?,
                    group: group(&b.group)?,
                }
            }
            "evict" => {
                let b: raw::ClientGroupBody = body(rest, here)?;
                Action::Evict {
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                }
            }
            "rekey" => {
                let b: raw::GroupBody = body(rest, here)?;
                Action::Rekey {
                    group: group(&b.group)?,
                }
            }
            "delete_group" => {
                let b: raw::GroupBody = body(rest, here)?;
                Action::DeleteGroup {
                    group: group(&b.group)?,
                }
            }
            "expire" => {
                let b: raw::ExpireBody = body(rest, here)?;
                let kind = match b.what.as_str() {
                    "token" => ExpiryKind::Token,
                    "material" => ExpiryKind::Material,
                    other => {
                        return Err(here(format!(
                            "what = {other:?}: expected \"token\" or \"material\""
                        )));
                    }
                };
                Action::Expire {
                    kind,
                    client: client(&b.client)?,
                    group: group(&b.group)?,
                }
            }
            "kill_kdc" => {
                let _: raw::EmptyBody = body(rest, here)?;
                Action::KillKdc
            }
            "restart_kdc" => {
                let _: raw::EmptyBody = body(rest, here)?;
                Action::RestartKdc
            }
            "observing" => {
                let b: raw::ObservingBody = body(rest, here)?;
                Action::Observing {
                    clients: names
                        .client_selection(b.client.as_deref(), b.clients.as_ref())
                        .map_err(here)?,
                    group: group(&b.group)?,
                }
            }
            "converge" => {
                let b: raw::ConvergeBody = body(rest, here)?;
                Action::Converge {
                    group: group(&b.group)?,
                    clients: match &b.clients {
                        Some(list) => names.client_selection(None, Some(list)).map_err(here)?,
                        None => Vec::new(),
                    },
                    num: b.num,
                }
            }
            "wait" => {
                let b: raw::WaitBody = body(rest, here)?;
                Action::Wait {
                    duration: b
                        .duration
                        .resolve()
                        .map_err(|e| here(format!("duration: {e}")))?,
                }
            }
            "request" => {
                let b: raw::RequestBody = body(rest, here)?;
                let method = b.method.to_ascii_uppercase();
                if !["GET", "POST", "PUT", "DELETE", "FETCH", "PATCH", "IPATCH"]
                    .contains(&method.as_str())
                {
                    return Err(here(format!("method {:?} is not a CoAP method", b.method)));
                }
                if !b.path.starts_with('/') {
                    return Err(here(format!("path {:?} must start with /", b.path)));
                }
                let payload = b
                    .payload
                    .map(|h| {
                        let clean: String = h.chars().filter(|c| !c.is_whitespace()).collect();
                        hex::decode(clean).map_err(|e| here(format!("payload is not hex: {e}")))
                    })
                    .transpose()?;
                Action::Request {
                    client: client(&b.client)?,
                    method,
                    path: b.path,
                    payload,
                    content_format: b.content_format,
                }
            }
            "unreadable" => {
                let b: raw::UnreadableBody = body(rest, here)?;
                Action::Unreadable {
                    sender: client(&b.sender)?,
                    group: group(&b.group)?,
                    former: client(&b.former)?,
                }
            }
            "handover" => {
                let b: raw::HandoverBody = body(rest, here)?;
                if !names.externals.contains(&b.external) {
                    return Err(here(format!(
                        "{:?} is not an [[external]] member",
                        b.external
                    )));
                }
                Action::Handover {
                    external: b.external,
                    group: group(&b.group)?,
                }
            }
            other => {
                return Err(here(format!(
                    "unknown action {other:?}; expected one of: {}",
                    ACTIONS.join(", ")
                )));
            }
        })
    }
}

/// Every step action.
pub const ACTIONS: &[&str] = &[
    "hints",
    "join",
    "token",
    "forged_join",
    "keys",
    "num",
    "renew",
    "creds",
    "kdc_cred",
    "policies",
    "send",
    "leave",
    "evict",
    "rekey",
    "delete_group",
    "expire",
    "kill_kdc",
    "restart_kdc",
    "observing",
    "converge",
    "wait",
    "request",
    "unreadable",
    "handover",
];

/// The names steps may use.
struct Names {
    clients: BTreeSet<String>,
    sets: BTreeSet<String>,
    externals: BTreeSet<String>,
    groups: BTreeSet<String>,
    client_order: Vec<String>,
}

impl Names {
    fn client(&self, name: &str) -> Result<String, String> {
        if self.clients.contains(name) {
            Ok(name.to_string())
        } else if self.externals.contains(name) {
            Err(format!(
                "{name:?} is an external member; this step needs a client"
            ))
        } else {
            Err(format!("unknown client {name:?}"))
        }
    }

    fn actor(&self, name: &str) -> Result<String, String> {
        if self.clients.contains(name) || self.externals.contains(name) {
            Ok(name.to_string())
        } else {
            Err(format!("unknown member {name:?}"))
        }
    }

    fn group(&self, name: &str) -> Result<String, String> {
        if self.groups.contains(name) {
            Ok(name.to_string())
        } else {
            Err(format!("unknown group {name:?}"))
        }
    }

    /// `client = "a"`, `clients = ["a", "b"]`, `clients = "set-*"` (a bulk
    /// set or any prefix), or `clients = "*"`.
    fn client_selection(
        &self,
        one: Option<&str>,
        many: Option<&ClientList>,
    ) -> Result<Vec<String>, String> {
        match (one, many) {
            (Some(c), None) => Ok(vec![self.client(c)?]),
            (None, Some(ClientList::Many(list))) if !list.is_empty() => {
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                for c in list {
                    let c = self.client(c)?;
                    if !seen.insert(c.clone()) {
                        return Err(format!("client {c:?} listed twice"));
                    }
                    out.push(c);
                }
                Ok(out)
            }
            (None, Some(ClientList::One(pattern))) => {
                if let Some(prefix) = pattern.strip_suffix('*') {
                    let out: Vec<String> = self
                        .client_order
                        .iter()
                        .filter(|c| c.starts_with(prefix))
                        .cloned()
                        .collect();
                    if out.is_empty() {
                        return Err(format!("pattern {pattern:?} matches no client"));
                    }
                    Ok(out)
                } else if self.sets.contains(pattern.as_str()) {
                    Ok(self
                        .client_order
                        .iter()
                        .filter(|c| c.starts_with(&format!("{pattern}-")))
                        .cloned()
                        .collect())
                } else {
                    Ok(vec![self.client(pattern)?])
                }
            }
            _ => Err("give either `client` or a non-empty `clients`".into()),
        }
    }
}

/// Clients without an explicit grant get what their join steps ask for.
fn default_grants(clients: &mut [ClientSpec], steps: &[Step]) {
    let mut asked: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for s in steps {
        match &s.action {
            Action::Join {
                clients: cs,
                groups,
                roles,
                token_for,
                ..
            } => {
                for c in cs {
                    for g in groups.iter().chain(token_for) {
                        *asked
                            .entry(c.clone())
                            .or_default()
                            .entry(g.clone())
                            .or_default() |= roles;
                    }
                }
            }
            Action::Token {
                client,
                group,
                roles,
            } => {
                *asked
                    .entry(client.clone())
                    .or_default()
                    .entry(group.clone())
                    .or_default() |= roles;
            }
            _ => {}
        }
    }
    for c in clients.iter_mut().filter(|c| c.grants.is_empty()) {
        if let Some(groups) = asked.get(&c.name) {
            c.grants = groups.iter().map(|(g, r)| (g.clone(), *r)).collect();
        }
    }
}

fn expectation(raw: RawExpect) -> Result<Expectation, String> {
    match raw {
        RawExpect::Word(w) if w == "ok" || w == "success" => Ok(Expectation::Success),
        RawExpect::Word(w) => Err(format!(
            "{w:?}: expected \"ok\" or a table {{ code = \"4.03\", error_id = 0 }}"
        )),
        RawExpect::Refusal(r) => {
            let code = r.code.as_deref().map(parse_code).transpose()?;
            if let Some(c) = code
                && c.is_success()
            {
                return Err(format!("{c} is a success code; use expect = \"ok\""));
            }
            let error_id = r
                .error_id
                .map(|v| {
                    ErrorId::from_value(v)
                        .ok_or_else(|| format!("error_id {v} is not registered (0-9)"))
                })
                .transpose()?;
            if code.is_none() && error_id.is_none() {
                return Err("give `code`, `error_id` or both".into());
            }
            Ok(Expectation::Refused { code, error_id })
        }
    }
}

/// `"4.03"` -> 4.03.
pub(crate) fn parse_code(text: &str) -> Result<Code, String> {
    let bad = || format!("{text:?} is not a CoAP response code like \"4.03\"");
    let (class, detail) = text.split_once('.').ok_or_else(bad)?;
    let class: u8 = class.parse().map_err(|_| bad())?;
    let detail: u8 = detail.parse().map_err(|_| bad())?;
    if !(2..=5).contains(&class) || detail > 31 || detail.to_string().len() > 2 {
        return Err(bad());
    }
    Ok(Code::new(class, detail))
}

fn share(v: f64) -> Result<f64, String> {
    if (0.0..=0.9).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a share between 0.0 and 0.9"))
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("{name:?} must be 1 to 64 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!("{name:?} may only use letters, digits, - and _"));
    }
    Ok(())
}

/// A check of group specs with the KDC's own validation (against a KDC
/// with keys for both signature algorithms).
fn group_checker() -> impl Fn(&GroupSpec) -> Result<(), String> {
    let config = crate::runner::config::validation_kdc_config();
    move |spec: &GroupSpec| match &config {
        Ok(c) => c.group(spec).map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(format!("internal: {e}")),
    }
}
