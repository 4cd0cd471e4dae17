//! OSCORE (RFC 8613), Group OSCORE (RFC 10021) and the ACE OSCORE profile
//! (RFC 9203) context derivation. Pure: no sockets, no clock.
