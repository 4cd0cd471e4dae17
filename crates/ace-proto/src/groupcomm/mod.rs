//! RFC 9594 messages (`application/ace-groupcomm+cbor`) and the Group OSCORE
//! application profile (draft-ietf-ace-key-groupcomm-oscore-21).
