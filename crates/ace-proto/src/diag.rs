//! CBOR diagnostic notation (RFC 8949 section 8, RFC 8610 appendix G) for
//! logs and traces.
//!
//! Byte strings that themselves hold one CBOR array or map (as a `scope`, a
//! credential or a token does) are shown as embedded items `<< ... >>`, the
//! way the RFC examples print them. Other byte strings print as `h'..'`.

use ciborium::Value;
use std::fmt::Write as _;

/// Renders `bytes` as compact, single-line CBOR diagnostic notation.
///
/// Returns `None` when `bytes` is not exactly one well-formed CBOR data item,
/// so callers can fall back to hex or text.
pub fn to_diag(bytes: &[u8]) -> Option<String> {
    let value = decode_one(bytes)?;
    let mut out = String::new();
    write_value(&mut out, &value, None);
    Some(out)
}

/// Renders `bytes` as indented, multi-line CBOR diagnostic notation.
///
/// Returns `None` when `bytes` is not exactly one well-formed CBOR data item.
pub fn to_diag_pretty(bytes: &[u8]) -> Option<String> {
    let value = decode_one(bytes)?;
    let mut out = String::new();
    write_value(&mut out, &value, Some(0));
    Some(out)
}

/// Renders an already decoded value as compact diagnostic notation.
pub fn value_to_diag(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, None);
    out
}

/// Decodes exactly one CBOR item, refusing trailing bytes.
fn decode_one(bytes: &[u8]) -> Option<Value> {
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader(&mut reader).ok()?;
    reader.is_empty().then_some(value)
}

/// An embedded CBOR item worth showing as `<< .. >>`: a container, so that
/// short random byte strings are not misread as integers.
fn embedded(bytes: &[u8]) -> Option<Value> {
    match bytes.first()? >> 5 {
        4..=6 => decode_one(bytes),
        _ => None,
    }
}

const INDENT: &str = "  ";

/// Writes `value`; `indent` is `Some(level)` for pretty output.
fn write_value(out: &mut String, value: &Value, indent: Option<usize>) {
    match value {
        Value::Integer(i) => {
            let _ = write!(out, "{}", i128::from(*i));
        }
        Value::Bytes(b) => match embedded(b) {
            Some(inner) => {
                out.push_str("<<");
                write_value(out, &inner, indent);
                out.push_str(">>");
            }
            None => {
                out.push_str("h'");
                for byte in b {
                    let _ = write!(out, "{byte:02x}");
                }
                out.push('\'');
            }
        },
        Value::Float(f) => write_float(out, *f),
        Value::Text(t) => write_text(out, t),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
        Value::Tag(tag, inner) => {
            let _ = write!(out, "{tag}(");
            write_value(out, inner, indent);
            out.push(')');
        }
        Value::Array(items) => {
            write_container(out, "[", "]", items.iter(), indent, |out, item, ind| {
                write_value(out, item, ind)
            })
        }
        Value::Map(entries) => {
            write_container(out, "{", "}", entries.iter(), indent, |out, (k, v), ind| {
                write_value(out, k, ind);
                out.push_str(": ");
                write_value(out, v, ind);
            })
        }
        // `Value` is non-exhaustive; any future variant prints as undefined.
        _ => out.push_str("undefined"),
    }
}

fn write_container<T>(
    out: &mut String,
    open: &str,
    close: &str,
    items: impl ExactSizeIterator<Item = T>,
    indent: Option<usize>,
    mut write_item: impl FnMut(&mut String, T, Option<usize>),
) {
    out.push_str(open);
    let len = items.len();
    for (i, item) in items.enumerate() {
        match indent {
            Some(level) => {
                out.push('\n');
                out.push_str(&INDENT.repeat(level + 1));
                write_item(out, item, Some(level + 1));
                if i + 1 < len {
                    out.push(',');
                }
            }
            None => {
                if i > 0 {
                    out.push_str(", ");
                }
                write_item(out, item, None);
            }
        }
    }
    if let (Some(level), true) = (indent, len > 0) {
        out.push('\n');
        out.push_str(&INDENT.repeat(level));
    }
    out.push_str(close);
}

fn write_text(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        let _ = write!(out, "{f:.1}");
    } else {
        let _ = write!(out, "{f}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn key_distribution_response_of_rfc9594_figure_15() {
        let bytes = hex("a3071a00010040084a73657373696f6e6b6579090c");
        assert_eq!(
            to_diag(&bytes).unwrap(),
            "{7: 65600, 8: h'73657373696f6e6b6579', 9: 12}"
        );
    }

    #[test]
    fn embedded_scope_is_shown_as_cbor() {
        // {3: <<["group1", "sender"]>>}
        let bytes = hex("a1034f826667726f7570316673656e646572");
        assert_eq!(
            to_diag(&bytes).unwrap(),
            "{3: <<[\"group1\", \"sender\"]>>}"
        );
    }

    #[test]
    fn pretty_output_indents_nested_containers() {
        let bytes = hex("a201810220a0");
        assert_eq!(
            to_diag_pretty(&bytes).unwrap(),
            "{\n  1: [\n    2\n  ],\n  -1: {}\n}"
        );
    }

    #[test]
    fn scalars_tags_and_text_escapes() {
        assert_eq!(to_diag(&hex("f6")).unwrap(), "null");
        assert_eq!(to_diag(&hex("f5")).unwrap(), "true");
        assert_eq!(to_diag(&hex("3903e7")).unwrap(), "-1000");
        assert_eq!(to_diag(&hex("d83d40")).unwrap(), "61(h'')");
        assert_eq!(to_diag(&hex("62220a")).unwrap(), "\"\\\"\\n\"");
        assert_eq!(to_diag(&hex("f93e00")).unwrap(), "1.5");
    }

    #[test]
    fn not_one_item_is_refused() {
        assert_eq!(to_diag(&[]), None);
        assert_eq!(to_diag(&hex("0101")), None, "trailing bytes");
        assert_eq!(to_diag(&hex("a1")), None, "truncated map");
        assert_eq!(to_diag(&hex("ff")), None, "break outside indefinite item");
    }
}
