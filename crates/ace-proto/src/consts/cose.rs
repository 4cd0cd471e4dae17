//! COSE numbers (RFC 9052, RFC 9053): algorithms, key types, curves, key and
//! header parameters.
