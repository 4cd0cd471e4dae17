//! Authentication credentials: CWT Claims Sets (CCS) with a COSE_Key in `cnf`,
//! and bare COSE_Keys (RFC 9052 section 7), kept with their exact bytes.
