//! IPv6 group requests (RFC 7252 section 8) to All CoAP Nodes, link-local
//! scope (`ff02::fd`), reaching two servers.
//!
//! Linux cannot carry IPv6 multicast over `lo`: it turns any non-local
//! route via the loopback device into a reject route, so a send to
//! `ff02::fd` on `lo` fails (or, with a route forced in, is dropped), and
//! `endpoint.rs` asserts that limitation precisely (ENETUNREACH). The closest stand-in
//! for loopback that does carry IPv6 multicast is a veth pair inside a
//! private network namespace: traffic never leaves this host, and the
//! host's interfaces are untouched. This test re-runs itself inside `unshare --user
//! --map-root-user --net` after creating the pair there (`ip link add`).
//! It needs `unshare` (util-linux), `ip` (iproute2) and user namespaces:
//! a missing tool fails it under `ACE_REQUIRE_PEERS=1` (set by
//! `scripts/test`, whose `setup-peers` installs iproute2 when missing); a
//! sandbox that forbids user namespaces or veth pairs makes it say so and
//! pass, since no installation can change that.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_coap::{CoapEndpoint, MulticastGroup, Request, Response, Router};
use common::{bounded, config};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Set, with the veth pair's interface indexes, in the copy of the test
/// that runs inside the namespace (`/sys` there still shows the host's
/// interfaces, so the indexes come from `ip`).
const CLIENT_IF: &str = "ACE_COAP_NETNS_CLIENT_IF";
const SERVER_IF: &str = "ACE_COAP_NETNS_SERVER_IF";

const LIMIT: Duration = Duration::from_secs(30);

/// Creates the veth pair `va` (client side) and `vb` (servers' side) with
/// duplicate address detection off, waits until both have their link-local
/// address, and runs the test binary (`$0`) on the one test given.
const NAMESPACE_SETUP: &str = r#"
set -e
sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
ip link add va type veth peer name vb
ip link set va up
ip link set vb up
i=0
until ip -6 addr show dev va | grep -q 'inet6 fe80' && ip -6 addr show dev vb | grep -q 'inet6 fe80'; do
    i=$((i + 1)); [ "$i" -lt 100 ] || { echo "veth link-local addresses never appeared" >&2; exit 1; }
    sleep 0.05
done
export ACE_COAP_NETNS_CLIENT_IF="$(ip -o link show dev va | cut -d: -f1)"
export ACE_COAP_NETNS_SERVER_IF="$(ip -o link show dev vb | cut -d: -f1)"
exec "$0" --exact "$1" --nocapture --test-threads 1
"#;

/// Runs `test` of this binary inside a fresh user and network namespace;
/// `None` when no such namespace can be made here.
async fn rerun_in_private_netns(test: &str) -> Option<std::process::ExitStatus> {
    let usable = tokio::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--net",
            "ip",
            "link",
            "add",
            "va",
            "type",
            "veth",
            "peer",
            "name",
            "vb",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !usable {
        return None;
    }
    let mut child = tokio::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--net",
            "sh",
            "-c",
            NAMESPACE_SETUP,
        ])
        .arg(std::env::current_exe().unwrap())
        .arg(test)
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    Some(
        tokio::time::timeout(LIMIT, child.wait())
            .await
            .expect("the test run in the namespace timed out")
            .unwrap(),
    )
}

fn index(var: &str) -> Option<u32> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn ipv6_group_request_reaches_two_servers() {
    let (Some(client_if), Some(server_if)) = (index(CLIENT_IF), index(SERVER_IF)) else {
        match rerun_in_private_netns("ipv6_group_request_reaches_two_servers").await {
            Some(status) => assert!(
                status.success(),
                "the test in the namespace failed: {status}"
            ),
            None => {
                // The tools are installable (scripts/setup-peers); a
                // sandbox that forbids user namespaces is not, so only the
                // tools are required under ACE_REQUIRE_PEERS=1.
                for tool in ["unshare", "ip"] {
                    let _ = common::peer(tool);
                }
                eprintln!(
                    "not proven here: no private user+network namespace with a veth pair can be made (user namespaces or veth not permitted)"
                );
            }
        }
        return;
    };
    bounded(LIMIT, async move {
        let any: SocketAddr = "[::]:0".parse().unwrap();
        let port = std::net::UdpSocket::bind("[::]:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let group = MulticastGroup::v6(
            ace_coap::runtime::socket::ALL_COAP_NODES_V6_LINK,
            port,
            server_if,
        );
        let mut servers = Vec::new();
        for name in ["one", "two"] {
            let router = Router::new().get("/who", move |_req: Request| async move {
                Response::content(name)
            });
            servers.push(
                CoapEndpoint::bind(config(any).join(group.clone()), router.into_handler())
                    .await
                    .unwrap(),
            );
        }
        let mut cfg = config(any);
        cfg.socket.multicast_interface_v6 = Some(client_if);
        let client = CoapEndpoint::bind(cfg, ace_coap::handler::not_found())
            .await
            .unwrap();
        let destination = SocketAddr::V6(std::net::SocketAddrV6::new(
            ace_coap::runtime::socket::ALL_COAP_NODES_V6_LINK,
            port,
            0,
            client_if,
        ));
        let responses = client
            .group_request(
                destination,
                Request::get("/who"),
                Duration::from_millis(1500),
            )
            .await
            .unwrap();
        // Each server answers by unicast from its own port, from the
        // link-local address of the servers' side of the pair.
        let mut got: Vec<(u16, Vec<u8>)> = responses
            .iter()
            .map(|(a, r)| (a.port(), r.payload.clone()))
            .collect();
        got.sort();
        let mut expected = vec![
            (servers[0].local_addr().port(), b"one".to_vec()),
            (servers[1].local_addr().port(), b"two".to_vec()),
        ];
        expected.sort();
        assert_eq!(got, expected);
        for (from, _) in &responses {
            let SocketAddr::V6(v6) = from else {
                panic!("an IPv4 answer: {from}")
            };
            assert!(v6.ip().is_unicast_link_local(), "answer from {from}");
            assert_ne!(*v6.ip(), Ipv6Addr::LOCALHOST);
        }
        // An unknown resource: both servers stay silent (RFC 7252 section 8.2).
        let none = client
            .group_request(
                destination,
                Request::get("/nothing"),
                Duration::from_millis(200),
            )
            .await
            .unwrap();
        assert!(none.is_empty());
    })
    .await;
}
