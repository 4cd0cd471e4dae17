//! OSCORE_Input_Material labels (RFC 9203 section 3.2.1).
//!
//! The Group OSCORE profile extends this map with labels 7-13
//! (Group_OSCORE_Input_Material, see [`super::groupcomm`]).

/// `id` (bstr): identifier of this Input Material (not a derivation input).
pub const ID: i64 = 0;
/// `version` (uint): OSCORE version.
pub const VERSION: i64 = 1;
/// `ms` (bstr): OSCORE Master Secret.
pub const MS: i64 = 2;
/// `hkdf` (tstr / int): OSCORE HKDF, named by its HMAC algorithm.
pub const HKDF: i64 = 3;
/// `alg` (tstr / int): OSCORE AEAD algorithm.
pub const ALG: i64 = 4;
/// `salt` (bstr): input to the OSCORE Master Salt (RFC 9203 section 4.3).
pub const SALT: i64 = 5;
/// `contextId` (bstr): OSCORE ID Context.
pub const CONTEXT_ID: i64 = 6;

/// OSCORE version assumed when `version` is absent (RFC 8613 section 3.2).
pub const DEFAULT_VERSION: u64 = 1;
/// HKDF assumed when `hkdf` is absent: HKDF SHA-256, named by HMAC 256/256
/// (RFC 8613 section 3.2, RFC 9203 section 3.2.1).
pub const DEFAULT_HKDF: i64 = super::cose::alg::HMAC_256_256;
/// AEAD assumed when `alg` is absent: AES-CCM-16-64-128 (RFC 8613 section
/// 3.2).
pub const DEFAULT_ALG: i64 = super::cose::alg::AES_CCM_16_64_128;
