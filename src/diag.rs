//! Diagnostics for files users write: every error names the file, line and column, says what is
//! wrong and, where it can, how to fix it.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A file's name (as the user typed it) and its text, for turning byte offsets into lines.
///
/// Positions are found through a table of line starts built on the first lookup, so a file with
/// 100,000 nodes costs one pass over its text however many positions are asked for (counting
/// newlines from the start of the file for each node made parsing quadratic).
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    /// The text as read. Treat it as read-only once a position has been asked for: the line
    /// index is built from it once.
    pub text: String,
    index: OnceLock<LineIndex>,
    /// Bytes read to answer lookups, so a test can check that lookups stay local.
    scanned: Arc<AtomicU64>,
}

/// Where each line starts, and whether it is pure ASCII (then a column is a byte difference).
#[derive(Debug, Clone)]
struct LineIndex {
    starts: Vec<usize>,
    ascii: Vec<bool>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        // memchr and `is_ascii` a line at a time: byte by byte, this was 4% of validating a
        // 25,000-node flow (callgrind).
        let b = text.as_bytes();
        let mut starts = vec![0];
        let mut ascii = Vec::new();
        for end in memchr::memchr_iter(b'\n', b) {
            ascii.push(b[starts[starts.len() - 1]..end].is_ascii());
            starts.push(end + 1);
        }
        ascii.push(b[starts[starts.len() - 1]..].is_ascii());
        LineIndex { starts, ascii }
    }

    /// 0-based line of a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source { name: name.into(), text: text.into(), index: OnceLock::new(), scanned: Arc::default() }
    }

    fn index(&self) -> &LineIndex {
        self.index.get_or_init(|| {
            self.scanned.fetch_add(self.text.len() as u64, Ordering::Relaxed);
            LineIndex::new(&self.text)
        })
    }

    /// How many bytes of text lookups have read so far: one pass to build the line index, then
    /// at most the line each lookup falls on. Tests use it to check that parsing stays linear.
    pub fn bytes_scanned(&self) -> u64 {
        self.scanned.load(Ordering::Relaxed)
    }

    /// Reads a file, turning an I/O failure into a diagnostic that names the file, and bytes
    /// that are not UTF-8 into one that says where they are.
    pub fn read(path: &Path) -> Result<Source, Diagnostics> {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => Source::from_bytes(name, bytes),
            Err(e) => Err(Diagnostic::file_error(&name, format!("cannot read the file: {e}")).into()),
        }
    }

    /// A source from raw bytes; invalid UTF-8 is an error at the line and column of the first
    /// bad byte (std's message gives only a byte index, and no line).
    pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<Source, Diagnostics> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source::new(name, text)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bad = e.as_bytes().get(at).copied().unwrap_or(0);
                // Everything before `at` is valid, so offsets in the lossy text line up with it.
                let lossy = Source::new(name, String::from_utf8_lossy(e.as_bytes()).into_owned());
                Err(lossy
                    .error(at..at + 1, format!("the file is not valid UTF-8: byte 0x{bad:02x} cannot start or continue a character"))
                    .with_help("save the file as UTF-8 (Baton reads text files as UTF-8 only)")
                    .into())
            }
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let index = self.index();
        let line = index.line_of(offset);
        let start = index.starts[line];
        let col = if index.ascii[line] {
            offset - start
        } else {
            self.scanned.fetch_add((offset - start) as u64, Ordering::Relaxed);
            self.text[start..offset].chars().count()
        };
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its line ending ("" past the end).
    fn line_text(&self, line: usize) -> &str {
        let index = self.index();
        let Some(&start) = line.checked_sub(1).and_then(|l| index.starts.get(l)) else {
            return "";
        };
        let end = index.starts.get(line).map_or(self.text.len(), |&next| next - 1);
        let text = &self.text[start..end];
        // `str::lines` drops the '\r' of a "\r\n" ending; so does this.
        if end < self.text.len() { text.strip_suffix('\r').unwrap_or(text) } else { text }
    }

    /// An error at a byte span of this file.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        self.at(Severity::Error, span, message)
    }

    pub fn warning(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        self.at(Severity::Warning, span, message)
    }

    fn at(&self, severity: Severity, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        let (line, col) = self.locate(span.start);
        let text = self.line_text(line).to_string();
        // Underline the span on its first line only.
        let (end_line, end_col) = self.locate(span.end.max(span.start));
        let width = if end_line == line { end_col.saturating_sub(col).max(1) } else { text.chars().count().saturating_sub(col - 1).max(1) };
        Diagnostic {
            severity,
            file: self.name.clone(),
            line,
            col,
            message: message.into(),
            help: None,
            snippet: Some(Snippet { text, col, width }),
        }
    }

    /// Converts a TOML parse or shape error into a diagnostic, adding a "did you mean" where the
    /// message lists what was expected.
    pub fn toml_error(&self, err: &toml::de::Error) -> Diagnostic {
        let message = err.message().trim().to_string();
        let help = suggest_from_serde_message(&message);
        let d = match err.span() {
            Some(span) => self.error(span, message),
            // toml reports a dotted key with too many parts without a span; find the key.
            None if message.contains("recursion limit") => match self.deepest_dotted_key() {
                Some(span) => {
                    return self
                        .error(span, format!("{message}: this key has more dotted parts than TOML nesting allows"))
                        .with_help("split the key into [table] headers, or use fewer than 80 parts");
                }
                None => Diagnostic::file_error(&self.name, message),
            },
            None => Diagnostic::file_error(&self.name, message),
        };
        d.with_help_opt(help)
    }

    /// The key (before `=`, or a `[table]` header) with the most dots, if any has one.
    fn deepest_dotted_key(&self) -> Option<Range<usize>> {
        let mut best: Option<(usize, Range<usize>)> = None;
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let key = line.split('=').next().unwrap_or(line).trim_end();
            let lead = key.len() - key.trim_start().len();
            let dots = key.matches('.').count();
            if dots > 0 && best.as_ref().is_none_or(|(d, _)| dots > *d) {
                best = Some((dots, start + lead..start + key.len()));
            }
        }
        best.map(|(_, span)| span)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Snippet {
    text: String,
    col: usize,
    width: usize,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    /// 1-based; 0 when the problem is about the whole file.
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub help: Option<String>,
    snippet: Option<Snippet>,
}

impl Diagnostic {
    /// A problem with a file as a whole (it cannot be read, it is empty).
    pub fn file_error(file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: 0,
            col: 0,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col`, or just the file for whole-file problems.
    pub fn location(&self) -> String {
        if self.line == 0 { self.file.clone() } else { format!("{}:{}:{}", self.file, self.line, self.col) }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {level}: {}", self.location(), self.message)?;
        if let Some(s) = &self.snippet {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            write!(f, "\n {pad} |\n {num} | {}\n {pad} | {}{}", s.text, " ".repeat(s.col.saturating_sub(1)), "^".repeat(s.width))?;
        }
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

/// All problems found in one or more files, errors first in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Ok with the warnings when there are no errors.
    pub fn into_result<T>(self, value: T) -> Result<(T, Diagnostics), Diagnostics> {
        if self.has_errors() { Err(self) } else { Ok((value, self)) }
    }

    pub fn first(&self) -> Option<&Diagnostic> {
        self.errors().next().or_else(|| self.0.first())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_l = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word_l, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(word.chars().count()) / 3).max(1) + usize::from(c.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// serde phrases unknown names as "unknown field `x`, expected one of `a`, `b`" (and the same
/// for variants); this turns that into "did you mean 'a'?".
fn suggest_from_serde_message(message: &str) -> Option<String> {
    let what = if message.starts_with("unknown field") {
        "field"
    } else if message.starts_with("unknown variant") {
        "value"
    } else {
        return None;
    };
    let ticks: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let (given, expected) = ticks.split_first()?;
    match nearest(given, expected.iter().copied()) {
        Some(best) => Some(format!("did you mean '{best}'?")),
        None if !expected.is_empty() => {
            let list: Vec<String> = expected.iter().map(|e| format!("'{e}'")).collect();
            Some(format!("valid {what}s here: {}", list.join(", ")))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let src = Source::new("f.toml", "a = 1\nbé = 2\n");
        assert_eq!(src.locate(0), (1, 1));
        assert_eq!(src.locate(6), (2, 1));
        // Columns count characters, not bytes.
        assert_eq!(src.locate(10), (2, 4));
        assert_eq!(src.locate(999), (3, 1));
    }

    #[test]
    fn renders_snippet_and_help() {
        let src = Source::new("f.toml", "[flow]\nnme = \"x\"\n");
        let d = src.error(7..10, "unknown field 'nme'").with_help("did you mean 'name'?");
        let text = d.to_string();
        assert!(text.starts_with("f.toml:2:1: error: unknown field 'nme'"), "{text}");
        assert!(text.contains(" 2 | nme = \"x\""), "{text}");
        assert!(text.contains("   | ^^^"), "{text}");
        assert!(text.ends_with("help: did you mean 'name'?"), "{text}");
    }

    #[test]
    fn suggests_nearest_field() {
        let m = "unknown field `compexity`, expected one of `id`, `kind`, `complexity`, `prompt`";
        assert_eq!(suggest_from_serde_message(m).as_deref(), Some("did you mean 'complexity'?"));
        let m = "unknown variant `zzz`, expected `declared` or `full`";
        assert_eq!(suggest_from_serde_message(m).as_deref(), Some("valid values here: 'declared', 'full'"));
        assert_eq!(suggest_from_serde_message("invalid type"), None);
    }

    #[test]
    fn nearest_rejects_far_words() {
        assert_eq!(nearest("plannr", ["planner", "searcher"]), Some("planner"));
        assert_eq!(nearest("xyz", ["planner", "searcher"]), None);
    }
}
