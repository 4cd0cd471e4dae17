//! Why a scenario file was refused: the line (and column when known) and
//! the reason, as ripgrep and the `ace-as` configuration report them.

use std::fmt;
use std::path::PathBuf;

/// Where in a scenario file an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
            before[nl + 1..].chars().count()
        }) + 1;
        Self { line, column }
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A refused scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, when the scenario came from one.
    pub file: Option<PathBuf>,
    /// Where the problem is, when known.
    pub location: Option<Location>,
    /// What is wrong.
    pub reason: String,
}

impl ScenarioError {
    /// An error at `location` (or nowhere in particular).
    pub fn new(location: Option<Location>, reason: impl Into<String>) -> Self {
        Self {
            file: None,
            location,
            reason: reason.into(),
        }
    }

    /// The error, naming `file`.
    #[must_use]
    pub fn in_file(mut self, file: PathBuf) -> Self {
        self.file = Some(file);
        self
    }

    /// The line, if known.
    pub fn line(&self) -> Option<usize> {
        self.location.map(|l| l.line)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ScenarioError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbb = 2\n\nccc";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text, 7),
            Location { line: 2, column: 2 }
        );
        assert_eq!(
            Location::of_offset(text, 14),
            Location { line: 4, column: 1 }
        );
        assert_eq!(Location::of_offset(text, 999).line, 4);
    }
}
