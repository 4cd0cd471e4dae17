//! A group member in this process: a thin adapter from the [`Member`]
//! trait to `ace_client::GroupClient`, whose endpoint is tapped into the
//! run's capture. Everything it serves (group requests, the KDC's requests
//! to its `control_uri`) is labelled for the diagram by a layer inside the
//! (Group) OSCORE layer, which knows the inner method, path and code; served
//! group requests are recorded, and Responders answer with their name.

use super::{
    ActorError, ActorFuture, Hints, Joined, Member, MemberSetup, Notice, RawReply, Received, Reply,
};
use ace_client::flow::{AwaitHints, AwaitToken};
use ace_client::membership::MembershipRecord;
use ace_client::{
    AsContext, ClientConfig, ClientError, ClientEvent, GroupClient, Identity, JoinOptions, Label,
};
use ace_coap::{Method, Request, Response, SharedHandler, Target};
use ace_proto::cbor::Codec;
use ace_proto::consts::content_format as cf;
use ace_proto::groupcomm::{CredsFilter, GetCreds};
use ace_proto::oauth::AsRequestCreationHints;
use ace_proto::roles::group_oscore::REQUESTER;
use group_oscore::group::CountersignatureStructure;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeroize::Zeroizing;

/// `text/plain; charset=utf-8` (RFC 7252 section 12.3).
const TEXT_PLAIN: u16 = 0;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A client error as an actor error: refusals keep their code and error id.
pub fn actor_error(e: &ClientError) -> ActorError {
    ActorError {
        code: e.code(),
        error_id: e.error_id(),
        message: e.to_string(),
    }
}

/// The CoAP method named `name`.
pub fn method(name: &str) -> Result<Method, ActorError> {
    Method::ALL
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| ActorError::other(format!("{name} is not a CoAP method")))
}

/// The group named in a `/ace-group/GROUPNAME/...` path.
pub fn group_of(path: &str) -> Option<&str> {
    let mut parts = path.trim_start_matches('/').split('/');
    (parts.next() == Some("ace-group"))
        .then(|| parts.next())
        .flatten()
}

/// A member on `ace-client` in this process.
pub struct InProcessMember {
    name: String,
    client: GroupClient,
    kdc: SocketAddr,
    as_uri: String,
    audience: String,
    received: Arc<Mutex<Vec<Received>>>,
    notices: Arc<Mutex<Vec<Notice>>>,
    /// ID1 of the latest token obtained outside a join (a verifier's).
    extra_session: Mutex<Option<Vec<u8>>>,
    events: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for InProcessMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessMember")
            .field("name", &self.name)
            .field("addr", &self.client.local_addr())
            .finish_non_exhaustive()
    }
}

impl Drop for InProcessMember {
    fn drop(&mut self) {
        self.events.abort();
    }
}

impl InProcessMember {
    /// Starts the client's endpoint (nothing is sent yet).
    pub async fn start(setup: MemberSetup) -> Result<Self, ActorError> {
        let MemberSetup {
            spec,
            identity,
            as_uri,
            audience,
            kdc,
            protocol,
            faults,
            capture,
            countersignature,
            dir,
            ..
        } = setup;
        let authority = AsContext {
            uri: as_uri.clone(),
            sender_id: identity.channel.client_id.clone(),
            recipient_id: identity.channel.as_id.clone(),
            master_secret: Zeroizing::new(identity.channel.master_secret.clone()),
            master_salt: identity.channel.master_salt.clone(),
            id_context: None,
        };
        let mut config = ClientConfig::new(
            &spec.name,
            Identity::from_key(identity.signing.clone(), &spec.name),
            authority,
            kdc,
        );
        config.kdc_audience = Some(audience.clone());
        config.control_uri = spec.control_uri;
        config.observe = spec.observe;
        config.protocol = protocol;
        config.taps = vec![capture.tap(&spec.name)];
        // The inner request and response of what it serves (group
        // requests, the KDC's requests to its control_uri), for the diagram.
        config.inner_layers = vec![Arc::new(super::inprocess::InnerLabels(capture.clone()))];
        config.faults = faults;
        config.countersignature = countersignature;
        // Sequence-number reservations persisted before use (RFC 8613
        // Appendix B.1.1), in the run's directory.
        config.sequence_file = Some(dir.join(format!("client-{}.seq.json", spec.name)));
        let client = GroupClient::start(config)
            .await
            .map_err(|e| ActorError::other(format!("{}: {e}", spec.name)))?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let notices = Arc::new(Mutex::new(Vec::new()));
        let mut rx = client.events();
        let seen = notices.clone();
        let events = tokio::spawn(async move {
            loop {
                let event = match rx.recv().await {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let notice = match event {
                    ClientEvent::Rekeyed { group, num, .. } => Notice::Rekeyed { group, num },
                    ClientEvent::Evicted { group } => Notice::Evicted { group },
                    ClientEvent::GroupDeleted { group } => Notice::GroupDeleted { group },
                    ClientEvent::ObservationRenewed { group } => {
                        Notice::ObservationRenewed { group }
                    }
                    _ => continue,
                };
                lock(&seen).push(notice);
            }
        });
        Ok(Self {
            name: spec.name,
            client,
            kdc,
            as_uri,
            audience,
            received,
            notices,
            extra_session: Mutex::new(None),
            events,
        })
    }

    /// The client (for checks beyond the trait).
    pub fn client(&self) -> &GroupClient {
        &self.client
    }

    fn session_for(&self, path: &str) -> Option<Vec<u8>> {
        let state = self.client.state();
        if let Some(g) = group_of(path)
            && let Some(r) = state.groups.iter().find(|r| r.membership.group == g)
        {
            return Some(r.membership.session.clone());
        }
        if let Some(s) = lock(&self.extra_session).clone() {
            return Some(s);
        }
        state.sessions.last().map(|s| s.id1.clone())
    }
}

impl Member for InProcessMember {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self, group: &str) -> ActorFuture<'_, Hints> {
        let group = group.to_string();
        Box::pin(async move {
            let request = AwaitHints::new(&group, REQUESTER, &[])
                .map_err(|e| actor_error(&e))?
                .request();
            let response = self
                .client
                .oscore()
                .endpoint()
                .request(self.kdc, request)
                .await
                .map_err(|e| ActorError::other(format!("request without a token: {e}")))?;
            let hints = (response.content_format() == Some(cf::ACE_CBOR))
                .then(|| AsRequestCreationHints::decode(&response.payload).ok())
                .flatten();
            Ok(Hints {
                code: response.code,
                as_uri: hints.as_ref().and_then(|h| h.as_uri.clone()),
                audience: hints.as_ref().and_then(|h| h.audience.clone()),
                scope: hints.as_ref().is_some_and(|h| h.scope.is_some()),
                cnonce: hints.as_ref().is_some_and(|h| h.cnonce.is_some()),
            })
        })
    }

    fn join(
        &self,
        groups: Vec<(String, u64)>,
        token_for: Vec<(String, u64)>,
        get_creds: bool,
    ) -> ActorFuture<'_, Vec<Joined>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut scope: Vec<(String, u64)> = groups.clone();
            scope.extend(token_for);
            for (group, roles) in &groups {
                let opts = JoinOptions {
                    get_creds: get_creds.then_some(GetCreds::All),
                    more_groups: scope.iter().filter(|(g, _)| g != group).cloned().collect(),
                    ..JoinOptions::default()
                };
                let o = self
                    .client
                    .join(group, *roles, opts)
                    .await
                    .map_err(|e| actor_error(&e))?;
                out.push(Joined {
                    group: o.group,
                    node: o.node,
                    sender_id: o.sender_id,
                    num: o.num,
                    creds: o.peers,
                });
            }
            Ok(out)
        })
    }

    fn token(&self, group: &str, roles: u64) -> ActorFuture<'_, ()> {
        let group = group.to_string();
        Box::pin(async move {
            let token = AwaitToken::new(&self.as_uri, &self.audience, None, &group, roles, &[]);
            let response = self
                .client
                .oscore()
                .request(
                    Target::Uri(self.as_uri.clone()),
                    &Label::As(self.as_uri.clone()),
                    token.request(),
                )
                .await
                .map_err(|e| ActorError::other(format!("POST {}: {e}", self.as_uri)))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let transfer = token.handle(&response, now).map_err(|e| actor_error(&e))?;
            // ID1: tagged apart from the client's own identifiers.
            let mut id1 = vec![0xc2];
            id1.extend(ace_proto::keys::random_bytes(2));
            let (request, sent) = transfer.request(&id1);
            let response = self
                .client
                .oscore()
                .endpoint()
                .request(self.kdc, request)
                .await
                .map_err(|e| ActorError::other(format!("POST /authz-info: {e}")))?;
            let session = transfer
                .handle(&response, sent)
                .map_err(|e| actor_error(&e))?;
            let params = session.context_params().map_err(|e| actor_error(&e))?;
            let context = group_oscore::SecurityContext::new(&params)
                .map_err(|e| ActorError::other(format!("OSCORE context: {e}")))?;
            self.client.oscore().contexts().install_expiring(
                &Label::Kdc(session.id1.clone()),
                context,
                Some(session.expires_at),
            );
            *lock(&self.extra_session) = Some(session.id1);
            Ok(())
        })
    }

    fn keys(&self, group: &str) -> ActorFuture<'_, u64> {
        let group = group.to_string();
        Box::pin(async move {
            self.client
                .keys(&group)
                .await
                .map(|v| v.num)
                .map_err(|e| actor_error(&e))
        })
    }

    fn num(&self, group: &str) -> ActorFuture<'_, u64> {
        let group = group.to_string();
        Box::pin(async move { self.client.num(&group).await.map_err(|e| actor_error(&e)) })
    }

    fn renew(&self, group: &str) -> ActorFuture<'_, Vec<u8>> {
        let group = group.to_string();
        Box::pin(async move {
            self.client
                .renew_sender_id(&group)
                .await
                .map_err(|e| actor_error(&e))
        })
    }

    fn creds(&self, group: &str, filter: Option<CredsFilter>) -> ActorFuture<'_, Vec<Vec<u8>>> {
        let group = group.to_string();
        Box::pin(async move {
            self.client
                .creds(&group, filter)
                .await
                .map(|c| c.peer_identifiers)
                .map_err(|e| actor_error(&e))
        })
    }

    fn kdc_cred(&self, group: &str) -> ActorFuture<'_, ()> {
        let group = group.to_string();
        Box::pin(async move {
            self.client
                .kdc_cred(&group)
                .await
                .map_err(|e| actor_error(&e))
        })
    }

    fn policies(&self, group: &str) -> ActorFuture<'_, Option<i64>> {
        let group = group.to_string();
        Box::pin(async move {
            self.client
                .policies(&group)
                .await
                .map(|p| p.key_update_check_interval)
                .map_err(|e| actor_error(&e))
        })
    }

    fn leave(&self, group: &str) -> ActorFuture<'_, ()> {
        let group = group.to_string();
        Box::pin(async move { self.client.leave(&group).await.map_err(|e| actor_error(&e)) })
    }

    fn send(
        &self,
        group: &str,
        targets: Vec<SocketAddr>,
        path: &str,
        payload: Vec<u8>,
        window: Duration,
    ) -> ActorFuture<'_, Vec<Reply>> {
        let group = group.to_string();
        let path = path.to_string();
        Box::pin(async move {
            self.client
                .set_group_targets(&group, None, targets)
                .map_err(|e| actor_error(&e))?;
            // FETCH: safe, so the client may repeat it after learning the
            // credential of a member that joined later (RFC 8132).
            let request = Request::fetch(&path)
                .with_content_format(TEXT_PLAIN)
                .with_payload(payload);
            let responses = self
                .client
                .group_request(&group, request, window)
                .await
                .map_err(|e| actor_error(&e))?;
            Ok(responses
                .into_iter()
                .map(|r| Reply {
                    sender_id: Some(r.kid),
                    from: r.from,
                    code: r.code,
                    payload: r.payload,
                })
                .collect())
        })
    }

    fn serve(&self, group: &str) -> ActorFuture<'_, ()> {
        let group = group.to_string();
        Box::pin(async move {
            let name = self.name.clone();
            let received = self.received.clone();
            let g = group.clone();
            let handler: SharedHandler = Arc::new(move |request: Request| {
                let kid = ace_coap::oscore::identity::<Label>(&request).map(|i| i.kid.clone());
                let path = format!("/{}", request.path.join("/"));
                lock(&received).push(Received {
                    group: g.clone(),
                    path: path.clone(),
                    payload: request.payload.clone(),
                    sender_id: kid,
                });
                let response = Response::content(format!("{name} read {path}"))
                    .with_content_format(TEXT_PLAIN);
                async move { response }
            });
            self.client
                .serve(&group, handler)
                .map_err(|e| actor_error(&e))
        })
    }

    fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    fn raw_request(
        &self,
        method_name: &str,
        path: &str,
        payload: Option<Vec<u8>>,
        content_format: Option<u16>,
    ) -> ActorFuture<'_, RawReply> {
        let method_name = method_name.to_string();
        let mut path = path.to_string();
        Box::pin(async move {
            if path.contains("{node}") {
                let node = group_of(&path)
                    .and_then(|g| self.node_name(g))
                    .ok_or_else(|| ActorError::other(format!("no node name for {path}")))?;
                path = path.replace("{node}", &node);
            }
            let session = self
                .session_for(&path)
                .ok_or_else(|| ActorError::other("no access token: join first"))?;
            let mut request = Request::new(method(&method_name)?, &path);
            if let Some(p) = payload {
                request = request.with_payload(p);
            }
            if let Some(f) = content_format {
                request = request.with_content_format(f);
            }
            let response = self
                .client
                .oscore()
                .request(self.kdc, &Label::Kdc(session), request)
                .await
                .map_err(|e| ActorError::other(format!("{method_name} {path}: {e}")))?;
            Ok(RawReply {
                code: response.code,
                payload: response.payload,
            })
        })
    }

    fn installed_num(&self, group: &str) -> Option<u64> {
        self.client.current_num(group)
    }

    fn sender_id(&self, group: &str) -> Option<Vec<u8>> {
        self.client.sender_id(group)
    }

    fn node_name(&self, group: &str) -> Option<String> {
        self.client.material(group).map(|v| v.node)
    }

    fn export(&self, group: &str) -> ActorFuture<'_, Option<MembershipRecord>> {
        let group = group.to_string();
        Box::pin(async move {
            Ok(self
                .client
                .state()
                .groups
                .into_iter()
                .find(|r| r.membership.group == group)
                .map(|r| r.membership))
        })
    }

    fn observing(&self, group: &str) -> Option<bool> {
        Some(self.client.is_observing(group))
    }

    fn notices(&self) -> Vec<Notice> {
        lock(&self.notices).clone()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.client.local_addr())
    }

    fn shutdown(&self) -> ActorFuture<'_, ()> {
        Box::pin(async move {
            self.client.shutdown().await;
            self.events.abort();
            Ok(())
        })
    }
}

/// The countersignature structure named in a scenario.
pub fn countersignature(name: &str) -> Option<CountersignatureStructure> {
    match name {
        "rfc9338" | "rfc10021" => Some(CountersignatureStructure::Rfc9338),
        "aiocoap-0.4.17" => Some(CountersignatureStructure::Aiocoap0_4_17),
        _ => None,
    }
}
