//! The tokio task that drives an [`Endpoint`]: the only owner of the
//! protocol state. It moves datagrams between the socket and the endpoint,
//! fires timers, spawns a task per handler invocation (so a slow handler
//! blocks nobody), and routes client results to the waiting callers.
//! Everything else talks to it through one command channel.

use crate::endpoint::{
    ClientOutcome, Endpoint, Event, ExchangeError, ExchangeId, JobId, NotifyTarget,
    OutgoingRequest, Stats, Transmit, Via,
};
use crate::fault::FaultInjector;
use crate::handler::{BoxFuture, SharedHandler};
use crate::response::{Code, Response};
use crate::tap::{Direction, TapRecord, TapSink};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Results for one client exchange.
pub(crate) enum ReplySink {
    /// A single response (plain requests).
    Once(oneshot::Sender<Result<(SocketAddr, Response), ExchangeError>>),
    /// Several (observations, group requests).
    Stream(mpsc::UnboundedSender<StreamItem>),
}

/// One item of a streamed exchange.
#[derive(Debug)]
pub(crate) enum StreamItem {
    Response {
        from: SocketAddr,
        response: Response,
        last: bool,
    },
    /// A registration without a response was acknowledged (see
    /// [`ClientOutcome::Registered`]).
    Registered,
    Failed(ExchangeError),
    Finished,
}

/// What the handles ask of the driver.
pub(crate) enum Command {
    Request {
        id: ExchangeId,
        out: OutgoingRequest,
        sink: ReplySink,
    },
    Cancel(ExchangeId),
    Deregister(ExchangeId),
    Respond {
        job: JobId,
        response: Response,
    },
    Notify {
        target: NotifyTarget,
        response: Option<Response>,
        reply: Option<oneshot::Sender<usize>>,
    },
    Datagram {
        from: SocketAddr,
        local: SocketAddr,
        bytes: Vec<u8>,
    },
    Stats(oneshot::Sender<(Stats, usize)>),
    Shutdown(Option<oneshot::Sender<()>>),
}

/// Sends 5.00 for a handler that ended without answering (it panicked).
struct RespondGuard {
    job: JobId,
    tx: Option<mpsc::UnboundedSender<Command>>,
}

impl RespondGuard {
    fn send(mut self, response: Response) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Command::Respond {
                job: self.job,
                response,
            });
        }
    }
}

impl Drop for RespondGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let response = Response::new(Code::INTERNAL_SERVER_ERROR);
            let _ = tx.send(Command::Respond {
                job: self.job,
                response,
            });
        }
    }
}

/// Most datagrams or commands handled per batch before the other sources
/// get a turn.
const BATCH: usize = 64;

/// How the driver runs handlers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HandlerDispatch {
    /// Each request's handler runs on its own tokio task (the default): a
    /// slow or CPU-heavy handler never delays the message layer, and on a
    /// multi-threaded runtime handlers run in parallel.
    #[default]
    Spawn,
    /// The driver polls the handler once itself; a handler that answers
    /// without waiting (most do) costs no task and no channel hop. A handler
    /// that is still pending after that poll continues on its own task, so
    /// waiting handlers still block nobody; but the synchronous work before
    /// a handler's first wait runs on the driver's task.
    InlineFirstPoll,
}

pub(crate) struct Driver {
    pub(crate) dispatch: HandlerDispatch,
    pub(crate) endpoint: Endpoint,
    pub(crate) socket: UdpSocket,
    pub(crate) local: SocketAddr,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) command_tx: mpsc::UnboundedSender<Command>,
    pub(crate) handler: SharedHandler,
    pub(crate) taps: Vec<Arc<dyn TapSink>>,
    pub(crate) faults: Option<FaultInjector>,
    pub(crate) multicast_readers: Vec<tokio::task::JoinHandle<()>>,
    pub(crate) sinks: HashMap<ExchangeId, ReplySink>,
    pub(crate) blocked: Option<Transmit>,
    pub(crate) buf: Vec<u8>,
    /// A second handle on the socket for busy polling, and the window.
    pub(crate) busy_poll: Option<(std::net::UdpSocket, Duration)>,
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut armed: Option<Instant> = None;
        let mut shutdown_reply = None;
        let mut last_activity = Instant::now();
        'outer: loop {
            // Work that is ready now, without waiting.
            let mut busy = true;
            while busy {
                busy = false;
                for _ in 0..BATCH {
                    match self.commands.try_recv() {
                        Ok(Command::Shutdown(reply)) => {
                            shutdown_reply = reply;
                            break 'outer;
                        }
                        Ok(c) => {
                            self.command(c);
                            busy = true;
                        }
                        Err(_) => break,
                    }
                }
                if self.blocked.is_none() {
                    busy |= self.receive_batch();
                }
                let now = Instant::now();
                if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
                    self.endpoint.handle_timeout(now);
                }
                self.dispatch_events();
                self.flush();
                if busy {
                    last_activity = Instant::now();
                }
            }
            // Busy polling: shortly after activity, keep checking the socket
            // (yielding to handler tasks) instead of sleeping in the kernel.
            if let Some((raw, window)) = &self.busy_poll
                && self.blocked.is_none()
                && last_activity.elapsed() < *window
            {
                match raw.recv_from(&mut self.buf) {
                    Ok((n, from)) => {
                        let bytes = std::mem::take(&mut self.buf);
                        self.incoming(from, self.local, Via::Unicast, &bytes[..n]);
                        self.buf = bytes;
                        last_activity = Instant::now();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tokio::task::yield_now().await
                    }
                    Err(e) => tracing::debug!(error = %e, "receive error"),
                }
                continue 'outer;
            }
            let next = self.endpoint.poll_timeout();
            if next != armed {
                if let Some(t) = next {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(t));
                }
                armed = next;
            }
            tokio::select! {
                biased;
                c = self.commands.recv() => match c {
                    Some(Command::Shutdown(reply)) => {
                        shutdown_reply = reply;
                        break 'outer;
                    }
                    Some(c) => self.command(c),
                    None => break 'outer,
                },
                r = self.socket.writable(), if self.blocked.is_some() => {
                    if r.is_ok() {
                        self.flush();
                    }
                }
                r = self.socket.readable(), if self.blocked.is_none() => {
                    if r.is_err() {
                        break 'outer;
                    }
                }
                () = &mut sleep, if armed.is_some() => {
                    armed = None;
                    self.endpoint.handle_timeout(Instant::now());
                }
            }
        }
        self.close_observations();
        for reader in &self.multicast_readers {
            reader.abort();
        }
        for tap in &self.taps {
            tap.flush();
        }
        self.sinks.clear();
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    /// Reads the datagrams waiting in the socket. Returns whether any came.
    fn receive_batch(&mut self) -> bool {
        let mut got = false;
        for _ in 0..BATCH {
            match self.socket.try_recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    got = true;
                    let bytes = std::mem::take(&mut self.buf);
                    self.incoming(from, self.local, Via::Unicast, &bytes[..n]);
                    self.buf = bytes;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // ICMP errors surface here on Linux (ECONNREFUSED after
                    // sending to a closed port); they concern one datagram.
                    tracing::debug!(error = %e, "receive error");
                }
            }
        }
        got
    }

    fn incoming(&mut self, from: SocketAddr, local: SocketAddr, via: Via, bytes: &[u8]) {
        if let Some(f) = self.faults.as_mut()
            && f.drop_receive()
        {
            return;
        }
        if !self.taps.is_empty() {
            let record = TapRecord {
                direction: Direction::In,
                local,
                peer: from,
                time: SystemTime::now(),
                bytes,
            };
            for tap in &self.taps {
                tap.record(&record);
            }
        }
        self.endpoint
            .handle_datagram(Instant::now(), from, via, bytes);
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Request { id, out, sink } => {
                self.sinks.insert(id, sink);
                self.endpoint.start_request(now, id, out);
            }
            Command::Cancel(id) => {
                self.sinks.remove(&id);
                self.endpoint.cancel(now, id);
            }
            Command::Deregister(id) => self.endpoint.deregister(now, id),
            Command::Respond { job, response } => self.endpoint.respond(now, job, response),
            Command::Notify {
                target,
                response,
                reply,
            } => {
                let n = self.endpoint.notify(now, &target, response);
                if let Some(reply) = reply {
                    let _ = reply.send(n);
                }
            }
            Command::Datagram { from, local, bytes } => {
                self.incoming(from, local, Via::Multicast, &bytes)
            }
            Command::Stats(reply) => {
                let _ = reply.send((
                    self.endpoint.stats().clone(),
                    self.endpoint.observer_count(),
                ));
            }
            Command::Shutdown(_) => {}
        }
    }

    fn dispatch_events(&mut self) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::Request { id, request } => {
                    let mut future = self.handler.call(request);
                    if self.dispatch == HandlerDispatch::InlineFirstPoll {
                        // A pending future re-registers its waker when the
                        // spawned task polls it, so the no-op waker used
                        // here loses no wake-up.
                        let mut cx = Context::from_waker(Waker::noop());
                        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            future.as_mut().poll(&mut cx)
                        }));
                        match polled {
                            Ok(Poll::Ready(response)) => {
                                self.endpoint.respond(Instant::now(), id, response);
                                continue;
                            }
                            Ok(Poll::Pending) => {}
                            Err(_) => {
                                // The handler panicked: answer 5.00, as a
                                // spawned handler's guard would.
                                let response = Response::new(Code::INTERNAL_SERVER_ERROR);
                                self.endpoint.respond(Instant::now(), id, response);
                                continue;
                            }
                        }
                    }
                    let guard = RespondGuard {
                        job: id,
                        tx: Some(self.command_tx.clone()),
                    };
                    tokio::spawn(finish_handler(future, guard));
                }
                Event::Client { id, outcome } => self.client_outcome(id, outcome),
                Event::ObservationEnded(ended) => self.handler.observation_ended(&ended),
            }
        }
    }

    /// Ends every observation on shutdown and tells the handler chain
    /// (other events are dropped: nobody waits for them any more).
    fn close_observations(&mut self) {
        self.endpoint.close_observations();
        while let Some(event) = self.endpoint.poll_event() {
            if let Event::ObservationEnded(ended) = event {
                self.handler.observation_ended(&ended);
            }
        }
    }

    fn client_outcome(&mut self, id: ExchangeId, outcome: ClientOutcome) {
        let Some(sink) = self.sinks.get(&id) else {
            return;
        };
        let done = match (sink, outcome) {
            (ReplySink::Once(_), ClientOutcome::Response { from, response, .. }) => {
                if let Some(ReplySink::Once(tx)) = self.sinks.remove(&id) {
                    let _ = tx.send(Ok((from, response)));
                }
                return;
            }
            (ReplySink::Once(_), ClientOutcome::Failed(e)) => {
                if let Some(ReplySink::Once(tx)) = self.sinks.remove(&id) {
                    let _ = tx.send(Err(e));
                }
                return;
            }
            (ReplySink::Once(_), ClientOutcome::Finished | ClientOutcome::Registered) => true,
            (ReplySink::Stream(tx), ClientOutcome::Registered) => {
                let gone = tx.send(StreamItem::Registered).is_err();
                if gone {
                    self.endpoint.cancel(Instant::now(), id);
                }
                gone
            }
            (
                ReplySink::Stream(tx),
                ClientOutcome::Response {
                    from,
                    response,
                    last,
                },
            ) => {
                let gone = tx
                    .send(StreamItem::Response {
                        from,
                        response,
                        last,
                    })
                    .is_err();
                if gone && !last {
                    // The receiver is gone: forget the exchange.
                    self.endpoint.cancel(Instant::now(), id);
                }
                last || gone
            }
            (ReplySink::Stream(tx), ClientOutcome::Failed(e)) => {
                let _ = tx.send(StreamItem::Failed(e));
                true
            }
            (ReplySink::Stream(tx), ClientOutcome::Finished) => {
                let _ = tx.send(StreamItem::Finished);
                true
            }
        };
        if done {
            self.sinks.remove(&id);
        }
    }

    /// Sends what the endpoint has queued; stops at a full socket buffer.
    fn flush(&mut self) {
        if let Some(t) = self.blocked.take()
            && !self.send(t)
        {
            return;
        }
        while let Some(t) = self.endpoint.poll_transmit() {
            if !self.send(t) {
                return;
            }
        }
    }

    /// Sends one datagram; false (keeping it) if the socket would block.
    fn send(&mut self, t: Transmit) -> bool {
        if let Some(f) = self.faults.as_mut()
            && f.drop_send()
        {
            return true;
        }
        match self.socket.try_send_to(&t.payload, t.destination) {
            Ok(_) => {
                if !self.taps.is_empty() {
                    let record = TapRecord {
                        direction: Direction::Out,
                        local: self.local,
                        peer: t.destination,
                        time: SystemTime::now(),
                        bytes: &t.payload,
                    };
                    for tap in &self.taps {
                        tap.record(&record);
                    }
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.blocked = Some(t);
                false
            }
            Err(e) => {
                tracing::debug!(destination = %t.destination, error = %e, "send failed");
                true
            }
        }
    }
}

/// Runs a handler future to completion and passes on its response.
async fn finish_handler(future: BoxFuture<Response>, guard: RespondGuard) {
    let response = future.await;
    guard.send(response);
}

/// Reads a multicast socket and hands its datagrams to the driver.
pub(crate) async fn multicast_reader(
    socket: UdpSocket,
    group: SocketAddr,
    tx: mpsc::UnboundedSender<Command>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let cmd = Command::Datagram {
                    from,
                    local: group,
                    bytes: buf[..n].to_vec(),
                };
                if tx.send(cmd).is_err() {
                    return;
                }
            }
            Err(e) => tracing::debug!(error = %e, "multicast receive error"),
        }
    }
}
