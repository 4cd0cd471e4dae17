//! Server side of Observe (RFC 7641): the list of observers, notification
//! jobs, sequence numbers and the CON/NON choice.
//!
//! A notification is produced by replaying the observer's registration
//! request through the handler chain (an [`Event::Request`] whose origin is
//! [`Origin::Notification`]), so that a security layer wrapped around the
//! router protects each notification for its observer. Per observer at most
//! one such job runs at a time and further `notify` calls queue behind it,
//! so notifications leave in order and carry increasing sequence numbers
//! (section 4.4). Consecutive "current state" requests coalesce; explicit
//! responses passed to `notify_with` are each delivered.

use super::blockwise::RequestKey;
use super::{ConOwner, Endpoint, Event, JobId, NonOwner, NotifyTarget, SharedResponse};
use crate::handler::{EndReason, ObservationEnded};
use crate::option::number;
use crate::request::{Origin, Request};
use crate::response::{Response, codes};
use crate::wire::{self, Message, MessageType, Token};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// An observer: the client endpoint and the token of its registration
/// (RFC 7641 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ObserverKey {
    pub(crate) peer: SocketAddr,
    pub(crate) token: Token,
}

/// Observe sequence numbers are 24 bits (RFC 7641 section 4.4).
const SEQ_MASK: u32 = 0x00ff_ffff;

/// Most notifications queued per observer behind a running job; beyond,
/// the oldest queued one is dropped (RFC 7641 section 4.5.1 lets a server
/// skip intermediate states; only the latest state is owed).
const MAX_PENDING: usize = 64;

#[derive(Debug)]
pub(crate) struct Observer {
    resource: String,
    request: Request,
    request_key: RequestKey,
    next_seq: u32,
    since_con: u32,
    last_con: Instant,
    in_flight: Option<u16>,
    last_non: Option<u16>,
    job: Option<JobId>,
    /// Queued notifications: `None` asks the handler for the current state,
    /// `Some` carries an explicit response.
    pending: VecDeque<Option<SharedResponse>>,
}

/// The observers of all resources.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    observers: HashMap<ObserverKey, Observer>,
    by_resource: BTreeMap<String, HashSet<ObserverKey>>,
}

impl Registry {
    pub(crate) fn len(&self) -> usize {
        self.observers.len()
    }

    pub(crate) fn contains(&self, key: &ObserverKey) -> bool {
        self.observers.contains_key(key)
    }

    /// How many notifications are queued for an observer.
    #[cfg(test)]
    pub(crate) fn queued(&self, key: &ObserverKey) -> usize {
        self.observers.get(key).map_or(0, |o| o.pending.len())
    }

    fn index(&mut self, resource: &str, key: ObserverKey) {
        self.by_resource
            .entry(resource.to_owned())
            .or_default()
            .insert(key);
    }

    fn unindex(&mut self, resource: &str, key: &ObserverKey) {
        if let Some(set) = self.by_resource.get_mut(resource) {
            set.remove(key);
            if set.is_empty() {
                self.by_resource.remove(resource);
            }
        }
    }

    fn remove(&mut self, key: &ObserverKey) -> Option<Observer> {
        let o = self.observers.remove(key)?;
        self.unindex(&o.resource, key);
        Some(o)
    }

    /// The observers a target selects.
    fn matching(&self, target: &NotifyTarget) -> Vec<ObserverKey> {
        match target {
            NotifyTarget::Resource(path) => self
                .by_resource
                .get(path)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
            NotifyTarget::Subtree(prefix) => {
                let base = prefix.trim_end_matches('/');
                self.by_resource
                    .range(base.to_owned()..)
                    .take_while(|(k, _)| k.starts_with(base))
                    .filter(|(k, _)| k.len() == base.len() || k[base.len()..].starts_with('/'))
                    .flat_map(|(_, s)| s.iter().copied())
                    .collect()
            }
        }
    }
}

impl Endpoint {
    /// Registers (or re-registers) an observer and returns the sequence
    /// number for the registration response, or `None` when the observer
    /// limit is reached (the response then goes without Observe).
    pub(super) fn register_observer(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        token: Token,
        resource: String,
        request: Request,
        request_key: RequestKey,
    ) -> Option<u32> {
        let key = ObserverKey { peer, token };
        if let Some(o) = self.observers.observers.get_mut(&key) {
            let old = std::mem::replace(&mut o.resource, resource.clone());
            o.request = request;
            o.request_key = request_key;
            let seq = o.next_seq;
            o.next_seq = (seq + 1) & SEQ_MASK;
            if old != resource {
                self.observers.unindex(&old, &key);
                self.observers.index(&resource, key);
            }
            return Some(seq);
        }
        if self.observers.len() >= self.config.limits.max_observers {
            return None;
        }
        self.observers.index(&resource, key);
        self.observers.observers.insert(
            key,
            Observer {
                resource,
                request,
                request_key,
                next_seq: 1,
                since_con: 0,
                last_con: now,
                in_flight: None,
                last_non: None,
                job: None,
                pending: VecDeque::new(),
            },
        );
        Some(0)
    }

    /// Removes an observer, stops retransmitting its notifications, and
    /// tells the handler chain ([`Event::ObservationEnded`]).
    pub(super) fn remove_observer(&mut self, key: ObserverKey, reason: EndReason) {
        if let Some(o) = self.observers.remove(&key) {
            if let Some(mid) = o.in_flight {
                self.con_out.remove(&(key.peer, mid));
            }
            if let Some(mid) = o.last_non {
                self.non_out.remove(&(key.peer, mid));
            }
            self.observation_ended(key, reason);
        }
    }

    /// Reports the end of an observation to the handler chain.
    pub(super) fn observation_ended(&mut self, key: ObserverKey, reason: EndReason) {
        self.events
            .push_back(Event::ObservationEnded(ObservationEnded {
                peer: key.peer,
                token: key.token,
                reason,
            }));
    }

    /// Triggers notifications to the observers `target` selects (RFC 7641
    /// section 4.2). With `response` `None`, each observer's request is
    /// replayed through the handler chain to produce the current state;
    /// otherwise `response` is what the handler chain is given to send (see
    /// [`Origin::Notification`]). A non-2.xx response (or one a layer marks
    /// [`Response::ends_observation`]) ends the observation after it is sent
    /// without Observe (section 3.2), which is how a deleted resource tells
    /// its observers (4.04); a silenced one, or one whose class the
    /// registration's No-Response option declines, is not sent. Returns the
    /// number of observers.
    pub fn notify(
        &mut self,
        now: Instant,
        target: &NotifyTarget,
        response: Option<Response>,
    ) -> usize {
        let response = response.map(SharedResponse::new);
        let keys = self.observers.matching(target);
        for key in &keys {
            let Some(o) = self.observers.observers.get_mut(key) else {
                continue;
            };
            let coalesce = response.is_none() && matches!(o.pending.back(), Some(None));
            if !coalesce {
                if o.pending.len() >= MAX_PENDING {
                    o.pending.pop_front();
                    tracing::warn!(peer = %key.peer, "observer's notification queue is full; dropping the oldest");
                }
                o.pending.push_back(response.clone());
            }
            if o.job.is_none() {
                self.start_notification_job(now, *key);
            }
        }
        keys.len()
    }

    /// Starts the handler job for an observer's next queued notification.
    fn start_notification_job(&mut self, _now: Instant, key: ObserverKey) {
        let Some(o) = self.observers.observers.get_mut(&key) else {
            return;
        };
        let Some(explicit) = o.pending.pop_front() else {
            return;
        };
        let id = JobId(self.next_job);
        self.next_job += 1;
        o.job = Some(id);
        let mut request = o.request.clone();
        request.meta.origin = Origin::Notification { response: explicit };
        self.jobs.insert(id, super::server::Job::Notification(key));
        self.events.push_back(Event::Request { id, request });
    }

    /// Sends the notification the handler chain produced for an observer.
    ///
    /// * A silenced response ([`Response::silent`]), or one whose class the
    ///   registration's No-Response option declines (RFC 7967 section 2.1),
    ///   is not sent; the observation goes on unless the response is final.
    /// * A final response (an error code, or [`Response::ends_observation`])
    ///   ends the observation: it goes out as a Confirmable message without
    ///   Observe (RFC 7641 sections 3.2 and 4.2) and the observer is
    ///   removed.
    pub(super) fn complete_notification(
        &mut self,
        now: Instant,
        key: ObserverKey,
        id: JobId,
        mut response: Response,
    ) {
        let cfg = self.config.observe;
        let Some(o) = self.observers.observers.get_mut(&key) else {
            return;
        };
        if o.job != Some(id) {
            return;
        }
        o.job = None;
        response.options.remove(number::OBSERVE);
        response.observed_resource = None;
        let last =
            response.ends_observation || (!response.is_success() && response.code != codes::EMPTY);
        let declined = o.request.options.no_response_declines(response.code);
        if response.silent || declined || response.code == codes::EMPTY {
            if last {
                self.remove_observer(key, EndReason::Final);
            } else if !o.pending.is_empty() {
                self.start_notification_job(now, key);
            }
            return;
        }
        if last {
            // The last notification (RFC 7641 section 3.2): reliably, and
            // without Observe so that the client ends the observation too.
            let request_key = o.request_key;
            self.remove_observer(key, EndReason::Final);
            let (code, options, payload) =
                self.shape_fresh(now, key.peer, request_key, None, response);
            let mid = self.next_mid(now, key.peer);
            let msg = Message {
                mtype: MessageType::Con,
                code: code.0,
                mid,
                token: key.token,
                options,
                payload,
            };
            match wire::encode(&msg, self.config.limits.max_datagram_size) {
                Ok(bytes) => {
                    self.stats.notifications += 1;
                    self.send_con(now, key.peer, mid, bytes, ConOwner::Response);
                }
                Err(e) => {
                    tracing::warn!(peer = %key.peer, error = %e, "last notification does not fit; not sent");
                }
            }
            return;
        }
        let seq = o.next_seq;
        o.next_seq = (seq + 1) & SEQ_MASK;
        response.options.set_uint(number::OBSERVE, seq);
        // RFC 7641 section 4.5: a CON at least every `con_interval`, and
        // every N-th; a new notification replaces one still in flight as a
        // CON (section 4.5.2).
        let con = o.in_flight.is_some()
            || cfg.con_every <= 1
            || o.since_con + 1 >= cfg.con_every
            || now.duration_since(o.last_con) >= cfg.con_interval;
        let request_key = o.request_key;
        let in_flight = if con { o.in_flight.take() } else { None };
        let last_non = o.last_non;
        let more_pending = !o.pending.is_empty();
        if con {
            o.since_con = 0;
            o.last_con = now;
        } else {
            o.since_con += 1;
        }
        let (code, options, payload) = self.shape_fresh(now, key.peer, request_key, None, response);
        let mid = self.next_mid(now, key.peer);
        let mtype = if con {
            MessageType::Con
        } else {
            MessageType::Non
        };
        let msg = Message {
            mtype,
            code: code.0,
            mid,
            token: key.token,
            options,
            payload,
        };
        match wire::encode(&msg, self.config.limits.max_datagram_size) {
            Ok(bytes) => {
                self.stats.notifications += 1;
                if con {
                    let (attempt, timeout) =
                        match in_flight.and_then(|m| self.con_out.remove(&(key.peer, m))) {
                            Some(r) => (r.attempt, r.timeout),
                            None => (0, self.initial_timeout()),
                        };
                    if let Some(o) = self.observers.observers.get_mut(&key) {
                        o.in_flight = Some(mid);
                    }
                    self.send_con_with(
                        now,
                        key.peer,
                        mid,
                        bytes,
                        ConOwner::Notification(key),
                        attempt,
                        timeout,
                    );
                } else {
                    if let Some(old) = last_non {
                        self.non_out.remove(&(key.peer, old));
                    }
                    self.non_out
                        .insert((key.peer, mid), NonOwner::Notification(key));
                    if let Some(o) = self.observers.observers.get_mut(&key) {
                        o.last_non = Some(mid);
                    }
                    self.push_transmit(key.peer, bytes);
                }
            }
            Err(e) => {
                tracing::warn!(peer = %key.peer, error = %e, "notification does not fit; skipped")
            }
        }
        if more_pending {
            self.start_notification_job(now, key);
        }
    }

    /// A CON notification was acknowledged.
    pub(super) fn notification_acked(&mut self, key: ObserverKey, mid: u16) {
        if let Some(o) = self.observers.observers.get_mut(&key)
            && o.in_flight == Some(mid)
        {
            o.in_flight = None;
        }
    }

    /// Ends every observation of the resources `target` selects without
    /// notifying. Returns how many were removed; each is reported as an
    /// [`Event::ObservationEnded`] with [`EndReason::Forgotten`].
    pub fn forget_observers(&mut self, target: &NotifyTarget) -> usize {
        let keys = self.observers.matching(target);
        for key in &keys {
            self.remove_observer(*key, EndReason::Forgotten);
        }
        keys.len()
    }

    /// Ends every observation because the endpoint shuts down, without
    /// notifying; each is reported as an [`Event::ObservationEnded`] with
    /// [`EndReason::Shutdown`]. Returns how many there were.
    pub fn close_observations(&mut self) -> usize {
        let keys: Vec<ObserverKey> = self.observers.observers.keys().copied().collect();
        for key in &keys {
            self.remove_observer(*key, EndReason::Shutdown);
        }
        keys.len()
    }
}
