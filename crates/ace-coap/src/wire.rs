//! The CoAP message format over UDP (RFC 7252 section 3), on the coap-lite
//! codec.
//!
//! [`decode`] adds the checks RFC 7252 requires and coap-lite leaves out:
//! the version must be 1, token lengths 9 to 15 are a format error, and a
//! payload marker followed by an empty payload is a format error (section
//! 3). [`encode`] refuses messages larger than the caller's limit.

use crate::option::Options;
use coap_lite::{CoapOption, MessageClass, Packet};
use std::fmt;
use thiserror::Error;

/// The message type (RFC 7252 section 3 and section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Confirmable (CON).
    Con,
    /// Non-confirmable (NON).
    Non,
    /// Acknowledgement (ACK).
    Ack,
    /// Reset (RST).
    Rst,
}

impl MessageType {
    /// The two-bit wire value.
    pub const fn bits(self) -> u8 {
        match self {
            Self::Con => 0,
            Self::Non => 1,
            Self::Ack => 2,
            Self::Rst => 3,
        }
    }

    /// The type for a two-bit wire value.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Self::Con,
            1 => Self::Non,
            2 => Self::Ack,
            _ => Self::Rst,
        }
    }

    /// The three-letter name used in RFC 7252.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Con => "CON",
            Self::Non => "NON",
            Self::Ack => "ACK",
            Self::Rst => "RST",
        }
    }
}

/// A token of 0 to 8 bytes (RFC 7252 section 5.3.1), stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Token {
    len: u8,
    bytes: [u8; 8],
}

impl Token {
    /// The empty token.
    pub const EMPTY: Self = Self {
        len: 0,
        bytes: [0; 8],
    };

    /// A token from up to 8 bytes; `None` if longer.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > 8 {
            return None;
        }
        let mut t = Self {
            len: bytes.len() as u8,
            bytes: [0; 8],
        };
        t.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(t)
    }

    /// The token bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The token length.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the token is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// One CoAP message as it travels in a datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The message type.
    pub mtype: MessageType,
    /// The code byte: class in the top 3 bits, detail in the low 5.
    pub code: u8,
    /// The message ID.
    pub mid: u16,
    /// The token.
    pub token: Token,
    /// The options.
    pub options: Options,
    /// The payload (empty if absent).
    pub payload: Vec<u8>,
}

impl Message {
    /// An empty message (code 0.00): an empty ACK, a RST or a CoAP ping.
    pub fn empty(mtype: MessageType, mid: u16) -> Self {
        Self {
            mtype,
            code: 0,
            mid,
            token: Token::EMPTY,
            options: Options::new(),
            payload: Vec::new(),
        }
    }

    /// Whether the code is 0.00.
    pub fn is_empty_code(&self) -> bool {
        self.code == 0
    }

    /// Whether the code is a request (class 0, detail 1 to 31).
    pub fn is_request(&self) -> bool {
        self.code >> 5 == 0 && self.code != 0
    }

    /// Whether the code is a response (class 2, 4 or 5).
    pub fn is_response(&self) -> bool {
        matches!(self.code >> 5, 2 | 4 | 5)
    }
}

/// Why a datagram is not a well-formed CoAP message.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the 4-byte header.
    #[error("datagram shorter than the 4-byte CoAP header")]
    TooShort,
    /// Version other than 1; RFC 7252 section 3 says to ignore it silently.
    #[error("unknown CoAP version {0}")]
    UnknownVersion(u8),
    /// Token length 9 to 15 (reserved, RFC 7252 section 3).
    #[error("reserved token length {0}")]
    ReservedTokenLength(u8),
    /// The options are truncated or use the reserved nibble 15.
    #[error("malformed options")]
    MalformedOptions,
    /// A payload marker followed by no payload (RFC 7252 section 3).
    #[error("payload marker with an empty payload")]
    EmptyPayload,
    /// An empty message (0.00) carries a token, options or a payload
    /// (RFC 7252 section 4.1).
    #[error("empty message with token, options or payload")]
    NonEmptyEmptyMessage,
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoded message would exceed the size limit.
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// coap-lite refused the message.
    #[error("message cannot be encoded")]
    Invalid,
}

/// The fixed header fields of a datagram, read without decoding the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The message type.
    pub mtype: MessageType,
    /// The code byte.
    pub code: u8,
    /// The message ID.
    pub mid: u16,
    /// The token, if its length is valid and the datagram holds it.
    pub token: Option<Token>,
}

/// Reads the header of a CoAP version 1 datagram, or `None` if it is shorter
/// than 4 bytes or another version. Used to answer a malformed CON with a
/// RST (RFC 7252 section 4.2) and by the load tool to match responses cheaply.
pub fn peek_header(bytes: &[u8]) -> Option<Header> {
    if bytes.len() < 4 || bytes[0] >> 6 != 1 {
        return None;
    }
    let tkl = usize::from(bytes[0] & 0x0f);
    let token = if tkl <= 8 && bytes.len() >= 4 + tkl {
        Token::new(&bytes[4..4 + tkl])
    } else {
        None
    };
    Some(Header {
        mtype: MessageType::from_bits(bytes[0] >> 4),
        code: bytes[1],
        mid: u16::from_be_bytes([bytes[2], bytes[3]]),
        token,
    })
}

/// Walks the option section and checks its framing: reserved nibbles,
/// truncation, and the rule that a payload marker has a non-empty payload.
fn check_framing(bytes: &[u8], mut idx: usize) -> Result<(), DecodeError> {
    let ext = |nibble: u8, idx: &mut usize| -> Result<usize, DecodeError> {
        match nibble {
            0..=12 => Ok(usize::from(nibble)),
            13 => {
                let b = *bytes.get(*idx).ok_or(DecodeError::MalformedOptions)?;
                *idx += 1;
                Ok(usize::from(b) + 13)
            }
            14 => {
                let hi = *bytes.get(*idx).ok_or(DecodeError::MalformedOptions)?;
                let lo = *bytes.get(*idx + 1).ok_or(DecodeError::MalformedOptions)?;
                *idx += 2;
                Ok(usize::from(u16::from_be_bytes([hi, lo])) + 269)
            }
            _ => Err(DecodeError::MalformedOptions),
        }
    };
    let mut number = 0usize;
    while idx < bytes.len() {
        let byte = bytes[idx];
        idx += 1;
        if byte == 0xff {
            return if idx < bytes.len() {
                Ok(())
            } else {
                Err(DecodeError::EmptyPayload)
            };
        }
        number += ext(byte >> 4, &mut idx)?;
        if number > usize::from(u16::MAX) {
            return Err(DecodeError::MalformedOptions);
        }
        let len = ext(byte & 0x0f, &mut idx)?;
        idx = idx.checked_add(len).ok_or(DecodeError::MalformedOptions)?;
        if idx > bytes.len() {
            return Err(DecodeError::MalformedOptions);
        }
    }
    Ok(())
}

/// Decodes a datagram into a [`Message`] (RFC 7252 section 3).
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    if bytes.len() < 4 {
        return Err(DecodeError::TooShort);
    }
    let version = bytes[0] >> 6;
    if version != 1 {
        return Err(DecodeError::UnknownVersion(version));
    }
    let tkl = bytes[0] & 0x0f;
    if tkl > 8 {
        return Err(DecodeError::ReservedTokenLength(tkl));
    }
    if bytes.len() < 4 + usize::from(tkl) {
        return Err(DecodeError::MalformedOptions);
    }
    check_framing(bytes, 4 + usize::from(tkl))?;
    let mut packet = Packet::from_bytes(bytes).map_err(|_| DecodeError::MalformedOptions)?;
    let mut options = Options::new();
    for (number, values) in packet.options() {
        for value in values {
            options.push(*number, value.clone());
        }
    }
    let token = Token::new(packet.get_token()).ok_or(DecodeError::ReservedTokenLength(tkl))?;
    let message = Message {
        mtype: MessageType::from_bits(bytes[0] >> 4),
        code: bytes[1],
        mid: packet.header.message_id,
        token,
        options,
        payload: std::mem::take(&mut packet.payload),
    };
    if message.code == 0
        && (!message.token.is_empty() || !message.options.is_empty() || bytes.len() > 4)
    {
        return Err(DecodeError::NonEmptyEmptyMessage);
    }
    Ok(message)
}

/// Encodes a message, refusing one larger than `limit` bytes.
pub fn encode(message: &Message, limit: usize) -> Result<Vec<u8>, EncodeError> {
    let mut packet = Packet::new();
    packet.header.set_version(1);
    packet.header.set_type(match message.mtype {
        MessageType::Con => coap_lite::MessageType::Confirmable,
        MessageType::Non => coap_lite::MessageType::NonConfirmable,
        MessageType::Ack => coap_lite::MessageType::Acknowledgement,
        MessageType::Rst => coap_lite::MessageType::Reset,
    });
    packet.header.code = MessageClass::from(message.code);
    packet.header.message_id = message.mid;
    packet.set_token(message.token.as_bytes().to_vec());
    for (number, value) in message.options.iter() {
        packet.add_option(CoapOption::from(number), value.to_vec());
    }
    packet.payload.clone_from(&message.payload);
    let bytes = packet
        .to_bytes_unlimited()
        .map_err(|_| EncodeError::Invalid)?;
    if bytes.len() > limit {
        return Err(EncodeError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// Encodes an empty message (empty ACK, RST or ping): 4 bytes.
pub fn encode_empty(mtype: MessageType, mid: u16) -> [u8; 4] {
    let [hi, lo] = mid.to_be_bytes();
    [0x40 | (mtype.bits() << 4), 0, hi, lo]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::option::number;

    /// RFC 7252 Appendix A, Figure 16-style GET: CON, GET, MID 0x7d34,
    /// Uri-Path "temperature".
    const GET_TEMPERATURE: [u8; 16] = [
        0x40, 0x01, 0x7d, 0x34, 0xbb, b't', b'e', b'm', b'p', b'e', b'r', b'a', b't', b'u', b'r',
        b'e',
    ];

    #[test]
    fn decodes_a_get() {
        let m = decode(&GET_TEMPERATURE).unwrap();
        assert_eq!(m.mtype, MessageType::Con);
        assert_eq!(m.code, 0x01);
        assert_eq!(m.mid, 0x7d34);
        assert!(m.token.is_empty());
        assert_eq!(m.options.get(number::URI_PATH), Some(&b"temperature"[..]));
        assert!(m.payload.is_empty());
    }

    #[test]
    fn round_trips_token_options_payload() {
        let mut options = Options::new();
        options.push(number::URI_PATH, "a");
        options.push(number::URI_PATH, "b");
        options.set_content_format(60);
        options.push(300, vec![7u8; 20]);
        let m = Message {
            mtype: MessageType::Non,
            code: 0x45,
            mid: 0xbeef,
            token: Token::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
            options,
            payload: b"hello".to_vec(),
        };
        let bytes = encode(&m, 1152).unwrap();
        assert_eq!(decode(&bytes).unwrap(), m);
        assert_eq!(
            encode(&m, 10),
            Err(EncodeError::TooLarge {
                size: bytes.len(),
                limit: 10
            })
        );
    }

    #[test]
    fn refuses_format_errors() {
        assert_eq!(decode(&[0x40, 1, 0]), Err(DecodeError::TooShort));
        assert_eq!(
            decode(&[0x80, 1, 0, 0]),
            Err(DecodeError::UnknownVersion(2))
        );
        assert_eq!(
            decode(&[0x49, 1, 0, 0]),
            Err(DecodeError::ReservedTokenLength(9))
        );
        // Token length 2 but only one token byte.
        assert_eq!(
            decode(&[0x42, 1, 0, 0, 1]),
            Err(DecodeError::MalformedOptions)
        );
        // Payload marker with nothing after it.
        assert_eq!(
            decode(&[0x40, 1, 0, 0, 0xff]),
            Err(DecodeError::EmptyPayload)
        );
        // Option length nibble 15 is reserved.
        assert_eq!(
            decode(&[0x40, 1, 0, 0, 0xbf]),
            Err(DecodeError::MalformedOptions)
        );
        // Option value runs past the end.
        assert_eq!(
            decode(&[0x40, 1, 0, 0, 0xb5, b'a']),
            Err(DecodeError::MalformedOptions)
        );
        // Extended delta byte missing.
        assert_eq!(
            decode(&[0x40, 1, 0, 0, 0xd0]),
            Err(DecodeError::MalformedOptions)
        );
        // An empty message with a token.
        assert_eq!(
            decode(&[0x41, 0, 0, 0, 9]),
            Err(DecodeError::NonEmptyEmptyMessage)
        );
    }

    #[test]
    fn option_value_ending_in_ff_is_not_a_payload_marker() {
        let mut options = Options::new();
        options.push(number::ETAG, vec![0x01, 0xff]);
        let m = Message {
            mtype: MessageType::Con,
            code: 0x01,
            mid: 1,
            token: Token::EMPTY,
            options,
            payload: Vec::new(),
        };
        let bytes = encode(&m, 100).unwrap();
        assert_eq!(decode(&bytes).unwrap(), m);
    }

    #[test]
    fn empty_messages_and_header_peek() {
        let rst = encode_empty(MessageType::Rst, 0x1234);
        assert_eq!(rst, [0x70, 0, 0x12, 0x34]);
        let m = decode(&rst).unwrap();
        assert_eq!(m, Message::empty(MessageType::Rst, 0x1234));
        let h = peek_header(&[0x42, 0x45, 0, 7, 0xaa, 0xbb, 0xff]).unwrap();
        assert_eq!(h.mtype, MessageType::Con);
        assert_eq!(h.mid, 7);
        assert_eq!(h.token, Token::new(&[0xaa, 0xbb]));
        assert_eq!(peek_header(&[0x00, 0, 0, 0]), None);
    }

    #[test]
    fn no_panic_on_arbitrary_bytes() {
        // A cheap deterministic sweep over short inputs and mutated messages.
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if !bytes.is_empty() {
                bytes[0] = (bytes[0] & 0x3f) | 0x40;
            }
            let _ = decode(&bytes);
            let _ = peek_header(&bytes);
        }
    }
}
