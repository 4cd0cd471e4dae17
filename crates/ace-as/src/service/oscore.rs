//! OSCORE (RFC 8613) between the AS and its peers: the pre-established
//! contexts of the configuration (`[client.oscore]`, `[audience.oscore]`),
//! installed in `ace-coap`'s OSCORE layer ([`ace_coap::oscore`]) under the
//! [`Peer`] each one authenticates. The layer verifies each request with the
//! context its 'kid' (and 'kid context') select, hands the handlers the
//! context's label as the security identity, protects the response, and
//! answers failures with the unprotected errors of RFC 8613 section 8.2
//! (4.01 "Security context not found", 4.00 "Decryption failed", ...).
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
use ace_coap::oscore::{OscoreContexts, Persistence};
use group_oscore::{ContextParams, SequenceStore};
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

/// The key of a peer's context in the [`SequenceMarks`] store.
pub fn context_name(peer: &Peer) -> String {
    match peer {
        Peer::Client(id) => format!("client/{id}"),
        Peer::ResourceServer(name) => format!("audience/{name}"),
    }
}

/// The AS's contexts with every configured peer that has one, each
/// labelled with its [`Peer`].
pub fn contexts(
    config: &AsConfig,
    marks: Arc<dyn SequenceMarks>,
) -> Result<Arc<OscoreContexts<Peer>>, OscoreSetupError> {
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
        install(&table, &peer, oscore, marks.clone())?;
    }
    Ok(table)
}

/// Installs the context described by `oscore` under `peer`, its sequence
/// numbers kept in `marks`.
pub fn install(
    table: &OscoreContexts<Peer>,
    peer: &Peer,
    oscore: &OscoreContextConfig,
    marks: Arc<dyn SequenceMarks>,
) -> Result<(), OscoreSetupError> {
    let name = context_name(peer);
    let mut params = ContextParams::new(
        &oscore.master_secret,
        &oscore.sender_id,
        &oscore.recipient_id,
    )
    .master_salt(&oscore.master_salt);
    if let Some(id_context) = &oscore.id_context {
        params = params.id_context(id_context);
    }
    let mark = marks.sequence_mark(&name)?;
    let reservation = Box::new(MarkReservation {
        marks: marks.clone(),
        name: name.clone(),
    });
    let persistence = match mark {
        Some(mark) => Persistence::restored(reservation, mark, SEQUENCE_BLOCK),
        None => {
            // First use: record that the context is in use, so that the
            // next start knows its replay window was lost.
            marks.reserve_sequence(&name, 0)?;
            Persistence::new(reservation, SEQUENCE_BLOCK)
        }
    };
    table
        .install_persistent(peer, &params, persistence)
        .map_err(|e| OscoreSetupError::Context {
            name,
            reason: e.to_string(),
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

/// Maps the OSCORE layer's identity (the label of the context that verified
/// the request) to the peer, if it is still a configured one.
pub fn resolver(server: Arc<AuthorizationServer>) -> PeerResolver {
    Arc::new(move |request: &Request| {
        let peer = ace_coap::oscore::label::<Peer>(request)?;
        let config = server.config();
        let known = match peer {
            Peer::Client(id) => config.client(id).is_some_and(|c| c.oscore.is_some()),
            Peer::ResourceServer(name) => config.audience(name).is_some_and(|a| a.oscore.is_some()),
        };
        known.then(|| peer.clone())
    })
}
