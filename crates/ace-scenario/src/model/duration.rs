//! Durations as scenario files write them: `"250ms"`, `"2s"`, `"1.5s"`,
//! `"1m"`, or a bare integer of milliseconds.

use std::time::Duration;

/// Parses `"250ms"`, `"2s"`, `"1.5s"`, `"1m"` (or digits only: milliseconds).
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "ms"),
    };
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a duration (e.g. \"500ms\", \"2s\")"
        ));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. \"500ms\", \"2s\")"))?;
    let millis = match unit {
        "ms" => value,
        "s" => value * 1000.0,
        "m" | "min" => value * 60_000.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use ms, s or m)"
            ));
        }
    };
    if !millis.is_finite() || !(0.0..=86_400_000.0).contains(&millis) {
        return Err(format!("{text:?} is out of range (at most one day)"));
    }
    Ok(Duration::from_micros((millis * 1000.0).round() as u64))
}

/// A duration field: a string with a unit, or an integer of milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    /// Milliseconds.
    Millis(u64),
    /// With a unit.
    Text(String),
}

impl RawDuration {
    /// The duration, or why not.
    pub fn resolve(&self) -> Result<Duration, String> {
        match self {
            Self::Millis(ms) => Ok(Duration::from_millis(*ms)),
            Self::Text(t) => parse(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("40").unwrap(), Duration::from_millis(40));
        assert!(parse("2h").unwrap_err().contains("unknown unit"));
        assert!(parse("s").is_err());
        assert!(parse("99999m").is_err());
    }
}
