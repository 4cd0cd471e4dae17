//! The `ace-client` command: a group client of RFC 9594 with the Group
//! OSCORE profile. Each invocation loads the state file, does one thing,
//! and writes the state back, so that separate invocations compose.

use ace_client::file::{ClientFile, parse_roles};
use ace_client::{ClientError, ClientEvent, ClientState, GroupClient, JoinOptions};
use ace_coap::{Method, Request, Response, SharedHandler};
use ace_proto::groupcomm::{CredsFilter, GetCreds};
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::names as role_names;
use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const LONG_ABOUT: &str = "\
Group client of RFC 9594 (ACE key provisioning for group communication) with the Group OSCORE \
application profile: it joins groups at a KDC, keeps their keying material, and talks Group \
OSCORE with the other members.

The first join of a group goes through the whole flow without prior configuration of the AS: \
a request to the KDC without a token, the 4.01 with AS Request Creation Hints, a token from the \
AS they name (over the OSCORE context this client shares with that AS), the token POSTed to the \
KDC's /authz-info (an OSCORE context with the KDC, RFC 9203), the Join Request with the client's \
credential and proof of possession, and the check of the KDC's proof (kdc_cred_verify).

STATE FILE (--state, default ace-client.state.json): the identity (private key and \
credential), the contexts with the AS, the access tokens and the OSCORE contexts with the KDC, \
and every group with its keying material. Each command reads it and writes it back, so that \
separate invocations compose (join in one, send in the next). It holds secrets: it is written \
with mode 0600. Sequence-number reservations are recorded in STATE.seq.json before use (RFC 8613 \
Appendix B.1.1), so no nonce is ever reused across invocations. The replay windows of the \
client's contexts are written when an invocation ends and removed from the file while one runs \
(RFC 8613 Appendix B.1.2): a restarted member (a Monitor too) accepts fresh requests at once and \
still refuses replays; after a crash, members' requests go through Echo first.

CONFIGURATION FILE (--config, TOML), read to create the state file and for runtime settings:
    name = \"sensor-1\"
    kdc = \"127.0.0.1:5683\"
    bind = \"127.0.0.1:5700\"          # a fixed port keeps control_uri reachable
    roles = [\"requester\"]            # default roles of join
    observe = true                   # observe /ace-group/GROUPNAME (listen, serve)
    control_uri = true               # give the KDC a control_uri (needs a fixed port)
    [identity]
    alg = \"EdDSA\"                    # or ES256; private_key = \"hex\" (generated if absent)
    [[authorization_server]]
    uri = \"coap://127.0.0.1:5684/token\"
    sender_id = \"c1\"                 # hex, the client's Sender ID towards the AS
    recipient_id = \"01\"
    master_secret = \"00112233445566778899aabbccddeeff\"
    master_salt = \"9e7ca92223786340\" # optional

ROLES: requester, responder, monitor (comma or + separated), or AIF bits (2, 4, 8).

ERRORS: a refusal prints the CoAP code and, for RFC 9594 problem details, the error id with the \
RFC's description and what to do about it (section 9), e.g. \"4.03 (Forbidden): error id 0 \
\\\"Operation permitted only to group members\\\" (RFC 9594); join the group first\". Exit status: \
0 success, 2 refused by the KDC or the AS, 1 any other failure.

Log verbosity follows RUST_LOG (default: warn).";

const AFTER_HELP: &str = "\
EXAMPLES:
    ace-client --config me.toml join g1 --roles requester,responder
    ace-client keys g1
    ace-client send g1 /temp --peer 127.0.0.1:5701
    ace-client serve g1 --path /temp --path /hum --reply 21.5 --for 60
    ace-client serve g1 g2                     # every path of both groups
    ace-client --multicast-listen 224.0.1.187:5683 --multicast-if 127.0.0.1 serve g1 --path /temp
    ace-client --multicast-if 127.0.0.1 send g1 /temp --multicast 224.0.1.187:5683 --wait 6
    ace-client listen --for 300
    ace-client creds g1 --role responder
    ace-client renew g1
    ace-client leave g1";

/// Command-line arguments of `ace-client`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-client",
    version,
    about = "Group client of RFC 9594: join groups, fetch keys, talk Group OSCORE",
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP
)]
struct Args {
    /// The state file.
    #[arg(long, short, global = true, default_value = "ace-client.state.json")]
    state: PathBuf,
    /// The configuration file (TOML): creates the state file when it does
    /// not exist, and gives the runtime settings.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// The address to bind (overrides the configuration's `bind`).
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    /// Output as JSON, one object per line.
    #[arg(long, global = true)]
    json: bool,
    /// Listen on this IPv4 multicast group and port for group requests
    /// (e.g. 224.0.1.187:5683, All CoAP Nodes; with serve).
    #[arg(long, global = true)]
    multicast_listen: Option<SocketAddr>,
    /// The IPv4 interface (one of its addresses) for multicast: joined
    /// groups and outgoing group requests (default: the system's choice).
    #[arg(long, global = true)]
    multicast_if: Option<std::net::Ipv4Addr>,
    /// Seconds within which answers to multicast requests are randomly
    /// delayed (DEFAULT_LEISURE, RFC 7252 section 8.2; default 5). A
    /// requester should wait at least this long for answers.
    #[arg(long, global = true)]
    leisure: Option<f64>,
    /// Write every datagram this invocation sends or receives to a pcap
    /// file (tshark: `-d udp.port==PORT,coap` for a port other than 5683).
    #[arg(long, global = true, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Trace every datagram (header, options, payload in CBOR diagnostic
    /// notation) to standard error, or to FILE; with it, one line per
    /// OSCORE-protected request this client serves (group requests, the
    /// KDC's requests to its control_uri) names the inner request and
    /// response: `inner PEER token=HEX METHOD /PATH -> CODE`.
    #[arg(long, global = true, value_name = "FILE", num_args = 0..=1)]
    trace: Option<Option<PathBuf>>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Creates the state file from --config (identity, AS contexts, KDC)
    /// and prints the client's credential.
    Init,
    /// Joins a group (the full flow when no token grants the roles).
    Join {
        /// The group name.
        group: String,
        /// Roles: requester, responder, monitor (default: the configured roles).
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Another group to ask the AS for in the same token, as GROUP:ROLES
        /// (repeatable): several groups under one token.
        #[arg(long = "also")]
        also: Vec<String>,
        /// Do not ask for the members' credentials in the Join Request.
        #[arg(long)]
        no_creds: bool,
        /// Get a new token with an OSCORE context of its own even if a
        /// valid one grants the roles. Without it, a group no token grants
        /// updates the access rights of the token held (RFC 9203 section
        /// 4.1): a new token POSTed over the existing OSCORE context.
        #[arg(long)]
        new_token: bool,
        /// Multicast address for group requests of this group.
        #[arg(long)]
        multicast: Option<SocketAddr>,
        /// A member's address for group requests (repeatable).
        #[arg(long = "peer")]
        peers: Vec<SocketAddr>,
    },
    /// GET /ace-group/GROUP: the current keying material (a newer version
    /// is installed).
    Keys {
        /// The group name.
        group: String,
        /// Print the Master Secret too.
        #[arg(long)]
        show_secrets: bool,
    },
    /// GET /ace-group/GROUP/num: the KDC's current version.
    Num {
        /// The group name.
        group: String,
    },
    /// The members' credentials: GET /ace-group/GROUP/creds, or FETCH with
    /// a role and/or id filter.
    Creds {
        /// The group name.
        group: String,
        /// Select members with this role or role combination (e.g.
        /// requester+responder); repeatable.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Select the member with this Sender ID (hex); repeatable.
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Select the members NOT listed with --id (with --role: matching
        /// a role and not listed).
        #[arg(long)]
        exclude: bool,
    },
    /// GET /ace-group/GROUP/kdc-cred: the KDC's credential, verified and stored.
    KdcCred {
        /// The group name.
        group: String,
    },
    /// GET /ace-group/GROUP/policies.
    Policies {
        /// The group name.
        group: String,
    },
    /// POST /ace-group/GROUP/nodes/NODE: a new Sender ID.
    Renew {
        /// The group name.
        group: String,
    },
    /// DELETE /ace-group/GROUP/nodes/NODE: leaves the group.
    Leave {
        /// The group name.
        group: String,
    },
    /// Stays running and prints what happens: rekeyings (Observe,
    /// control_uri, polling), evictions, group deletion, observations
    /// registered again after the KDC lost them.
    Listen {
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long = "for")]
        duration: Option<f64>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Sends a Group OSCORE request to the group and prints the responses.
    Send {
        /// The group name.
        group: String,
        /// The path, e.g. /temp.
        #[arg(default_value = "/")]
        path: String,
        /// GET, POST, PUT, DELETE or FETCH.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The payload (text).
        #[arg(long)]
        payload: Option<String>,
        /// Seconds to collect responses (to a multicast address, at least
        /// the members' leisure time: 5 s by default, RFC 7252 section 8.2).
        #[arg(long, default_value_t = 2.0)]
        wait: f64,
        /// Send to this multicast address (stored for the group).
        #[arg(long)]
        multicast: Option<SocketAddr>,
        /// Send to this member's address (repeatable; stored for the group).
        #[arg(long = "peer")]
        peers: Vec<SocketAddr>,
    },
    /// Answers the groups' members (Responder) or only listens (Monitor),
    /// printing each verified request.
    Serve {
        /// The group names (one or more).
        #[arg(required = true, num_args = 1..)]
        groups: Vec<String>,
        /// A resource path served (repeatable); others get 4.04. Without
        /// --path, every path is served.
        #[arg(long = "path")]
        paths: Vec<String>,
        /// The reply payload (default: the request's payload echoed).
        #[arg(long)]
        reply: Option<String>,
        /// Stop after this many seconds (default: until Ctrl-C).
        #[arg(long = "for")]
        duration: Option<f64>,
        /// Stop after this many requests.
        #[arg(long)]
        count: Option<usize>,
    },
    /// Prints the group's keying material and credentials as JSON, for
    /// handing to another Group OSCORE implementation.
    Export {
        /// The group name.
        group: String,
        /// Include the private key.
        #[arg(long)]
        private_key: bool,
    },
}

impl Cmd {
    /// Whether the command stays running (background Observe and polling).
    fn long_running(&self) -> bool {
        matches!(self, Self::Listen { .. } | Self::Serve { .. })
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let refused = e
                .downcast_ref::<ClientError>()
                .is_some_and(|c| c.code().is_some());
            ExitCode::from(if refused { 2 } else { 1 })
        }
    }
}

/// The state and configuration for this invocation.
fn load(args: &Args) -> anyhow::Result<(ace_client::ClientConfig, ClientState)> {
    let file = args
        .config
        .as_ref()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ClientFile::parse(&text).with_context(|| format!("in {}", path.display()))
        })
        .transpose()?;
    let (mut config, state) = if args.state.exists() {
        let text = std::fs::read_to_string(&args.state)
            .with_context(|| format!("reading {}", args.state.display()))?;
        let state = ClientState::from_json(&text)
            .with_context(|| format!("in {}", args.state.display()))?;
        let mut config = state.config()?;
        if let Some(file) = &file {
            // Runtime settings from the file; identity and contexts from
            // the state.
            let from_file = file.config()?;
            config.bind = from_file.bind;
            config.roles = from_file.roles;
            config.observe = from_file.observe;
            config.control_uri = from_file.control_uri;
            config.utc_synchronized = from_file.utc_synchronized;
        }
        (config, state)
    } else {
        let Some(file) = &file else {
            bail!(
                "no state file {} yet: give --config FILE to create it (see --help)",
                args.state.display()
            );
        };
        let config = file.config()?;
        let state = ClientState::from_config(&config);
        (config, state)
    };
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    let interface = args.multicast_if.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
    if let Some(group) = args.multicast_listen {
        let std::net::IpAddr::V4(ip) = group.ip() else {
            bail!("--multicast-listen: an IPv4 group address is expected");
        };
        config.multicast_groups.push(ace_coap::MulticastGroup {
            group: SocketAddr::from((ip, group.port())),
            interface: ace_coap::runtime::socket::MulticastInterface::V4(interface),
        });
    }
    if let Some(ip) = args.multicast_if {
        config.socket.multicast_interface_v4 = Some(ip);
    }
    if let Some(leisure) = args.leisure {
        config.protocol.transmission.default_leisure = Duration::from_secs_f64(leisure.max(0.0));
    }
    observability(&mut config, args)?;
    // A control_uri on an ephemeral port would be dead after this run.
    config.control_uri &= config.bind.port() != 0;
    config.observe &= args.command.long_running();
    let mut seq = args.state.as_os_str().to_owned();
    seq.push(".seq.json");
    config.sequence_file = Some(PathBuf::from(seq));
    Ok((config, state))
}

/// The taps of `--pcap` and `--trace`, and with a trace the layer that
/// writes the inner exchange of each protected request this client serves.
fn observability(config: &mut ace_client::ClientConfig, args: &Args) -> anyhow::Result<()> {
    let capture = ace_coap::tap::Capture::open(
        args.pcap.as_deref(),
        args.trace.as_ref().map(Option::as_deref),
    )?;
    config.taps.extend(capture.taps);
    if let Some(inner) = capture.inner {
        config.inner_layers.push(Arc::new(inner));
    }
    Ok(())
}

/// Writes the state file atomically, readable by the owner only.
fn save(path: &Path, state: &ClientState) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(state.to_json().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (config, state) = load(&args)?;
    if matches!(args.command, Cmd::Init) {
        save(&args.state, &state)?;
        let out = Out(args.json);
        out.line(
            &format!(
                "state file {} created for {}; credential {}",
                args.state.display(),
                state.name,
                hex::encode(&state.identity.credential)
            ),
            json!({"state": args.state, "name": state.name, "credential": hex::encode(&state.identity.credential)}),
        );
        return Ok(());
    }
    let client = GroupClient::restore(config, &state).await?;
    // The replay windows in the file are used once: while this client
    // runs, the file holds none, so that a crash leaves no stale windows
    // that would let the requests accepted meanwhile be replayed (RFC 8613
    // Appendix B.1.2). They are written again once the client stopped.
    let had_windows = state.groups.iter().any(|g| g.replay.is_some())
        || state.sessions.iter().any(|s| s.replay.is_some());
    if had_windows {
        save(&args.state, &client.state())?;
    }
    let result = execute(&client, &args).await;
    client.shutdown().await;
    let saved = save(&args.state, &client.state());
    result?;
    saved
}

/// Prints text or JSON lines.
#[derive(Clone, Copy)]
struct Out(bool);

impl Out {
    fn line(&self, text: &str, value: serde_json::Value) {
        if self.0 {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }
}

fn method(name: &str) -> anyhow::Result<Method> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "FETCH" => Method::Fetch,
        "PATCH" => Method::Patch,
        "IPATCH" => Method::IPatch,
        other => bail!("unknown method {other:?}"),
    })
}

fn deadline(duration: Option<f64>) -> Option<tokio::time::Instant> {
    duration.map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)))
}

/// Waits for the next event, Ctrl-C or the deadline.
async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    until: Option<tokio::time::Instant>,
) -> Option<ClientEvent> {
    let stop = async {
        match until {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Ok(e) => return Some(e),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            },
            _ = tokio::signal::ctrl_c() => return None,
            _ = &mut stop => return None,
        }
    }
}

fn event_line(e: &ClientEvent) -> (String, serde_json::Value) {
    match e {
        ClientEvent::Joined { group, num } => (
            format!("{group}: joined, version {num}"),
            json!({"event": "joined", "group": group, "num": num}),
        ),
        ClientEvent::Rekeyed { group, num, source } => (
            format!("{group}: new keying material, version {num} ({source:?})"),
            json!({"event": "rekeyed", "group": group, "num": num, "source": format!("{source:?}")}),
        ),
        ClientEvent::RekeyGap { group, from, to } => (
            format!("{group}: missed rekeyings, version {from} -> {to}"),
            json!({"event": "rekey_gap", "group": group, "from": from, "to": to}),
        ),
        ClientEvent::SenderIdRenewed { group, sender_id } => (
            format!("{group}: new Sender ID {}", hex::encode(sender_id)),
            json!({"event": "sender_id_renewed", "group": group, "sender_id": hex::encode(sender_id)}),
        ),
        ClientEvent::Evicted { group } => (
            format!("{group}: evicted by the KDC (membership terminated)"),
            json!({"event": "evicted", "group": group}),
        ),
        ClientEvent::GroupDeleted { group } => (
            format!("{group}: the KDC deleted the group"),
            json!({"event": "group_deleted", "group": group}),
        ),
        ClientEvent::Left { group } => (
            format!("{group}: left"),
            json!({"event": "left", "group": group}),
        ),
        ClientEvent::MaterialExpired { group } => (
            format!(
                "{group}: keying material expired; the group is not used until new material arrives"
            ),
            json!({"event": "material_expired", "group": group}),
        ),
        ClientEvent::ObservationRenewed { group } => (
            format!("{group}: observation registered again at the KDC"),
            json!({"event": "observation_renewed", "group": group}),
        ),
        ClientEvent::MessageReceived {
            group,
            kid,
            method,
            path,
            payload,
        } => (
            format!(
                "{group}: {method} {path} from {} ({} bytes){}",
                hex::encode(kid),
                payload.len(),
                std::str::from_utf8(payload)
                    .ok()
                    .filter(|t| !t.is_empty())
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
            json!({"event": "message", "group": group, "kid": hex::encode(kid), "method": method,
                   "path": path, "payload": hex::encode(payload)}),
        ),
        ClientEvent::Error { group, message } => (
            format!("{}: {message}", group.as_deref().unwrap_or("-")),
            json!({"event": "error", "group": group, "message": message}),
        ),
    }
}

async fn execute(client: &GroupClient, args: &Args) -> anyhow::Result<()> {
    let out = Out(args.json);
    match &args.command {
        Cmd::Init => Ok(()),
        Cmd::Join {
            group,
            roles,
            also,
            no_creds,
            new_token,
            multicast,
            peers,
        } => {
            let roles = parse_roles(roles)?;
            let mut more = Vec::new();
            for entry in also {
                let (g, r) = entry
                    .split_once(':')
                    .with_context(|| format!("--also {entry:?}: expected GROUP:ROLES"))?;
                more.push((g.to_string(), parse_roles(&[r.to_string()])?));
            }
            let opts = JoinOptions {
                get_creds: (!no_creds).then_some(GetCreds::All),
                more_groups: more,
                new_token: *new_token,
                multicast: *multicast,
                peers: peers.clone(),
                ..JoinOptions::default()
            };
            let roles = if roles == 0 {
                client.config().roles.unwrap_or(0)
            } else {
                roles
            };
            let outcome = client.join(group, roles, opts).await?;
            out.line(
                &format!(
                    "joined {group} as {} (node {}, Sender ID {}), version {}, Gid {}, {} member credential(s){}",
                    role_names(roles),
                    outcome.node,
                    outcome.sender_id.as_ref().map_or("- (monitor)".to_string(), hex::encode),
                    outcome.num,
                    hex::encode(&outcome.gid),
                    outcome.peers,
                    if outcome.access_rights_updated {
                        ", access rights updated (new token over the same OSCORE context)"
                    } else if outcome.new_token {
                        ", new access token"
                    } else {
                        ""
                    }
                ),
                json!({"group": group, "node": outcome.node, "created": outcome.created,
                       "sender_id": outcome.sender_id.as_ref().map(hex::encode), "num": outcome.num,
                       "gid": hex::encode(&outcome.gid), "peers": outcome.peers, "new_token": outcome.new_token,
                       "access_rights_updated": outcome.access_rights_updated}),
            );
            Ok(())
        }
        Cmd::Keys {
            group,
            show_secrets,
        } => {
            let mut view = client.keys(group).await?;
            if !show_secrets {
                view.master_secret.clear();
            }
            if args.json {
                println!("{}", serde_json::to_string(&view)?);
            } else {
                println!(
                    "{group}: version {}, Gid {}, Sender ID {}, roles {}, expires at {}",
                    view.num,
                    hex::encode(&view.gid),
                    view.sender_id.as_ref().map_or("-".into(), hex::encode),
                    view.role_names,
                    view.expires_at.map_or("never".into(), |e| e.to_string())
                );
                println!(
                    "  algorithms: group encryption {:?}, signature {:?}, AEAD {:?}, key agreement {:?}, HKDF {}",
                    view.gp_enc_alg, view.sign_alg, view.alg, view.ecdh_alg, view.hkdf
                );
                if *show_secrets {
                    println!(
                        "  Master Secret {}, Master Salt {}",
                        hex::encode(&view.master_secret),
                        hex::encode(&view.master_salt)
                    );
                }
                println!("  {} known member(s)", view.members.len());
            }
            Ok(())
        }
        Cmd::Num { group } => {
            let num = client.num(group).await?;
            out.line(&num.to_string(), json!({"group": group, "num": num}));
            Ok(())
        }
        Cmd::Creds {
            group,
            roles,
            ids,
            exclude,
        } => {
            let filter = if roles.is_empty() && ids.is_empty() {
                if *exclude {
                    bail!("--exclude needs --id or --role");
                }
                None
            } else {
                let mut role_filter = Vec::new();
                for r in roles {
                    role_filter.push(Roles::Aif(parse_roles(std::slice::from_ref(r))?));
                }
                let mut id_filter = Vec::new();
                for id in ids {
                    id_filter.push(hex::decode(id).with_context(|| format!("--id {id:?}"))?);
                }
                Some(CredsFilter {
                    inclusion_flag: !exclude,
                    role_filter,
                    id_filter,
                })
            };
            let creds = client.creds(group, filter).await?;
            for (i, sid) in creds.peer_identifiers.iter().enumerate() {
                let roles =
                    creds
                        .peer_roles
                        .as_ref()
                        .and_then(|r| r.get(i))
                        .and_then(|r| match r {
                            Roles::Aif(bits) => Some(*bits),
                            _ => None,
                        });
                let cred = creds.creds.get(i).map(hex::encode).unwrap_or_default();
                out.line(
                    &format!(
                        "{} {} {}",
                        hex::encode(sid),
                        roles.map_or("-".into(), role_names),
                        cred
                    ),
                    json!({"sender_id": hex::encode(sid), "roles": roles, "credential": cred}),
                );
            }
            if creds.is_empty() && !args.json {
                println!("(no credentials)");
            }
            Ok(())
        }
        Cmd::KdcCred { group } => {
            client.kdc_cred(group).await?;
            let cred = client
                .material(group)
                .map(|m| m.kdc_cred)
                .unwrap_or_default();
            out.line(
                &format!("KDC credential verified and stored: {}", hex::encode(&cred)),
                json!({"group": group, "kdc_cred": hex::encode(&cred), "verified": true}),
            );
            Ok(())
        }
        Cmd::Policies { group } => {
            let p = client.policies(group).await?;
            out.line(
                &format!(
                    "Key Update Check Interval {} s, Expiration Delta {} s",
                    p.key_update_check_interval_or_default(),
                    p.expiration_delta_or_default()
                ),
                json!({"group": group,
                       "key_update_check_interval": p.key_update_check_interval_or_default(),
                       "expiration_delta": p.expiration_delta_or_default()}),
            );
            Ok(())
        }
        Cmd::Renew { group } => {
            let sid = client.renew_sender_id(group).await?;
            out.line(
                &format!("{group}: new Sender ID {}", hex::encode(&sid)),
                json!({"group": group, "sender_id": hex::encode(&sid)}),
            );
            Ok(())
        }
        Cmd::Leave { group } => {
            client.leave(group).await?;
            out.line(
                &format!("left {group}"),
                json!({"group": group, "left": true}),
            );
            Ok(())
        }
        Cmd::Listen { duration, count } => {
            let mut events = client.events();
            // Ready once the observations are registered (bounded).
            let groups = client.groups();
            let ready = tokio::time::Instant::now() + Duration::from_secs(10);
            while client.config().observe
                && !groups.iter().all(|g| client.is_observing(g))
                && tokio::time::Instant::now() < ready
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Catch up with what happened while no one listened.
            for group in client.groups() {
                match client.keys(&group).await {
                    Ok(v) => {
                        let (t, j) = event_line(&ClientEvent::Joined {
                            group: group.clone(),
                            num: v.num,
                        });
                        out.line(&t.replace("joined", "member"), j);
                    }
                    Err(e) => eprintln!("{group}: {e}"),
                }
            }
            let until = deadline(*duration);
            let mut seen = 0;
            while count.is_none_or(|c| seen < c) {
                let Some(e) = next_event(&mut events, until).await else {
                    break;
                };
                let (t, j) = event_line(&e);
                out.line(&t, j);
                // Registrations are reported, not counted.
                if !matches!(e, ClientEvent::ObservationRenewed { .. }) {
                    seen += 1;
                }
            }
            Ok(())
        }
        Cmd::Send {
            group,
            path,
            method: m,
            payload,
            wait,
            multicast,
            peers,
        } => {
            if multicast.is_some() || !peers.is_empty() {
                client.set_group_targets(group, *multicast, peers.clone())?;
            }
            let mut request = Request::new(method(m)?, path);
            if let Some(p) = payload {
                request = request.with_payload(p.as_bytes().to_vec());
            }
            let responses = client
                .group_request(group, request, Duration::from_secs_f64(wait.max(0.0)))
                .await?;
            for r in &responses {
                let text = std::str::from_utf8(&r.payload).unwrap_or("<binary>");
                out.line(
                    &format!("{} {} {}: {text}", r.from, hex::encode(&r.kid), r.code),
                    json!({"from": r.from, "kid": hex::encode(&r.kid), "code": r.code.to_string(),
                           "payload": hex::encode(&r.payload)}),
                );
            }
            if responses.is_empty() && !args.json {
                println!("(no response)");
            }
            Ok(())
        }
        Cmd::Serve {
            groups,
            paths,
            reply,
            duration,
            count,
        } => {
            let served: Arc<Vec<String>> = Arc::new(paths.iter().map(|p| normalize(p)).collect());
            let reply = reply.clone();
            let handler: SharedHandler = {
                let served = served.clone();
                Arc::new(move |req: Request| {
                    let served = served.clone();
                    let reply = reply.clone();
                    async move {
                        if !served.is_empty() && !served.contains(&req.path_string()) {
                            return Response::not_found();
                        }
                        match reply {
                            Some(r) => Response::content(r.into_bytes()),
                            None => Response::content(req.payload),
                        }
                    }
                })
            };
            for group in groups {
                client.serve(group, handler.clone())?;
            }
            let mut events = client.events();
            let what = if served.is_empty() {
                "every path".to_string()
            } else {
                served.join(", ")
            };
            out.line(
                &format!(
                    "serving {what} in {} on {}",
                    groups.join(", "),
                    client.local_addr()
                ),
                json!({"serving": *served, "groups": groups, "address": client.local_addr()}),
            );
            let until = deadline(*duration);
            let mut seen = 0;
            while count.is_none_or(|c| seen < c) {
                let Some(e) = next_event(&mut events, until).await else {
                    break;
                };
                let is_message = matches!(e, ClientEvent::MessageReceived { .. });
                let (t, j) = event_line(&e);
                out.line(&t, j);
                if is_message {
                    seen += 1;
                }
            }
            // Let the last response leave before the endpoint closes (an
            // answer to a multicast request waits up to the leisure time).
            let mut linger = Duration::from_millis(100);
            if !client.config().multicast_groups.is_empty() {
                linger += client.config().protocol.transmission.default_leisure;
            }
            tokio::time::sleep(linger).await;
            Ok(())
        }
        Cmd::Export { group, private_key } => {
            let view = client
                .export(group, *private_key)
                .ok_or_else(|| ClientError::NotMember(group.clone()))?;
            println!("{}", serde_json::to_string_pretty(&view)?);
            Ok(())
        }
    }
}

fn normalize(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    format!("/{trimmed}")
}
