//! An eavesdropper on the group: a plain UDP socket of the runner that a
//! sender includes among the targets of one group request, as a former
//! member still listening on the network would receive it. It keeps every
//! datagram (the protected request, byte for byte) and answers a
//! confirmable one with a Reset (RFC 7252 section 4.2), so the sender does
//! not retransmit to it. Its traffic is tapped into the capture.

use crate::capture::Capture;
use ace_coap::tap::{Direction, TapRecord};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A datagram heard, with its sender.
type Heard = (SocketAddr, Vec<u8>);

/// The eavesdropper.
pub(crate) struct Sniffer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Heard>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sniffer {
    /// Binds on 127.0.0.1 and starts listening.
    pub(crate) async fn start(capture: &Arc<Capture>, name: &str) -> std::io::Result<Self> {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        capture.register(name, addr, true);
        let tap = capture.tap(name);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let bytes = buf[..n].to_vec();
                tap.record(&TapRecord {
                    direction: Direction::In,
                    local: addr,
                    peer: from,
                    time: SystemTime::now(),
                    bytes: &bytes,
                });
                kept.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((from, bytes.clone()));
                // A CON message gets a Reset: type 3, code 0.00, its Message ID.
                if n >= 4 && (bytes[0] >> 4) & 0b11 == 0 && bytes[0] >> 6 == 1 {
                    let rst = [0x70, 0x00, bytes[2], bytes[3]];
                    if socket.send_to(&rst, from).await.is_ok() {
                        tap.record(&TapRecord {
                            direction: Direction::Out,
                            local: addr,
                            peer: from,
                            time: SystemTime::now(),
                            bytes: &rst,
                        });
                    }
                }
            }
        });
        Ok(Self { addr, seen, task })
    }

    /// Its address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every datagram received so far, with its sender.
    pub(crate) fn datagrams(&self) -> Vec<Heard> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
