//! The server side of the load comparison in BENCHMARKS.md: serves
//! `GET /time` with a 15-byte text payload and Max-Age 1, the same shape as
//! libcoap's `/time` resource.
//!
//! Usage: `bench_server [--port P] [--threads N] [--dispatch spawn|inline]
//! [--busy-poll-us US]`
//! (port 0 = ephemeral; 1 thread = tokio's current-thread runtime, like
//! libcoap's single thread; `inline` = `HandlerDispatch::InlineFirstPoll`).
//! Prints `listening on ADDR` once bound, then serves until killed.
#![allow(clippy::unwrap_used)] // an example: failing loudly is the point

use ace_coap::runtime::HandlerDispatch;
use ace_coap::{CoapEndpoint, EndpointConfig, Request, Response, Router};
use std::io::Write;

fn main() {
    let mut port = 0u16;
    let mut threads = 1usize;
    let mut dispatch = HandlerDispatch::Spawn;
    let mut busy_poll = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|v| v.parse().ok()).expect("--port P"),
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--threads N")
            }
            "--dispatch" => {
                dispatch = match args.next().as_deref() {
                    Some("spawn") => HandlerDispatch::Spawn,
                    Some("inline") => HandlerDispatch::InlineFirstPoll,
                    other => panic!("--dispatch spawn|inline, not {other:?}"),
                }
            }
            "--busy-poll-us" => {
                let us: u64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--busy-poll-us US");
                busy_poll = Some(std::time::Duration::from_micros(us));
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    };
    runtime.block_on(async move {
        let router = Router::new().get("/time", |_req: Request| async {
            Response::content("Nov 28 00:47:15")
                .with_content_format(0)
                .with_max_age(1)
        });
        let mut config = EndpointConfig::new(([127, 0, 0, 1], port).into());
        config.socket.buffer_size = Some(4 << 20);
        config.dispatch = dispatch;
        config.busy_poll = busy_poll;
        let server = CoapEndpoint::bind(config, router.into_handler())
            .await
            .unwrap();
        println!("listening on {}", server.local_addr());
        std::io::stdout().flush().unwrap();
        std::future::pending::<()>().await;
    });
}
