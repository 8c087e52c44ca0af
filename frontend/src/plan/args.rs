//! Build arguments: declared defaults, per-build overrides, built-in platform args, and
//! `${NAME}` / `${NAME:-default}` substitution in string fields.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, SourceFile, Span};
use crate::spec::Sp;

use super::values::Platform;

/// Args every build has, as in Dockerfiles, for cross-compiling.
pub const BUILTIN_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// The values of every arg in scope of a build.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: BTreeMap<String, String>,
    declared: Vec<String>,
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
        Args { values, declared: Vec::new(), expanded: Default::default() }
    }

    /// Declares a user arg with its value for this build.
    pub fn declare(&mut self, name: &str, value: String) {
        self.values.insert(name.to_string(), value);
        self.declared.push(name.to_string());
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

    /// Replaces `${NAME}` and `${NAME:-default}` in `s`; `$${` is a literal `${`.
    pub fn substitute(&self, file: &SourceFile, s: &Sp<String>) -> Result<String, Diagnostic> {
        let text = &s.value;
        // Where a character of the value was written (escapes and folding make it differ).
        let src = |i: usize| crate::spec::value_range(file, s.span, text, i);
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        let mut offset = 0;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix("${") {
                out.push_str("${");
                rest = tail;
                offset += i + 3;
                continue;
            }
            if !after.starts_with('{') {
                out.push('$');
                rest = after;
                offset += i + 1;
                continue;
            }
            let at = src(offset + i).start;
            let Some(close) = after.find('}') else {
                let end = src(text.char_indices().last().map_or(0, |(j, _)| j)).end;
                let span = Span { start: at, end: end.max(at) };
                return Err(Diagnostic::error(span, "unclosed `${` in a value").help("write `$${` for a literal `${`"));
            };
            let body = &after[1..close];
            let span = Span { start: at, end: src(offset + i + close + 1).end };
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Diagnostic::error(
                    span,
                    format!("`${{{body}}}` is not an arg reference (`${{NAME}}` or `${{NAME:-default}}`)"),
                ));
            }
            match (self.get(name), default) {
                (Some(""), Some(d)) => out.push_str(d),
                (Some(v), _) => self.expand(&mut out, v, name, span)?,
                (None, _) => {
                    return Err(Diagnostic::error(span, format!("arg `{name}` is used but never declared"))
                        .label("not declared in `args:`")
                        .suggest(name, self.names()));
                }
            }
            rest = &after[close + 1..];
            offset += i + close + 2;
        }
        out.push_str(rest);
        Ok(out)
    }
}

impl Args {
    /// Appends an arg's value, unless that makes the value (or all expansions so far) too
    /// long: args that repeat each other double at every level.
    fn expand(&self, out: &mut String, value: &str, name: &str, span: Span) -> Result<(), Diagnostic> {
        let total = self.expanded.get().saturating_add(value.len());
        if out.len().saturating_add(value.len()) > MAX_EXPANDED_LEN || total > MAX_EXPANDED_TOTAL {
            let (limit, what) = if total > MAX_EXPANDED_TOTAL {
                (MAX_EXPANDED_TOTAL, "all arg expansions of this build")
            } else {
                (MAX_EXPANDED_LEN, "this value")
            };
            return Err(Diagnostic::error(
                span,
                format!("expanding `${{{name}}}` ({} bytes) makes {what} longer than {} bytes", value.len(), limit),
            )
            .label("expanded here")
            .help("an arg that repeats another arg doubles at every level"));
        }
        self.expanded.set(total);
        out.push_str(value);
        Ok(())
    }
}

/// The longest a value may get by expanding args (1 MiB).
pub const MAX_EXPANDED_LEN: usize = 1 << 20;
/// The most that arg expansions may add up to in one build (64 MiB).
pub const MAX_EXPANDED_TOTAL: usize = 64 << 20;

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
        assert_eq!(sub(&a, "$HOME and $${V}").unwrap(), "$HOME and ${V}");
        assert_eq!(sub(&a, "${TARGETARCH}").unwrap(), "amd64");
        let e = sub(&a, "x${VV}").unwrap_err();
        assert_eq!(e.message, "arg `VV` is used but never declared");
        assert_eq!(e.span, Some(Span { start: 4, end: 9 }));
        assert!(sub(&a, "${V").is_err());
        assert!(sub(&a, "${a b}").is_err());
    }
}
