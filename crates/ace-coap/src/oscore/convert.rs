//! Conversions between this crate's complete [`Request`]s and [`Response`]s
//! and the `coap_lite::Packet`s that `group-oscore` protects and verifies.
//!
//! Only code, token, options and payload cross over: message type and
//! Message ID belong to the message layer below the security layer and are
//! neither protected nor needed by OSCORE (RFC 8613 section 4.2 and 5.4:
//! the token and header fields are Class U and outside the AAD).

use crate::option::{Options, number};
use crate::request::{Method, Request};
use crate::response::{Code, Response};
use coap_lite::{CoapOption, MessageClass, Packet};
use thiserror::Error;

/// Why a decrypted message cannot become a [`Request`] (RFC 7252 section
/// 5.10.1 and 5.8). Such a request verified, so the server answers with a
/// *protected* 4.00 or 4.05 (RFC 8613 section 8.2: errors after successful
/// verification are protected).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConvertError {
    /// The decrypted code is not a request method this crate implements:
    /// 4.05 (RFC 7252 section 5.8).
    #[error("code {0:#04x} is not an implemented request method")]
    NotAMethod(u8),
    /// A Uri-Path or Uri-Query value is not UTF-8, or a Uri-Path segment is
    /// `.` or `..`: 4.00 (RFC 7252 section 6.5).
    #[error("bad Uri-Path or Uri-Query: {0}")]
    BadUri(&'static str),
}

impl ConvertError {
    /// The response code for the (protected) error response.
    pub fn code(&self) -> Code {
        match self {
            Self::NotAMethod(_) => Code::METHOD_NOT_ALLOWED,
            Self::BadUri(_) => Code::BAD_REQUEST,
        }
    }
}

fn add_options(packet: &mut Packet, options: &Options) {
    for (n, value) in options.iter() {
        packet.add_option(CoapOption::from(n), value.to_vec());
    }
}

/// The packet of a complete request: method code, token, Uri-Path,
/// Uri-Query, the other options and the payload.
pub fn request_to_packet(request: &Request) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(request.method.code());
    p.set_token(request.meta.token.as_bytes().to_vec());
    for segment in &request.path {
        p.add_option(CoapOption::UriPath, segment.as_bytes().to_vec());
    }
    for argument in &request.query {
        p.add_option(CoapOption::UriQuery, argument.as_bytes().to_vec());
    }
    add_options(&mut p, &request.options);
    p.payload.clone_from(&request.payload);
    p
}

/// The request a (decrypted) packet describes; peer, message-layer facts
/// and origin come from `template` (the outer request), the security
/// identity is left unset.
pub fn packet_to_request(packet: &Packet, template: &Request) -> Result<Request, ConvertError> {
    let code = u8::from(packet.header.code);
    let method = Method::from_code(code).ok_or(ConvertError::NotAMethod(code))?;
    let mut request = Request::new(method, "/");
    request.path.clear();
    request.peer = template.peer;
    request.meta = template.meta.clone();
    for (&n, values) in packet.options() {
        for value in values {
            match n {
                number::URI_PATH => {
                    let segment = std::str::from_utf8(value)
                        .map_err(|_| ConvertError::BadUri("Uri-Path is not UTF-8"))?;
                    if segment == "." || segment == ".." {
                        return Err(ConvertError::BadUri("Uri-Path segment . or .."));
                    }
                    request.path.push(segment.to_owned());
                }
                number::URI_QUERY => {
                    let argument = std::str::from_utf8(value)
                        .map_err(|_| ConvertError::BadUri("Uri-Query is not UTF-8"))?;
                    request.query.push(argument.to_owned());
                }
                _ => request.options.push(n, value.clone()),
            }
        }
    }
    request.payload.clone_from(&packet.payload);
    Ok(request)
}

/// The outer request of a protected one (RFC 8613 section 4: code 0.02
/// POST or 0.05 FETCH, Class U options, the ciphertext as payload), with the
/// message-layer facts of `template`. Outer messages carry no Uri-Path or
/// Uri-Query (those are Class E), so nothing can fail here.
pub fn outer_request(packet: &Packet, template: &Request) -> Request {
    let code = u8::from(packet.header.code);
    let method = Method::from_code(code).unwrap_or(Method::Post);
    let mut request = Request::new(method, "/");
    request.path.clear();
    request.peer = template.peer;
    request.meta = template.meta.clone();
    for (&n, values) in packet.options() {
        for value in values {
            request.options.push(n, value.clone());
        }
    }
    request.payload.clone_from(&packet.payload);
    request
}

/// The packet of a complete response (code, options, payload).
pub fn response_to_packet(response: &Response) -> Packet {
    let mut p = Packet::new();
    p.header.code = MessageClass::from(response.code.0);
    add_options(&mut p, &response.options);
    p.payload.clone_from(&response.payload);
    p
}

/// The response a packet describes (code, options, payload).
pub fn packet_to_response(packet: &Packet) -> Response {
    let mut r = Response::new(Code(u8::from(packet.header.code)));
    for (&n, values) in packet.options() {
        for value in values {
            r.options.push(n, value.clone());
        }
    }
    r.payload.clone_from(&packet.payload);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_round_trip() {
        let mut req = Request::fetch("/a/b?x=1&y")
            .with_payload("body")
            .with_content_format(60)
            .with_option(number::ECHO, vec![1, 2]);
        req.meta.token = crate::wire::Token::new(&[7, 8]).unwrap();
        let p = request_to_packet(&req);
        assert_eq!(u8::from(p.header.code), 5);
        assert_eq!(p.get_token(), &[7, 8]);
        let back = packet_to_request(&p, &req).unwrap();
        assert_eq!(back.method, Method::Fetch);
        assert_eq!(back.path, vec!["a", "b"]);
        assert_eq!(back.query, vec!["x=1", "y"]);
        assert_eq!(back.options, req.options);
        assert_eq!(back.payload, b"body");

        let resp = Response::content("hi")
            .with_max_age(3)
            .with_content_format(0);
        assert_eq!(packet_to_response(&response_to_packet(&resp)), resp);
    }

    #[test]
    fn bad_uris_and_codes_are_refused() {
        let template = Request::get("/");
        let mut p = Packet::new();
        p.header.code = MessageClass::from(0x01);
        p.add_option(CoapOption::UriPath, vec![0xff]);
        assert_eq!(
            packet_to_request(&p, &template).unwrap_err().code(),
            Code::BAD_REQUEST
        );
        let mut p = Packet::new();
        p.header.code = MessageClass::from(0x01);
        p.add_option(CoapOption::UriPath, b"..".to_vec());
        assert!(packet_to_request(&p, &template).is_err());
        let mut p = Packet::new();
        p.header.code = MessageClass::from(0x45);
        assert_eq!(
            packet_to_request(&p, &template).unwrap_err(),
            ConvertError::NotAMethod(0x45)
        );
    }
}
