//! The CBOR codec every message type of this crate is built on.
//!
//! Each wire structure implements [`Codec`]: one conversion to and one from a
//! [`ciborium::Value`]. Encoding emits preferred (shortest-form) CBOR with
//! definite lengths and map keys in the order the type writes them (the order
//! of the RFC examples), so the RFC examples are byte-exact vectors. Decoding
//! refuses trailing bytes and duplicate map keys, bounds nesting depth, and
//! never panics. The forms the messages use are read straight into a
//! `Value` by a small reader of this crate; anything else, and every error,
//! is ciborium's.

use crate::error::DecodeError;
pub use ciborium::Value;

/// Maximum nesting depth accepted when decoding; deeper input is refused
/// rather than risking the stack on hostile data.
pub const MAX_DEPTH: usize = 32;

/// A type with one CBOR encoding: the symmetric pair every wire structure of
/// this crate implements.
pub trait Codec: Sized {
    /// Builds the CBOR data item for `self`.
    fn to_value(&self) -> Value;

    /// Reads `Self` from a decoded CBOR data item.
    fn from_value(value: Value) -> Result<Self, DecodeError>;

    /// Encodes `self` as preferred CBOR.
    fn encode(&self) -> Vec<u8> {
        to_vec(&self.to_value())
    }

    /// Decodes `Self` from exactly one CBOR data item in `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_value(from_slice(bytes)?)
    }
}

/// Serializes a value as preferred CBOR (shortest integer and length heads,
/// definite lengths, map entries in the given order).
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if crate::cbor_direct::encode(value, &mut out) {
        return out;
    }
    ciborium_to_vec(value)
}

/// [`to_vec`] through ciborium alone (values with floats).
fn ciborium_to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and every `Value` is serializable.
    if ciborium::ser::into_writer(value, &mut out).is_err() {
        out.clear();
    }
    out
}

/// Decodes exactly one CBOR data item, refusing trailing bytes and nesting
/// deeper than [`MAX_DEPTH`].
pub fn from_slice(bytes: &[u8]) -> Result<Value, DecodeError> {
    let (value, used) = from_prefix(bytes)?;
    match bytes.len() - used {
        0 => Ok(value),
        rest => Err(DecodeError::TrailingData(rest)),
    }
}

/// Decodes one CBOR data item from the front of `bytes`, returning it and the
/// number of bytes it took (for CBOR sequences and concatenations).
pub fn from_prefix(bytes: &[u8]) -> Result<(Value, usize), DecodeError> {
    // The common forms directly; anything else as ciborium decides.
    if let Some(decoded) = crate::cbor_direct::decode(bytes) {
        return Ok(decoded);
    }
    ciborium_prefix(bytes)
}

/// [`from_prefix`] through ciborium alone.
fn ciborium_prefix(bytes: &[u8]) -> Result<(Value, usize), DecodeError> {
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_DEPTH)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Ok((value, bytes.len() - reader.len()))
}

/// Encodes `bytes` as a CBOR byte string (head included), as the PoP inputs
/// of RFC 9594 section 4.3.1 and the Master Salt of RFC 9203 need.
pub fn bstr(bytes: &[u8]) -> Vec<u8> {
    to_vec(&Value::Bytes(bytes.to_vec()))
}

/// The name of a value's CBOR type, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) => "integer",
        Value::Bytes(_) => "byte string",
        Value::Float(_) => "float",
        Value::Text(_) => "text string",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Tag(..) => "tag",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        _ => "simple value",
    }
}

fn unexpected(context: &'static str, want: &'static str, got: &Value) -> DecodeError {
    DecodeError::UnexpectedItem {
        context,
        want,
        got: type_name(got),
    }
}

/// Reads a byte string.
pub fn bytes(value: Value, context: &'static str) -> Result<Vec<u8>, DecodeError> {
    match value {
        Value::Bytes(b) => Ok(b),
        other => Err(unexpected(context, "byte string", &other)),
    }
}

/// Reads a text string.
pub fn text(value: Value, context: &'static str) -> Result<String, DecodeError> {
    match value {
        Value::Text(t) => Ok(t),
        other => Err(unexpected(context, "text string", &other)),
    }
}

/// Reads an array.
pub fn array(value: Value, context: &'static str) -> Result<Vec<Value>, DecodeError> {
    match value {
        Value::Array(a) => Ok(a),
        other => Err(unexpected(context, "array", &other)),
    }
}

/// Reads a bool.
pub fn boolean(value: Value, context: &'static str) -> Result<bool, DecodeError> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(unexpected(context, "bool", &other)),
    }
}

/// Reads an integer that fits an `i64`.
pub fn int(value: Value, context: &'static str) -> Result<i64, DecodeError> {
    match value {
        Value::Integer(i) => i64::try_from(i128::from(i))
            .map_err(|_| DecodeError::invalid(context, "integer out of range")),
        other => Err(unexpected(context, "integer", &other)),
    }
}

/// Reads an unsigned integer that fits a `u64`.
pub fn uint(value: Value, context: &'static str) -> Result<u64, DecodeError> {
    match value {
        Value::Integer(i) => u64::try_from(i128::from(i))
            .map_err(|_| DecodeError::invalid(context, "expected an unsigned integer")),
        other => Err(unexpected(context, "unsigned integer", &other)),
    }
}

/// An `int / tstr` value, as COSE algorithm identifiers, `gkty` and map
/// labels are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrText {
    /// An integer.
    Int(i64),
    /// A text string.
    Text(String),
}

impl IntOrText {
    /// Reads an `int / tstr` value.
    pub fn from_value(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        match value {
            Value::Text(t) => Ok(Self::Text(t)),
            Value::Integer(_) => int(value, context).map(Self::Int),
            other => Err(unexpected(context, "integer or text string", &other)),
        }
    }

    /// The CBOR data item.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Int(i) => Value::from(*i),
            Self::Text(t) => Value::Text(t.clone()),
        }
    }
}

impl From<i64> for IntOrText {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

/// A decoded CBOR map with `int / tstr` keys, read entry by entry.
///
/// Construction refuses duplicate keys and keys of other types. Decoders
/// `take` the parameters they know; what remains can be ignored (as RFC 9594
/// section 4.1.2 requires for unknown parameters) or kept.
#[derive(Debug, Clone, Default)]
pub struct MapReader {
    context: &'static str,
    entries: Vec<(IntOrText, Value)>,
}

impl MapReader {
    /// Reads `value` as a map.
    pub fn new(value: Value, context: &'static str) -> Result<Self, DecodeError> {
        let map = match value {
            Value::Map(m) => m,
            other => return Err(unexpected(context, "map", &other)),
        };
        let mut entries: Vec<(IntOrText, Value)> = Vec::with_capacity(map.len());
        for (key, value) in map {
            let key = IntOrText::from_value(key, context)?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(DecodeError::DuplicateKey {
                    context,
                    key: match key {
                        IntOrText::Int(i) => i.to_string(),
                        IntOrText::Text(t) => format!("{t:?}"),
                    },
                });
            }
            entries.push((key, value));
        }
        Ok(Self { context, entries })
    }

    /// The context name this map was opened with.
    pub fn context(&self) -> &'static str {
        self.context
    }

    /// Removes and returns the entry under integer key `key`.
    pub fn take(&mut self, key: i64) -> Option<Value> {
        self.take_key(&IntOrText::Int(key))
    }

    /// Removes and returns the entry under `key`.
    pub fn take_key(&mut self, key: &IntOrText) -> Option<Value> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    /// Removes the entry under `key`; refuses its absence.
    pub fn require(&mut self, key: i64, name: &'static str) -> Result<Value, DecodeError> {
        self.take(key).ok_or(DecodeError::MissingParameter {
            context: self.context,
            name,
        })
    }

    /// Whether an entry under `key` is present.
    pub fn contains(&self, key: i64) -> bool {
        self.entries.iter().any(|(k, _)| *k == IntOrText::Int(key))
    }

    /// Removes an optional byte string.
    pub fn opt_bytes(
        &mut self,
        key: i64,
        name: &'static str,
    ) -> Result<Option<Vec<u8>>, DecodeError> {
        self.take(key).map(|v| bytes(v, name)).transpose()
    }

    /// Removes a required byte string.
    pub fn req_bytes(&mut self, key: i64, name: &'static str) -> Result<Vec<u8>, DecodeError> {
        bytes(self.require(key, name)?, name)
    }

    /// Removes an optional text string.
    pub fn opt_text(
        &mut self,
        key: i64,
        name: &'static str,
    ) -> Result<Option<String>, DecodeError> {
        self.take(key).map(|v| text(v, name)).transpose()
    }

    /// Removes a required text string.
    pub fn req_text(&mut self, key: i64, name: &'static str) -> Result<String, DecodeError> {
        text(self.require(key, name)?, name)
    }

    /// Removes an optional integer.
    pub fn opt_int(&mut self, key: i64, name: &'static str) -> Result<Option<i64>, DecodeError> {
        self.take(key).map(|v| int(v, name)).transpose()
    }

    /// Removes a required integer.
    pub fn req_int(&mut self, key: i64, name: &'static str) -> Result<i64, DecodeError> {
        int(self.require(key, name)?, name)
    }

    /// Removes an optional unsigned integer.
    pub fn opt_uint(&mut self, key: i64, name: &'static str) -> Result<Option<u64>, DecodeError> {
        self.take(key).map(|v| uint(v, name)).transpose()
    }

    /// Removes a required unsigned integer.
    pub fn req_uint(&mut self, key: i64, name: &'static str) -> Result<u64, DecodeError> {
        uint(self.require(key, name)?, name)
    }

    /// The entries not taken so far, in wire order.
    pub fn into_rest(self) -> Vec<(IntOrText, Value)> {
        self.entries
    }

    /// Refuses any entry not taken so far (for structures whose specification
    /// allows no extensions, e.g. the `ace-groupcomm-error` map).
    pub fn finish_strict(self) -> Result<(), DecodeError> {
        match self.entries.first() {
            None => Ok(()),
            Some((key, _)) => Err(DecodeError::invalid(
                self.context,
                format!("unexpected map key {key:?}"),
            )),
        }
    }
}

/// Builds a map in a fixed key order.
#[derive(Debug, Clone, Default)]
pub struct MapBuilder {
    entries: Vec<(Value, Value)>,
}

impl MapBuilder {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `key: value`.
    #[must_use]
    pub fn entry(mut self, key: i64, value: impl Into<Value>) -> Self {
        self.entries.push((Value::from(key), value.into()));
        self
    }

    /// Appends `key: value` when `value` is present.
    #[must_use]
    pub fn opt(self, key: i64, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(v) => self.entry(key, v),
            None => self,
        }
    }

    /// Appends `key: h'..'`.
    #[must_use]
    pub fn bytes(self, key: i64, value: &[u8]) -> Self {
        self.entry(key, Value::Bytes(value.to_vec()))
    }

    /// Appends `key: h'..'` when present.
    #[must_use]
    pub fn opt_bytes(self, key: i64, value: Option<&[u8]>) -> Self {
        match value {
            Some(v) => self.bytes(key, v),
            None => self,
        }
    }

    /// Appends an entry with any key.
    #[must_use]
    pub fn raw(mut self, key: Value, value: Value) -> Self {
        self.entries.push((key, value));
        self
    }

    /// The finished map.
    pub fn build(self) -> Value {
        Value::Map(self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_encoding_of_integers_and_lengths() {
        assert_eq!(to_vec(&Value::from(23)), [0x17]);
        assert_eq!(to_vec(&Value::from(24)), [0x18, 0x18]);
        assert_eq!(to_vec(&Value::from(65600)), [0x1a, 0x00, 0x01, 0x00, 0x40]);
        assert_eq!(to_vec(&Value::from(-1)), [0x20]);
        assert_eq!(bstr(&[0xaa; 8])[0], 0x48);
        assert_eq!(bstr(&[0; 24])[..2], [0x58, 24]);
    }

    #[test]
    fn map_builder_keeps_order() {
        let v = MapBuilder::new().entry(9, 12).bytes(8, b"k").build();
        assert_eq!(to_vec(&v), [0xa2, 0x09, 0x0c, 0x08, 0x41, b'k']);
    }

    #[test]
    fn trailing_bytes_and_malformed_input_are_refused() {
        assert_eq!(from_slice(&[0x01, 0x02]), Err(DecodeError::TrailingData(1)));
        assert!(matches!(
            from_slice(&[0xa1]),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(from_slice(&[]), Err(DecodeError::Malformed(_))));
        // A byte string claiming 2^63 bytes must not allocate or panic.
        let huge = [0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(from_slice(&huge).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = vec![0x81; 10_000];
        assert!(from_slice(&deep).is_err());
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let v = from_slice(&[0xa2, 0x01, 0x01, 0x01, 0x02]).unwrap();
        assert!(matches!(
            MapReader::new(v, "test"),
            Err(DecodeError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn map_reader_types_and_rest() {
        // {1: h'01', 2: "x", 3: 7, "ind-key": h'ff'}
        let v = from_slice(&[
            0xa4, 0x01, 0x41, 0x01, 0x02, 0x61, b'x', 0x03, 0x07, 0x67, b'i', b'n', b'd', b'-',
            b'k', b'e', b'y', 0x41, 0xff,
        ])
        .unwrap();
        let mut m = MapReader::new(v, "test").unwrap();
        assert_eq!(m.req_bytes(1, "a").unwrap(), vec![1]);
        assert!(matches!(
            m.opt_bytes(2, "b"),
            Err(DecodeError::UnexpectedItem {
                want: "byte string",
                got: "text string",
                ..
            })
        ));
        assert_eq!(m.opt_uint(3, "c").unwrap(), Some(7));
        assert_eq!(m.opt_uint(3, "c").unwrap(), None);
        assert!(matches!(
            m.require(4, "d"),
            Err(DecodeError::MissingParameter { .. })
        ));
        let rest = m.into_rest();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, IntOrText::Text("ind-key".into()));
    }

    /// What [`from_prefix`] returned before the direct decoder, with the
    /// value in debug notation so that results compare (a NaN is not equal
    /// to itself as a `Value`).
    fn ciborium_only(bytes: &[u8]) -> Result<(String, usize), DecodeError> {
        ciborium_prefix(bytes).map(|(v, n)| (format!("{v:?}"), n))
    }

    fn direct_first(bytes: &[u8]) -> Result<(String, usize), DecodeError> {
        from_prefix(bytes).map(|(v, n)| (format!("{v:?}"), n))
    }

    /// Every prefix, and every single-byte change, of `bytes` decodes as
    /// ciborium alone decodes it: the same value and length, or the same
    /// error.
    fn same_as_ciborium_around(bytes: &[u8]) {
        let mut cases = vec![bytes.to_vec()];
        for end in 0..bytes.len() {
            cases.push(bytes[..end].to_vec());
        }
        for i in 0..bytes.len() {
            for b in [
                0x00, 0x17, 0x18, 0x1b, 0x1f, 0x3b, 0x5f, 0x7f, 0x9f, 0xbf, 0xc2, 0xf7, 0xf9, 0xff,
            ] {
                let mut changed = bytes.to_vec();
                changed[i] = b;
                cases.push(changed);
            }
            let mut flipped = bytes.to_vec();
            flipped[i] ^= 0x80;
            cases.push(flipped);
        }
        for case in cases {
            assert_eq!(
                direct_first(&case),
                ciborium_only(&case),
                "{}",
                hex::encode(&case)
            );
        }
    }

    #[test]
    fn the_direct_decoder_agrees_with_ciborium() {
        let big = Value::Bytes(vec![7; 300]);
        let values = [
            Value::from(0),
            Value::from(23),
            Value::from(24),
            Value::from(u64::MAX),
            Value::from(-1),
            Value::from(-25),
            Value::from(i64::MIN),
            Value::Integer(ciborium::value::Integer::try_from(-1 - i128::from(u64::MAX)).unwrap()),
            Value::Bytes(vec![]),
            big.clone(),
            Value::Text("grüße".into()),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::Float(1.5),
            Value::Tag(18, Box::new(Value::Array(vec![big, Value::Map(vec![])]))),
            Value::Tag(2, Box::new(Value::Bytes(vec![1, 2]))),
            Value::Tag(3, Box::new(Value::Bytes(vec![0xff; 17]))),
            Value::Map(vec![
                (Value::from(1), Value::Text("a".into())),
                (
                    Value::Text("k".into()),
                    Value::Array(vec![Value::Null, Value::from(-3)]),
                ),
                (Value::from(1), Value::Bool(false)),
            ]),
        ];
        for v in &values {
            same_as_ciborium_around(&to_vec(v));
        }
        // Forms only ciborium reads: indefinite lengths, undefined, other
        // simple values, non-shortest heads, reserved additional information.
        for bytes in [
            &[0x5f, 0x41, 0x01, 0xff][..],
            &[0x7f, 0x61, b'a', 0xff],
            &[0x9f, 0x01, 0xff],
            &[0xbf, 0x01, 0x02, 0xff],
            &[0xf7],
            &[0xf0],
            &[0xf8, 0x20],
            &[0x18, 0x01],
            &[0x59, 0x00, 0x01, 0xaa],
            &[0x1c],
            &[0x62, 0xc3, 0x28],
            &[0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0],
        ] {
            same_as_ciborium_around(bytes);
        }
        // Strings longer than ciborium's scratch buffer, with characters
        // across its chunk boundaries.
        for long in [
            Value::Text("ü".repeat(3000) + "€x" + &"€".repeat(2000)),
            Value::Bytes(vec![0xc3; 9000]),
        ] {
            let bytes = to_vec(&long);
            assert_eq!(direct_first(&bytes), ciborium_only(&bytes));
            let cut = &bytes[..bytes.len() - 1];
            assert_eq!(direct_first(cut), ciborium_only(cut));
        }
        // Nesting on both sides of the direct decoder's own depth limit and
        // of MAX_DEPTH.
        for depth in [15, 16, 17, 31, 32, 33, 40] {
            let mut nested = vec![0x81; depth];
            nested.push(0x01);
            assert_eq!(
                direct_first(&nested),
                ciborium_only(&nested),
                "depth {depth}"
            );
            let mut tagged = [0xd8, 0x40].repeat(depth);
            tagged.push(0x01);
            assert_eq!(
                direct_first(&tagged),
                ciborium_only(&tagged),
                "tags {depth}"
            );
        }
    }

    /// 20,000 byte strings of 0 to 23 bytes from a fixed xorshift
    /// sequence: the same cases on every run.
    fn pseudo_random_inputs(seed: u64) -> impl Iterator<Item = Vec<u8>> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..20_000).map(move |_| {
            let len = usize::try_from(next() % 24).unwrap();
            (0..len).map(|_| next().to_le_bytes()[3]).collect()
        })
    }

    /// The direct encoder writes what ciborium writes, for `value` and
    /// every value nested in it.
    fn encodes_as_ciborium(value: &Value) {
        assert_eq!(to_vec(value), ciborium_to_vec(value), "{value:?}");
        match value {
            Value::Array(items) => items.iter().for_each(encodes_as_ciborium),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                encodes_as_ciborium(k);
                encodes_as_ciborium(v);
            }),
            Value::Tag(_, inner) => encodes_as_ciborium(inner),
            _ => {}
        }
    }

    #[test]
    fn the_direct_encoder_agrees_with_ciborium() {
        let mut values = vec![
            Value::Map(vec![(Value::from(1), Value::Float(0.5))]),
            Value::Array(vec![Value::Float(f64::NAN), Value::from(1)]),
            Value::Float(1.0e300),
        ];
        // Every head size, on both sides of each boundary.
        for n in [
            0u64,
            23,
            24,
            255,
            256,
            65_535,
            65_536,
            4_294_967_295,
            4_294_967_296,
            u64::MAX,
        ] {
            values.push(Value::from(n));
            values.push(Value::Integer(
                ciborium::value::Integer::try_from(-1 - i128::from(n)).unwrap(),
            ));
            values.push(Value::Tag(n, Box::new(Value::Null)));
        }
        for len in [0, 23, 24, 255, 256, 70_000] {
            values.push(Value::Bytes(vec![0x5a; len]));
            values.push(Value::Text("t".repeat(len)));
            values.push(Value::Array(vec![Value::Bool(len % 2 == 0); len.min(300)]));
            values.push(Value::Map(vec![
                (Value::from(-7), Value::Null);
                len.min(300)
            ]));
        }
        for v in &values {
            encodes_as_ciborium(v);
        }
        // And whatever the decoder makes of pseudo-random bytes.
        let mut decoded = 0;
        for bytes in pseudo_random_inputs(0x9203) {
            if let Ok((v, _)) = from_prefix(&bytes) {
                encodes_as_ciborium(&v);
                decoded += 1;
            }
        }
        assert!(decoded > 1_000, "{decoded}");
    }

    #[test]
    fn the_direct_decoder_agrees_with_ciborium_on_random_bytes() {
        for bytes in pseudo_random_inputs(0x9594) {
            assert_eq!(
                direct_first(&bytes),
                ciborium_only(&bytes),
                "{}",
                hex::encode(&bytes)
            );
        }
    }

    #[test]
    fn int_ranges() {
        assert!(uint(Value::from(-1), "x").is_err());
        assert_eq!(int(Value::from(-8), "x").unwrap(), -8);
        assert!(int(Value::from(u64::MAX), "x").is_err());
        assert_eq!(uint(Value::from(u64::MAX), "x").unwrap(), u64::MAX);
    }
}
