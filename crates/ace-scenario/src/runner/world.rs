//! The actors of one run and their bookkeeping: who joined which group
//! with which roles, the records of members that left (for the forward
//! security check), and the Sender IDs seen (to name responders).

use super::Mode;
use super::config::{AUDIENCE, Deployment};
use crate::actor::external::ExternalMember;
use crate::actor::inprocess::{InProcessAs, InProcessKdc, scenario_protocol};
use crate::actor::process::{ProcessAs, ProcessKdc};
use crate::actor::{ActorError, KdcControl, Member, MemberSetup};
use crate::capture::Capture;
use crate::model::Scenario;
use crate::report::ActorRecord;
use ace_client::membership::MembershipRecord;
use ace_coap::fault::FaultConfig;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

/// The Authorization Server of a run.
pub(crate) enum Authority {
    /// In this process.
    InProcess(InProcessAs),
    /// A child process.
    Process(Box<ProcessAs>),
}

impl Authority {
    fn addr(&self) -> SocketAddr {
        match self {
            Self::InProcess(a) => a.addr(),
            Self::Process(a) => a.addr(),
        }
    }

    async fn shutdown(&self) {
        match self {
            Self::InProcess(a) => a.shutdown().await,
            Self::Process(a) => a.shutdown().await,
        }
    }
}

/// A client's membership in a group, as the runner tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    /// AIF roles.
    pub roles: u64,
}

/// Everything a run has running, and what it learned.
pub struct World {
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) deployment: Deployment,
    pub(crate) capture: Arc<Capture>,
    pub(crate) progress: bool,
    pub(crate) authority: Authority,
    pub(crate) kdc: Arc<dyn KdcControl>,
    pub(crate) members: BTreeMap<String, Arc<dyn Member>>,
    pub(crate) externals: BTreeMap<String, Arc<ExternalMember>>,
    /// (client, group) -> membership.
    pub(crate) memberships: BTreeMap<(String, String), Membership>,
    /// (client, group) -> its record just before it left or was evicted.
    pub(crate) departed: BTreeMap<(String, String), MembershipRecord>,
    /// (group, Sender ID) -> actor, every Sender ID ever seen.
    pub(crate) sender_ids: HashMap<(String, Vec<u8>), String>,
    /// (client, group) -> observations it had registered when the KDC last
    /// restarted.
    pub(crate) observations_before: BTreeMap<(String, String), usize>,
    pub(crate) dir: tempfile::TempDir,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("scenario", &self.scenario.name)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

fn faults(share: f64, seed: u64, salt: u64) -> Option<FaultConfig> {
    (share > 0.0)
        .then(|| FaultConfig::lossy(share, seed.wrapping_mul(1_000_003).wrapping_add(salt)))
}

impl World {
    /// Starts the AS, the KDC, the clients and the external members.
    pub(crate) async fn start(
        scenario: &Scenario,
        mode: &Mode,
        capture: Arc<Capture>,
        progress: bool,
    ) -> Result<Self, ActorError> {
        let dir = tempfile::Builder::new()
            .prefix("ace-scenario-")
            .tempdir()
            .map_err(|e| ActorError::other(format!("temporary directory: {e}")))?;
        let deployment = Deployment::generate(scenario);
        let lossy = scenario.network.loss > 0.0
            || scenario.authority.loss.is_some_and(|l| l > 0.0)
            || scenario
                .clients
                .iter()
                .any(|c| c.loss.is_some_and(|l| l > 0.0));
        let protocol = scenario_protocol(lossy);
        let loopback: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
        let seed = scenario.network.seed;

        let (authority, kdc): (Authority, Arc<dyn KdcControl>) = match mode {
            Mode::InProcess => {
                let text = deployment.as_toml(scenario, loopback, None);
                let config = ace_as::AsConfig::from_toml_str(&text, dir.path())
                    .map_err(|e| ActorError::other(format!("generated AS configuration: {e}")))?;
                let authority = InProcessAs::start(
                    config,
                    loopback,
                    protocol.clone(),
                    capture.clone(),
                    faults(
                        scenario.authority.loss.unwrap_or(scenario.network.loss),
                        seed,
                        0,
                    ),
                )
                .await?;
                let as_uri = format!("coap://{}/token", authority.addr());
                let text = deployment.kdc_toml(
                    scenario,
                    loopback,
                    &dir.path().join("kdc.sqlite"),
                    &as_uri,
                );
                let config = ace_kdc::config::RawConfig::parse(&text)
                    .and_then(ace_kdc::KdcConfig::from_raw)
                    .map_err(|e| ActorError::other(format!("generated KDC configuration: {e}")))?;
                let kdc = InProcessKdc::start(config, loopback, protocol.clone(), capture.clone())
                    .await?;
                (Authority::InProcess(authority), Arc::new(kdc))
            }
            Mode::Processes { bin_dir } => {
                let authority =
                    ProcessAs::start(bin_dir, &deployment, scenario, dir.path(), &capture).await?;
                let as_uri = format!("coap://{}/token", authority.addr());
                let kdc = ProcessKdc::start(
                    bin_dir,
                    &deployment,
                    scenario,
                    dir.path(),
                    &as_uri,
                    capture.clone(),
                )
                .await?;
                (Authority::Process(Box::new(authority)), Arc::new(kdc))
            }
        };
        capture.register(
            "AS",
            authority.addr(),
            matches!(authority, Authority::InProcess(_)),
        );
        capture.register("KDC", kdc.addr(), false);
        let as_uri = format!("coap://{}/token", authority.addr());

        let mut members: BTreeMap<String, Arc<dyn Member>> = BTreeMap::new();
        for (i, spec) in scenario.clients.iter().enumerate() {
            let identity = deployment
                .client(&spec.name)
                .cloned()
                .ok_or_else(|| ActorError::other(format!("no identity for {}", spec.name)))?;
            let setup = MemberSetup {
                spec: spec.clone(),
                identity,
                as_uri: as_uri.clone(),
                audience: AUDIENCE.to_string(),
                kdc: kdc.addr(),
                protocol: protocol.clone(),
                faults: faults(
                    spec.loss.unwrap_or(scenario.network.loss),
                    seed,
                    1 + i as u64,
                ),
                capture: capture.clone(),
                dir: dir.path().to_path_buf(),
                countersignature: scenario.countersignature,
            };
            let member: Arc<dyn Member> = match mode {
                Mode::InProcess => {
                    Arc::new(crate::actor::client::InProcessMember::start(setup).await?)
                }
                Mode::Processes { bin_dir } => Arc::new(
                    crate::actor::process_member::ProcessMember::start(bin_dir, setup).await?,
                ),
            };
            if let Some(addr) = member.local_addr() {
                capture.register(&spec.name, addr, matches!(mode, Mode::InProcess));
            }
            members.insert(spec.name.clone(), member);
        }
        let mut externals = BTreeMap::new();
        for spec in &scenario.externals {
            let e = ExternalMember::start(spec).await?;
            capture.register(&spec.name, e.addr(), false);
            externals.insert(spec.name.clone(), Arc::new(e));
        }
        Ok(Self {
            scenario: Arc::new(scenario.clone()),
            deployment,
            capture,
            progress,
            authority,
            kdc,
            members,
            externals,
            memberships: BTreeMap::new(),
            departed: BTreeMap::new(),
            sender_ids: HashMap::new(),
            observations_before: BTreeMap::new(),
            dir,
        })
    }

    /// The AS's address.
    pub(crate) fn authority_addr(&self) -> SocketAddr {
        self.authority.addr()
    }

    /// The actors for the report.
    pub(crate) fn actors(&self) -> Vec<ActorRecord> {
        let mut out = vec![
            ActorRecord {
                name: "AS".into(),
                kind: "AS".into(),
                address: Some(self.authority.addr().to_string()),
            },
            ActorRecord {
                name: "KDC".into(),
                kind: "KDC".into(),
                address: Some(self.kdc.addr().to_string()),
            },
        ];
        // A bulk run lists its sets, not every member.
        let mut sets: BTreeMap<String, usize> = BTreeMap::new();
        for c in &self.scenario.clients {
            match &c.set {
                Some(s) => *sets.entry(s.clone()).or_default() += 1,
                None => out.push(ActorRecord {
                    name: c.name.clone(),
                    kind: "client".into(),
                    address: self
                        .members
                        .get(&c.name)
                        .and_then(|m| m.local_addr())
                        .map(|a| a.to_string()),
                }),
            }
        }
        for (set, n) in sets {
            out.push(ActorRecord {
                name: format!("{set}-1..{set}-{n}"),
                kind: "clients".into(),
                address: None,
            });
        }
        for (name, e) in &self.externals {
            out.push(ActorRecord {
                name: name.clone(),
                kind: "external".into(),
                address: Some(e.addr().to_string()),
            });
        }
        out
    }

    /// Bulk sets collapse into one lifeline in the diagram.
    pub(crate) fn lifeline_aliases(&self) -> HashMap<String, String> {
        let mut sizes: HashMap<&str, usize> = HashMap::new();
        for c in &self.scenario.clients {
            if let Some(s) = &c.set {
                *sizes.entry(s).or_default() += 1;
            }
        }
        self.scenario
            .clients
            .iter()
            .filter_map(|c| {
                let s = c.set.as_deref()?;
                Some((
                    c.name.clone(),
                    format!("{s}-* ({} clients)", sizes.get(s).copied().unwrap_or(0)),
                ))
            })
            .collect()
    }

    /// Records the Sender IDs the members hold now.
    pub(crate) fn learn_sender_ids(&mut self, group: &str) {
        for (name, m) in &self.members {
            if let Some(sid) = m.sender_id(group) {
                // A membership handed over to an external member is its.
                let speaker = self
                    .externals
                    .values()
                    .find(|e| e.sponsor() == name && e.holds(group))
                    .map_or_else(|| name.clone(), |e| e.name().to_string());
                self.sender_ids.insert((group.to_string(), sid), speaker);
            }
        }
    }

    /// Stops every actor; child processes are killed.
    /// Stops every actor, then merges the child processes' captures into
    /// the run's (before their directory goes); returns a note for each
    /// capture file that could not be read.
    pub(crate) async fn shutdown(self) -> Vec<String> {
        for m in self.members.values() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), m.shutdown()).await;
        }
        for e in self.externals.values() {
            e.shutdown().await;
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.kdc.shutdown()).await;
        self.authority.shutdown().await;
        let (_, problems) = self.capture.import_children();
        if std::env::var_os("ACE_SCENARIO_KEEP").is_some() {
            // Configuration files, databases, logs and captures, for
            // debugging.
            let kept = self.dir.keep();
            eprintln!("ace-scenario: kept {}", kept.display());
        }
        problems
    }
}
