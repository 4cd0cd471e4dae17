//! Token transfer to `/authz-info` (RFC 9200 section 5.10.1, RFC 9203 section 4,
//! RFC 9594 section 3.3): nonces, recipient ids, `sign_info`, `kdcchallenge`.
