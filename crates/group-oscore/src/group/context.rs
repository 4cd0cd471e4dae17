//! One Group OSCORE Security Context: the keying material of one Gid
//! (RFC 10021 section 2), with message processing in group mode (section 7)
//! and pairwise mode (section 8).
//!
//! [`super::GroupSecurity`] holds the current context and, during a grace
//! period after a rekeying, the previous one; it is the API applications
//! use. This type does the per-context work.

use std::collections::HashMap;

use ace_proto::keys::{SIGNATURE_LEN, VerifyingKey};
use coap_lite::Packet;
use zeroize::Zeroizing;

use super::countersign::{countersign_structure, xor_in_place};
use super::member::{
    LookupResult, Member, MemberLookup, OwnIdentity, may_send_requests, may_send_responses,
};
use super::params::{CountersignatureStructure, GroupParams};
use crate::aad::{AadInput, GroupAad, aad_array, enc_structure};
use crate::algorithm::{Aead, Hkdf};
use crate::context::{ECHO_LEN, finish_response, is_registration};
use crate::derive::{InfoType, derive, info, keystream};
use crate::error::{ContextError, DecodeFailure, ProtectError, UnprotectError};
use crate::exchange::{
    ClientExchange, EchoChallenge, GroupClientInfo, GroupServerInfo, ResponseTracker,
    ServerExchange,
};
use crate::message::{self, ECHO, MessageKind, Split};
use crate::nonce::nonce;
use crate::option::{OSCORE_OPTION, OscoreOption, encode_piv, piv_value};
use crate::replay::{ReplayError, ReplayWindow, WindowState};
use crate::sequence::SenderSequence;

/// Replay windows by Sender ID (none: invalid), as saved.
pub(crate) type SavedWindows = Vec<(Vec<u8>, Option<WindowState>)>;

/// How a request is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestMode {
    /// Group mode: signed, for all members (RFC 10021 section 7.1).
    Group,
    /// Pairwise mode for the member with this Sender ID (section 8.3).
    Pairwise(Vec<u8>),
}

/// How a response is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Group mode (RFC 10021 section 7.3).
    Group,
    /// Pairwise mode (section 8.5).
    Pairwise,
}

/// The pairwise keys shared with one member (RFC 10021 section 2.5.1).
struct PairwiseKeys {
    sender: Zeroizing<Vec<u8>>,
    recipient: Zeroizing<Vec<u8>>,
}

/// A Recipient Context (RFC 10021 section 2.2).
struct Recipient {
    member: Member,
    key: Zeroizing<Vec<u8>>,
    pairwise: Option<PairwiseKeys>,
    replay: ReplayWindow,
    echo: Option<Vec<u8>>,
}

/// The Sender Context.
struct Sender {
    id: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
    sequence: SenderSequence,
}

/// Which mode a received message uses, from its Group Flag.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Group,
    Pairwise,
}

/// One Group OSCORE Security Context.
pub struct GroupContext {
    params: GroupParams,
    common_iv: Vec<u8>,
    signature_encryption_key: Option<Zeroizing<Vec<u8>>>,
    own: OwnIdentity,
    sender: Option<Sender>,
    recipients: HashMap<Vec<u8>, Recipient>,
    deleted_any: bool,
}

impl std::fmt::Debug for GroupContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupContext")
            .field("params", &self.params)
            .field("own", &self.own)
            .field("recipients", &self.recipients.len())
            .finish_non_exhaustive()
    }
}

impl GroupContext {
    /// Derives the context (RFC 10021 section 2.3): Common IV, Signature
    /// Encryption Key, Sender Key (Sender Sequence Number 0), and a
    /// Recipient Context with a valid replay window for each member.
    pub fn new(
        params: GroupParams,
        own: OwnIdentity,
        members: impl IntoIterator<Item = Member>,
    ) -> Result<Self, ContextError> {
        let main = params.main_algorithm().ok_or(ContextError::Inconsistent(
            "neither group mode nor pairwise mode is set",
        ))?;
        if params.group_encryption.is_some() != params.signature.is_some() {
            return Err(ContextError::Inconsistent(
                "Group Encryption Algorithm and Signature Algorithm must be set together",
            ));
        }
        if params.aead.is_some() != params.key_agreement.is_some() {
            return Err(ContextError::Inconsistent(
                "AEAD Algorithm and Pairwise Key Agreement Algorithm must be set together",
            ));
        }
        for alg in [params.group_encryption, params.aead].into_iter().flatten() {
            if alg.nonce_len() < 7 {
                return Err(ContextError::NonceTooShort(alg.nonce_len()));
            }
        }
        if let (Some(group_alg), Some(own_alg)) = (params.signature, own.signature_algorithm())
            && group_alg != own_alg
        {
            return Err(ContextError::Inconsistent(
                "own signing key does not match the group's Signature Algorithm",
            ));
        }
        let gid = params.gid.clone();
        let iv_len = params.common_iv_len();
        let iv_info = info(b"", Some(&gid), main.cose_id(), InfoType::Iv, iv_len);
        let common_iv = derive(
            params.hkdf,
            &params.master_salt,
            &params.master_secret,
            &iv_info,
            iv_len,
        )
        .to_vec();
        let signature_encryption_key = params.group_encryption.map(|alg| {
            let se_info = info(
                b"",
                Some(&gid),
                alg.cose_id(),
                InfoType::SeKey,
                alg.key_len(),
            );
            derive(
                params.hkdf,
                &params.master_salt,
                &params.master_secret,
                &se_info,
                alg.key_len(),
            )
        });
        let mut ctx = Self {
            common_iv,
            signature_encryption_key,
            own,
            sender: None,
            recipients: HashMap::new(),
            deleted_any: false,
            params,
        };
        if let Some(id) = ctx.own.sender_id.clone() {
            ctx.check_id("Sender ID", &id)?;
            ctx.sender = Some(Sender {
                key: ctx.derive_key(&id),
                id,
                sequence: SenderSequence::volatile(),
            });
        }
        for member in members {
            ctx.add_member(member)?;
        }
        Ok(ctx)
    }

    fn check_id(&self, which: &'static str, id: &[u8]) -> Result<(), ContextError> {
        let max = self.params.max_id_len();
        if id.len() > max {
            return Err(ContextError::IdTooLong {
                which,
                len: id.len(),
                max,
            });
        }
        Ok(())
    }

    /// A Sender or Recipient Key (RFC 10021 section 2.3): the RFC 8613
    /// derivation with the Group Encryption Algorithm if set, else the AEAD
    /// Algorithm.
    fn derive_key(&self, id: &[u8]) -> Zeroizing<Vec<u8>> {
        let main = self.main_alg();
        let info = info(
            id,
            Some(&self.params.gid),
            main.cose_id(),
            InfoType::Key,
            main.key_len(),
        );
        derive(
            self.params.hkdf,
            &self.params.master_salt,
            &self.params.master_secret,
            &info,
            main.key_len(),
        )
    }

    fn main_alg(&self) -> &'static dyn Aead {
        // The constructor refused parameters without any algorithm.
        self.params
            .main_algorithm()
            .unwrap_or(&crate::algorithm::AES_CCM_16_64_128)
    }

    /// Adds (or replaces) the Recipient Context of a member. The replay
    /// window starts valid, unless a Recipient Context was ever deleted from
    /// this context (RFC 10021 section 2.6.1.2), in which case it starts
    /// invalid and the member's first request goes through Echo.
    pub fn add_member(&mut self, member: Member) -> Result<(), ContextError> {
        self.check_id("Recipient ID", &member.sender_id)?;
        if let Some(alg) = self.params.signature
            && member
                .credential
                .signature_key()
                .is_some_and(|k| k.algorithm() != alg)
        {
            return Err(ContextError::Inconsistent(
                "member credential does not fit the group's Signature Algorithm",
            ));
        }
        let replay = if self.deleted_any {
            ReplayWindow::invalid(self.params.replay_window)
        } else {
            ReplayWindow::new(self.params.replay_window)
        };
        let recipient = Recipient {
            key: self.derive_key(&member.sender_id),
            pairwise: None,
            replay,
            echo: None,
            member,
        };
        self.recipients
            .insert(recipient.member.sender_id.clone(), recipient);
        Ok(())
    }

    /// Deletes the Recipient Contexts (and credentials) of `sender_ids`,
    /// e.g. stale Sender IDs (RFC 10021 section 12.2). From then on, new
    /// Recipient Contexts start with an invalid replay window.
    pub fn remove_members<'a>(&mut self, sender_ids: impl IntoIterator<Item = &'a [u8]>) {
        for id in sender_ids {
            if self.recipients.remove(id).is_some() {
                self.deleted_any = true;
            }
        }
    }

    /// Replaces the Sender Context with one for the new Sender ID `id`
    /// that the Group Manager assigned (RFC 9594 section 4.8.2; RFC 10021
    /// section 2.6.3.1): Sender Key derived again, Sender Sequence Number
    /// from `sequence` (0 for a new ID), pairwise keys derived again on
    /// next use. The Recipient Contexts, their replay windows and pending
    /// Echo challenges stay as they are: the other members' keys did not
    /// change.
    pub(crate) fn set_sender_id(
        &mut self,
        id: Vec<u8>,
        sequence: SenderSequence,
    ) -> Result<(), ContextError> {
        self.check_id("Sender ID", &id)?;
        if self.recipients.contains_key(&id) {
            return Err(ContextError::Inconsistent(
                "the new Sender ID is another member's",
            ));
        }
        self.sender = Some(Sender {
            key: self.derive_key(&id),
            id: id.clone(),
            sequence,
        });
        self.own.sender_id = Some(id);
        for r in self.recipients.values_mut() {
            r.pairwise = None;
        }
        Ok(())
    }

    /// The replay windows of the Recipient Contexts, by Sender ID (none for
    /// an invalid window), and whether a Recipient Context was ever deleted
    /// from this context (RFC 10021 section 2.6.1.2).
    pub(crate) fn replay_windows(&self) -> (SavedWindows, bool) {
        let mut windows: Vec<_> = self
            .recipients
            .iter()
            .map(|(kid, r)| (kid.clone(), r.replay.state()))
            .collect();
        windows.sort_by(|a, b| a.0.cmp(&b.0));
        (windows, self.deleted_any)
    }

    /// Sets the replay windows saved by [`GroupContext::replay_windows`]
    /// (see [`super::GroupSecurity::restore_replay_state`]). Every window is
    /// checked before any is set.
    pub(crate) fn restore_replay_windows(
        &mut self,
        windows: &[(Vec<u8>, Option<WindowState>)],
        recipients_deleted: bool,
    ) -> Result<(), ContextError> {
        let size = self.params.replay_window;
        let mut restored = HashMap::with_capacity(windows.len());
        for (kid, state) in windows {
            let window = match state {
                Some(s) => ReplayWindow::from_state(size, s)?,
                None => ReplayWindow::invalid(size),
            };
            restored.insert(kid.as_slice(), window);
        }
        // A Sender ID saved without a Recipient Context now may have had
        // messages accepted: from now on, new Recipient Contexts start
        // invalid, as after a deletion.
        let unmatched = restored
            .keys()
            .any(|kid| !self.recipients.contains_key(*kid));
        self.deleted_any |= recipients_deleted || unmatched;
        for (kid, r) in &mut self.recipients {
            r.replay = match restored.remove(kid.as_slice()) {
                Some(w) => w,
                None if recipients_deleted => ReplayWindow::invalid(size),
                // Not known when the state was saved, and nothing was
                // ever deleted: no message of it can have been accepted.
                None => ReplayWindow::new(size),
            };
        }
        Ok(())
    }

    /// The members with a Recipient Context.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.recipients.values().map(|r| &r.member)
    }

    /// The member with Sender ID `kid`, if it has a Recipient Context.
    pub fn member(&self, kid: &[u8]) -> Option<&Member> {
        self.recipients.get(kid).map(|r| &r.member)
    }

    /// The parameters.
    pub fn params(&self) -> &GroupParams {
        &self.params
    }

    /// The Gid (ID Context).
    pub fn gid(&self) -> &[u8] {
        &self.params.gid
    }

    /// Our identity.
    pub fn own(&self) -> &OwnIdentity {
        &self.own
    }

    /// The Common IV.
    pub fn common_iv(&self) -> &[u8] {
        &self.common_iv
    }

    /// The Signature Encryption Key (group mode only).
    pub fn signature_encryption_key(&self) -> Option<&[u8]> {
        self.signature_encryption_key
            .as_deref()
            .map(|k| k.as_slice())
    }

    /// Our Sender Key, if we have a Sender Context.
    pub fn sender_key(&self) -> Option<&[u8]> {
        self.sender.as_ref().map(|s| s.key.as_slice())
    }

    /// The next Sender Sequence Number, if we have a Sender Context.
    pub fn sender_sequence_number(&self) -> Option<u64> {
        self.sender.as_ref().map(|s| s.sequence.peek())
    }

    /// Replaces the Sender Sequence Number (e.g. one resumed from storage).
    pub fn set_sequence(&mut self, sequence: SenderSequence) {
        if let Some(s) = self.sender.as_mut() {
            s.sequence = sequence;
        }
    }

    /// The Recipient Key of member `kid`.
    pub fn recipient_key(&self, kid: &[u8]) -> Option<&[u8]> {
        self.recipients.get(kid).map(|r| r.key.as_slice())
    }

    /// The replay window of member `kid`.
    pub fn replay_window(&self, kid: &[u8]) -> Option<&ReplayWindow> {
        self.recipients.get(kid).map(|r| &r.replay)
    }

    /// The Pairwise Sender Key and Pairwise Recipient Key shared with
    /// member `kid` (RFC 10021 section 2.5.1), derived on first use.
    pub fn pairwise_keys(&mut self, kid: &[u8]) -> Result<(&[u8], &[u8]), ProtectError> {
        self.ensure_pairwise(kid)?;
        let keys = self
            .recipients
            .get(kid)
            .and_then(|r| r.pairwise.as_ref())
            .ok_or(ProtectError::UnknownPeer)?;
        Ok((keys.sender.as_slice(), keys.recipient.as_slice()))
    }

    fn ensure_pairwise(&mut self, kid: &[u8]) -> Result<(), ProtectError> {
        if !self.params.has_pairwise_mode() {
            return Err(ProtectError::ModeUnavailable("pairwise"));
        }
        let sender = self.sender.as_ref().ok_or(ProtectError::NoSenderContext)?;
        let recipient = self.recipients.get(kid).ok_or(ProtectError::UnknownPeer)?;
        if recipient.pairwise.is_some() {
            return Ok(());
        }
        let aead = self
            .params
            .aead
            .ok_or(ProtectError::ModeUnavailable("pairwise"))?;
        let own_key = self.own.dh_key.as_ref().ok_or(ProtectError::KeyAgreement)?;
        let peer_key = recipient
            .member
            .credential
            .dh_key()
            .ok_or(ProtectError::KeyAgreement)?;
        let shared = own_key
            .agree(peer_key)
            .map_err(|_| ProtectError::KeyAgreement)?;
        let own_cred = &self.own.credential;
        let peer_cred = recipient.member.credential.bytes();
        let gid = &self.params.gid;
        let derive_one = |salt: &[u8], first: &[u8], second: &[u8], id: &[u8]| {
            let mut ikm = Zeroizing::new(Vec::with_capacity(
                first.len() + second.len() + shared.as_bytes().len(),
            ));
            ikm.extend_from_slice(first);
            ikm.extend_from_slice(second);
            ikm.extend_from_slice(shared.as_bytes());
            let info = info(id, Some(gid), aead.cose_id(), InfoType::Key, aead.key_len());
            derive(self.params.hkdf, salt, &ikm, &info, aead.key_len())
        };
        let keys = PairwiseKeys {
            sender: derive_one(&sender.key, own_cred, peer_cred, &sender.id),
            recipient: derive_one(&recipient.key, peer_cred, own_cred, kid),
        };
        if let Some(r) = self.recipients.get_mut(kid) {
            r.pairwise = Some(keys);
        }
        Ok(())
    }

    fn group_aad<'a>(
        &'a self,
        request_kid_context: &'a [u8],
        oscore_option: &'a [u8],
        sender_cred: &'a [u8],
    ) -> AadInput<'a> {
        AadInput::Group(GroupAad {
            algorithms: self.params.algorithms(),
            request_kid_context,
            oscore_option,
            sender_cred,
            gm_cred: &self.params.gm_credential,
        })
    }

    /// Encrypts the plaintext and, in group mode, appends the encrypted
    /// countersignature (RFC 10021 sections 3, 4.1 and 4.2).
    #[allow(clippy::too_many_arguments)]
    fn seal(
        &self,
        split: Split,
        option_value: Vec<u8>,
        aad_array: &[u8],
        alg: &'static dyn Aead,
        key: &[u8],
        nonce: &[u8],
        keystream_input: Option<(&[u8], &[u8], bool)>,
    ) -> Result<Packet, ProtectError> {
        let mut buffer = split.plaintext;
        alg.encrypt(key, nonce, &enc_structure(aad_array), &mut buffer)?;
        if let Some((piv, piv_generator, is_request)) = keystream_input {
            let signing = self
                .own
                .signing_key
                .as_ref()
                .ok_or(ProtectError::ModeUnavailable("group"))?;
            let sekey = self
                .signature_encryption_key
                .as_ref()
                .ok_or(ProtectError::ModeUnavailable("group"))?;
            let tbs = countersign_structure(self.params.countersignature, aad_array, &buffer);
            let mut signature = signing.sign(&tbs);
            let stream = keystream(
                self.params.hkdf,
                piv,
                sekey,
                piv_generator,
                &self.params.gid,
                is_request,
                SIGNATURE_LEN,
            );
            xor_in_place(&mut signature, &stream);
            buffer.extend_from_slice(&signature);
        }
        let mut outer = split.outer;
        message::add_option(&mut outer, OSCORE_OPTION, option_value);
        outer.payload = buffer;
        Ok(outer)
    }

    /// Protects a request in group or pairwise mode (RFC 10021 sections 7.1
    /// and 8.3).
    pub(crate) fn protect_request(
        &mut self,
        request: &Packet,
        mode: &RequestMode,
    ) -> Result<(Packet, ClientExchange), ProtectError> {
        if self.sender.is_none() {
            return Err(ProtectError::NoSenderContext);
        }
        if !may_send_requests(self.own.roles) {
            return Err(ProtectError::RoleForbids("request"));
        }
        let split = message::split(request, MessageKind::Request)?;
        let target = match mode {
            RequestMode::Group => {
                if !self.params.has_group_mode() || self.own.signing_key.is_none() {
                    return Err(ProtectError::ModeUnavailable("group"));
                }
                None
            }
            RequestMode::Pairwise(peer) => {
                self.ensure_pairwise(peer)?;
                let cred = self
                    .recipients
                    .get(peer)
                    .map(|r| r.member.credential.bytes().to_vec())
                    .ok_or(ProtectError::UnknownPeer)?;
                Some((peer.clone(), cred))
            }
        };
        let sender = self.sender.as_mut().ok_or(ProtectError::NoSenderContext)?;
        let piv = encode_piv(sender.sequence.next_number()?);
        let sender_id = sender.id.clone();
        let gid = self.params.gid.clone();
        let option = OscoreOption {
            group_flag: *mode == RequestMode::Group,
            partial_iv: Some(piv.clone()),
            kid_context: Some(gid.clone()),
            kid: Some(sender_id.clone()),
        };
        let option_value = option.encode()?;
        let aad_array = aad_array(
            &self.group_aad(&gid, &option_value, &self.own.credential),
            &sender_id,
            &piv,
            b"",
        );
        let packet = match mode {
            RequestMode::Group => {
                let alg = self
                    .params
                    .group_encryption
                    .ok_or(ProtectError::ModeUnavailable("group"))?;
                let key = self.sender_key().ok_or(ProtectError::NoSenderContext)?;
                let nonce = nonce(&self.common_iv, &sender_id, &piv, alg.nonce_len())?;
                self.seal(
                    split,
                    option_value,
                    &aad_array,
                    alg,
                    key,
                    &nonce,
                    Some((&piv, &sender_id, true)),
                )?
            }
            RequestMode::Pairwise(peer) => {
                let alg = self
                    .params
                    .aead
                    .ok_or(ProtectError::ModeUnavailable("pairwise"))?;
                let key = self.pairwise_sender_key(peer)?;
                let nonce = nonce(&self.common_iv, &sender_id, &piv, alg.nonce_len())?;
                self.seal(split, option_value, &aad_array, alg, key, &nonce, None)?
            }
        };
        let exchange = ClientExchange {
            request_kid: sender_id,
            request_piv: piv,
            request_kid_context: Some(gid),
            observe: is_registration(request),
            single: ResponseTracker::default(),
            group: Some(GroupClientInfo {
                group_mode: *mode == RequestMode::Group,
                target,
                servers: HashMap::new(),
            }),
        };
        Ok((packet, exchange))
    }

    fn pairwise_sender_key(&self, peer: &[u8]) -> Result<&[u8], ProtectError> {
        self.recipients
            .get(peer)
            .and_then(|r| r.pairwise.as_ref())
            .map(|k| k.sender.as_slice())
            .ok_or(ProtectError::UnknownPeer)
    }

    /// The mode of a received message, checked against the context's
    /// algorithms (RFC 10021 section 6).
    fn received_mode(&self, option: &OscoreOption) -> Result<Mode, UnprotectError> {
        if option.group_flag {
            if !self.params.has_group_mode() {
                return Err(UnprotectError::ModeUnavailable("group"));
            }
            Ok(Mode::Group)
        } else {
            if !self.params.has_pairwise_mode()
                || self.own.dh_key.is_none()
                || self.sender.is_none()
            {
                return Err(UnprotectError::ModeUnavailable("pairwise"));
            }
            Ok(Mode::Pairwise)
        }
    }

    /// Finds or creates (through `lookup`) the Recipient Context of `kid`.
    /// Returns whether it was created for this message.
    fn recipient_for(
        &mut self,
        kid: &[u8],
        lookup: Option<&mut (dyn MemberLookup + '_)>,
    ) -> Result<bool, UnprotectError> {
        if self.recipients.contains_key(kid) {
            return Ok(false);
        }
        let Some(lookup) = lookup else {
            return Err(UnprotectError::ContextNotFound);
        };
        match lookup.lookup(&self.params.gid, kid) {
            LookupResult::Found(member) if member.sender_id == kid => {
                self.add_member(*member)
                    .map_err(|_| UnprotectError::ContextNotFound)?;
                Ok(true)
            }
            LookupResult::Found(_) | LookupResult::Unknown => Err(UnprotectError::ContextNotFound),
            LookupResult::Pending { retry_after } => {
                Err(UnprotectError::CredentialPending { retry_after })
            }
        }
    }

    /// What verifying and decrypting a message of `mode` from member `kid`
    /// needs (RFC 10021 sections 4 and 7.2).
    fn opening(&self, mode: Mode, kid: &[u8]) -> Result<Opening<'_>, UnprotectError> {
        let recipient = self
            .recipients
            .get(kid)
            .ok_or(UnprotectError::ContextNotFound)?;
        let (alg, key) = match mode {
            Mode::Group => (
                self.params
                    .group_encryption
                    .ok_or(UnprotectError::ModeUnavailable("group"))?,
                recipient.key.as_slice(),
            ),
            Mode::Pairwise => (
                self.params
                    .aead
                    .ok_or(UnprotectError::ModeUnavailable("pairwise"))?,
                recipient
                    .pairwise
                    .as_ref()
                    .map(|k| k.recipient.as_slice())
                    .ok_or(UnprotectError::DecryptionFailed)?,
            ),
        };
        let signature = match mode {
            Mode::Group => Some(SignatureCheck {
                key: recipient
                    .member
                    .credential
                    .signature_key()
                    .ok_or(UnprotectError::SignatureInvalid)?,
                encryption_key: self
                    .signature_encryption_key
                    .as_deref()
                    .map(Vec::as_slice)
                    .ok_or(UnprotectError::ModeUnavailable("group"))?,
                hkdf: self.params.hkdf,
                gid: &self.params.gid,
                structure: self.params.countersignature,
            }),
            Mode::Pairwise => None,
        };
        Ok(Opening {
            alg,
            key,
            common_iv: &self.common_iv,
            signature,
        })
    }

    /// The first step of verifying a request whose 'kid context' names this
    /// context (RFC 10021 sections 7.2 and 8.4): the checks against the context's state (identifiers,
    /// roles, the replay window), the Recipient Context created on first
    /// contact, the pairwise keys, and the AAD. What it returns verifies
    /// the countersignature and decrypts without the context.
    pub(crate) fn check_request(
        &mut self,
        request: &Packet,
        option: OscoreOption,
        lookup: Option<&mut (dyn MemberLookup + '_)>,
    ) -> Result<PendingRequest, UnprotectError> {
        let piv = option
            .partial_iv
            .clone()
            .ok_or(DecodeFailure::MissingField("Partial IV"))?;
        let kid = option
            .kid
            .clone()
            .ok_or(DecodeFailure::MissingField("kid"))?;
        let kid_context = option
            .kid_context
            .clone()
            .ok_or(DecodeFailure::MissingField("kid context"))?;
        if kid_context != self.params.gid {
            return Err(UnprotectError::ContextNotFound);
        }
        if self.own.sender_id.as_deref() == Some(kid.as_slice()) {
            return Err(UnprotectError::OwnSenderId);
        }
        let mode = self.received_mode(&option)?;
        let created = self.recipient_for(&kid, lookup)?;
        let result = self.prepare(
            request,
            &option,
            mode,
            kid.clone(),
            piv,
            kid_context,
            created,
        );
        if created && result.is_err() {
            // RFC 10021 section 7.2: a Recipient Context created for a message
            // that does not verify MAY be deleted, without invalidating the
            // replay windows of later ones.
            self.recipients.remove(&kid);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn prepare(
        &mut self,
        request: &Packet,
        option: &OscoreOption,
        mode: Mode,
        kid: Vec<u8>,
        piv: Vec<u8>,
        kid_context: Vec<u8>,
        created: bool,
    ) -> Result<PendingRequest, UnprotectError> {
        let recipient = self
            .recipients
            .get(&kid)
            .ok_or(UnprotectError::ContextNotFound)?;
        if !may_send_requests(recipient.member.roles) {
            return Err(UnprotectError::RoleNotAuthorized("request"));
        }
        let seq = piv_value(&piv);
        match recipient.replay.check(seq) {
            Ok(()) | Err(ReplayError::Uninitialized) => {}
            Err(e) => return Err(UnprotectError::Replay(e)),
        }
        if mode == Mode::Pairwise {
            self.ensure_pairwise(&kid)
                .map_err(|_| UnprotectError::DecryptionFailed)?;
        }
        let option_value = option.encode().map_err(DecodeFailure::from)?;
        let sender_cred = self
            .recipients
            .get(&kid)
            .map(|r| r.member.credential.bytes().to_vec())
            .ok_or(UnprotectError::ContextNotFound)?;
        let aad_array = aad_array(
            &self.group_aad(&kid_context, &option_value, &sender_cred),
            &kid,
            &piv,
            b"",
        );
        let opening = OwnedOpening::from(&self.opening(mode, &kid)?);
        Ok(PendingRequest {
            request: request.clone(),
            aad_array,
            opening,
            check: RequestCheck {
                gid: kid_context,
                kid,
                piv,
                seq,
                group_mode: mode == Mode::Group,
                created,
                credential: sender_cred,
            },
        })
    }

    /// The last step of verifying a request: with the context locked again,
    /// the checks of [`GroupContext::check_request`] are made again (the
    /// Recipient Context and its credential unchanged, the roles, the
    /// replay window, which other requests may have moved meanwhile), and
    /// the window is updated (RFC 8613 section 7.4: validation and update
    /// are atomic; only after successful verification). A Recipient Context
    /// created for a request that did not verify is deleted.
    pub(crate) fn finish_request(
        &mut self,
        verification: Verification,
    ) -> Result<(Packet, ServerExchange), UnprotectError> {
        let (check, outcome) = match verification.0 {
            Ok(v) => (v.check, Ok(v.decrypted)),
            Err(f) => (f.check, Err(f.error)),
        };
        let same = self
            .recipients
            .get(&check.kid)
            .is_some_and(|r| r.member.credential.bytes() == check.credential.as_slice());
        if check.gid != self.params.gid || !same {
            // Removed or replaced while the request was verified.
            return Err(outcome.err().unwrap_or(UnprotectError::ContextNotFound));
        }
        let mut decrypted = match outcome {
            Ok(d) => d,
            Err(e) => {
                if check.created && !matches!(e, UnprotectError::EchoRequired(_)) {
                    self.recipients.remove(&check.kid);
                }
                return Err(e);
            }
        };
        let pairwise_available = self.params.has_pairwise_mode();
        let own_sender_id = self.own.sender_id.clone();
        let Some(recipient) = self.recipients.get_mut(&check.kid) else {
            return Err(UnprotectError::ContextNotFound);
        };
        if !may_send_requests(recipient.member.roles) {
            return Err(UnprotectError::RoleNotAuthorized("request"));
        }
        let fresh = match recipient.replay.check(check.seq) {
            Ok(()) => true,
            Err(ReplayError::Uninitialized) => false,
            Err(e) => return Err(UnprotectError::Replay(e)),
        };
        let group_mode = check.group_mode;
        let seq = check.seq;
        let mut exchange = ServerExchange {
            request_kid: check.kid,
            request_piv: check.piv,
            observe: is_registration(&decrypted),
            nonce_reusable: fresh,
            responses_sent: 0,
            group: Some(GroupServerInfo {
                verified_gid: check.gid.clone(),
                group_mode,
                sender_id: own_sender_id,
            }),
            request_kid_context: Some(check.gid),
        };
        if fresh {
            recipient.replay.accept(seq);
            return Ok((decrypted, exchange));
        }
        // RFC 10021 section 9: an invalid replay window becomes valid through
        // a unicast request echoing our Echo value, in pairwise mode when the
        // group has it.
        let echoed = message::first_option(&decrypted, ECHO).cloned();
        let mode_ok = !group_mode || !pairwise_available;
        match (&recipient.echo, echoed) {
            (Some(expected), Some(got)) if *expected == got && mode_ok => {
                recipient.replay.initialize_from(seq);
                recipient.echo = None;
                message::remove_option(&mut decrypted, ECHO);
                exchange.nonce_reusable = true;
                Ok((decrypted, exchange))
            }
            _ => {
                let echo = recipient
                    .echo
                    .get_or_insert_with(|| ace_proto::keys::random_bytes(ECHO_LEN))
                    .clone();
                Err(UnprotectError::EchoRequired(Box::new(EchoChallenge {
                    echo,
                    exchange,
                })))
            }
        }
    }

    /// Protects a response with this (the latest) context (RFC 10021
    /// sections 7.3 and 8.5). A fresh Partial IV is used unless this is the
    /// first response to a request verified with this same context; the
    /// 'kid context' is included when the request was verified with another
    /// (older) context; the 'kid' is included in group mode and whenever the
    /// request was in group mode (section 3.2).
    pub(crate) fn protect_response(
        &mut self,
        response: &Packet,
        exchange: &mut ServerExchange,
        mode: ResponseMode,
        fresh_piv: bool,
    ) -> Result<Packet, ProtectError> {
        if self.sender.is_none() {
            return Err(ProtectError::NoSenderContext);
        }
        if !may_send_responses(self.own.roles) {
            return Err(ProtectError::RoleForbids("response"));
        }
        let split = message::split(response, MessageKind::Response)?;
        match mode {
            ResponseMode::Group => {
                if !self.params.has_group_mode() || self.own.signing_key.is_none() {
                    return Err(ProtectError::ModeUnavailable("group"));
                }
            }
            ResponseMode::Pairwise => self.ensure_pairwise(&exchange.request_kid)?,
        }
        let other_context = exchange
            .group
            .as_ref()
            .is_none_or(|g| g.verified_gid != self.params.gid);
        let sender = self.sender.as_mut().ok_or(ProtectError::NoSenderContext)?;
        let sender_id = sender.id.clone();
        // A new Sender ID since the request was verified (RFC 10021 section
        // 2.6.3.1): the response says who sends it and uses a fresh Partial
        // IV, as a response from another Sender Context does.
        let new_sender_id = exchange
            .group
            .as_ref()
            .is_some_and(|g| g.sender_id.as_deref() != Some(sender_id.as_slice()));
        let reuse = exchange.may_reuse_nonce() && !other_context && !new_sender_id && !fresh_piv;
        let own_piv = if reuse {
            None
        } else {
            Some(encode_piv(sender.sequence.next_number()?))
        };
        let option = OscoreOption {
            group_flag: mode == ResponseMode::Group,
            partial_iv: own_piv.clone(),
            kid_context: other_context.then(|| self.params.gid.clone()),
            kid: (mode == ResponseMode::Group || exchange.is_group_mode() || new_sender_id)
                .then(|| sender_id.clone()),
        };
        let option_value = option.encode()?;
        let request_kid_context = exchange.request_kid_context.clone().unwrap_or_default();
        let aad_array = aad_array(
            &self.group_aad(&request_kid_context, &option_value, &self.own.credential),
            &exchange.request_kid,
            &exchange.request_piv,
            b"",
        );
        let (nonce_id, nonce_piv) = match &own_piv {
            Some(piv) => (sender_id.as_slice(), piv.as_slice()),
            None => (
                exchange.request_kid.as_slice(),
                exchange.request_piv.as_slice(),
            ),
        };
        let packet = match mode {
            ResponseMode::Group => {
                let alg = self
                    .params
                    .group_encryption
                    .ok_or(ProtectError::ModeUnavailable("group"))?;
                let key = self.sender_key().ok_or(ProtectError::NoSenderContext)?;
                let nonce = nonce(&self.common_iv, nonce_id, nonce_piv, alg.nonce_len())?;
                self.seal(
                    split,
                    option_value,
                    &aad_array,
                    alg,
                    key,
                    &nonce,
                    Some((nonce_piv, nonce_id, false)),
                )?
            }
            ResponseMode::Pairwise => {
                let alg = self
                    .params
                    .aead
                    .ok_or(ProtectError::ModeUnavailable("pairwise"))?;
                let key = self.pairwise_sender_key(&exchange.request_kid)?;
                let nonce = nonce(&self.common_iv, nonce_id, nonce_piv, alg.nonce_len())?;
                self.seal(split, option_value, &aad_array, alg, key, &nonce, None)?
            }
        };
        exchange.responses_sent += 1;
        Ok(packet)
    }

    /// Verifies a response with this context (RFC 10021 sections 7.4 and
    /// 8.6). Returns the decrypted response and the responder's Sender ID.
    pub(crate) fn unprotect_response(
        &mut self,
        response: &Packet,
        option: OscoreOption,
        exchange: &mut ClientExchange,
        lookup: Option<&mut (dyn MemberLookup + '_)>,
    ) -> Result<(Packet, Vec<u8>), UnprotectError> {
        let group_info = exchange
            .group
            .as_ref()
            .ok_or(UnprotectError::UnexpectedResponse(
                "not a Group OSCORE exchange",
            ))?;
        let target = group_info.target.clone();
        // A 'kid' other than the addressed server's is that server under a
        // new Sender ID (RFC 10021 section 2.6.3.1: it then includes its
        // 'kid'); verify_response checks that the credential is the
        // addressed server's (section 8.6).
        let kid = match (&option.kid, &target) {
            (Some(kid), _) => kid.clone(),
            (None, Some((expected, _))) => expected.clone(),
            (None, None) => {
                return Err(UnprotectError::UnexpectedResponse(
                    "response to a group-mode request without 'kid'",
                ));
            }
        };
        let mode = self.received_mode(&option)?;
        let created = self.recipient_for(&kid, lookup)?;
        let result = self.verify_response(response, &option, mode, &kid, exchange);
        if created && result.is_err() {
            self.recipients.remove(&kid);
        }
        result.map(|packet| (packet, kid))
    }

    fn verify_response(
        &mut self,
        response: &Packet,
        option: &OscoreOption,
        mode: Mode,
        kid: &[u8],
        exchange: &mut ClientExchange,
    ) -> Result<Packet, UnprotectError> {
        let recipient = self
            .recipients
            .get(kid)
            .ok_or(UnprotectError::ContextNotFound)?;
        if !may_send_responses(recipient.member.roles) {
            return Err(UnprotectError::RoleNotAuthorized("response"));
        }
        let cred = recipient.member.credential.bytes().to_vec();
        let long = exchange.is_long();
        let Some(group_info) = exchange.group.as_mut() else {
            return Err(UnprotectError::UnexpectedResponse(
                "not a Group OSCORE exchange",
            ));
        };
        if group_info.target.as_ref().is_some_and(|(_, c)| *c != cred) {
            return Err(UnprotectError::UnexpectedResponse(
                "responder's credential is not the addressed server's",
            ));
        }
        let tracker = group_info.servers.entry(cred.clone()).or_default();
        if tracker.gid.as_deref().is_some_and(|g| g != self.params.gid) {
            // A new Security Context: Response Numbers start over (RFC 10021
            // section 2.6.3.2).
            tracker.reset_numbers();
        }
        if tracker.kid1.as_deref().is_some_and(|k| k != kid) {
            return Err(UnprotectError::UnexpectedResponse(
                "server 'kid' changed within the long exchange",
            ));
        }
        let seq = option.partial_iv.as_deref().map(piv_value);
        tracker.check(seq, long).map_err(UnprotectError::Replay)?;

        if mode == Mode::Pairwise {
            self.ensure_pairwise(kid)
                .map_err(|_| UnprotectError::DecryptionFailed)?;
        }
        let option_value = option.encode().map_err(DecodeFailure::from)?;
        let request_kid_context = exchange.request_kid_context.clone().unwrap_or_default();
        let aad_array = aad_array(
            &self.group_aad(&request_kid_context, &option_value, &cred),
            &exchange.request_kid,
            &exchange.request_piv,
            b"",
        );
        let (nonce_id, nonce_piv) = match &option.partial_iv {
            Some(piv) => (kid, piv.as_slice()),
            None => (
                exchange.request_kid.as_slice(),
                exchange.request_piv.as_slice(),
            ),
        };
        let plaintext = self.opening(mode, kid)?.open(
            &response.payload,
            &aad_array,
            nonce_id,
            nonce_piv,
            nonce_id,
            false,
        )?;
        let plaintext = message::decode_plaintext(&plaintext).map_err(DecodeFailure::from)?;
        let mut decrypted = message::merge(response, plaintext, MessageKind::Response)
            .map_err(DecodeFailure::from)?;
        finish_response(&mut decrypted, seq, exchange.observe)?;
        if let Some(tracker) = exchange
            .group
            .as_mut()
            .and_then(|g| g.servers.get_mut(&cred))
        {
            tracker.accept(seq);
            tracker.kid1 = Some(kid.to_vec());
            tracker.gid = Some(self.params.gid.clone());
        }
        Ok(decrypted)
    }

    /// Starts a fresh context with new keying material, keeping our identity
    /// (or a new Sender ID) and the members' credentials except `stale`
    /// (RFC 10021 section 2.6.3.2: keys re-derived, Sender Sequence Number
    /// 0, replay windows valid with lower limit 0).
    pub(crate) fn successor(
        &self,
        params: GroupParams,
        new_sender_id: Option<Vec<u8>>,
        stale: &[Vec<u8>],
    ) -> Result<Self, ContextError> {
        let mut own = self.own.clone();
        if let Some(id) = new_sender_id {
            own.sender_id = Some(id);
        }
        let members: Vec<Member> = self
            .recipients
            .values()
            .map(|r| r.member.clone())
            .filter(|m| !stale.contains(&m.sender_id))
            .collect();
        Self::new(params, own, members)
    }
}

/// What opening a message needs, borrowed from the context (RFC 10021
/// sections 4 and 7.2): the AEAD and key of its mode and, in group mode,
/// the countersignature check.
struct Opening<'a> {
    alg: &'static dyn Aead,
    key: &'a [u8],
    common_iv: &'a [u8],
    signature: Option<SignatureCheck<'a>>,
}

/// The countersignature check of a group-mode message.
struct SignatureCheck<'a> {
    key: &'a VerifyingKey,
    encryption_key: &'a [u8],
    hkdf: Hkdf,
    gid: &'a [u8],
    structure: CountersignatureStructure,
}

impl Opening<'_> {
    /// Verifies the countersignature (group mode) first, as RFC 10021
    /// section 7.2 recommends, then decrypts.
    fn open(
        &self,
        payload: &[u8],
        aad_array: &[u8],
        nonce_id: &[u8],
        nonce_piv: &[u8],
        keystream_id: &[u8],
        is_request: bool,
    ) -> Result<Vec<u8>, UnprotectError> {
        let alg = self.alg;
        let mut ciphertext = payload.to_vec();
        if let Some(check) = &self.signature {
            if payload.len() < SIGNATURE_LEN + alg.tag_len() + 1 {
                return Err(DecodeFailure::ShortPayload.into());
            }
            let mut signature = ciphertext.split_off(payload.len() - SIGNATURE_LEN);
            let stream = keystream(
                check.hkdf,
                nonce_piv,
                check.encryption_key,
                keystream_id,
                check.gid,
                is_request,
                SIGNATURE_LEN,
            );
            xor_in_place(&mut signature, &stream);
            let tbs = countersign_structure(check.structure, aad_array, &ciphertext);
            check
                .key
                .verify(&tbs, &signature)
                .map_err(|_| UnprotectError::SignatureInvalid)?;
        } else if payload.len() < alg.tag_len() + 1 {
            return Err(DecodeFailure::ShortPayload.into());
        }
        let nonce = nonce(self.common_iv, nonce_id, nonce_piv, alg.nonce_len())
            .map_err(|_| UnprotectError::DecryptionFailed)?;
        alg.decrypt(self.key, &nonce, &enc_structure(aad_array), &mut ciphertext)
            .map_err(|_| UnprotectError::DecryptionFailed)?;
        Ok(ciphertext)
    }
}

/// An [`Opening`] that owns its keys, to verify away from the context.
struct OwnedOpening {
    alg: &'static dyn Aead,
    key: Zeroizing<Vec<u8>>,
    common_iv: Vec<u8>,
    signature: Option<OwnedSignatureCheck>,
}

struct OwnedSignatureCheck {
    key: VerifyingKey,
    encryption_key: Zeroizing<Vec<u8>>,
    hkdf: Hkdf,
    gid: Vec<u8>,
    structure: CountersignatureStructure,
}

impl From<&Opening<'_>> for OwnedOpening {
    fn from(o: &Opening<'_>) -> Self {
        Self {
            alg: o.alg,
            key: Zeroizing::new(o.key.to_vec()),
            common_iv: o.common_iv.to_vec(),
            signature: o.signature.as_ref().map(|c| OwnedSignatureCheck {
                key: c.key.clone(),
                encryption_key: Zeroizing::new(c.encryption_key.to_vec()),
                hkdf: c.hkdf,
                gid: c.gid.to_vec(),
                structure: c.structure,
            }),
        }
    }
}

impl OwnedOpening {
    fn borrow(&self) -> Opening<'_> {
        Opening {
            alg: self.alg,
            key: &self.key,
            common_iv: &self.common_iv,
            signature: self.signature.as_ref().map(|c| SignatureCheck {
                key: &c.key,
                encryption_key: &c.encryption_key,
                hkdf: c.hkdf,
                gid: &c.gid,
                structure: c.structure,
            }),
        }
    }
}

/// What [`GroupContext::finish_request`] checks again.
struct RequestCheck {
    gid: Vec<u8>,
    kid: Vec<u8>,
    piv: Vec<u8>,
    seq: u64,
    group_mode: bool,
    created: bool,
    /// The sender's credential when the request was checked: a Recipient
    /// Context replaced meanwhile does not accept it.
    credential: Vec<u8>,
}

/// A request that passed the checks against the group's state
/// ([`super::GroupSecurity::check_request`]) and is ready to be verified
/// without it ([`PendingRequest::verify`]): the countersignature and the
/// decryption, the costly part, need no lock on the context, so requests
/// from several members (or several from one) are verified in parallel
/// (RFC 10021 section 7.2; RFC 8613 section 7.4 asks only that the replay
/// window's validation and update be atomic, which
/// [`super::GroupSecurity::finish_request`] does).
pub struct PendingRequest {
    request: Packet,
    aad_array: Vec<u8>,
    opening: OwnedOpening,
    check: RequestCheck,
}

impl std::fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRequest")
            .field("gid", &self.check.gid)
            .field("kid", &self.check.kid)
            .field("piv", &self.check.piv)
            .field("group_mode", &self.check.group_mode)
            .finish_non_exhaustive()
    }
}

impl PendingRequest {
    /// Verifies the countersignature (group mode) and decrypts. Pure: the
    /// result goes to [`super::GroupSecurity::finish_request`], which
    /// accepts it only if the replay window still allows.
    pub fn verify(self) -> Verification {
        let Self {
            request,
            aad_array,
            opening,
            check,
        } = self;
        let decrypted = opening
            .borrow()
            .open(
                &request.payload,
                &aad_array,
                &check.kid,
                &check.piv,
                &check.kid,
                true,
            )
            .and_then(|plaintext| {
                let plaintext =
                    message::decode_plaintext(&plaintext).map_err(DecodeFailure::from)?;
                Ok(message::merge(&request, plaintext, MessageKind::Request)
                    .map_err(DecodeFailure::from)?)
            });
        Verification(match decrypted {
            Ok(decrypted) => Ok(VerifiedRequest { check, decrypted }),
            Err(error) => Err(FailedRequest { check, error }),
        })
    }

    /// The Gid of the context that checked the request.
    pub fn gid(&self) -> &[u8] {
        &self.check.gid
    }
}

struct VerifiedRequest {
    check: RequestCheck,
    decrypted: Packet,
}

struct FailedRequest {
    check: RequestCheck,
    error: UnprotectError,
}

/// The outcome of [`PendingRequest::verify`], for
/// [`super::GroupSecurity::finish_request`].
pub struct Verification(Result<VerifiedRequest, FailedRequest>);

impl std::fmt::Debug for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(v) => write!(f, "Verification(ok, kid {:?})", v.check.kid),
            Err(e) => write!(f, "Verification({})", e.error),
        }
    }
}

impl Verification {
    /// The Gid of the context that checked the request.
    pub fn gid(&self) -> &[u8] {
        match &self.0 {
            Ok(v) => &v.check.gid,
            Err(f) => &f.check.gid,
        }
    }
}
