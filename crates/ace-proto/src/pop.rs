//! Proof-of-possession evidence of RFC 9594 section 4.3.1 and the Group OSCORE
//! profile section 6.1: PoP inputs, signatures, and the HKDF MAC of
//! pairwise-only groups.
