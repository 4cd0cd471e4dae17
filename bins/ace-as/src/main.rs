//! The `ace-as` command: the ACE Authorization Server, and the operator
//! commands on its token database.

use ace_as::AuthorizationServer;
use ace_as::config::AsConfig;
use ace_as::server::describe_scope;
use ace_as::store::{RevokeOutcome, SqliteStore, TokenFilter, TokenStore};
use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const LONG_ABOUT: &str = "\
ACE Authorization Server (RFC 9200) issuing proof-of-possession access tokens for
RFC 9594 group joins, over CoAP (POST /token, POST /introspect, application/ace+cbor).

Clients authenticate with the OSCORE context they share with the AS; the AS
identifies the client by that channel, intersects the requested scope with its
policy, and returns a token bound to fresh OSCORE input material (coap_oscore,
RFC 9203) or to the client's public key (coap_dtls, RFC 9202).

CONFIGURATION (a TOML file, --config):
  [server]             issuer, listen address, UDP socket buffer (4 MiB; 0 for the
                       system default), database (required to serve: token
                       records and OSCORE sequence numbers), default audience,
  [server.signing_key] the AS's Ed25519 (or P-256) key: d = \"<hex>\" or file = \"...\"
  [[client]]           id, supported profiles, [client.oscore] context with the AS,
                       optional [client.public_key] for RPK-bound tokens
  [[audience]]         a resource server (the KDC): profile, token format (cwt/jwt),
                       protection (sign1+encrypt0 default for coap_oscore, sign1 for
                       coap_dtls, encrypt0, mac0) with shared_key, lifetime, clock
                       (false: exi + sequenced cti), scope_format, [audience.oscore]
                       context for /introspect
  [[policy]]           clients and audiences (patterns with *), and what they may be
                       granted: groups (Group OSCORE roles), topics (pub-sub
                       permissions), textual roles, or text scope tokens
A bad file is refused at start with its line and the reason. `ace-as example-config`
prints a commented example with every setting and its default.

Logging follows RUST_LOG (e.g. RUST_LOG=ace_as=debug); default info.";

/// Command-line arguments of `ace-as`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-as",
    version,
    about = "ACE Authorization Server (RFC 9200) issuing access tokens for RFC 9594 group joins",
    long_about = LONG_ABOUT
)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides `server.listen`; default 127.0.0.1:5683).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// The token database (overrides `server.database`).
    #[arg(long, global = true, value_name = "FILE")]
    database: Option<PathBuf>,
    /// With `serve`: write every datagram the AS sends or receives to this
    /// pcap file (tshark: `-d udp.port==PORT,coap` for a port other than
    /// 5683).
    #[arg(long, global = true, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// With `serve`: trace every datagram (header, options, payload in CBOR
    /// diagnostic notation) to standard error, or to FILE; with it, one
    /// line per OSCORE-protected exchange names the inner request and
    /// response: `inner PEER token=HEX METHOD /PATH -> CODE`.
    #[arg(long, global = true, value_name = "FILE", num_args = 0..=1)]
    trace: Option<Option<PathBuf>>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the AS until Ctrl-C (the default command).
    Serve,
    /// List or revoke issued tokens in the database.
    Tokens {
        #[command(subcommand)]
        action: TokensCommand,
    },
    /// Check the configuration file and exit.
    CheckConfig,
    /// Print the commented example configuration.
    ExampleConfig,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// List issued tokens, oldest first.
    List {
        /// Only tokens of this client.
        #[arg(long)]
        client: Option<String>,
        /// Only tokens for this audience.
        #[arg(long)]
        audience: Option<String>,
        /// Only tokens neither expired nor revoked.
        #[arg(long)]
        active: bool,
    },
    /// Revoke a token: introspection answers `active: false` from now on.
    Revoke {
        /// The token's `cti`, in hex (as `tokens list` shows it).
        cti: String,
    },
}

const DEFAULT_LISTEN: &str = "127.0.0.1:5683";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_tracing();
    match &args.command {
        Some(Command::ExampleConfig) => {
            print!("{}", include_str!("../../../crates/ace-as/as.example.toml"));
            Ok(())
        }
        Some(Command::CheckConfig) => {
            let config = load_config(&args)?;
            println!(
                "configuration OK: {} clients, {} audiences, {} policy rules",
                config.clients.len(),
                config.audiences.len(),
                config.policy.rules.len()
            );
            Ok(())
        }
        Some(Command::Tokens { action }) => tokens(&args, action),
        Some(Command::Serve) | None => serve(&args),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn load_config(args: &Args) -> anyhow::Result<AsConfig> {
    let Some(path) = &args.config else {
        bail!(
            "no configuration file: pass --config FILE (`ace-as example-config` prints an example)"
        );
    };
    Ok(AsConfig::load(path)?)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn database_path(args: &Args, config: Option<&AsConfig>) -> Option<PathBuf> {
    args.database
        .clone()
        .or_else(|| config.and_then(|c| c.server.database.clone()))
}

fn open_store(path: &Path) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(path).with_context(|| format!("opening token database {}", path.display()))
}

fn tokens(args: &Args, action: &TokensCommand) -> anyhow::Result<()> {
    let config = match (&args.config, &args.database) {
        (Some(_), _) => Some(load_config(args)?),
        (None, Some(_)) => None,
        (None, None) => bail!("pass --config FILE or --database FILE"),
    };
    let Some(path) = database_path(args, config.as_ref()) else {
        bail!("the configuration names no database (server.database) and --database is absent");
    };
    if !path.exists() {
        bail!("token database {} does not exist", path.display());
    }
    let store = open_store(&path)?;
    let now = now();
    match action {
        TokensCommand::List {
            client,
            audience,
            active,
        } => {
            let filter = TokenFilter {
                client: client.clone(),
                audience: audience.clone(),
                active_at: active.then_some(now),
            };
            let records = store.list(&filter)?;
            println!(
                "{:<22} {:<16} {:<16} {:<8} {:>11} {:>11}  SCOPE",
                "CTI", "CLIENT", "AUDIENCE", "STATUS", "ISSUED", "EXPIRES"
            );
            for r in &records {
                println!(
                    "{:<22} {:<16} {:<16} {:<8} {:>11} {:>11}  {}",
                    hex::encode(&r.cti),
                    r.client,
                    r.audience,
                    r.status(now).to_string(),
                    r.issued_at,
                    r.expires_at,
                    describe_scope(&r.scope)
                );
            }
            println!("{} token(s)", records.len());
        }
        TokensCommand::Revoke { cti } => {
            let cti = hex::decode(cti.trim()).context("the cti must be hex")?;
            match store.revoke(&cti, now)? {
                RevokeOutcome::Revoked => println!("revoked {}", hex::encode(&cti)),
                RevokeOutcome::AlreadyRevoked(at) => {
                    println!("{} was already revoked at {at}", hex::encode(&cti));
                }
                RevokeOutcome::NotFound => bail!("no token with cti {}", hex::encode(&cti)),
            }
        }
    }
    Ok(())
}

fn serve(args: &Args) -> anyhow::Result<()> {
    let config = load_config(args)?;
    let listen = match (args.listen, config.server.listen) {
        (Some(l), _) | (None, Some(l)) => l,
        (None, None) => DEFAULT_LISTEN.parse()?,
    };
    // The database is required: besides the token records, it keeps the
    // OSCORE Sender Sequence Number marks of the contexts with the peers,
    // which must survive a restart (RFC 8613 Appendix B.1.1).
    let Some(path) = database_path(args, Some(&config)) else {
        bail!(
            "server.database (or --database) is required to serve: it keeps the token records and the OSCORE sequence number marks across restarts"
        );
    };
    let store = Arc::new(open_store(&path)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let capture = ace_coap::tap::Capture::open(
        args.pcap.as_deref(),
        args.trace.as_ref().map(Option::as_deref),
    )?;
    runtime.block_on(async move {
        let tokens: Arc<dyn TokenStore> = store.clone();
        let server = Arc::new(AuthorizationServer::new(config, tokens));
        let stop = shutdown_signal()?;
        let mut endpoint = ace_as::service::endpoint_config(server.config(), listen);
        for tap in capture.taps {
            endpoint = endpoint.tap(tap);
        }
        // The service as `ace_as::service::serve` assembles it, with the
        // inner-exchange lines of --trace between the OSCORE layer and the
        // resources.
        let contexts =
            ace_as::service::oscore::contexts(server.config(), store).context("OSCORE contexts")?;
        let service = ace_as::service::AsService::new(
            server.clone(),
            ace_as::service::oscore::resolver(server),
        );
        let mut handler = service.router().into_handler();
        if let Some(trace) = capture.inner {
            handler = ace_coap::Layer::layer(&trace, handler);
        }
        let handler = ace_coap::Layer::layer(&contexts.server_layer(), handler);
        let endpoint = ace_coap::CoapEndpoint::bind(endpoint, handler)
            .await
            .with_context(|| format!("serving on {listen}"))?;
        tracing::info!(address = %endpoint.local_addr(), "ace-as listening");
        stop.await;
        tracing::info!("shutting down");
        endpoint.shutdown().await;
        Ok(())
    })
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
/// this is called, before the returned future is first polled, so a signal
/// that arrives right after start-up is not missed.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        let mut terminate =
            signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
