//! Diagnostics: source files, spans (line and column), and cargo-style rendering.
//!
//! Every phase reports problems as [`Diagnostic`]s that carry a [`Span`] into the spec file, so
//! the CLI can print a snippet and the gateway can hand BuildKit the same ranges.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

/// A spec file as read: its name (as the user knows it) and its text.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Arc::new(SourceFile { name: name.into(), text, line_starts })
    }

    /// The byte offset of a 1-based line and 1-based column counted in characters.
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        let within = line_text.char_indices().nth(column.saturating_sub(1)).map(|(i, _)| i).unwrap_or(line_text.len());
        start + within
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let column = self.text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        Pos { line: line as u32 + 1, column: column as u32 }
    }

    /// A span from byte offsets.
    pub fn span(&self, range: Range<usize>) -> Span {
        Span { start: range.start, end: range.end.max(range.start) }
    }

    /// The text of a span.
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

/// A 1-based line and column, as editors and BuildKit's source maps count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// A byte range in the spec file. Line and column come from [`SourceFile::position`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a spec, pointing at where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    /// A short label under the underlined text.
    pub label: Option<String>,
    /// A suggestion ("did you mean ...?").
    pub help: Option<String>,
    /// The rule that produced a warning (for lint output).
    pub rule: Option<&'static str>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: Some(span),
            label: None,
            help: None,
            rule: None,
        }
    }

    pub fn warning(rule: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, rule: Some(rule), ..Self::error(span, message) }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean `x`?" when one of `candidates` is close to `got`.
    pub fn suggest<'a>(self, got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match did_you_mean(got, candidates) {
            Some(near) => self.help(format!("did you mean `{near}`?")),
            None => self,
        }
    }
}

/// The closest candidate to `got`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    // The same word in other letter case (`COPY` for `copy`) first.
    if let Some(c) = candidates.iter().find(|c| **c != got && c.eq_ignore_ascii_case(got)) {
        return Some(c);
    }
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(got, c), c))
        .filter(|&(d, c)| d > 0 && (d <= 2 || d * 3 <= c.len()) && d < c.len().max(got.len()))
        .min()
        .map(|(_, c)| c)
}

/// A non-empty list of diagnostics for one file: the error type of every phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    pub file: Arc<SourceFile>,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Diagnostics in the order of the file (those without a place first).
    pub fn new(file: Arc<SourceFile>, mut items: Vec<Diagnostic>) -> Self {
        items.sort_by_key(|d| d.span.map(|s| (s.start, s.end)));
        Diagnostics { file, items }
    }

    /// Adds `other`'s diagnostics (of the same file), keeping file order and dropping repeats.
    pub fn merge(&mut self, other: Diagnostics) {
        for d in other.items {
            if !self.items.contains(&d) {
                self.items.push(d);
            }
        }
        self.items.sort_by_key(|d| d.span.map(|s| (s.start, s.end)));
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// Cargo-style text with snippets, no colours: what the CLI prints and what BuildKit shows.
    pub fn render(&self) -> String {
        self.render_with(Renderer::plain())
    }

    /// Like [`render`](Self::render), with ANSI colours for a terminal.
    pub fn render_styled(&self) -> String {
        self.render_with(Renderer::styled())
    }

    fn render_with(&self, renderer: Renderer) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&render_one(&renderer, &self.file, d));
            out.push_str("\n\n");
        }
        let errors = self.errors().count();
        if errors > 0 {
            let s = if errors == 1 { "" } else { "s" };
            out.push_str(&format!("error: {} has {errors} error{s}\n", self.file.name));
        }
        out
    }

    /// One line per diagnostic: `file:line:col: error: message`.
    pub fn summary(&self) -> String {
        self.items.iter().map(|d| self.line_of(d)).collect::<Vec<_>>().join("\n")
    }

    /// `file:line:col: error: message (help)` for one diagnostic.
    pub fn line_of(&self, d: &Diagnostic) -> String {
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let at = match d.span {
            Some(span) => {
                let p = self.file.position(span.start);
                format!("{}:{}:{}", self.file.name, p.line, p.column)
            }
            None => self.file.name.clone(),
        };
        let help = d.help.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
        format!("{at}: {sev}: {}{help}", d.message)
    }
}

fn render_one(renderer: &Renderer, file: &SourceFile, d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut title = level.primary_title(d.message.as_str());
    if let Some(rule) = d.rule {
        title = title.id(rule);
    }
    let mut group = Group::with_title(title);
    if let Some(span) = d.span {
        let mut range = span.range();
        range.end = floor_char_boundary(&file.text, range.end);
        range.start = floor_char_boundary(&file.text, range.start.min(range.end));
        let mut ann = AnnotationKind::Primary.span(range);
        if let Some(label) = &d.label {
            ann = ann.label(label.as_str());
        }
        group = group.element(Snippet::source(file.text.as_str()).path(file.name.as_str()).annotation(ann));
    }
    let mut report = Vec::new();
    match (&d.help, d.span) {
        // Without a snippet, the help is a line of the same report.
        (Some(help), None) => report.push(group.element(Level::HELP.message(help.as_str()))),
        (Some(help), Some(_)) => {
            report.push(group);
            report.push(Group::with_title(Level::HELP.secondary_title(help.as_str())));
        }
        (None, _) => report.push(group),
    }
    renderer.render(&report).to_string()
}

/// The largest char boundary of `text` at or before `i`.
fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let f = SourceFile::new("a.yaml", "ab\nçd\n\nxyz");
        assert_eq!(f.position(0), Pos { line: 1, column: 1 });
        let off = f.offset(2, 2);
        assert_eq!(&f.text[off..off + 1], "d");
        assert_eq!(f.position(off), Pos { line: 2, column: 2 });
        assert_eq!(f.position(f.offset(4, 3)), Pos { line: 4, column: 3 });
        // Out of range positions clamp instead of panicking.
        assert_eq!(f.offset(99, 1), f.text.len());
        assert_eq!(f.position(999).line, 4);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("stpes", ["steps", "stages", "from"]), Some("steps"));
        assert_eq!(did_you_mean("qqqqq", ["steps", "from"]), None);
        assert_eq!(did_you_mean("cmd", ["cmd"]), None);
    }
}
