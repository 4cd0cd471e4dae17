//! A human-readable trace of every datagram: header, options and payload,
//! the payload in CBOR diagnostic notation (RFC 8949 section 8) when it is
//! CBOR.

use super::{Direction, TapRecord, TapSink};
use crate::option::OptionDisplay;
use crate::request::Method;
use crate::wire::{self, Message};
use ace_proto::consts::content_format as cf;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Mutex;

/// Content-Formats whose payload is one CBOR data item.
fn is_cbor_format(format: u16) -> bool {
    matches!(
        format,
        cf::COSE_ENCRYPT0
            | cf::COSE_MAC0
            | cf::COSE_SIGN1
            | cf::ACE_CBOR
            | cf::CBOR
            | cf::CWT
            | cf::CONCISE_PROBLEM_DETAILS_CBOR
            | cf::ACE_GROUPCOMM_CBOR
            // application/cose-key (101), cose-key-set (102), RFC 9052.
            | 101
            | 102
    ) || format == cf::AIF_CBOR
        || format == cf::AIF_OSCORE_GROUPCOMM_CBOR
        || format == cf::AIF_PUBSUB_CBOR
}

/// Renders a code as a method name or `c.dd`.
fn code_name(code: u8) -> String {
    if code == 0 {
        return "Empty".to_owned();
    }
    match Method::from_code(code) {
        Some(m) => m.to_string(),
        None => ace_proto::Code(code).to_string(),
    }
}

/// Describes one datagram on several lines: a header line, the options,
/// and the payload (CBOR diagnostic notation, text, or hex).
pub fn describe(bytes: &[u8]) -> String {
    let m: Message = match wire::decode(bytes) {
        Ok(m) => m,
        Err(e) => {
            let mut s = format!("malformed datagram ({e}), {} bytes:", bytes.len());
            for b in bytes {
                let _ = write!(s, " {b:02x}");
            }
            return s;
        }
    };
    let mut s = format!(
        "{} {} mid=0x{:04x} token={}",
        m.mtype.name(),
        code_name(m.code),
        m.mid,
        if m.token.is_empty() {
            "-".to_owned()
        } else {
            m.token.to_string()
        }
    );
    if !m.options.is_empty() {
        s.push_str("\n  options: ");
        let shown: Vec<String> = m
            .options
            .iter()
            .map(|(n, v)| OptionDisplay(n, v).to_string())
            .collect();
        s.push_str(&shown.join(", "));
    }
    if !m.payload.is_empty() {
        let format = m.options.content_format();
        let _ = write!(s, "\n  payload ({} bytes", m.payload.len());
        let partial_block = m.options.contains(crate::option::number::BLOCK1)
            || m.options.contains(crate::option::number::BLOCK2);
        let diag = match format {
            Some(f) if is_cbor_format(f) && !partial_block => {
                ace_proto::diag::to_diag_pretty(&m.payload)
            }
            _ => None,
        };
        match (diag, std::str::from_utf8(&m.payload)) {
            (Some(d), _) => {
                s.push_str(", CBOR):\n");
                for line in d.lines() {
                    let _ = writeln!(s, "    {line}");
                }
                s.pop();
            }
            (None, Ok(text))
                if text
                    .chars()
                    .all(|c| !c.is_control() || c == '\n' || c == '\t') =>
            {
                let _ = write!(s, ", text): {text:?}");
            }
            _ => {
                s.push_str("):");
                for chunk in m.payload.chunks(32) {
                    s.push_str("\n    ");
                    for b in chunk {
                        let _ = write!(s, "{b:02x}");
                    }
                }
            }
        }
    }
    s
}

/// Writes a description of every datagram to a writer (standard error by
/// default).
pub struct TraceSink {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for TraceSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TraceSink")
    }
}

impl Default for TraceSink {
    fn default() -> Self {
        Self::stderr()
    }
}

impl TraceSink {
    /// A trace on standard error.
    pub fn stderr() -> Self {
        Self::new(Box::new(io::stderr()))
    }

    /// A trace to any writer.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl TapSink for TraceSink {
    fn record(&self, record: &TapRecord<'_>) {
        let arrow = match record.direction {
            Direction::In => "<-",
            Direction::Out => "->",
        };
        let text = describe(record.bytes);
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{} {arrow} {}  {text}", record.local, record.peer);
        }
    }

    fn flush(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::option::{Options, number};
    use crate::wire::{MessageType, Token};

    #[test]
    fn describes_cbor_payloads_in_diagnostic_notation() {
        let mut o = Options::new();
        o.push(number::URI_PATH, "ace-group");
        o.push(number::URI_PATH, "g1");
        o.set_content_format(cf::ACE_GROUPCOMM_CBOR);
        let m = Message {
            mtype: MessageType::Con,
            code: 2,
            mid: 0x1234,
            token: Token::new(&[0xab, 0xcd]).unwrap(),
            options: o,
            // {"scope": h'01', 4: true}
            payload: vec![
                0xa2, 0x65, b's', b'c', b'o', b'p', b'e', 0x41, 0x01, 0x04, 0xf5,
            ],
        };
        let text = describe(&wire::encode(&m, 1152).unwrap());
        assert!(text.starts_with("CON POST mid=0x1234 token=abcd"), "{text}");
        assert!(
            text.contains(r#"Uri-Path:"ace-group", Uri-Path:"g1", Content-Format:261"#),
            "{text}"
        );
        assert!(text.contains("payload (11 bytes, CBOR)"), "{text}");
        assert!(text.contains("\"scope\": h'01'"), "{text}");
    }

    #[test]
    fn describes_text_hex_and_malformed() {
        let m = Message {
            mtype: MessageType::Ack,
            code: 0x45,
            mid: 1,
            token: Token::EMPTY,
            options: Options::new(),
            payload: b"hello".to_vec(),
        };
        let text = describe(&wire::encode(&m, 1152).unwrap());
        assert!(text.contains("ACK 2.05"), "{text}");
        assert!(text.contains("text): \"hello\""), "{text}");
        let bin = Message {
            payload: vec![0, 1, 2],
            ..m
        };
        assert!(describe(&wire::encode(&bin, 1152).unwrap()).contains("000102"));
        assert!(describe(&[0x40, 1]).starts_with("malformed datagram"));
    }
}
