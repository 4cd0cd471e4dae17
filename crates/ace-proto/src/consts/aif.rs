//! AIF (RFC 9237) data models and permission bits: Group OSCORE roles, pub-sub
//! topic permissions.
//!
//! In every model here a permission set is an unsigned integer with bit `2^X`
//! set for each permission `X` (AIF `Tperm` as `uint .bits`).

/// Group OSCORE roles (AIF-OSCORE-GROUPCOMM,
/// draft-ietf-ace-key-groupcomm-oscore-21 section 3, "Group OSCORE Roles";
/// values **suggested** by the draft). Defined once, in
/// [`crate::roles::group_oscore`].
pub mod group_oscore {
    pub use crate::roles::group_oscore::{
        ALL, MONITOR, REQUESTER, RESERVED_BIT0, RESPONDER, VERIFIER, is_valid_join_set,
    };
}

/// Pub-sub permissions (AIF-PUBSUB-GROUPCOMM,
/// draft-ietf-ace-coap-pubsub-profile-05 section 3; values **suggested** by
/// the draft). The object is a topic name (at the Broker) or a security group
/// name (at the KDC).
pub mod pubsub {
    /// Admin (X = 0): not used in client scopes, whose LSB MUST be 0.
    pub const ADMIN: u64 = 1 << 0;
    /// AppGroup (X = 1): set when the object names an application group
    /// (topic) rather than a security group.
    pub const APP_GROUP: u64 = 1 << 1;
    /// Publish (X = 2).
    pub const PUBLISH: u64 = 1 << 2;
    /// Read (X = 3): subscribe (Observe) and GET on the topic data.
    pub const READ: u64 = 1 << 3;
    /// Delete (X = 4): ignored for security groups.
    pub const DELETE: u64 = 1 << 4;
    /// Every permission bit a client scope may carry.
    pub const ALL: u64 = APP_GROUP | PUBLISH | READ | DELETE;
}

/// REST-method-set permissions of the default AIF data model (RFC 9237
/// section 2.3): bit `n` grants CoAP method code `n + 1`.
pub mod rest {
    /// GET.
    pub const GET: u64 = 1 << 0;
    /// POST.
    pub const POST: u64 = 1 << 1;
    /// PUT.
    pub const PUT: u64 = 1 << 2;
    /// DELETE.
    pub const DELETE: u64 = 1 << 3;
    /// FETCH.
    pub const FETCH: u64 = 1 << 4;
    /// PATCH.
    pub const PATCH: u64 = 1 << 5;
    /// iPATCH.
    pub const IPATCH: u64 = 1 << 6;
    /// Offset of the Dynamic-X bits: Dynamic-GET is `1 << 32` (RFC 9237
    /// section 2.3).
    pub const DYNAMIC_OFFSET: u32 = 32;
}

/// `application/aif+cbor`, RFC 9237 section 5.3.
pub const AIF_CBOR: u16 = 290;
/// `application/aif+json`, RFC 9237 section 5.3.
pub const AIF_JSON: u16 = 291;
/// `application/aif+cbor;toid=oscore-gname;tperm=oscore-gperm`
/// (draft-ietf-ace-key-groupcomm-oscore-21 section 15). The draft suggests
/// 295; 295 went to another registration and IANA tables list 297, not yet
/// confirmed from the final RFC.
pub const AIF_OSCORE_GROUPCOMM_CBOR: u16 = 297;
/// `application/aif+json;toid=oscore-gname;tperm=oscore-gperm` (see
/// [`AIF_OSCORE_GROUPCOMM_CBOR`]; draft suggests 296, IANA tables list 298).
pub const AIF_OSCORE_GROUPCOMM_JSON: u16 = 298;
/// `application/aif+cbor;toid=pubsub-topic;tperm=pubsub-perm`,
/// draft-ietf-ace-coap-pubsub-profile-05; **suggested** by the draft.
pub const AIF_PUBSUB_CBOR: u16 = 299;
/// `application/aif+json;toid=pubsub-topic;tperm=pubsub-perm`,
/// draft-ietf-ace-coap-pubsub-profile-05; **suggested** by the draft.
pub const AIF_PUBSUB_JSON: u16 = 300;
