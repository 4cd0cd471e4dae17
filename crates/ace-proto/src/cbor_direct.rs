//! Direct conversions between CBOR bytes and [`ciborium::Value`] for the
//! forms this project's messages use: integers, definite-length byte and
//! text strings, arrays and maps, tags, `true`, `false` and `null`.
//!
//! ciborium builds a `Value` through serde's visitor machinery, which costs
//! more than the data: decoding tokens and join messages was a tenth of the
//! KDC's CPU per join outside the signatures (BENCHMARKS.md, "ace-kdc").
//! This reader walks the bytes once and allocates only the `Value` itself.
//!
//! It gives up ([`None`]) on everything else: indefinite lengths, floats,
//! other simple values, the bignum tags 2 and 3 (which ciborium turns into
//! integers), nesting deeper than [`DEPTH`], invalid UTF-8, truncated or
//! malformed input. The caller then decodes with ciborium, so every input
//! this reader does not handle gets exactly ciborium's result or error, and
//! every input it handles gets the `Value` ciborium would build (tested
//! against ciborium in `cbor::tests`).
//!
//! [`encode`] writes what ciborium writes for such a value with the writers
//! of [`crate::cbor_write`]: shortest heads, definite lengths, entries in
//! order. It declines values holding a float
//! (ciborium picks among three float widths), which the caller then
//! encodes with ciborium.

use crate::cbor_write::{self as write, Major};
use ciborium::Value;
use ciborium::value::Integer;

/// The deepest nesting of arrays, maps and tags handled here; ciborium's
/// limit ([`crate::cbor::MAX_DEPTH`]) is higher, so nothing this reader
/// accepts would hit it.
const DEPTH: usize = 16;

/// Decodes the data item at the front of `bytes`; returns it and the bytes
/// it took, or `None` when ciborium must decide.
pub(crate) fn decode(bytes: &[u8]) -> Option<(Value, usize)> {
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.item(0)?;
    Some((value, reader.pos))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let taken = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(taken)
    }

    fn take_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// The argument of a head (RFC 8949 section 3): the additional
    /// information itself, or the 1, 2, 4 or 8 bytes that follow.
    fn argument(&mut self, info: u8) -> Option<u64> {
        match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(u64::from(self.take_array::<1>()?[0])),
            25 => Some(u64::from(u16::from_be_bytes(self.take_array()?))),
            26 => Some(u64::from(u32::from_be_bytes(self.take_array()?))),
            27 => Some(u64::from_be_bytes(self.take_array()?)),
            _ => None,
        }
    }

    /// A definite length that the rest of the input can hold, counting
    /// `unit` bytes at least per element.
    fn length(&mut self, info: u8, unit: usize) -> Option<usize> {
        let len = usize::try_from(self.argument(info)?).ok()?;
        (len.checked_mul(unit)? <= self.remaining()).then_some(len)
    }

    fn item(&mut self, depth: usize) -> Option<Value> {
        let initial = *self.bytes.get(self.pos)?;
        self.pos += 1;
        let info = initial & 0x1f;
        match initial >> 5 {
            0 => Some(Value::Integer(Integer::from(self.argument(info)?))),
            1 => {
                let n = self.argument(info)?;
                Integer::try_from(-1 - i128::from(n))
                    .ok()
                    .map(Value::Integer)
            }
            2 => {
                let len = self.length(info, 1)?;
                Some(Value::Bytes(self.take(len)?.to_vec()))
            }
            3 => {
                let len = self.length(info, 1)?;
                let text = std::str::from_utf8(self.take(len)?).ok()?;
                Some(Value::Text(text.to_owned()))
            }
            4 if depth < DEPTH => {
                let len = self.length(info, 1)?;
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.item(depth + 1)?);
                }
                Some(Value::Array(items))
            }
            5 if depth < DEPTH => {
                let len = self.length(info, 2)?;
                let mut entries = Vec::with_capacity(len);
                for _ in 0..len {
                    let key = self.item(depth + 1)?;
                    let value = self.item(depth + 1)?;
                    entries.push((key, value));
                }
                Some(Value::Map(entries))
            }
            6 if depth < DEPTH => match self.argument(info)? {
                2 | 3 => None,
                tag => Some(Value::Tag(tag, Box::new(self.item(depth + 1)?))),
            },
            7 => match info {
                20 => Some(Value::Bool(false)),
                21 => Some(Value::Bool(true)),
                22 => Some(Value::Null),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Appends the encoding of `value` to `out`; `false`, with `out` in an
/// unspecified state, when `value` holds a float.
pub(crate) fn encode(value: &Value, out: &mut Vec<u8>) -> bool {
    match value {
        Value::Integer(n) => {
            let n = i128::from(*n);
            // A ciborium integer lies in [-2^64, 2^64 - 1]: one head.
            match (u64::try_from(n), u64::try_from(-1 - n)) {
                (Ok(n), _) => write::uint(out, n),
                (_, Ok(n)) => write::head(out, Major::Negative, n),
                _ => return false,
            }
        }
        Value::Bytes(b) => write::bytes(out, b),
        Value::Text(t) => write::text(out, t),
        Value::Array(items) => {
            write::array(out, items.len());
            return items.iter().all(|item| encode(item, out));
        }
        Value::Map(entries) => {
            write::map(out, entries.len());
            return entries
                .iter()
                .all(|(k, v)| encode(k, out) && encode(v, out));
        }
        Value::Tag(tag, inner) => {
            write::tag(out, *tag);
            return encode(inner, out);
        }
        Value::Bool(b) => write::boolean(out, *b),
        Value::Null => write::null(out),
        _ => return false,
    }
    true
}
