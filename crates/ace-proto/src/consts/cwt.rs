//! CWT claim keys (RFC 8392, RFC 9200, RFC 9203) and `cnf` methods (RFC 8747).
