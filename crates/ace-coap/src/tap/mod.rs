//! Traffic taps: every datagram the endpoint receives or sends can be
//! copied to sinks, such as a pcap file that tshark and Wireshark dissect
//! ([`PcapWriter`]) or a human-readable trace ([`TraceSink`]).

mod capture;
mod inner;
mod pcap;
mod trace;

pub use capture::{Capture, LineSharedWriter};
pub use inner::InnerTrace;
pub use pcap::{PcapPacket, PcapWriter, parse_pcap, read_pcap};
pub use trace::{TraceSink, describe};

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::SystemTime;

/// Whether a datagram was received or sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received by the endpoint.
    In,
    /// Sent by the endpoint.
    Out,
}

/// One datagram as seen by a tap.
#[derive(Clone, Copy, Debug)]
pub struct TapRecord<'a> {
    /// Received or sent.
    pub direction: Direction,
    /// The endpoint's address (a multicast group for a group request it
    /// received).
    pub local: SocketAddr,
    /// The other endpoint (or a multicast group a request was sent to).
    pub peer: SocketAddr,
    /// Wall-clock time.
    pub time: SystemTime,
    /// The UDP payload: one CoAP message.
    pub bytes: &'a [u8],
}

/// Receives a copy of every datagram.
pub trait TapSink: Send + Sync + 'static {
    /// Records one datagram. Called on the endpoint's task; keep it short.
    fn record(&self, record: &TapRecord<'_>);

    /// Flushes buffered output (called when the endpoint shuts down).
    fn flush(&self) {}
}

/// A datagram kept by [`MemorySink`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRecord {
    /// Received or sent.
    pub direction: Direction,
    /// The endpoint's address.
    pub local: SocketAddr,
    /// The other endpoint.
    pub peer: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Keeps every datagram in memory (for tests).
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<OwnedRecord>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the records so far.
    pub fn records(&self) -> Vec<OwnedRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl TapSink for MemorySink {
    fn record(&self, record: &TapRecord<'_>) {
        if let Ok(mut r) = self.records.lock() {
            r.push(OwnedRecord {
                direction: record.direction,
                local: record.local,
                peer: record.peer,
                bytes: record.bytes.to_vec(),
            });
        }
    }
}
