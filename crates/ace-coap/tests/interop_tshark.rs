//! tshark (Wireshark) dissects the pcap our tap writes: every datagram shows
//! as CoAP with the code, Message ID and token we sent.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_coap::tap::{MemorySink, PcapWriter};
use ace_coap::wire;
use ace_coap::{CoapEndpoint, Request, RequestOptions, Resource, Response, Router};
use common::{bounded, config, peer};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn tshark_dissects_the_pcap_tap() {
    let Some(tshark) = peer("tshark") else { return };
    bounded(Duration::from_secs(60), async {
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            dissect_one(&tshark, bind.parse().unwrap()).await;
        }
    })
    .await;
}

async fn dissect_one(tshark: &std::path::Path, bind: std::net::SocketAddr) {
    {
        let dir = tempfile::tempdir().unwrap();
        let pcap_path = dir.path().join("coap.pcap");
        let pcap = Arc::new(PcapWriter::create(&pcap_path).unwrap());
        let memory = Arc::new(MemorySink::new());
        let router = Router::new()
            .get("/time", |_req: Request| async {
                Response::content("12:00")
            })
            .post("/echo", |req: Request| async move {
                Response::changed().with_payload(req.payload)
            })
            .resource(
                Resource::new("/obs")
                    .get(|_req: Request| async { Response::content("o") })
                    .observable(),
            );
        let s = CoapEndpoint::bind(
            config(bind).tap(pcap.clone()).tap(memory.clone()),
            router.into_handler(),
        )
        .await
        .unwrap();
        let c = CoapEndpoint::bind(config(bind), ace_coap::handler::not_found())
            .await
            .unwrap();
        c.request(s.local_addr(), Request::get("/time"))
            .await
            .unwrap();
        c.request(
            s.local_addr(),
            Request::post("/echo").with_payload(vec![7u8; 2500]),
        )
        .await
        .unwrap();
        c.request_with(
            s.local_addr(),
            Request::get("/time"),
            RequestOptions::non_confirmable(),
        )
        .await
        .unwrap();
        c.request(s.local_addr(), Request::get("/missing"))
            .await
            .unwrap();
        let mut obs = c
            .observe(s.local_addr(), Request::get("/obs"))
            .await
            .unwrap();
        obs.next().await.unwrap().unwrap();
        s.notify("/obs");
        obs.next().await.unwrap().unwrap();
        obs.deregister().await.unwrap();
        s.shutdown().await;

        let expected: Vec<(String, String, String, String)> = memory
            .records()
            .iter()
            .map(|r| {
                let m = wire::decode(&r.bytes).unwrap();
                (
                    m.mtype.bits().to_string(),
                    m.code.to_string(),
                    m.mid.to_string(),
                    m.token.to_string(),
                )
            })
            .collect();
        assert!(expected.len() >= 20, "{} datagrams", expected.len());

        let port = s.local_addr().port();
        let out = tokio::process::Command::new(tshark)
            .args([
                "-r",
                pcap_path.to_str().unwrap(),
                "-d",
                &format!("udp.port=={port},coap"),
            ])
            .args([
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-e",
                "frame.protocols",
                "-e",
                "coap.type",
                "-e",
                "coap.code",
                "-e",
                "coap.mid",
                "-e",
                "coap.token",
            ])
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
        assert_eq!(rows.len(), expected.len(), "{text}");
        for (row, (mtype, code, mid, token)) in rows.iter().zip(&expected) {
            assert!(
                row[0].starts_with("raw:ip") && row[0].contains(":udp:coap"),
                "dissected as CoAP: {row:?}"
            );
            assert_eq!(row[1], mtype, "{row:?}");
            assert_eq!(row[2], code, "{row:?}");
            assert_eq!(row[3], mid, "{row:?}");
            assert_eq!(row[4].replace(':', ""), *token, "{row:?}");
        }
    }
}
