//! Interop with libcoap 4.3.1 (Debian `libcoap3-bin`): `coap-client-notls`
//! against our server, and our client against `coap-server-notls`.
//! Missing peers fail the test under `ACE_REQUIRE_PEERS=1` and are skipped
//! with a notice otherwise.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_coap::option::number;
use ace_coap::{CoapEndpoint, Code, Request, RequestOptions, Resource, Response, Router};
use common::{bounded, client, peer, server};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::process::{Child, Command};

const LIMIT: Duration = Duration::from_secs(60);

/// The 1500-byte body of libcoap's `/example_data` resource, and ours.
fn alphabet_body(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut letter = b'a';
    while out.len() < len {
        out.push(letter);
        out.extend_from_slice(b"123456789");
        letter = if letter == b'z' { b'a' } else { letter + 1 };
    }
    out.truncate(len);
    out
}

/// Runs coap-client-notls with `args` and returns its standard output.
async fn coap_client(bin: &Path, args: &[&str]) -> (std::process::ExitStatus, Vec<u8>) {
    let out = Command::new(bin)
        .args(["-B", "5"])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run coap-client-notls");
    // coap-client ends its output with a newline of its own.
    let mut stdout = out.stdout;
    if stdout.last() == Some(&b'\n') {
        stdout.pop();
    }
    (out.status, stdout)
}

fn our_router(counter: Arc<AtomicU32>) -> Router {
    Router::new()
        .get("/hello", |_req: Request| async {
            Response::content("hello from ace-coap").with_content_format(0)
        })
        .post("/echo", |req: Request| async move {
            Response::changed().with_payload(req.payload)
        })
        .fetch("/echo", |req: Request| async move {
            Response::content([b"fetched:".as_slice(), &req.payload].concat())
        })
        .get("/big", |_req: Request| async {
            Response::content(alphabet_body(1500))
        })
        .resource(
            Resource::new("/counter")
                .get(move |_req: Request| {
                    let v = counter.load(Ordering::SeqCst);
                    async move { Response::content(format!("n={v};")) }
                })
                .observable()
                .rt("counter"),
        )
}

#[tokio::test]
async fn libcoap_client_against_our_server() {
    let Some(bin) = peer("coap-client-notls") else {
        return;
    };
    bounded(LIMIT, async {
        let counter = Arc::new(AtomicU32::new(0));
        let s = server(our_router(counter.clone()).into_handler()).await;
        let base = format!("coap://127.0.0.1:{}", s.local_addr().port());

        // GET
        let (status, out) = coap_client(&bin, &["-m", "get", &format!("{base}/hello")]).await;
        assert!(status.success());
        assert_eq!(out, b"hello from ace-coap");

        // POST with a payload
        let (_, out) = coap_client(
            &bin,
            &["-m", "post", "-e", "posted data", &format!("{base}/echo")],
        )
        .await;
        assert_eq!(out, b"posted data");

        // FETCH (RFC 8132)
        let (_, out) = coap_client(
            &bin,
            &["-m", "fetch", "-e", "query", &format!("{base}/echo")],
        )
        .await;
        assert_eq!(out, b"fetched:query");

        // Block-wise response (Block2) with 64-byte blocks chosen by the client.
        let (_, out) = coap_client(&bin, &["-m", "get", "-b", "64", &format!("{base}/big")]).await;
        assert_eq!(out, alphabet_body(1500));
        // And with our default 1024-byte blocks.
        let (_, out) = coap_client(&bin, &["-m", "get", &format!("{base}/big")]).await;
        assert_eq!(out, alphabet_body(1500));

        // Block-wise request (Block1): libcoap uploads 3000 bytes in 64-byte blocks.
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), alphabet_body(3000)).unwrap();
        let path = file.path().to_str().unwrap().to_owned();
        let (_, out) = coap_client(
            &bin,
            &[
                "-m",
                "post",
                "-b",
                "64",
                "-f",
                &path,
                &format!("{base}/echo"),
            ],
        )
        .await;
        assert_eq!(out, alphabet_body(3000));

        // /.well-known/core
        let (_, out) = coap_client(&bin, &["-m", "get", &format!("{base}/.well-known/core")]).await;
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("</hello>"), "{text}");
        assert!(text.contains(r#"</counter>;rt="counter";obs"#), "{text}");
        let (_, out) = coap_client(
            &bin,
            &["-m", "get", &format!("{base}/.well-known/core?rt=counter")],
        )
        .await;
        assert_eq!(out, br#"</counter>;rt="counter";obs"#);

        // Observe (-s): notifications while the counter changes.
        let notifier = s.notifier();
        let ticker = {
            let counter = counter.clone();
            tokio::spawn(async move {
                for i in 1..=30 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    counter.store(i, Ordering::SeqCst);
                    notifier.notify("/counter");
                }
            })
        };
        let (_, out) = coap_client(&bin, &["-s", "2", &format!("{base}/counter")]).await;
        ticker.abort();
        let text = String::from_utf8(out).unwrap();
        let values: Vec<u32> = text
            .split(';')
            .filter_map(|v| v.trim().strip_prefix("n="))
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(values.len() >= 5, "several notifications arrived: {text}");
        assert!(
            values.windows(2).all(|w| w[1] > w[0]),
            "in order: {values:?}"
        );
        // libcoap deregisters when it exits (GET with Observe 1).
        let mut observers = usize::MAX;
        for _ in 0..20 {
            observers = s.stats().await.unwrap().1;
            if observers == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(observers, 0);
    })
    .await;
}

/// A running `coap-server-notls` on an ephemeral port.
struct LibcoapServer {
    _child: Child,
    addr: SocketAddr,
}

async fn start_libcoap_server(bin: &Path, probe: &CoapEndpoint) -> LibcoapServer {
    for _attempt in 0..10 {
        // Find a free port: bind port 0, note it, release it.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(bin)
            .args(["-A", "127.0.0.1", "-p", &port.to_string(), "-v", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn coap-server-notls");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // Readiness: poll with a CoAP GET until it answers.
        for _ in 0..50 {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            let options = RequestOptions {
                confirmable: true,
                timeout: Some(Duration::from_millis(200)),
            };
            let probe_req = tokio::time::timeout(
                Duration::from_millis(400),
                probe.request_with(addr, Request::get("/"), options),
            );
            if let Ok(Ok(r)) = probe_req.await
                && r.code == Code::CONTENT
            {
                return LibcoapServer {
                    _child: child,
                    addr,
                };
            }
        }
        let _ = child.kill().await;
    }
    panic!("coap-server-notls did not start");
}

#[tokio::test]
async fn our_client_against_libcoap_server() {
    let Some(bin) = peer("coap-server-notls") else {
        return;
    };
    bounded(LIMIT, async {
        let c = client().await;
        let srv = start_libcoap_server(&bin, &c).await;

        // GET /time: libcoap's clock resource, e.g. "Nov 28 00:47:15".
        let r = c.request(srv.addr, Request::get("/time")).await.unwrap();
        assert_eq!(r.code, Code::CONTENT);
        assert!(
            !r.payload.is_empty() && r.payload.is_ascii(),
            "{:?}",
            r.payload
        );

        // The root resource describes the server.
        let r = c.request(srv.addr, Request::get("/")).await.unwrap();
        assert!(String::from_utf8_lossy(&r.payload).contains("libcoap"));

        // Block-wise: /example_data is 1500 bytes, served in blocks.
        let r = c
            .request(srv.addr, Request::get("/example_data"))
            .await
            .unwrap();
        assert_eq!(r.code, Code::CONTENT);
        assert_eq!(r.payload, alphabet_body(1500));
        assert!(r.options.get(number::BLOCK2).is_none(), "reassembled");

        // Early Block2 negotiation: a client configured for 64-byte blocks
        // gets libcoap to send 64-byte blocks.
        let mut protocol = ace_coap::ProtocolConfig::fast_for_tests();
        protocol.limits.block_size = 64;
        let tap = std::sync::Arc::new(ace_coap::tap::MemorySink::new());
        let small = CoapEndpoint::bind(
            common::config(common::loopback())
                .protocol(protocol)
                .tap(tap.clone()),
            ace_coap::handler::not_found(),
        )
        .await
        .unwrap();
        let r = small
            .request(srv.addr, Request::get("/example_data"))
            .await
            .unwrap();
        assert_eq!(r.payload, alphabet_body(1500));
        let sizes: Vec<usize> = tap
            .records()
            .iter()
            .filter(|t| t.direction == ace_coap::tap::Direction::In)
            .map(|t| ace_coap::wire::decode(&t.bytes).unwrap().payload.len())
            .collect();
        assert_eq!(sizes.len(), 24, "{sizes:?}");
        assert!(sizes.iter().all(|s| *s <= 64));

        // Discovery lists the observable clock.
        let r = c
            .request(srv.addr, Request::get("/.well-known/core"))
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&r.payload).contains("</time>"));

        // Observe /time: libcoap notifies every second.
        let mut obs = c.observe(srv.addr, Request::get("/time")).await.unwrap();
        let first = obs.next().await.unwrap().unwrap();
        let s0 = first.observe().expect("libcoap accepted the registration");
        let second = obs.next().await.unwrap().unwrap();
        let third = obs.next().await.unwrap().unwrap();
        let (s1, s2) = (second.observe().unwrap(), third.observe().unwrap());
        assert!(s0 < s1 && s1 < s2, "{s0} {s1} {s2}");
        assert_ne!(first.payload, third.payload, "the time changed");
        // Deregister with GET Observe 1; libcoap answers without Observe.
        let last = obs.deregister().await.unwrap().unwrap();
        assert_eq!(last.code, Code::CONTENT);
        assert!(last.observe().is_none());
    })
    .await;
}
