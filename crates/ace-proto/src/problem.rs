//! Concise problem details (RFC 9290) with the `ace-groupcomm-error` entry of
//! RFC 9594 section 4.1.2.
//!
//! The KDC's error responses carry Content-Format 257
//! (`application/concise-problem-details+cbor`) and a map that MUST contain
//! the custom entry `ace-groupcomm-error` (key 0), itself a map with exactly
//! one field `error-id` (key 0). `title` (-1) and `detail` (-2) are optional
//! text for humans. Other standard or custom entries are kept as data so that
//! a received body re-encodes unchanged.
//!
//! ```text
//! problem-details = non-empty<{
//!   ? &(title: -1) => oltext
//!   ? &(detail: -2) => oltext
//!   ? &(instance: -3) => ~uri
//!   ? &(response-code: -4) => uint .size 1
//!   ? &(base-uri: -5) => ~uri
//!   ? &(base-lang: -6) => tag38-ltag
//!   ? &(base-rtl: -7) => tag38-direction
//!   standard-problem-detail-entries
//!   custom-problem-detail-entries
//! }>
//! ace-groupcomm-error = { &(error-id: 0) => int }
//! ```

use crate::cbor::{Codec, IntOrText, MapBuilder, MapReader, Value};
use crate::code::Code;
use crate::consts::groupcomm::{ErrorId, problem_details as key};
use crate::error::DecodeError;

const CONTEXT: &str = "problem details";
const ERROR_CONTEXT: &str = "ace-groupcomm-error";

/// A concise problem details body (RFC 9290 section 2) as RFC 9594 section
/// 4.1.2 uses it.
///
/// Encoding order: `title`, `detail`, the other standard entries (negative
/// keys), `ace-groupcomm-error`, then the other custom entries; within each
/// group the order received. This is the order of RFC 9594 Figure 6, and a
/// received body in the usual standard-then-custom order re-encodes to the
/// same bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProblemDetails {
    /// `title` (-1): short human-readable summary.
    pub title: Option<String>,
    /// `detail` (-2): human-readable explanation of this occurrence.
    pub detail: Option<String>,
    /// The `error-id` of the `ace-groupcomm-error` entry (key 0), if present.
    /// Kept as the raw integer so that ids unknown to this crate survive;
    /// see [`ProblemDetails::known_error`].
    pub error_id: Option<i64>,
    /// Any other entries (standard keys -3..-7, other custom keys), in wire
    /// order.
    pub other: Vec<(IntOrText, Value)>,
}

impl ProblemDetails {
    /// The body RFC 9594 prescribes for `id`: `title` set to the registered
    /// description, the given `detail` (if any), and `ace-groupcomm-error`.
    pub fn groupcomm(id: ErrorId, detail: Option<String>) -> Self {
        Self {
            title: Some(id.description().to_string()),
            detail,
            error_id: Some(id.value()),
            other: Vec::new(),
        }
    }

    /// The problem details for a decoder refusal that carries an ACE
    /// Groupcomm error id ([`DecodeError::Groupcomm`]); `None` for errors that
    /// are answered by a bare 4.00.
    pub fn from_decode_error(error: &DecodeError) -> Option<Self> {
        let id = error.error_id()?;
        let detail = match error {
            DecodeError::Groupcomm { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        Some(Self {
            title: ErrorId::from_value(id).map(|e| e.description().to_string()),
            detail,
            error_id: Some(id),
            other: Vec::new(),
        })
    }

    /// The error id, if present and registered.
    pub fn known_error(&self) -> Option<ErrorId> {
        self.error_id.and_then(ErrorId::from_value)
    }

    /// The CoAP response code carried in `response-code` (-4), if any.
    pub fn response_code(&self) -> Option<Code> {
        self.other.iter().find_map(|(k, v)| match (k, v) {
            (IntOrText::Int(key::RESPONSE_CODE), Value::Integer(i)) => {
                u8::try_from(i128::from(*i)).ok().map(Code)
            }
            _ => None,
        })
    }
}

impl Codec for ProblemDetails {
    fn to_value(&self) -> Value {
        let mut map = MapBuilder::new()
            .opt(key::TITLE, self.title.clone())
            .opt(key::DETAIL, self.detail.clone());
        let standard = |k: &IntOrText| matches!(k, IntOrText::Int(i) if *i < 0);
        for (k, v) in self.other.iter().filter(|(k, _)| standard(k)) {
            map = map.raw(k.to_value(), v.clone());
        }
        if let Some(id) = self.error_id {
            map = map.entry(
                key::ACE_GROUPCOMM_ERROR,
                MapBuilder::new().entry(key::ERROR_ID, id).build(),
            );
        }
        for (k, v) in self.other.iter().filter(|(k, _)| !standard(k)) {
            map = map.raw(k.to_value(), v.clone());
        }
        map.build()
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = MapReader::new(value, CONTEXT)?;
        let title = map.opt_text(key::TITLE, "title")?;
        let detail = map.opt_text(key::DETAIL, "detail")?;
        let error_id = match map.take(key::ACE_GROUPCOMM_ERROR) {
            None => None,
            Some(entry) => {
                let mut inner = MapReader::new(entry, ERROR_CONTEXT)?;
                let id = inner.req_int(key::ERROR_ID, "error-id")?;
                // RFC 9594 section 4.1.2: "exactly one field".
                inner.finish_strict()?;
                Some(id)
            }
        };
        let other = map.into_rest();
        if title.is_none() && detail.is_none() && error_id.is_none() && other.is_empty() {
            // RFC 9290 section 2: the map is `non-empty<{...}>`.
            return Err(DecodeError::invalid(CONTEXT, "empty problem details map"));
        }
        Ok(Self {
            title,
            detail,
            error_id,
            other,
        })
    }
}

/// Reads the `error-id` from a CoAP error response with CF 257, tolerating
/// bodies that are not concise problem details (Clients need not support them,
/// RFC 9594 section 4.1.2): `None` when absent or unreadable.
pub fn error_id_of(payload: &[u8]) -> Option<i64> {
    ProblemDetails::decode(payload).ok()?.error_id
}

/// One line for logs: the error id with its description, `title`, `detail`,
/// and other entries in diagnostic notation.
impl std::fmt::Display for ProblemDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = "";
        if let Some(id) = self.error_id {
            match ErrorId::from_value(id) {
                Some(known) => write!(f, "error {known}")?,
                None => write!(f, "error {id}")?,
            }
            sep = ": ";
        }
        if let Some(title) = &self.title {
            write!(f, "{sep}{title}")?;
            sep = ": ";
        }
        if let Some(detail) = &self.detail {
            write!(f, "{sep}{detail}")?;
        }
        for (k, v) in &self.other {
            let k = match k {
                IntOrText::Int(i) => i.to_string(),
                IntOrText::Text(t) => format!("{t:?}"),
            };
            write!(f, " [{k}: {}]", crate::diag::value_to_diag(v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_map_and_wrong_types_are_refused() {
        assert!(ProblemDetails::decode(&[0xa0]).is_err());
        // {-1: 1}
        assert!(matches!(
            ProblemDetails::decode(&[0xa1, 0x20, 0x01]),
            Err(DecodeError::UnexpectedItem { .. })
        ));
        // {0: {0: 3, 1: 1}}: ace-groupcomm-error must have exactly one field.
        assert!(ProblemDetails::decode(&[0xa1, 0x00, 0xa2, 0x00, 0x03, 0x01, 0x01]).is_err());
        // {0: {}}: error-id missing.
        assert!(ProblemDetails::decode(&[0xa1, 0x00, 0xa0]).is_err());
        // {0: {0: "3"}}
        assert!(ProblemDetails::decode(&[0xa1, 0x00, 0xa1, 0x00, 0x61, b'3']).is_err());
    }

    #[test]
    fn groupcomm_body_round_trips() {
        let p = ProblemDetails::groupcomm(ErrorId::InvalidPopEvidence, None);
        let bytes = p.encode();
        let back = ProblemDetails::decode(&bytes).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.known_error(), Some(ErrorId::InvalidPopEvidence));
        assert_eq!(error_id_of(&bytes), Some(3));
        assert_eq!(error_id_of(b"not cbor"), None);
    }

    #[test]
    fn decode_error_with_id_becomes_problem_details() {
        let e = DecodeError::Groupcomm {
            code: Code::BAD_REQUEST,
            error_id: 2,
            reason: "credential uses P-256, group uses Ed25519".into(),
        };
        let p = ProblemDetails::from_decode_error(&e).unwrap();
        assert_eq!(p.error_id, Some(2));
        assert_eq!(
            p.title.as_deref(),
            Some(ErrorId::IncompatibleCredential.description())
        );
        assert!(ProblemDetails::from_decode_error(&DecodeError::TrailingData(1)).is_none());
    }

    #[test]
    fn response_code_entry_is_read() {
        // {-4: 0x80 (4.00), 0: {0: 1}}
        let p = ProblemDetails::decode(&[0xa2, 0x23, 0x18, 0x80, 0x00, 0xa1, 0x00, 0x01]).unwrap();
        assert_eq!(p.response_code(), Some(Code::BAD_REQUEST));
        assert_eq!(p.encode(), [0xa2, 0x23, 0x18, 0x80, 0x00, 0xa1, 0x00, 0x01]);
    }
}
