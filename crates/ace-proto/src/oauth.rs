//! ACE-OAuth messages of RFC 9200: the token endpoint, AS Request Creation
//! Hints and introspection.
