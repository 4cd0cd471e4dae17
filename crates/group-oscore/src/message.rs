//! Turning a CoAP message into the OSCORE plaintext and outer message, and
//! back (RFC 8613 sections 4 and 5.3).
//!
//! Option classes (RFC 8613 section 4.1, Figure 5): Uri-Host, Uri-Port,
//! Proxy-Scheme and Proxy-Uri are Outer (Class U) only; Observe, Max-Age,
//! Block1, Block2, Size1, Size2 and No-Response may be both; every other
//! option, known or not, is Inner (Class E). On protection:
//!
//! * Class E options go into the plaintext; Max-Age, Block and Size options
//!   of the original message are Inner (the application fragments before
//!   OSCORE; a transport that fragments the protected message adds Outer
//!   Block options afterwards, RFC 8613 section 4.1.3.4); No-Response is
//!   Inner only (section 4.1.3.6).
//! * Observe is Inner and Outer with the original value in requests
//!   (section 4.1.3.5.1); in responses the Outer Observe carries the value
//!   and the Inner one is empty (section 4.1.3.5.2).
//! * A Proxy-Uri is decomposed (section 4.1.3.3, RFC 7252 section 6.4):
//!   Uri-Path and Uri-Query become Inner, the Outer Proxy-Uri keeps the
//!   scheme and authority.
//! * The Outer Code is 0.02 POST (0.05 FETCH with Observe) for requests and
//!   2.04 Changed (2.05 Content with Observe) for responses (section 4.2).
//!
//! On verification, the Outer Code and every Outer option that is not Class
//! U only are discarded (section 8.2 step 1, section 8.4 step 1), the
//! header fields are kept, and the decrypted code, options and payload are
//! added.

use coap_lite::{MessageClass, Packet};
use std::collections::LinkedList;

use crate::option::OSCORE_OPTION;

/// Uri-Host (RFC 7252).
pub const URI_HOST: u16 = 3;
/// Observe (RFC 7641).
pub const OBSERVE: u16 = 6;
/// Uri-Port (RFC 7252).
pub const URI_PORT: u16 = 7;
/// Uri-Path (RFC 7252).
pub const URI_PATH: u16 = 11;
/// Max-Age (RFC 7252).
pub const MAX_AGE: u16 = 14;
/// Uri-Query (RFC 7252).
pub const URI_QUERY: u16 = 15;
/// Proxy-Uri (RFC 7252).
pub const PROXY_URI: u16 = 35;
/// Proxy-Scheme (RFC 7252).
pub const PROXY_SCHEME: u16 = 39;
/// Echo (RFC 9175 section 2.2.1); Class E for OSCORE (section 2.3).
pub const ECHO: u16 = 252;
/// No-Response (RFC 7967).
pub const NO_RESPONSE: u16 = 258;

/// The longest option value the CoAP option encoding can carry (RFC 7252
/// section 3.1: 14-bit extended length plus 269).
const MAX_OPTION_LEN: usize = 65535 + 269;

/// Code 0.02 POST.
pub(crate) const POST: u8 = 0x02;
/// Code 0.05 FETCH.
pub(crate) const FETCH: u8 = 0x05;
/// Code 2.04 Changed.
pub(crate) const CHANGED: u8 = 0x44;
/// Code 2.05 Content.
pub(crate) const CONTENT: u8 = 0x45;

/// Whether option `number` is Class U only (never Inner).
pub fn is_outer_only(number: u16) -> bool {
    matches!(
        number,
        URI_HOST | URI_PORT | OSCORE_OPTION | PROXY_URI | PROXY_SCHEME
    )
}

/// Whether a message is a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A request (code class 0, not Empty).
    Request,
    /// A response (code class 2 to 5).
    Response,
}

/// Why a message cannot be turned into an OSCORE message, or a plaintext
/// back into a CoAP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The original message already carries an OSCORE option (nested OSCORE
    /// is not supported, RFC 8613 section 4.1.3.7).
    #[error("message already carries an OSCORE option")]
    NestedOscore,
    /// The code is not one of the expected kind (e.g. a response code in a
    /// request, or the Empty code).
    #[error("code {0:#04x} does not fit a {1:?}")]
    WrongCode(u8, MessageKind),
    /// A Proxy-Uri that cannot be decomposed (RFC 7252 section 6.4).
    #[error("Proxy-Uri cannot be decomposed: {0}")]
    BadProxyUri(&'static str),
    /// An option value longer than CoAP can encode (65804 bytes).
    #[error("option {0} value too long")]
    OptionTooLong(u16),
    /// The plaintext is not a well-formed code, options and payload.
    #[error("malformed plaintext: {0}")]
    MalformedPlaintext(&'static str),
}

/// The result of splitting a message for protection.
#[derive(Debug, Clone)]
pub(crate) struct Split {
    /// Header, token and Class U options; no payload, no OSCORE option yet.
    pub outer: Packet,
    /// Code, Class E options and payload (RFC 8613 section 5.3).
    pub plaintext: Vec<u8>,
}

fn is_request_code(code: u8) -> bool {
    code >> 5 == 0 && code != 0
}

fn is_response_code(code: u8) -> bool {
    (2..=5).contains(&(code >> 5))
}

fn check_code(code: u8, kind: MessageKind) -> Result<(), MessageError> {
    let ok = match kind {
        MessageKind::Request => is_request_code(code),
        MessageKind::Response => is_response_code(code),
    };
    if ok {
        Ok(())
    } else {
        Err(MessageError::WrongCode(code, kind))
    }
}

/// The option instances of a packet, in option-number order, skipping the
/// empty lists `coap_lite` leaves behind after `clear_option`.
pub(crate) fn options(packet: &Packet) -> impl Iterator<Item = (u16, &Vec<u8>)> {
    packet
        .options()
        .flat_map(|(num, values)| values.iter().map(move |v| (*num, v)))
}

/// The first value of option `number`, if present.
pub(crate) fn first_option(packet: &Packet, number: u16) -> Option<&Vec<u8>> {
    packet
        .get_option(coap_lite::CoapOption::from(number))
        .and_then(LinkedList::front)
}

/// Adds one instance of option `number`.
pub(crate) fn add_option(packet: &mut Packet, number: u16, value: Vec<u8>) {
    packet.add_option(coap_lite::CoapOption::from(number), value);
}

/// Removes every instance of option `number`.
pub(crate) fn remove_option(packet: &mut Packet, number: u16) {
    packet.clear_option(coap_lite::CoapOption::from(number));
}

/// Encodes a uint option value in shortest form (RFC 7252 section 3.2).
pub(crate) fn uint_value(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    bytes[skip..].to_vec()
}

/// Splits `message` into the outer message and the plaintext.
pub(crate) fn split(message: &Packet, kind: MessageKind) -> Result<Split, MessageError> {
    let code = u8::from(message.header.code);
    check_code(code, kind)?;
    if first_option(message, OSCORE_OPTION).is_some() {
        return Err(MessageError::NestedOscore);
    }

    let mut outer = Packet::new();
    outer.header = message.header.clone();
    outer.set_token(message.get_token().to_vec());
    let mut inner: Vec<(u16, &[u8])> = Vec::new();
    let mut decomposed: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut observe = false;

    for (num, value) in options(message) {
        if value.len() > MAX_OPTION_LEN {
            return Err(MessageError::OptionTooLong(num));
        }
        match num {
            OBSERVE => {
                observe = true;
                add_option(&mut outer, num, value.clone());
                match kind {
                    MessageKind::Request => inner.push((num, value)),
                    // RFC 8613 section 4.1.3.5.2: the Inner Observe of a
                    // notification is empty.
                    MessageKind::Response => inner.push((num, &[])),
                }
            }
            PROXY_URI if kind == MessageKind::Request => {
                let text = std::str::from_utf8(value)
                    .map_err(|_| MessageError::BadProxyUri("not UTF-8"))?;
                let uri = decompose_proxy_uri(text)?;
                add_option(&mut outer, PROXY_URI, uri.outer.into_bytes());
                decomposed.extend(uri.path.into_iter().map(|s| (URI_PATH, s)));
                decomposed.extend(uri.query.into_iter().map(|q| (URI_QUERY, q)));
            }
            n if is_outer_only(n) => add_option(&mut outer, n, value.clone()),
            _ => inner.push((num, value)),
        }
    }
    if !decomposed.is_empty() {
        if inner.iter().any(|(n, _)| *n == URI_PATH || *n == URI_QUERY) {
            return Err(MessageError::BadProxyUri(
                "Proxy-Uri together with Uri-Path or Uri-Query",
            ));
        }
        inner.extend(decomposed.iter().map(|(n, v)| (*n, v.as_slice())));
        // Stable sort keeps the order of repeated options.
        inner.sort_by_key(|(n, _)| *n);
    }

    let outer_code = match (kind, observe) {
        (MessageKind::Request, false) => POST,
        (MessageKind::Request, true) => FETCH,
        (MessageKind::Response, false) => CHANGED,
        (MessageKind::Response, true) => CONTENT,
    };
    outer.header.code = MessageClass::from(outer_code);

    let mut plaintext = Vec::with_capacity(1 + message.payload.len() + 8 * inner.len() + 1);
    plaintext.push(code);
    encode_options(&mut plaintext, &inner);
    if !message.payload.is_empty() {
        plaintext.push(0xff);
        plaintext.extend_from_slice(&message.payload);
    }
    Ok(Split { outer, plaintext })
}

/// Appends options in CoAP encoding (RFC 7252 section 3.1); `options` must
/// be sorted by number.
pub(crate) fn encode_options(out: &mut Vec<u8>, options: &[(u16, &[u8])]) {
    let mut last = 0u16;
    for (num, value) in options {
        let delta = num - last;
        last = *num;
        let (d_nibble, d_ext) = ext_field(u32::from(delta));
        let (l_nibble, l_ext) = ext_field(value.len() as u32);
        out.push((d_nibble << 4) | l_nibble);
        out.extend_from_slice(&d_ext[..ext_len(d_nibble)]);
        out.extend_from_slice(&l_ext[..ext_len(l_nibble)]);
        out.extend_from_slice(value);
    }
}

fn ext_field(v: u32) -> (u8, [u8; 2]) {
    match v {
        0..=12 => (v as u8, [0, 0]),
        13..=268 => (13, [(v - 13) as u8, 0]),
        _ => (14, ((v - 269) as u16).to_be_bytes()),
    }
}

fn ext_len(nibble: u8) -> usize {
    match nibble {
        13 => 1,
        14 => 2,
        _ => 0,
    }
}

/// A decoded plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plaintext {
    pub code: u8,
    pub options: Vec<(u16, Vec<u8>)>,
    pub payload: Vec<u8>,
}

/// Decodes a plaintext strictly: reserved nibbles, truncation, option
/// number overflow and a payload marker with no payload are errors.
pub(crate) fn decode_plaintext(bytes: &[u8]) -> Result<Plaintext, MessageError> {
    let (&code, mut rest) = bytes
        .split_first()
        .ok_or(MessageError::MalformedPlaintext("empty"))?;
    let mut options = Vec::new();
    let mut number = 0u16;
    while let Some((&first, tail)) = rest.split_first() {
        if first == 0xff {
            if tail.is_empty() {
                return Err(MessageError::MalformedPlaintext(
                    "payload marker without payload",
                ));
            }
            return Ok(Plaintext {
                code,
                options,
                payload: tail.to_vec(),
            });
        }
        rest = tail;
        let delta = read_ext(first >> 4, &mut rest)?;
        let len = read_ext(first & 0x0f, &mut rest)? as usize;
        number = u16::try_from(u32::from(number) + delta)
            .map_err(|_| MessageError::MalformedPlaintext("option number overflow"))?;
        let (value, tail) = rest
            .split_at_checked(len)
            .ok_or(MessageError::MalformedPlaintext("option value truncated"))?;
        options.push((number, value.to_vec()));
        rest = tail;
    }
    Ok(Plaintext {
        code,
        options,
        payload: Vec::new(),
    })
}

fn read_ext(nibble: u8, rest: &mut &[u8]) -> Result<u32, MessageError> {
    let truncated = MessageError::MalformedPlaintext("option header truncated");
    match nibble {
        0..=12 => Ok(u32::from(nibble)),
        13 => {
            let (&b, tail) = rest.split_first().ok_or(truncated)?;
            *rest = tail;
            Ok(u32::from(b) + 13)
        }
        14 => {
            let (ext, tail) = rest.split_at_checked(2).ok_or(truncated)?;
            *rest = tail;
            Ok(u32::from(u16::from_be_bytes([ext[0], ext[1]])) + 269)
        }
        _ => Err(MessageError::MalformedPlaintext(
            "reserved option nibble 15",
        )),
    }
}

/// Rebuilds the CoAP message from the received outer message and the
/// decrypted plaintext.
pub(crate) fn merge(
    outer: &Packet,
    plaintext: Plaintext,
    kind: MessageKind,
) -> Result<Packet, MessageError> {
    check_code(plaintext.code, kind)?;
    if plaintext.options.iter().any(|(n, _)| *n == OSCORE_OPTION) {
        return Err(MessageError::NestedOscore);
    }
    let mut message = Packet::new();
    message.header = outer.header.clone();
    message.header.code = MessageClass::from(plaintext.code);
    message.set_token(outer.get_token().to_vec());
    for (num, value) in options(outer) {
        if is_outer_only(num) && num != OSCORE_OPTION {
            add_option(&mut message, num, value.clone());
        }
    }
    for (num, value) in plaintext.options {
        add_option(&mut message, num, value);
    }
    message.payload = plaintext.payload;
    Ok(message)
}

/// A Proxy-Uri split per RFC 7252 section 6.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecomposedUri {
    /// `scheme://authority`, the Outer Proxy-Uri.
    pub outer: String,
    /// Percent-decoded Uri-Path segments.
    pub path: Vec<Vec<u8>>,
    /// Percent-decoded Uri-Query arguments.
    pub query: Vec<Vec<u8>>,
}

/// Decomposes an absolute URI into the Outer part and the Inner Uri-Path and
/// Uri-Query options (RFC 8613 section 4.1.3.3, RFC 7252 section 6.4).
pub(crate) fn decompose_proxy_uri(uri: &str) -> Result<DecomposedUri, MessageError> {
    if uri.contains('#') {
        return Err(MessageError::BadProxyUri("fragment component"));
    }
    let (scheme, rest) = uri.split_once("://").ok_or(MessageError::BadProxyUri(
        "not an absolute URI with authority",
    ))?;
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(MessageError::BadProxyUri("invalid scheme"));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(authority_end);
    if authority.is_empty() {
        return Err(MessageError::BadProxyUri("empty authority"));
    }
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let mut out = DecomposedUri {
        outer: format!("{scheme}://{authority}"),
        path: Vec::new(),
        query: Vec::new(),
    };
    if !path.is_empty() && path != "/" {
        for segment in path[1..].split('/') {
            out.path.push(percent_decode(segment)?);
        }
    }
    if let Some(q) = query {
        for arg in q.split('&') {
            out.query.push(percent_decode(arg)?);
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<Vec<u8>, MessageError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(MessageError::BadProxyUri("bad percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(hexstr: &str) -> Packet {
        Packet::from_bytes(&hex::decode(hexstr).unwrap()).unwrap()
    }

    #[test]
    fn rfc8613_c4_plaintext_and_outer() {
        // GET coap://localhost/tv1: Uri-Host stays outer, Uri-Path inner.
        let msg = packet("44015d1f00003974396c6f63616c686f737483747631");
        let split = split(&msg, MessageKind::Request).unwrap();
        assert_eq!(hex::encode(&split.plaintext), "01b3747631");
        assert_eq!(
            hex::encode(split.outer.to_bytes().unwrap()),
            "44025d1f00003974396c6f63616c686f7374"
        );
    }

    #[test]
    fn rfc8613_c7_response_plaintext() {
        let msg = packet("64455d1f00003974ff48656c6c6f20576f726c6421");
        let split = split(&msg, MessageKind::Response).unwrap();
        assert_eq!(
            hex::encode(&split.plaintext),
            "45ff48656c6c6f20576f726c6421"
        );
        assert_eq!(u8::from(split.outer.header.code), CHANGED);
    }

    #[test]
    fn observe_is_inner_and_outer() {
        let mut req = Packet::new();
        req.header.code = MessageClass::from(0x01);
        add_option(&mut req, OBSERVE, vec![]);
        add_option(&mut req, URI_PATH, b"obs".to_vec());
        let s = split(&req, MessageKind::Request).unwrap();
        assert_eq!(u8::from(s.outer.header.code), FETCH);
        assert_eq!(first_option(&s.outer, OBSERVE), Some(&vec![]));
        assert_eq!(hex::encode(&s.plaintext), "0160536f6273");

        let mut note = Packet::new();
        note.header.code = MessageClass::from(CONTENT);
        add_option(&mut note, OBSERVE, vec![0x12, 0x34]);
        note.payload = b"x".to_vec();
        let s = split(&note, MessageKind::Response).unwrap();
        assert_eq!(u8::from(s.outer.header.code), CONTENT);
        assert_eq!(first_option(&s.outer, OBSERVE), Some(&vec![0x12, 0x34]));
        // Inner Observe empty (RFC 8613 section 4.1.3.5.2).
        assert_eq!(hex::encode(&s.plaintext), "4560ff78");
    }

    #[test]
    fn proxy_uri_is_decomposed() {
        // RFC 8613 section 4.1.3.3 example.
        let d = decompose_proxy_uri("coap://example.com/resource?q=1").unwrap();
        assert_eq!(d.outer, "coap://example.com");
        assert_eq!(d.path, vec![b"resource".to_vec()]);
        assert_eq!(d.query, vec![b"q=1".to_vec()]);
        let d = decompose_proxy_uri("coap://[::1]:5683/a%20b/c?x&y=%41").unwrap();
        assert_eq!(d.outer, "coap://[::1]:5683");
        assert_eq!(d.path, vec![b"a b".to_vec(), b"c".to_vec()]);
        assert_eq!(d.query, vec![b"x".to_vec(), b"y=A".to_vec()]);
        let d = decompose_proxy_uri("coap://h/").unwrap();
        assert!(d.path.is_empty());
        assert!(decompose_proxy_uri("coap://h/#frag").is_err());
        assert!(decompose_proxy_uri("/relative").is_err());
        assert!(decompose_proxy_uri("coap://h/%zz").is_err());
        assert!(decompose_proxy_uri("coap:///x").is_err());

        let mut req = Packet::new();
        req.header.code = MessageClass::from(0x01);
        add_option(
            &mut req,
            PROXY_URI,
            b"coap://example.com/resource?q=1".to_vec(),
        );
        let s = split(&req, MessageKind::Request).unwrap();
        assert_eq!(
            first_option(&s.outer, PROXY_URI),
            Some(&b"coap://example.com".to_vec())
        );
        let pt = decode_plaintext(&s.plaintext).unwrap();
        assert_eq!(
            pt.options,
            vec![
                (URI_PATH, b"resource".to_vec()),
                (URI_QUERY, b"q=1".to_vec())
            ]
        );
    }

    #[test]
    fn nested_oscore_and_wrong_codes_are_refused() {
        let mut req = Packet::new();
        req.header.code = MessageClass::from(0x01);
        add_option(&mut req, OSCORE_OPTION, vec![]);
        assert_eq!(
            split(&req, MessageKind::Request).unwrap_err(),
            MessageError::NestedOscore
        );
        let mut empty = Packet::new();
        empty.header.code = MessageClass::Empty;
        assert!(matches!(
            split(&empty, MessageKind::Request),
            Err(MessageError::WrongCode(0, _))
        ));
        let mut resp = Packet::new();
        resp.header.code = MessageClass::from(0x01);
        assert!(split(&resp, MessageKind::Response).is_err());
    }

    #[test]
    fn plaintext_decoding_is_strict() {
        assert!(decode_plaintext(&[]).is_err());
        assert!(decode_plaintext(&[0x45, 0xff]).is_err());
        assert!(decode_plaintext(&[0x45, 0xf0]).is_err());
        assert!(decode_plaintext(&[0x45, 0x0f]).is_err());
        assert!(decode_plaintext(&[0x45, 0xd1]).is_err());
        assert!(decode_plaintext(&[0x45, 0x13, 1]).is_err());
        // Option number overflow: 65535 + 1.
        assert!(decode_plaintext(&[0x45, 0xe0, 0xfe, 0xf2, 0x10]).is_err());
        let pt = decode_plaintext(&hex::decode("01b3747631").unwrap()).unwrap();
        assert_eq!(pt.code, 1);
        assert_eq!(pt.options, vec![(URI_PATH, b"tv1".to_vec())]);
    }

    #[test]
    fn long_option_numbers_and_values_round_trip() {
        let big = vec![7u8; 300];
        let opts: Vec<(u16, &[u8])> = vec![(1, b"a"), (14, &[]), (300, &big), (2000, b"z")];
        let mut out = vec![0x45];
        encode_options(&mut out, &opts);
        let pt = decode_plaintext(&out).unwrap();
        let back: Vec<(u16, &[u8])> = pt.options.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        assert_eq!(back, opts);
    }
}
