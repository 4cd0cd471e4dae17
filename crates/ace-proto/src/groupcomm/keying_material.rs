//! Group keying material (`gkty`, `key`, `num`, `exp`, `exi`, ...; RFC 9594
//! section 4.3.1) and the responses that carry it: Key Distribution Response
//! (GET `/ace-group/GROUPNAME`, section 4.3.2) and individual keying material
//! (GET and POST `/ace-group/GROUPNAME/nodes/NODENAME`, sections 4.8.1 and
//! 4.8.2).

use super::group_oscore_input::GroupOscoreInputMaterial;
use super::{Params, open};
use crate::cbor::{Codec, IntOrText, MapReader, Value};
use crate::consts::groupcomm::{key_type, param};
use crate::error::DecodeError;

/// `gkty` and `key` together: the key type decides the format of `key`, so
/// the two are one value.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupKey {
    /// `gkty` 1 (suggested), Group_OSCORE_Input_Material object (Group OSCORE
    /// profile section 6.3).
    GroupOscore(Box<GroupOscoreInputMaterial>),
    /// Any other key type, kept as data (for example the RFC 9594 examples'
    /// `gkty` 65600 with a byte string `key`). `gkty` is never the Group
    /// OSCORE key type here: decoding routes that to
    /// [`GroupKey::GroupOscore`].
    Other {
        /// `gkty` (7).
        gkty: IntOrText,
        /// `key` (8).
        key: Value,
    },
}

impl GroupKey {
    /// The `gkty` value.
    pub fn gkty(&self) -> IntOrText {
        match self {
            Self::GroupOscore(_) => IntOrText::Int(key_type::GROUP_OSCORE_INPUT_MATERIAL),
            Self::Other { gkty, .. } => gkty.clone(),
        }
    }

    /// The Group OSCORE key, if this is one.
    pub fn group_oscore(&self) -> Option<&GroupOscoreInputMaterial> {
        match self {
            Self::GroupOscore(k) => Some(k),
            Self::Other { .. } => None,
        }
    }

    fn write(&self, p: &mut Params) {
        p.put(param::GKTY, self.gkty().to_value());
        match self {
            Self::GroupOscore(k) => p.put(param::KEY, k.to_value()),
            Self::Other { key, .. } => p.put(param::KEY, key.clone()),
        }
    }

    fn read(map: &mut MapReader) -> Result<Self, DecodeError> {
        let gkty = IntOrText::from_value(map.require(param::GKTY, "gkty")?, "gkty")?;
        let key = map.require(param::KEY, "key")?;
        Ok(match gkty {
            IntOrText::Int(key_type::GROUP_OSCORE_INPUT_MATERIAL) => {
                Self::GroupOscore(Box::new(GroupOscoreInputMaterial::from_value(key)?))
            }
            gkty => Self::Other { gkty, key },
        })
    }

    /// For a Group OSCORE key: the member fields must be present (`ms`,
    /// `contextId`, and `cred_fmt` when asked).
    fn check_member(&self, need_cred_fmt: bool) -> Result<(), DecodeError> {
        match self {
            Self::GroupOscore(k) => k.check_member_fields(need_cred_fmt),
            Self::Other { .. } => Ok(()),
        }
    }
}

/// The group keying material common to Join Responses, Key Distribution
/// Responses, rekeying messages and `verif-data` (RFC 9594 section 4.3.1):
///
/// ```text
/// gkty: int / tstr,               ; 7
/// key: any,                       ; 8 (format per gkty)
/// num: int,                       ; 9
/// ? ace_groupcomm_profile: int,   ; 10
/// ? exp: uint,                    ; 11
/// ? exi: uint,                    ; 12 (MUST if exp)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKeyingMaterial {
    /// `gkty` (7) and `key` (8).
    pub key: GroupKey,
    /// `num` (9): version of the keying material, strictly increasing.
    pub num: i64,
    /// `ace_groupcomm_profile` (10): the application profile.
    pub ace_groupcomm_profile: Option<i64>,
    /// `exp` (11): absolute expiry, seconds since the Unix epoch (UTC).
    pub exp: Option<u64>,
    /// `exi` (12): residual lifetime in seconds when sent.
    pub exi: Option<u64>,
}

impl GroupKeyingMaterial {
    pub(crate) fn write(&self, p: &mut Params) {
        self.key.write(p);
        p.put(param::NUM, self.num);
        p.opt(param::ACE_GROUPCOMM_PROFILE, self.ace_groupcomm_profile);
        p.opt(param::EXP, self.exp);
        p.opt(param::EXI, self.exi);
    }

    /// Takes the fields from `map`: `gkty`, `key` and `num` are mandatory;
    /// `exp` without `exi` is refused (RFC 9594 section 4.3.1: `exi` MUST be
    /// present if `exp` is).
    pub(crate) fn read(map: &mut MapReader) -> Result<Self, DecodeError> {
        let key = GroupKey::read(map)?;
        let num = map.req_int(param::NUM, "num")?;
        let ace_groupcomm_profile =
            map.opt_int(param::ACE_GROUPCOMM_PROFILE, "ace_groupcomm_profile")?;
        let exp = map.opt_uint(param::EXP, "exp")?;
        let exi = map.opt_uint(param::EXI, "exi")?;
        if exp.is_some() && exi.is_none() {
            return Err(DecodeError::missing(map.context(), "exi"));
        }
        Ok(Self {
            key,
            num,
            ace_groupcomm_profile,
            exp,
            exi,
        })
    }

    /// Whether any of the group fields is present in `map`.
    fn present_in(map: &MapReader) -> bool {
        [param::GKTY, param::KEY, param::NUM]
            .iter()
            .any(|k| map.contains(*k))
    }

    /// The local expiry time of the material received at `received_at`
    /// (seconds since the Unix epoch): `exp` when the receiver's clock is
    /// synchronized with UTC, else receipt time + `exi` (RFC 9594 section
    /// 4.3.1). `None` when neither is present.
    pub fn expiry(&self, received_at: u64, utc_synchronized: bool) -> Option<u64> {
        match (self.exp, self.exi) {
            (Some(exp), _) if utc_synchronized => Some(exp),
            (_, Some(exi)) => Some(received_at.saturating_add(exi)),
            (Some(exp), None) => Some(exp),
            (None, None) => None,
        }
    }
}

/// Key Distribution Response: the 2.05 body of GET `/ace-group/GROUPNAME`
/// (RFC 9594 section 4.3.2, Figure 15).
///
/// ```text
/// {
///   gkty, key, num, ? ace_groupcomm_profile, ? exp, ? exi,  ; 7-12
///   ? rekeying_scheme: int,       ; 20
///   ? mgt_key_material: bstr,     ; 27
/// }
/// ```
///
/// In the Group OSCORE profile `key` carries no `group_SenderId`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDistributionResponse {
    /// The group keying material.
    pub material: GroupKeyingMaterial,
    /// `rekeying_scheme` (20).
    pub rekeying_scheme: Option<i64>,
    /// `mgt_key_material` (27): administrative keys of the rekeying scheme.
    pub mgt_key_material: Option<Vec<u8>>,
}

impl KeyDistributionResponse {
    fn write(&self, p: &mut Params) {
        self.material.write(p);
        p.opt(param::REKEYING_SCHEME, self.rekeying_scheme);
        p.opt_bytes(param::MGT_KEY_MATERIAL, self.mgt_key_material.as_deref());
    }

    fn read(map: &mut MapReader) -> Result<Self, DecodeError> {
        let material = GroupKeyingMaterial::read(map)?;
        material.key.check_member(false)?;
        Ok(Self {
            material,
            rekeying_scheme: map.opt_int(param::REKEYING_SCHEME, "rekeying_scheme")?,
            mgt_key_material: map.opt_bytes(param::MGT_KEY_MATERIAL, "mgt_key_material")?,
        })
    }
}

impl Codec for KeyDistributionResponse {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        self.write(&mut p);
        p.finish(&[])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "key distribution response")?;
        Self::read(&mut map)
    }
}

/// Group and individual keying material: the 2.05 body of GET
/// `/ace-group/GROUPNAME/nodes/NODENAME` (RFC 9594 section 4.8.1, Figure 28)
/// and the 2.04 body of the Key Renewal Request, POST to the same resource
/// (section 4.8.2, Figure 30).
///
/// ```text
/// {
///   ? gkty, key, num, ...,         ; as KeyDistributionResponse (GET: MUST)
///   ? group_SenderId: bstr,        ; 21, Group OSCORE profile (renewal)
///   * label => any                 ; other profile-defined individual material
/// }
/// ```
///
/// The individual keying material is profile-defined (RFC 9594 REQ27): the
/// Group OSCORE profile puts the new Sender ID of a Key Renewal Response in
/// `group_SenderId` (21) and the current one of a GET inside `key` (label 7);
/// RFC 9594's own examples use a text label `"ind-key"`. Entries this type
/// does not know are kept in `individual`, in the order received, so that
/// the examples re-encode byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct IndividualKeyingMaterial {
    /// The group keying material (present in GET responses; a Key Renewal
    /// Response may carry it when the profile rekeys, RFC 9594 OPT12).
    pub group: Option<KeyDistributionResponse>,
    /// `group_SenderId` (21): the new OSCORE Sender ID.
    pub group_sender_id: Option<Vec<u8>>,
    /// Other entries (profile-defined individual keying material), in the
    /// order received. Their keys never collide with the parameters above.
    pub individual: Vec<(IntOrText, Value)>,
}

impl Codec for IndividualKeyingMaterial {
    fn to_value(&self) -> Value {
        let mut p = Params::new();
        if let Some(group) = &self.group {
            group.write(&mut p);
        }
        p.opt_bytes(param::GROUP_SENDER_ID, self.group_sender_id.as_deref());
        p.finish(&self.individual)
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = open(value, "individual keying material")?;
        let group = if GroupKeyingMaterial::present_in(&map) {
            Some(KeyDistributionResponse::read(&mut map)?)
        } else {
            None
        };
        let group_sender_id = map.opt_bytes(param::GROUP_SENDER_ID, "group_SenderId")?;
        let individual = map.into_rest();
        if group.is_none() && group_sender_id.is_none() && individual.is_empty() {
            return Err(DecodeError::invalid(
                "individual keying material",
                "no keying material in the response",
            ));
        }
        Ok(Self {
            group,
            group_sender_id,
            individual,
        })
    }
}

pub(crate) fn check_join_key(key: &GroupKey) -> Result<(), DecodeError> {
    key.check_member(true)
}
