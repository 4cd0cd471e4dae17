//! CoAP Content-Format numbers used by ACE and RFC 9594.
