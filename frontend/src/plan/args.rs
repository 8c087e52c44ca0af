//! Build arguments: declared defaults, per-build overrides, built-in platform args, and
//! their expansion in string fields (the syntax is [`super::word`]'s).

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, SourceFile, Span};
use crate::spec::Sp;

use super::values::Platform;
use super::word::{Word, WordError};
use crate::limits::{MAX_EXPANDED_LEN, MAX_EXPANDED_TOTAL};

pub use crate::spec::{BUILTIN_ARGS, SBOM_SCAN_CONTEXT, SBOM_SCAN_STAGE};

/// Whether a scan arg's `value` turns the scan on for `stage`, as the Dockerfile frontend
/// reads it: a boolean (Go's `1`, `t`, `true`, `0`, `f`, `false`, ...) for every stage, else
/// a comma list of stage names.
pub fn scan_enabled_for(stage: &str, value: &str) -> bool {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
        "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
        _ => value.split(',').any(|s| s == stage),
    }
}

/// The values of every arg in scope of a build.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: BTreeMap<String, String>,
    declared: Vec<String>,
    /// Declared args without a value (no default, no build arg): empty, but unset for the
    /// `-`, `+` and `?` forms without `:`, as Dockerfile's `ARG NAME` leaves them.
    unset: std::collections::BTreeSet<String>,
    /// Bytes added by expansions so far (bounded by [`MAX_EXPANDED_TOTAL`]).
    expanded: std::cell::Cell<usize>,
}

impl Args {
    /// Built-in args for a build on `build` producing `target`.
    pub fn builtin(build: &Platform, target: &Platform) -> Args {
        let mut values = BTreeMap::new();
        for (prefix, p) in [("BUILD", build), ("TARGET", target)] {
            values.insert(format!("{prefix}PLATFORM"), p.id());
            values.insert(format!("{prefix}OS"), p.os.clone());
            values.insert(format!("{prefix}ARCH"), p.architecture.clone());
            values.insert(format!("{prefix}VARIANT"), p.variant.clone().unwrap_or_default());
        }
        Args { values, declared: Vec::new(), unset: Default::default(), expanded: Default::default() }
    }

    /// Declares a user arg with its value for this build.
    pub fn declare(&mut self, name: &str, value: String) {
        self.values.insert(name.to_string(), value);
        self.declared.push(name.to_string());
    }

    /// Marks a declared arg as having no value (see `unset`).
    pub fn mark_unset(&mut self, name: &str) {
        self.unset.insert(name.to_string());
    }

    /// Whether a declared arg has no value.
    pub fn is_unset(&self, name: &str) -> bool {
        self.unset.contains(name)
    }

    /// The declared args without a value, sorted.
    pub fn unset(&self) -> impl Iterator<Item = &str> {
        self.unset.iter().map(String::as_str)
    }

    /// Gives a known arg another value (a stage's own); returns the value it had.
    pub fn set(&mut self, name: &str, value: String) -> Option<String> {
        self.unset.remove(name);
        self.values.insert(name.to_string(), value)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The user-declared args with their values, in declaration order.
    pub fn declared(&self) -> impl Iterator<Item = (&str, &str)> {
        self.declared.iter().map(|n| (n.as_str(), self.values[n].as_str()))
    }

    /// Every known name, for suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Expands the args in `s` (see [`Word`] for the syntax); any other name is an error.
    pub fn substitute(&self, file: &SourceFile, s: &Sp<String>) -> Result<String, Diagnostic> {
        let w = self.word(file, s)?;
        match w.first_ref() {
            None => Ok(w.into_literal().unwrap_or_default()),
            Some((name, at, len)) => {
                let span = value_span(file, s, at, len);
                Err(Diagnostic::error(span, format!("arg `{name}` is used but never declared"))
                    .label("not declared in `args:`")
                    .suggest(name, self.names()))
            }
        }
    }

    /// Parses `s` and expands the args in it; references to other names are kept, for the
    /// stage's environment to expand at build time.
    pub fn word(&self, file: &SourceFile, s: &Sp<String>) -> Result<Word, Diagnostic> {
        let diag = |e: WordError| {
            let d = Diagnostic::error(value_span(file, s, e.at, e.len), e.message);
            if e.unclosed {
                d.help("write `$${` for a literal `${`")
            } else {
                d
            }
        };
        let w = Word::parse(&s.value).map_err(diag)?;
        self.bound_size(file, s, &w)?;
        if w.first_ref().is_none() {
            return Ok(w);
        }
        let (bound, replaced) = w
            .bind_counting(&|name| match self.unset.contains(name) {
                true => Some(None),
                false => self.values.get(name).map(|v| Some(v.clone())),
            })
            .map_err(diag)?;
        // What pattern replacements wrote (`${A//x/$B}` repeats `B`) counts towards the build's total.
        let total = self.expanded.get().saturating_add(replaced);
        self.expanded.set(total);
        if total > MAX_EXPANDED_TOTAL {
            return Err(Diagnostic::error(
                s.span,
                format!(
                    "pattern replacements make all arg expansions of this build longer than {MAX_EXPANDED_TOTAL} bytes"
                ),
            )
            .label("replaced here"));
        }
        // A NUL written in the value is the decoder's error; one that appears here came from an arg.
        if bound.has_nul() && !s.value.contains('\0') {
            return Err(Diagnostic::error(s.span, "this value contains a NUL character (from an arg)")
                .label("expands to a NUL character"));
        }
        Ok(bound)
    }

    /// Refuses, before anything is expanded, a value that the args would make longer than
    /// [`MAX_EXPANDED_LEN`], or that would take all expansions of the build past
    /// [`MAX_EXPANDED_TOTAL`]: args that repeat each other double at every level. Counting
    /// every reference's value is an upper bound of what binding adds. The error names the
    /// reference that crosses the limit.
    fn bound_size(&self, file: &SourceFile, s: &Sp<String>, w: &Word) -> Result<(), Diagnostic> {
        let mut len = 0usize;
        for (name, at, ref_len) in w.refs() {
            let Some(value) = self.values.get(name) else { continue };
            len = len.saturating_add(value.len());
            let total = self.expanded.get().saturating_add(len);
            let (limit, what) = match (len > MAX_EXPANDED_LEN, total > MAX_EXPANDED_TOTAL) {
                (true, _) => (MAX_EXPANDED_LEN, "this value"),
                (false, true) => (MAX_EXPANDED_TOTAL, "all arg expansions of this build"),
                (false, false) => continue,
            };
            return Err(Diagnostic::error(
                value_span(file, s, at, ref_len),
                format!("expanding `${{{name}}}` ({} bytes) makes {what} longer than {limit} bytes", value.len()),
            )
            .label("expanded here")
            .help("an arg that repeats another arg doubles at every level"));
        }
        self.expanded.set(self.expanded.get().saturating_add(len));
        Ok(())
    }
}

/// The span of `len` bytes at `at` in the value `s`, where they were written in the file
/// (escapes, quotes and folding make the value's offsets differ from the source's).
pub(crate) fn value_span(file: &SourceFile, s: &Sp<String>, at: usize, len: usize) -> Span {
    let at = at.min(s.value.len());
    let start = crate::spec::value_range(file, s.span, &s.value, at).start;
    let last = s.value.get(at..at + len).and_then(|t| t.char_indices().last()).map(|(j, _)| at + j);
    let end = last.map_or(start, |j| crate::spec::value_range(file, s.span, &s.value, j).end);
    Span { start, end: end.max(start) }
}

/// Whether shell text refers to the variable `name` (`$NAME` or `${NAME...}`), as a `run`
/// command that should see the build arg `name` does.
pub fn mentions_var(text: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices('$').any(|(i, _)| {
        let after = &text[i + 1..];
        let rest = match after.strip_prefix('{') {
            Some(braced) => braced.strip_prefix(name).map(|r| !r.starts_with(ident)),
            None => after.strip_prefix(name).map(|r| !r.starts_with(ident)),
        };
        rest.unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(args: &Args, text: &str) -> Result<String, Diagnostic> {
        let file = SourceFile::new("t", format!("k: {text}"));
        args.substitute(&file, &Sp::new(text.to_string(), Span { start: 3, end: 3 + text.len() }))
    }

    #[test]
    fn finds_variable_references() {
        for yes in ["echo $V", "echo ${V}", "x=${V:-1}", "$V/x", "a$V"] {
            assert!(mentions_var(yes, "V"), "{yes}");
        }
        for no in ["echo V", "echo $VV", "echo ${VV}", "$$", "echo $", "${ V}"] {
            assert!(!mentions_var(no, "V"), "{no}");
        }
    }

    #[test]
    fn substitutes() {
        let mut a = Args::builtin(&Platform::default(), &Platform::default());
        a.declare("V", "1.2".into());
        a.declare("E", String::new());
        assert_eq!(sub(&a, "app-${V}.tar").unwrap(), "app-1.2.tar");
        assert_eq!(sub(&a, "${E:-x}/${V:-y}").unwrap(), "x/1.2");
        assert_eq!(sub(&a, "$V and $${V} and \\$HOME").unwrap(), "1.2 and ${V} and $HOME");
        assert_eq!(sub(&a, "$HOME").unwrap_err().message, "arg `HOME` is used but never declared");
        assert_eq!(sub(&a, "${TARGETARCH}").unwrap(), "amd64");
        let e = sub(&a, "x${VV}").unwrap_err();
        assert_eq!(e.message, "arg `VV` is used but never declared");
        assert_eq!(e.span, Some(Span { start: 4, end: 9 }));
        assert!(sub(&a, "${V").is_err());
        assert!(sub(&a, "${a b}").is_err());
    }

    #[test]
    fn keeps_other_names_for_the_environment() {
        let mut a = Args::builtin(&Platform::default(), &Platform::default());
        a.declare("V", "1.2".into());
        let text = "/opt/$V/bin:$PATH";
        let file = SourceFile::new("t", format!("k: {text}"));
        let w = a.word(&file, &Sp::new(text.to_string(), Span { start: 3, end: 3 + text.len() })).unwrap();
        assert_eq!(w.to_string(), "/opt/1.2/bin:${PATH}");
    }
}
