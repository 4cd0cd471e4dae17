//! Traffic capture for a run: one `ace-coap` tap per actor endpoint, all
//! feeding one [`Capture`] that knows which address belongs to which actor.
//!
//! Every datagram between two tapped endpoints is seen twice (sent by one,
//! received by the other). The capture keeps both, marks the sender's copy
//! as *primary* (and a received copy whose sender is not tapped, such as the
//! KDC's responses), and writes only primary copies to the trace and the
//! pcap file, so each datagram appears once. The receivers' copies tell the
//! diagram who received a multicast request and which datagrams were lost.
//!
//! Security layers hide the inner request of an OSCORE message. Where the
//! runner sits inside the layer (the AS's resources, the members'
//! application handlers), it reports the inner method, path and response
//! code with [`Capture::label_request`] and [`Capture::label_response`],
//! keyed by the requester's address and the CoAP token; the diagram uses
//! them instead of the bare "OSCORE".
//!
//! Actors that run as child processes (`--processes`) capture their own
//! traffic: each is started with `--pcap` and `--trace` files named by
//! [`Capture::child_files`], and [`Capture::import_children`] merges them
//! into the timeline at the end of the run (the datagrams from the pcap
//! files, the inner labels from the trace files' `inner` lines).

use ace_coap::tap::{Direction, PcapPacket, PcapWriter, TapRecord, TapSink};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// One datagram as an actor's endpoint saw it.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Time since the capture started.
    pub at: Duration,
    /// Wall-clock time (for pcap).
    pub time: SystemTime,
    /// The actor whose endpoint recorded it.
    pub actor: String,
    /// Sent or received by that actor.
    pub direction: Direction,
    /// The actor endpoint's address (a multicast group for a group request
    /// it received).
    pub local: SocketAddr,
    /// The other side.
    pub peer: SocketAddr,
    /// The CoAP message.
    pub bytes: Vec<u8>,
    /// Whether this copy represents the datagram in the trace and pcap.
    pub primary: bool,
}

impl Datagram {
    /// Source and destination addresses.
    pub fn endpoints(&self) -> (SocketAddr, SocketAddr) {
        match self.direction {
            Direction::Out => (self.local, self.peer),
            Direction::In => (self.peer, self.local),
        }
    }
}

/// An entry of the capture's timeline.
#[derive(Debug, Clone)]
pub enum Event {
    /// A datagram.
    Datagram(Datagram),
    /// The start of a step (a separator in the diagram).
    Step {
        /// Time since the capture started.
        at: Duration,
        /// What the step does.
        text: String,
    },
}

/// The inner request and response of a protected exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InnerLabel {
    /// `GET /ace-group/g1` etc.
    pub request: Option<String>,
    /// `2.05` etc.
    pub response: Option<String>,
}

#[derive(Default)]
struct State {
    events: Vec<Event>,
    /// Address -> actor name.
    names: HashMap<SocketAddr, String>,
    /// Addresses whose endpoints are tapped.
    tapped: HashSet<SocketAddr>,
    /// Actors whose endpoints are tapped (until their address is known).
    tapped_actors: HashSet<String>,
    /// (requester address, token) -> inner labels.
    labels: HashMap<(SocketAddr, Vec<u8>), InnerLabel>,
    datagrams: usize,
    /// Capture files of child processes, to merge at the end.
    children: Vec<ChildFiles>,
}

/// The capture files of one child process.
#[derive(Debug, Clone)]
struct ChildFiles {
    actor: String,
    /// The address the process sends from and receives on.
    addr: SocketAddr,
    pcap: PathBuf,
    trace: PathBuf,
}

impl ChildFiles {
    /// A packet of this child's pcap file as a datagram of the timeline
    /// that started at `start_wall`, seen from the child's side.
    fn datagram(&self, p: PcapPacket, start_wall: SystemTime) -> Datagram {
        let (direction, local, peer) = if p.src == self.addr {
            (Direction::Out, p.src, p.dst)
        } else {
            (Direction::In, p.dst, p.src)
        };
        Datagram {
            at: p.time.duration_since(start_wall).unwrap_or_default(),
            time: p.time,
            actor: self.actor.clone(),
            direction,
            local,
            peer,
            bytes: p.payload,
            primary: false,
        }
    }
}

/// The capture of one run.
pub struct Capture {
    start: Instant,
    /// Wall-clock time of `start` (child processes' captures carry
    /// wall-clock times).
    start_wall: SystemTime,
    state: Mutex<State>,
    trace: Option<Mutex<Box<dyn Write + Send>>>,
    /// Most datagrams kept in memory (a bulk run keeps counting).
    limit: usize,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Capture {
    /// A capture; with `trace`, every primary datagram is described there
    /// as it happens (header, options, payload in CBOR diagnostic notation).
    pub fn new(trace: Option<Box<dyn Write + Send>>) -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            start_wall: SystemTime::now(),
            state: Mutex::new(State::default()),
            trace: trace.map(Mutex::new),
            limit: 2_000_000,
        })
    }

    /// Names the actor at `addr`. `tapped`: its endpoint feeds this capture.
    pub fn register(&self, actor: &str, addr: SocketAddr, tapped: bool) {
        let mut s = lock(&self.state);
        s.names.insert(addr, actor.to_string());
        if tapped {
            s.tapped.insert(addr);
        }
    }

    /// The tap for `actor`'s endpoint.
    pub fn tap(self: &Arc<Self>, actor: &str) -> Arc<dyn TapSink> {
        lock(&self.state).tapped_actors.insert(actor.to_string());
        Arc::new(ActorTap {
            actor: actor.to_string(),
            capture: self.clone(),
        })
    }

    /// The actor at `addr`, if known.
    pub fn name_of(&self, addr: SocketAddr) -> Option<String> {
        lock(&self.state).names.get(&addr).cloned()
    }

    /// Marks the start of a step.
    pub fn mark_step(&self, text: &str) {
        let at = self.start.elapsed();
        lock(&self.state).events.push(Event::Step {
            at,
            text: text.to_string(),
        });
        if let Some(t) = &self.trace {
            let mut out = lock(t);
            let _ = writeln!(out, "\n== +{:.3}s {text}", at.as_secs_f64());
        }
    }

    /// Records the inner request of a protected exchange from `requester`
    /// with `token`.
    pub fn label_request(&self, requester: SocketAddr, token: &[u8], method: &str, path: &str) {
        let mut s = lock(&self.state);
        s.labels
            .entry((requester, token.to_vec()))
            .or_default()
            .request = Some(format!("{method} {path}"));
    }

    /// Records the inner response code of that exchange.
    pub fn label_response(&self, requester: SocketAddr, token: &[u8], code: &str) {
        let mut s = lock(&self.state);
        s.labels
            .entry((requester, token.to_vec()))
            .or_default()
            .response = Some(code.to_string());
    }

    /// The inner labels recorded for an exchange.
    pub fn label(&self, requester: SocketAddr, token: &[u8]) -> Option<InnerLabel> {
        lock(&self.state)
            .labels
            .get(&(requester, token.to_vec()))
            .cloned()
    }

    /// Time since the capture started (the `at` of what comes next).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// How many datagrams were captured (both copies counted).
    pub fn datagram_count(&self) -> usize {
        lock(&self.state).datagrams
    }

    /// The timeline so far, with the address book.
    pub fn snapshot(&self) -> Snapshot {
        let s = lock(&self.state);
        Snapshot {
            events: s.events.clone(),
            names: s.names.clone(),
            tapped: s.tapped.clone(),
            labels: s.labels.clone(),
        }
    }

    fn record(&self, actor: &str, r: &TapRecord<'_>) {
        let at = self.start.elapsed();
        let mut s = lock(&self.state);
        s.datagrams += 1;
        if !s.names.contains_key(&r.local) && r.direction == Direction::Out {
            s.names.insert(r.local, actor.to_string());
        }
        if r.direction == Direction::Out {
            s.tapped.insert(r.local);
        }
        let primary = match r.direction {
            Direction::Out => true,
            Direction::In => !s.tapped.contains(&r.peer),
        };
        let d = Datagram {
            at,
            time: r.time,
            actor: actor.to_string(),
            direction: r.direction,
            local: r.local,
            peer: r.peer,
            bytes: r.bytes.to_vec(),
            primary,
        };
        if primary && let Some(t) = &self.trace {
            let _ = writeln!(lock(t), "{}", trace_text(&s, &d));
        }
        if s.events.len() < self.limit {
            s.events.push(Event::Datagram(d));
        }
    }

    /// Writes every primary datagram to a pcap file (RFC 1071 checksums,
    /// LINKTYPE_RAW; tshark dissects it as CoAP with `-d udp.port==P,coap`
    /// or on port 5683).
    pub fn write_pcap(&self, path: &Path) -> std::io::Result<usize> {
        let writer = PcapWriter::create(path)?;
        let s = lock(&self.state);
        let mut n = 0;
        for e in &s.events {
            if let Event::Datagram(d) = e
                && d.primary
            {
                writer.record(&TapRecord {
                    direction: d.direction,
                    local: d.local,
                    peer: d.peer,
                    time: d.time,
                    bytes: &d.bytes,
                });
                n += 1;
            }
        }
        writer.flush();
        Ok(n)
    }

    /// The `--pcap` and `--trace` files for a child process that runs
    /// `actor` at `addr`, in `dir`; they are merged into this capture by
    /// [`Capture::import_children`]. Each call names new files (a process
    /// restarted, or one invocation per operation).
    pub fn child_files(&self, actor: &str, addr: SocketAddr, dir: &Path) -> (PathBuf, PathBuf) {
        let mut s = lock(&self.state);
        let stem: String = actor
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let stem = format!("capture-{:04}-{stem}", s.children.len() + 1);
        let files = ChildFiles {
            actor: actor.to_string(),
            addr,
            pcap: dir.join(format!("{stem}.pcap")),
            trace: dir.join(format!("{stem}.trace")),
        };
        let paths = (files.pcap.clone(), files.trace.clone());
        s.children.push(files);
        paths
    }

    /// Merges the captures of the child processes (see
    /// [`Capture::child_files`]; call it once they have stopped): every
    /// datagram they sent or received to or from a known actor joins the
    /// timeline at its time, each datagram once in the trace and the pcap
    /// (the sender's copy), and the `inner` lines of their traces label the
    /// protected exchanges. Returns the number of datagrams merged and a
    /// note for each file that could not be read (a process that never
    /// started writes none).
    pub fn import_children(&self) -> (usize, Vec<String>) {
        let children = std::mem::take(&mut lock(&self.state).children);
        let mut merged = Vec::new();
        let mut problems = Vec::new();
        for child in &children {
            match ace_coap::tap::read_pcap(&child.pcap) {
                Ok(packets) => merged.extend(self.datagrams_of(child, packets)),
                Err(e) => problems.push(format!("{}: {e}", child.pcap.display())),
            }
            if let Ok(text) = std::fs::read_to_string(&child.trace) {
                for (peer, token, method, path, code) in text.lines().filter_map(inner_line) {
                    self.label_request(peer, &token, &method, &path);
                    self.label_response(peer, &token, &crate::report::flow::code_text(code));
                }
            }
        }
        if merged.is_empty() {
            return (0, problems);
        }
        let count = merged.len();
        let mut s = lock(&self.state);
        s.datagrams += count;
        s.events.extend(merged.into_iter().map(Event::Datagram));
        // The sender's copy represents a datagram once its sender is
        // tapped; the timeline is in time order.
        let tapped = s.tapped.clone();
        for e in &mut s.events {
            if let Event::Datagram(d) = e {
                d.primary = d.direction == Direction::Out || !tapped.contains(&d.peer);
            }
        }
        s.events.sort_by_key(|e| match e {
            Event::Datagram(d) => d.at,
            Event::Step { at, .. } => *at,
        });
        if let Some(t) = &self.trace {
            let mut out = lock(t);
            let _ = writeln!(
                out,
                "\n== the child processes' datagrams, merged from their captures"
            );
            for e in &s.events {
                if let Event::Datagram(d) = e
                    && d.primary
                    && children.iter().any(|c| c.addr == d.local)
                {
                    let _ = writeln!(out, "{}", trace_text(&s, d));
                }
            }
        }
        (count, problems)
    }

    /// The datagrams of a child's pcap file that it exchanged with a known
    /// actor (readiness probes and the like are left out).
    fn datagrams_of(&self, child: &ChildFiles, packets: Vec<PcapPacket>) -> Vec<Datagram> {
        let mut s = lock(&self.state);
        s.tapped.insert(child.addr);
        s.names
            .entry(child.addr)
            .or_insert_with(|| child.actor.clone());
        packets
            .into_iter()
            .map(|p| child.datagram(p, self.start_wall))
            .filter(|d| s.names.contains_key(&d.peer))
            .collect()
    }

    /// What the child processes of `actor` sent since `since` to others
    /// than `except`, other than empty messages, read from their pcap
    /// files while they run (the files are flushed datagram by datagram):
    /// [`spoken`] for an actor whose endpoint is not tapped live. `None`
    /// when no child process of `actor` writes a capture.
    pub fn children_spoken(
        &self,
        actor: &str,
        since: Duration,
        except: &[SocketAddr],
    ) -> Option<Vec<String>> {
        let (children, names) = {
            let s = lock(&self.state);
            let children: Vec<ChildFiles> = s
                .children
                .iter()
                .filter(|c| c.actor == actor)
                .cloned()
                .collect();
            (children, s.names.clone())
        };
        if children.is_empty() {
            return None;
        }
        let datagrams: Vec<Datagram> = children
            .iter()
            // A process that has not started yet has written no file.
            .filter_map(|c| Some((c, ace_coap::tap::read_pcap(&c.pcap).ok()?)))
            .flat_map(|(c, packets)| packets.into_iter().map(|p| c.datagram(p, self.start_wall)))
            .collect();
        Some(said(datagrams.iter(), actor, since, except, &names))
    }

    /// Flushes the trace.
    pub fn flush(&self) {
        if let Some(t) = &self.trace {
            let _ = lock(t).flush();
        }
    }
}

/// The trace entry of a datagram: time, who to whom, the message, and the
/// inner exchange of a protected response where it is known.
fn trace_text(s: &State, d: &Datagram) -> String {
    let (src, dst) = d.endpoints();
    let name = |a: SocketAddr| s.names.get(&a).cloned().unwrap_or_else(|| a.to_string());
    let mut text = ace_coap::tap::describe(&d.bytes);
    if let Ok(m) = ace_coap::wire::decode(&d.bytes)
        && m.is_response()
        && m.options.contains(ace_coap::option::number::OSCORE)
        && let Some(l) = s.labels.get(&(dst, m.token.as_bytes().to_vec()))
        && let (Some(req), Some(resp)) = (&l.request, &l.response)
    {
        text.push_str(&format!("\n  (inside OSCORE: {req} -> {resp})"));
    }
    format!(
        "+{:.3}s {} -> {} ({src} -> {dst})\n  {}",
        d.at.as_secs_f64(),
        name(src),
        name(dst),
        text.replace('\n', "\n  ")
    )
}

/// Reads an `inner` line of `ace_coap::tap::InnerTrace`: `inner PEER
/// token=HEX METHOD /PATH -> CODE`, as (requester, token, method, path,
/// code). Notification lines (`inner-notification`) are not read: the
/// registration's line labels the exchange.
fn inner_line(line: &str) -> Option<(SocketAddr, Vec<u8>, String, String, u8)> {
    let mut words = line.split_whitespace();
    if words.next()? != "inner" {
        return None;
    }
    let peer: SocketAddr = words.next()?.parse().ok()?;
    let token = match words.next()?.strip_prefix("token=")? {
        "-" => Vec::new(),
        hex_text => hex::decode(hex_text).ok()?,
    };
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    if words.next()? != "->" {
        return None;
    }
    let (class, detail) = words.next()?.split_once('.')?;
    let (class, detail): (u8, u8) = (class.parse().ok()?, detail.parse().ok()?);
    if class > 7 || detail > 31 {
        return None;
    }
    Some((peer, token, method, path, class << 5 | detail))
}

/// What `actor` sent since `since` to others than `except` and that is
/// not an empty message (an ACK or RST, RFC 7252 section 4): a Group OSCORE
/// Monitor must send nothing else to the group's members (RFC 10021
/// section 2.2: no protected message, and no error either). Each entry
/// names the message and its destination.
pub fn spoken(
    snapshot: &Snapshot,
    actor: &str,
    since: Duration,
    except: &[SocketAddr],
) -> Vec<String> {
    let datagrams = snapshot.events.iter().filter_map(|e| match e {
        Event::Datagram(d) => Some(d),
        Event::Step { .. } => None,
    });
    said(datagrams, actor, since, except, &snapshot.names)
}

/// [`spoken`] over any datagrams, the names of `names`.
fn said<'a>(
    datagrams: impl Iterator<Item = &'a Datagram>,
    actor: &str,
    since: Duration,
    except: &[SocketAddr],
    names: &HashMap<SocketAddr, String>,
) -> Vec<String> {
    datagrams
        .filter(|d| d.at >= since && d.direction == Direction::Out && d.actor == actor)
        .filter(|d| !except.contains(&d.peer))
        .filter_map(|d| {
            let code = ace_coap::wire::decode(&d.bytes).ok().map(|m| m.code);
            if code == Some(0) {
                return None;
            }
            let to = names
                .get(&d.peer)
                .cloned()
                .unwrap_or_else(|| d.peer.to_string());
            Some(format!(
                "{} to {to}",
                code.map_or_else(
                    || "an undecodable datagram".to_string(),
                    crate::report::flow::code_text
                )
            ))
        })
        .collect()
}

/// A copy of a capture's timeline.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Datagrams and step markers in order.
    pub events: Vec<Event>,
    /// Address -> actor.
    pub names: HashMap<SocketAddr, String>,
    /// Tapped addresses.
    pub tapped: HashSet<SocketAddr>,
    /// Inner labels of protected exchanges.
    pub labels: HashMap<(SocketAddr, Vec<u8>), InnerLabel>,
}

/// The tap of one actor's endpoint.
struct ActorTap {
    actor: String,
    capture: Arc<Capture>,
}

impl TapSink for ActorTap {
    fn record(&self, record: &TapRecord<'_>) {
        self.capture.record(&self.actor, record);
    }

    fn flush(&self) {
        self.capture.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(direction: Direction, local: &str, peer: &str, bytes: &[u8]) -> TapRecord<'static> {
        TapRecord {
            direction,
            local: local.parse().unwrap(),
            peer: peer.parse().unwrap(),
            time: SystemTime::now(),
            bytes: Box::leak(bytes.to_vec().into_boxed_slice()),
        }
    }

    #[test]
    fn a_child_process_capture_is_read_while_it_runs() {
        let c = Capture::new(None);
        let kdc: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let monitor: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let requester: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        c.register("KDC", kdc, false);
        c.register("monitor", monitor, false);
        c.register("requester", requester, false);
        // No process of the requester writes a capture.
        assert_eq!(c.children_spoken("requester", Duration::ZERO, &[kdc]), None);
        let dir = tempfile::tempdir().unwrap();
        // A first invocation that never started, then the running one.
        let _ = c.child_files("monitor", monitor, dir.path());
        let (pcap, _) = c.child_files("monitor", monitor, dir.path());
        let w = PcapWriter::create(&pcap).unwrap();
        let since = Duration::from_millis(50);
        let at = |ms: u64| c.start_wall + Duration::from_millis(ms);
        let send = |peer: SocketAddr, time: SystemTime, bytes: &[u8]| {
            w.record(&TapRecord {
                direction: Direction::Out,
                local: monitor,
                peer,
                time,
                bytes,
            });
        };
        // Before the step: a 2.05 to the requester (not this step's).
        send(requester, at(10), b"\x60\x45\x00\x01");
        // During the step: an empty ACK (allowed), a request to the KDC
        // (infrastructure, left out) ...
        send(requester, at(60), b"\x60\x00\x00\x02");
        send(kdc, at(61), b"\x40\x01\x00\x03");
        assert_eq!(c.children_spoken("monitor", since, &[kdc]), Some(vec![]));
        // ... and then a 4.01 to the requester: read at once, without
        // stopping the writer.
        send(requester, at(62), b"\x60\x81\x00\x04");
        let said = c.children_spoken("monitor", since, &[kdc]).unwrap();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains("4.01") && said[0].ends_with("to requester"),
            "{said:?}"
        );
    }

    #[test]
    fn child_captures_merge_into_the_timeline() {
        let c = Capture::new(None);
        let runner: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let kdc: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let member: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        c.register("KDC", kdc, false);
        c.register("alice", member, false);
        c.register("runner", runner, true);
        let dir = tempfile::tempdir().unwrap();
        let (kdc_pcap, kdc_trace) = c.child_files("KDC", kdc, dir.path());
        let (alice_pcap, _) = c.child_files("alice", member, dir.path());
        let (never, _) = c.child_files("bob", "127.0.0.1:5000".parse().unwrap(), dir.path());
        assert_ne!(kdc_pcap, alice_pcap);
        // The runner's own endpoint asks the KDC (seen live).
        c.tap("runner").record(&rec(
            Direction::Out,
            "127.0.0.1:1000",
            "127.0.0.1:3000",
            b"\x40\x01\x00\x07",
        ));
        c.mark_step("step 1");
        let t0 = SystemTime::now() + Duration::from_millis(5);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let write =
            |path: &Path, records: &[(Direction, SocketAddr, SocketAddr, SystemTime, &[u8])]| {
                let w = PcapWriter::create(path).unwrap();
                for (direction, local, peer, time, bytes) in records {
                    w.record(&TapRecord {
                        direction: *direction,
                        local: *local,
                        peer: *peer,
                        time: *time,
                        bytes,
                    });
                }
            };
        let request: &[u8] = b"\x40\x02\x00\x01\x01";
        let response: &[u8] = b"\x60\x44\x00\x01\x01";
        let probe: SocketAddr = "127.0.0.1:9999".parse().unwrap();
        write(
            &kdc_pcap,
            &[
                (Direction::In, kdc, runner, at(0), b"\x40\x01\x00\x07"),
                (Direction::In, kdc, member, at(1), request),
                (Direction::Out, kdc, member, at(2), response),
                // A readiness probe from an unknown address: left out.
                (Direction::In, kdc, probe, at(3), b"\x40\x01\x00\x09"),
            ],
        );
        write(
            &alice_pcap,
            &[
                (Direction::Out, member, kdc, at(1), request),
                (Direction::In, member, kdc, at(2), response),
            ],
        );
        std::fs::write(
            &kdc_trace,
            "127.0.0.1:4000 -> 127.0.0.1:3000 CON POST ...\n\
             inner 127.0.0.1:4000 token=01 POST /ace-group/g1 -> 2.01\n\
             inner-notification 127.0.0.1:4000 token=01 GET /ace-group/g1 -> 4.03\n",
        )
        .unwrap();
        let (merged, problems) = c.import_children();
        assert_eq!(merged, 5);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains(&never.display().to_string()));
        let snap = c.snapshot();
        let events: Vec<(String, Direction, bool)> = snap
            .events
            .iter()
            .map(|e| match e {
                Event::Datagram(d) => (d.actor.clone(), d.direction, d.primary),
                Event::Step { text, .. } => (text.clone(), Direction::In, false),
            })
            .collect();
        assert_eq!(
            events,
            vec![
                ("runner".into(), Direction::Out, true),
                ("step 1".into(), Direction::In, false),
                // The KDC's copy of the runner's request: the runner is
                // tapped, so its own copy stays the one.
                ("KDC".into(), Direction::In, false),
                ("KDC".into(), Direction::In, false),
                ("alice".into(), Direction::Out, true),
                ("KDC".into(), Direction::Out, true),
                ("alice".into(), Direction::In, false),
            ]
        );
        // The inner line labels the exchange; the notification line does not.
        let label = c.label(member, &[1]).unwrap();
        assert_eq!(label.request.as_deref(), Some("POST /ace-group/g1"));
        assert_eq!(label.response.as_deref(), Some("2.01 Created"));
        // Each datagram once in the pcap.
        let path = dir.path().join("all.pcap");
        assert_eq!(c.write_pcap(&path).unwrap(), 3);
        // Merged once: the list of files is used up.
        assert_eq!(c.import_children().0, 0);
    }

    #[test]
    fn inner_lines() {
        assert_eq!(
            inner_line("inner [::1]:5683 token=- GET /ace-group/g1/num -> 4.04"),
            Some((
                "[::1]:5683".parse().unwrap(),
                Vec::new(),
                "GET".into(),
                "/ace-group/g1/num".into(),
                0x84
            ))
        );
        for bad in [
            "inner 127.0.0.1:1 token=zz GET / -> 2.05",
            "inner 127.0.0.1:1 token=01 GET / 2.05",
            "inner 127.0.0.1:1 token=01 GET / -> 9.05",
            "inner nowhere token=01 GET / -> 2.05",
            "inner 127.0.0.1:1 token=01",
            "+0.1s KDC -> alice",
        ] {
            assert_eq!(inner_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_datagram_has_one_primary_copy() {
        let c = Capture::new(None);
        c.register("alice", "127.0.0.1:1000".parse().unwrap(), true);
        c.register("bob", "127.0.0.1:2000".parse().unwrap(), true);
        c.register("KDC", "127.0.0.1:3000".parse().unwrap(), false);
        let alice = c.tap("alice");
        let bob = c.tap("bob");
        // alice -> bob: seen twice; only the sent copy is primary.
        alice.record(&rec(
            Direction::Out,
            "127.0.0.1:1000",
            "127.0.0.1:2000",
            b"\x40\x01\x00\x01",
        ));
        bob.record(&rec(
            Direction::In,
            "127.0.0.1:2000",
            "127.0.0.1:1000",
            b"\x40\x01\x00\x01",
        ));
        // KDC -> bob: only received by a tapped endpoint: primary.
        bob.record(&rec(
            Direction::In,
            "127.0.0.1:2000",
            "127.0.0.1:3000",
            b"\x60\x45\x00\x01",
        ));
        let snap = c.snapshot();
        let primary: Vec<bool> = snap
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Datagram(d) => Some(d.primary),
                Event::Step { .. } => None,
            })
            .collect();
        assert_eq!(primary, vec![true, false, true]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcap");
        assert_eq!(c.write_pcap(&path).unwrap(), 2);
        // Header + 2 records of 16 + 20 + 8 + 4 bytes.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24 + 2 * (16 + 32));
    }

    #[test]
    fn what_a_monitor_said_besides_empty_messages() {
        let c = Capture::new(None);
        c.register("monitor", "127.0.0.1:1000".parse().unwrap(), true);
        c.register("requester", "127.0.0.1:2000".parse().unwrap(), true);
        c.register("KDC", "127.0.0.1:3000".parse().unwrap(), false);
        let monitor = c.tap("monitor");
        let since = c.elapsed();
        // An empty ACK to a confirmable group request: allowed.
        monitor.record(&rec(
            Direction::Out,
            "127.0.0.1:1000",
            "127.0.0.1:2000",
            b"\x60\x00\x00\x07",
        ));
        // Its own requests to the KDC (observations, /num): not counted.
        monitor.record(&rec(
            Direction::Out,
            "127.0.0.1:1000",
            "127.0.0.1:3000",
            b"\x40\x01\x00\x08",
        ));
        let kdc: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        assert!(spoken(&c.snapshot(), "monitor", since, &[kdc]).is_empty());
        // An unprotected 4.01 to the requester: reported.
        monitor.record(&rec(
            Direction::Out,
            "127.0.0.1:1000",
            "127.0.0.1:2000",
            b"\x60\x81\x00\x09",
        ));
        assert_eq!(
            spoken(&c.snapshot(), "monitor", since, &[kdc]),
            vec!["4.01 Unauthorized to requester".to_string()]
        );
        // Nothing before `since` counts.
        assert!(spoken(&c.snapshot(), "monitor", c.elapsed(), &[kdc]).is_empty());
    }

    #[test]
    fn labels_are_keyed_by_requester_and_token() {
        let c = Capture::new(None);
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        c.label_request(a, &[1, 2], "POST", "/token");
        c.label_response(a, &[1, 2], "2.01");
        assert_eq!(
            c.label(a, &[1, 2]),
            Some(InnerLabel {
                request: Some("POST /token".into()),
                response: Some("2.01".into())
            })
        );
        assert_eq!(c.label(a, &[1]), None);
    }
}
