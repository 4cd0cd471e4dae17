//! OSCORE_Input_Material (RFC 9203 section 3.2.1), carried in `cnf` as `osc`.
