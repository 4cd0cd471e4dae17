//! The background work of each group: the observation of
//! `/ace-group/GROUPNAME` (rekeying notifications, group deletion; RFC 9594
//! section 6.1 and 4.1), and the poll of `/num` at the Key Update Check
//! Interval together with the watch on the material's expiry (RFC 9594
//! sections 4.3.1 and 4.8.1.1).
//!
//! The tasks hold the client weakly: they end when the client is dropped,
//! and they never keep it alive across a wait.

use crate::client::Inner;
use crate::view::{ClientEvent, RekeySource};
use ace_proto::cbor::Codec;
use ace_proto::code::Code;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::groupcomm::RekeyingMessage;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Shortest wait between two attempts after a failure.
const RETRY: Duration = Duration::from_secs(1);

fn member(inner: &Inner, group: &str) -> bool {
    inner.poll_info(group).is_some()
}

/// Waits until the observations of a group must be registered again
/// ([`Inner::observe_again`]); forever once the group is forgotten.
async fn reobserve(signal: &mut tokio::sync::watch::Receiver<u64>) {
    if signal.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Observes `/ace-group/GROUPNAME`: the first response and every
/// notification carry the current material; an error notification ends the
/// membership (4.04 with error id 6: group deleted; 4.03 with error id 0:
/// no longer a member). An observation that ended is registered again, and
/// so is one the KDC lost (it restarted: an Echo challenge or a version
/// newer than the notifications told revealed it, see
/// [`Inner::observe_again`]).
pub(crate) async fn observe(weak: Weak<Inner>, group: String) {
    let mut signal = match weak.upgrade() {
        Some(inner) => inner.reobserve_signal(&group),
        None => return,
    };
    let mut registered_before = false;
    loop {
        signal.borrow_and_update();
        let observation = {
            let Some(inner) = weak.upgrade() else { return };
            if !member(&inner, &group) {
                return;
            }
            inner.observe_group(&group, false).await
        };
        let mut observation = match observation {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(group, error = %e, "observation not registered");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if let Some(inner) = weak.upgrade() {
            inner.set_observing(&group, true);
            if registered_before {
                inner.emit(ClientEvent::ObservationRenewed {
                    group: group.clone(),
                });
            }
        }
        registered_before = true;
        let mut first = true;
        let mut lost = false;
        loop {
            let item = tokio::select! {
                item = observation.next() => item,
                () = reobserve(&mut signal) => {
                    lost = true;
                    None
                }
            };
            let Some(item) = item else { break };
            let Some(inner) = weak.upgrade() else { return };
            match item {
                Ok(response) if response.code == Code::CONTENT => {
                    let message = match RekeyingMessage::decode(&response.payload) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!(group, error = %e, "notification not understood");
                            continue;
                        }
                    };
                    let result = if first {
                        // The registration's answer is a Key Distribution
                        // Response: no stale Sender IDs in it.
                        Inner::refresh(&inner, &group, RekeySource::Notification)
                            .await
                            .map(|_| ())
                    } else {
                        inner
                            .on_rekey(&group, message, RekeySource::Notification)
                            .await
                    };
                    if let Err(e) = result {
                        inner.emit(ClientEvent::Error {
                            group: Some(group.clone()),
                            message: format!("rekeying notification: {e}"),
                        });
                    }
                }
                Ok(response) => {
                    match Inner::decode_refusal(&response) {
                        Some(ErrorId::GroupDeleted) => {
                            inner.set_observing(&group, false);
                            inner.forget_group(&group);
                            inner.emit(ClientEvent::GroupDeleted {
                                group: group.clone(),
                            });
                            return;
                        }
                        Some(ErrorId::OnlyGroupMembers) | Some(ErrorId::MembershipTerminated) => {
                            inner.set_observing(&group, false);
                            inner.forget_group(&group);
                            inner.emit(ClientEvent::Evicted {
                                group: group.clone(),
                            });
                            return;
                        }
                        _ => tracing::debug!(group, code = %response.code, "observation ended"),
                    }
                    break;
                }
                Err(e) => tracing::debug!(group, error = %e, "notification refused"),
            }
            first = false;
        }
        if let Some(inner) = weak.upgrade() {
            inner.set_observing(&group, false);
        }
        // The KDC lost it: at once; it ended: after a pause and a probe.
        if !lost {
            tokio::time::sleep(RETRY).await;
            probe(&weak, &group).await;
        }
    }
}

/// Observes the node resource `/ace-group/GROUPNAME/nodes/NODENAME` for
/// the eviction notice (unsolicited 4.04 with error id 5, RFC 9594 section
/// 5) when the KDC has no `control_uri` to send it to.
pub(crate) async fn observe_node(weak: Weak<Inner>, group: String) {
    let mut signal = match weak.upgrade() {
        Some(inner) => inner.reobserve_signal(&group),
        None => return,
    };
    loop {
        signal.borrow_and_update();
        let observation = {
            let Some(inner) = weak.upgrade() else { return };
            if !member(&inner, &group) {
                return;
            }
            inner.observe_group(&group, true).await
        };
        let mut observation = match observation {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(group, error = %e, "node observation not registered");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if let Some(inner) = weak.upgrade() {
            inner.set_observing_node(&group, true);
        }
        let mut lost = false;
        loop {
            let item = tokio::select! {
                item = observation.next() => item,
                () = reobserve(&mut signal) => {
                    lost = true;
                    None
                }
            };
            let Some(item) = item else { break };
            let Some(inner) = weak.upgrade() else { return };
            let response = match item {
                Ok(r) if !r.is_success() => r,
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(group, error = %e, "node notification refused");
                    continue;
                }
            };
            let event = match Inner::decode_refusal(&response) {
                Some(ErrorId::MembershipTerminated) | Some(ErrorId::OnlyGroupMembers) => {
                    ClientEvent::Evicted {
                        group: group.clone(),
                    }
                }
                Some(ErrorId::GroupDeleted) => ClientEvent::GroupDeleted {
                    group: group.clone(),
                },
                _ => {
                    tracing::debug!(group, code = %response.code, "node observation ended");
                    break;
                }
            };
            inner.forget_group(&group);
            inner.emit(event);
            return;
        }
        if let Some(inner) = weak.upgrade() {
            inner.set_observing_node(&group, false);
        }
        if !lost {
            tokio::time::sleep(RETRY).await;
            probe(&weak, &group).await;
        }
    }
}

/// After an observation ended on its own: a safe request to the KDC first,
/// so that an Echo challenge (the KDC restarted) is noticed and the other
/// observations of the context are registered again too, before the
/// registration that follows would answer the challenge unnoticed.
async fn probe(weak: &Weak<Inner>, group: &str) {
    let Some(inner) = weak.upgrade() else { return };
    if member(&inner, group)
        && let Err(e) = inner.fetch_num(group).await
    {
        tracing::debug!(group, error = %e, "KDC probe failed");
    }
}

/// Polls `/num` at the Key Update Check Interval, and at the material's
/// expiry fetches newer material; expired material with nothing newer is
/// taken out of use.
pub(crate) async fn poll(weak: Weak<Inner>, group: String) {
    loop {
        let wait = {
            let Some(inner) = weak.upgrade() else { return };
            let Some((interval, expires_at, expired)) = inner.poll_info(&group) else {
                return;
            };
            let now = inner.config.clock.now();
            match expires_at {
                Some(e) if !expired && e > now => interval.min(Duration::from_secs(e - now)),
                _ => interval,
            }
        };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        let Some(inner) = weak.upgrade() else { return };
        let Some((_, expires_at, _)) = inner.poll_info(&group) else {
            return;
        };
        let now = inner.config.clock.now();
        let expired = expires_at.is_some_and(|e| now >= e);
        let result = if expired {
            Inner::refresh(&inner, &group, RekeySource::Fetched).await
        } else {
            check_num(&inner, &group).await
        };
        if let Err(e) = &result {
            tracing::debug!(group, error = %e, "key check failed");
        }
        if expired {
            let still = inner
                .poll_info(&group)
                .and_then(|(_, e, _)| e)
                .is_some_and(|e| inner.config.clock.now() >= e);
            if still {
                inner.expire(&group);
            }
        }
    }
}

/// How long a notification may trail the version `/num` announced before
/// the observation counts as lost.
const NOTIFICATION_GRACE: Duration = Duration::from_millis(500);

/// GET `/num` (an Echo challenge to it reveals a KDC restart, see
/// [`Inner::kdc_lost_state`]); a newer version is fetched. An observer
/// that was not told of the newer version within [`NOTIFICATION_GRACE`]
/// registers its observation again: the KDC no longer has it.
async fn check_num(inner: &Arc<Inner>, group: &str) -> Result<bool, crate::ClientError> {
    let current = inner.poll_info(group).map(|_| ());
    if current.is_none() {
        return Ok(false);
    }
    let held = inner.current_num(group);
    let num = inner.fetch_num(group).await?;
    if held.is_none_or(|h| num <= h) {
        return Ok(false);
    }
    if inner.is_observing(group) {
        tokio::time::sleep(NOTIFICATION_GRACE).await;
        if inner.current_num(group).is_some_and(|h| h >= num) {
            return Ok(false);
        }
        tracing::info!(
            group,
            num,
            "a newer version was not notified: observing again"
        );
        inner.observe_again(group);
    }
    Inner::refresh(inner, group, RekeySource::Fetched).await
}
