//! ACE Groupcomm registries (RFC 9594 section 11) and the Group OSCORE
//! profile additions (draft-ietf-ace-key-groupcomm-oscore-21).
//!
//! Every value the Group OSCORE profile defines is only *suggested* by the
//! draft (its IANA section asks for these numbers; none is assigned yet) and
//! is marked so. The RFC 9594 values are assigned.
//!
//! Beware the two key spaces: inside `application/ace-groupcomm+cbor` (CoAP
//! Content-Format 261) the keys are the ones of [`param`]; the same names in
//! `application/ace+cbor` (`/token`, `/authz-info`) use the OAuth CBOR keys of
//! `crate::consts::oauth` (e.g. `scope` 3 here, 9 there; `sign_info` 29 here,
//! 45 there).

/// ACE Groupcomm Parameters: the CBOR map keys of
/// `application/ace-groupcomm+cbor` (RFC 9594 section 8, Table 5, and
/// section 11.7), plus the Group OSCORE profile's parameters
/// (draft-ietf-ace-key-groupcomm-oscore-21, IANA considerations; suggested values).
pub mod param {
    /// `gid`: array of group identifiers (RFC 9594 section 4.2.1).
    pub const GID: i64 = 0;
    /// `gname`: array of group names (RFC 9594 section 4.2.1).
    pub const GNAME: i64 = 1;
    /// `guri`: array of group-membership resource URIs (RFC 9594 section 4.2.1).
    pub const GURI: i64 = 2;
    /// `scope`: bstr wrapping one scope entry (RFC 9594 section 4.3.1).
    pub const SCOPE: i64 = 3;
    /// `get_creds`: `null` or `[inclusion_flag, role_filter, id_filter]`
    /// (RFC 9594 section 4.3.1, Figure 9).
    pub const GET_CREDS: i64 = 4;
    /// `client_cred`: the Client's authentication credential, original bytes
    /// (RFC 9594 section 4.3.1).
    pub const CLIENT_CRED: i64 = 5;
    /// `cnonce`: the Client's nonce N_C (RFC 9594 section 4.3.1).
    pub const CNONCE: i64 = 6;
    /// `gkty`: key type of `key` (RFC 9594 section 4.3.1).
    pub const GKTY: i64 = 7;
    /// `key`: the group keying material (RFC 9594 section 4.3.1).
    pub const KEY: i64 = 8;
    /// `num`: version of the group keying material (RFC 9594 section 4.3.1).
    pub const NUM: i64 = 9;
    /// `ace_groupcomm_profile`: application profile (RFC 9594 section 4.3.1).
    pub const ACE_GROUPCOMM_PROFILE: i64 = 10;
    /// `exp`: absolute expiry of the keying material (RFC 9594 section 4.3.1).
    pub const EXP: i64 = 11;
    /// `exi`: residual lifetime in seconds (RFC 9594 section 4.3.1).
    pub const EXI: i64 = 12;
    /// `creds`: array of member credentials (RFC 9594 section 4.3.1).
    pub const CREDS: i64 = 13;
    /// `peer_roles`: roles of each credential's owner (RFC 9594 section 4.3.1).
    pub const PEER_ROLES: i64 = 14;
    /// `peer_identifiers`: node identifier of each credential's owner
    /// (RFC 9594 section 4.3.1).
    pub const PEER_IDENTIFIERS: i64 = 15;
    /// `group_policies`: map of group policies (RFC 9594 section 4.3.1).
    pub const GROUP_POLICIES: i64 = 16;
    /// `kdc_cred`: the KDC's authentication credential (RFC 9594 section 4.3.1).
    pub const KDC_CRED: i64 = 17;
    /// `kdc_nonce`: the KDC's nonce N_KDC (RFC 9594 section 4.3.1).
    pub const KDC_NONCE: i64 = 18;
    /// `kdc_cred_verify`: the KDC's PoP evidence (RFC 9594 section 4.3.1).
    pub const KDC_CRED_VERIFY: i64 = 19;
    /// `rekeying_scheme`: the rekeying scheme in use (RFC 9594 section 4.3.1;
    /// the Group OSCORE profile calls it `group_rekeying`).
    pub const REKEYING_SCHEME: i64 = 20;
    /// `client_cred_verify`: the Client's PoP evidence (RFC 9594 section 4.3.1).
    pub const CLIENT_CRED_VERIFY: i64 = 24;
    /// `creds_repo`: URI of the Client's certificate (RFC 9594 section 4.3.1).
    pub const CREDS_REPO: i64 = 25;
    /// `control_uri`: the Client's rekeying resource (RFC 9594 section 4.3.1).
    pub const CONTROL_URI: i64 = 26;
    /// `mgt_key_material`: administrative keying material of the rekeying
    /// scheme (RFC 9594 section 4.3.1).
    pub const MGT_KEY_MATERIAL: i64 = 27;
    /// `control_group_uri`: one-to-many rekeying address (RFC 9594 section 4.3.1).
    pub const CONTROL_GROUP_URI: i64 = 28;
    /// `sign_info`: signature information, in ace-groupcomm+cbor 4.00 bodies
    /// (RFC 9594 section 4.3.1; OAuth CBOR key 45 in `/authz-info`).
    pub const SIGN_INFO: i64 = 29;
    /// `kdcchallenge`: a fresh N_S, in ace-groupcomm+cbor 4.00 bodies
    /// (RFC 9594 section 4.3.1; OAuth CBOR key 46 in `/authz-info`).
    pub const KDCCHALLENGE: i64 = 30;

    /// `group_SenderId`: a new OSCORE Sender ID, in the Key Renewal Response
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 9; suggested value).
    pub const GROUP_SENDER_ID: i64 = 21;
    /// `ecdh_info`: ECDH information for non-signature-only groups
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 5.3.1; suggested value).
    pub const ECDH_INFO: i64 = 31;
    /// `kdc_dh_creds`: the Group Manager's Diffie-Hellman credentials for
    /// pairwise-only groups (draft-ietf-ace-key-groupcomm-oscore-21
    /// section 5.3.2; suggested value).
    pub const KDC_DH_CREDS: i64 = 32;
    /// `sign_enc_key`: the Signature Encryption Key, in the `verif-data`
    /// response (draft-ietf-ace-key-groupcomm-oscore-21 section 8;
    /// suggested value).
    pub const SIGN_ENC_KEY: i64 = 33;
    /// `stale_node_ids`: Sender IDs that became stale, in rekeying messages
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 11; suggested value).
    pub const STALE_NODE_IDS: i64 = 34;

    /// The name of a parameter key, for logs and diagnostics.
    pub const fn name(key: i64) -> Option<&'static str> {
        Some(match key {
            GID => "gid",
            GNAME => "gname",
            GURI => "guri",
            SCOPE => "scope",
            GET_CREDS => "get_creds",
            CLIENT_CRED => "client_cred",
            CNONCE => "cnonce",
            GKTY => "gkty",
            KEY => "key",
            NUM => "num",
            ACE_GROUPCOMM_PROFILE => "ace_groupcomm_profile",
            EXP => "exp",
            EXI => "exi",
            CREDS => "creds",
            PEER_ROLES => "peer_roles",
            PEER_IDENTIFIERS => "peer_identifiers",
            GROUP_POLICIES => "group_policies",
            KDC_CRED => "kdc_cred",
            KDC_NONCE => "kdc_nonce",
            KDC_CRED_VERIFY => "kdc_cred_verify",
            REKEYING_SCHEME => "rekeying_scheme",
            GROUP_SENDER_ID => "group_SenderId",
            CLIENT_CRED_VERIFY => "client_cred_verify",
            CREDS_REPO => "creds_repo",
            CONTROL_URI => "control_uri",
            MGT_KEY_MATERIAL => "mgt_key_material",
            CONTROL_GROUP_URI => "control_group_uri",
            SIGN_INFO => "sign_info",
            KDCCHALLENGE => "kdcchallenge",
            ECDH_INFO => "ecdh_info",
            KDC_DH_CREDS => "kdc_dh_creds",
            SIGN_ENC_KEY => "sign_enc_key",
            STALE_NODE_IDS => "stale_node_ids",
            _ => return None,
        })
    }
}

/// ACE Groupcomm Errors: the `error-id` values (RFC 9594 section 9, Table 6,
/// and section 11.12; ids 7-9 from draft-ietf-ace-key-groupcomm-oscore-21
/// sections 6.2 and 8, suggested values).
pub mod error_id {
    /// 0: Operation permitted only to group members.
    pub const ONLY_GROUP_MEMBERS: i64 = 0;
    /// 1: Request inconsistent with the current roles.
    pub const INCONSISTENT_WITH_ROLES: i64 = 1;
    /// 2: Authentication credential incompatible with the group configuration.
    pub const INCOMPATIBLE_CREDENTIAL: i64 = 2;
    /// 3: Invalid proof-of-possession evidence.
    pub const INVALID_POP_EVIDENCE: i64 = 3;
    /// 4: No available individual keying material (draft -19 and older:
    /// "No available node identifiers").
    pub const NO_INDIVIDUAL_KEYING_MATERIAL: i64 = 4;
    /// 5: Group membership terminated.
    pub const MEMBERSHIP_TERMINATED: i64 = 5;
    /// 6: Group deleted.
    pub const GROUP_DELETED: i64 = 6;
    /// 7: Signatures not used in the group (Group OSCORE profile; suggested).
    pub const SIGNATURES_NOT_USED: i64 = 7;
    /// 8: Operation permitted only to signature verifiers (Group OSCORE
    /// profile; suggested).
    pub const ONLY_SIGNATURE_VERIFIERS: i64 = 8;
    /// 9: Group currently not active (Group OSCORE profile; suggested).
    pub const GROUP_NOT_ACTIVE: i64 = 9;
}

/// ACE Groupcomm Policies: the labels inside `group_policies` (RFC 9594
/// section 4.3.1, Table 3, section 11.10), with the Group OSCORE profile's
/// defaults (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3).
pub mod policy {
    /// Sequence Number Synchronization Method (int / tstr): how recipients
    /// synchronize with senders' sequence numbers.
    pub const SEQUENCE_NUMBER_SYNCHRONIZATION_METHOD: i64 = 0;
    /// Key Update Check Interval (int): seconds between checks at the KDC
    /// for newer keying material.
    pub const KEY_UPDATE_CHECK_INTERVAL: i64 = 1;
    /// Expiration Delta (uint): seconds after `exp` until which old keying
    /// material may still decrypt incoming messages.
    pub const EXPIRATION_DELTA: i64 = 2;

    /// Default Key Update Check Interval of the Group OSCORE profile, in
    /// seconds (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3).
    pub const DEFAULT_KEY_UPDATE_CHECK_INTERVAL: i64 = 3600;
    /// Default Expiration Delta of the Group OSCORE profile, in seconds
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3).
    pub const DEFAULT_EXPIRATION_DELTA: u64 = 0;
}

/// ACE Groupcomm Rekeying Schemes (RFC 9594 section 6, Table 4, section 11.13).
pub mod rekeying_scheme {
    /// 0: Point-to-Point, each member rekeyed individually over its pairwise
    /// secure association. Every KDC supports it; the Group OSCORE profile's
    /// default when `rekeying_scheme` is absent.
    pub const POINT_TO_POINT: i64 = 0;
}

/// ACE Groupcomm Key Types: values of `gkty` (RFC 9594 section 11.8, Table 1).
pub mod key_type {
    /// 0: reserved (RFC 9594 section 11.8).
    pub const RESERVED: i64 = 0;
    /// 1: Group_OSCORE_Input_Material object
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3; suggested value).
    pub const GROUP_OSCORE_INPUT_MATERIAL: i64 = 1;
}

/// ACE Groupcomm Profiles: values of `ace_groupcomm_profile` (RFC 9594
/// section 11.9, Table 2).
pub mod profile {
    /// 0: reserved (RFC 9594 section 11.9).
    pub const RESERVED: i64 = 0;
    /// 1: `coap_group_oscore_app`, the Group OSCORE application profile
    /// (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3; suggested value).
    pub const COAP_GROUP_OSCORE_APP: i64 = 1;
}

/// Group_OSCORE_Input_Material labels beyond the RFC 9203
/// OSCORE_Input_Material ones (0-6, in `crate::consts::oscore`)
/// (draft-ietf-ace-key-groupcomm-oscore-21 section 6.3; all suggested
/// values).
pub mod group_oscore_input {
    /// 7, `group_SenderId` (bstr): the member's own Sender ID.
    pub const GROUP_SENDER_ID: i64 = 7;
    /// 8, `cred_fmt` (int): COSE header label of the credential format
    /// (e.g. 14 kccs, 33 x5chain).
    pub const CRED_FMT: i64 = 8;
    /// 9, `gp_enc_alg` (int / tstr): Group Encryption Algorithm.
    pub const GP_ENC_ALG: i64 = 9;
    /// 10, `sign_alg` (int / tstr): Signature Algorithm.
    pub const SIGN_ALG: i64 = 10;
    /// 11, `sign_params` (array): `[sign_alg_capab, sign_key_type_capab]`.
    pub const SIGN_PARAMS: i64 = 11;
    /// 12, `ecdh_alg` (int / tstr): Pairwise Key Agreement Algorithm.
    pub const ECDH_ALG: i64 = 12;
    /// 13, `ecdh_params` (array): `[ecdh_alg_capab, ecdh_key_type_capab]`.
    pub const ECDH_PARAMS: i64 = 13;
}

/// Keys of concise problem details (RFC 9290 section 2 and 6.1) and the
/// `ace-groupcomm-error` custom entry (RFC 9594 section 4.1.2, 11.6).
pub mod problem_details {
    /// `title` (tstr), RFC 9290 standard key.
    pub const TITLE: i64 = -1;
    /// `detail` (tstr), RFC 9290 standard key.
    pub const DETAIL: i64 = -2;
    /// `instance` (URI), RFC 9290 standard key.
    pub const INSTANCE: i64 = -3;
    /// `response-code` (uint), RFC 9290 standard key.
    pub const RESPONSE_CODE: i64 = -4;
    /// `base-uri` (URI), RFC 9290 standard key.
    pub const BASE_URI: i64 = -5;
    /// `base-lang` (tag 38 language tag), RFC 9290 standard key.
    pub const BASE_LANG: i64 = -6;
    /// `base-rtl` (tag 38 direction), RFC 9290 standard key.
    pub const BASE_RTL: i64 = -7;
    /// `ace-groupcomm-error`: Custom Problem Detail key assigned by RFC 9594
    /// section 11.6.
    pub const ACE_GROUPCOMM_ERROR: i64 = 0;
    /// `error-id`: the only key inside the `ace-groupcomm-error` map
    /// (RFC 9594 section 4.1.2).
    pub const ERROR_ID: i64 = 0;
}

/// An ACE Groupcomm error identifier with its registered description
/// (RFC 9594 section 9, Table 6; 7-9 from the Group OSCORE profile,
/// suggested values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorId {
    /// 0: Operation permitted only to group members.
    OnlyGroupMembers,
    /// 1: Request inconsistent with the current roles.
    InconsistentWithRoles,
    /// 2: Authentication credential incompatible with the group configuration.
    IncompatibleCredential,
    /// 3: Invalid proof-of-possession evidence.
    InvalidPopEvidence,
    /// 4: No available individual keying material.
    NoIndividualKeyingMaterial,
    /// 5: Group membership terminated.
    MembershipTerminated,
    /// 6: Group deleted.
    GroupDeleted,
    /// 7: Signatures not used in the group (Group OSCORE profile).
    SignaturesNotUsed,
    /// 8: Operation permitted only to signature verifiers (Group OSCORE profile).
    OnlySignatureVerifiers,
    /// 9: Group currently not active (Group OSCORE profile).
    GroupNotActive,
}

impl ErrorId {
    /// Every error id this crate knows, in registry order.
    pub const ALL: [Self; 10] = [
        Self::OnlyGroupMembers,
        Self::InconsistentWithRoles,
        Self::IncompatibleCredential,
        Self::InvalidPopEvidence,
        Self::NoIndividualKeyingMaterial,
        Self::MembershipTerminated,
        Self::GroupDeleted,
        Self::SignaturesNotUsed,
        Self::OnlySignatureVerifiers,
        Self::GroupNotActive,
    ];

    /// The registered value.
    pub const fn value(self) -> i64 {
        match self {
            Self::OnlyGroupMembers => error_id::ONLY_GROUP_MEMBERS,
            Self::InconsistentWithRoles => error_id::INCONSISTENT_WITH_ROLES,
            Self::IncompatibleCredential => error_id::INCOMPATIBLE_CREDENTIAL,
            Self::InvalidPopEvidence => error_id::INVALID_POP_EVIDENCE,
            Self::NoIndividualKeyingMaterial => error_id::NO_INDIVIDUAL_KEYING_MATERIAL,
            Self::MembershipTerminated => error_id::MEMBERSHIP_TERMINATED,
            Self::GroupDeleted => error_id::GROUP_DELETED,
            Self::SignaturesNotUsed => error_id::SIGNATURES_NOT_USED,
            Self::OnlySignatureVerifiers => error_id::ONLY_SIGNATURE_VERIFIERS,
            Self::GroupNotActive => error_id::GROUP_NOT_ACTIVE,
        }
    }

    /// The error id with registered value `value`, if known.
    pub const fn from_value(value: i64) -> Option<Self> {
        Some(match value {
            error_id::ONLY_GROUP_MEMBERS => Self::OnlyGroupMembers,
            error_id::INCONSISTENT_WITH_ROLES => Self::InconsistentWithRoles,
            error_id::INCOMPATIBLE_CREDENTIAL => Self::IncompatibleCredential,
            error_id::INVALID_POP_EVIDENCE => Self::InvalidPopEvidence,
            error_id::NO_INDIVIDUAL_KEYING_MATERIAL => Self::NoIndividualKeyingMaterial,
            error_id::MEMBERSHIP_TERMINATED => Self::MembershipTerminated,
            error_id::GROUP_DELETED => Self::GroupDeleted,
            error_id::SIGNATURES_NOT_USED => Self::SignaturesNotUsed,
            error_id::ONLY_SIGNATURE_VERIFIERS => Self::OnlySignatureVerifiers,
            error_id::GROUP_NOT_ACTIVE => Self::GroupNotActive,
            _ => return None,
        })
    }

    /// The registered description (RFC 9594 Table 6 wording; the Group OSCORE
    /// profile's for 7-9).
    pub const fn description(self) -> &'static str {
        match self {
            Self::OnlyGroupMembers => "Operation permitted only to group members",
            Self::InconsistentWithRoles => "Request inconsistent with the current roles",
            Self::IncompatibleCredential => {
                "Authentication credential incompatible with the group configuration"
            }
            Self::InvalidPopEvidence => "Invalid proof-of-possession evidence",
            Self::NoIndividualKeyingMaterial => "No available individual keying material",
            Self::MembershipTerminated => "Group membership terminated",
            Self::GroupDeleted => "Group deleted",
            Self::SignaturesNotUsed => "Signatures not used in the group",
            Self::OnlySignatureVerifiers => "Operation permitted only to signature verifiers",
            Self::GroupNotActive => "Group currently not active",
        }
    }

    /// Whether the value is only suggested by the Group OSCORE profile draft
    /// rather than assigned by RFC 9594.
    pub const fn is_suggested(self) -> bool {
        matches!(
            self,
            Self::SignaturesNotUsed | Self::OnlySignatureVerifiers | Self::GroupNotActive
        )
    }

    /// What a Client receiving this error should do (RFC 9594 section 9; for
    /// 7-9 the Group OSCORE profile, sections 6.2 and 8).
    pub const fn client_action(self) -> ClientAction {
        match self {
            Self::OnlyGroupMembers => ClientAction::JoinFirst,
            Self::InconsistentWithRoles => ClientAction::RejoinWithRequiredRoles,
            Self::IncompatibleCredential => ClientAction::ProvideCompatibleCredential,
            Self::InvalidPopEvidence => ClientAction::RecomputePopEvidence,
            Self::NoIndividualKeyingMaterial | Self::GroupNotActive => ClientAction::RetryLater,
            Self::MembershipTerminated => ClientAction::MayRejoin,
            Self::GroupDeleted => ClientAction::DeleteGroupState,
            Self::SignaturesNotUsed => ClientAction::StopSignatureOperations,
            Self::OnlySignatureVerifiers => ClientAction::UseMemberOperation,
        }
    }
}

impl std::fmt::Display for ErrorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.value(), self.description())
    }
}

/// The Client guidance of RFC 9594 section 9 for each error id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAction {
    /// Error 0: stop; the operation needs membership. Join the group first,
    /// getting an access token first if the current one does not allow it.
    JoinFirst,
    /// Error 1: the current roles do not allow the request. A member
    /// re-joins with the needed roles (possibly under a new access token); a
    /// non-member gets a token granting the missing roles.
    RejoinWithRequiredRoles,
    /// Error 2: obtain or generate a key pair matching the group's algorithm
    /// and parameters (`sign_info`), and send the new credential.
    ProvideCompatibleCredential,
    /// Error 3: compute the PoP evidence again correctly (N_S, N_C, scope);
    /// may not be diagnosable without a human.
    RecomputePopEvidence,
    /// Errors 4 and 9: wait a pre-configured time, then try again.
    RetryLater,
    /// Error 5: the KDC evicted this node; it may try to join again,
    /// possibly with a new access token.
    MayRejoin,
    /// Error 6: delete all state of the group, as after leaving for good.
    DeleteGroupState,
    /// Error 7: the group uses no signatures (pairwise-only); there is no
    /// group-mode signature to verify, and no KDC signature credential.
    StopSignatureOperations,
    /// Error 8: the operation (e.g. FETCH `/kdc-cred`) is for external
    /// signature verifiers; a member uses the member operation (GET).
    UseMemberOperation,
}

impl ClientAction {
    /// One-line guidance for logs and user interfaces.
    pub const fn description(self) -> &'static str {
        match self {
            Self::JoinFirst => "join the group first (get an access token if needed)",
            Self::RejoinWithRequiredRoles => {
                "re-join with the roles the operation needs (a new access token may be needed)"
            }
            Self::ProvideCompatibleCredential => {
                "send a credential matching the group's algorithm and parameters"
            }
            Self::RecomputePopEvidence => "compute the proof-of-possession evidence again",
            Self::RetryLater => "wait a pre-configured time, then retry",
            Self::MayRejoin => "membership ended; joining again is possible",
            Self::DeleteGroupState => "delete all state of the group",
            Self::StopSignatureOperations => "the group uses no signatures",
            Self::UseMemberOperation => "the operation is for signature verifiers only",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_ids_round_trip_and_are_distinct() {
        for (i, id) in ErrorId::ALL.iter().enumerate() {
            assert_eq!(id.value(), i as i64);
            assert_eq!(ErrorId::from_value(id.value()), Some(*id));
        }
        assert_eq!(ErrorId::from_value(10), None);
        assert_eq!(ErrorId::from_value(-1), None);
    }

    #[test]
    fn rfc_wording_of_error_4_and_suggested_flags() {
        assert_eq!(
            ErrorId::NoIndividualKeyingMaterial.description(),
            "No available individual keying material"
        );
        assert!(!ErrorId::GroupDeleted.is_suggested());
        assert!(ErrorId::GroupNotActive.is_suggested());
        assert_eq!(
            ErrorId::GroupNotActive.client_action(),
            ClientAction::RetryLater
        );
    }

    #[test]
    fn parameter_names_cover_every_key() {
        // 28 RFC 9594 parameters (0-20, 24-30) plus the profile's 21, 31-34.
        let known: Vec<i64> = (0..=40).filter(|k| param::name(*k).is_some()).collect();
        let expected: Vec<i64> = (0..=20).chain(21..=21).chain(24..=34).collect();
        assert_eq!(known, expected);
        assert_eq!(param::name(param::KDCCHALLENGE), Some("kdcchallenge"));
        assert_eq!(param::name(22), None);
    }
}
