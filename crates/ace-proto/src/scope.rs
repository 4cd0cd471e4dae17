//! Scopes: RFC 9594 textual scope entries, AIF scopes (RFC 9237) for Group OSCORE
//! and pub-sub topics, and space-separated text scopes; coverage and
//! intersection with policies.
