//! Writers of single CBOR data items straight into a byte buffer, in
//! preferred encoding (RFC 8949 section 4.2.1), without building a
//! [`ciborium::Value`] first.
//!
//! Two users: [`crate::cbor::to_vec`], which walks a `Value` with them, and
//! the fixed structures Group OSCORE builds on every message (HKDF `info`,
//! `aad_array`, `Enc_structure`, `Countersign_structure`), which sit on the
//! per-message hot path. Each writer is checked against ciborium's encoding
//! in this module's tests. The writers are `#[inline]` so that the other
//! crates' hot paths can inline them as they would their own.

/// CBOR major types (RFC 8949 section 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Major {
    /// Unsigned integer.
    Unsigned = 0,
    /// Negative integer `-1 - n`.
    Negative = 1,
    /// Byte string.
    Bytes = 2,
    /// Text string.
    Text = 3,
    /// Array.
    Array = 4,
    /// Map.
    Map = 5,
    /// Tag.
    Tag = 6,
}

/// Writes a data item head in its shortest form.
#[inline]
pub fn head(out: &mut Vec<u8>, major: Major, value: u64) {
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
#[inline]
pub fn array(out: &mut Vec<u8>, len: usize) {
    head(out, Major::Array, len as u64);
}

/// Writes the head of a map of `len` entries.
#[inline]
pub fn map(out: &mut Vec<u8>, len: usize) {
    head(out, Major::Map, len as u64);
}

/// Writes a tag's head; the tagged item follows.
#[inline]
pub fn tag(out: &mut Vec<u8>, tag: u64) {
    head(out, Major::Tag, tag);
}

/// Writes a byte string.
#[inline]
pub fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    head(out, Major::Bytes, value.len() as u64);
    out.extend_from_slice(value);
}

/// Writes a text string.
#[inline]
pub fn text(out: &mut Vec<u8>, value: &str) {
    head(out, Major::Text, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// Writes an unsigned integer.
#[inline]
pub fn uint(out: &mut Vec<u8>, value: u64) {
    head(out, Major::Unsigned, value);
}

/// Writes a signed integer.
#[inline]
pub fn int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        head(out, Major::Unsigned, value as u64);
    } else {
        // -1 - n, computed without overflow for i64::MIN.
        head(out, Major::Negative, !(value as u64));
    }
}

/// Writes an optional integer, `null` (0xf6) when absent.
#[inline]
pub fn opt_int(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        Some(v) => int(out, v),
        None => null(out),
    }
}

/// Writes an optional byte string, `null` when absent.
#[inline]
pub fn opt_bytes(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => bytes(out, v),
        None => null(out),
    }
}

/// Writes the simple value `null`.
#[inline]
pub fn null(out: &mut Vec<u8>) {
    out.push(0xf6);
}

/// Writes the simple value `true` or `false`.
#[inline]
pub fn boolean(out: &mut Vec<u8>, value: bool) {
    out.push(if value { 0xf5 } else { 0xf4 });
}

/// The length of a byte string's head for a payload of `len` bytes.
#[inline]
pub fn bytes_head_len(len: usize) -> usize {
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
    use crate::cbor::Value;

    /// ciborium's encoding, the reference.
    fn reference(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(value, &mut out).unwrap();
        out
    }

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
            assert_eq!(out, reference(&Value::from(v)), "{v}");
        }
        for len in [0usize, 1, 23, 24, 255, 256, 70000] {
            let data = vec![0xab; len];
            let mut out = Vec::new();
            bytes(&mut out, &data);
            assert_eq!(out, reference(&Value::Bytes(data)), "{len}");
            assert_eq!(bytes_head_len(len), out.len() - len);
        }
        let mut out = Vec::new();
        text(&mut out, "Encrypt0");
        assert_eq!(out, reference(&Value::Text("Encrypt0".into())));
        let mut out = Vec::new();
        array(&mut out, 4);
        null(&mut out);
        boolean(&mut out, true);
        boolean(&mut out, false);
        uint(&mut out, 64);
        assert_eq!(
            out,
            reference(&Value::Array(vec![
                Value::Null,
                Value::Bool(true),
                Value::Bool(false),
                Value::from(64)
            ]))
        );
        let mut out = Vec::new();
        tag(&mut out, 18);
        map(&mut out, 1);
        opt_int(&mut out, Some(-7));
        opt_bytes(&mut out, None);
        assert_eq!(
            out,
            reference(&Value::Tag(
                18,
                Box::new(Value::Map(vec![(Value::from(-7), Value::Null)]))
            ))
        );
    }
}
