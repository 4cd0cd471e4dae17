//! OAuth parameter CBOR mappings (RFC 9200 section 8.10, RFC 9203, RFC 9594),
//! ACE error codes, grant types and ACE profiles.
//!
//! These are the map keys of `application/ace+cbor` (RFC 9200 section 8.16):
//! the `/token` request and response, and the token transfer to
//! `/authz-info`. Inside `application/ace-groupcomm+cbor` the same names have
//! other numbers (see [`super::groupcomm`]).

/// `access_token` (bstr), RFC 9200 section 5.8.2, section 8.10.
pub const ACCESS_TOKEN: i64 = 1;
/// `expires_in` (uint, seconds), RFC 9200 section 5.8.2, section 8.10.
pub const EXPIRES_IN: i64 = 2;
/// `req_cnf` (map), RFC 9201 section 5 (registered in RFC 9201 section 9.2).
pub const REQ_CNF: i64 = 4;
/// `audience` (tstr), RFC 9200 section 5.8.1 (from RFC 8693), section 8.10.
pub const AUDIENCE: i64 = 5;
/// `cnf` (map), RFC 9201 section 5 (registered in RFC 9201 section 9.2).
pub const CNF: i64 = 8;
/// `scope` (tstr / bstr), RFC 9200 section 5.8.1, section 8.10.
pub const SCOPE: i64 = 9;
/// `client_id` (tstr), RFC 9200 section 8.10.
pub const CLIENT_ID: i64 = 24;
/// `client_secret` (bstr), RFC 9200 section 8.10.
pub const CLIENT_SECRET: i64 = 25;
/// `response_type` (tstr), RFC 9200 section 8.10.
pub const RESPONSE_TYPE: i64 = 26;
/// `redirect_uri` (tstr), RFC 9200 section 8.10.
pub const REDIRECT_URI: i64 = 27;
/// `state` (tstr), RFC 9200 section 8.10.
pub const STATE: i64 = 28;
/// `code` (bstr), RFC 9200 section 8.10.
pub const CODE: i64 = 29;
/// `error` (int, see [`error_code`]), RFC 9200 section 5.8.3, section 8.10.
pub const ERROR: i64 = 30;
/// `error_description` (tstr), RFC 9200 section 5.8.3, section 8.10.
pub const ERROR_DESCRIPTION: i64 = 31;
/// `error_uri` (tstr), RFC 9200 section 5.8.3, section 8.10.
pub const ERROR_URI: i64 = 32;
/// `grant_type` (uint, see [`grant_type`]), RFC 9200 section 5.8.1, section 8.10.
pub const GRANT_TYPE: i64 = 33;
/// `token_type` (int, see [`token_type`]), RFC 9200 section 5.8.4.2, section 8.10.
pub const TOKEN_TYPE: i64 = 34;
/// `username` (tstr), RFC 9200 section 8.10.
pub const USERNAME: i64 = 35;
/// `password` (tstr), RFC 9200 section 8.10.
pub const PASSWORD: i64 = 36;
/// `refresh_token` (bstr), RFC 9200 section 8.10.
pub const REFRESH_TOKEN: i64 = 37;
/// `ace_profile` (int in responses; `null` in a request asks for it), RFC 9200
/// section 5.8.4.3, section 8.10.
pub const ACE_PROFILE: i64 = 38;
/// `cnonce` (bstr), RFC 9200 section 5.8.4.4, section 8.10.
pub const CNONCE: i64 = 39;
/// `rs_cnf` (map), RFC 9201 section 5 (registered in RFC 9201 section 9.2).
pub const RS_CNF: i64 = 41;

/// `nonce1` (bstr), RFC 9203 section 4.1, section 9.2.
pub const NONCE1: i64 = 40;
/// `nonce2` (bstr), RFC 9203 section 4.2, section 9.2.
pub const NONCE2: i64 = 42;
/// `ace_client_recipientid` (bstr), RFC 9203 section 4.1, section 9.2.
pub const ACE_CLIENT_RECIPIENTID: i64 = 43;
/// `ace_server_recipientid` (bstr), RFC 9203 section 4.2, section 9.2.
pub const ACE_SERVER_RECIPIENTID: i64 = 44;

/// `sign_info` (null in the token transfer request, array in the response),
/// RFC 9594 section 3.3.1, section 11.4.
pub const SIGN_INFO: i64 = 45;
/// `kdcchallenge` (bstr), RFC 9594 section 3.3, section 11.4.
pub const KDCCHALLENGE: i64 = 46;

/// `ecdh_info` (null in the request, array in the response),
/// draft-ietf-ace-key-groupcomm-oscore-21 section 5.3.1; **suggested** by the
/// draft, not yet assigned.
pub const ECDH_INFO: i64 = 47;
/// `kdc_dh_creds` (null in the request, array in the response),
/// draft-ietf-ace-key-groupcomm-oscore-21 section 5.3.2; **suggested** by the
/// draft, not yet assigned.
pub const KDC_DH_CREDS: i64 = 48;

/// OAuth Error Code CBOR Mappings (RFC 9200 section 5.8.3, Table 3; section
/// 8.5), the values of [`ERROR`].
pub mod error_code {
    /// `invalid_request` (RFC 6749 section 5.2).
    pub const INVALID_REQUEST: i64 = 1;
    /// `invalid_client` (RFC 6749 section 5.2); may be sent with 4.01.
    pub const INVALID_CLIENT: i64 = 2;
    /// `invalid_grant` (RFC 6749 section 5.2).
    pub const INVALID_GRANT: i64 = 3;
    /// `unauthorized_client` (RFC 6749 section 5.2).
    pub const UNAUTHORIZED_CLIENT: i64 = 4;
    /// `unsupported_grant_type` (RFC 6749 section 5.2).
    pub const UNSUPPORTED_GRANT_TYPE: i64 = 5;
    /// `invalid_scope` (RFC 6749 section 5.2).
    pub const INVALID_SCOPE: i64 = 6;
    /// `unsupported_pop_key` (RFC 9200 section 5.8.3).
    pub const UNSUPPORTED_POP_KEY: i64 = 7;
    /// `incompatible_ace_profiles` (RFC 9200 section 5.8.3).
    pub const INCOMPATIBLE_ACE_PROFILES: i64 = 8;
}

/// OAuth Grant Type CBOR Mappings (RFC 9200 section 8.6, Table 4), the values
/// of [`GRANT_TYPE`].
pub mod grant_type {
    /// `password`.
    pub const PASSWORD: u64 = 0;
    /// `authorization_code`.
    pub const AUTHORIZATION_CODE: u64 = 1;
    /// `client_credentials`; implied when `grant_type` is absent (RFC 9200
    /// section 5.8.1).
    pub const CLIENT_CREDENTIALS: u64 = 2;
    /// `refresh_token`.
    pub const REFRESH_TOKEN: u64 = 3;
}

/// OAuth Access Token Type CBOR Mappings (RFC 9200 section 8.7), the values of
/// [`TOKEN_TYPE`].
pub mod token_type {
    /// `Bearer` (RFC 6750).
    pub const BEARER: i64 = 1;
    /// `PoP`: the default when `token_type` is absent (RFC 9200 section
    /// 5.8.4.2).
    pub const POP: i64 = 2;
}

/// ACE Profiles registry (RFC 9200 section 8.8), the values of
/// [`ACE_PROFILE`].
pub mod ace_profile {
    /// `coap_dtls`, RFC 9202 section 11.2.
    pub const COAP_DTLS: i64 = 1;
    /// `coap_oscore`, RFC 9203 section 9.1.
    pub const COAP_OSCORE: i64 = 2;
    /// `mqtt_tls`, RFC 9431 section 10.3. Inferred from the registration
    /// order, not checked against the IANA registry.
    pub const MQTT_TLS: i64 = 3;
    /// `coap_edhoc_oscore`, draft-ietf-ace-edhoc-oscore-profile; **suggested**
    /// by the draft.
    pub const COAP_EDHOC_OSCORE: i64 = 4;
    /// `coap_group_oscore`, draft-ietf-ace-group-oscore-profile; **suggested**
    /// by the draft.
    pub const COAP_GROUP_OSCORE: i64 = 5;
}

/// AS Request Creation Hints (RFC 9200 section 5.3, section 8.1, Table 1): the
/// keys of the 4.01 payload an RS sends to a client without a valid token.
pub mod creation_hints {
    /// `AS` (tstr): absolute URI of the AS.
    pub const AS: i64 = 1;
    /// `kid` (bstr): key identifier of a key the client should use.
    pub const KID: i64 = 2;
    /// `audience` (tstr).
    pub const AUDIENCE: i64 = 5;
    /// `scope` (tstr / bstr).
    pub const SCOPE: i64 = 9;
    /// `cnonce` (bstr): nonce the AS copies into the token (RFC 9200 section
    /// 5.3.1).
    pub const CNONCE: i64 = 39;
}

/// OAuth Token Introspection Request and Response CBOR Mappings (RFC 9200
/// section 5.9, section 8.11 and section 8.12). The claim-like keys match the
/// CWT claim keys on purpose.
pub mod introspection {
    /// `iss` (tstr).
    pub const ISS: i64 = 1;
    /// `sub` (tstr).
    pub const SUB: i64 = 2;
    /// `aud` (tstr).
    pub const AUD: i64 = 3;
    /// `exp` (NumericDate).
    pub const EXP: i64 = 4;
    /// `nbf` (NumericDate).
    pub const NBF: i64 = 5;
    /// `iat` (NumericDate).
    pub const IAT: i64 = 6;
    /// `cti` (bstr).
    pub const CTI: i64 = 7;
    /// `cnf` (map), RFC 9201.
    pub const CNF: i64 = 8;
    /// `scope` (tstr / bstr).
    pub const SCOPE: i64 = 9;
    /// `active` (bool), REQUIRED in the response.
    pub const ACTIVE: i64 = 10;
    /// `token` (bstr), REQUIRED in the request.
    pub const TOKEN: i64 = 11;
    /// `client_id` (tstr).
    pub const CLIENT_ID: i64 = 24;
    /// `error` (int).
    pub const ERROR: i64 = 30;
    /// `error_description` (tstr).
    pub const ERROR_DESCRIPTION: i64 = 31;
    /// `error_uri` (tstr).
    pub const ERROR_URI: i64 = 32;
    /// `token_type_hint` (tstr), in the request.
    pub const TOKEN_TYPE_HINT: i64 = 33;
    /// `token_type` (int).
    pub const TOKEN_TYPE: i64 = 34;
    /// `username` (tstr).
    pub const USERNAME: i64 = 35;
    /// `ace_profile` (int).
    pub const ACE_PROFILE: i64 = 38;
    /// `cnonce` (bstr).
    pub const CNONCE: i64 = 39;
    /// `exi` (uint), RFC 9200 section 5.10.3.
    pub const EXI: i64 = 40;
}
