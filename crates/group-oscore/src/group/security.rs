//! A group member's Group OSCORE state across rekeyings: the current
//! Security Context, the previous one during a grace period, the Key
//! Generation Number, and the hook that finds members' credentials.

use coap_lite::Packet;
use zeroize::Zeroizing;

use super::context::{GroupContext, PendingRequest, RequestMode, ResponseMode, Verification};
use super::member::{Member, MemberLookup, OwnIdentity};
use super::params::GroupParams;
use crate::context::read_option;
use crate::error::{ContextError, DecodeFailure, ProtectError, UnprotectError};
use crate::exchange::{ClientExchange, ServerExchange};
use crate::replay::WindowState;
use crate::sequence::SenderSequence;

/// New group keying material from the Group Manager (RFC 10021 section
/// 12.2; a Join Response or rekeying message of
/// draft-ietf-ace-key-groupcomm-oscore sections 6.3 and 11).
pub struct Rekeying {
    /// The new Gid.
    pub gid: Vec<u8>,
    /// The new Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// The new Master Salt (empty if the Group Manager sent none).
    pub master_salt: Vec<u8>,
    /// The new Key Generation Number (`num`), if known.
    pub key_generation: Option<u64>,
    /// Sender IDs whose credentials and Recipient Contexts are deleted
    /// before installing (`stale_node_ids`).
    pub stale_sender_ids: Vec<Vec<u8>>,
    /// A new Sender ID for us, if the Group Manager assigned one.
    pub new_sender_id: Option<Vec<u8>>,
    /// The Sender Sequence Number store for the new Sender Context (starts
    /// at 0); volatile if `None`.
    pub sequence: Option<SenderSequence>,
    /// How long (seconds) the previous context stays usable for verifying
    /// incoming messages: the profile's Expiration Delta (RFC 9594 section
    /// 4.1.2, group policy 2; default 0 in draft-ietf-ace-key-groupcomm-oscore).
    pub grace: u64,
}

impl Rekeying {
    /// New keying material with a new Gid and Master Secret, no stale IDs,
    /// no grace period.
    pub fn new(gid: &[u8], master_secret: &[u8]) -> Self {
        Self {
            gid: gid.to_vec(),
            master_secret: Zeroizing::new(master_secret.to_vec()),
            master_salt: Vec::new(),
            key_generation: None,
            stale_sender_ids: Vec::new(),
            new_sender_id: None,
            sequence: None,
            grace: 0,
        }
    }
}

/// The replay state of a member's current Security Context, to save it
/// across a restart (RFC 8613 Appendix B.1.2; RFC 10021 section 2.6.1):
/// the replay window of each Recipient Context and whether a Recipient
/// Context was ever deleted (section 2.6.1.2). Made by
/// [`GroupSecurity::replay_state`], applied by
/// [`GroupSecurity::restore_replay_state`].
///
/// It is only as fresh as the moment it was taken: take it after the
/// endpoint stopped processing requests, and restore it once. A member
/// restored from an older state would accept the requests received since
/// a second time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayState {
    /// The Gid of the context the windows belong to.
    pub gid: Vec<u8>,
    /// Whether a Recipient Context was ever deleted from that context: new
    /// Recipient Contexts then start with an invalid window.
    pub recipients_deleted: bool,
    /// Each Recipient Context's Sender ID and window (none: invalid),
    /// sorted by Sender ID.
    pub windows: Vec<(Vec<u8>, Option<WindowState>)>,
}

/// A decrypted response and who sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResponse {
    /// The decrypted response.
    pub message: Packet,
    /// The responder's Sender ID.
    pub kid: Vec<u8>,
}

/// A previous context kept for verification only.
struct Retired {
    context: GroupContext,
    until: u64,
}

/// Group OSCORE for one group.
pub struct GroupSecurity {
    current: GroupContext,
    previous: Option<Retired>,
    key_generation: Option<u64>,
    lookup: Option<Box<dyn MemberLookup>>,
}

impl std::fmt::Debug for GroupSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSecurity")
            .field("current", &self.current)
            .field("previous_until", &self.previous.as_ref().map(|p| p.until))
            .field("key_generation", &self.key_generation)
            .finish_non_exhaustive()
    }
}

impl GroupSecurity {
    /// Establishes the Security Context for `params`, with our identity and
    /// the members known so far.
    pub fn new(
        params: GroupParams,
        own: OwnIdentity,
        members: impl IntoIterator<Item = Member>,
    ) -> Result<Self, ContextError> {
        Ok(Self {
            current: GroupContext::new(params, own, members)?,
            previous: None,
            key_generation: None,
            lookup: None,
        })
    }

    /// Sets the Key Generation Number (`num`) of the current keying material.
    #[must_use]
    pub fn with_key_generation(mut self, num: u64) -> Self {
        self.key_generation = Some(num);
        self
    }

    /// Uses `sequence` for our Sender Sequence Number (e.g. persisted).
    #[must_use]
    pub fn with_sequence(mut self, sequence: SenderSequence) -> Self {
        self.current.set_sequence(sequence);
        self
    }

    /// Installs the hook asked for the credential of an unknown Sender ID.
    pub fn set_member_lookup(&mut self, lookup: Box<dyn MemberLookup>) {
        self.lookup = Some(lookup);
    }

    /// The current Security Context.
    pub fn current(&self) -> &GroupContext {
        &self.current
    }

    /// The current Security Context, mutably (to add or remove members).
    pub fn current_mut(&mut self) -> &mut GroupContext {
        &mut self.current
    }

    /// The previous Security Context, while its grace period lasts.
    pub fn previous(&self) -> Option<&GroupContext> {
        self.previous.as_ref().map(|p| &p.context)
    }

    /// The current Gid.
    pub fn gid(&self) -> &[u8] {
        self.current.gid()
    }

    /// The Key Generation Number of the current keying material.
    pub fn key_generation(&self) -> Option<u64> {
        self.key_generation
    }

    /// Adds a member, e.g. from the credentials the Group Manager sent.
    pub fn add_member(&mut self, member: Member) -> Result<(), ContextError> {
        self.current.add_member(member)
    }

    /// Deletes the credentials and Recipient Contexts of `sender_ids` from
    /// the current and previous context.
    pub fn remove_members(&mut self, sender_ids: &[Vec<u8>]) {
        let ids = || sender_ids.iter().map(Vec::as_slice);
        self.current.remove_members(ids());
        if let Some(p) = self.previous.as_mut() {
            p.context.remove_members(ids());
        }
    }

    /// Installs new keying material at time `now` (RFC 10021 sections
    /// 2.6.3.2 and 12.2): stale Sender IDs are deleted first, then a new
    /// context is derived with the same algorithms, our (possibly new)
    /// Sender ID, Sender Sequence Number 0 and valid replay windows. The
    /// replaced context is kept for verification only until `now +
    /// grace`; responses are always protected with the new one.
    ///
    /// A `key_generation` not newer than the current one is refused
    /// (draft-ietf-ace-key-groupcomm-oscore section 11: ignore it).
    pub fn rekey(&mut self, rekeying: Rekeying, now: u64) -> Result<(), ContextError> {
        if let (Some(old), Some(new)) = (self.key_generation, rekeying.key_generation)
            && new <= old
        {
            return Err(ContextError::Inconsistent(
                "key generation number is not newer",
            ));
        }
        let mut params = self.current.params().clone();
        params.gid = rekeying.gid;
        params.master_secret = rekeying.master_secret;
        params.master_salt = rekeying.master_salt;
        let mut next =
            self.current
                .successor(params, rekeying.new_sender_id, &rekeying.stale_sender_ids)?;
        if let Some(seq) = rekeying.sequence {
            next.set_sequence(seq);
        }
        let mut old = std::mem::replace(&mut self.current, next);
        old.remove_members(rekeying.stale_sender_ids.iter().map(Vec::as_slice));
        self.previous = (rekeying.grace > 0).then(|| Retired {
            context: old,
            until: now.saturating_add(rekeying.grace),
        });
        if rekeying.key_generation.is_some() {
            self.key_generation = rekeying.key_generation;
        }
        Ok(())
    }

    /// Takes the Sender ID `sender_id` that the Group Manager assigned
    /// (Key Renewal, RFC 9594 section 4.8.2 and the Group OSCORE profile
    /// section 9; RFC 10021 section 2.6.3.1) without new group keying
    /// material: only the Sender Context changes (Sender Key derived again,
    /// Sender Sequence Number from `sequence`, normally starting at 0).
    /// The Recipient Contexts keep their replay windows, and the Gid and
    /// Key Generation Number stay. Responses to requests verified before
    /// carry the new 'kid' and a fresh Partial IV. A Sender ID that belongs
    /// to a known member is refused.
    pub fn renew_sender_id(
        &mut self,
        sender_id: &[u8],
        sequence: SenderSequence,
    ) -> Result<(), ContextError> {
        self.current.set_sender_id(sender_id.to_vec(), sequence)
    }

    /// The replay state of the current context (see [`ReplayState`]). The
    /// previous context kept for its grace period is not included: a
    /// restored member verifies with the current keying material only.
    pub fn replay_state(&self) -> ReplayState {
        let (windows, recipients_deleted) = self.current.replay_windows();
        ReplayState {
            gid: self.current.gid().to_vec(),
            recipients_deleted,
            windows,
        }
    }

    /// Restores a [`ReplayState`] saved from this member's context with the
    /// same Gid, typically into a context just built again from the same
    /// keying material and members: each Recipient Context takes its saved
    /// window; one saved as invalid stays invalid (its sender goes through
    /// Echo); one not in the saved state starts valid unless a Recipient
    /// Context had been deleted (then invalid, RFC 10021 section 2.6.1.2). A
    /// Sender ID in the saved state without a Recipient Context here makes
    /// every Recipient Context created later start invalid.
    ///
    /// A state of another Gid, or one that does not fit the context's
    /// window size, is refused and nothing changes: the caller then treats
    /// the replay state as lost.
    pub fn restore_replay_state(&mut self, state: &ReplayState) -> Result<(), ContextError> {
        if state.gid != self.current.gid() {
            return Err(ContextError::Inconsistent(
                "the saved replay state belongs to another Gid",
            ));
        }
        self.current
            .restore_replay_windows(&state.windows, state.recipients_deleted)
    }

    /// Makes every replay window of the current context invalid, as if the
    /// replay state had been lost (RFC 10021 section 2.6.1.2): each
    /// member's next request goes through Echo, and Recipient Contexts
    /// created later start invalid too.
    pub fn invalidate_replay_windows(&mut self) {
        let (windows, _) = self.current.replay_windows();
        let lost: Vec<_> = windows.into_iter().map(|(kid, _)| (kid, None)).collect();
        // Invalid windows always fit the context.
        let _ = self.current.restore_replay_windows(&lost, true);
    }

    /// When the previous context must be dropped, if one is kept.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.previous.as_ref().map(|p| p.until)
    }

    /// Drops the previous context once its grace period is over at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.previous.as_ref().is_some_and(|p| now >= p.until) {
            self.previous = None;
        }
    }

    /// Protects a request with the current context, in group mode or in
    /// pairwise mode for one member.
    pub fn protect_request(
        &mut self,
        request: &Packet,
        mode: &RequestMode,
    ) -> Result<(Packet, ClientExchange), ProtectError> {
        self.current.protect_request(request, mode)
    }

    /// Verifies a request: the 'kid context' selects the current context or,
    /// during its grace period, the previous one (RFC 10021 section 14.5);
    /// an unknown Gid is answered with 4.01. The same as
    /// [`GroupSecurity::check_request`], [`PendingRequest::verify`] and
    /// [`GroupSecurity::finish_request`] in a row.
    pub fn unprotect_request(
        &mut self,
        request: &Packet,
    ) -> Result<(Packet, ServerExchange), UnprotectError> {
        let pending = self.check_request(request)?;
        self.finish_request(pending.verify())
    }

    /// The first step of verifying a request, for callers that verify away
    /// from the state (the state behind a lock shared by concurrent
    /// requests): the checks against the state (Gid, Sender ID, roles,
    /// replay window) and what the verification needs. Then
    /// [`PendingRequest::verify`] (no state: the countersignature and the
    /// decryption, the costly part) and [`GroupSecurity::finish_request`]
    /// (the checks again, and the replay window update).
    pub fn check_request(&mut self, request: &Packet) -> Result<PendingRequest, UnprotectError> {
        let option = read_option(request)?;
        let gid = option
            .kid_context
            .clone()
            .ok_or(DecodeFailure::MissingField("kid context"))?;
        let lookup = self.lookup.as_deref_mut();
        if gid == self.current.gid() {
            return self.current.check_request(request, option, lookup);
        }
        match self.previous.as_mut() {
            Some(p) if gid == p.context.gid() => p.context.check_request(request, option, lookup),
            _ => Err(UnprotectError::ContextNotFound),
        }
    }

    /// The last step of verifying a request checked by
    /// [`GroupSecurity::check_request`]: the context that checked it must
    /// still be here (a rekeying or the end of the grace period meanwhile
    /// gives 4.01 "Security context not found"), with the same Recipient
    /// Context; the replay window is checked again and updated atomically
    /// (RFC 8613 section 7.4), so two copies of a request verified in
    /// parallel are accepted once.
    pub fn finish_request(
        &mut self,
        verification: Verification,
    ) -> Result<(Packet, ServerExchange), UnprotectError> {
        let gid = verification.gid().to_vec();
        if gid == self.current.gid() {
            return self.current.finish_request(verification);
        }
        match self.previous.as_mut() {
            Some(p) if gid == p.context.gid() => p.context.finish_request(verification),
            _ => Err(UnprotectError::ContextNotFound),
        }
    }

    /// Protects a response with the current context (RFC 10021 section
    /// 7.3: always the latest Sender Context).
    pub fn protect_response(
        &mut self,
        response: &Packet,
        exchange: &mut ServerExchange,
        mode: ResponseMode,
    ) -> Result<Packet, ProtectError> {
        self.current
            .protect_response(response, exchange, mode, false)
    }

    /// Like [`GroupSecurity::protect_response`] with a fresh Partial IV
    /// forced when `fresh_piv` is set.
    pub fn protect_response_with(
        &mut self,
        response: &Packet,
        exchange: &mut ServerExchange,
        mode: ResponseMode,
        fresh_piv: bool,
    ) -> Result<Packet, ProtectError> {
        self.current
            .protect_response(response, exchange, mode, fresh_piv)
    }

    /// Verifies a response. A 'kid context' in the response selects the
    /// context with that Gid; without one, the context the request was
    /// protected with is used if it still exists, else the current one.
    pub fn unprotect_response(
        &mut self,
        response: &Packet,
        exchange: &mut ClientExchange,
    ) -> Result<GroupResponse, UnprotectError> {
        let option = read_option(response)?;
        let gid = option
            .kid_context
            .clone()
            .or_else(|| exchange.request_kid_context.clone())
            .unwrap_or_default();
        let lookup = self.lookup.as_deref_mut();
        let context = if gid == self.current.gid() {
            &mut self.current
        } else {
            match self.previous.as_mut() {
                Some(p) if gid == p.context.gid() => &mut p.context,
                _ if option.kid_context.is_none() => &mut self.current,
                _ => return Err(UnprotectError::ContextNotFound),
            }
        };
        let (message, kid) = context.unprotect_response(response, option, exchange, lookup)?;
        Ok(GroupResponse { message, kid })
    }
}
