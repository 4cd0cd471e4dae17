//! `ace-kdc serve --pcap FILE --trace FILE`: the pcap holds every datagram
//! of the KDC's endpoint (tshark dissects it as CoAP, the protected
//! exchanges with their OSCORE option), and the trace describes each
//! datagram and names the inner request and response of each protected
//! exchange under the requester's address and the token of the outer
//! messages.

#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod support;

use ace_proto::code::Code;
use ace_proto::roles::group_oscore::REQUESTER;
use std::ffi::OsStr;
use std::time::Duration;
use support::binary::{binary, peer, start_with, terminate};
use support::net::NetClient;
use support::{ClientKeys, TestAs};

/// The CoAP messages of a pcap written by `ace-coap`'s `PcapWriter`
/// (LINKTYPE_RAW, IPv4 here): (source port, destination port, message).
fn pcap_messages(bytes: &[u8]) -> Vec<(u16, u16, ace_coap::wire::Message)> {
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes(), "pcap magic");
    assert_eq!(&bytes[20..24], &101u32.to_le_bytes(), "LINKTYPE_RAW");
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let packet = &bytes[at + 16..at + 16 + len];
        at += 16 + len;
        assert_eq!(packet[0] >> 4, 4, "IPv4");
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        let udp = &packet[ihl..];
        let src = u16::from_be_bytes([udp[0], udp[1]]);
        let dst = u16::from_be_bytes([udp[2], udp[3]]);
        out.push((src, dst, ace_coap::wire::decode(&udp[8..]).unwrap()));
    }
    assert_eq!(at, bytes.len(), "no truncated record");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_writes_a_pcap_and_a_trace_with_the_inner_exchanges() {
    let bin = tokio::task::spawn_blocking(binary).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kdc.sqlite");
    let config = dir.path().join("kdc.toml");
    let pcap = dir.path().join("kdc.pcap");
    let trace = dir.path().join("kdc.trace");
    std::fs::write(&config, support::config_toml(&db, support::GROUPS)).unwrap();
    let mut kdc = start_with(
        &bin,
        &config,
        &[
            OsStr::new("--pcap"),
            pcap.as_os_str(),
            OsStr::new("--trace"),
            trace.as_os_str(),
        ],
    );
    let kdc_addr = kdc.addr;
    let c = NetClient::new(kdc_addr).await;
    let client = c.endpoint.local_addr();
    let authority = TestAs::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exchange = async {
        let m = c
            .member(
                &authority,
                ClientKeys::ed25519(),
                &[("g1", REQUESTER)],
                now + 3600,
            )
            .await;
        let (r, _) = c.join(&m, "g1", REQUESTER, None, false).await;
        assert_eq!(r.code, Code::CREATED);
        assert_eq!(c.get(&m, "/ace-group/g1/num").await.code, Code::CONTENT);
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = terminate(&mut kdc);
        drop(kdc);
        status
    })
    .await
    .unwrap();
    assert!(status.success(), "{status}");

    // The pcap: the token POST, the join and the GET, each answered; the
    // protected ones carry the OSCORE option and no Uri-Path.
    let messages = pcap_messages(&std::fs::read(&pcap).unwrap());
    let from_client: Vec<_> = messages
        .iter()
        .filter(|(src, dst, m)| *src == client.port() && *dst == kdc_addr.port() && m.code != 0)
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(from_client.len(), 3, "{messages:?}");
    let protected: Vec<_> = from_client
        .iter()
        .filter(|m| m.options.contains(ace_coap::option::number::OSCORE))
        .collect();
    assert_eq!(protected.len(), 2);
    assert!(
        protected
            .iter()
            .all(|m| !m.options.contains(ace_coap::option::number::URI_PATH))
    );
    for m in &from_client {
        assert!(
            messages
                .iter()
                .any(|(src, _, r)| *src == kdc_addr.port() && r.token == m.token && r.code >= 0x40),
            "no answer to {m:?}"
        );
    }

    // The trace: the datagrams, and the inner exchange of each protected
    // request under the outer token.
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(
        text.contains(&format!("{kdc_addr} <- {client}  CON POST")),
        "{text}"
    );
    assert!(text.contains(r#"Uri-Path:"authz-info""#), "{text}");
    let inner: Vec<&str> = text.lines().filter(|l| l.starts_with("inner")).collect();
    assert_eq!(
        inner,
        vec![
            format!(
                "inner {client} token={} POST /ace-group/g1 -> 2.01",
                protected[0].token
            ),
            format!(
                "inner {client} token={} GET /ace-group/g1/num -> 2.05",
                protected[1].token
            ),
        ]
    );

    // An independent dissector reads the same file.
    let Some(tshark) = peer("tshark") else { return };
    let out = tokio::process::Command::new(tshark)
        .arg("-r")
        .arg(&pcap)
        .args(["-d", &format!("udp.port=={},coap", kdc_addr.port())])
        .args(["-T", "fields", "-E", "separator=|"])
        .args([
            "-e",
            "coap.code",
            "-e",
            "coap.token",
            "-e",
            "coap.opt.object_security_piv",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fields = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), messages.len(), "{fields}");
    for m in &protected {
        let token = m.token.to_string();
        let row = rows
            .iter()
            .find(|r| r[1] == token && r[0] == "2")
            .unwrap_or_else(|| panic!("no outer POST with token {token} in {fields}"));
        assert!(
            !row[2].is_empty(),
            "the OSCORE option's Partial IV: {fields}"
        );
    }
}
