//! Interop with the `coap` crate (0.29), an independent Rust CoAP stack:
//! its client against our server.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ace_coap::{Request, Response, Router};
use coap::UdpCoAPClient;
use coap_lite::{MessageClass, ResponseType};
use common::{bounded, server};
use std::time::Duration;

#[tokio::test]
async fn coap_crate_client_gets_and_posts() {
    bounded(Duration::from_secs(30), async {
        let router = Router::new()
            .get("/hello", |_req: Request| async {
                Response::content("hello, coap crate")
            })
            .post("/echo", |req: Request| async move {
                Response::changed().with_payload([b"got ".as_slice(), &req.payload].concat())
            })
            .get("/big", |_req: Request| async {
                Response::content(vec![b'z'; 3000])
            });
        let s = server(router.into_handler()).await;
        let base = format!("coap://127.0.0.1:{}", s.local_addr().port());

        let r = UdpCoAPClient::get(&format!("{base}/hello")).await.unwrap();
        assert_eq!(
            r.message.header.code,
            MessageClass::Response(ResponseType::Content)
        );
        assert_eq!(r.message.payload, b"hello, coap crate");

        let r = UdpCoAPClient::post(&format!("{base}/echo"), b"payload".to_vec())
            .await
            .unwrap();
        assert_eq!(
            r.message.header.code,
            MessageClass::Response(ResponseType::Changed)
        );
        assert_eq!(r.message.payload, b"got payload");

        // The coap crate follows Block2 too.
        let r = UdpCoAPClient::get(&format!("{base}/big")).await.unwrap();
        assert_eq!(r.message.payload, vec![b'z'; 3000]);

        let r = UdpCoAPClient::get(&format!("{base}/nothing"))
            .await
            .unwrap();
        assert_eq!(
            r.message.header.code,
            MessageClass::Response(ResponseType::NotFound)
        );
    })
    .await;
}
