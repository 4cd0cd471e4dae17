//! COSE numbers (RFC 9052, RFC 9053): algorithms, key types, curves, key and
//! header parameters.

/// CBOR tags of the COSE messages (RFC 9052 section 2, Table 1).
pub mod tag {
    /// `COSE_Encrypt0_Tagged`.
    pub const ENCRYPT0: u64 = 16;
    /// `COSE_Mac0_Tagged`.
    pub const MAC0: u64 = 17;
    /// `COSE_Sign1_Tagged`.
    pub const SIGN1: u64 = 18;
    /// `COSE_Encrypt_Tagged`.
    pub const ENCRYPT: u64 = 96;
    /// `COSE_Mac_Tagged`.
    pub const MAC: u64 = 97;
    /// `COSE_Sign_Tagged`.
    pub const SIGN: u64 = 98;
}

/// COSE Header Parameters (RFC 9052 section 3.1, Table 2; RFC 9528 section
/// 10.6; RFC 9360 section 2). The labels of header maps, and the values of
/// `cred_fmt` in RFC 9594 (section 3.3.1: "a label from the COSE Header
/// Parameters registry").
pub mod header {
    /// `alg`.
    pub const ALG: i64 = 1;
    /// `crit`.
    pub const CRIT: i64 = 2;
    /// `content type`.
    pub const CONTENT_TYPE: i64 = 3;
    /// `kid`.
    pub const KID: i64 = 4;
    /// `IV`.
    pub const IV: i64 = 5;
    /// `Partial IV`.
    pub const PARTIAL_IV: i64 = 6;
    /// `kcwt`: a CWT carrying a COSE_Key in `cnf`, RFC 9528 section 10.6.
    pub const KCWT: i64 = 13;
    /// `kccs`: a CWT Claims Set (CCS) carrying a COSE_Key in `cnf`, RFC 9528
    /// section 10.6. The default credential format of the Group OSCORE
    /// profile.
    pub const KCCS: i64 = 14;
    /// `x5bag`, RFC 9360 section 2.
    pub const X5BAG: i64 = 32;
    /// `x5chain`, RFC 9360 section 2.
    pub const X5CHAIN: i64 = 33;
    /// `x5t`, RFC 9360 section 2.
    pub const X5T: i64 = 34;
    /// `x5u`, RFC 9360 section 2.
    pub const X5U: i64 = 35;
}

/// COSE Key common parameters (RFC 9052 section 7.1, Table 4) and key type
/// parameters (RFC 9053 section 7.1 and 7.2, RFC 9053 section 6.1).
pub mod key {
    /// `kty`.
    pub const KTY: i64 = 1;
    /// `kid`.
    pub const KID: i64 = 2;
    /// `alg`.
    pub const ALG: i64 = 3;
    /// `key_ops`.
    pub const KEY_OPS: i64 = 4;
    /// `Base IV`.
    pub const BASE_IV: i64 = 5;
    /// `crv` (EC2 and OKP).
    pub const CRV: i64 = -1;
    /// `x` (EC2 and OKP).
    pub const X: i64 = -2;
    /// `y` (EC2): bstr, or bool for a compressed point.
    pub const Y: i64 = -3;
    /// `d` (EC2 and OKP): the private key.
    pub const D: i64 = -4;
    /// `k` (Symmetric).
    pub const K: i64 = -1;
}

/// COSE Key Types (RFC 9053 section 7, Table 17).
pub mod kty {
    /// `OKP`: octet key pair (Ed25519, X25519).
    pub const OKP: i64 = 1;
    /// `EC2`: elliptic curve key with x and y coordinates (P-256).
    pub const EC2: i64 = 2;
    /// `Symmetric`.
    pub const SYMMETRIC: i64 = 4;
}

/// COSE Elliptic Curves (RFC 9053 section 7.1, Table 18).
pub mod crv {
    /// `P-256` (EC2).
    pub const P256: i64 = 1;
    /// `P-384` (EC2).
    pub const P384: i64 = 2;
    /// `P-521` (EC2).
    pub const P521: i64 = 3;
    /// `X25519` (OKP, ECDH only).
    pub const X25519: i64 = 4;
    /// `X448` (OKP, ECDH only).
    pub const X448: i64 = 5;
    /// `Ed25519` (OKP, EdDSA only).
    pub const ED25519: i64 = 6;
    /// `Ed448` (OKP, EdDSA only).
    pub const ED448: i64 = 7;
}

/// COSE Algorithms (RFC 9053).
pub mod alg {
    /// `ES256`: ECDSA with SHA-256 (RFC 9053 section 2.1).
    pub const ES256: i64 = crate::keys::ALG_ES256;
    /// `EdDSA` (RFC 9053 section 2.2).
    pub const EDDSA: i64 = crate::keys::ALG_EDDSA;
    /// `direct+HKDF-SHA-256` (RFC 9053 section 6.1.2).
    pub const DIRECT_HKDF_SHA_256: i64 = -10;
    /// `ECDH-ES + HKDF-256` (RFC 9053 section 6.3.1).
    pub const ECDH_ES_HKDF_256: i64 = -25;
    /// `ECDH-ES + HKDF-512` (RFC 9053 section 6.3.1).
    pub const ECDH_ES_HKDF_512: i64 = -26;
    /// `ECDH-SS + HKDF-256` (RFC 9053 section 6.3.1); the Group OSCORE
    /// profile's default Pairwise Key Agreement Algorithm.
    pub const ECDH_SS_HKDF_256: i64 = -27;
    /// `ECDH-SS + HKDF-512` (RFC 9053 section 6.3.1).
    pub const ECDH_SS_HKDF_512: i64 = -28;
    /// `A128GCM` (RFC 9053 section 4.1).
    pub const A128GCM: i64 = 1;
    /// `HMAC 256/64`: HMAC-SHA-256 truncated to 64 bits (RFC 9053 section
    /// 3.1).
    pub const HMAC_256_64: i64 = 4;
    /// `HMAC 256/256` (RFC 9053 section 3.1); also names HKDF SHA-256 in
    /// OSCORE_Input_Material (RFC 9203 section 3.2.1).
    pub const HMAC_256_256: i64 = 5;
    /// `AES-CCM-16-64-128`: 128-bit key, 64-bit tag, 13-byte nonce (RFC 9053
    /// section 4.2); the OSCORE default AEAD.
    pub const AES_CCM_16_64_128: i64 = 10;
    /// `AES-CCM-16-64-256` (RFC 9053 section 4.2).
    pub const AES_CCM_16_64_256: i64 = 11;
    /// `AES-CCM-16-128-128` (RFC 9053 section 4.2).
    pub const AES_CCM_16_128_128: i64 = 30;
}
