//! The OSCORE security context (RFC 8613 section 3) and message protection
//! (section 8).
//!
//! ```text
//! client                                          server
//! ctx.protect_request(&req) -> (outer, ex)  ---->  ctx.unprotect_request(&outer) -> (req, ex)
//! ctx.unprotect_response(&outer, &mut ex)   <----  ctx.protect_response(&resp, &mut ex)
//! ```
//!
//! The context holds the derived keys and the two mutable parts: the Sender
//! Sequence Number (with its [`SenderSequence`] persistence) and the replay
//! window. Finding the context for an incoming request is the caller's job
//! ([`request_kid`] reads the 'kid' and 'kid context' for that lookup); a
//! request that names no known context is answered with
//! [`UnprotectError::ContextNotFound`].

use coap_lite::Packet;
use zeroize::Zeroizing;

use crate::aad::{AadInput, aad_array, enc_structure};
use crate::algorithm::{AES_CCM_16_64_128, Aead, AeadError, Hkdf};
use crate::derive::{InfoType, derive, info};
use crate::error::{ContextError, DecodeFailure, ProtectError, UnprotectError};
use crate::exchange::{ClientExchange, EchoChallenge, ResponseTracker, ServerExchange};
use crate::message::{self, ECHO, MessageKind, OBSERVE};
use crate::nonce::nonce;
use crate::option::{OSCORE_OPTION, OscoreOption, encode_piv, piv_value};
use crate::replay::{DEFAULT_WINDOW_SIZE, ReplayError, ReplayWindow, WindowState};
use crate::sequence::SenderSequence;

/// Length of the Echo values this crate generates (RFC 9175 allows 1 to 40).
pub(crate) const ECHO_LEN: usize = 8;

/// The input parameters of an OSCORE security context (RFC 8613 section
/// 3.2): Master Secret, Sender ID and Recipient ID are required, the rest
/// has the defaults of the RFC.
#[derive(Clone)]
pub struct ContextParams {
    /// Master Secret.
    pub master_secret: Zeroizing<Vec<u8>>,
    /// Master Salt (default: empty).
    pub master_salt: Vec<u8>,
    /// Sender ID.
    pub sender_id: Vec<u8>,
    /// Recipient ID.
    pub recipient_id: Vec<u8>,
    /// ID Context (default: none).
    pub id_context: Option<Vec<u8>>,
    /// AEAD Algorithm (default AES-CCM-16-64-128).
    pub aead: &'static dyn Aead,
    /// HKDF Algorithm (default HKDF SHA-256).
    pub hkdf: Hkdf,
    /// Replay window size (default 32).
    pub replay_window: u32,
    /// Whether requests carry the ID Context as 'kid context' (RFC 8613
    /// section 5.1, as in Appendix C.6). Defaults to `true`, which only has
    /// an effect when an ID Context is set.
    pub send_kid_context: bool,
}

impl std::fmt::Debug for ContextParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextParams")
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .field("id_context", &self.id_context)
            .field("aead", &self.aead)
            .finish_non_exhaustive()
    }
}

impl ContextParams {
    /// Parameters with the RFC 8613 defaults.
    pub fn new(master_secret: &[u8], sender_id: &[u8], recipient_id: &[u8]) -> Self {
        Self {
            master_secret: Zeroizing::new(master_secret.to_vec()),
            master_salt: Vec::new(),
            sender_id: sender_id.to_vec(),
            recipient_id: recipient_id.to_vec(),
            id_context: None,
            aead: &AES_CCM_16_64_128,
            hkdf: Hkdf::Sha256,
            replay_window: DEFAULT_WINDOW_SIZE,
            send_kid_context: true,
        }
    }

    /// Sets the Master Salt.
    #[must_use]
    pub fn master_salt(mut self, salt: &[u8]) -> Self {
        self.master_salt = salt.to_vec();
        self
    }

    /// Sets the ID Context.
    #[must_use]
    pub fn id_context(mut self, id_context: &[u8]) -> Self {
        self.id_context = Some(id_context.to_vec());
        self
    }

    /// Sets the AEAD Algorithm.
    #[must_use]
    pub fn aead(mut self, aead: &'static dyn Aead) -> Self {
        self.aead = aead;
        self
    }

    /// Sets the replay window size.
    #[must_use]
    pub fn replay_window(mut self, size: u32) -> Self {
        self.replay_window = size;
        self
    }

    /// Sets whether requests carry the 'kid context'.
    #[must_use]
    pub fn send_kid_context(mut self, send: bool) -> Self {
        self.send_kid_context = send;
        self
    }
}

/// The keys and IV derived from [`ContextParams`] (RFC 8613 section 3.2.1).
pub struct DerivedKeys {
    /// Sender Key.
    pub sender_key: Zeroizing<Vec<u8>>,
    /// Recipient Key.
    pub recipient_key: Zeroizing<Vec<u8>>,
    /// Common IV.
    pub common_iv: Vec<u8>,
}

impl ContextParams {
    /// Derives Sender Key, Recipient Key and Common IV, checking the ID
    /// lengths (section 3.3).
    pub fn derive(&self) -> Result<DerivedKeys, ContextError> {
        let nonce_len = self.aead.nonce_len();
        if nonce_len < 7 {
            return Err(ContextError::NonceTooShort(nonce_len));
        }
        let max = nonce_len - 6;
        for (which, id) in [
            ("Sender ID", &self.sender_id),
            ("Recipient ID", &self.recipient_id),
        ] {
            if id.len() > max {
                return Err(ContextError::IdTooLong {
                    which,
                    len: id.len(),
                    max,
                });
            }
        }
        let alg = self.aead.cose_id();
        let ctx = self.id_context.as_deref();
        let key = |id: &[u8]| {
            let info = info(id, ctx, alg, InfoType::Key, self.aead.key_len());
            derive(
                self.hkdf,
                &self.master_salt,
                &self.master_secret,
                &info,
                self.aead.key_len(),
            )
        };
        let iv_info = info(b"", ctx, alg, InfoType::Iv, nonce_len);
        Ok(DerivedKeys {
            sender_key: key(&self.sender_id),
            recipient_key: key(&self.recipient_id),
            common_iv: derive(
                self.hkdf,
                &self.master_salt,
                &self.master_secret,
                &iv_info,
                nonce_len,
            )
            .to_vec(),
        })
    }
}

/// Reads the 'kid' and 'kid context' of a protected request, for looking up
/// its security context before calling
/// [`SecurityContext::unprotect_request`] (RFC 8613 section 8.2 step 2).
pub fn request_kid(request: &Packet) -> Result<OscoreOption, UnprotectError> {
    let option = read_option(request)?;
    if option.kid.is_none() {
        return Err(DecodeFailure::MissingField("kid").into());
    }
    Ok(option)
}

/// Reads and strictly decodes the OSCORE option of a message, and checks
/// that a payload is present (RFC 8613 section 2).
pub(crate) fn read_option(message: &Packet) -> Result<OscoreOption, UnprotectError> {
    let mut values = message::options(message).filter(|(n, _)| *n == OSCORE_OPTION);
    let (_, value) = values.next().ok_or(UnprotectError::NotProtected)?;
    if values.next().is_some() {
        return Err(DecodeFailure::RepeatedOption.into());
    }
    let option = OscoreOption::decode(value).map_err(DecodeFailure::from)?;
    if message.payload.is_empty() {
        return Err(DecodeFailure::NoPayload.into());
    }
    Ok(option)
}

/// An OSCORE security context between two endpoints (RFC 8613 section 3.1).
pub struct SecurityContext {
    aead: &'static dyn Aead,
    id_context: Option<Vec<u8>>,
    common_iv: Vec<u8>,
    send_kid_context: bool,
    sender_id: Vec<u8>,
    sender_key: Zeroizing<Vec<u8>>,
    sequence: SenderSequence,
    recipient_id: Vec<u8>,
    recipient_key: Zeroizing<Vec<u8>>,
    replay: ReplayWindow,
    echo: Option<Vec<u8>>,
}

impl std::fmt::Debug for SecurityContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityContext")
            .field("sender_id", &self.sender_id)
            .field("recipient_id", &self.recipient_id)
            .field("id_context", &self.id_context)
            .field("sequence", &self.sequence)
            .field("replay_valid", &self.replay.is_valid())
            .finish_non_exhaustive()
    }
}

impl SecurityContext {
    /// Derives a new context: Sender Sequence Number 0 (not persisted; see
    /// [`SecurityContext::with_sequence`]) and a valid, empty replay window.
    pub fn new(params: &ContextParams) -> Result<Self, ContextError> {
        let keys = params.derive()?;
        Ok(Self {
            aead: params.aead,
            id_context: params.id_context.clone(),
            common_iv: keys.common_iv,
            send_kid_context: params.send_kid_context,
            sender_id: params.sender_id.clone(),
            sender_key: keys.sender_key,
            sequence: SenderSequence::volatile(),
            recipient_id: params.recipient_id.clone(),
            recipient_key: keys.recipient_key,
            replay: ReplayWindow::new(params.replay_window),
            echo: None,
        })
    }

    /// Uses `sequence` for the Sender Sequence Number, e.g. one resumed from
    /// persistent storage after a restart (RFC 8613 Appendix B.1.1).
    #[must_use]
    pub fn with_sequence(mut self, sequence: SenderSequence) -> Self {
        self.sequence = sequence;
        self
    }

    /// Marks the replay window as lost (after a restart without persisted
    /// replay state): requests are then answered with an Echo challenge
    /// until one is proven fresh (RFC 8613 Appendix B.1.2).
    #[must_use]
    pub fn with_lost_replay_state(mut self) -> Self {
        self.replay.invalidate();
        self
    }

    /// Restores a replay window saved with [`ReplayWindow::state`] from
    /// this context before a restart (RFC 8613 Appendix B.1.2: a server
    /// that kept its replay window needs no Echo round trip). The state must
    /// be the one after the last request accepted; one that does not fit
    /// the window size is refused and the window is left as it was.
    pub fn restore_replay_window(&mut self, state: &WindowState) -> Result<(), ContextError> {
        self.replay = ReplayWindow::from_state(self.replay.size(), state)?;
        Ok(())
    }

    /// The Sender ID.
    pub fn sender_id(&self) -> &[u8] {
        &self.sender_id
    }

    /// The Recipient ID.
    pub fn recipient_id(&self) -> &[u8] {
        &self.recipient_id
    }

    /// The ID Context.
    pub fn id_context(&self) -> Option<&[u8]> {
        self.id_context.as_deref()
    }

    /// The Common IV.
    pub fn common_iv(&self) -> &[u8] {
        &self.common_iv
    }

    /// The Sender Key.
    pub fn sender_key(&self) -> &[u8] {
        &self.sender_key
    }

    /// The Recipient Key.
    pub fn recipient_key(&self) -> &[u8] {
        &self.recipient_key
    }

    /// The Sender Sequence Number the next message with a Partial IV uses.
    pub fn sender_sequence_number(&self) -> u64 {
        self.sequence.peek()
    }

    /// The replay window (read-only).
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.replay
    }

    /// Whether `option` (from [`request_kid`]) designates this context:
    /// 'kid' equal to the Recipient ID and, if present, 'kid context' equal
    /// to the ID Context (RFC 8613 section 8.2 step 2).
    pub fn matches(&self, option: &OscoreOption) -> bool {
        option.kid.as_deref() == Some(self.recipient_id.as_slice())
            && option
                .kid_context
                .as_deref()
                .is_none_or(|c| Some(c) == self.id_context.as_deref())
    }

    fn aad(&self, request_kid: &[u8], request_piv: &[u8]) -> Vec<u8> {
        enc_structure(&aad_array(
            &AadInput::Oscore {
                aead: self.aead.cose_id(),
            },
            request_kid,
            request_piv,
            b"",
        ))
    }

    fn nonce(&self, id_piv: &[u8], piv: &[u8]) -> Result<Vec<u8>, AeadError> {
        nonce(&self.common_iv, id_piv, piv, self.aead.nonce_len())
    }

    /// Protects a request (RFC 8613 section 8.1).
    pub fn protect_request(
        &mut self,
        request: &Packet,
    ) -> Result<(Packet, ClientExchange), ProtectError> {
        let split = message::split(request, MessageKind::Request)?;
        let seq = self.sequence.next_number()?;
        let piv = encode_piv(seq);
        let kid_context = if self.send_kid_context {
            self.id_context.clone()
        } else {
            None
        };
        let option = OscoreOption {
            group_flag: false,
            partial_iv: Some(piv.clone()),
            kid_context: kid_context.clone(),
            kid: Some(self.sender_id.clone()),
        };
        let option_value = option.encode()?;
        let aad = self.aad(&self.sender_id, &piv);
        let nonce = self.nonce(&self.sender_id, &piv)?;
        let mut buffer = split.plaintext;
        self.aead
            .encrypt(&self.sender_key, &nonce, &aad, &mut buffer)?;
        let mut outer = split.outer;
        message::add_option(&mut outer, OSCORE_OPTION, option_value);
        outer.payload = buffer;
        let exchange = ClientExchange {
            request_kid: self.sender_id.clone(),
            request_piv: piv,
            request_kid_context: kid_context,
            observe: is_registration(request),
            single: ResponseTracker::default(),
            group: None,
        };
        Ok((outer, exchange))
    }

    /// Verifies a request (RFC 8613 section 8.2). On success returns the
    /// decrypted request and the exchange to protect responses with.
    ///
    /// When the replay window is invalid (see
    /// [`SecurityContext::with_lost_replay_state`]) a request that verifies
    /// is refused with [`UnprotectError::EchoRequired`], unless it carries
    /// the Echo value of an earlier challenge, in which case it is accepted
    /// and the window is initialized from its Partial IV.
    pub fn unprotect_request(
        &mut self,
        request: &Packet,
    ) -> Result<(Packet, ServerExchange), UnprotectError> {
        let option = read_option(request)?;
        if option.group_flag {
            return Err(DecodeFailure::GroupFlagWithoutGroup.into());
        }
        let piv = option
            .partial_iv
            .clone()
            .ok_or(DecodeFailure::MissingField("Partial IV"))?;
        let kid = option
            .kid
            .clone()
            .ok_or(DecodeFailure::MissingField("kid"))?;
        if !self.matches(&option) {
            return Err(UnprotectError::ContextNotFound);
        }
        let seq = piv_value(&piv);
        let fresh = match self.replay.check(seq) {
            Ok(()) => true,
            Err(ReplayError::Uninitialized) => false,
            Err(e) => return Err(UnprotectError::Replay(e)),
        };

        let aad = self.aad(&kid, &piv);
        let nonce = self
            .nonce(&kid, &piv)
            .map_err(|_| UnprotectError::DecryptionFailed)?;
        let mut buffer = request.payload.clone();
        self.aead
            .decrypt(&self.recipient_key, &nonce, &aad, &mut buffer)
            .map_err(|_| UnprotectError::DecryptionFailed)?;
        let plaintext = message::decode_plaintext(&buffer).map_err(DecodeFailure::from)?;
        let mut decrypted = message::merge(request, plaintext, MessageKind::Request)
            .map_err(DecodeFailure::from)?;

        let mut exchange = ServerExchange {
            request_kid: kid,
            request_piv: piv,
            request_kid_context: option.kid_context,
            observe: is_registration(&decrypted),
            nonce_reusable: fresh,
            responses_sent: 0,
            group: None,
        };
        if fresh {
            self.replay.accept(seq);
        } else {
            let echoed = message::first_option(&decrypted, ECHO).cloned();
            match (&self.echo, echoed) {
                (Some(expected), Some(got)) if *expected == got => {
                    // RFC 8613 Appendix B.1.2: the Partial IV of the verified
                    // fresh request is the window's lower limit.
                    self.replay.initialize_from(seq);
                    self.echo = None;
                    message::remove_option(&mut decrypted, ECHO);
                    exchange.nonce_reusable = true;
                }
                _ => {
                    let echo = self
                        .echo
                        .get_or_insert_with(|| ace_proto::keys::random_bytes(ECHO_LEN))
                        .clone();
                    return Err(UnprotectError::EchoRequired(Box::new(EchoChallenge {
                        echo,
                        exchange,
                    })));
                }
            }
        }
        Ok((decrypted, exchange))
    }

    /// Protects a response to the request of `exchange` (RFC 8613 section
    /// 8.3). The first response reuses the request's nonce when allowed;
    /// later ones (Observe notifications) and Echo challenges carry a fresh
    /// Partial IV.
    pub fn protect_response(
        &mut self,
        response: &Packet,
        exchange: &mut ServerExchange,
    ) -> Result<Packet, ProtectError> {
        self.protect_response_with(response, exchange, false)
    }

    /// Like [`SecurityContext::protect_response`], but `fresh_piv` forces a
    /// new Partial IV even for the first response.
    pub fn protect_response_with(
        &mut self,
        response: &Packet,
        exchange: &mut ServerExchange,
        fresh_piv: bool,
    ) -> Result<Packet, ProtectError> {
        let split = message::split(response, MessageKind::Response)?;
        let (option, nonce) = if exchange.may_reuse_nonce() && !fresh_piv {
            (
                OscoreOption::default(),
                self.nonce(&exchange.request_kid, &exchange.request_piv)?,
            )
        } else {
            let piv = encode_piv(self.sequence.next_number()?);
            let nonce = self.nonce(&self.sender_id, &piv)?;
            (
                OscoreOption {
                    partial_iv: Some(piv),
                    ..OscoreOption::default()
                },
                nonce,
            )
        };
        let aad = self.aad(&exchange.request_kid, &exchange.request_piv);
        let mut buffer = split.plaintext;
        self.aead
            .encrypt(&self.sender_key, &nonce, &aad, &mut buffer)?;
        let mut outer = split.outer;
        message::add_option(&mut outer, OSCORE_OPTION, option.encode()?);
        outer.payload = buffer;
        exchange.responses_sent += 1;
        Ok(outer)
    }

    /// Verifies a response to the request of `exchange` (RFC 8613 section
    /// 8.4, with Observe per section 8.4.2 and replay protection of
    /// notifications per section 7.4.1). The client stops processing on any
    /// error; no error response is sent.
    ///
    /// For a notification the Observe option of the returned message is
    /// derived from its Partial IV (section 4.1.3.5.2 lets the client use
    /// the Partial IV for the Observe value): the three least significant
    /// bytes of Partial IV + 1, and 0 for the one notification without
    /// Partial IV. The offset keeps that notification strictly the oldest
    /// even when the server's first Partial IV is 0, so the Observe ordering
    /// of RFC 7641 section 3.4 sees every accepted notification as newer.
    pub fn unprotect_response(
        &mut self,
        response: &Packet,
        exchange: &mut ClientExchange,
    ) -> Result<Packet, UnprotectError> {
        let option = read_option(response)?;
        if option.group_flag {
            return Err(DecodeFailure::GroupFlagWithoutGroup.into());
        }
        if option.kid.as_ref().is_some_and(|k| *k != self.recipient_id) {
            return Err(UnprotectError::UnexpectedResponse(
                "kid is not the server's",
            ));
        }
        if option
            .kid_context
            .as_ref()
            .is_some_and(|c| Some(c.as_slice()) != self.id_context.as_deref())
        {
            return Err(UnprotectError::UnexpectedResponse("unknown kid context"));
        }
        let seq = option.partial_iv.as_deref().map(piv_value);
        exchange
            .single
            .check(seq, exchange.observe)
            .map_err(UnprotectError::Replay)?;
        let nonce = match &option.partial_iv {
            Some(piv) => self.nonce(&self.recipient_id, piv),
            None => self.nonce(&exchange.request_kid, &exchange.request_piv),
        }
        .map_err(|_| UnprotectError::DecryptionFailed)?;
        let aad = self.aad(&exchange.request_kid, &exchange.request_piv);
        let mut buffer = response.payload.clone();
        self.aead
            .decrypt(&self.recipient_key, &nonce, &aad, &mut buffer)
            .map_err(|_| UnprotectError::DecryptionFailed)?;
        let plaintext = message::decode_plaintext(&buffer).map_err(DecodeFailure::from)?;
        let mut decrypted = message::merge(response, plaintext, MessageKind::Response)
            .map_err(DecodeFailure::from)?;
        finish_response(&mut decrypted, seq, exchange.observe)?;
        exchange.single.accept(seq);
        Ok(decrypted)
    }
}

/// Whether `request` is an Observe registration (Observe = 0).
pub(crate) fn is_registration(request: &Packet) -> bool {
    message::first_option(request, OBSERVE).is_some_and(|v| v.iter().all(|&b| b == 0))
}

/// Applies the notification rules of RFC 8613 section 4.1.3.5.2 to a
/// decrypted response: an Inner Observe in a response to a non-Observe
/// request stops processing; in a notification the Observe value becomes
/// the low 24 bits of Partial IV + 1, or 0 without Partial IV (see
/// [`SecurityContext::unprotect_response`]).
pub(crate) fn finish_response(
    decrypted: &mut Packet,
    seq: Option<u64>,
    observe_exchange: bool,
) -> Result<(), UnprotectError> {
    if message::first_option(decrypted, OBSERVE).is_none() {
        return Ok(());
    }
    if !observe_exchange {
        return Err(UnprotectError::UnexpectedResponse(
            "Observe in a response to a non-Observe request",
        ));
    }
    message::remove_option(decrypted, OBSERVE);
    let value = seq.map_or(0, |s| s.wrapping_add(1) & 0xff_ffff);
    message::add_option(decrypted, OBSERVE, message::uint_value(value));
    Ok(())
}
