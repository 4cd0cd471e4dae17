//! A pcap writer (the classic libpcap format) with synthesised IPv4/IPv6 and
//! UDP headers around each CoAP datagram, so tshark and Wireshark dissect
//! the file (link type LINKTYPE_RAW, 101: packets begin with an IP header).
//!
//! Wireshark decodes UDP port 5683 as CoAP by default; for other ports use
//! "Decode As" or `tshark -d udp.port==PORT,coap`.
//!
//! [`read_pcap`] reads such a file back (e.g. the captures of several
//! processes, to merge them into one timeline).

use super::{Direction, TapRecord, TapSink};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// pcap magic for microsecond timestamps.
const MAGIC: u32 = 0xa1b2_c3d4;
/// LINKTYPE_RAW: raw IPv4 or IPv6 packets.
const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65_535;

/// Writes every datagram to a pcap file.
pub struct PcapWriter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for PcapWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PcapWriter")
    }
}

impl PcapWriter {
    /// Creates (or truncates) a pcap file and writes its header.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::new(Box::new(BufWriter::new(File::create(path)?)))
    }

    /// Writes pcap to any writer.
    pub fn new(mut out: Box<dyn Write + Send>) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&header)?;
        out.flush()?;
        Ok(Self {
            out: Mutex::new(out),
        })
    }
}

impl TapSink for PcapWriter {
    fn record(&self, record: &TapRecord<'_>) {
        let (src, dst) = match record.direction {
            Direction::In => (record.peer, record.local),
            Direction::Out => (record.local, record.peer),
        };
        let packet = ip_udp_packet(src, dst, record.bytes);
        let since = record.time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let mut rec = Vec::with_capacity(16 + packet.len());
        rec.extend_from_slice(
            &u32::try_from(since.as_secs())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        rec.extend_from_slice(&since.subsec_micros().to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&packet);
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(&rec);
            let _ = out.flush();
        }
    }

    fn flush(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

/// Both addresses as IPv6 if either is (IPv4 becomes v4-mapped).
fn unify(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V6(y)) => (IpAddr::V6(x.to_ipv6_mapped()), IpAddr::V6(y)),
        (IpAddr::V6(x), IpAddr::V4(y)) => (IpAddr::V6(x), IpAddr::V6(y.to_ipv6_mapped())),
        other => other,
    }
}

/// The one's-complement sum of 16-bit words (RFC 1071).
fn checksum_add(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn checksum_finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IP packet carrying one UDP datagram with correct lengths and
/// checksums.
fn ip_udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&u16::try_from(udp_len).unwrap_or(u16::MAX).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    match unify(src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + udp_len;
            let mut ip = Vec::with_capacity(total);
            ip.extend_from_slice(&[0x45, 0]);
            ip.extend_from_slice(&u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let hsum = checksum_finish(checksum_add(0, &ip));
            ip[10..12].copy_from_slice(&hsum.to_be_bytes());
            // UDP checksum over the IPv4 pseudo-header (RFC 768).
            let mut sum = checksum_add(0, &s.octets());
            sum = checksum_add(sum, &d.octets());
            sum += 17 + udp_len as u32;
            sum = checksum_add(sum, &udp);
            let c = match checksum_finish(sum) {
                0 => 0xffff,
                c => c,
            };
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            ip.extend_from_slice(&udp);
            ip
        }
        (s, d) => {
            let s = as_v6(s);
            let d = as_v6(d);
            let mut ip = Vec::with_capacity(40 + udp_len);
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            ip.extend_from_slice(&u16::try_from(udp_len).unwrap_or(u16::MAX).to_be_bytes());
            ip.extend_from_slice(&[17, 64]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            // UDP checksum over the IPv6 pseudo-header (RFC 8200 section 8.1).
            let mut sum = checksum_add(0, &s.octets());
            sum = checksum_add(sum, &d.octets());
            sum += udp_len as u32 + 17;
            sum = checksum_add(sum, &udp);
            let c = match checksum_finish(sum) {
                0 => 0xffff,
                c => c,
            };
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            ip.extend_from_slice(&udp);
            ip
        }
    }
}

fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// One UDP datagram read back from a pcap file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapPacket {
    /// The capture time.
    pub time: SystemTime,
    /// Source address (a v4-mapped IPv6 address is given as IPv4).
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// Reads the UDP datagrams of a pcap file as [`PcapWriter`] writes it
/// (classic format, microsecond timestamps, LINKTYPE_RAW). Packets that
/// are not UDP over IPv4 or IPv6 are skipped. A last record cut short (its
/// writer was killed while writing it) ends the list without an error.
///
/// # Errors
/// The file cannot be read, or it is not such a pcap file.
pub fn read_pcap(path: impl AsRef<Path>) -> io::Result<Vec<PcapPacket>> {
    parse_pcap(&std::fs::read(path)?)
}

/// [`read_pcap`] on the bytes of a file.
///
/// # Errors
/// Not a little-endian microsecond pcap file with link type RAW.
pub fn parse_pcap(bytes: &[u8]) -> io::Result<Vec<PcapPacket>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let word = |at: usize| -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        u32::from_le_bytes(b)
    };
    if bytes.len() < 24 || word(0) != MAGIC {
        return Err(invalid("not a little-endian microsecond pcap file"));
    }
    if word(20) != LINKTYPE_RAW {
        return Err(invalid("pcap link type is not RAW (101)"));
    }
    let mut packets = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let secs = word(at);
        let micros = word(at + 4);
        let len = word(at + 8) as usize;
        let Some(data) = bytes.get(at + 16..at + 16 + len) else {
            break;
        };
        at += 16 + len;
        if let Some((src, dst, payload)) = udp_of(data) {
            packets.push(PcapPacket {
                time: UNIX_EPOCH
                    + Duration::from_secs(u64::from(secs))
                    + Duration::from_micros(u64::from(micros)),
                src,
                dst,
                payload: payload.to_vec(),
            });
        }
    }
    Ok(packets)
}

/// The addresses and payload of an IPv4 or IPv6 packet carrying UDP.
fn udp_of(packet: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let version = packet.first()? >> 4;
    let (src, dst, udp) = match version {
        4 => {
            let header = usize::from(packet[0] & 0x0f) * 4;
            if header < 20 || *packet.get(9)? != 17 {
                return None;
            }
            let octets = |at: usize| -> Option<IpAddr> {
                let b: [u8; 4] = packet.get(at..at + 4)?.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(b)))
            };
            (octets(12)?, octets(16)?, packet.get(header..)?)
        }
        6 => {
            if *packet.get(6)? != 17 {
                return None;
            }
            let octets = |at: usize| -> Option<IpAddr> {
                let b: [u8; 16] = packet.get(at..at + 16)?.try_into().ok()?;
                let v6 = Ipv6Addr::from(b);
                Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
            };
            (octets(8)?, octets(24)?, packet.get(40..)?)
        }
        _ => return None,
    };
    let port =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*udp.get(at)?, *udp.get(at + 1)?])) };
    let udp_len = usize::from(port(4)?);
    let payload = udp.get(8..udp_len.max(8))?;
    Some((
        SocketAddr::new(src, port(0)?),
        SocketAddr::new(dst, port(2)?),
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = ip_udp_packet(
            "127.0.0.1:5683".parse().unwrap(),
            "127.0.0.1:40000".parse().unwrap(),
            b"\x40\x01\x00\x01",
        );
        assert_eq!(p.len(), 20 + 8 + 4);
        // A correct header sums to 0xffff, i.e. the finished checksum is 0.
        assert_eq!(checksum_finish(checksum_add(0, &p[..20])), 0);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 32);
        assert_eq!(&p[20..22], &5683u16.to_be_bytes());
        // The UDP checksum verifies over the pseudo-header.
        let mut sum = checksum_add(0, &p[12..20]);
        sum += 17 + 12;
        sum = checksum_add(sum, &p[20..]);
        assert_eq!(checksum_finish(sum), 0);
    }

    #[test]
    fn ipv6_packet_layout() {
        let p = ip_udp_packet(
            "[::1]:5683".parse().unwrap(),
            "127.0.0.1:1".parse().unwrap(),
            b"abc",
        );
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(p.len(), 40 + 8 + 3);
        assert_eq!(p[6], 17);
        let mut sum = checksum_add(0, &p[8..40]);
        sum += 11 + 17;
        sum = checksum_add(sum, &p[40..]);
        assert_eq!(checksum_finish(sum), 0);
    }

    #[test]
    fn what_is_written_reads_back() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = PcapWriter::new(Box::new(Shared(buf.clone()))).unwrap();
        let time = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let records = [
            (
                "127.0.0.1:5683",
                "127.0.0.1:40000",
                Direction::Out,
                &b"\x40\x01\x00\x01"[..],
            ),
            ("[::1]:5683", "[::1]:1", Direction::In, &b"abc"[..]),
            ("127.0.0.1:7", "[::1]:9", Direction::Out, &b""[..]),
        ];
        for (local, peer, direction, bytes) in records {
            writer.record(&TapRecord {
                direction,
                local: local.parse().unwrap(),
                peer: peer.parse().unwrap(),
                time,
                bytes,
            });
        }
        let mut file = buf.lock().unwrap().clone();
        let packets = parse_pcap(&file).unwrap();
        assert_eq!(packets.len(), 3);
        assert_eq!(packets[0].time, time);
        assert_eq!(packets[0].src, "127.0.0.1:5683".parse().unwrap());
        assert_eq!(packets[0].dst, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(packets[0].payload, b"\x40\x01\x00\x01");
        // Received: the peer is the source.
        assert_eq!(packets[1].src, "[::1]:1".parse().unwrap());
        assert_eq!(packets[1].dst, "[::1]:5683".parse().unwrap());
        // A v4-mapped address comes back as IPv4.
        assert_eq!(packets[2].src, "127.0.0.1:7".parse().unwrap());
        assert!(packets[2].payload.is_empty());
        // A record cut short ends the list; a wrong header is an error.
        file.truncate(file.len() - 3);
        assert_eq!(parse_pcap(&file).unwrap().len(), 2);
        assert!(parse_pcap(&file[..20]).is_err());
        let mut other = file.clone();
        other[20] = 1;
        assert!(parse_pcap(&other).is_err());
    }

    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
