//! The CoAP message format over UDP (RFC 7252 section 3).
//!
//! Every datagram the endpoint sends or receives goes through [`decode`] and
//! [`encode`], so they read and write the bytes directly into a [`Message`]:
//! one pass over the options, one allocation per option value and one for
//! the payload. (`coap_lite::Packet`, which the OSCORE layer uses, keeps its
//! options in a map of linked lists; going through it cost 14 of the 24
//! allocations of a request in the bench server.) The tests compare both
//! functions with coap-lite on generated messages.
//!
//! [`decode`] applies the format rules of section 3: version 1, token
//! lengths 9 to 15 and the option nibble 15 are format errors, and so is a
//! payload marker followed by an empty payload. [`encode`] refuses messages
//! larger than the caller's limit.

use crate::option::Options;
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
    /// An option value is longer than the format can carry (65,804 bytes,
    /// RFC 7252 section 3.1).
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

/// Reads an option's delta or length: the 4-bit `nibble`, extended by one
/// byte (13) or two (14) at `*idx` (RFC 7252 section 3.1). 15 is reserved.
fn extended(bytes: &[u8], nibble: u8, idx: &mut usize) -> Result<usize, DecodeError> {
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
}

/// Reads the option section starting at `idx` into `options` and returns
/// where the payload starts (`bytes.len()` when there is none).
fn read_options(bytes: &[u8], mut idx: usize, options: &mut Options) -> Result<usize, DecodeError> {
    let mut number = 0usize;
    while idx < bytes.len() {
        let byte = bytes[idx];
        idx += 1;
        if byte == 0xff {
            return if idx < bytes.len() {
                Ok(idx)
            } else {
                Err(DecodeError::EmptyPayload)
            };
        }
        number += extended(bytes, byte >> 4, &mut idx)?;
        let Ok(option) = u16::try_from(number) else {
            return Err(DecodeError::MalformedOptions);
        };
        let len = extended(bytes, byte & 0x0f, &mut idx)?;
        let end = idx.checked_add(len).ok_or(DecodeError::MalformedOptions)?;
        let value = bytes.get(idx..end).ok_or(DecodeError::MalformedOptions)?;
        options.push_last(option, value.to_vec());
        idx = end;
    }
    Ok(idx)
}

/// Checks the first header byte (RFC 7252 section 3) and returns the token
/// length.
fn check_header(bytes: &[u8]) -> Result<u8, DecodeError> {
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
    Ok(tkl)
}

/// Decodes a datagram into a [`Message`] (RFC 7252 section 3).
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let tkl = check_header(bytes)?;
    let token_end = 4 + usize::from(tkl);
    let token = bytes
        .get(4..token_end)
        .and_then(Token::new)
        .ok_or(DecodeError::MalformedOptions)?;
    let mut options = Options::new();
    let payload_start = read_options(bytes, token_end, &mut options)?;
    let code = bytes[1];
    if code == 0 && bytes.len() > 4 {
        return Err(DecodeError::NonEmptyEmptyMessage);
    }
    Ok(Message {
        mtype: MessageType::from_bits(bytes[0] >> 4),
        code,
        mid: u16::from_be_bytes([bytes[2], bytes[3]]),
        token,
        options,
        payload: bytes[payload_start..].to_vec(),
    })
}

/// The 4-bit form of an option delta or length and its extension bytes
/// (RFC 7252 section 3.1), or `None` beyond 65,804.
fn nibble(value: usize) -> Option<(u8, [u8; 2], usize)> {
    match value {
        0..=12 => Some((value as u8, [0, 0], 0)),
        13..=268 => Some((13, [(value - 13) as u8, 0], 1)),
        _ => {
            let [hi, lo] = u16::try_from(value - 269).ok()?.to_be_bytes();
            Some((14, [hi, lo], 2))
        }
    }
}

/// Encodes a message, refusing one larger than `limit` bytes.
pub fn encode(message: &Message, limit: usize) -> Result<Vec<u8>, EncodeError> {
    let token = message.token.as_bytes();
    let options_size: usize = message.options.iter().map(|(_, v)| v.len() + 5).sum();
    let payload = &message.payload;
    let mut out = Vec::with_capacity(4 + token.len() + options_size + 1 + payload.len());
    // `Token` holds at most 8 bytes.
    out.push(0x40 | (message.mtype.bits() << 4) | token.len() as u8);
    out.push(message.code);
    out.extend_from_slice(&message.mid.to_be_bytes());
    out.extend_from_slice(token);
    let mut previous = 0u16;
    for (number, value) in message.options.iter() {
        // `Options` keeps its entries sorted by number, and a delta of up
        // to 65,535 always has a nibble form.
        let (d, d_ext, d_len) =
            nibble(usize::from(number - previous)).ok_or(EncodeError::Invalid)?;
        let (l, l_ext, l_len) = nibble(value.len()).ok_or(EncodeError::Invalid)?;
        out.push((d << 4) | l);
        out.extend_from_slice(&d_ext[..d_len]);
        out.extend_from_slice(&l_ext[..l_len]);
        out.extend_from_slice(value);
        previous = number;
    }
    if !payload.is_empty() {
        out.push(0xff);
        out.extend_from_slice(payload);
    }
    if out.len() > limit {
        return Err(EncodeError::TooLarge {
            size: out.len(),
            limit,
        });
    }
    Ok(out)
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
    use crate::test_rng::XorShift;

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

    /// A CON GET with MID 1, no token and the single option `number`.
    fn get_with_option(number: u16, value: Vec<u8>) -> Message {
        let mut options = Options::new();
        options.push(number, value);
        Message {
            mtype: MessageType::Con,
            code: 0x01,
            mid: 1,
            token: Token::EMPTY,
            options,
            payload: Vec::new(),
        }
    }

    #[test]
    fn option_value_ending_in_ff_is_not_a_payload_marker() {
        let m = get_with_option(number::ETAG, vec![0x01, 0xff]);
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

    /// The reference the differential tests hold the direct codec to:
    /// coap-lite parses, and this adds the one option-section rule it
    /// leaves out, without the direct decoder's code. Only the first header
    /// byte's checks are shared.
    fn decode_with_coap_lite(bytes: &[u8]) -> Result<Message, DecodeError> {
        let tkl = check_header(bytes)?;
        let mut packet =
            coap_lite::Packet::from_bytes(bytes).map_err(|_| DecodeError::MalformedOptions)?;
        // A payload marker with nothing after it (RFC 7252 section 3):
        // coap-lite accepts it, and its canonical re-encoding, which has no
        // marker for an empty payload, is then one byte shorter.
        let reencoded = packet
            .to_bytes_unlimited()
            .map_err(|_| DecodeError::MalformedOptions)?;
        if packet.payload.is_empty() && reencoded.len() + 1 == bytes.len() {
            return Err(DecodeError::EmptyPayload);
        }
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

    fn encode_with_coap_lite(message: &Message) -> Vec<u8> {
        let mut packet = coap_lite::Packet::new();
        packet.header.set_version(1);
        packet.header.set_type(match message.mtype {
            MessageType::Con => coap_lite::MessageType::Confirmable,
            MessageType::Non => coap_lite::MessageType::NonConfirmable,
            MessageType::Ack => coap_lite::MessageType::Acknowledgement,
            MessageType::Rst => coap_lite::MessageType::Reset,
        });
        packet.header.code = coap_lite::MessageClass::from(message.code);
        packet.header.message_id = message.mid;
        packet.set_token(message.token.as_bytes().to_vec());
        for (number, value) in message.options.iter() {
            packet.add_option(coap_lite::CoapOption::from(number), value.to_vec());
        }
        packet.payload.clone_from(&message.payload);
        packet.to_bytes_unlimited().unwrap()
    }

    /// Option value lengths on both sides of each nibble boundary.
    const LENGTHS: [usize; 9] = [0, 1, 12, 13, 14, 268, 269, 270, 1100];
    /// Option deltas on both sides of each nibble boundary.
    const DELTAS: [u16; 10] = [0, 1, 12, 13, 14, 268, 269, 270, 2048, 65000];

    fn generated_message(rng: &mut XorShift) -> Message {
        let mut options = Options::new();
        let mut number = 0u16;
        for _ in 0..rng.below(6) {
            let delta = if rng.below(2) == 0 {
                DELTAS[rng.below(DELTAS.len() as u64)]
            } else {
                rng.below(40) as u16
            };
            let Some(n) = number.checked_add(delta) else {
                break;
            };
            number = n;
            let len = if rng.below(3) == 0 {
                LENGTHS[rng.below(LENGTHS.len() as u64)]
            } else {
                rng.below(20)
            };
            let value: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            options.push(number, value);
        }
        let token: Vec<u8> = (0..rng.below(9)).map(|_| rng.next() as u8).collect();
        let payload_len = [0, 0, 1, 15, 300][rng.below(5)];
        let code = match rng.below(4) {
            0 => 0x01,
            1 => 0x45,
            2 => 0x84,
            _ => rng.next() as u8 | 1,
        };
        Message {
            mtype: MessageType::from_bits(rng.next() as u8 & 3),
            code,
            mid: rng.next() as u16,
            token: Token::new(&token).unwrap(),
            options,
            payload: (0..payload_len).map(|_| rng.next() as u8).collect(),
        }
    }

    #[test]
    fn encoding_matches_coap_lite_byte_for_byte() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..5_000 {
            let m = generated_message(&mut rng);
            let bytes = encode(&m, usize::MAX).unwrap();
            assert_eq!(bytes, encode_with_coap_lite(&m), "{m:?}");
            assert_eq!(decode(&bytes).as_ref(), Ok(&m));
        }
    }

    #[test]
    fn decoding_matches_coap_lite_on_valid_truncated_and_mutated_datagrams() {
        let mut rng = XorShift(0x0123_4567_89ab_cdef);
        let mut compared = 0;
        for _ in 0..400 {
            let bytes = encode(&generated_message(&mut rng), usize::MAX).unwrap();
            let mut cases = vec![bytes.clone()];
            cases.extend((0..bytes.len()).map(|n| bytes[..n].to_vec()));
            for _ in 0..20 {
                let mut mutated = bytes.clone();
                let at = rng.below(mutated.len() as u64);
                mutated[at] = rng.next() as u8;
                cases.push(mutated);
            }
            for case in cases {
                assert_eq!(decode(&case), decode_with_coap_lite(&case), "{case:02x?}");
                compared += 1;
            }
        }
        for _ in 0..20_000 {
            let len = rng.below(40);
            let mut case: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Some(first) = case.first_mut() {
                *first = (*first & 0x3f) | 0x40;
            }
            // A quarter are empty messages (code 0.00), which must carry
            // nothing after the header.
            if case.len() > 1 && rng.below(4) == 0 {
                case[1] = 0;
            }
            assert_eq!(decode(&case), decode_with_coap_lite(&case), "{case:02x?}");
            compared += 1;
        }
        assert!(compared > 100_000, "{compared} cases");
    }

    #[test]
    fn oversized_option_values_are_refused() {
        let mut m = get_with_option(number::URI_PATH, vec![b'a'; 65_804]);
        let fits = encode(&m, usize::MAX).unwrap();
        assert_eq!(decode(&fits).as_ref(), Ok(&m));
        m.options.set(number::URI_PATH, vec![b'a'; 65_805]);
        assert_eq!(encode(&m, usize::MAX), Err(EncodeError::Invalid));
    }

    #[test]
    fn no_panic_on_arbitrary_bytes() {
        // A cheap deterministic sweep over short inputs and mutated messages.
        let mut rng = XorShift(0x1234_5678_9abc_def0);
        for _ in 0..20_000 {
            let len = rng.below(40);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if !bytes.is_empty() {
                bytes[0] = (bytes[0] & 0x3f) | 0x40;
            }
            let _ = decode(&bytes);
            let _ = peek_header(&bytes);
        }
    }
}
