//! CWT claims sets (RFC 8392) with the ACE claims (RFC 9200), sealed and opened
//! as COSE_Sign1, COSE_Mac0 or COSE_Encrypt0.
