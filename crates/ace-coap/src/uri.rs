//! `coap://` URIs (RFC 7252 section 6): parsing, and turning one into a
//! destination plus Uri-Host, Uri-Path and Uri-Query (section 6.4).

use std::net::IpAddr;
use thiserror::Error;

/// The default CoAP port (RFC 7252 section 6.1).
pub const DEFAULT_PORT: u16 = 5683;

/// The host of a URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IP literal.
    Ip(IpAddr),
    /// A registered name, to be resolved.
    Name(String),
}

/// A parsed `coap://` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoapUri {
    /// The host.
    pub host: Host,
    /// The port (5683 if absent).
    pub port: u16,
    /// Percent-decoded path segments.
    pub path: Vec<String>,
    /// Percent-decoded query arguments.
    pub query: Vec<String>,
}

/// Why a URI was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum UriError {
    /// Not `coap://` (`coaps` needs DTLS, which this endpoint does not do).
    #[error("unsupported scheme in {0:?}; only coap:// is supported")]
    Scheme(String),
    /// A fragment, which CoAP URIs must not have (section 6.4 step 4).
    #[error("a CoAP URI has no fragment")]
    Fragment,
    /// Missing or malformed host or port.
    #[error("malformed authority in {0:?}")]
    Authority(String),
    /// Bad percent-encoding or not UTF-8 after decoding.
    #[error("malformed percent-encoding")]
    Encoding,
}

fn percent_decode(s: &str) -> Result<String, UriError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or(UriError::Encoding)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| UriError::Encoding)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UriError::Encoding)
}

/// Parses a `coap://host[:port][/path][?query]` URI.
pub fn parse(uri: &str) -> Result<CoapUri, UriError> {
    let rest = match uri.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("coap") => rest,
        _ => return Err(UriError::Scheme(uri.to_owned())),
    };
    if rest.contains('#') {
        return Err(UriError::Fragment);
    }
    let (authority, path_query) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let bad = || UriError::Authority(authority.to_owned());
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (ip, after) = v6.split_once(']').ok_or_else(bad)?;
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(bad()),
        };
        (Host::Ip(ip), port)
    } else {
        let (h, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, DEFAULT_PORT),
        };
        if h.is_empty() {
            return Err(bad());
        }
        let host = match h.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Name(percent_decode(h)?.to_ascii_lowercase()),
        };
        (host, port)
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/')
            .map(percent_decode)
            .collect::<Result<_, _>>()?
    };
    let query = match query {
        Some(q) => q
            .split('&')
            .filter(|a| !a.is_empty())
            .map(percent_decode)
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(CoapUri {
        host,
        port,
        path,
        query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_paths_and_queries() {
        let u = parse("coap://127.0.0.1:5684/ace-group/g1?x=1&y").unwrap();
        assert_eq!(u.host, Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(u.port, 5684);
        assert_eq!(u.path, vec!["ace-group", "g1"]);
        assert_eq!(u.query, vec!["x=1", "y"]);
        let u = parse("coap://[::1]/.well-known/core").unwrap();
        assert_eq!((u.host, u.port), (Host::Ip("::1".parse().unwrap()), 5683));
        let u = parse("COAP://Example.COM/a%20b").unwrap();
        assert_eq!(u.host, Host::Name("example.com".into()));
        assert_eq!(u.path, vec!["a b"]);
        assert!(parse("coap://h").unwrap().path.is_empty());
    }

    #[test]
    fn refuses_what_rfc7252_section_6_4_refuses() {
        assert!(matches!(parse("coaps://h/"), Err(UriError::Scheme(_))));
        assert!(matches!(parse("http://h/"), Err(UriError::Scheme(_))));
        assert_eq!(parse("coap://h/a#f"), Err(UriError::Fragment));
        assert!(matches!(
            parse("coap://:5683/"),
            Err(UriError::Authority(_))
        ));
        assert!(matches!(parse("coap://[::1/"), Err(UriError::Authority(_))));
        assert_eq!(parse("coap://h/%zz"), Err(UriError::Encoding));
    }
}
