//! Executing one step against the actors, with the checks each action
//! makes on top of its own success.

use super::world::{Membership, World};
use super::{StepError, is_bulk};
use crate::actor::{ActorError, Member, Notice, Reply};
use crate::model::{Action, CredsForm, ExpiryKind, Flaw, Step};
use ace_kdc::admin::Command;
use ace_proto::cbor::Codec;
use ace_proto::groupcomm::CredsFilter;
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{self, MONITOR, RESPONDER};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often waiting steps look again.
const POLL: Duration = Duration::from_millis(20);

/// A step in words, for the log and the diagram's separators.
pub fn summary(action: &Action) -> String {
    let roles = |r: u64| group_oscore::names(r);
    let who = |clients: &[String]| match clients {
        [one] => one.clone(),
        many => format!("{} clients", many.len()),
    };
    match action {
        Action::Hints { client, group } => {
            format!("{client} asks the KDC for {group} without a token")
        }
        Action::ForgedJoin {
            client,
            group,
            flaw,
            ..
        } => format!(
            "{client} sends a Join Request to {group} with a forged {}",
            match flaw {
                Flaw::Signature => "PoP signature",
                Flaw::Credential => "credential",
            }
        ),
        Action::Token {
            client,
            group,
            roles: r,
        } => {
            format!("{client} gets a token for {} on {group}", roles(*r))
        }
        Action::Join {
            clients,
            groups,
            roles: r,
            ..
        } => {
            format!(
                "{} joins {} as {}",
                who(clients),
                groups.join("+"),
                roles(*r)
            )
        }
        Action::Keys { client, group, .. } => format!("{client} gets the keys of {group}"),
        Action::Num { client, group, .. } => format!("{client} gets the num of {group}"),
        Action::Renew { client, group } => format!("{client} renews its Sender ID in {group}"),
        Action::Creds {
            client,
            group,
            form,
            ..
        } => match form {
            CredsForm::All => format!("{client} gets all credentials of {group}"),
            CredsForm::Filter(q) => format!(
                "{client} fetches credentials of {group} ({}{}{})",
                if q.inclusion { "include" } else { "exclude" },
                if q.roles.is_empty() {
                    String::new()
                } else {
                    format!(
                        " roles {}",
                        q.roles
                            .iter()
                            .map(|r| roles(*r))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                },
                if q.ids.is_empty() {
                    String::new()
                } else {
                    format!(" ids of {}", q.ids.join(","))
                }
            ),
        },
        Action::KdcCred { client, group } => {
            format!("{client} gets the KDC's credential for {group}")
        }
        Action::Policies { client, group, .. } => format!("{client} gets the policies of {group}"),
        Action::Send {
            client,
            group,
            path,
            ..
        } => format!("{client} sends a group request {path} to {group}"),
        Action::Leave { clients, group } => format!("{} leaves {group}", who(clients)),
        Action::Evict { client, group } => format!("the KDC operator evicts {client} from {group}"),
        Action::Rekey { group } => format!("the KDC operator rekeys {group}"),
        Action::DeleteGroup { group } => format!("the KDC operator deletes {group}"),
        Action::Expire {
            kind,
            client,
            group,
        } => match kind {
            ExpiryKind::Token => format!("{client}'s token expires ({group})"),
            ExpiryKind::Material => {
                format!("the keying material of {group} expires ({client} watching)")
            }
        },
        Action::KillKdc => "the KDC is killed".into(),
        Action::RestartKdc => "the KDC restarts on its database".into(),
        Action::Observing { clients, group } => {
            format!("{}: observation of {group} registered again", who(clients))
        }
        Action::Converge { group, num, .. } => match num {
            Some(n) => format!("members of {group} converge on num {n}"),
            None => format!("members of {group} converge on the KDC's num"),
        },
        Action::Wait { duration } => format!("wait {duration:?}"),
        Action::Request {
            client,
            method,
            path,
            ..
        } => format!("{client} sends {method} {path} to the KDC"),
        Action::Unreadable {
            sender,
            group,
            former,
        } => {
            format!("{former}'s old keys cannot read {sender}'s new message in {group}")
        }
        Action::Handover { external, group } => {
            format!("keying material of {group} handed to {external}")
        }
    }
}

/// A raw response as a step outcome: success, or a refusal with its
/// code and error id.
fn refusal_or_success(
    method: &str,
    path: &str,
    r: crate::actor::RawReply,
) -> Result<String, StepError> {
    if r.code.is_success() {
        return Ok(format!("{} ({} bytes)", r.code, r.payload.len()));
    }
    let id = ace_proto::problem::error_id_of(&r.payload)
        .and_then(ace_proto::consts::groupcomm::ErrorId::from_value);
    Err(StepError::Refused(ActorError::refused(
        r.code,
        id,
        format!(
            "{method} {path} answered {}{}",
            r.code,
            id.map(|i| format!(", error id {i}")).unwrap_or_default()
        ),
    )))
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        "''".into()
    } else {
        hex::encode(b)
    }
}

impl World {
    fn member(&self, name: &str) -> Result<Arc<dyn Member>, StepError> {
        self.members
            .get(name)
            .cloned()
            .ok_or_else(|| StepError::Check(format!("no client {name:?}")))
    }

    /// Addresses of the current members of `group` that serve requests
    /// (Responders, Monitors), except `except`.
    pub(crate) fn serving_addresses(&self, group: &str, except: &str) -> Vec<std::net::SocketAddr> {
        self.memberships
            .iter()
            .filter(|((c, g), m)| {
                g == group
                    && c != except
                    && m.roles & (RESPONDER | MONITOR) != 0
                    && !self.is_sponsor(c)
            })
            .filter_map(|((c, _), _)| self.members.get(c).and_then(|m| m.local_addr()))
            .collect()
    }

    /// Whether `client` joins on behalf of an external member.
    pub(crate) fn is_sponsor(&self, client: &str) -> bool {
        self.scenario.externals.iter().any(|e| e.sponsor == client)
    }

    /// The current members of `group` (joined, not left or evicted).
    fn current_members(&self, group: &str) -> Vec<String> {
        self.memberships
            .keys()
            .filter(|(_, g)| g == group)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Whether `name` received and verified a request with `body` in `group`.
    async fn saw(&self, name: &str, group: &str, body: &[u8]) -> Result<bool, StepError> {
        let got = match (self.members.get(name), self.externals.get(name)) {
            (Some(m), _) => m.received(),
            (None, Some(e)) => e.received().await?,
            _ => return Err(StepError::Check(format!("no member {name:?}"))),
        };
        Ok(got.iter().any(|r| r.group == group && r.payload == body))
    }

    fn actor_of(&self, group: &str, reply: &Reply) -> String {
        if let Some(sid) = &reply.sender_id
            && let Some(name) = self.sender_ids.get(&(group.to_string(), sid.clone()))
        {
            return name.clone();
        }
        self.capture
            .name_of(reply.from)
            .unwrap_or_else(|| reply.from.to_string())
    }

    /// Executes `step`; `Ok` carries what was seen.
    pub(crate) async fn execute(&mut self, step: &Step) -> Result<String, StepError> {
        match &step.action {
            Action::Hints { client, group } => {
                let h = self.member(client)?.hints(group).await?;
                let mut missing = Vec::new();
                if h.as_uri.is_none() {
                    missing.push("AS");
                }
                if h.audience.is_none() {
                    missing.push("audience");
                }
                if !h.scope {
                    missing.push("scope");
                }
                if h.code != ace_proto::Code::UNAUTHORIZED || !missing.is_empty() {
                    return Err(StepError::Check(format!(
                        "expected 4.01 with AS Request Creation Hints; got {} missing {}",
                        h.code,
                        missing.join(", ")
                    )));
                }
                Ok(format!(
                    "4.01 with hints: AS {}, audience {}, scope{}",
                    h.as_uri.unwrap_or_default(),
                    h.audience.unwrap_or_default(),
                    if h.cnonce { ", cnonce" } else { "" }
                ))
            }
            Action::Join {
                clients,
                groups,
                roles,
                concurrency,
                get_creds,
                token_for,
            } => {
                self.join(
                    step,
                    clients,
                    groups,
                    token_for,
                    *roles,
                    *concurrency,
                    *get_creds,
                )
                .await
            }
            Action::Token {
                client,
                group,
                roles,
            } => {
                self.member(client)?.token(group, *roles).await?;
                Ok(format!(
                    "token for {} on {group} transferred to the KDC",
                    group_oscore::names(*roles)
                ))
            }
            Action::Keys { client, group, num } => {
                let got = self.member(client)?.keys(group).await?;
                if let Some(n) = num
                    && *n != got
                {
                    return Err(StepError::Check(format!("num {got}, expected {n}")));
                }
                let installed = self.member(client)?.installed_num(group);
                Ok(format!(
                    "keying material num {got} (installed {installed:?})"
                ))
            }
            Action::Num {
                client,
                group,
                equals,
            } => {
                let m = self.member(client)?;
                let got = m.num(group).await?;
                if let Some(n) = equals
                    && *n != got
                {
                    return Err(StepError::Check(format!("/num is {got}, expected {n}")));
                }
                let installed = m.installed_num(group);
                Ok(match installed {
                    Some(i) if i == got => format!("/num = {got}, the installed version"),
                    Some(i) => {
                        format!("/num = {got}; version {i} installed: stale, fetch the keys")
                    }
                    None => format!("/num = {got}"),
                })
            }
            Action::Renew { client, group } => {
                let m = self.member(client)?;
                let before = m.sender_id(group);
                let new = m.renew(group).await?;
                if before.as_deref() == Some(new.as_slice()) {
                    return Err(StepError::Check(format!(
                        "the new Sender ID {} equals the old one",
                        hex(&new)
                    )));
                }
                if m.sender_id(group).as_deref() != Some(new.as_slice()) {
                    return Err(StepError::Check(
                        "the client does not use the new Sender ID".into(),
                    ));
                }
                self.sender_ids
                    .insert((group.clone(), new.clone()), client.clone());
                Ok(format!(
                    "Sender ID {} -> {}",
                    before.as_deref().map_or_else(|| "-".into(), hex),
                    hex(&new)
                ))
            }
            Action::Creds {
                client,
                group,
                form,
                members,
            } => {
                self.learn_sender_ids(group);
                let filter = match form {
                    CredsForm::All => None,
                    CredsForm::Filter(q) => {
                        let mut ids = Vec::new();
                        for name in &q.ids {
                            let sid = self.member(name)?.sender_id(group).ok_or_else(|| {
                                StepError::Check(format!("{name} has no Sender ID in {group}"))
                            })?;
                            ids.push(sid);
                        }
                        Some(CredsFilter {
                            inclusion_flag: q.inclusion,
                            role_filter: q.roles.iter().map(|r| Roles::Aif(*r)).collect(),
                            id_filter: ids,
                        })
                    }
                };
                let got = self.member(client)?.creds(group, filter).await?;
                let names: BTreeSet<String> = got
                    .iter()
                    .map(|sid| {
                        self.sender_ids
                            .get(&(group.clone(), sid.clone()))
                            .cloned()
                            .unwrap_or_else(|| format!("sid {}", hex(sid)))
                    })
                    .collect();
                if let Some(expected) = members {
                    let want: BTreeSet<String> = expected.iter().cloned().collect();
                    if want != names {
                        return Err(StepError::Check(format!(
                            "credentials of {:?}, expected {:?}",
                            names, want
                        )));
                    }
                }
                Ok(format!(
                    "credentials of {}",
                    names.into_iter().collect::<Vec<_>>().join(", ")
                ))
            }
            Action::KdcCred { client, group } => {
                self.member(client)?.kdc_cred(group).await?;
                Ok("kdc_cred verified (PoP over the client's challenge)".into())
            }
            Action::Policies {
                client,
                group,
                check_interval,
            } => {
                let got = self.member(client)?.policies(group).await?;
                if let Some(want) = check_interval
                    && got != Some(*want)
                {
                    return Err(StepError::Check(format!(
                        "Key Update Check Interval {got:?}, expected {want}"
                    )));
                }
                Ok(format!("Key Update Check Interval {got:?}"))
            }
            Action::Send {
                client,
                group,
                path,
                payload,
                window,
                responders,
                seen_by,
                not_seen_by,
            } => self
                .send(
                    step,
                    client,
                    group,
                    path,
                    payload,
                    *window,
                    responders.as_deref(),
                    seen_by,
                    not_seen_by,
                    &[],
                )
                .await
                .map(|(detail, _)| detail),
            Action::Leave { clients, group } => self.leave(step, clients, group).await,
            Action::Evict { client, group } => {
                let m = self.member(client)?;
                let node = m.node_name(group).ok_or_else(|| {
                    StepError::Check(format!("{client} has no node name in {group}"))
                })?;
                if let Some(r) = m.export(group).await? {
                    self.departed.insert((client.clone(), group.clone()), r);
                }
                let before = self.kdc.current_num(group).await?.unwrap_or(0);
                let text = self
                    .kdc
                    .command(Command::Evict {
                        group: group.clone(),
                        node: node.clone(),
                    })
                    .await?;
                self.memberships.remove(&(client.clone(), group.clone()));
                let evicted = self
                    .wait_for(step, || {
                        m.notices().contains(&Notice::Evicted {
                            group: group.clone(),
                        })
                    })
                    .await;
                let after = self.kdc.current_num(group).await?.unwrap_or(0);
                if after <= before {
                    return Err(StepError::Check(format!(
                        "the KDC did not rekey after the eviction (num {before} -> {after})"
                    )));
                }
                Ok(format!(
                    "{text}; num {before} -> {after}; {client} {}",
                    if evicted {
                        "was told (error id 5)"
                    } else {
                        "got no eviction notice (no control_uri or observation)"
                    }
                ))
            }
            Action::Rekey { group } => {
                let before = self.kdc.current_num(group).await?.unwrap_or(0);
                let text = self
                    .kdc
                    .command(Command::Rekey {
                        group: group.clone(),
                    })
                    .await?;
                let after = self.kdc.current_num(group).await?.unwrap_or(0);
                if after != before + 1 {
                    return Err(StepError::Check(format!(
                        "num {before} -> {after}, expected +1"
                    )));
                }
                Ok(format!("{text}; num {before} -> {after}"))
            }
            Action::DeleteGroup { group } => {
                let text = self
                    .kdc
                    .command(Command::Delete {
                        group: group.clone(),
                    })
                    .await?;
                let members = self.current_members(group);
                let told = {
                    let group = group.clone();
                    let ms: Vec<Arc<dyn Member>> = members
                        .iter()
                        .filter_map(|c| self.members.get(c).cloned())
                        .collect();
                    self.wait_for(step, move || {
                        ms.iter().all(|m| {
                            m.notices().contains(&Notice::GroupDeleted {
                                group: group.clone(),
                            })
                        })
                    })
                    .await
                };
                for c in &members {
                    self.memberships.remove(&(c.clone(), group.clone()));
                }
                if !told && !members.is_empty() {
                    return Err(StepError::Check(format!(
                        "not every member was told that {group} was deleted (error id 6)"
                    )));
                }
                Ok(format!(
                    "{text}; {} member(s) told (error id 6)",
                    members.len()
                ))
            }
            Action::Expire {
                kind,
                client,
                group,
            } => self.expire(step, *kind, client, group).await,
            Action::KillKdc => {
                self.kdc.kill().await?;
                Ok(format!("KDC at {} stopped", self.kdc.addr()))
            }
            Action::RestartKdc => {
                // The observations registered so far die with the KDC.
                let marks: Vec<((String, String), usize)> = self
                    .memberships
                    .keys()
                    .filter_map(|(c, g)| {
                        let m = self.members.get(c)?;
                        Some(((c.clone(), g.clone()), observations(m.as_ref(), g)))
                    })
                    .collect();
                self.observations_before.extend(marks);
                self.kdc.restart().await?;
                Ok(format!(
                    "KDC back at {} on the same database",
                    self.kdc.addr()
                ))
            }
            Action::Observing { clients, group } => {
                let ms: Vec<(String, Arc<dyn Member>, usize)> = clients
                    .iter()
                    .map(|n| {
                        let before = self
                            .observations_before
                            .get(&(n.clone(), group.clone()))
                            .copied()
                            .unwrap_or(0);
                        Ok((n.clone(), self.member(n)?, before))
                    })
                    .collect::<Result<_, StepError>>()?;
                let registered =
                    |m: &Arc<dyn Member>, before: usize| observations(m.as_ref(), group) > before;
                let all = self
                    .wait_for(step, || ms.iter().all(|(_, m, b)| registered(m, *b)))
                    .await;
                if !all {
                    let missing: Vec<&str> = ms
                        .iter()
                        .filter(|(_, m, b)| !registered(m, *b))
                        .map(|(n, _, _)| n.as_str())
                        .collect();
                    return Err(StepError::Check(format!(
                        "no new registration of the observation of {group} by {}",
                        missing.join(", ")
                    )));
                }
                Ok(format!(
                    "{} member(s) registered their observation of {group}",
                    ms.len()
                ))
            }
            Action::Converge {
                group,
                clients,
                num,
            } => {
                let target =
                    match num {
                        Some(n) => *n,
                        None => self.kdc.current_num(group).await?.ok_or_else(|| {
                            StepError::Check(format!("the KDC has no group {group}"))
                        })?,
                    };
                let names = if clients.is_empty() {
                    self.current_members(group)
                } else {
                    clients.clone()
                };
                let ms: Vec<(String, Arc<dyn Member>)> = names
                    .iter()
                    .map(|n| Ok((n.clone(), self.member(n)?)))
                    .collect::<Result<_, StepError>>()?;
                let g = group.clone();
                let all = self
                    .wait_for(step, || {
                        ms.iter().all(|(_, m)| m.installed_num(&g) == Some(target))
                    })
                    .await;
                if !all {
                    let behind: Vec<String> = ms
                        .iter()
                        .filter(|(_, m)| m.installed_num(group) != Some(target))
                        .map(|(n, m)| format!("{n} at {:?}", m.installed_num(group)))
                        .collect();
                    return Err(StepError::Check(format!(
                        "not converged on num {target}: {}",
                        behind.join(", ")
                    )));
                }
                Ok(format!("{} member(s) at num {target}", ms.len()))
            }
            Action::Wait { duration } => {
                tokio::time::sleep(*duration).await;
                Ok(String::new())
            }
            Action::Request {
                client,
                method,
                path,
                payload,
                content_format,
            } => {
                let r = self
                    .member(client)?
                    .raw_request(method, path, payload.clone(), *content_format)
                    .await?;
                refusal_or_success(method, path, r)
            }
            Action::ForgedJoin {
                client,
                group,
                roles,
                flaw,
            } => {
                let payload = self.forged_join(client, group, *roles, *flaw)?;
                let path = format!("/ace-group/{group}");
                let r = self
                    .member(client)?
                    .raw_request(
                        "POST",
                        &path,
                        Some(payload),
                        Some(ace_proto::consts::content_format::ACE_GROUPCOMM_CBOR),
                    )
                    .await?;
                refusal_or_success("POST", &path, r)
            }
            Action::Unreadable {
                sender,
                group,
                former,
            } => super::forward::check(self, step, sender, group, former).await,
            Action::Handover { external, group } => {
                let e =
                    self.externals.get(external).cloned().ok_or_else(|| {
                        StepError::Check(format!("no external member {external}"))
                    })?;
                let sponsor = e.sponsor().to_string();
                let record = self.member(&sponsor)?.export(group).await?.ok_or_else(|| {
                    StepError::Check(format!("{sponsor} is not a member of {group}"))
                })?;
                let identity = self
                    .deployment
                    .client(&sponsor)
                    .cloned()
                    .ok_or_else(|| StepError::Check(format!("no identity for {sponsor}")))?;
                let num = record.num;
                e.install(&record, &identity).await?;
                if let Some(sid) = &record.sender_id {
                    self.sender_ids
                        .insert((group.clone(), sid.clone()), external.clone());
                }
                Ok(format!(
                    "{external} holds {sponsor}'s membership: num {num}, {} peer credential(s)",
                    record.peers.len()
                ))
            }
        }
    }

    /// A Join Request with `flaw` for `client` (RFC 9594 section 4.3.1).
    fn forged_join(
        &self,
        client: &str,
        group: &str,
        roles: u64,
        flaw: Flaw,
    ) -> Result<Vec<u8>, StepError> {
        use ace_proto::credential::Credential;
        use ace_proto::keys::{SignatureAlgorithm, SigningKey, random_bytes};
        let id = self
            .deployment
            .client(client)
            .ok_or_else(|| StepError::Check(format!("no identity for {client}")))?;
        let scope = ace_client::flow::join_scope(group, roles);
        let cnonce = random_bytes(8);
        // The KDC's challenge is unknown here; what is signed does not matter
        // for either flaw.
        let input = ace_proto::pop::client_pop_input(&scope, &random_bytes(8), &cnonce);
        let (cred, signature) = match flaw {
            Flaw::Signature => {
                let other = SigningKey::generate(id.signing.algorithm());
                (
                    Credential::ccs_for_signing_key(&id.signing, client, None).into_bytes(),
                    other.sign(&input),
                )
            }
            Flaw::Credential => {
                let alg = match id.signing.algorithm() {
                    SignatureAlgorithm::EdDsa => SignatureAlgorithm::Es256,
                    SignatureAlgorithm::Es256 => SignatureAlgorithm::EdDsa,
                };
                let key = SigningKey::generate(alg);
                (
                    Credential::ccs_for_signing_key(&key, client, None).into_bytes(),
                    key.sign(&input),
                )
            }
        };
        Ok(ace_proto::groupcomm::JoinRequest {
            scope: Some(scope),
            get_creds: None,
            client_cred: Some(cred),
            cnonce,
            client_cred_verify: Some(signature),
            creds_repo: None,
            control_uri: None,
        }
        .encode())
    }

    /// Polls `done` until it holds or the step's time is nearly up.
    async fn wait_for(&self, step: &Step, mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + step.timeout.saturating_sub(Duration::from_millis(200));
        loop {
            if done() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn progress_bar(&self, step: &Step, len: usize) -> indicatif::ProgressBar {
        use std::io::IsTerminal as _;
        if self.progress && is_bulk(&step.action) && std::io::stdout().is_terminal() && len >= 20 {
            let bar = indicatif::ProgressBar::new(len as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "  {spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(summary(&step.action));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn join(
        &mut self,
        step: &Step,
        clients: &[String],
        groups: &[String],
        token_for: &[String],
        roles: u64,
        concurrency: usize,
        get_creds: bool,
    ) -> Result<String, StepError> {
        let bar = self.progress_bar(step, clients.len());
        let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        let request: Vec<(String, u64)> = groups.iter().map(|g| (g.clone(), roles)).collect();
        let extra: Vec<(String, u64)> = token_for.iter().map(|g| (g.clone(), roles)).collect();
        let started = Instant::now();
        for name in clients {
            let m = self.member(name)?;
            let permits = permits.clone();
            let request = request.clone();
            let extra = extra.clone();
            let name = name.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (name, m.join(request, extra, get_creds).await)
            });
        }
        let mut ok = Vec::new();
        let mut refused: Option<ActorError> = None;
        let mut failures = Vec::new();
        while let Some(done) = tasks.join_next().await {
            bar.inc(1);
            match done {
                Ok((name, Ok(joined))) => ok.push((name, joined)),
                Ok((name, Err(e))) if e.code.is_some() => {
                    failures.push(format!("{name}: {e}"));
                    refused.get_or_insert(e);
                }
                Ok((name, Err(e))) => failures.push(format!("{name}: {e}")),
                Err(e) => failures.push(format!("join task: {e}")),
            }
        }
        bar.finish_and_clear();
        let join_time = started.elapsed();
        for (name, joined) in &ok {
            for j in joined {
                self.memberships
                    .insert((name.clone(), j.group.clone()), Membership { roles });
                if let Some(sid) = &j.sender_id {
                    self.sender_ids
                        .insert((j.group.clone(), sid.clone()), name.clone());
                }
            }
        }
        // Observing members: wait until their registrations are answered, so
        // that what the KDC sends next reaches them (RFC 7641 section 3.1).
        let mut waiting: Vec<(Arc<dyn Member>, String)> = Vec::new();
        for (name, joined) in &ok {
            if self.scenario.client(name).is_some_and(|c| c.observe) {
                let m = self.member(name)?;
                for j in joined {
                    waiting.push((m.clone(), j.group.clone()));
                }
            }
        }
        if !waiting.is_empty() {
            let registered = self
                .wait_for(step, || {
                    waiting.iter().all(|(m, g)| m.observing(g).unwrap_or(true))
                })
                .await;
            if !registered {
                return Err(StepError::Check(
                    "joined, but not every observing member's registration was answered".into(),
                ));
            }
        }
        // Responders and monitors serve the group from now on; a sponsor
        // does not: its membership speaks through the external member.
        if roles & (RESPONDER | MONITOR) != 0 {
            for (name, _) in ok.iter().filter(|(n, _)| !self.is_sponsor(n)) {
                let m = self.member(name)?;
                for g in groups {
                    m.serve(g).await?;
                }
            }
        }
        if !failures.is_empty() {
            let shown: Vec<&String> = failures.iter().take(3).collect();
            let text = format!(
                "{} of {} joins failed: {}{}",
                failures.len(),
                clients.len(),
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                if failures.len() > 3 { "; ..." } else { "" }
            );
            return Err(match refused {
                Some(mut e) if ok.is_empty() && failures.len() == clients.len() => {
                    if clients.len() > 1 {
                        e.message = text;
                    }
                    StepError::Refused(e)
                }
                _ => StepError::Check(text),
            });
        }
        if let [(name, joined)] = ok.as_slice() {
            let parts: Vec<String> = joined
                .iter()
                .map(|j| {
                    format!(
                        "{}: node {}, Sender ID {}, num {}, {} credential(s)",
                        j.group,
                        j.node,
                        j.sender_id
                            .as_deref()
                            .map_or_else(|| "- (monitor)".into(), hex),
                        j.num,
                        j.creds
                    )
                })
                .collect();
            return Ok(format!("{name} joined {}", parts.join("; ")));
        }
        Ok(format!(
            "{} joins in {:.2} s ({:.0} joins/s), every observation registered after {:.2} s",
            ok.len(),
            join_time.as_secs_f64(),
            ok.len() as f64 / join_time.as_secs_f64().max(1e-6),
            started.elapsed().as_secs_f64()
        ))
    }

    async fn leave(
        &mut self,
        step: &Step,
        clients: &[String],
        group: &str,
    ) -> Result<String, StepError> {
        let bar = self.progress_bar(step, clients.len());
        let before = self.kdc.current_num(group).await?.unwrap_or(0);
        for name in clients {
            let m = self.member(name)?;
            let record = m.export(group).await?;
            m.leave(group).await?;
            if let Some(r) = record {
                self.departed.insert((name.clone(), group.to_string()), r);
            }
            self.memberships.remove(&(name.clone(), group.to_string()));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let after = self.kdc.current_num(group).await?.unwrap_or(0);
        Ok(format!(
            "left; the KDC rekeyed {group}: num {before} -> {after}"
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send(
        &mut self,
        step: &Step,
        client: &str,
        group: &str,
        path: &str,
        payload: &str,
        window: Duration,
        responders: Option<&[String]>,
        seen_by: &[String],
        not_seen_by: &[String],
        extra_targets: &[std::net::SocketAddr],
    ) -> Result<(String, Vec<u8>), StepError> {
        self.learn_sender_ids(group);
        let since = self.capture.elapsed();
        // A marker makes this step's request recognisable at the receivers.
        let body = format!("{payload} [step {}]", step.index).into_bytes();
        let replies = if let Some(e) = self.externals.get(client).cloned() {
            let mut targets = self.serving_addresses(group, client);
            targets.extend_from_slice(extra_targets);
            e.send(group, path, body.clone(), window, targets).await?
        } else {
            let mut targets = self.serving_addresses(group, client);
            targets.extend(
                self.externals
                    .values()
                    .filter(|e| e.holds(group))
                    .map(|e| e.addr()),
            );
            targets.extend_from_slice(extra_targets);
            self.member(client)?
                .send(group, targets, path, body.clone(), window)
                .await?
        };
        let answered: BTreeSet<String> = replies.iter().map(|r| self.actor_of(group, r)).collect();
        let mut problems = Vec::new();
        if let Some(expected) = responders {
            let want: BTreeSet<String> = expected.iter().cloned().collect();
            if want != answered {
                problems.push(format!("answered by {answered:?}, expected {want:?}"));
            }
        }
        let deadline = Instant::now() + window + Duration::from_secs(2);
        let mut missing: Vec<&String> = seen_by.iter().collect();
        loop {
            let mut still = Vec::new();
            for n in missing {
                if !self.saw(n, group, &body).await? {
                    still.push(n);
                }
            }
            missing = still;
            if missing.is_empty() || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        if !missing.is_empty() {
            problems.push(format!("not received by {missing:?}"));
        }
        let mut leaked = Vec::new();
        for n in not_seen_by {
            if self.saw(n, group, &body).await? {
                leaked.push(n);
            }
        }
        if !leaked.is_empty() {
            problems.push(format!("read by {leaked:?}, who must not"));
        }
        let wrong: HashSet<String> = replies
            .iter()
            .filter(|r| !r.code.is_success())
            .map(|r| format!("{} from {}", r.code, self.actor_of(group, r)))
            .collect();
        if !wrong.is_empty() && responders.is_some() {
            problems.push(format!("error responses: {wrong:?}"));
        }
        // The Monitors whose endpoint the capture sees sent nothing to
        // the group's members: no response, no error (RFC 10021 section
        // 2.2); at most empty ACKs to confirmable requests.
        let quiet = self.silent_monitors(group, client, since, &mut problems);
        if !problems.is_empty() {
            return Err(StepError::Check(problems.join("; ")));
        }
        let mut detail = format!(
            "{} response(s) from {}",
            replies.len(),
            if answered.is_empty() {
                "nobody".to_string()
            } else {
                answered.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        );
        if !seen_by.is_empty() {
            detail.push_str(&format!("; seen by {}", seen_by.join(", ")));
        }
        if !not_seen_by.is_empty() {
            detail.push_str(&format!("; not readable by {}", not_seen_by.join(", ")));
        }
        if !quiet.is_empty() {
            detail.push_str(&format!("; {} sent nothing", quiet.join(", ")));
        }
        Ok((detail, body))
    }

    /// Checks that the Monitors of `group` (other than `sender`) sent the
    /// members nothing since `since` but empty messages, where the capture
    /// sees their endpoints (live, or in the capture files of their
    /// processes); adds a problem for each that did, and returns
    /// those checked and silent.
    fn silent_monitors(
        &self,
        group: &str,
        sender: &str,
        since: Duration,
        problems: &mut Vec<String>,
    ) -> Vec<String> {
        let snapshot = self.capture.snapshot();
        let infrastructure = [self.kdc.addr(), self.authority_addr()];
        let mut quiet = Vec::new();
        for ((name, g), m) in &self.memberships {
            if g != group || name == sender || m.roles & MONITOR == 0 {
                continue;
            }
            let Some(addr) = self.members.get(name).and_then(|m| m.local_addr()) else {
                continue;
            };
            let said = if snapshot.tapped.contains(&addr) {
                crate::capture::spoken(&snapshot, name, since, &infrastructure)
            } else {
                // A member in its own process (`--processes`): its capture
                // file, read as it is written.
                match self.capture.children_spoken(name, since, &infrastructure) {
                    Some(said) => said,
                    None => continue,
                }
            };
            if said.is_empty() {
                quiet.push(name.clone());
            } else {
                problems.push(format!(
                    "the Monitor {name} sent {} (a Monitor sends nothing, RFC 10021 section 2.2)",
                    said.join(", ")
                ));
            }
        }
        quiet
    }

    async fn expire(
        &mut self,
        step: &Step,
        kind: ExpiryKind,
        client: &str,
        group: &str,
    ) -> Result<String, StepError> {
        let m = self.member(client)?;
        let started = Instant::now();
        match kind {
            ExpiryKind::Token => {
                let before = self.kdc.current_num(group).await?.unwrap_or(0);
                if let Some(r) = m.export(group).await? {
                    self.departed
                        .insert((client.to_string(), group.to_string()), r);
                }
                let g = group.to_string();
                let evicted = self
                    .wait_for(step, || {
                        m.notices().contains(&Notice::Evicted { group: g.clone() })
                    })
                    .await;
                if !evicted {
                    return Err(StepError::Check(format!(
                        "{client} was not told of its eviction (error id 5) within {:?}",
                        step.timeout
                    )));
                }
                self.memberships
                    .remove(&(client.to_string(), group.to_string()));
                let after = self.kdc.current_num(group).await?.unwrap_or(0);
                Ok(format!(
                    "evicted after {:.1} s (error id 5); the KDC rekeyed: num {before} -> {after}",
                    started.elapsed().as_secs_f64()
                ))
            }
            ExpiryKind::Material => {
                let before = m.installed_num(group).ok_or_else(|| {
                    StepError::Check(format!("{client} is not a member of {group}"))
                })?;
                let g = group.to_string();
                let rekeyed = self
                    .wait_for(step, || m.installed_num(&g).is_some_and(|n| n > before))
                    .await;
                if !rekeyed {
                    return Err(StepError::Check(format!(
                        "no new keying material before the old one expired (still num {before})"
                    )));
                }
                Ok(format!(
                    "the KDC replaced the expiring material after {:.1} s: num {before} -> {:?}",
                    started.elapsed().as_secs_f64(),
                    m.installed_num(group)
                ))
            }
        }
    }
}

/// How many times `member` registered its observation of `group` again.
fn observations(member: &dyn Member, group: &str) -> usize {
    member
        .notices()
        .iter()
        .filter(
            |n| matches!(n, crate::actor::Notice::ObservationRenewed { group: g } if g == group),
        )
        .count()
}
