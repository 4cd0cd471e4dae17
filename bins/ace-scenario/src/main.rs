//! The `ace-scenario` command: runs scenario files and the end-to-end demo.

use ace_scenario::report::StepLog;
use ace_scenario::{Mode, RunOptions, RunReport, Scenario};
use anyhow::Context as _;
use clap::{Args as ClapArgs, Parser, Subcommand};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

const LONG_ABOUT: &str = "\
Runs scripted scenarios of ACE key provisioning for group communication (RFC 9594
with the Group OSCORE profile): an Authorization Server, a Key Distribution Center
and group clients on loopback, driven step by step (join, keys, renew, creds, group
messages, leave, eviction, rekeying, expiry, KDC restart, expected errors).

By default everything runs in this process. With --processes the `ace-as`,
`ace-kdc` and `ace-client` binaries next to this one are started with generated
configuration files (build them together: cargo build -p ace-scenario-cli
-p ace-as-cli -p ace-kdc-cli -p ace-client-cli).

Each run prints a step log and writes a sequence diagram of the message flow (SVG
and Mermaid) and a JSON report to the output directory; --pcap writes every
datagram for Wireshark/tshark, --trace prints every CoAP message with its payload
in CBOR diagnostic notation. The exit status is 1 when an expectation fails, 2
when a scenario file is invalid.

The scenario format is documented in the README (section \"Scenarios\") and in the
ace-scenario crate documentation.";

/// Command-line arguments of `ace-scenario`.
#[derive(Debug, Parser)]
#[command(
    name = "ace-scenario",
    version,
    about = "Run scripted ACE group key provisioning scenarios and the end-to-end demo",
    long_about = LONG_ABOUT
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, ClapArgs)]
struct Output {
    /// Spawn the ace-as, ace-kdc and ace-client binaries instead of running
    /// the actors in this process.
    #[arg(long)]
    processes: bool,
    /// Directory of the ace-as, ace-kdc and ace-client binaries (default:
    /// this executable's directory).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Print every CoAP message (header, options, payload in CBOR
    /// diagnostic notation) to standard error, or to FILE.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    trace: Option<PathBuf>,
    /// Write every datagram to a pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Directory for the diagram (SVG, Mermaid) and the JSON report.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    no_progress: bool,
    /// Print only the summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Runs the embedded demo: an AS, a KDC, a Requester, a Responder and a
    /// Monitor join a group, talk, renew, leave and are rekeyed.
    Demo {
        #[command(flatten)]
        output: Output,
    },
    /// Runs scenario files, one after the other.
    Run {
        /// The scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// Checks scenario files without running them.
    Check {
        /// The scenario files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints the demo scenario (a starting point for your own).
    ShowDemo,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    init_tracing();
    let args = Args::parse();
    match real_main(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ace-scenario: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Cmd::ShowDemo => {
            print!("{}", ace_scenario::demo::DEMO_TOML);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { files } => {
            let mut bad = false;
            for f in &files {
                match ace_scenario::model::parse_file(f) {
                    Ok(s) => println!(
                        "{}: ok ({} steps, {} clients, {} groups)",
                        f.display(),
                        s.steps.len(),
                        s.clients.len(),
                        s.groups.len()
                    ),
                    Err(e) => {
                        eprintln!("{e}");
                        bad = true;
                    }
                }
            }
            Ok(if bad {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Demo { output } => {
            let scenario = ace_scenario::demo::scenario().context("the embedded demo")?;
            let out = output
                .out
                .clone()
                .unwrap_or_else(ace_scenario::demo::default_out_dir);
            let pcap = Some(output.pcap.clone().unwrap_or_else(|| out.join("demo.pcap")));
            let report = run(&scenario, &output, Some(out), pcap)?;
            print_demo_summary(&report);
            Ok(exit(&[report]))
        }
        Cmd::Run { files, output } => {
            let mut scenarios = Vec::new();
            for f in &files {
                scenarios.push(ace_scenario::model::parse_file(f)?);
            }
            let out = output
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("target/ace-scenario"));
            let mut reports = Vec::new();
            for s in &scenarios {
                let pcap = output.pcap.as_ref().map(|p| {
                    if scenarios.len() == 1 {
                        p.clone()
                    } else {
                        p.with_file_name(format!(
                            "{}-{}",
                            s.name,
                            p.file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default()
                        ))
                    }
                });
                let report = run(s, &output, Some(out.clone()), pcap)?;
                if let Some(svg) = &report.artifacts.svg {
                    println!("  diagram: {}", svg.display());
                }
                reports.push(report);
            }
            if reports.len() > 1 {
                let passed = reports.iter().filter(|r| r.passed).count();
                println!("{passed}/{} scenarios passed", reports.len());
            }
            Ok(exit(&reports))
        }
    }
}

fn exit(reports: &[RunReport]) -> ExitCode {
    if reports.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run(
    scenario: &Scenario,
    output: &Output,
    out_dir: Option<PathBuf>,
    pcap: Option<PathBuf>,
) -> anyhow::Result<RunReport> {
    let mode = if output.processes {
        let bin_dir = match &output.bin_dir {
            Some(d) => d.clone(),
            None => ace_scenario::actor::process::default_bin_dir()?,
        };
        Mode::Processes { bin_dir }
    } else {
        Mode::InProcess
    };
    let trace: Option<Box<dyn std::io::Write + Send>> = match &output.trace {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stderr())),
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        ))),
    };
    if let Some(dir) = &out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let options = RunOptions {
        mode,
        out_dir,
        pcap,
        trace,
        log: if output.quiet {
            StepLog::silent()
        } else {
            StepLog::stdout()
        },
        progress: !output.no_progress,
        max_arrows: 1500,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(ace_scenario::run(scenario, options)))
}

fn print_demo_summary(report: &RunReport) {
    println!();
    if report.passed {
        println!(
            "The demo passed in {:.2} s ({} CoAP messages):",
            report.elapsed_ms as f64 / 1000.0,
            report.datagrams
        );
        println!("  * requester, responder and monitor each joined g1 through the full flow:");
        println!("    request without a token -> 4.01 + AS Request Creation Hints -> POST /token");
        println!("    (OSCORE with the AS) -> POST /authz-info -> OSCORE with the KDC -> join;");
        println!("  * the requester's Group OSCORE request was answered by the responder and seen");
        println!("    by the monitor; the responder renewed its Sender ID;");
        println!(
            "  * the monitor left, the KDC rekeyed g1, the others installed the new keys, and a"
        );
        println!("    message under the new keys did not decrypt with the monitor's old keys.");
    } else {
        println!("The demo FAILED:");
        for s in report.failures() {
            println!("  step {}: {}: {}", s.index, s.summary, s.detail);
        }
        if let Some(e) = &report.error {
            println!("  {e}");
        }
    }
    let a = &report.artifacts;
    if let Some(svg) = &a.svg {
        println!("Sequence diagram: {}", svg.display());
    }
    if let Some(m) = &a.mermaid {
        println!("Mermaid source:   {}", m.display());
    }
    if let Some(p) = &a.pcap {
        let ports: Vec<String> = report
            .actors
            .iter()
            .filter_map(|x| x.address.as_deref()?.rsplit(':').next().map(str::to_string))
            .map(|p| format!("-d udp.port=={p},coap"))
            .collect();
        println!(
            "Packet capture:   {} (tshark -r {} {})",
            p.display(),
            p.display(),
            ports.join(" ")
        );
    }
    if let Some(j) = &a.json {
        println!("JSON report:      {}", j.display());
    }
}
