//! OSCORE (RFC 8613) between the AS and its peers: the pre-established
//! contexts of the configuration (`[client.oscore]`, `[audience.oscore]`),
//! installed in the OSCORE binding for `ace-coap` that `ace-kdc` provides
//! (`ace_kdc::service::oscore`; its server layer verifies each request with
//! the context its 'kid' names, hands the handlers the context's Recipient
//! ID as the security identity, protects the response, and answers
//! failures with the unprotected errors of RFC 8613 section 8.2).
//!
//! Each context's Sender Sequence Number is reserved ahead in the
//! [`SequenceMarks`] store (RFC 8613 Appendix B.1.1), so the AS never
//! reuses a nonce after a restart. A context that was in use before (its
//! mark is recorded) starts with its replay window marked lost: its first
//! request is answered with an Echo challenge, and the request repeated with
//! the Echo value is accepted (RFC 8613 Appendix B.1.2), so a request from
//! before the restart cannot be replayed.

use crate::config::{AsConfig, OscoreContextConfig};
use crate::server::{AuthorizationServer, Peer};
use crate::service::PeerResolver;
use crate::store::{SequenceMarks, StoreError};
use ace_coap::Request;
use ace_kdc::ChannelId;
use ace_kdc::service::oscore::OscoreContexts;
use group_oscore::{ContextParams, SecurityContext, SenderSequence, SequenceStore};
use std::sync::Arc;

/// Sender Sequence Numbers reserved per write to the store.
pub const SEQUENCE_BLOCK: u64 = group_oscore::sequence::DEFAULT_RESERVATION;

/// Why the OSCORE contexts could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OscoreSetupError {
    /// A context does not derive (e.g. an identifier too long for the
    /// AEAD's nonce).
    #[error("OSCORE context {name}: {reason}")]
    Context {
        /// `client/<id>` or `audience/<name>`.
        name: String,
        /// Why.
        reason: String,
    },
    /// The sequence number marks could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key of a context in the [`SequenceMarks`] store.
pub fn context_name(peer: &Peer) -> String {
    match peer {
        Peer::Client(id) => format!("client/{id}"),
        Peer::ResourceServer(name) => format!("audience/{name}"),
    }
}

/// The AS's contexts with every configured peer that has one.
pub fn contexts(
    config: &AsConfig,
    marks: Arc<dyn SequenceMarks>,
) -> Result<Arc<OscoreContexts>, OscoreSetupError> {
    let table = OscoreContexts::new();
    let peers = config
        .clients
        .iter()
        .filter_map(|c| Some((Peer::Client(c.id.clone()), c.oscore.as_ref()?)))
        .chain(
            config
                .audiences
                .iter()
                .filter_map(|a| Some((Peer::ResourceServer(a.name.clone()), a.oscore.as_ref()?))),
        );
    for (peer, oscore) in peers {
        let name = context_name(&peer);
        let context = context(oscore, &name, marks.clone())?;
        table.install(&ChannelId(oscore.recipient_id.clone()), context);
    }
    Ok(table)
}

/// The security context described by `oscore`, its sequence numbers kept
/// in `marks` under `name`.
pub fn context(
    oscore: &OscoreContextConfig,
    name: &str,
    marks: Arc<dyn SequenceMarks>,
) -> Result<SecurityContext, OscoreSetupError> {
    let mut params = ContextParams::new(
        &oscore.master_secret,
        &oscore.sender_id,
        &oscore.recipient_id,
    )
    .master_salt(&oscore.master_salt);
    if let Some(id_context) = &oscore.id_context {
        params = params.id_context(id_context);
    }
    let context = SecurityContext::new(&params).map_err(|e| OscoreSetupError::Context {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    let mark = marks.sequence_mark(name)?;
    if mark.is_none() {
        // First use: record that the context is in use, so that the next
        // start knows its replay window was lost.
        marks.reserve_sequence(name, 0)?;
    }
    let sequence = SenderSequence::resume(
        mark.unwrap_or(0),
        Box::new(MarkReservation {
            marks,
            name: name.to_string(),
        }),
        SEQUENCE_BLOCK,
    );
    let context = context.with_sequence(sequence);
    Ok(if mark.is_some() {
        context.with_lost_replay_state()
    } else {
        context
    })
}

/// Reserves sequence numbers of one context in the store.
struct MarkReservation {
    marks: Arc<dyn SequenceMarks>,
    name: String,
}

impl SequenceStore for MarkReservation {
    fn reserve(&mut self, mark: u64) -> Result<(), String> {
        self.marks
            .reserve_sequence(&self.name, mark)
            .map_err(|e| e.to_string())
    }
}

/// Maps the OSCORE layer's identity (the context's Recipient ID) to the
/// configured peer.
pub fn resolver(server: Arc<AuthorizationServer>) -> PeerResolver {
    Arc::new(move |request: &Request| {
        request
            .security::<ChannelId>()
            .and_then(|channel| server.peer_by_recipient_id(&channel.0))
    })
}
