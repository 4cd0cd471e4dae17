//! `ace-kdc serve` under a burst: many clients that send at the same moment
//! must find room in the KDC's UDP receive buffer. The configuration's
//! default `socket_buffer` (4 MiB) queues them; the system default (about
//! 208 KiB on Linux) overflowed with a few hundred join requests, and a
//! dropped CON request waits ACK_TIMEOUT (2 s or more, RFC 7252 section
//! 4.8) for its retransmission.

#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod support;

use ace_coap::option::number;
use ace_coap::wire::{self, Message, MessageType, Token};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use support::binary::{binary, start};

/// Requests sent back to back, without waiting for any answer, when the
/// kernel grants the KDC its 4 MiB: they take about 5 MB of the 8 MiB the
/// kernel then accounts (a small datagram costs it about 1.7 KB), while the
/// system default holds about 250.
const BURST: u64 = 3000;

/// The burst scaled down to what the kernel grants of the `asked` buffer:
/// Linux caps a socket's buffer at `net.core.rmem_max` (the KDC logs a
/// warning then).
fn burst(asked: usize) -> u16 {
    let asked = asked as u64;
    let rmem_max = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(asked);
    let granted = rmem_max.min(asked);
    let burst = BURST * granted / asked;
    if granted < asked {
        eprintln!("net.core.rmem_max is {rmem_max}: a burst of {burst} instead of {BURST}");
    }
    u16::try_from(burst).unwrap()
}

/// A NON GET of `/no-such-resource` with message ID and token `n`.
fn request(n: u16) -> Vec<u8> {
    let mut message = Message::empty(MessageType::Non, n);
    message.code = 0x01;
    message.token = Token::new(&n.to_be_bytes()).unwrap();
    message
        .options
        .push(number::URI_PATH, b"no-such-resource".to_vec());
    wire::encode(&message, 1152).unwrap()
}

/// A socket of ours with room for every answer.
fn client_socket() -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_recv_buffer_size(8 << 20).unwrap();
    socket.set_send_buffer_size(8 << 20).unwrap();
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.into()
}

#[test]
fn a_burst_of_requests_is_queued_not_dropped() {
    let bin = binary();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kdc.sqlite");
    let config = dir.path().join("kdc.toml");
    // The configuration does not set `socket_buffer`: the default applies.
    let text = support::config_toml(&db, support::GROUPS);
    assert!(!text.contains("socket_buffer"));
    std::fs::write(&config, text).unwrap();
    let asked = support::config(&db, support::GROUPS).socket_buffer.unwrap();
    let kdc = start(&bin, &config);
    let burst = burst(asked);

    let socket = client_socket();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // Answers are read while the burst is sent, so that our own buffer is
    // not what drops them.
    let reader = socket.try_clone().unwrap();
    let answers = std::thread::spawn(move || {
        let mut answered = HashSet::new();
        let mut buf = [0u8; 1500];
        let deadline = Instant::now() + Duration::from_secs(20);
        while answered.len() < usize::from(burst) && Instant::now() < deadline {
            let Ok(n) = reader.recv(&mut buf) else {
                continue;
            };
            let message = wire::decode(&buf[..n]).unwrap();
            assert_eq!(message.code, 0x84, "4.04 Not Found");
            let token: [u8; 2] = message.token.as_bytes().try_into().unwrap();
            answered.insert(u16::from_be_bytes(token));
        }
        answered
    });
    let started = Instant::now();
    for n in 0..burst {
        socket.send_to(&request(n), kdc.addr).unwrap();
    }
    let answered = answers.join().unwrap();
    let missing: Vec<u16> = (0..burst).filter(|n| !answered.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {burst} requests unanswered after {:?} (first: {:?})",
        missing.len(),
        started.elapsed(),
        &missing[..missing.len().min(10)]
    );
}
