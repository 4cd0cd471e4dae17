//! The `coap` crate's server (0.29) serving the same `GET /time` as
//! `bench_server`, for the load comparison in BENCHMARKS.md.
//!
//! Usage: `coap_crate_server [--port P] [--threads N]`. Prints
//! `listening on ADDR` once bound, then serves until killed.
#![allow(clippy::unwrap_used)] // an example: failing loudly is the point

use coap::Server;
use coap::server::UdpCoapListener;
use coap_lite::{CoapOption, CoapRequest, ContentFormat};
use std::io::Write;
use std::net::SocketAddr;

fn main() {
    let mut port = 0u16;
    let mut threads = 1usize;
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
        let std_socket = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
        std_socket.set_nonblocking(true).unwrap();
        let local = std_socket.local_addr().unwrap();
        let socket = tokio::net::UdpSocket::from_std(std_socket).unwrap();
        let server = Server::from_listeners(vec![Box::new(UdpCoapListener::from_socket(socket))]);
        println!("listening on {local}");
        std::io::stdout().flush().unwrap();
        server
            .run(|mut request: Box<CoapRequest<SocketAddr>>| async move {
                let is_time = request.get_path() == "time";
                if let Some(response) = request.response.as_mut() {
                    if is_time {
                        response.message.payload = b"Nov 28 00:47:15".to_vec();
                        response
                            .message
                            .set_content_format(ContentFormat::TextPlain);
                        response.message.add_option(CoapOption::MaxAge, vec![1]);
                    } else {
                        response.set_status(coap_lite::ResponseType::NotFound);
                    }
                }
                request
            })
            .await
            .unwrap();
    });
}
