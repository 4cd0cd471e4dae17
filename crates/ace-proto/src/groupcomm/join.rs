//! Join Request and Join Response: POST `/ace-group/GROUPNAME` (RFC 9594
//! section 4.3.1, Figure 13; Group OSCORE profile sections 6.1 and 6.3).

use super::creds::PeerCredentials;
use super::get_creds::{CredsContext, GetCreds};
use super::kdc_cred::KdcCred;
use super::keying_material::{GroupKeyingMaterial, check_join_key};
use super::policies::GroupPolicies;
use super::{Params, open};
use crate::cbor::{Codec, Value};
use crate::consts::groupcomm::param;
use crate::error::DecodeError;
use crate::pop;

const REQUEST: &str = "join request";
const RESPONSE: &str = "join response";

/// Join Request (RFC 9594 section 4.3.1, Figure 13).
///
/// ```text
/// {
///   ? scope: bstr,               ; 3, one scope entry, CBOR-encoded
///   ? get_creds: null / [true, [+ role], []],   ; 4
///   ? client_cred: bstr,         ; 5, original bytes of the credential
///   cnonce: bstr,                ; 6, N_C (MUST)
///   ? client_cred_verify: bstr,  ; 24, PoP evidence
///   ? creds_repo: tstr,          ; 25
///   ? control_uri: tstr,         ; 26
/// }
/// ```
///
/// `scope` is kept as the bytes received: the PoP input covers exactly those
/// bytes. Parse them with [`crate::scope`] to learn the group and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// `scope` (3): the content of the byte string, i.e. the CBOR encoding
    /// of one scope entry (`[gname, roles]`).
    pub scope: Option<Vec<u8>>,
    /// `get_creds` (4).
    pub get_creds: Option<GetCreds>,
    /// `client_cred` (5).
    pub client_cred: Option<Vec<u8>>,
    /// `cnonce` (6): N_C.
    pub cnonce: Vec<u8>,
    /// `client_cred_verify` (24).
    pub client_cred_verify: Option<Vec<u8>>,
    /// `creds_repo` (25).
    pub creds_repo: Option<String>,
    /// `control_uri` (26).
    pub control_uri: Option<String>,
}

impl JoinRequest {
    /// The PoP input of `client_cred_verify`: `bstr(scope) | bstr(N_S) |
    /// bstr(N_C)` with this request's `scope` (or `default_scope` when the
    /// request has none, as the KDC does; RFC 9594 section 4.3.1) and
    /// `cnonce`. `None` when there is no scope at all.
    pub fn pop_input(&self, n_s: &[u8], default_scope: Option<&[u8]>) -> Option<Vec<u8>> {
        let scope = self.scope.as_deref().or(default_scope)?;
        Some(pop::client_pop_input(scope, n_s, &self.cnonce))
    }

    /// The KDC's check of `client_cred_verify` (RFC 9594 section 4.3.1):
    /// the evidence must be present and verify with `check` over
    /// `bstr(scope) | bstr(N_S) | bstr(N_C)`. A refusal is 4.00 with error
    /// id 3 ([`DecodeError::Groupcomm`], via `From<PopError>`), except a
    /// request with neither `scope` nor a default scope, which is a bare
    /// 4.00 (the KDC cannot tell which roles are asked for).
    pub fn verify_pop(
        &self,
        n_s: &[u8],
        default_scope: Option<&[u8]>,
        check: pop::PopCheck<'_>,
    ) -> Result<pop::PopVerified, DecodeError> {
        let input = self
            .pop_input(n_s, default_scope)
            .ok_or(DecodeError::missing(REQUEST, "scope"))?;
        let evidence = self
            .client_cred_verify
            .as_deref()
            .ok_or(pop::PopError::MissingEvidence)?;
        Ok(check.verify(&input, evidence)?)
    }
}

impl Codec for JoinRequest {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        p.opt_bytes(param::SCOPE, self.scope.as_deref());
        p.opt(
            param::GET_CREDS,
            self.get_creds.as_ref().map(GetCreds::to_value),
        );
        p.opt_bytes(param::CLIENT_CRED, self.client_cred.as_deref());
        p.bytes(param::CNONCE, &self.cnonce);
        p.opt_bytes(
            param::CLIENT_CRED_VERIFY,
            self.client_cred_verify.as_deref(),
        );
        p.opt(param::CREDS_REPO, self.creds_repo.clone());
        p.opt(param::CONTROL_URI, self.control_uri.clone());
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, REQUEST)?;
        let get_creds = map
            .take(param::GET_CREDS)
            .map(GetCreds::from_value)
            .transpose()?;
        if let Some(g) = &get_creds {
            g.validate(CredsContext::Join)?;
        }
        Ok(Self {
            scope: map.opt_bytes(param::SCOPE, "scope")?,
            get_creds,
            client_cred: map.opt_bytes(param::CLIENT_CRED, "client_cred")?,
            cnonce: map.req_bytes(param::CNONCE, "cnonce")?,
            client_cred_verify: map.opt_bytes(param::CLIENT_CRED_VERIFY, "client_cred_verify")?,
            creds_repo: map.opt_text(param::CREDS_REPO, "creds_repo")?,
            control_uri: map.opt_text(param::CONTROL_URI, "control_uri")?,
        })
    }
}

/// Join Response (RFC 9594 section 4.3.1, Figure 13; Group OSCORE profile
/// section 6.3).
///
/// ```text
/// {
///   gkty, key, num,                    ; 7, 8, 9 (MUST)
///   ? ace_groupcomm_profile: int,      ; 10
///   ? exp: uint, ? exi: uint,          ; 11, 12 (exi MUST if exp)
///   ? creds, ? peer_roles, ? peer_identifiers,   ; 13, 14, 15
///   ? group_policies: map,             ; 16
///   ? kdc_cred, kdc_nonce, kdc_cred_verify,      ; 17, 18, 19 (together)
///   ? rekeying_scheme: int,            ; 20
///   ? mgt_key_material: bstr,          ; 27
///   ? control_group_uri: tstr,         ; 28
/// }
/// ```
///
/// For a Group OSCORE `key`, decoding also requires `ms`, `contextId` and
/// `cred_fmt` (profile section 6.3).
#[derive(Debug, Clone, PartialEq)]
pub struct JoinResponse {
    /// `gkty`, `key`, `num`, `ace_groupcomm_profile`, `exp`, `exi`.
    pub material: GroupKeyingMaterial,
    /// `creds`, `peer_roles`, `peer_identifiers` (present iff the request had
    /// `get_creds`).
    pub peers: Option<PeerCredentials>,
    /// `group_policies` (16).
    pub group_policies: Option<GroupPolicies>,
    /// `kdc_cred`, `kdc_nonce`, `kdc_cred_verify` (17-19).
    pub kdc: Option<KdcCred>,
    /// `rekeying_scheme` (20).
    pub rekeying_scheme: Option<i64>,
    /// `mgt_key_material` (27).
    pub mgt_key_material: Option<Vec<u8>>,
    /// `control_group_uri` (28).
    pub control_group_uri: Option<String>,
}

impl Codec for JoinResponse {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        self.material.write(&mut p);
        if let Some(peers) = &self.peers {
            peers.write(&mut p);
        }
        p.opt(
            param::GROUP_POLICIES,
            self.group_policies.as_ref().map(GroupPolicies::to_value),
        );
        if let Some(kdc) = &self.kdc {
            kdc.write(&mut p);
        }
        p.opt(param::REKEYING_SCHEME, self.rekeying_scheme);
        p.opt_bytes(param::MGT_KEY_MATERIAL, self.mgt_key_material.as_deref());
        p.opt(param::CONTROL_GROUP_URI, self.control_group_uri.clone());
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, RESPONSE)?;
        let material = GroupKeyingMaterial::read(&mut map)?;
        check_join_key(&material.key)?;
        let rekeying_scheme = map.opt_int(param::REKEYING_SCHEME, "rekeying_scheme")?;
        let mgt_key_material = map.opt_bytes(param::MGT_KEY_MATERIAL, "mgt_key_material")?;
        Ok(Self {
            material,
            peers: PeerCredentials::read(&mut map)?,
            group_policies: map
                .take(param::GROUP_POLICIES)
                .map(GroupPolicies::from_value)
                .transpose()?,
            kdc: KdcCred::read(&mut map)?,
            rekeying_scheme,
            mgt_key_material,
            control_group_uri: map.opt_text(param::CONTROL_GROUP_URI, "control_group_uri")?,
        })
    }
}
