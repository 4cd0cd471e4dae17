//! The `ace-kdc` command: the Key Distribution Center of RFC 9594 with the
//! Group OSCORE profile (`serve`), and the operator commands on its store
//! (`group list|show|create|delete|rekey|evict`).

use ace_coap::tap::Capture;
use ace_kdc::admin::{self, Command};
use ace_kdc::config::{GroupSpec, KdcConfig};
use ace_kdc::service::{Clock, KdcService, ServiceOptions, SystemClock};
use ace_kdc::store::{SqliteStore, Store};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// mimalloc instead of the system allocator: the KDC allocates per request
/// on every runtime thread and on the store's writer thread, where glibc's
/// malloc spent about a tenth of the KDC's CPU time under load (arena
/// locking and heap growth); see `BENCHMARKS.md`, section ace-kdc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line arguments of `ace-kdc`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-kdc",
    version,
    about = "Key Distribution Center of RFC 9594 with the Group OSCORE profile",
    long_about = "Key Distribution Center of RFC 9594 (ACE key provisioning for group communication) \
with the Group OSCORE application profile, over CoAP and OSCORE (RFC 9203).\n\n\
The configuration file (TOML) names the KDC's audience and keys, the keys that open the AS's \
tokens, the database, and the groups created at first start; see crates/ace-kdc/kdc.example.toml, \
which comments every setting. Log verbosity follows RUST_LOG (default: info)."
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs the KDC until Ctrl-C or SIGTERM.
    Serve {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// UDP address to listen on (overrides `kdc.listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Write every datagram the KDC sends or receives to this pcap file
        /// (tshark: `-d udp.port==PORT,coap` for a port other than 5683).
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
        /// Trace every datagram (header, options, payload in CBOR
        /// diagnostic notation) to standard error, or to FILE; with it, one
        /// line per OSCORE-protected exchange names the inner request and
        /// response: `inner PEER token=HEX METHOD /PATH -> CODE`
        /// (`inner-notification` for a notification).
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        trace: Option<Option<PathBuf>>,
    },
    /// Operator commands on the groups of the KDC's store.
    Group {
        /// The configuration file (it names the database).
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        /// Seconds to wait for a running KDC to execute a command.
        #[arg(long, default_value_t = 10, global = true)]
        wait: u64,
        #[command(subcommand)]
        action: GroupCmd,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCmd {
    /// One line per group: name, version, Gid, members, mode.
    List,
    /// A group in detail: keying material version, members, stale sets.
    Show {
        /// The group name.
        name: String,
    },
    /// Creates a group with the defaults of the example configuration.
    Create {
        /// The group name (also GROUPNAME in /ace-group/GROUPNAME).
        name: String,
        /// "group", "pairwise" or "both".
        #[arg(long, default_value = "both")]
        mode: String,
        /// "EdDSA" or "ES256".
        #[arg(long, default_value = "EdDSA")]
        signature: String,
        /// Curve of a pairwise-only group: "X25519" or "P-256".
        #[arg(long, default_value = "X25519")]
        dh_curve: String,
        /// Rekey on every join.
        #[arg(long)]
        backward_security: bool,
        /// Maximum number of members.
        #[arg(long)]
        max_members: Option<u32>,
        /// Lifetime of the keying material in seconds.
        #[arg(long)]
        key_lifetime: Option<u64>,
        /// Longest Sender ID handed out, bytes.
        #[arg(long)]
        max_sender_id_len: Option<u8>,
        /// `control_group_uri` for joining nodes.
        #[arg(long)]
        control_group_uri: Option<String>,
        /// A `[[groups]]` entry in TOML that replaces every other option.
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// Deletes a group; observers get 4.04 with error id 6.
    Delete {
        /// The group name.
        name: String,
    },
    /// Rekeys a group now.
    Rekey {
        /// The group name.
        name: String,
    },
    /// Evicts a member (error id 5 to it) and rekeys the group.
    Evict {
        /// The group name.
        name: String,
        /// The node name (see `group show`).
        node: String,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Transparent huge pages off for this process, unless the operator chose
/// with `MIMALLOC_ALLOW_THP` (the prctl is the one mimalloc itself makes
/// for `MIMALLOC_ALLOW_THP=0`). mimalloc asks for huge pages on its
/// segments, and the KDC's many small per-member allocations touch them
/// sparsely, so every first touch zeroes 2 MiB. With them, 10,000 members
/// took 4.9-5.3 KiB each and an empty KDC 19 MiB; without, 3.5-3.8 KiB and
/// 13 MiB (`BENCHMARKS.md`, section ace-kdc).
fn prefer_small_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // A refusal (e.g. by a seccomp policy) only costs memory.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

fn main() -> anyhow::Result<()> {
    prefer_small_pages();
    let args = Args::parse();
    init_logging();
    match args.command {
        Cmd::Serve {
            config,
            listen,
            pcap,
            trace,
        } => serve(
            &config,
            listen,
            pcap.as_deref(),
            trace.as_ref().map(Option::as_deref),
        ),
        Cmd::Group {
            config,
            wait,
            action,
        } => {
            let config = config.context("--config is required")?;
            group(&config, Duration::from_secs(wait), action)
        }
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<KdcConfig> {
    KdcConfig::load(path).with_context(|| format!("configuration {}", path.display()))
}

/// The service options of `serve`: the listen address, and the taps of
/// `--pcap` and `--trace`.
fn service_options(
    config: &KdcConfig,
    listen: Option<SocketAddr>,
    pcap: Option<&std::path::Path>,
    trace: Option<Option<&std::path::Path>>,
) -> anyhow::Result<ServiceOptions> {
    let bind = match listen {
        Some(a) => a,
        None => config
            .listen
            .parse()
            .with_context(|| format!("kdc.listen {:?}", config.listen))?,
    };
    let mut options = ServiceOptions::new(bind);
    let capture = Capture::open(pcap, trace)?;
    for tap in capture.taps {
        options = options.tap(tap);
    }
    if let Some(inner) = capture.inner {
        options = options.inner_layer(Arc::new(inner));
    }
    Ok(options)
}

fn serve(
    config: &std::path::Path,
    listen: Option<SocketAddr>,
    pcap: Option<&std::path::Path>,
    trace: Option<Option<&std::path::Path>>,
) -> anyhow::Result<()> {
    let config = load(config)?;
    let options = service_options(&config, listen, pcap, trace)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async move {
        let service = KdcService::open_with(config, options).await?;
        println!("listening on {}", service.local_addr());
        wait_for_shutdown().await;
        service.shutdown().await;
        anyhow::Ok(())
    })
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}

fn group(config: &std::path::Path, wait: Duration, action: GroupCmd) -> anyhow::Result<()> {
    let config = load(config)?;
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&config.database)
            .with_context(|| format!("database {}", config.database.display()))?,
    );
    let now = SystemClock::default().now();
    let command = match action {
        GroupCmd::List => {
            for g in admin::summaries(&store.load()?) {
                println!("{}", g.line());
            }
            return Ok(());
        }
        GroupCmd::Show { name } => {
            let snapshot = store.load()?;
            let g = admin::summaries(&snapshot)
                .into_iter()
                .find(|g| g.name == name)
                .with_context(|| format!("no group {name:?}"))?;
            print!("{}", g.detail());
            return Ok(());
        }
        GroupCmd::Create {
            name,
            mode,
            signature,
            dh_curve,
            backward_security,
            max_members,
            key_lifetime,
            max_sender_id_len,
            control_group_uri,
            spec,
        } => {
            let spec = match spec {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("{}", path.display()))?;
                    let mut s = GroupSpec::from_toml(&text)?;
                    s.name = name;
                    s
                }
                None => {
                    let mut s = GroupSpec::new(&name);
                    s.mode = mode;
                    s.signature = signature;
                    s.dh_curve = dh_curve;
                    s.backward_security = backward_security;
                    if let Some(v) = max_members {
                        s.max_members = v;
                    }
                    if let Some(v) = key_lifetime {
                        s.key_lifetime = v;
                    }
                    if let Some(v) = max_sender_id_len {
                        s.max_sender_id_len = v;
                    }
                    s.control_group_uri = control_group_uri;
                    s
                }
            };
            config.group(&spec).context("group configuration")?;
            Command::Create { spec }
        }
        GroupCmd::Delete { name } => Command::Delete { group: name },
        GroupCmd::Rekey { name } => Command::Rekey { group: name },
        GroupCmd::Evict { name, node } => Command::Evict { group: name, node },
    };
    let result = admin::submit(&config, store, &command, now, wait)?;
    println!("{result}");
    Ok(())
}
