//! OAuth parameter CBOR mappings (RFC 9200 section 8.10, RFC 9203, RFC 9594),
//! ACE error codes, grant types and ACE profiles.
