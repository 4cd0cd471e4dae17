//! ACE Groupcomm registries (RFC 9594 section 11) and the Group OSCORE
//! profile additions (draft-ietf-ace-key-groupcomm-oscore-21).
