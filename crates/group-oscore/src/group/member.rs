//! Group members as this crate sees them: an authentication credential (its
//! exact bytes and the public key the caller parsed from it), a Sender ID,
//! and the roles the Group Manager reported; our own identity; and the hook
//! that finds a member's credential on first contact.
//!
//! Credentials are opaque byte strings to Group OSCORE (RFC 10021 section
//! 2.4): the bytes go into the external_aad and the pairwise IKM exactly as
//! the Group Manager distributed them. Parsing them (e.g. a CCS with
//! `ace_proto::credential`) is the caller's job.

use ace_proto::keys::{SignatureAlgorithm, SigningKey, VerifyingKey};
use ace_proto::pop::{DhPrivateKey, DhPublicKey};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};

use crate::error::ContextError;

/// A member's authentication credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    bytes: Vec<u8>,
    signature_key: Option<VerifyingKey>,
    dh_key: Option<DhPublicKey>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("len", &self.bytes.len())
            .field("signature_key", &self.signature_key)
            .field("dh_key", &self.dh_key)
            .finish()
    }
}

impl Credential {
    /// A credential with a signature key (Ed25519 or P-256), usable in group
    /// mode and, through its Diffie-Hellman form, in pairwise mode (Ed25519
    /// mapped to X25519, RFC 10021 section 2.5.2).
    ///
    /// An Ed25519 key of small order (among them y = 1 and y = -1, for which
    /// RFC 10021 section 2.5.2.1 requires aborting) is refused.
    pub fn new(bytes: &[u8], key: VerifyingKey) -> Result<Self, ContextError> {
        if let VerifyingKey::Ed25519(k) = &key
            && k.is_weak()
        {
            return Err(ContextError::Inconsistent("Ed25519 key of small order"));
        }
        let dh_key = DhPublicKey::from_verifying_key(&key).ok();
        Ok(Self {
            bytes: bytes.to_vec(),
            signature_key: Some(key),
            dh_key,
        })
    }

    /// A credential with only a Diffie-Hellman key (X25519 or P-256), as in
    /// pairwise-only groups.
    pub fn pairwise_only(bytes: &[u8], key: DhPublicKey) -> Self {
        Self {
            bytes: bytes.to_vec(),
            signature_key: None,
            dh_key: Some(key),
        }
    }

    /// The credential's bytes, as distributed.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signature key, if the credential has one.
    pub fn signature_key(&self) -> Option<&VerifyingKey> {
        self.signature_key.as_ref()
    }

    /// The Diffie-Hellman key used in pairwise mode.
    pub fn dh_key(&self) -> Option<&DhPublicKey> {
        self.dh_key.as_ref()
    }
}

/// Another member of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its Sender ID (our Recipient ID for it).
    pub sender_id: Vec<u8>,
    /// Its authentication credential.
    pub credential: Credential,
    /// Its roles as an AIF bitmap (`peer_roles`,
    /// draft-ietf-ace-key-groupcomm-oscore section 6.3), if known. Unknown
    /// roles are not enforced.
    pub roles: Option<u64>,
}

impl Member {
    /// A member with unknown roles.
    pub fn new(sender_id: &[u8], credential: Credential) -> Self {
        Self {
            sender_id: sender_id.to_vec(),
            credential,
            roles: None,
        }
    }

    /// Sets the roles.
    #[must_use]
    pub fn with_roles(mut self, roles: u64) -> Self {
        self.roles = Some(roles);
        self
    }
}

/// Whether `roles` (if known) allow sending requests: the Requester role
/// (draft-ietf-ace-key-groupcomm-oscore section 6.4).
pub(crate) fn may_send_requests(roles: Option<u64>) -> bool {
    roles.is_none_or(|r| r & REQUESTER != 0 && r & MONITOR == 0)
}

/// Whether `roles` (if known) allow sending responses: the Responder role.
pub(crate) fn may_send_responses(roles: Option<u64>) -> bool {
    roles.is_none_or(|r| r & RESPONDER != 0 && r & MONITOR == 0)
}

/// Our own identity in the group: the Sender Context inputs.
#[derive(Clone)]
pub struct OwnIdentity {
    pub(crate) sender_id: Option<Vec<u8>>,
    pub(crate) signing_key: Option<SigningKey>,
    pub(crate) dh_key: Option<DhPrivateKey>,
    pub(crate) credential: Vec<u8>,
    pub(crate) roles: Option<u64>,
}

impl std::fmt::Debug for OwnIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnIdentity")
            .field("sender_id", &self.sender_id)
            .field("signing_key", &self.signing_key)
            .field("dh_key", &self.dh_key)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl OwnIdentity {
    /// A member with Sender ID `sender_id`, signature key `key` and its
    /// authentication credential as distributed in the group. The
    /// Diffie-Hellman key for pairwise mode is derived from `key`.
    pub fn new(sender_id: &[u8], key: SigningKey, credential: &[u8]) -> Self {
        Self {
            sender_id: Some(sender_id.to_vec()),
            dh_key: Some(DhPrivateKey::from_signing_key(&key)),
            signing_key: Some(key),
            credential: credential.to_vec(),
            roles: None,
        }
    }

    /// A member of a pairwise-only group with a Diffie-Hellman key.
    pub fn pairwise_only(sender_id: &[u8], key: DhPrivateKey, credential: &[u8]) -> Self {
        Self {
            sender_id: Some(sender_id.to_vec()),
            signing_key: None,
            dh_key: Some(key),
            credential: credential.to_vec(),
            roles: None,
        }
    }

    /// A monitor (silent server): no Sender Context, never sends protected
    /// messages, verifies group-mode requests only (RFC 10021 sections 2.2
    /// and 8).
    pub fn monitor() -> Self {
        Self {
            sender_id: None,
            signing_key: None,
            dh_key: None,
            credential: Vec::new(),
            roles: Some(MONITOR),
        }
    }

    /// Sets our roles (AIF bitmap); protection then enforces them.
    #[must_use]
    pub fn with_roles(mut self, roles: u64) -> Self {
        self.roles = Some(roles);
        self
    }

    /// Our Sender ID, if we have a Sender Context.
    pub fn sender_id(&self) -> Option<&[u8]> {
        self.sender_id.as_deref()
    }

    /// Our roles, if set.
    pub fn roles(&self) -> Option<u64> {
        self.roles
    }

    pub(crate) fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.signing_key.as_ref().map(SigningKey::algorithm)
    }
}

/// The answer of a [`MemberLookup`].
#[derive(Debug, Clone)]
pub enum LookupResult {
    /// The member is known: create its Recipient Context.
    Found(Box<Member>),
    /// No member with this Sender ID: stop processing.
    Unknown,
    /// The credential is being fetched (e.g. from the Group Manager): stop
    /// processing; a server MAY answer 5.03 with this Max-Age (RFC 10021
    /// section 7.2).
    Pending {
        /// Seconds after which the sender may retry.
        retry_after: Option<u32>,
    },
}

/// The application's answer to "credential for this kid?", asked when a
/// message arrives from a Sender ID without a Recipient Context (RFC 10021
/// sections 7.2 and 7.4: dynamic creation of Recipient Contexts is
/// application policy). The credential must come from the Group Manager.
pub trait MemberLookup: Send {
    /// Looks up the member with Sender ID `kid` in the group `gid`.
    fn lookup(&mut self, gid: &[u8], kid: &[u8]) -> LookupResult;
}

impl<F: FnMut(&[u8], &[u8]) -> LookupResult + Send> MemberLookup for F {
    fn lookup(&mut self, gid: &[u8], kid: &[u8]) -> LookupResult {
        self(gid, kid)
    }
}
