//! The group client of RFC 9594: AS Request Creation Hints, access token,
//! token transfer, join, keying material and Group OSCORE communication.
