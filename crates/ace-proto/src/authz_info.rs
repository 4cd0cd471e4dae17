//! Token transfer to `/authz-info` (RFC 9200 section 5.10.1, RFC 9203 section 4,
//! RFC 9594 section 3.3): nonces, recipient ids, `sign_info`, `kdcchallenge`.
//!
//! With the OSCORE profile (RFC 9203) and with RFC 9594, the token travels
//! inside an `application/ace+cbor` map rather than as a bare CWT, so that
//! the client can add its nonce and Recipient ID, and ask the KDC for the
//! group's signature parameters (`sign_info: null`); the KDC answers 2.01
//! with its own nonce and Recipient ID, the challenge `N_S`
//! (`kdcchallenge`) and the requested `sign_info` entries.
//!
//! The Group OSCORE profile (draft-ietf-ace-key-groupcomm-oscore-21 section
//! 5.3) adds `ecdh_info` and `kdc_dh_creds` under OAuth keys it only
//! suggests (47, 48).
//!
//! [`SignInfoEntry`], [`EcdhInfoEntry`] and [`KdcDhCredsEntry`] are also used
//! in `application/ace-groupcomm+cbor` bodies (RFC 9594 section 4.1.2 sends
//! `sign_info` under key 29 in some 4.00 responses).

use crate::cbor::{self, Codec, IntOrText, MapBuilder, MapReader, Value};
use crate::consts::oauth as key;
use crate::error::DecodeError;

// ---------------------------------------------------------------------------
// Group names and the *_info entries
// ---------------------------------------------------------------------------

/// The `id` element of a `sign_info`, `ecdh_info` or `kdc_dh_creds` entry:
/// `gname / [+ gname]` (RFC 9594 section 3.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupNames {
    /// One group name, as a text string.
    One(String),
    /// An array of at least one group name.
    Many(Vec<String>),
}

impl GroupNames {
    /// Whether `name` is one of the names.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Self::One(n) => n == name,
            Self::Many(all) => all.iter().any(|n| n == name),
        }
    }

    /// The names.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Self::One(n) => vec![n.as_str()],
            Self::Many(all) => all.iter().map(String::as_str).collect(),
        }
    }

    /// The CBOR data item.
    pub fn to_value(&self) -> Value {
        match self {
            Self::One(n) => Value::Text(n.clone()),
            Self::Many(all) => Value::Array(all.iter().cloned().map(Value::Text).collect()),
        }
    }

    /// Reads `gname / [+ gname]`.
    pub fn from_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Text(n) => Ok(Self::One(n)),
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(DecodeError::invalid(context, "empty array of group names"));
                }
                items
                    .into_iter()
                    .map(|v| cbor::text(v, context))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Self::Many)
            }
            other => Err(DecodeError::UnexpectedItem {
                context,
                want: "group name or array of group names",
                got: cbor::type_name(&other),
            }),
        }
    }
}

impl From<&str> for GroupNames {
    fn from(name: &str) -> Self {
        Self::One(name.to_string())
    }
}

/// The shared shape of `sign_info_entry` and `ecdh_info_entry`:
/// `[id, alg, [* alg_capab], + [* capab], cred_fmt]`.
struct InfoEntry {
    id: GroupNames,
    alg: IntOrText,
    parameters: Vec<Value>,
    key_parameters: Vec<Value>,
    more: Vec<Vec<Value>>,
    cred_fmt: Option<i64>,
}

impl InfoEntry {
    fn to_value(&self) -> Value {
        let mut items = vec![
            self.id.to_value(),
            self.alg.to_value(),
            Value::Array(self.parameters.clone()),
            Value::Array(self.key_parameters.clone()),
        ];
        items.extend(self.more.iter().cloned().map(Value::Array));
        items.push(self.cred_fmt.map_or(Value::Null, Value::from));
        Value::Array(items)
    }

    fn from_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        let mut items = cbor::array(value, context)?;
        if items.len() < 5 {
            return Err(DecodeError::invalid(
                context,
                format!("expected at least 5 elements, got {}", items.len()),
            ));
        }
        let cred_fmt = match items.pop() {
            Some(Value::Null) | None => None,
            Some(v) => Some(cbor::int(v, context)?),
        };
        let mut items = items.into_iter();
        let mut next = || items.next().unwrap_or(Value::Null);
        let id = GroupNames::from_value(next(), context)?;
        let alg = IntOrText::from_value(next(), context)?;
        let parameters = cbor::array(next(), context)?;
        let key_parameters = cbor::array(next(), context)?;
        let more = items
            .map(|v| cbor::array(v, context))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id,
            alg,
            parameters,
            key_parameters,
            more,
            cred_fmt,
        })
    }
}

/// A `sign_info_entry` (RFC 9594 section 3.3.1, generalised in Appendix B):
///
/// ```cddl
/// sign_info_entry = [
///   id: gname / [+ gname],
///   sign_alg: int / tstr,
///   sign_parameters: [* alg_capab: any],
///   * sign_capab: [* capab: any],   ; today exactly one: sign_key_parameters
///   cred_fmt: int / null
/// ]
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SignInfoEntry {
    /// The group name(s) the entry applies to.
    pub id: GroupNames,
    /// The group's signature algorithm (COSE algorithm), e.g. -8 EdDSA.
    pub sign_alg: IntOrText,
    /// The algorithm's capabilities (COSE "Capabilities" of the algorithm),
    /// e.g. `[1]` (kty OKP) for EdDSA.
    pub sign_parameters: Vec<Value>,
    /// The key type's capabilities, e.g. `[1, 6]` (OKP, Ed25519).
    pub sign_key_parameters: Vec<Value>,
    /// Further capability arrays of Appendix B (empty for every algorithm
    /// registered today).
    pub more_capabilities: Vec<Vec<Value>>,
    /// The credential format (a COSE Header Parameters label, e.g. 14 for
    /// `kccs`); `None` (CBOR `null`) when the KDC does not store member
    /// credentials.
    pub cred_fmt: Option<i64>,
}

impl SignInfoEntry {
    /// Encodes `sign_info_resp = [+ sign_info_entry]`.
    pub fn list_to_value(entries: &[Self]) -> Value {
        Value::Array(entries.iter().map(Codec::to_value).collect())
    }

    /// Decodes `sign_info_resp = [+ sign_info_entry]` (at least one entry).
    pub fn list_from_value(value: Value, context: &'static str) -> Result<Vec<Self>, DecodeError> {
        non_empty_list(value, context)
    }
}

impl Codec for SignInfoEntry {
    fn to_value(&self) -> Value {
        InfoEntry {
            id: self.id.clone(),
            alg: self.sign_alg.clone(),
            parameters: self.sign_parameters.clone(),
            key_parameters: self.sign_key_parameters.clone(),
            more: self.more_capabilities.clone(),
            cred_fmt: self.cred_fmt,
        }
        .to_value()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let e = InfoEntry::from_value(value, "sign_info entry")?;
        Ok(Self {
            id: e.id,
            sign_alg: e.alg,
            sign_parameters: e.parameters,
            sign_key_parameters: e.key_parameters,
            more_capabilities: e.more,
            cred_fmt: e.cred_fmt,
        })
    }
}

/// An `ecdh_info_entry` (draft-ietf-ace-key-groupcomm-oscore-21 section
/// 5.3.1): the pairwise key agreement algorithm of a group.
///
/// ```cddl
/// ecdh_info_entry = [
///   id: gname / [+ gname],
///   ecdh_alg: int / tstr,
///   ecdh_parameters: [* alg_capab: any],
///   ecdh_key_parameters: [* key_type_capab: any],
///   cred_fmt: int / null
/// ]
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EcdhInfoEntry {
    /// The group name(s) the entry applies to.
    pub id: GroupNames,
    /// The Pairwise Key Agreement Algorithm, e.g. -27 (ECDH-SS + HKDF-256).
    pub ecdh_alg: IntOrText,
    /// The algorithm's capabilities, e.g. `[1]` (kty OKP).
    pub ecdh_parameters: Vec<Value>,
    /// The key type's capabilities, e.g. `[1, 4]` (OKP, X25519).
    pub ecdh_key_parameters: Vec<Value>,
    /// Further capability arrays (as in RFC 9594 Appendix B; empty today).
    pub more_capabilities: Vec<Vec<Value>>,
    /// The credential format, or `None` (`null`).
    pub cred_fmt: Option<i64>,
}

impl EcdhInfoEntry {
    /// Encodes `[+ ecdh_info_entry]`.
    pub fn list_to_value(entries: &[Self]) -> Value {
        Value::Array(entries.iter().map(Codec::to_value).collect())
    }

    /// Decodes `[+ ecdh_info_entry]` (at least one entry).
    pub fn list_from_value(value: Value, context: &'static str) -> Result<Vec<Self>, DecodeError> {
        non_empty_list(value, context)
    }
}

impl Codec for EcdhInfoEntry {
    fn to_value(&self) -> Value {
        InfoEntry {
            id: self.id.clone(),
            alg: self.ecdh_alg.clone(),
            parameters: self.ecdh_parameters.clone(),
            key_parameters: self.ecdh_key_parameters.clone(),
            more: self.more_capabilities.clone(),
            cred_fmt: self.cred_fmt,
        }
        .to_value()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let e = InfoEntry::from_value(value, "ecdh_info entry")?;
        Ok(Self {
            id: e.id,
            ecdh_alg: e.alg,
            ecdh_parameters: e.parameters,
            ecdh_key_parameters: e.key_parameters,
            more_capabilities: e.more,
            cred_fmt: e.cred_fmt,
        })
    }
}

/// A `kdc_dh_creds_entry` (draft-ietf-ace-key-groupcomm-oscore-21 section
/// 5.3.2): the KDC's Diffie-Hellman credential for a pairwise-only group.
///
/// ```cddl
/// kdc_dh_creds_entry = [id: gname / [+ gname], cred_fmt: int, cred: bstr]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdcDhCredsEntry {
    /// The group name(s) the entry applies to.
    pub id: GroupNames,
    /// The credential format (a COSE Header Parameters label).
    pub cred_fmt: i64,
    /// The credential, exact bytes.
    pub cred: Vec<u8>,
}

impl KdcDhCredsEntry {
    /// Encodes `[+ kdc_dh_creds_entry]`.
    pub fn list_to_value(entries: &[Self]) -> Value {
        Value::Array(entries.iter().map(Codec::to_value).collect())
    }

    /// Decodes `[+ kdc_dh_creds_entry]` (at least one entry).
    pub fn list_from_value(value: Value, context: &'static str) -> Result<Vec<Self>, DecodeError> {
        non_empty_list(value, context)
    }
}

impl Codec for KdcDhCredsEntry {
    fn to_value(&self) -> Value {
        Value::Array(vec![
            self.id.to_value(),
            Value::from(self.cred_fmt),
            Value::Bytes(self.cred.clone()),
        ])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        const CONTEXT: &str = "kdc_dh_creds entry";
        let items = cbor::array(value, CONTEXT)?;
        let [id, cred_fmt, cred] = <[Value; 3]>::try_from(items).map_err(|items| {
            DecodeError::invalid(CONTEXT, format!("expected 3 elements, got {}", items.len()))
        })?;
        Ok(Self {
            id: GroupNames::from_value(id, CONTEXT)?,
            cred_fmt: cbor::int(cred_fmt, CONTEXT)?,
            cred: cbor::bytes(cred, CONTEXT)?,
        })
    }
}

fn non_empty_list<T: Codec>(value: Value, context: &'static str) -> Result<Vec<T>, DecodeError> {
    let items = cbor::array(value, context)?;
    if items.is_empty() {
        return Err(DecodeError::invalid(context, "expected at least one entry"));
    }
    items.into_iter().map(T::from_value).collect()
}

/// Reads a parameter that a token transfer request may only carry as
/// `null` (a request for the information).
fn null_flag(map: &mut MapReader, label: i64, name: &'static str) -> Result<bool, DecodeError> {
    match map.take(label) {
        None => Ok(false),
        Some(Value::Null) => Ok(true),
        Some(other) => Err(DecodeError::UnexpectedItem {
            context: name,
            want: "null in a token transfer request",
            got: cbor::type_name(&other),
        }),
    }
}

// ---------------------------------------------------------------------------
// Token transfer request and response
// ---------------------------------------------------------------------------

/// The token transfer request: the `application/ace+cbor` payload of `POST
/// /authz-info` (RFC 9203 section 4.1, RFC 9594 section 3.3).
///
/// ```cddl
/// {
///   1 => bstr,         ; access_token (REQUIRED)
///   ? 40 => bstr,      ; nonce1 (RFC 9203)
///   ? 43 => bstr,      ; ace_client_recipientid (RFC 9203)
///   ? 45 => null,      ; sign_info (RFC 9594)
///   ? 47 => null,      ; ecdh_info (Group OSCORE profile, suggested)
///   ? 48 => null,      ; kdc_dh_creds (Group OSCORE profile, suggested)
///   * int / tstr => any
/// }
/// ```
///
/// Written in the key order above (RFC 9203 section 4.1 example order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenTransferRequest {
    /// `access_token` (1): the token, opaque to the client.
    pub access_token: Vec<u8>,
    /// `nonce1` (40): the client's nonce N1 (RFC 9203 section 4.1; 64 random
    /// bits RECOMMENDED).
    pub nonce1: Option<Vec<u8>>,
    /// `ace_client_recipientid` (43): the client's own OSCORE Recipient ID
    /// ID1 (the RS's Sender ID).
    pub ace_client_recipientid: Option<Vec<u8>>,
    /// `sign_info: null` (45): asks for the groups' signature parameters.
    pub sign_info: bool,
    /// `ecdh_info: null` (47, suggested): asks for the groups' key agreement
    /// parameters.
    pub ecdh_info: bool,
    /// `kdc_dh_creds: null` (48, suggested): asks for the KDC's
    /// Diffie-Hellman credentials.
    pub kdc_dh_creds: bool,
    /// Other parameters, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl TokenTransferRequest {
    /// `nonce1` and `ace_client_recipientid`, which the OSCORE profile
    /// requires in the initial token POST (RFC 9203 section 4.1; a request
    /// without them is answered 4.00).
    pub fn oscore_inputs(&self) -> Result<(&[u8], &[u8]), DecodeError> {
        const CONTEXT: &str = "token transfer request";
        let nonce1 = self
            .nonce1
            .as_deref()
            .ok_or(DecodeError::missing(CONTEXT, "nonce1"))?;
        let id1 = self
            .ace_client_recipientid
            .as_deref()
            .ok_or(DecodeError::missing(CONTEXT, "ace_client_recipientid"))?;
        Ok((nonce1, id1))
    }
}

impl Codec for TokenTransferRequest {
    fn to_value(&self) -> Value {
        let mut map = MapBuilder::new()
            .bytes(key::ACCESS_TOKEN, &self.access_token)
            .opt_bytes(key::NONCE1, self.nonce1.as_deref())
            .opt_bytes(
                key::ACE_CLIENT_RECIPIENTID,
                self.ace_client_recipientid.as_deref(),
            )
            .opt(key::SIGN_INFO, self.sign_info.then_some(Value::Null))
            .opt(key::ECDH_INFO, self.ecdh_info.then_some(Value::Null))
            .opt(key::KDC_DH_CREDS, self.kdc_dh_creds.then_some(Value::Null));
        for (k, v) in &self.rest {
            map = map.raw(k.to_value(), v.clone());
        }
        map.build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, "token transfer request")?;
        let request = Self {
            access_token: map.req_bytes(key::ACCESS_TOKEN, "access_token")?,
            nonce1: map.opt_bytes(key::NONCE1, "nonce1")?,
            ace_client_recipientid: map
                .opt_bytes(key::ACE_CLIENT_RECIPIENTID, "ace_client_recipientid")?,
            sign_info: null_flag(&mut map, key::SIGN_INFO, "sign_info")?,
            ecdh_info: null_flag(&mut map, key::ECDH_INFO, "ecdh_info")?,
            kdc_dh_creds: null_flag(&mut map, key::KDC_DH_CREDS, "kdc_dh_creds")?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..request
        })
    }
}

/// The token transfer response: the `application/ace+cbor` payload of the
/// 2.01 (Created) answer to `POST /authz-info` (RFC 9203 section 4.2, RFC
/// 9594 section 3.3).
///
/// ```cddl
/// {
///   ? 42 => bstr,                  ; nonce2 (RFC 9203)
///   ? 44 => bstr,                  ; ace_server_recipientid (RFC 9203)
///   ? 46 => bstr,                  ; kdcchallenge (RFC 9594)
///   ? 45 => [+ sign_info_entry],   ; sign_info (RFC 9594)
///   ? 47 => [+ ecdh_info_entry],   ; ecdh_info (suggested)
///   ? 48 => [+ kdc_dh_creds_entry],; kdc_dh_creds (suggested)
///   * int / tstr => any
/// }
/// ```
///
/// Written in the key order above.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TokenTransferResponse {
    /// `nonce2` (42): the RS's nonce N2.
    pub nonce2: Option<Vec<u8>>,
    /// `ace_server_recipientid` (44): the RS's own OSCORE Recipient ID ID2
    /// (the client's Sender ID).
    pub ace_server_recipientid: Option<Vec<u8>>,
    /// `kdcchallenge` (46): the challenge N_S the client signs when joining.
    pub kdcchallenge: Option<Vec<u8>>,
    /// `sign_info` (45): one entry per group the token covers that uses
    /// signatures.
    pub sign_info: Option<Vec<SignInfoEntry>>,
    /// `ecdh_info` (47, suggested).
    pub ecdh_info: Option<Vec<EcdhInfoEntry>>,
    /// `kdc_dh_creds` (48, suggested).
    pub kdc_dh_creds: Option<Vec<KdcDhCredsEntry>>,
    /// Other parameters, in wire order.
    pub rest: Vec<(IntOrText, Value)>,
}

impl TokenTransferResponse {
    /// `nonce2` and `ace_server_recipientid`, checked against the client's
    /// `id1`: the client MUST abort when ID2 equals ID1 (RFC 9203 section
    /// 4.2).
    pub fn oscore_inputs(&self, id1: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
        const CONTEXT: &str = "token transfer response";
        let nonce2 = self
            .nonce2
            .as_deref()
            .ok_or(DecodeError::missing(CONTEXT, "nonce2"))?;
        let id2 = self
            .ace_server_recipientid
            .as_deref()
            .ok_or(DecodeError::missing(CONTEXT, "ace_server_recipientid"))?;
        if id2 == id1 {
            return Err(DecodeError::invalid(
                CONTEXT,
                "ace_server_recipientid equals ace_client_recipientid",
            ));
        }
        Ok((nonce2, id2))
    }

    /// The `sign_info` entry for group `name`.
    pub fn sign_info_for(&self, name: &str) -> Option<&SignInfoEntry> {
        self.sign_info
            .as_ref()?
            .iter()
            .find(|e| e.id.contains(name))
    }
}

impl Codec for TokenTransferResponse {
    fn to_value(&self) -> Value {
        let mut map = MapBuilder::new()
            .opt_bytes(key::NONCE2, self.nonce2.as_deref())
            .opt_bytes(
                key::ACE_SERVER_RECIPIENTID,
                self.ace_server_recipientid.as_deref(),
            )
            .opt_bytes(key::KDCCHALLENGE, self.kdcchallenge.as_deref())
            .opt(
                key::SIGN_INFO,
                self.sign_info.as_deref().map(SignInfoEntry::list_to_value),
            )
            .opt(
                key::ECDH_INFO,
                self.ecdh_info.as_deref().map(EcdhInfoEntry::list_to_value),
            )
            .opt(
                key::KDC_DH_CREDS,
                self.kdc_dh_creds
                    .as_deref()
                    .map(KdcDhCredsEntry::list_to_value),
            );
        for (k, v) in &self.rest {
            map = map.raw(k.to_value(), v.clone());
        }
        map.build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, "token transfer response")?;
        let response = Self {
            nonce2: map.opt_bytes(key::NONCE2, "nonce2")?,
            ace_server_recipientid: map
                .opt_bytes(key::ACE_SERVER_RECIPIENTID, "ace_server_recipientid")?,
            kdcchallenge: map.opt_bytes(key::KDCCHALLENGE, "kdcchallenge")?,
            sign_info: map
                .take(key::SIGN_INFO)
                .map(|v| SignInfoEntry::list_from_value(v, "sign_info"))
                .transpose()?,
            ecdh_info: map
                .take(key::ECDH_INFO)
                .map(|v| EcdhInfoEntry::list_from_value(v, "ecdh_info"))
                .transpose()?,
            kdc_dh_creds: map
                .take(key::KDC_DH_CREDS)
                .map(|v| KdcDhCredsEntry::list_from_value(v, "kdc_dh_creds"))
                .transpose()?,
            rest: Vec::new(),
        };
        Ok(Self {
            rest: map.into_rest(),
            ..response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_info_null_request_of_rfc9594() {
        // {1: h'', 45: null}: the RFC 9594 digest's `{45: null}` = a1182df6
        // with the token added.
        let request = TokenTransferRequest {
            access_token: vec![],
            sign_info: true,
            ..Default::default()
        };
        assert_eq!(hex::encode(request.encode()), "a20140182df6");
        assert_eq!(
            TokenTransferRequest::decode(&request.encode()).unwrap(),
            request
        );
        // sign_info must be null in a request.
        assert!(TokenTransferRequest::decode(&hex::decode("a20140182d80").unwrap()).is_err());
        // access_token is required.
        assert!(TokenTransferRequest::decode(&hex::decode("a1182df6").unwrap()).is_err());
    }

    #[test]
    fn group_oscore_sign_info_entry() {
        // ["g1", -8, [1], [1, 6], 14]: EdDSA with Ed25519, CCS credentials.
        let entry = SignInfoEntry {
            id: "g1".into(),
            sign_alg: IntOrText::Int(-8),
            sign_parameters: vec![Value::from(1)],
            sign_key_parameters: vec![Value::from(1), Value::from(6)],
            more_capabilities: vec![],
            cred_fmt: Some(14),
        };
        assert_eq!(hex::encode(entry.encode()), "856267312781018201060e");
        assert_eq!(SignInfoEntry::decode(&entry.encode()).unwrap(), entry);
        // Too short, and an empty list, are refused.
        // ["g1", -8, [1], 14]: no sign_key_parameters.
        assert!(SignInfoEntry::decode(&hex::decode("846267312781010e").unwrap()).is_err());
        assert!(SignInfoEntry::list_from_value(Value::Array(vec![]), "t").is_err());
    }

    #[test]
    fn equal_recipient_ids_are_refused() {
        let response = TokenTransferResponse {
            nonce2: Some(vec![1; 8]),
            ace_server_recipientid: Some(vec![0x16, 0x45]),
            ..Default::default()
        };
        assert!(response.oscore_inputs(&[0x16, 0x45]).is_err());
        assert!(response.oscore_inputs(&[0x00]).is_ok());
    }
}
