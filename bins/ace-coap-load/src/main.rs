//! `ace-coap-load`: drives N concurrent CoAP clients against a URI and
//! reports requests per second and latency percentiles. Time and request
//! count are bounded; only loopback targets are allowed unless
//! `--allow-remote` is given.

mod histogram;
mod load;

use ace_coap::Method;
use ace_coap::option::{Options, number};
use ace_coap::uri::{self, Host};
use ace_coap::wire::{Message, MessageType, Token};
use anyhow::{Context, bail};
use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "ace-coap-load",
    version,
    about = "Load generator for CoAP servers (RFC 7252)"
)]
struct Args {
    /// The target, e.g. coap://127.0.0.1:5683/time
    uri: String,
    /// Concurrent clients, each with its own socket and one request outstanding.
    #[arg(short, long, default_value_t = 8)]
    clients: usize,
    /// Measured seconds (after the warm-up); at most 600.
    #[arg(short, long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds, not measured.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Stop after this many requests in total.
    #[arg(short = 'n', long, default_value_t = 50_000_000)]
    max_requests: u64,
    /// Total requests per second across all clients: open loop, each client
    /// on a fixed schedule (closed loop, one request per client, if absent).
    #[arg(short, long)]
    rate: Option<f64>,
    /// Most requests in flight per client in open-loop mode.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Method: get, post, put, delete, fetch, patch, ipatch.
    #[arg(short, long, default_value = "get")]
    method: String,
    /// Request payload.
    #[arg(short, long)]
    payload: Option<String>,
    /// Send NON requests instead of CON.
    #[arg(long)]
    non: bool,
    /// Milliseconds to wait for a response before counting it lost.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Report the CPU time of this process (the server) per request.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Label printed with the results.
    #[arg(long, default_value = "")]
    label: String,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Print one Markdown table row instead of text: label, clients, rate,
    /// req/s, p50, p99, p99.9 (us, from the scheduled send), p99 from the
    /// actual send, p99 send lag, lost or unsent, server CPU us per request.
    #[arg(long)]
    markdown_row: bool,
}

fn method(name: &str) -> anyhow::Result<Method> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "get" => Method::Get,
        "post" => Method::Post,
        "put" => Method::Put,
        "delete" => Method::Delete,
        "fetch" => Method::Fetch,
        "patch" => Method::Patch,
        "ipatch" => Method::IPatch,
        other => bail!("unknown method {other}"),
    })
}

/// CPU seconds (user + system) of a process, from /proc/PID/stat. Linux
/// reports them in clock ticks of 1/100 s (USER_HZ on x86_64 and arm64).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / 100.0)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(args.duration > 0.0 && args.duration <= 600.0) {
        bail!("--duration must be in (0, 600] seconds");
    }
    if !(0.0..=60.0).contains(&args.warmup) {
        bail!("--warmup must be in [0, 60] seconds");
    }
    if args.clients == 0 || args.clients > 10_000 {
        bail!("--clients must be 1 to 10000");
    }
    let parsed = uri::parse(&args.uri)?;
    let ip = match parsed.host {
        Host::Ip(ip) => ip,
        Host::Name(n) if n == "localhost" => "127.0.0.1".parse()?,
        Host::Name(n) => bail!("use an IP address, not {n}"),
    };
    if !ip.is_loopback() && !args.allow_remote {
        bail!("{ip} is not a loopback address; pass --allow-remote to load another host");
    }
    let target = SocketAddr::new(ip, parsed.port);
    let mut options = Options::new();
    for seg in &parsed.path {
        options.push(number::URI_PATH, seg.as_bytes());
    }
    for q in &parsed.query {
        options.push(number::URI_QUERY, q.as_bytes());
    }
    let request = Message {
        mtype: if args.non {
            MessageType::Non
        } else {
            MessageType::Con
        },
        code: method(&args.method)?.code(),
        mid: 0,
        token: Token::EMPTY,
        options,
        payload: args.payload.clone().unwrap_or_default().into_bytes(),
    };
    let config = load::LoadConfig {
        target,
        request,
        clients: args.clients,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        max_requests: args.max_requests,
        rate: args.rate,
        window: args.window,
        timeout: Duration::from_millis(args.timeout_ms),
    };
    // Sample the server's CPU time when the measured window starts.
    let warmup = config.warmup;
    let cpu_before = match args.server_pid {
        Some(pid) => std::thread::spawn(move || {
            std::thread::sleep(warmup);
            cpu_seconds(pid).ok()
        }),
        None => std::thread::spawn(|| None),
    };
    let report = load::run(&config)?;
    let cpu_used = match (args.server_pid, cpu_before.join().ok().flatten()) {
        (Some(pid), Some(before)) => Some(cpu_seconds(pid)? - before),
        _ => None,
    };
    let total: u64 = report.codes.values().sum();
    let throughput = report.throughput();
    let h = &report.latency;
    let cpu_us_per_req = cpu_used
        .filter(|_| total > 0)
        .map(|c| c * 1e6 / total as f64);
    let cpu_share = cpu_used.map(|c| c / report.elapsed.as_secs_f64().max(1e-9));
    if args.markdown_row {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            args.label,
            args.clients,
            args.rate.map_or("max".to_owned(), |r| format!("{r:.0}")),
            throughput,
            h.quantile_us(0.50),
            h.quantile_us(0.99),
            h.quantile_us(0.999),
            report.service.quantile_us(0.99),
            report.send_lag.quantile_us(0.99),
            report.lost + report.behind,
            cpu_us_per_req.map_or("-".to_owned(), |v| format!("{v:.2}")),
        );
    } else if args.json {
        println!(
            "{{\"label\":\"{}\",\"clients\":{},\"rate\":{},\"elapsed_s\":{:.3},\"responses\":{},\"ok\":{},\"lost\":{},\"behind\":{},\"io_errors\":{},\"rps\":{:.0},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"mean_us\":{:.1},\"server_cpu_us_per_req\":{},\"server_cpu_share\":{}}}",
            args.label.replace('"', "'"),
            args.clients,
            args.rate.map_or("null".to_owned(), |r| format!("{r:.0}")),
            report.elapsed.as_secs_f64(),
            total,
            report.ok,
            report.lost,
            report.behind,
            report.io_errors,
            throughput,
            h.quantile_us(0.50),
            h.quantile_us(0.90),
            h.quantile_us(0.99),
            h.quantile_us(0.999),
            h.max_us(),
            h.mean_us(),
            cpu_us_per_req.map_or("null".to_owned(), |v| format!("{v:.2}")),
            cpu_share.map_or("null".to_owned(), |v| format!("{v:.2}")),
        );
    } else {
        if !args.label.is_empty() {
            println!("{}", args.label);
        }
        println!(
            "target        {} ({} clients{})",
            args.uri,
            args.clients,
            args.rate
                .map_or(String::new(), |r| format!(", paced at {r:.0} req/s"))
        );
        println!(
            "window        {:.2} s after {:.1} s warm-up",
            report.elapsed.as_secs_f64(),
            args.warmup
        );
        println!(
            "responses     {total} ({} 2.xx), lost {}, behind schedule {}, I/O errors {}",
            report.ok, report.lost, report.behind, report.io_errors
        );
        for (code, n) in &report.codes {
            println!("  code {}.{:02}    {n}", code >> 5, code & 0x1f);
        }
        println!("throughput    {throughput:.0} req/s");
        println!(
            "latency       p50 {} us, p90 {} us, p99 {} us, p99.9 {} us, max {} us, mean {:.1} us",
            h.quantile_us(0.50),
            h.quantile_us(0.90),
            h.quantile_us(0.99),
            h.quantile_us(0.999),
            h.max_us(),
            h.mean_us()
        );
        if args.rate.is_some() {
            let s = &report.service;
            println!(
                "from send     p50 {} us, p99 {} us, p99.9 {} us; send lag p99 {} us",
                s.quantile_us(0.50),
                s.quantile_us(0.99),
                s.quantile_us(0.999),
                report.send_lag.quantile_us(0.99)
            );
        }
        if let (Some(per), Some(share)) = (cpu_us_per_req, cpu_share) {
            println!(
                "server CPU    {per:.2} us per request, {:.0} % of one core",
                share * 100.0
            );
        }
    }
    Ok(())
}
