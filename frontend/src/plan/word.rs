//! Values with variable references, expanded by Dockerfile's rules for ENV, WORKDIR, COPY paths,
//! USER, EXPOSE, LABEL, STOPSIGNAL and VOLUME words.
//!
//! `$NAME` and `${NAME}` are the value of `NAME`, empty when it is unset. `${NAME:-word}` is
//! `word` when `NAME` is unset or empty, `${NAME-word}` only when unset. `${NAME:+word}` is
//! `word` when `NAME` is set and not empty (`${NAME+word}`: when set), else empty.
//! `${NAME:?message}` fails the build with `message` when `NAME` is unset or empty
//! (`${NAME?message}`: when unset). The words nest (`${A:-${B}}`). `$$` and `\$` are a literal
//! `$`; a `$` before anything but a name or `{` is kept. Unlike Dockerfile, quotes and other
//! backslashes are taken as written (YAML has quoted already), and `$1` stays `$1`.
//!
//! A [`Word`] is parsed once. The plan binds the build's args into it ([`Word::bind`]); what is
//! left refers to the stage's environment, which only lowering knows (the base image's config
//! comes from the daemon): it expands there ([`Word::expand`]).

use std::fmt;

use serde::{Serialize, Serializer};

use super::pattern;

/// The most that pattern replacements (`${NAME//a/b}`) may write for one value (1 MiB, as
/// [`crate::limits::MAX_EXPANDED_LEN`]).
pub const MAX_REPLACED_LEN: usize = crate::limits::MAX_EXPANDED_LEN;

/// A parsed value: text and references.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    repr: Repr,
}

/// Each word has one representation (so equality compares what the words hold).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// No reference: the text (most values), in one allocation.
    Literal(String),
    /// At least one reference, with the texts around them: adjacent texts merged, none empty.
    Parts(Vec<Part>),
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Literal(String::new())
    }
}

/// A word being built: its parts, made [`Word::Literal`] when they hold no reference.
#[derive(Default)]
struct Builder {
    parts: Vec<Part>,
}

impl Builder {
    fn push_text(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        match self.parts.last_mut() {
            Some(Part::Text(last)) => last.push_str(t),
            _ => self.parts.push(Part::Text(t.to_string())),
        }
    }

    fn extend(&mut self, w: Word) {
        match w.repr {
            Repr::Literal(t) => self.push_text(&t),
            Repr::Parts(parts) => {
                for p in parts {
                    match p {
                        Part::Text(t) => self.push_text(&t),
                        r => self.parts.push(r),
                    }
                }
            }
        }
    }

    fn finish(mut self) -> Word {
        let repr = match self.parts.as_mut_slice() {
            [] => Repr::default(),
            [Part::Text(t)] => Repr::Literal(std::mem::take(t)),
            _ => Repr::Parts(self.parts),
        };
        Word { repr }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Ref(Ref),
}

/// `$NAME` or `${NAME<op>word}`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    name: String,
    op: Option<Modifier>,
    /// Where the reference starts in the value, and its length in bytes.
    at: usize,
    len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Modifier {
    /// `-`, `+`, `?`, or a pattern form: `#` (prefix removal), `%` (suffix removal), `/`
    /// (replacement).
    kind: char,
    /// `:-` rather than `-`: an empty value counts as unset.
    colon: bool,
    /// The default, message or pattern. For `#` and `%` a second `#`/`%` (longest match) is the
    /// pattern's first character, as BuildKit reads it once the pattern is expanded.
    word: Word,
    /// `/` only: the replacement, and whether it replaces every match (`//`).
    with: Option<Box<Replace>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Replace {
    all: bool,
    word: Word,
}

/// A problem at a place in the value (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordError {
    pub at: usize,
    pub len: usize,
    pub message: String,
    /// The reference was not closed (`${NAME`).
    pub unclosed: bool,
}

impl Word {
    /// A word without references.
    pub fn literal(text: impl Into<String>) -> Word {
        Word { repr: Repr::Literal(text.into()) }
    }

    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Word, WordError> {
        if !text.contains('$') {
            // No reference and no `\$`: the text as it is (most values).
            return Ok(Word::literal(text));
        }
        let mut p = Parser { text, pos: 0 };
        p.word(Stop::End)
    }

    /// Whether the text holds a NUL character (which no path, name or value can carry).
    pub fn has_nul(&self) -> bool {
        if let Repr::Literal(t) = &self.repr {
            return t.contains('\0');
        }
        self.parts().iter().any(|p| match p {
            Part::Text(t) => t.contains('\0'),
            Part::Ref(r) => {
                r.op.as_ref().is_some_and(|m| m.word.has_nul() || m.with.as_ref().is_some_and(|w| w.word.has_nul()))
            }
        })
    }

    /// The text, when nothing is left to expand.
    pub fn as_literal(&self) -> Option<String> {
        self.as_literal_str().map(str::to_string)
    }

    /// The text, moved out of the word, when nothing is left to expand.
    pub fn into_literal(self) -> Option<String> {
        match self.repr {
            Repr::Literal(t) => Some(t),
            Repr::Parts(_) => None,
        }
    }

    /// The text without copying it, when the word is one piece of text (or empty).
    pub fn as_literal_str(&self) -> Option<&str> {
        match &self.repr {
            Repr::Literal(t) => Some(t),
            Repr::Parts(_) => None,
        }
    }

    /// The parts of a word with references; none for a literal.
    fn parts(&self) -> &[Part] {
        match &self.repr {
            Repr::Literal(_) => &[],
            Repr::Parts(parts) => parts,
        }
    }

    /// The literal text, or the word as it could be written again (for names and JSON).
    pub fn text(&self) -> String {
        self.as_literal().unwrap_or_else(|| self.to_string())
    }

    /// The names this word still refers to, nested ones included, in order.
    pub fn names(&self) -> Vec<&str> {
        self.refs().into_iter().map(|(name, _, _)| name).collect()
    }

    /// [`Self::names`] with the place of each reference in the value (offset, length).
    pub fn refs(&self) -> Vec<(&str, usize, usize)> {
        let mut out = Vec::new();
        for p in self.parts() {
            if let Part::Ref(r) = p {
                out.push((r.name.as_str(), r.at, r.len));
                if let Some(m) = &r.op {
                    out.extend(m.word.refs());
                    if let Some(w) = &m.with {
                        out.extend(w.word.refs());
                    }
                }
            }
        }
        out
    }

    /// The first reference left: its name and place in the value.
    pub fn first_ref(&self) -> Option<(&str, usize, usize)> {
        self.parts().iter().find_map(|p| match p {
            Part::Ref(r) => Some((r.name.as_str(), r.at, r.len)),
            Part::Text(_) => None,
        })
    }

    /// Replaces the references `lookup` knows (it returns `Some` for a known name, set or not:
    /// `Some(None)` is known and unset); others stay, with their nested words bound.
    pub fn bind(&self, lookup: &dyn Fn(&str) -> Option<Option<String>>) -> Result<Word, WordError> {
        self.bind_counting(lookup).map(|(w, _)| w)
    }

    /// [`Self::bind`], with the bytes that pattern replacements wrote (they can make a value
    /// longer than its references are: at most [`MAX_REPLACED_LEN`] for one word).
    pub fn bind_counting(&self, lookup: &dyn Fn(&str) -> Option<Option<String>>) -> Result<(Word, usize), WordError> {
        let budget = std::cell::Cell::new(MAX_REPLACED_LEN);
        let w = self.bind_in(lookup, &budget)?;
        Ok((w, MAX_REPLACED_LEN - budget.get()))
    }

    fn bind_in(
        &self,
        lookup: &dyn Fn(&str) -> Option<Option<String>>,
        budget: &std::cell::Cell<usize>,
    ) -> Result<Word, WordError> {
        let Repr::Parts(parts) = &self.repr else { return Ok(self.clone()) };
        let mut out = Builder { parts: Vec::with_capacity(parts.len()) };
        for p in parts {
            match p {
                Part::Text(t) => out.push_text(t),
                Part::Ref(r) => match lookup(&r.name) {
                    Some(value) => match r.apply(value.as_deref(), lookup, budget)? {
                        Applied::Value(v) => out.push_text(v),
                        Applied::Owned(v) => out.push_text(&v),
                        Applied::Word(w) => out.extend(w.bind_in(lookup, budget)?),
                    },
                    None => {
                        let op = match &r.op {
                            Some(m) => Some(Modifier {
                                kind: m.kind,
                                colon: m.colon,
                                word: m.word.bind_in(lookup, budget)?,
                                with: match &m.with {
                                    Some(w) => {
                                        Some(Box::new(Replace { all: w.all, word: w.word.bind_in(lookup, budget)? }))
                                    }
                                    None => None,
                                },
                            }),
                            None => None,
                        };
                        out.parts.push(Part::Ref(Ref { op, ..r.clone() }));
                    }
                },
            }
        }
        Ok(out.finish())
    }

    /// Expands every reference: `lookup` gives a name's value, `None` when it is unset.
    pub fn expand(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, WordError> {
        let w = self.bind(&|name| Some(lookup(name)))?;
        Ok(w.into_literal().unwrap_or_default())
    }
}

/// What a reference stands for: borrowed from the value or the reference, copied only into
/// the bound word.
enum Applied<'a> {
    Value(&'a str),
    Word(&'a Word),
    /// What a pattern form made of the value.
    Owned(String),
}

impl Ref {
    fn apply<'a>(
        &'a self,
        value: Option<&'a str>,
        lookup: &dyn Fn(&str) -> Option<Option<String>>,
        budget: &std::cell::Cell<usize>,
    ) -> Result<Applied<'a>, WordError> {
        let Some(m) = &self.op else { return Ok(Applied::Value(value.unwrap_or_default())) };
        if matches!(m.kind, '#' | '%' | '/') {
            let err = |message: String| WordError { at: self.at, len: self.len, message, unclosed: false };
            // The pattern and the replacement are expanded first; an unset name is empty.
            let literal = |w: &Word, what: &str| -> Result<String, WordError> {
                let bound = w.bind_in(lookup, budget)?;
                match bound.first_ref() {
                    None => Ok(bound.into_literal().unwrap_or_default()),
                    Some((name, _, _)) => Err(err(format!(
                        "the {what} of `${{{}...}}` uses `{name}`, which is not an arg: the pattern and replacement of an arg can use only args",
                        self.name
                    ))),
                }
            };
            let pattern = literal(&m.word, "pattern")?;
            let value = value.unwrap_or_default();
            let done = match &m.with {
                None => pattern::trim(value, &pattern, m.kind == '%'),
                Some(w) => {
                    let with = literal(&w.word, "replacement")?;
                    pattern::replace(value, &pattern, &with, w.all, budget.get())
                }
            };
            let done = done.map_err(|e| err(format!("`${{{}{}...}}`: {e}", self.name, m.kind)))?;
            if m.with.is_some() {
                budget.set(budget.get().saturating_sub(done.len()));
            }
            return Ok(Applied::Owned(done));
        }
        let unset = value.is_none() || (m.colon && value == Some(""));
        Ok(match m.kind {
            '-' if unset => Applied::Word(&m.word),
            '+' if unset => Applied::Value(""),
            '+' => Applied::Word(&m.word),
            '?' if unset => {
                let message = match m.word.as_literal() {
                    Some(msg) if !msg.is_empty() => msg,
                    _ if value.is_none() => "is not allowed to be unset".into(),
                    _ => "is not allowed to be empty".into(),
                };
                return Err(WordError {
                    at: self.at,
                    len: self.len,
                    message: format!("{}: {message}", self.name),
                    unclosed: false,
                });
            }
            _ => Applied::Value(value.unwrap_or_default()),
        })
    }
}

/// Where a word ends.
#[derive(Clone, Copy)]
enum Stop {
    /// At the end of the value.
    End,
    /// At the `}` closing a reference.
    Brace,
    /// At this character (`}` or the `/` after a replacement's pattern), backslash pairs kept.
    Pattern(char),
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut c = self.text[self.pos..].chars();
        c.next();
        c.next()
    }

    /// Text and references up to the end, or up to the character that ends a nested word.
    fn word(&mut self, stop: Stop) -> Result<Word, WordError> {
        let mut w = Builder::default();
        let end = match stop {
            Stop::End => None,
            Stop::Brace => Some('}'),
            Stop::Pattern(c) => Some(c),
        };
        let raw = matches!(stop, Stop::Pattern(_));
        while let Some(c) = self.peek() {
            match c {
                c if Some(c) == end => return Ok(w.finish()),
                '\\' if self.peek2() == Some('$') => {
                    w.push_text("$");
                    self.pos += 2;
                }
                // In a pattern or replacement a backslash keeps the next character with it, so
                // `\}` and `\/` do not end it (BuildKit's raw escapes there).
                '\\' if raw && self.peek2().is_some() => {
                    let n = 1 + self.peek2().map_or(0, char::len_utf8);
                    w.push_text(&self.text[self.pos..self.pos + n]);
                    self.pos += n;
                }
                '$' => match self.peek2() {
                    Some('$') => {
                        w.push_text("$");
                        self.pos += 2;
                    }
                    Some('{') => {
                        let r = self.braced()?;
                        w.parts.push(Part::Ref(r));
                    }
                    Some(n) if n.is_ascii_alphabetic() || n == '_' => {
                        let at = self.pos;
                        self.pos += 1;
                        let name = self.name();
                        w.parts.push(Part::Ref(Ref { name, op: None, at, len: self.pos - at }));
                    }
                    _ => {
                        w.push_text("$");
                        self.pos += 1;
                    }
                },
                c => {
                    // The run of plain text up to the next character that may start something.
                    let rest = &self.text[self.pos..];
                    let end = rest[c.len_utf8()..]
                        .find(|c| c == '$' || c == '\\' || Some(c) == end)
                        .map_or(rest.len(), |i| i + c.len_utf8());
                    w.push_text(&rest[..end]);
                    self.pos += end;
                }
            }
        }
        Ok(w.finish())
    }

    fn name(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.text[start..self.pos].to_string()
    }

    /// `${...}`, at its `$`.
    fn braced(&mut self) -> Result<Ref, WordError> {
        let at = self.pos;
        self.pos += 2;
        let unclosed = |p: &Self| WordError {
            at,
            len: p.text.len() - at,
            message: "unclosed `${` in a value".into(),
            unclosed: true,
        };
        let bad = |p: &Self, what: String| {
            let end = p.text[at..].find('}').map_or(p.text.len(), |i| at + i + 1);
            WordError { at, len: end - at, message: what, unclosed: false }
        };
        let name =
            if self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') { self.name() } else { String::new() };
        let Some(next) = self.peek() else { return Err(unclosed(self)) };
        if !self.text[self.pos..].contains('}') {
            return Err(unclosed(self));
        }
        if name.is_empty() {
            let end = self.text[at..].find('}').map_or(self.text.len(), |i| at + i + 1);
            let body = &self.text[at..end];
            return Err(bad(self, format!("`{body}` is not a reference (`${{NAME}}`, `${{NAME:-default}}`, ...)")));
        }
        let (colon, kind) = match next {
            '}' => {
                self.pos += 1;
                return Ok(Ref { name, op: None, at, len: self.pos - at });
            }
            ':' => (true, self.peek2()),
            other => (false, Some(other)),
        };
        let kind = match kind {
            Some(k @ ('-' | '+' | '?')) => k,
            Some(k @ ('#' | '%' | '/')) if !colon => k,
            None => return Err(unclosed(self)),
            Some(other) => {
                let op = if colon { format!(":{other}") } else { other.to_string() };
                let msg = if "#%/".contains(other) {
                    format!("`${{{name}{op}...}}`: a pattern form takes no `:` (`${{{name}{other}...}}`)")
                } else {
                    format!(
                        "`{op}` is not a modifier in `${{{name}...}}` (`:-`, `-`, `:+`, `+`, `:?`, `?`, `#`, `##`, `%`, `%%`, `/`, `//`)"
                    )
                };
                return Err(bad(self, msg));
            }
        };
        self.pos += 1 + usize::from(colon);
        let (word, with) = if kind == '/' {
            let all = self.peek() == Some('/');
            self.pos += usize::from(all);
            let pattern = self.word(Stop::Pattern('/'))?;
            if self.peek() != Some('/') {
                return Err(WordError {
                    at,
                    len: self.text.len() - at,
                    message: format!("`${{{name}/...}}` needs a `/` after its pattern: `${{{name}/pattern/replacement}}` (`\\/` is a `/` in the pattern)"),
                    unclosed: false,
                });
            }
            self.pos += 1;
            let word = self.word(Stop::Pattern('}'))?;
            (pattern, Some(Box::new(Replace { all, word })))
        } else if kind == '#' || kind == '%' {
            (self.word(Stop::Pattern('}'))?, None)
        } else {
            (self.word(Stop::Brace)?, None)
        };
        if self.peek() != Some('}') {
            return Err(unclosed(self));
        }
        self.pos += 1;
        Ok(Ref { name, op: Some(Modifier { kind, colon, word, with }), at, len: self.pos - at })
    }
}

impl fmt::Display for Word {
    /// The value as it could be written again: `$` doubled, references as `${NAME...}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Repr::Literal(t) = &self.repr {
            return f.write_str(&t.replace('$', "$$"));
        }
        for p in self.parts() {
            match p {
                Part::Text(t) => f.write_str(&t.replace('$', "$$"))?,
                Part::Ref(Ref { name, op: None, .. }) => write!(f, "${{{name}}}")?,
                Part::Ref(Ref { name, op: Some(m), .. }) => {
                    let colon = if m.colon { ":" } else { "" };
                    match &m.with {
                        None => write!(f, "${{{name}{colon}{}{}}}", m.kind, m.word)?,
                        Some(w) => {
                            let all = if w.all { "/" } else { "" };
                            write!(f, "${{{name}/{all}{}/{}}}", m.word, w.word)?
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl Serialize for Word {
    /// A literal as itself; a word with references as [`fmt::Display`] writes it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PATH" => Some("/usr/bin:/bin".into()),
            "EMPTY" => Some(String::new()),
            "V" => Some("1.2".into()),
            _ => None,
        }
    }

    fn x(text: &str) -> Result<String, String> {
        Word::parse(text).and_then(|w| w.expand(&env)).map_err(|e| e.message)
    }

    #[test]
    fn expands_like_dockerfile() {
        assert_eq!(x("/app/.venv/bin:$PATH").unwrap(), "/app/.venv/bin:/usr/bin:/bin");
        assert_eq!(x("${PATH}:/x").unwrap(), "/usr/bin:/bin:/x");
        assert_eq!(x("a$UNSET-b").unwrap(), "a-b");
        assert_eq!(x("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${V:-d}").unwrap(), "d d  1.2");
        assert_eq!(x("${UNSET:+w}|${EMPTY:+w}|${EMPTY+w}|${V:+w-$V}").unwrap(), "||w|w-1.2");
        assert_eq!(x("${UNSET:-${V}}/${UNSET:-${ALSO:-z}}").unwrap(), "1.2/z");
        assert_eq!(x("$$V \\$V $${V} $ $1 a$").unwrap(), "$V $V ${V} $ $1 a$");
        assert_eq!(x("${V:?need V}").unwrap(), "1.2");
        assert_eq!(x("${UNSET:?set it}").unwrap_err(), "UNSET: set it");
        assert_eq!(x("${EMPTY:?}").unwrap_err(), "EMPTY: is not allowed to be empty");
        assert_eq!(x("${EMPTY?}").unwrap(), "");
        assert_eq!(x("${UNSET?}").unwrap_err(), "UNSET: is not allowed to be unset");
        assert_eq!(x("é$V€").unwrap(), "é1.2€");
        // Runs of text between references, with backslashes and braces that start nothing.
        assert_eq!(x("a\\b}c$V\\d${UNSET:-x\\y é}z}").unwrap(), "a\\b}c1.2\\dx\\y éz}");
        assert_eq!(Word::parse("no refs \\ } here").unwrap(), Word::literal("no refs \\ } here"));
    }

    #[test]
    fn rejects_what_it_cannot_expand() {
        for (bad, at) in [
            ("x${V", 1),
            ("${V:-a", 0),
            ("${}", 0),
            ("${a b}", 0),
            ("${V:#x}", 0),
            ("${V:%x}", 0),
            ("${V:/x/y}", 0),
            ("${V:x}", 0),
            ("${1}", 0),
            ("a${V/x}", 1),
            ("${V//}", 0),
            ("${V//ww}", 0),
            ("${V#x", 0),
            ("${V#x\\}", 0),
        ] {
            let e = Word::parse(bad).unwrap_err();
            assert_eq!(e.at, at, "{bad}: {}", e.message);
        }
        assert!(Word::parse("${V").unwrap_err().unclosed);
        assert!(Word::parse("${V:%%x}").unwrap_err().message.contains("takes no `:`"));
    }

    /// BuildKit's cases for the pattern forms (its lex_test.go), as decant writes them: the
    /// value, the word, what it expands to (`Err`: part of the error).
    #[test]
    fn pattern_forms_as_buildkit() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Result<&'a str, &'a str>);
        let cases: &[Case] = &[
            (&[("FOO", "()[]{}^$.*?|\\x")], "${FOO#()[]{\\}^$$.\\*\\?|\\\\}", Ok("x")),
            (&[("FOO", "xx**")], "${FOO%%\\**}", Ok("xx")),
            (&[("FOO", "xxyy")], "${FOO#*x*y}", Ok("y")),
            (&[("FOO", "xxyy")], "${FOO#*}", Ok("xxyy")),
            (&[("FOO", "xxyy"), ("BAR", "x")], "${FOO#$BAR}", Ok("xyy")),
            (&[("FOO", "xxyy"), ("BAR", "")], "${FOO#$BAR}", Ok("xxyy")),
            (&[("FOO", "xxyy")], "${FOO#}", Ok("xxyy")),
            (&[("FOO", "xxyy")], "${FOO##*x}", Ok("yy")),
            (&[("FOO", "xxyy")], "${FOO##}", Ok("xxyy")),
            (&[("FOO", "???y")], "${FOO#?\\?}", Ok("?y")),
            (&[("FOO", "xxyy")], "${ABC:-.}${FOO%x}${ABC:-.}", Ok(".xxyy.")),
            (&[("FOO", "a***yy*")], "${FOO%%\\**\\*}", Ok("a")),
            (&[("FOO", "xxyy")], "${FOO%}", Ok("xxyy")),
            (&[("FOO", "xxyy"), ("BAR", "")], "${FOO%%$BAR}", Ok("xxyy")),
            (
                &[("FOO", "/foo*/*/*.txt"), ("N", "\\*/")],
                "${FOO/$N/.} - ${FOO//$N/.}",
                Ok("/foo.*/*.txt - /foo..*.txt"),
            ),
            (&[("FOO", "/tmp/tmp/bar.txt"), ("N", "/tmp")], "${FOO/$N/} - ${FOO//$N/}", Ok("/tmp/bar.txt - /bar.txt")),
            (
                &[("FOO", "/a/foo/b/c.txt"), ("N", "/?/"), ("R", "/")],
                "${FOO/$N/$R} - ${FOO//$N/$R}",
                Ok("/foo/b/c.txt - /foo/c.txt"),
            ),
            (
                &[("FOO", "http://google.de"), ("N", "http://"), ("R", "https://")],
                "${FOO/$N/$R}",
                Ok("https://google.de"),
            ),
            (&[("FOO", "/tmp/foo.txt")], "${FOO//\\//\\/}", Ok("\\/tmp\\/foo.txt")),
            (&[("FOO", "xxyy"), ("BAR", "")], "${FOO/$BAR/ww}", Ok("wwxxyy")),
            (&[("FOO", "xxyy")], "${FOO///}", Ok("xxyy")),
            (&[], "${FOO///}", Ok("")),
            // Moby's Dockerfile, and its release names.
            (&[("TARGETPLATFORM", "linux/amd64")], "${TARGETPLATFORM#linux/amd64}", Ok("")),
            (&[("TARGETPLATFORM", "linux/arm/v7")], "${TARGETPLATFORM#linux/amd64}", Ok("linux/arm/v7")),
            (&[("VERSION", "v1.2.3")], "${VERSION#v}", Ok("1.2.3")),
            (&[("P", "linux/arm/v7")], "${P%/*} ${P%%/*} ${P#*/} ${P##*/}", Ok("linux/arm linux arm/v7 v7")),
            (
                &[("P", "linux/arm/v7")],
                "${P/\\//-} ${P//\\//-} ${P//[/]/-}",
                Ok("linux-arm/v7 linux-arm-v7 linux/arm/v7"),
            ),
            // `?` and `*` never match a newline; `[` is a literal.
            (&[("V", "a\nb")], "${V#a?} ${V#a*b}|${V%*}", Ok("a\nb a\nb|a\nb")),
            (&[("V", "[ab]c")], "${V#[ab]}", Ok("c")),
            // The first match a backtracking matcher finds.
            (&[("V", "abcabc")], "${V#*b} ${V##*b} ${V%b*} ${V%%b*}", Ok("cabc c abca a")),
            (&[("V", "aXab")], "${V#*a*b} ${V/a*b/-} ${V//a/-}", Ok(" - -X-b")),
            // Unset is empty: a pattern that matches nothing still replaces.
            (&[], "${U#x}|${U/*/r}|${U//*/r}|${U/x/r}", Ok("|r|r|")),
            // An empty match: between every character, not right after a match.
            (&[("V", "abc")], "${V//*/-} ${V//x*/-}", Ok("- abc")),
            (&[("V", "abc")], "${V///-}", Ok("-a-b-c-")),
            // `//` writes `$0` as the match, as Go's regexp does; `/` as written.
            (&[("V", "abc"), ("R", "<$0${0}$1$$x>")], "${V//b/$R}|${V/b/$R}", Ok("a<bb$x>c|a<$0${0}$1$$x>c")),
            // A second `#` or `%` from an arg makes the match the longest, as in BuildKit.
            (&[("V", "abab"), ("P", "#*b")], "${V#$P} ${V#\\#*b}", Err("not an escape")),
            (&[("V", "abab"), ("P", "#*b")], "${V#$P}", Ok("")),
            (&[("V", "a/b")], "${V%\\}}", Ok("a/b")),
            (&[("V", "a}")], "${V%\\}}", Ok("a")),
            (&[("V", "ab")], "${V#\\x}", Err("not an escape")),
            (&[("V", "ab"), ("P", "a\\")], "${V#$P}", Err("lone")),
        ];
        for (vars, text, want) in cases {
            let got = Word::parse(text)
                .and_then(|w| w.expand(&|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())));
            match (want, got) {
                (Ok(want), Ok(got)) => assert_eq!(&got, want, "{text} with {vars:?}"),
                (Err(want), Err(e)) => assert!(e.message.contains(want), "{text}: {}", e.message),
                (want, got) => panic!("{text} with {vars:?}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn binds_pattern_forms() {
        let args = |n: &str| match n {
            "V" => Some(Some("v1.2".to_string())),
            "P" => Some(Some("v".to_string())),
            _ => None,
        };
        let w = Word::parse("${V#$P}-${HOME/$P/$$}-${HOME//\\/x/${P}y}-${PATH%%:*}").unwrap().bind(&args).unwrap();
        assert_eq!(w.to_string(), "1.2-${HOME/v/$$}-${HOME//\\/x/vy}-${PATH%%:*}");
        assert_eq!(Word::parse(&w.to_string()).unwrap().to_string(), w.to_string());
        assert_eq!(w.expand(&env).unwrap(), "1.2---/usr/bin");
        let e = Word::parse("x${V#$HOME}").unwrap().bind(&args).unwrap_err();
        assert_eq!((e.at, e.len), (1, 10));
        assert!(e.message.contains("`HOME`, which is not an arg"), "{}", e.message);
        let (_, wrote) = Word::parse("${V//?/$V}").unwrap().bind_counting(&args).unwrap();
        assert_eq!(wrote, 16);
        let big = |n: &str| (n == "B").then(|| Some("x".repeat(1 << 11)));
        let e = Word::parse("${B//?/${B}}").unwrap().bind(&big).unwrap_err();
        assert!(e.message.contains("longer than 1048576 bytes"), "{}", e.message);
    }

    #[test]
    fn binds_known_names_and_keeps_the_rest() {
        let args = |n: &str| match n {
            "V" => Some(Some("2".to_string())),
            "E" => Some(None),
            _ => None,
        };
        let w = Word::parse("/opt/${V}/bin:$PATH:${E:-${HOME}}:${E:+x}").unwrap().bind(&args).unwrap();
        assert_eq!(w.to_string(), "/opt/2/bin:${PATH}:${HOME}:");
        assert_eq!(w.names(), ["PATH", "HOME"]);
        assert_eq!(w.expand(&env).unwrap(), "/opt/2/bin:/usr/bin:/bin::");
        let lit = Word::parse("v${V}-$$x").unwrap().bind(&args).unwrap();
        assert_eq!(lit.as_literal().as_deref(), Some("v2-$x"));
        assert_eq!(serde_json::to_value(&lit).unwrap(), "v2-$x");
        let kept = Word::parse("${HOME:-$V}").unwrap().bind(&args).unwrap();
        assert_eq!(kept.to_string(), "${HOME:-2}");
        let again = Word::parse(&kept.to_string()).unwrap();
        assert_eq!(again.to_string(), kept.to_string());
        assert_eq!(again.expand(&env).unwrap(), "2");
    }
}
