//! CoAP options: numbers, properties and an ordered option list
//! (RFC 7252 section 5.4 and section 5.10, with the options that RFC 7641,
//! RFC 7959, RFC 7967, RFC 8613, RFC 8768, RFC 9175 and RFC 9528 register).

use std::fmt;

/// Registered option numbers (RFC 7252 section 12.2, "CoAP Option Numbers").
pub mod number {
    /// If-Match, RFC 7252 section 5.10.8.1.
    pub const IF_MATCH: u16 = 1;
    /// Uri-Host, RFC 7252 section 5.10.1.
    pub const URI_HOST: u16 = 3;
    /// ETag, RFC 7252 section 5.10.6.
    pub const ETAG: u16 = 4;
    /// If-None-Match, RFC 7252 section 5.10.8.2.
    pub const IF_NONE_MATCH: u16 = 5;
    /// Observe, RFC 7641 section 2.
    pub const OBSERVE: u16 = 6;
    /// Uri-Port, RFC 7252 section 5.10.1.
    pub const URI_PORT: u16 = 7;
    /// Location-Path, RFC 7252 section 5.10.7.
    pub const LOCATION_PATH: u16 = 8;
    /// OSCORE, RFC 8613 section 2.
    pub const OSCORE: u16 = 9;
    /// Uri-Path, RFC 7252 section 5.10.1.
    pub const URI_PATH: u16 = 11;
    /// Content-Format, RFC 7252 section 5.10.3.
    pub const CONTENT_FORMAT: u16 = 12;
    /// Max-Age, RFC 7252 section 5.10.5.
    pub const MAX_AGE: u16 = 14;
    /// Uri-Query, RFC 7252 section 5.10.1.
    pub const URI_QUERY: u16 = 15;
    /// Hop-Limit, RFC 8768 section 3.
    pub const HOP_LIMIT: u16 = 16;
    /// Accept, RFC 7252 section 5.10.4.
    pub const ACCEPT: u16 = 17;
    /// Location-Query, RFC 7252 section 5.10.7.
    pub const LOCATION_QUERY: u16 = 20;
    /// EDHOC, RFC 9668 section 3.1.
    pub const EDHOC: u16 = 21;
    /// Block2, RFC 7959 section 2.1.
    pub const BLOCK2: u16 = 23;
    /// Block1, RFC 7959 section 2.1.
    pub const BLOCK1: u16 = 27;
    /// Size2, RFC 7959 section 4.
    pub const SIZE2: u16 = 28;
    /// Proxy-Uri, RFC 7252 section 5.10.2.
    pub const PROXY_URI: u16 = 35;
    /// Proxy-Scheme, RFC 7252 section 5.10.2.
    pub const PROXY_SCHEME: u16 = 39;
    /// Size1, RFC 7252 section 5.10.9 and RFC 7959 section 4.
    pub const SIZE1: u16 = 60;
    /// Echo, RFC 9175 section 2.2.
    pub const ECHO: u16 = 252;
    /// No-Response, RFC 7967 section 2.
    pub const NO_RESPONSE: u16 = 258;
    /// Request-Tag, RFC 9175 section 3.2.
    pub const REQUEST_TAG: u16 = 292;
}

/// Whether an option is critical: odd numbers are (RFC 7252 section 5.4.6).
pub const fn is_critical(number: u16) -> bool {
    number & 1 == 1
}

/// Whether an option is unsafe to forward (RFC 7252 section 5.4.6).
pub const fn is_unsafe(number: u16) -> bool {
    number & 2 == 2
}

/// Whether an option is NoCacheKey (RFC 7252 section 5.4.6).
pub const fn is_no_cache_key(number: u16) -> bool {
    number & 0x1e == 0x1c
}

/// The value format of an option (RFC 7252 section 3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueFormat {
    /// A zero-length value.
    Empty,
    /// An opaque byte sequence.
    Opaque,
    /// A non-negative integer in network byte order, leading zeros omitted.
    Uint,
    /// A UTF-8 string (Net-Unicode, RFC 5198).
    String,
}

/// How an option is defined: its name, value format, permitted value length
/// and whether it may occur more than once (RFC 7252 section 5.10, Table 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionDefinition {
    /// The option number.
    pub number: u16,
    /// The registered name.
    pub name: &'static str,
    /// The value format.
    pub format: ValueFormat,
    /// The minimum value length in bytes.
    pub min_len: usize,
    /// The maximum value length in bytes.
    pub max_len: usize,
    /// Whether the option may be repeated.
    pub repeatable: bool,
}

const fn def(
    number: u16,
    name: &'static str,
    format: ValueFormat,
    min_len: usize,
    max_len: usize,
    repeatable: bool,
) -> OptionDefinition {
    OptionDefinition {
        number,
        name,
        format,
        min_len,
        max_len,
        repeatable,
    }
}

/// The options this crate knows, ordered by number.
const DEFINITIONS: &[OptionDefinition] = &[
    def(
        number::IF_MATCH,
        "If-Match",
        ValueFormat::Opaque,
        0,
        8,
        true,
    ),
    def(
        number::URI_HOST,
        "Uri-Host",
        ValueFormat::String,
        1,
        255,
        false,
    ),
    def(number::ETAG, "ETag", ValueFormat::Opaque, 1, 8, true),
    def(
        number::IF_NONE_MATCH,
        "If-None-Match",
        ValueFormat::Empty,
        0,
        0,
        false,
    ),
    def(number::OBSERVE, "Observe", ValueFormat::Uint, 0, 3, false),
    def(number::URI_PORT, "Uri-Port", ValueFormat::Uint, 0, 2, false),
    def(
        number::LOCATION_PATH,
        "Location-Path",
        ValueFormat::String,
        0,
        255,
        true,
    ),
    def(number::OSCORE, "OSCORE", ValueFormat::Opaque, 0, 255, false),
    def(
        number::URI_PATH,
        "Uri-Path",
        ValueFormat::String,
        0,
        255,
        true,
    ),
    def(
        number::CONTENT_FORMAT,
        "Content-Format",
        ValueFormat::Uint,
        0,
        2,
        false,
    ),
    def(number::MAX_AGE, "Max-Age", ValueFormat::Uint, 0, 4, false),
    def(
        number::URI_QUERY,
        "Uri-Query",
        ValueFormat::String,
        0,
        255,
        true,
    ),
    def(
        number::HOP_LIMIT,
        "Hop-Limit",
        ValueFormat::Uint,
        1,
        1,
        false,
    ),
    def(number::ACCEPT, "Accept", ValueFormat::Uint, 0, 2, false),
    def(
        number::LOCATION_QUERY,
        "Location-Query",
        ValueFormat::String,
        0,
        255,
        true,
    ),
    def(number::EDHOC, "EDHOC", ValueFormat::Empty, 0, 0, false),
    def(number::BLOCK2, "Block2", ValueFormat::Uint, 0, 3, false),
    def(number::BLOCK1, "Block1", ValueFormat::Uint, 0, 3, false),
    def(number::SIZE2, "Size2", ValueFormat::Uint, 0, 4, false),
    def(
        number::PROXY_URI,
        "Proxy-Uri",
        ValueFormat::String,
        1,
        1034,
        false,
    ),
    def(
        number::PROXY_SCHEME,
        "Proxy-Scheme",
        ValueFormat::String,
        1,
        255,
        false,
    ),
    def(number::SIZE1, "Size1", ValueFormat::Uint, 0, 4, false),
    def(number::ECHO, "Echo", ValueFormat::Opaque, 1, 40, false),
    def(
        number::NO_RESPONSE,
        "No-Response",
        ValueFormat::Uint,
        0,
        1,
        false,
    ),
    def(
        number::REQUEST_TAG,
        "Request-Tag",
        ValueFormat::Opaque,
        0,
        8,
        true,
    ),
];

/// The definition of a known option, if this crate knows it.
pub fn definition(number: u16) -> Option<&'static OptionDefinition> {
    DEFINITIONS
        .binary_search_by_key(&number, |d| d.number)
        .ok()
        .map(|i| &DEFINITIONS[i])
}

/// The registered name of an option, or `None` if it is unknown here.
pub fn name(number: u16) -> Option<&'static str> {
    definition(number).map(|d| d.name)
}

/// The No-Response bit of a response code's class (RFC 7967 section 2.1):
/// 2 for 2.xx, 8 for 4.xx, 16 for 5.xx, 0 otherwise.
pub const fn no_response_bit(code: ace_proto::Code) -> u8 {
    match code.class() {
        2 => 0x02,
        4 => 0x08,
        5 => 0x10,
        _ => 0,
    }
}

/// Encodes a uint option value: network byte order, leading zero bytes
/// omitted, so 0 is the empty value (RFC 7252 section 3.2).
pub fn encode_uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// Decodes a uint option value of at most four bytes.
///
/// Leading zero bytes are tolerated on input, as RFC 7252 section 3.2 asks
/// of a receiver; more than four bytes are refused.
pub fn decode_uint(value: &[u8]) -> Option<u32> {
    if value.len() > 4 {
        return None;
    }
    Some(value.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// An ordered list of CoAP options: sorted by number, with repeated options
/// kept in the order they were added (RFC 7252 section 3.1, section 5.4.5).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Options {
    entries: Vec<(u16, Vec<u8>)>,
}

impl Options {
    /// An empty option list.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The number of option instances.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no options.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every option instance in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        self.entries.iter().map(|(n, v)| (*n, v.as_slice()))
    }

    /// The first value of option `number`.
    pub fn get(&self, number: u16) -> Option<&[u8]> {
        let start = self.entries.partition_point(|(n, _)| *n < number);
        match self.entries.get(start) {
            Some((n, v)) if *n == number => Some(v.as_slice()),
            _ => None,
        }
    }

    /// Every value of option `number`, in order.
    pub fn get_all(&self, number: u16) -> impl Iterator<Item = &[u8]> + '_ {
        let start = self.entries.partition_point(|(n, _)| *n < number);
        self.entries[start..]
            .iter()
            .take_while(move |(n, _)| *n == number)
            .map(|(_, v)| v.as_slice())
    }

    /// How many times option `number` occurs.
    pub fn count(&self, number: u16) -> usize {
        self.get_all(number).count()
    }

    /// Whether option `number` occurs.
    pub fn contains(&self, number: u16) -> bool {
        self.get(number).is_some()
    }

    /// Appends a value of option `number` after any existing values.
    pub fn push(&mut self, number: u16, value: impl Into<Vec<u8>>) {
        let at = self.entries.partition_point(|(n, _)| *n <= number);
        self.entries.insert(at, (number, value.into()));
    }

    /// Appends an option read from the wire, where each number is the
    /// previous one plus a delta (RFC 7252 section 3.1), so never lower.
    pub(crate) fn push_last(&mut self, number: u16, value: Vec<u8>) {
        debug_assert!(self.entries.last().is_none_or(|(last, _)| *last <= number));
        self.entries.push((number, value));
    }

    /// Replaces all values of option `number` with `value`.
    pub fn set(&mut self, number: u16, value: impl Into<Vec<u8>>) {
        self.remove(number);
        self.push(number, value);
    }

    /// Removes every value of option `number`.
    pub fn remove(&mut self, number: u16) {
        self.entries.retain(|(n, _)| *n != number);
    }

    /// The first value of a uint option, or `None` if absent or longer than
    /// four bytes.
    pub fn get_uint(&self, number: u16) -> Option<u32> {
        self.get(number).and_then(decode_uint)
    }

    /// Replaces option `number` with a uint value.
    pub fn set_uint(&mut self, number: u16, value: u32) {
        self.set(number, encode_uint(value));
    }

    /// The first value of a string option, if it is valid UTF-8.
    pub fn get_str(&self, number: u16) -> Option<&str> {
        self.get(number).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Content-Format (RFC 7252 section 5.10.3).
    pub fn content_format(&self) -> Option<u16> {
        self.get_uint(number::CONTENT_FORMAT)
            .and_then(|v| u16::try_from(v).ok())
    }

    /// Sets Content-Format (RFC 7252 section 5.10.3).
    pub fn set_content_format(&mut self, format: u16) {
        self.set_uint(number::CONTENT_FORMAT, u32::from(format));
    }

    /// Accept (RFC 7252 section 5.10.4).
    pub fn accept(&self) -> Option<u16> {
        self.get_uint(number::ACCEPT)
            .and_then(|v| u16::try_from(v).ok())
    }

    /// Observe (RFC 7641 section 2), a 24-bit value.
    pub fn observe(&self) -> Option<u32> {
        self.get_uint(number::OBSERVE).filter(|v| *v <= 0x00ff_ffff)
    }

    /// Max-Age in seconds (RFC 7252 section 5.10.5); absent means 60.
    pub fn max_age(&self) -> Option<u32> {
        self.get_uint(number::MAX_AGE)
    }

    /// The first ETag (RFC 7252 section 5.10.6).
    pub fn etag(&self) -> Option<&[u8]> {
        self.get(number::ETAG)
    }

    /// The suppression bits of No-Response (RFC 7967 section 2.1: 2 for
    /// 2.xx, 8 for 4.xx, 16 for 5.xx); 0, "interested in all responses",
    /// when absent or not a one-byte unsigned integer.
    pub fn no_response(&self) -> u8 {
        self.get_uint(number::NO_RESPONSE)
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(0)
    }

    /// Whether the No-Response option of a request declines responses
    /// with `code`'s class (RFC 7967 section 2.1).
    pub fn no_response_declines(&self, code: ace_proto::Code) -> bool {
        self.no_response() & no_response_bit(code) != 0
    }

    /// The Location-Path segments (RFC 7252 section 5.10.7), lossily decoded.
    pub fn location_path(&self) -> Vec<String> {
        self.get_all(number::LOCATION_PATH)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// Replaces the Location-Path with the segments of `path` (split on `/`,
    /// leading slash optional).
    pub fn set_location_path(&mut self, path: &str) {
        self.remove(number::LOCATION_PATH);
        for segment in path.trim_start_matches('/').split('/') {
            if !segment.is_empty() {
                self.push(number::LOCATION_PATH, segment.as_bytes());
            }
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| OptionDisplay(n, v)))
            .finish()
    }
}

/// Renders one option as `Name:value` for logs and traces: strings quoted,
/// uints in decimal, Block options as `num/M/size`, opaque values in hex.
pub struct OptionDisplay<'a>(pub u16, pub &'a [u8]);

impl fmt::Debug for OptionDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for OptionDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let OptionDisplay(number, value) = *self;
        match definition(number) {
            Some(d) => write!(f, "{}:", d.name)?,
            None => write!(f, "Option{number}:")?,
        }
        let format = definition(number).map(|d| d.format);
        match (number, format) {
            (number::BLOCK1 | number::BLOCK2, _) => {
                match crate::block::BlockOption::decode(value) {
                    Ok(b) => write!(f, "{}/{}/{}", b.num, u8::from(b.more), b.size()),
                    Err(_) => write_hex(f, value),
                }
            }
            (_, Some(ValueFormat::Uint)) => match decode_uint(value) {
                Some(v) => write!(f, "{v}"),
                None => write_hex(f, value),
            },
            (_, Some(ValueFormat::String)) => match std::str::from_utf8(value) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write_hex(f, value),
            },
            (_, Some(ValueFormat::Empty)) if value.is_empty() => Ok(()),
            _ => write_hex(f, value),
        }
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, value: &[u8]) -> fmt::Result {
    f.write_str("0x")?;
    for b in value {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_properties_follow_the_number_bits() {
        // RFC 7252 section 5.4.6, Figure 11 and Table 4.
        assert!(is_critical(number::URI_PATH));
        assert!(!is_critical(number::CONTENT_FORMAT));
        assert!(is_unsafe(number::URI_HOST));
        assert!(!is_unsafe(number::ETAG));
        assert!(is_no_cache_key(number::SIZE1));
        assert!(!is_no_cache_key(number::URI_QUERY));
    }

    #[test]
    fn definitions_are_sorted_and_found() {
        assert!(DEFINITIONS.windows(2).all(|w| w[0].number < w[1].number));
        assert_eq!(name(number::BLOCK2), Some("Block2"));
        assert_eq!(definition(1000), None);
    }

    #[test]
    fn uint_values_are_minimal_big_endian() {
        assert_eq!(encode_uint(0), Vec::<u8>::new());
        assert_eq!(encode_uint(60), vec![60]);
        assert_eq!(encode_uint(0x0001_0203), vec![1, 2, 3]);
        assert_eq!(decode_uint(&[]), Some(0));
        assert_eq!(decode_uint(&[0, 0, 1]), Some(1));
        assert_eq!(decode_uint(&[1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn options_keep_number_order_and_repeat_order() {
        let mut o = Options::new();
        o.push(number::URI_QUERY, "b=2");
        o.push(number::URI_PATH, "a");
        o.push(number::URI_QUERY, "c=3");
        o.push(number::URI_PATH, "b");
        o.set_content_format(60);
        let got: Vec<(u16, &[u8])> = o.iter().collect();
        assert_eq!(
            got,
            vec![
                (11, &b"a"[..]),
                (11, &b"b"[..]),
                (12, &[60][..]),
                (15, &b"b=2"[..]),
                (15, &b"c=3"[..]),
            ]
        );
        assert_eq!(o.count(number::URI_PATH), 2);
        assert_eq!(o.content_format(), Some(60));
        o.remove(number::URI_PATH);
        assert!(!o.contains(number::URI_PATH));
        assert_eq!(o.len(), 3);
    }

    #[test]
    fn location_path_round_trips() {
        let mut o = Options::new();
        o.set_location_path("/ace-group/g1/nodes/n1");
        assert_eq!(o.location_path(), vec!["ace-group", "g1", "nodes", "n1"]);
    }

    #[test]
    fn display_names_and_formats() {
        let shown = format!("{}", OptionDisplay(number::URI_PATH, b"time"));
        assert_eq!(shown, "Uri-Path:\"time\"");
        let shown = format!("{}", OptionDisplay(number::BLOCK2, &[0x1e]));
        assert_eq!(shown, "Block2:1/1/1024");
        let shown = format!("{}", OptionDisplay(number::ETAG, &[0xab, 0x01]));
        assert_eq!(shown, "ETag:0xab01");
        let shown = format!("{}", OptionDisplay(65000, &[1]));
        assert_eq!(shown, "Option65000:0x01");
    }
}
