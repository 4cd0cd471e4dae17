//! AIF (RFC 9237) data models and permission bits: Group OSCORE roles, pub-sub
//! topic permissions.
