//! Actors: what the runner drives. Steps talk to group members through the
//! [`Member`] trait and to the KDC through [`KdcControl`], so that the same
//! step code runs members in this process (on `ace-client`), as spawned
//! `ace-client` processes, or as external peers (an aiocoap member), and a
//! KDC started in-process or as the `ace-kdc` binary.

pub mod client;
pub mod external;
pub mod inprocess;
pub mod process;
pub mod process_member;

use crate::capture::Capture;
use crate::model::ClientSpec;
use crate::runner::config::ClientIdentity;
use ace_client::membership::MembershipRecord;
use ace_coap::ProtocolConfig;
use ace_coap::fault::FaultConfig;
use ace_proto::code::Code;
use ace_proto::consts::groupcomm::ErrorId;
use ace_proto::groupcomm::CredsFilter;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a member actor needs to start.
#[derive(Debug, Clone)]
pub struct MemberSetup {
    /// The client as the scenario describes it.
    pub spec: ClientSpec,
    /// Its generated keys and AS channel.
    pub identity: ClientIdentity,
    /// The AS's token endpoint.
    pub as_uri: String,
    /// The KDC's audience.
    pub audience: String,
    /// The KDC's address.
    pub kdc: SocketAddr,
    /// CoAP parameters.
    pub protocol: ProtocolConfig,
    /// Packet loss at its endpoint.
    pub faults: Option<FaultConfig>,
    /// The run's capture (its endpoint's tap, inner labels).
    pub capture: Arc<Capture>,
    /// The run's temporary directory.
    pub dir: PathBuf,
    /// The group-mode countersignature structure.
    pub countersignature: group_oscore::group::CountersignatureStructure,
}

/// A boxed future of an actor operation.
pub type ActorFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ActorError>> + Send + 'a>>;

/// Why an actor operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorError {
    /// The CoAP code of the refusal, when a peer refused.
    pub code: Option<Code>,
    /// The ACE Groupcomm error id (RFC 9594 section 9), when the refusal
    /// carried one.
    pub error_id: Option<ErrorId>,
    /// What happened, for the step log.
    pub message: String,
}

impl ActorError {
    /// A failure without a protocol refusal.
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            code: None,
            error_id: None,
            message: message.into(),
        }
    }

    /// A refusal with `code` and maybe an error id.
    pub fn refused(code: Code, error_id: Option<ErrorId>, message: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            error_id,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ActorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ActorError {}

/// What a join returned, per group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The group.
    pub group: String,
    /// NODENAME (from the Location-Path of the Join Response).
    pub node: String,
    /// The Sender ID, none for a monitor.
    pub sender_id: Option<Vec<u8>>,
    /// The version of the material received.
    pub num: u64,
    /// How many members' credentials came with it.
    pub creds: usize,
}

/// The AS Request Creation Hints a KDC sent (RFC 9200 section 5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hints {
    /// The response code (4.01).
    pub code: Code,
    /// `AS`.
    pub as_uri: Option<String>,
    /// `audience`.
    pub audience: Option<String>,
    /// Whether `scope` was present.
    pub scope: bool,
    /// Whether `cnonce` was present.
    pub cnonce: bool,
}

/// One response to a group request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The responder's Sender ID, when the security layer named it.
    pub sender_id: Option<Vec<u8>>,
    /// The responder's transport address.
    pub from: SocketAddr,
    /// The (inner) response code.
    pub code: Code,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A group request a member received and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The group.
    pub group: String,
    /// Inner Uri-Path, joined with `/`.
    pub path: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// The requester's Sender ID, when known.
    pub sender_id: Option<Vec<u8>>,
}

/// A raw response from the KDC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReply {
    /// Its code.
    pub code: Code,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Something the KDC told a member without being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// New keying material installed.
    Rekeyed {
        /// The group.
        group: String,
        /// The new version.
        num: u64,
    },
    /// Membership terminated (error id 5).
    Evicted {
        /// The group.
        group: String,
    },
    /// The group was deleted (error id 6).
    GroupDeleted {
        /// The group.
        group: String,
    },
    /// The member registered its observation of `/ace-group/GROUPNAME`
    /// again (it had ended, or the KDC had lost it).
    ObservationRenewed {
        /// The group.
        group: String,
    },
}

/// A group member the runner drives.
pub trait Member: Send + Sync {
    /// The actor's name.
    fn name(&self) -> &str;

    /// A request to the KDC without a token; returns the 4.01 and its AS
    /// Request Creation Hints.
    fn hints(&self, group: &str) -> ActorFuture<'_, Hints>;

    /// The full flow for `groups` (group, AIF roles), all under one token
    /// that also covers `token_for` (groups not joined now).
    fn join(
        &self,
        groups: Vec<(String, u64)>,
        token_for: Vec<(String, u64)>,
        get_creds: bool,
    ) -> ActorFuture<'_, Vec<Joined>>;

    /// An access token for `roles` on `group` without joining (e.g. as an
    /// external signature verifier), transferred to the KDC; later raw
    /// requests use it.
    fn token(&self, group: &str, roles: u64) -> ActorFuture<'_, ()>;

    /// GET `/ace-group/GROUPNAME`; the version received.
    fn keys(&self, group: &str) -> ActorFuture<'_, u64>;

    /// GET `/ace-group/GROUPNAME/num`.
    fn num(&self, group: &str) -> ActorFuture<'_, u64>;

    /// A new Sender ID.
    fn renew(&self, group: &str) -> ActorFuture<'_, Vec<u8>>;

    /// GET (no filter) or FETCH `/creds`; the node identifiers returned.
    fn creds(&self, group: &str, filter: Option<CredsFilter>) -> ActorFuture<'_, Vec<Vec<u8>>>;

    /// GET `/kdc-cred`, verified and stored.
    fn kdc_cred(&self, group: &str) -> ActorFuture<'_, ()>;

    /// GET `/policies`; the Key Update Check Interval.
    fn policies(&self, group: &str) -> ActorFuture<'_, Option<i64>>;

    /// Leaves the group.
    fn leave(&self, group: &str) -> ActorFuture<'_, ()>;

    /// Sends a Group OSCORE request (group mode) to the members at
    /// `targets` and collects the responses for `window`.
    fn send(
        &self,
        group: &str,
        targets: Vec<SocketAddr>,
        path: &str,
        payload: Vec<u8>,
        window: Duration,
    ) -> ActorFuture<'_, Vec<Reply>>;

    /// Starts serving group requests (a Responder answers, a Monitor only
    /// listens); received requests are kept for [`Member::received`].
    fn serve(&self, group: &str) -> ActorFuture<'_, ()>;

    /// The group requests received so far.
    fn received(&self) -> Vec<Received>;

    /// A request to the KDC over the member's OSCORE channel.
    fn raw_request(
        &self,
        method: &str,
        path: &str,
        payload: Option<Vec<u8>>,
        content_format: Option<u16>,
    ) -> ActorFuture<'_, RawReply>;

    /// The version of the installed material, if a member.
    fn installed_num(&self, group: &str) -> Option<u64>;

    /// Its Sender ID in `group`.
    fn sender_id(&self, group: &str) -> Option<Vec<u8>>;

    /// Its NODENAME in `group`.
    fn node_name(&self, group: &str) -> Option<String>;

    /// Its membership as the client stores it (keying material, members'
    /// credentials), for handing over and for checking forward security.
    fn export(&self, group: &str) -> ActorFuture<'_, Option<MembershipRecord>>;

    /// Whether its Observe registration of `/ace-group/GROUPNAME` has
    /// been answered (RFC 7641 section 3.1); `None` when the actor cannot
    /// tell (it waits for its registrations itself).
    fn observing(&self, group: &str) -> Option<bool>;

    /// Unsolicited news so far.
    fn notices(&self) -> Vec<Notice>;

    /// The transport address.
    fn local_addr(&self) -> Option<SocketAddr>;

    /// Stops the member.
    fn shutdown(&self) -> ActorFuture<'_, ()>;
}

/// The KDC as the runner controls it.
pub trait KdcControl: Send + Sync {
    /// Its address.
    fn addr(&self) -> SocketAddr;

    /// Stops it (its database stays).
    fn kill(&self) -> ActorFuture<'_, ()>;

    /// Starts it again on the same database and address.
    fn restart(&self) -> ActorFuture<'_, ()>;

    /// Runs an operator command (`rekey`, `evict`, `delete`).
    fn command(&self, command: ace_kdc::admin::Command) -> ActorFuture<'_, String>;

    /// The group's current version, per the KDC.
    fn current_num(&self, group: &str) -> ActorFuture<'_, Option<u64>>;

    /// Stops it for good.
    fn shutdown(&self) -> ActorFuture<'_, ()>;
}
