//! CoAP Content-Format numbers used by ACE and RFC 9594.
//!
//! The AIF formats live in [`super::aif`] and are re-exported here.

pub use super::aif::{
    AIF_CBOR, AIF_JSON, AIF_OSCORE_GROUPCOMM_CBOR, AIF_OSCORE_GROUPCOMM_JSON, AIF_PUBSUB_CBOR,
    AIF_PUBSUB_JSON,
};

/// `application/cose; cose-type="cose-encrypt0"`, RFC 9052 section 9.
pub const COSE_ENCRYPT0: u16 = 16;
/// `application/cose; cose-type="cose-mac0"`, RFC 9052 section 9.
pub const COSE_MAC0: u16 = 17;
/// `application/cose; cose-type="cose-sign1"`, RFC 9052 section 9.
pub const COSE_SIGN1: u16 = 18;
/// `application/ace+cbor`, RFC 9200 section 8.16.
pub const ACE_CBOR: u16 = 19;
/// `application/link-format`, RFC 6690 section 7.2.
pub const LINK_FORMAT: u16 = 40;
/// `application/octet-stream`, RFC 7252 section 12.3.
pub const OCTET_STREAM: u16 = 42;
/// `application/cbor`, RFC 7049 section 7.4 (the `/num` example of RFC 9594
/// section 4.7.1.1).
pub const CBOR: u16 = 60;
/// `application/cwt`, RFC 8392 section 9.3.
pub const CWT: u16 = 61;
/// `application/concise-problem-details+cbor`, RFC 9290 section 6.3.
pub const CONCISE_PROBLEM_DETAILS_CBOR: u16 = 257;
/// `application/ace-groupcomm+cbor`, RFC 9594 section 11.2.
pub const ACE_GROUPCOMM_CBOR: u16 = 261;
/// `application/oscore`, RFC 8613 section 13.5.
pub const OSCORE: u16 = 10001;

/// The CBOR tag that stands for Content-Format `ct` (RFC 9277 section 4.3):
/// `TN(ct) = 1668546817 + (ct / 255) * 256 + ct % 255`. RFC 9594 section 7
/// wraps an "extended" scope in `TN` of the scope's Content-Format.
pub const fn content_format_tag(ct: u16) -> u64 {
    let ct = ct as u64;
    0x6374_0101 + (ct / 255) * 256 + ct % 255
}
