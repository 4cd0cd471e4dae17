//! The client's server side: the handler behind the endpoint's OSCORE
//! layer.
//!
//! * Requests verified with a group's membership go to the handler the
//!   application registered for that group ([`crate::GroupClient::serve`]),
//!   after a [`ClientEvent::MessageReceived`] event.
//! * `control_uri` (`/ace-group/GROUPNAME/node`, verified with the context
//!   of the token the group was joined under): POST carries a rekeying
//!   message (RFC 9594 section 6.1), DELETE an eviction (section 5).
//! * Before verification, a group request from a Sender ID whose
//!   credential the client lacks makes it ask the KDC for it (RFC 10021
//!   section 7.2: credentials come from the Group Manager), so that the
//!   request of a member that joined later verifies.

use crate::client::{Inner, Label};
use crate::view::{ClientEvent, RekeySource};
use ace_coap::handler::{BoxFuture, Handler, Layer, Middleware, SharedHandler};
use ace_coap::oscore::{self, OSCORE_OPTION, OscoreContexts};
use ace_coap::{Code, Method, Request, Response};
use ace_proto::cbor::Codec;
use ace_proto::groupcomm::RekeyingMessage;
use group_oscore::OscoreOption;
use std::sync::{Arc, OnceLock, Weak};

type Slot = Arc<OnceLock<Weak<Inner>>>;

fn upgrade(slot: &Slot) -> Option<Arc<Inner>> {
    slot.get().and_then(Weak::upgrade)
}

/// The endpoint's handler: the learning step, the OSCORE server layer,
/// the configured inner layers, then [`App`].
pub(crate) fn handler(
    slot: Slot,
    table: Arc<OscoreContexts<Label>>,
    inner_layers: &[Arc<dyn Layer>],
) -> SharedHandler {
    let mut app: SharedHandler = Arc::new(App { slot: slot.clone() });
    for layer in inner_layers.iter().rev() {
        app = layer.layer(app);
    }
    let layered = table.server_layer().layer(app);
    Middleware::wrap(layered, move |request: Request, next: SharedHandler| {
        let slot = slot.clone();
        async move {
            if !request.is_notification()
                && let Some((gid, kid)) = group_ids(&request)
                && let Some(inner) = upgrade(&slot)
            {
                inner.ensure_member(&gid, &kid).await;
            }
            next.call(request).await
        }
    })
}

/// The Gid and Sender ID of a Group OSCORE request.
fn group_ids(request: &Request) -> Option<(Vec<u8>, Vec<u8>)> {
    let option = OscoreOption::decode(request.options.get(OSCORE_OPTION)?).ok()?;
    Some((option.kid_context?, option.kid?))
}

struct App {
    slot: Slot,
}

impl Handler for App {
    fn call(&self, request: Request) -> BoxFuture<Response> {
        let slot = self.slot.clone();
        Box::pin(async move {
            let Some(inner) = upgrade(&slot) else {
                return Response::new(Code::SERVICE_UNAVAILABLE);
            };
            let identity = oscore::identity::<Label>(&request).cloned();
            if let Some(id) = &identity
                && let Label::Group(group) = &id.label
            {
                inner.emit(ClientEvent::MessageReceived {
                    group: group.clone(),
                    kid: id.kid.clone(),
                    method: request.method.to_string(),
                    path: request.path_string(),
                    payload: request.payload.clone(),
                });
                return match inner.handler_for(group) {
                    Some(h) => h.call(request).await,
                    None => Response::not_found(),
                };
            }
            let group =
                match inner.control_group(&request.path, identity.as_ref().map(|i| &i.label)) {
                    Ok(g) => g,
                    Err(code) => return Response::new(code),
                };
            match request.method {
                Method::Post => {
                    let message = match RekeyingMessage::decode(&request.payload) {
                        Ok(m) => m,
                        Err(e) => return Response::bad_request(&e.to_string()),
                    };
                    match inner
                        .on_rekey(&group, message, RekeySource::ControlUri)
                        .await
                    {
                        Ok(()) => Response::changed(),
                        Err(e) => {
                            tracing::warn!(group, error = %e, "rekeying message not installed");
                            inner.emit(ClientEvent::Error {
                                group: Some(group),
                                message: format!("rekeying message: {e}"),
                            });
                            Response::new(Code::INTERNAL_SERVER_ERROR)
                        }
                    }
                }
                Method::Delete => {
                    inner.forget_group(&group);
                    inner.emit(ClientEvent::Evicted { group });
                    Response::deleted()
                }
                _ => Response::new(Code::METHOD_NOT_ALLOWED),
            }
        })
    }
}
