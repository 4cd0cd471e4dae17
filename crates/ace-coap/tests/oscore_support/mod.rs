//! Helpers shared by the OSCORE integration tests: endpoints on loopback
//! with the OSCORE option declared, context pairs, Group OSCORE members,
//! and a tap that decodes what crossed the wire.
#![allow(clippy::unwrap_used)] // tests may unwrap
#![allow(dead_code)] // each test binary uses a subset

use ace_coap::oscore::{self, GroupMember, OscoreContexts};
use ace_coap::tap::{Direction, MemorySink};
use ace_coap::wire::Message;
use ace_coap::{CoapEndpoint, EndpointConfig, Layer, ProtocolConfig, SharedHandler};
use ace_proto::credential::Credential as Ccs;
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use group_oscore::group::{
    CountersignatureStructure, Credential, GroupParams, GroupSecurity, Member, OwnIdentity,
};
use group_oscore::{ContextParams, SecurityContext};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Upper bound of every test.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Fails the test instead of hanging.
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test step timed out")
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Test transmission parameters with the OSCORE option declared.
pub fn protocol() -> ProtocolConfig {
    oscore::protocol_config(ProtocolConfig::fast_for_tests())
}

pub fn config() -> EndpointConfig {
    EndpointConfig::new(loopback()).protocol(protocol())
}

/// A server endpoint serving `handler` behind the OSCORE layer of `table`.
pub async fn server<L: oscore::Label>(
    table: &Arc<OscoreContexts<L>>,
    handler: SharedHandler,
) -> CoapEndpoint {
    server_with(table, handler, config()).await
}

pub async fn server_with<L: oscore::Label>(
    table: &Arc<OscoreContexts<L>>,
    handler: SharedHandler,
    config: EndpointConfig,
) -> CoapEndpoint {
    CoapEndpoint::bind(config, table.server_layer().layer(handler))
        .await
        .unwrap()
}

/// A client-only endpoint.
pub async fn client_endpoint() -> CoapEndpoint {
    CoapEndpoint::bind(config(), ace_coap::handler::not_found())
        .await
        .unwrap()
}

pub const SECRET: [u8; 16] = [
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
];
pub const SALT: [u8; 8] = [0x9e, 0x7c, 0xa9, 0x22, 0x23, 0x78, 0x63, 0x40];

/// The server's and the client's parameters for one context (server
/// Sender ID `server_id`, client Sender ID `client_id`).
pub fn params(client_id: &[u8], server_id: &[u8]) -> (ContextParams, ContextParams) {
    (
        ContextParams::new(&SECRET, server_id, client_id).master_salt(&SALT),
        ContextParams::new(&SECRET, client_id, server_id).master_salt(&SALT),
    )
}

/// The server's and the client's contexts.
pub fn pair(client_id: &[u8], server_id: &[u8]) -> (SecurityContext, SecurityContext) {
    let (s, c) = params(client_id, server_id);
    (
        SecurityContext::new(&s).unwrap(),
        SecurityContext::new(&c).unwrap(),
    )
}

/// The CoAP messages a tap saw in `direction`.
pub fn messages(sink: &MemorySink, direction: Direction) -> Vec<Message> {
    sink.records()
        .into_iter()
        .filter(|r| r.direction == direction)
        .filter_map(|r| ace_coap::wire::decode(&r.bytes).ok())
        .collect()
}

/// One member's identity in a test group.
pub struct Identity {
    pub sender_id: Vec<u8>,
    pub key: SigningKey,
    pub credential: Vec<u8>,
}

/// A test group: Gid, secrets, the Group Manager's credential and the
/// members' identities.
pub struct TestGroup {
    pub alg: SignatureAlgorithm,
    pub gid: Vec<u8>,
    pub secret: Vec<u8>,
    pub salt: Vec<u8>,
    pub gm_credential: Vec<u8>,
    pub members: Vec<Identity>,
    pub structure: CountersignatureStructure,
}

impl TestGroup {
    /// A group of `n` members with Sender IDs 0x10, 0x11, ...
    pub fn new(alg: SignatureAlgorithm, n: u8) -> Self {
        let gm = SigningKey::generate(alg);
        Self {
            alg,
            gid: ace_proto::keys::random_bytes(4),
            secret: ace_proto::keys::random_bytes(16),
            salt: ace_proto::keys::random_bytes(8),
            gm_credential: Ccs::ccs_for_signing_key(&gm, "gm", None).into_bytes(),
            members: (0..n)
                .map(|i| {
                    let key = SigningKey::generate(alg);
                    let credential =
                        Ccs::ccs_for_signing_key(&key, &format!("member-{i}"), None).into_bytes();
                    Identity {
                        sender_id: vec![0x10 + i],
                        key,
                        credential,
                    }
                })
                .collect(),
            structure: CountersignatureStructure::Rfc9338,
        }
    }

    pub fn params(&self) -> GroupParams {
        GroupParams::new(&self.gid, &self.secret, self.alg, &self.gm_credential)
            .master_salt(&self.salt)
            .countersignature(self.structure)
    }

    pub fn member_entry(&self, i: usize) -> Member {
        let m = &self.members[i];
        Member::new(
            &m.sender_id,
            Credential::new(&m.credential, m.key.verifying_key()).unwrap(),
        )
    }

    /// Member `i`'s Group OSCORE state, knowing every other member (with
    /// their roles from `roles`, if given).
    pub fn security(&self, i: usize, roles: &[Option<u64>]) -> GroupSecurity {
        let me = &self.members[i];
        let mut own = OwnIdentity::new(&me.sender_id, me.key.clone(), &me.credential);
        if let Some(Some(r)) = roles.get(i) {
            own = own.with_roles(*r);
        }
        let others = (0..self.members.len()).filter(|&j| j != i).map(|j| {
            let mut m = self.member_entry(j);
            if let Some(Some(r)) = roles.get(j) {
                m = m.with_roles(*r);
            }
            m
        });
        GroupSecurity::new(self.params(), own, others).unwrap()
    }

    pub fn member(&self, i: usize) -> GroupMember {
        GroupMember::new(self.security(i, &[]))
    }
}

/// A raw UDP peer that sends hand-made (e.g. replayed or tampered) CoAP
/// messages and reads what comes back.
pub struct Raw {
    pub socket: tokio::net::UdpSocket,
    next_mid: u16,
}

impl Raw {
    pub async fn new() -> Self {
        Self {
            socket: tokio::net::UdpSocket::bind(loopback()).await.unwrap(),
            next_mid: 0x4000,
        }
    }

    /// Sends `packet` as a CON with a fresh Message ID and returns the
    /// piggybacked response, or `None` if nothing but an empty ACK (or
    /// nothing at all) arrives within `wait`.
    pub async fn exchange(
        &mut self,
        to: SocketAddr,
        packet: &coap_lite::Packet,
        wait: Duration,
    ) -> Option<Message> {
        let mut p = packet.clone();
        p.header.set_type(coap_lite::MessageType::Confirmable);
        self.next_mid = self.next_mid.wrapping_add(1);
        p.header.message_id = self.next_mid;
        if p.get_token().is_empty() {
            p.set_token(self.next_mid.to_be_bytes().to_vec());
        }
        self.socket
            .send_to(&p.to_bytes().unwrap(), to)
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = vec![0u8; 2048];
        loop {
            let got = tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await;
            let Ok(Ok((n, _))) = got else {
                return None;
            };
            let Ok(m) = ace_coap::wire::decode(&buf[..n]) else {
                continue;
            };
            if m.mid == self.next_mid && m.code != 0 {
                return Some(m);
            }
        }
    }
}

impl Raw {
    /// Sends `packet` as CON (`confirmable`) or NON with a fresh Message ID
    /// (or `mid`, to retransmit) and returns the Message ID used.
    pub async fn send(
        &mut self,
        to: SocketAddr,
        packet: &coap_lite::Packet,
        confirmable: bool,
        mid: Option<u16>,
    ) -> u16 {
        let mut p = packet.clone();
        p.header.set_type(if confirmable {
            coap_lite::MessageType::Confirmable
        } else {
            coap_lite::MessageType::NonConfirmable
        });
        let mid = mid.unwrap_or_else(|| {
            self.next_mid = self.next_mid.wrapping_add(1);
            self.next_mid
        });
        p.header.message_id = mid;
        if p.get_token().is_empty() {
            p.set_token(mid.to_be_bytes().to_vec());
        }
        self.socket
            .send_to(&p.to_bytes().unwrap(), to)
            .await
            .unwrap();
        mid
    }

    /// Every CoAP message that arrives within `wait`.
    pub async fn collect(&mut self, wait: Duration) -> Vec<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = vec![0u8; 2048];
        let mut out = Vec::new();
        while let Ok(Ok((n, _))) =
            tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await
        {
            if let Ok(m) = ace_coap::wire::decode(&buf[..n]) {
                out.push(m);
            }
        }
        out
    }
}

/// Whether `m` is an empty ACK for Message ID `mid` (RFC 7252 section 4.2).
pub fn is_empty_ack(m: &Message, mid: u16) -> bool {
    m.mtype == ace_coap::wire::MessageType::Ack && m.code == 0 && m.mid == mid
}

/// A request packet with `code`, Uri-Path from `path` and `payload`.
pub fn request_packet(code: u8, path: &str, payload: &[u8]) -> coap_lite::Packet {
    let mut p = coap_lite::Packet::new();
    p.header.code = coap_lite::MessageClass::from(code);
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        p.add_option(coap_lite::CoapOption::UriPath, seg.as_bytes().to_vec());
    }
    p.payload = payload.to_vec();
    p
}

/// The diagnostic payload of a response, as text.
pub fn diagnostic(m: &Message) -> String {
    String::from_utf8_lossy(&m.payload).into_owned()
}
