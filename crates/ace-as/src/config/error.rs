//! Why a configuration file was refused: the line, the column and the
//! reason.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// A configuration refused at start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has a value of the wrong type, or says
    /// something the AS refuses (e.g. a symmetric key in an unencrypted
    /// token).
    #[error("{location}: {reason}")]
    Invalid {
        /// Where.
        location: Location,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// The line (1-based) of an [`ConfigError::Invalid`] error.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Invalid { location, .. } => Some(location.line),
            Self::Io { .. } => None,
        }
    }

    /// The reason of an [`ConfigError::Invalid`] error.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Invalid { reason, .. } => Some(reason),
            Self::Io { .. } => None,
        }
    }

    /// Names the file in the location.
    #[must_use]
    pub fn in_file(mut self, file: PathBuf) -> Self {
        if let Self::Invalid { location, .. } = &mut self {
            location.file = Some(file);
        }
        self
    }
}

/// A position in the configuration text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, when the text came from one.
    pub file: Option<PathBuf>,
    /// The line, 1-based.
    pub line: usize,
    /// The column in characters, 1-based.
    pub column: usize,
}

impl Location {
    /// The position of byte offset `offset` of `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            file: None,
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            None => write!(f, "line {}, column {}", self.line, self.column),
        }
    }
}

/// Builds [`ConfigError::Invalid`] errors against one configuration text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    text: &'a str,
}

impl<'a> Source<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// An error at `span`.
    pub(crate) fn error(&self, span: Range<usize>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            location: Location::of_offset(self.text, span.start),
            reason: reason.into(),
        }
    }

    /// The error of the TOML parser or of serde, placed at its span.
    pub(crate) fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let start = error.span().map_or(0, |s| s.start);
        ConfigError::Invalid {
            location: Location::of_offset(self.text, start),
            reason: error.message().trim().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(Location::of_offset(text, 0).line, 1);
        let l = Location::of_offset(text, 6);
        assert_eq!((l.line, l.column), (2, 1));
        // After the two-byte é: column counts characters.
        let l = Location::of_offset(text, 9);
        assert_eq!((l.line, l.column), (2, 3));
        // Inside a multi-byte character, and past the end, stay in range.
        assert_eq!(Location::of_offset(text, 8).column, 2);
        assert_eq!(Location::of_offset(text, 999).line, 3);
    }
}
