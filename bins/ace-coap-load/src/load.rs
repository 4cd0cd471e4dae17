//! The load engine: N clients, each with its own UDP socket (its own
//! transport address, so the server sees N peers).
//!
//! A load generator must cost less than the server it measures, so this one
//! does not use the `ace-coap` endpoint: it encodes the request once (with
//! `ace_coap::wire`), then only patches Message ID and token, reads
//! responses with `wire::peek_header`, and runs one thread that polls its
//! non-blocking sockets. It acknowledges separate CON responses, resets
//! unexpected CONs, and counts a request without a response within the
//! timeout as lost (no retransmission: a loss shows up as a loss).
//!
//! * Closed loop (no rate): each client has one request outstanding and
//!   sends the next when the previous one is answered: N concurrent
//!   clients.
//! * Open loop (a rate): each client sends on a fixed schedule, whatever is
//!   outstanding (up to a window of in-flight requests), and latency is
//!   measured from the scheduled send time, so a server that falls behind
//!   is not flattered by the client waiting for it (coordinated omission).

use crate::histogram::Histogram;
use ace_coap::wire::{self, Message, MessageType, Token};
use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server.
    pub target: SocketAddr,
    /// The request (its Message ID and token are replaced per request).
    pub request: Message,
    /// Concurrent clients (sockets).
    pub clients: usize,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Time before measuring starts.
    pub warmup: Duration,
    /// Stop after this many requests in total.
    pub max_requests: u64,
    /// Total requests per second across clients; closed loop if `None`.
    pub rate: Option<f64>,
    /// Most requests in flight per client in open-loop mode.
    pub window: usize,
    /// How long to wait for a response before counting it lost.
    pub timeout: Duration,
}

/// What was measured (after the warm-up).
#[derive(Default)]
pub struct LoadReport {
    /// Responses with a 2.xx code.
    pub ok: u64,
    /// Responses by code (all classes).
    pub codes: BTreeMap<u8, u64>,
    /// Requests without a response within the timeout.
    pub lost: u64,
    /// Scheduled requests not sent because the window was full at the end.
    pub behind: u64,
    /// Send or receive errors (e.g. ECONNREFUSED when nothing listens).
    pub io_errors: u64,
    /// Requests sent in the measured window.
    pub sent: u64,
    /// The measured window.
    pub elapsed: Duration,
    /// Latencies of all responses in the window, from the scheduled send
    /// time (equal to the actual send time in closed loop).
    pub latency: Histogram,
    /// Latencies from the actual send time.
    pub service: Histogram,
    /// How late requests were sent after their scheduled time (the load
    /// tool's own lag; zero in closed loop).
    pub send_lag: Histogram,
}

impl LoadReport {
    /// Responses per second in the window.
    pub fn throughput(&self) -> f64 {
        let n: u64 = self.codes.values().sum();
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct InFlight {
    mid: u16,
    token: Token,
    scheduled: Instant,
    sent: Instant,
    deadline: Instant,
}

struct Client {
    socket: UdpSocket,
    datagram: Vec<u8>,
    in_flight: Vec<InFlight>,
    next_mid: u16,
    next_token: u32,
    next_due: Instant,
    sent_on_socket: u32,
}

/// Rotating to a fresh socket (a new source port) keeps Message IDs unique
/// per peer within a run (RFC 7252 section 4.4), whatever the request rate.
const REQUESTS_PER_SOCKET: u32 = 60_000;

fn open_socket(target: SocketAddr) -> io::Result<UdpSocket> {
    let bind: SocketAddr = match (target.is_ipv4(), target.ip().is_loopback()) {
        (true, true) => ([127, 0, 0, 1], 0).into(),
        (true, false) => ([0, 0, 0, 0], 0).into(),
        (false, true) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
        (false, false) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(bind)?;
    socket.connect(target)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

impl Client {
    fn send(
        &mut self,
        now: Instant,
        scheduled: Instant,
        target: SocketAddr,
        timeout: Duration,
    ) -> io::Result<()> {
        if self.sent_on_socket >= REQUESTS_PER_SOCKET && self.in_flight.is_empty() {
            self.socket = open_socket(target)?;
            self.sent_on_socket = 0;
        }
        self.next_mid = self.next_mid.wrapping_add(1);
        self.next_token = self.next_token.wrapping_add(1);
        let token_bytes = self.next_token.to_be_bytes();
        self.datagram[2..4].copy_from_slice(&self.next_mid.to_be_bytes());
        self.datagram[4..8].copy_from_slice(&token_bytes);
        let sent = Instant::now();
        self.socket.send(&self.datagram)?;
        self.sent_on_socket += 1;
        let token = Token::new(&token_bytes).unwrap_or_default();
        self.in_flight.push(InFlight {
            mid: self.next_mid,
            token,
            scheduled,
            sent,
            deadline: now + timeout,
        });
        Ok(())
    }
}

/// Runs the load and returns the measurements.
pub fn run(config: &LoadConfig) -> anyhow::Result<LoadReport> {
    let mut template = config.request.clone();
    template.token = Token::new(&[0, 0, 0, 0]).unwrap_or_default();
    let datagram = wire::encode(&template, 65_000)?;
    let start = Instant::now();
    let seed = u64::from(std::process::id()) ^ u64::from(start.elapsed().subsec_nanos());
    let interval = config
        .rate
        .map(|r| Duration::from_secs_f64(config.clients as f64 / r.max(1e-3)));
    let window = if interval.is_some() {
        config.window.max(1)
    } else {
        1
    };
    let mut clients = Vec::with_capacity(config.clients);
    for i in 0..config.clients {
        let stagger = interval.map_or(Duration::ZERO, |iv| {
            iv.mul_f64(i as f64 / config.clients as f64)
        });
        clients.push(Client {
            socket: open_socket(config.target)?,
            datagram: datagram.clone(),
            in_flight: Vec::with_capacity(window),
            next_mid: (seed as u16).wrapping_add((i as u16).wrapping_mul(7919)),
            next_token: (i as u32) << 24,
            next_due: start + stagger,
            sent_on_socket: 0,
        });
    }
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    let mut report = LoadReport::default();
    let mut total_sent = 0u64;
    let mut buf = vec![0u8; 65_536];
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let measuring = now >= measure_from;
        let mut all_done = total_sent >= config.max_requests;
        for c in &mut clients {
            // Responses.
            loop {
                let n = match c.socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        if measuring {
                            report.io_errors += 1;
                        }
                        break;
                    }
                };
                let Some(h) = wire::peek_header(&buf[..n]) else {
                    continue;
                };
                let is_response = matches!(h.code >> 5, 2 | 4 | 5);
                let matched = match h.mtype {
                    MessageType::Ack if is_response => c
                        .in_flight
                        .iter()
                        .position(|f| f.mid == h.mid && Some(f.token) == h.token),
                    MessageType::Con | MessageType::Non if is_response => {
                        let found = c.in_flight.iter().position(|f| Some(f.token) == h.token);
                        let reply = if found.is_some() {
                            MessageType::Ack
                        } else {
                            MessageType::Rst
                        };
                        if h.mtype == MessageType::Con {
                            let _ = c.socket.send(&wire::encode_empty(reply, h.mid));
                        }
                        found
                    }
                    MessageType::Con => {
                        let _ = c.socket.send(&wire::encode_empty(MessageType::Rst, h.mid));
                        None
                    }
                    // An empty ACK: a separate response follows.
                    _ => None,
                };
                if let Some(i) = matched {
                    let f = c.in_flight.swap_remove(i);
                    if f.scheduled >= measure_from {
                        let done = Instant::now();
                        report
                            .latency
                            .record(done.saturating_duration_since(f.scheduled));
                        report
                            .service
                            .record(done.saturating_duration_since(f.sent));
                        report
                            .send_lag
                            .record(f.sent.saturating_duration_since(f.scheduled));
                        *report.codes.entry(h.code).or_default() += 1;
                        if h.code >> 5 == 2 {
                            report.ok += 1;
                        }
                    }
                }
            }
            // Timeouts.
            let before = c.in_flight.len();
            let mut lost = 0;
            c.in_flight.retain(|f| {
                let keep = now < f.deadline;
                if !keep && f.scheduled >= measure_from {
                    lost += 1;
                }
                keep
            });
            report.lost += lost;
            if c.in_flight.len() != before {
                all_done = false;
            }
            // Next requests.
            while total_sent < config.max_requests && c.in_flight.len() < window {
                let scheduled = match interval {
                    None => now,
                    Some(_) if now >= c.next_due => c.next_due,
                    Some(_) => break,
                };
                match c.send(now, scheduled, config.target, config.timeout) {
                    Ok(()) => {
                        total_sent += 1;
                        if scheduled >= measure_from {
                            report.sent += 1;
                        }
                    }
                    Err(_) => {
                        if measuring {
                            report.io_errors += 1;
                        }
                        break;
                    }
                }
                if let Some(iv) = interval {
                    c.next_due += iv;
                }
            }
            if !c.in_flight.is_empty() || total_sent < config.max_requests {
                all_done = false;
            }
        }
        if all_done {
            break;
        }
    }
    let stop = Instant::now().min(end);
    report.elapsed = stop.saturating_duration_since(measure_from);
    if let Some(iv) = interval {
        // Scheduled sends the clients could not make (window full).
        for c in &clients {
            if c.next_due < stop {
                report.behind += (stop.saturating_duration_since(c.next_due).as_secs_f64()
                    / iv.as_secs_f64()) as u64;
            }
        }
    }
    Ok(report)
}
