//! A minimal CBOR writer for the fixed structures OSCORE builds on every
//! message: the HKDF `info` arrays (RFC 8613 section 3.2.1, RFC 10021
//! sections 2.1.9 and 4.2), the `aad_array` and `Enc_structure` (RFC 8613
//! section 5.4, RFC 10021 section 3.4) and the `Countersign_structure`
//! (RFC 9338 section 3.3).
//!
//! These are written straight into a byte buffer in preferred (shortest)
//! encoding, without building a `ciborium::Value` tree first: they sit on
//! the per-message hot path. Anything that is *decoded* goes through
//! [`ace_proto::cbor`]; the tests check this writer against it.

/// CBOR major types (RFC 8949 section 3.1).
#[derive(Clone, Copy)]
enum Major {
    Unsigned = 0,
    Negative = 1,
    Bytes = 2,
    Text = 3,
    Array = 4,
}

/// Writes a data item head in preferred encoding (RFC 8949 section 4.2.1).
fn head(out: &mut Vec<u8>, major: Major, value: u64) {
    let m = (major as u8) << 5;
    match value {
        0..=23 => out.push(m | value as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, value as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
}

/// Writes the head of an array of `len` elements.
pub(crate) fn array(out: &mut Vec<u8>, len: usize) {
    head(out, Major::Array, len as u64);
}

/// Writes a byte string.
pub(crate) fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    head(out, Major::Bytes, value.len() as u64);
    out.extend_from_slice(value);
}

/// Writes a text string.
pub(crate) fn text(out: &mut Vec<u8>, value: &str) {
    head(out, Major::Text, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// Writes an unsigned integer.
pub(crate) fn uint(out: &mut Vec<u8>, value: u64) {
    head(out, Major::Unsigned, value);
}

/// Writes a signed integer.
pub(crate) fn int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        head(out, Major::Unsigned, value as u64);
    } else {
        // -1 - n, computed without overflow for i64::MIN.
        head(out, Major::Negative, !(value as u64));
    }
}

/// Writes an optional integer, `null` (0xf6) when absent.
pub(crate) fn opt_int(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        Some(v) => int(out, v),
        None => null(out),
    }
}

/// Writes an optional byte string, `null` when absent.
pub(crate) fn opt_bytes(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => bytes(out, v),
        None => null(out),
    }
}

/// Writes the simple value `null`.
pub(crate) fn null(out: &mut Vec<u8>) {
    out.push(0xf6);
}

/// Writes the simple value `true` or `false`.
pub(crate) fn boolean(out: &mut Vec<u8>, value: bool) {
    out.push(if value { 0xf5 } else { 0xf4 });
}

/// The length of a byte string's head for a payload of `len` bytes.
pub(crate) fn bytes_head_len(len: usize) -> usize {
    match len {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ace_proto::cbor::{Value, to_vec};

    #[test]
    fn matches_the_reference_encoder() {
        for v in [
            0i64,
            1,
            23,
            24,
            255,
            256,
            65535,
            65536,
            -1,
            -8,
            -24,
            -25,
            -27,
            -256,
            -257,
            -65536,
            -65537,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            int(&mut out, v);
            assert_eq!(out, to_vec(&Value::from(v)), "{v}");
        }
        for len in [0usize, 1, 23, 24, 255, 256, 70000] {
            let data = vec![0xab; len];
            let mut out = Vec::new();
            bytes(&mut out, &data);
            assert_eq!(out, to_vec(&Value::Bytes(data)), "{len}");
            assert_eq!(bytes_head_len(len), out.len() - len);
        }
        let mut out = Vec::new();
        text(&mut out, "Encrypt0");
        assert_eq!(out, to_vec(&Value::Text("Encrypt0".into())));
        let mut out = Vec::new();
        array(&mut out, 4);
        null(&mut out);
        boolean(&mut out, true);
        boolean(&mut out, false);
        uint(&mut out, 64);
        assert_eq!(
            out,
            to_vec(&Value::Array(vec![
                Value::Null,
                Value::Bool(true),
                Value::Bool(false),
                Value::from(64)
            ]))
        );
    }
}
