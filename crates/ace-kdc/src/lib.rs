//! The Key Distribution Center of RFC 9594 with the Group OSCORE application
//! profile (draft-ietf-ace-key-groupcomm-oscore).
