//! CWT claim keys (RFC 8392, RFC 9200, RFC 9203) and `cnf` methods (RFC 8747).

/// `iss` (tstr), RFC 8392 section 3.1.1.
pub const ISS: i64 = 1;
/// `sub` (tstr), RFC 8392 section 3.1.2.
pub const SUB: i64 = 2;
/// `aud` (tstr, or an array of them), RFC 8392 section 3.1.3.
pub const AUD: i64 = 3;
/// `exp` (NumericDate), RFC 8392 section 3.1.4.
pub const EXP: i64 = 4;
/// `nbf` (NumericDate), RFC 8392 section 3.1.5.
pub const NBF: i64 = 5;
/// `iat` (NumericDate), RFC 8392 section 3.1.6.
pub const IAT: i64 = 6;
/// `cti` (bstr), RFC 8392 section 3.1.7.
pub const CTI: i64 = 7;
/// `cnf` (map), RFC 8747 section 3.1.
pub const CNF: i64 = 8;
/// `scope` (tstr / bstr), RFC 9200 section 5.8.1 and section 8.14 (from RFC
/// 8693 section 4.2).
pub const SCOPE: i64 = 9;
/// `ace_profile` (int), RFC 9200 section 5.10.1 and section 8.14.
pub const ACE_PROFILE: i64 = 38;
/// `cnonce` (bstr), RFC 9200 section 5.10.1 and section 8.14.
pub const CNONCE: i64 = 39;
/// `exi` (uint, seconds), RFC 9200 section 5.10.3 and section 8.14.
pub const EXI: i64 = 40;

/// The CWT CBOR tag, RFC 8392 section 6: `61(COSE_..._Tagged)`.
pub const CWT_TAG: u64 = 61;

/// Confirmation methods: the keys of the `cnf` map (RFC 8747 section 3.1,
/// section 7.2; RFC 9203 section 3.2.1).
pub mod cnf {
    /// `COSE_Key` (map), RFC 8747 section 3.2.
    pub const COSE_KEY: i64 = 1;
    /// `Encrypted_COSE_Key` (COSE_Encrypt or COSE_Encrypt0), RFC 8747 section
    /// 3.3.
    pub const ENCRYPTED_COSE_KEY: i64 = 2;
    /// `kid` (bstr), RFC 8747 section 3.4.
    pub const KID: i64 = 3;
    /// `osc` (OSCORE_Input_Material), RFC 9203 section 3.2.1, section 9.4.
    pub const OSC: i64 = 4;
}
