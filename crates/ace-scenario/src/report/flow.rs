//! The message flow of a run as a sequence of arrows between lifelines,
//! built from a [`Snapshot`] of the capture: one arrow per datagram
//! (primary copy), labelled with the method and path of a request or the
//! code of a response, the inner ones for OSCORE where the runner recorded
//! them, "OSCORE" otherwise; a multicast request fans out to the members
//! that received it; a datagram sent to a tapped endpoint that never
//! arrived is marked lost.

use crate::capture::{Datagram, Event, Snapshot};
use ace_coap::option::number;
use ace_coap::tap::Direction;
use ace_coap::wire::{self, MessageType};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

/// What an arrow carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrowKind {
    /// A request.
    Request,
    /// A response (piggybacked or separate).
    Response,
    /// An Observe notification.
    Notification,
    /// An empty message (ACK, RST, ping).
    Empty,
}

/// One arrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrow {
    /// Time since the start of the run.
    pub at: Duration,
    /// Lifeline index of the sender.
    pub from: usize,
    /// Lifeline index of the receiver.
    pub to: usize,
    /// Method and path, or code.
    pub label: String,
    /// Request, response, notification.
    pub kind: ArrowKind,
    /// Sent but not received (fault injection).
    pub lost: bool,
    /// A retransmission of an earlier datagram.
    pub retransmission: bool,
}

/// An item of the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowItem {
    /// A message.
    Arrow(Arrow),
    /// A step separator.
    Note {
        /// Time since the start.
        at: Duration,
        /// Text.
        text: String,
    },
}

/// A sequence diagram's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Lifeline names, left to right.
    pub lifelines: Vec<String>,
    /// Arrows and notes in order.
    pub items: Vec<FlowItem>,
    /// Arrows left out beyond the limit.
    pub omitted: usize,
}

/// How to build a flow.
#[derive(Debug, Clone, Default)]
pub struct FlowOptions {
    /// Lifelines in this order first (e.g. the clients, then AS and KDC).
    pub order: Vec<String>,
    /// Actor name -> lifeline name (bulk client sets collapse into one).
    pub alias: HashMap<String, String>,
    /// Most arrows drawn.
    pub max_arrows: usize,
    /// Draw empty ACKs and RSTs too.
    pub include_empty: bool,
}

/// A CoAP code as `c.dd` with its name where common.
pub fn code_text(code: u8) -> String {
    let c = ace_proto::Code(code);
    let name = match (c.class(), c.detail()) {
        (2, 1) => " Created",
        (2, 2) => " Deleted",
        (2, 3) => " Valid",
        (2, 4) => " Changed",
        (2, 5) => " Content",
        (4, 0) => " Bad Request",
        (4, 1) => " Unauthorized",
        (4, 2) => " Bad Option",
        (4, 3) => " Forbidden",
        (4, 4) => " Not Found",
        (4, 5) => " Method Not Allowed",
        (4, 15) => " Unsupported Content-Format",
        (5, 0) => " Internal Server Error",
        (5, 3) => " Service Unavailable",
        _ => "",
    };
    format!("{c}{name}")
}

/// The actors that received a multicast datagram, with their positions.
type Receivers = Vec<(String, usize)>;

struct Builder<'a> {
    snap: &'a Snapshot,
    options: &'a FlowOptions,
    lifelines: Vec<String>,
    index: HashMap<String, usize>,
}

impl Builder<'_> {
    fn actor(&self, addr: SocketAddr) -> String {
        self.snap
            .names
            .get(&addr)
            .cloned()
            .unwrap_or_else(|| addr.to_string())
    }

    fn lifeline(&mut self, actor: &str) -> usize {
        let name = self
            .options
            .alias
            .get(actor)
            .cloned()
            .unwrap_or_else(|| actor.to_string());
        if let Some(i) = self.index.get(&name) {
            return *i;
        }
        self.lifelines.push(name.clone());
        let i = self.lifelines.len() - 1;
        self.index.insert(name, i);
        i
    }
}

/// Builds the flow of `snap`.
pub fn build(snap: &Snapshot, options: &FlowOptions) -> Flow {
    let mut b = Builder {
        snap,
        options,
        lifelines: Vec::new(),
        index: HashMap::new(),
    };
    for name in &options.order {
        b.lifeline(name);
    }
    // Received copies: (src, dst, bytes) -> their positions, and the
    // receivers of multicast requests with theirs.
    let mut received: HashMap<(SocketAddr, SocketAddr, &[u8]), VecDeque<usize>> = HashMap::new();
    let mut multicast: HashMap<(SocketAddr, &[u8]), Receivers> = HashMap::new();
    for (i, e) in snap.events.iter().enumerate() {
        if let Event::Datagram(d) = e
            && d.direction == Direction::In
        {
            if d.local.ip().is_multicast() {
                multicast
                    .entry((d.peer, d.bytes.as_slice()))
                    .or_default()
                    .push((d.actor.clone(), i));
            } else {
                received
                    .entry((d.peer, d.local, d.bytes.as_slice()))
                    .or_default()
                    .push_back(i);
            }
        }
    }
    let max = if options.max_arrows == 0 {
        usize::MAX
    } else {
        options.max_arrows
    };
    let mut flow = Flow::default();
    // Items with their order key: a datagram's sent copy is recorded after
    // the send, so its receiver may have recorded (and answered) it first;
    // the earlier of the two copies orders it.
    let mut keyed: Vec<(usize, FlowItem)> = Vec::new();
    let mut seen: HashSet<(SocketAddr, SocketAddr, &[u8])> = HashSet::new();
    let mut answered: HashSet<(SocketAddr, Vec<u8>)> = HashSet::new();
    let mut arrows = 0usize;
    for (index, e) in snap.events.iter().enumerate() {
        match e {
            Event::Step { at, text } => keyed.push((
                index,
                FlowItem::Note {
                    at: *at,
                    text: text.clone(),
                },
            )),
            Event::Datagram(d) if d.primary => {
                let Some((label, kind)) = describe(d, snap, &mut answered) else {
                    continue;
                };
                let (src, dst) = d.endpoints();
                let matched: Option<usize> =
                    if d.direction == Direction::Out && !dst.ip().is_multicast() {
                        received
                            .get_mut(&(src, dst, d.bytes.as_slice()))
                            .and_then(VecDeque::pop_front)
                    } else {
                        None
                    };
                if kind == ArrowKind::Empty && !options.include_empty {
                    continue;
                }
                let retransmission = !seen.insert((src, dst, d.bytes.as_slice()));
                let from = b.lifeline(&b.actor(src));
                let mut key = index;
                let targets: Vec<(usize, bool)> = if dst.ip().is_multicast() {
                    match multicast.get(&(src, d.bytes.as_slice())) {
                        Some(receivers) => {
                            let mut t: Vec<(usize, bool)> = Vec::new();
                            for (r, at) in receivers {
                                key = key.min(*at);
                                let i = b.lifeline(r);
                                if !t.iter().any(|(x, _)| *x == i) {
                                    t.push((i, false));
                                }
                            }
                            t
                        }
                        None => vec![(b.lifeline(&format!("group {dst}")), false)],
                    }
                } else {
                    let lost = d.direction == Direction::Out
                        && snap.tapped.contains(&dst)
                        && matched.is_none();
                    if let Some(at) = matched {
                        key = key.min(at);
                    }
                    vec![(b.lifeline(&b.actor(dst)), lost)]
                };
                for (to, lost) in targets {
                    if arrows >= max {
                        flow.omitted += 1;
                        continue;
                    }
                    arrows += 1;
                    keyed.push((
                        key,
                        FlowItem::Arrow(Arrow {
                            at: d.at,
                            from,
                            to,
                            label: label.clone(),
                            kind,
                            lost,
                            retransmission,
                        }),
                    ));
                }
            }
            Event::Datagram(_) => {}
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    flow.items = keyed.into_iter().map(|(_, item)| item).collect();
    flow.lifelines = b.lifelines;
    flow
}

/// The label and kind of a datagram.
fn describe(
    d: &Datagram,
    snap: &Snapshot,
    answered: &mut HashSet<(SocketAddr, Vec<u8>)>,
) -> Option<(String, ArrowKind)> {
    let m = wire::decode(&d.bytes).ok()?;
    let (src, dst) = d.endpoints();
    let token = m.token.as_bytes().to_vec();
    let oscore = m.options.contains(number::OSCORE);
    if m.code == 0 {
        let label = match m.mtype {
            MessageType::Rst => "RST",
            MessageType::Ack => "ACK",
            _ => "ping",
        };
        return Some((label.to_string(), ArrowKind::Empty));
    }
    if m.is_request() {
        let method = ace_coap::Method::from_code(m.code)
            .map_or_else(|| format!("0.{:02}", m.code), |x| x.to_string());
        let label = if oscore {
            match snap
                .labels
                .get(&(src, token.clone()))
                .and_then(|l| l.request.clone())
            {
                Some(inner) => format!("{inner} [OSCORE]"),
                // The outer Observe of a protected registration is visible
                // (RFC 8613 section 4.1.3.5).
                None if m.options.observe() == Some(0) => "OSCORE (Observe)".to_string(),
                None => "OSCORE".to_string(),
            }
        } else {
            let path: Vec<&str> = m
                .options
                .get_all(number::URI_PATH)
                .map(|p| std::str::from_utf8(p).unwrap_or("?"))
                .collect();
            let query: Vec<&str> = m
                .options
                .get_all(number::URI_QUERY)
                .map(|p| std::str::from_utf8(p).unwrap_or("?"))
                .collect();
            let mut l = format!("{method} /{}", path.join("/"));
            if !query.is_empty() {
                l.push('?');
                l.push_str(&query.join("&"));
            }
            if m.options.observe() == Some(0) {
                l.push_str(" (Observe)");
            }
            l
        };
        return Some((label, ArrowKind::Request));
    }
    // A response: the requester is its destination.
    let key = (dst, token);
    let notification = m.options.contains(number::OBSERVE) && !answered.insert(key.clone());
    if !m.options.contains(number::OBSERVE) {
        answered.insert(key.clone());
    }
    let kind = if notification {
        ArrowKind::Notification
    } else {
        ArrowKind::Response
    };
    let label = if oscore {
        match snap.labels.get(&key).and_then(|l| l.response.clone()) {
            Some(inner) => format!("{inner} [OSCORE]"),
            None => format!("OSCORE {}", ace_proto::Code(m.code)),
        }
    } else {
        code_text(m.code)
    };
    let label = if notification {
        format!("{label} (notification)")
    } else {
        label
    };
    Some((label, kind))
}
