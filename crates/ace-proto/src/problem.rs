//! Concise problem details (RFC 9290) with the `ace-groupcomm-error` entry of
//! RFC 9594 section 4.1.2.
