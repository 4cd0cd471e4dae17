//! OSCORE_Input_Material labels (RFC 9203 section 3.2.1).
