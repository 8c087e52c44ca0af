//! Diagnostics: source files, spans (line and column), and cargo-style rendering.
//!
//! Every phase reports problems as [`Diagnostic`]s that carry a [`Span`] into the spec file, so
//! the CLI can print a snippet and the gateway can hand BuildKit the same ranges.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

/// A spec file as read: its name (as the user knows it) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
    /// Every character longer than one byte: its byte offset, and the bytes beyond one per
    /// character up to and including it. Columns (counted in characters) and byte offsets
    /// convert through it by binary search, so a long line costs no more than a short one.
    wide: Vec<(usize, usize)>,
    /// The YAML aliases of the spec: a diagnostic inside anchored text names the aliases that
    /// copy it.
    pub aliases: Vec<AliasUse>,
}

/// One use of a YAML alias: its name, where it is, and the anchored text it copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasUse {
    pub name: String,
    pub at: Span,
    pub target: Span,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        let text = text.into();
        // A plain pass over the bytes: lines are short, and a search per line (`match_indices`)
        // costs more in setting up each search than in scanning.
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        line_starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        let mut wide = Vec::new();
        if !text.is_ascii() {
            let mut extra = 0;
            for (i, c) in text.char_indices().filter(|(_, c)| !c.is_ascii()) {
                extra += c.len_utf8() - 1;
                wide.push((i, extra));
            }
        }
        Arc::new(SourceFile { name: name.into(), text, line_starts, wide, aliases: Vec::new() })
    }

    /// The same file, with the alias uses of its YAML.
    pub fn with_aliases(self: &Arc<Self>, aliases: Vec<AliasUse>) -> Arc<Self> {
        if aliases.is_empty() {
            return self.clone();
        }
        let mut file = SourceFile::clone(self);
        file.aliases = aliases;
        Arc::new(file)
    }

    /// `` `*name` at file:line:col `` for each alias that copies the text under `span` (the
    /// first three, and how many more).
    pub fn alias_note(&self, span: Span) -> Option<String> {
        let uses: Vec<&AliasUse> =
            self.aliases.iter().filter(|a| a.target.start <= span.start && span.end <= a.target.end).collect();
        if uses.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = uses
            .iter()
            .take(3)
            .map(|a| {
                let p = self.position(a.at.start);
                format!("`*{}` at {}:{}:{}", a.name, self.name, p.line, p.column)
            })
            .collect();
        if uses.len() > 3 {
            parts.push(format!("{} more", uses.len() - 3));
        }
        Some(format!("this text is used through the alias {}", parts.join(", ")))
    }

    /// The extra bytes (beyond one per character) of the characters before byte `offset`.
    fn extra_before(&self, offset: usize) -> usize {
        match self.wide.partition_point(|&(i, _)| i < offset) {
            0 => 0,
            n => self.wide[n - 1].1,
        }
    }

    /// The byte offset of a 1-based line and 1-based column counted in characters.
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let end = self.end_of_line(line);
        let column = column.saturating_sub(1);
        if self.wide.is_empty() {
            return (start + column).min(end);
        }
        // The wide characters of the line, and how many of them come before the column.
        let first = self.wide.partition_point(|&(i, _)| i < start);
        let last = self.wide.partition_point(|&(i, _)| i < end);
        let base = self.extra_before(start);
        let extra_through = |k: usize| if k == 0 { 0 } else { self.wide[k - 1].1 };
        let (mut before, mut after) = (first, last);
        while before < after {
            let mid = (before + after) / 2;
            let char_index = (self.wide[mid].0 - start) - (extra_through(mid) - base);
            if char_index < column {
                before = mid + 1;
            } else {
                after = mid;
            }
        }
        let within = column + (extra_through(before) - base);
        (start + within).min(end)
    }

    /// The end of the line holding byte `offset` (its `\n`, or the end of the text).
    fn line_end(&self, offset: usize) -> usize {
        let next = self.line_starts.partition_point(|&s| s <= offset);
        self.line_starts.get(next).map_or(self.text.len(), |&s| s - 1)
    }

    /// The end of 1-based line `line` (its `\n`, or the end of the text); line 0 is line 1.
    fn end_of_line(&self, line: usize) -> usize {
        self.line_starts.get(line.max(1)).map_or(self.text.len(), |&s| s - 1)
    }

    /// Like [`SourceFile::rest_of_line`], for an `offset` that [`SourceFile::offset`] gave for
    /// a place on line `line`: without a search for the line.
    pub fn rest_of_line_on(&self, line: usize, offset: usize) -> &str {
        let offset = offset.min(self.text.len());
        self.text.get(offset..self.end_of_line(line).max(offset)).unwrap_or("")
    }

    /// The text from byte `offset` to the end of its line (without the `\n`).
    pub fn rest_of_line(&self, offset: usize) -> &str {
        let offset = offset.min(self.text.len());
        self.text.get(offset..self.line_end(offset).max(offset)).unwrap_or("")
    }

    /// The whole lines (each with its `\n`) that `range` touches, and the number of the first.
    fn lines_around(&self, range: Range<usize>) -> (Range<usize>, usize) {
        let mut line = self.line_starts.partition_point(|&s| s <= range.start) - 1;
        // The renderer counts no empty line after a final `\n`: the end of such a text is on
        // the line before.
        if line > 0 && range.start == self.text.len() && self.text.ends_with('\n') {
            line -= 1;
        }
        let end = self.line_end(range.end);
        (self.line_starts[line]..(end + 1).min(self.text.len()), line + 1)
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        self.position_on(self.line_of(offset), offset)
    }

    /// The 0-based line of a byte offset (at most the text's length).
    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// The positions of a span's start and end (an end before the start counts as the start),
    /// as [`Self::position`] gives them. The end's line is looked for from the start's: most
    /// spans end a few lines further, so one search of the whole index is saved.
    pub fn positions(&self, span: Span) -> (Pos, Pos) {
        let start = span.start.min(self.text.len());
        let end = span.end.max(span.start).min(self.text.len());
        let first = self.line_of(start);
        let later = &self.line_starts[first + 1..];
        let more = match later.iter().take(8).position(|&s| s > end) {
            Some(n) => n,
            None => later.partition_point(|&s| s <= end),
        };
        (self.position_on(first, start), self.position_on(first + more, end))
    }

    /// [`Self::position`] of an offset on the 0-based line `line`.
    fn position_on(&self, line: usize, offset: usize) -> Pos {
        let start = self.line_starts[line];
        let column = if self.text.is_char_boundary(offset) {
            (offset - start) - (self.extra_before(offset) - self.extra_before(start)) + 1
        } else {
            1
        };
        Pos { line: to_u32(line + 1), column: to_u32(column) }
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

/// A count as a line or column (`u32`), saturating.
pub fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a spec, pointing at where it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    let got_chars = got.chars().count();
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip, without computing it, a
        // candidate too long or too short to pass the filter below (thousands of stage names).
        .filter(|c| c.chars().count().abs_diff(got_chars) <= 2.max(c.len() / 3))
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
        // A YAML alias copies its text, and any error in it, to each place that uses it.
        if !file.aliases.is_empty() {
            let mut seen = HashSet::new();
            items.retain(|d| seen.insert(d.clone()));
        }
        Diagnostics { file, items }
    }

    /// Adds `other`'s diagnostics (of the same file), keeping file order and dropping repeats.
    pub fn merge(&mut self, other: Diagnostics) {
        let mut known: HashSet<Diagnostic> = self.items.iter().cloned().collect();
        for d in other.items {
            if known.insert(d.clone()) {
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
        let note = d.span.and_then(|s| self.file.alias_note(s)).map(|n| format!(" ({n})")).unwrap_or_default();
        format!("{at}: {sev}: {}{help}{note}", d.message)
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
        // Only the lines the span touches: the renderer shows no others, and handing it the
        // whole file would make every diagnostic cost as much as the file.
        let (window, first_line) = file.lines_around(range.clone());
        let mut ann = AnnotationKind::Primary.span(range.start - window.start..range.end - window.start);
        if let Some(label) = &d.label {
            ann = ann.label(label.as_str());
        }
        let source = Snippet::source(&file.text[window]).line_start(first_line);
        group = group.element(source.path(file.name.as_str()).annotation(ann));
    }
    let note = d.span.and_then(|s| file.alias_note(s));
    if let Some(note) = &note {
        group = group.element(Level::NOTE.message(note.as_str()));
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

    /// The plain scans that `offset` and `position` replace by binary searches.
    fn naive_offset(text: &str, line: usize, column: usize) -> usize {
        let mut start = 0;
        for _ in 1..line {
            match text[start..].find('\n') {
                Some(i) => start += i + 1,
                None => return text.len(),
            }
        }
        let line_text = text[start..].split('\n').next().unwrap_or("");
        start + line_text.char_indices().nth(column.saturating_sub(1)).map_or(line_text.len(), |(i, _)| i)
    }

    fn naive_position(text: &str, offset: usize) -> Pos {
        let offset = offset.min(text.len());
        let start = text.as_bytes()[..offset].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = text.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        let column = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        Pos { line: line as u32, column: column as u32 }
    }

    const TRICKY: &[&str] = &[
        "",
        "\n",
        "ab\nçd\n\nxyz",
        "é€😀\nx: \"ééé/${NOPE}\"\r\n\n  - [a, é, 😀, b]\nlast",
        "k: v\n\nñ\n",
        "😀😀😀",
        "a: b\r\n  - [c, d]\n\nlast  ",
    ];

    /// A span's two positions are those of its ends, however many lines apart.
    #[test]
    fn span_positions_are_those_of_the_ends() {
        let long = "a\n".repeat(40) + "é\nxyz";
        for text in TRICKY.iter().copied().chain([long.as_str()]) {
            let f = SourceFile::new("t", text);
            for start in 0..=text.len() + 1 {
                for end in 0..=text.len() + 1 {
                    let span = Span { start, end };
                    let ends = (f.position(start), f.position(end.max(start)));
                    assert_eq!(f.positions(span), ends, "{text:?} {start}..{end}");
                }
            }
        }
    }

    #[test]
    fn positions_match_a_plain_scan() {
        for text in TRICKY {
            let f = SourceFile::new("t", *text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(f.position(offset), naive_position(text, offset), "{text:?} at {offset}");
            }
            let lines = text.split('\n').count();
            for line in 0..=lines + 1 {
                for column in 0..=text.len() + 2 {
                    let o = f.offset(line, column);
                    assert_eq!(o, naive_offset(text, line, column), "{text:?} {line}:{column}");
                    assert_eq!(f.rest_of_line_on(line, o), f.rest_of_line(o), "{text:?} {line}:{column}");
                }
            }
        }
    }

    /// Rendering from the span's own lines gives the same text as rendering from the whole file.
    #[test]
    fn snippets_from_the_span_lines_match_the_whole_file() {
        for text in TRICKY {
            let f = SourceFile::new("t.yaml", *text);
            let bounds: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            for (i, &start) in bounds.iter().enumerate() {
                for &end in &bounds[i..] {
                    let d = Diagnostic::error(Span { start, end }, "bad").label("here");
                    let windowed = render_one(&Renderer::plain(), &f, &d);
                    let group = Group::with_title(Level::ERROR.primary_title("bad")).element(
                        Snippet::source(f.text.as_str())
                            .path("t.yaml")
                            .annotation(AnnotationKind::Primary.span(start..end).label("here")),
                    );
                    let whole = Renderer::plain().render(&[group]).to_string();
                    assert_eq!(windowed, whole, "{text:?} {start}..{end}");
                }
            }
        }
    }

    #[test]
    fn merge_drops_repeats() {
        let f = SourceFile::new("t", "a\nb\n");
        let d = |start: usize, m: &str| Diagnostic::error(Span { start, end: start + 1 }, m);
        let mut all = Diagnostics::new(f.clone(), vec![d(2, "x"), d(0, "y")]);
        all.merge(Diagnostics::new(f, vec![d(0, "y"), d(2, "z"), d(2, "z"), d(0, "w")]));
        let got: Vec<&str> = all.items.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(got, ["y", "w", "x", "z"]);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("stpes", ["steps", "stages", "from"]), Some("steps"));
        assert_eq!(did_you_mean("qqqqq", ["steps", "from"]), None);
        assert_eq!(did_you_mean("cmd", ["cmd"]), None);
    }
}
