//! Parser directives at the top of a spec, read as BuildKit reads them in Dockerfiles
//! (`frontend/dockerfile/parser/directives.go`): a UTF-8 BOM and a `#!` first line are
//! skipped; then each line `# key=value` with a known key (`syntax`, `check`, `escape`,
//! case-insensitive) is a directive, until the first line that is not one. So `# syntax=`
//! need not be the first line: `# check=...` may come before it.

use crate::diag::Span;

use super::Sp;

/// The directive keys BuildKit knows.
const KEYS: &[&str] = &["syntax", "check", "escape"];

/// One directive: its lower-cased key and its value with the value's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub key: String,
    pub value: Sp<String>,
}

/// The directives at the top of `text`, in order; a repeated key ends the list (BuildKit
/// refuses the file then; decant keeps the first).
pub fn parse_directives(text: &str) -> Vec<Directive> {
    let mut offset = 0;
    if text.starts_with('\u{feff}') {
        offset = '\u{feff}'.len_utf8();
    }
    let mut lines = line_spans(text, offset).peekable();
    if let Some((start, end)) = lines.peek().copied() {
        if text[start..end].starts_with("#!") {
            lines.next();
        }
    }
    let mut out: Vec<Directive> = Vec::new();
    for (start, end) in lines {
        let line = text[start..end].trim_end_matches('\r');
        let Some(body) = line.strip_prefix('#') else { break };
        let body_start = start + 1 + (body.len() - body.trim_start().len());
        let body = body.trim_start();
        let Some((key, _)) = body.split_once('=') else { break };
        let key_trimmed = key.trim_end();
        let valid_key = key_trimmed.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key_trimmed.chars().all(|c| c.is_ascii_alphanumeric());
        let key_lower = key_trimmed.to_ascii_lowercase();
        if !valid_key || !KEYS.contains(&key_lower.as_str()) {
            break;
        }
        let raw_value = &body[key.len() + 1..];
        let value = raw_value.trim();
        if value.is_empty() || out.iter().any(|d| d.key == key_lower) {
            break;
        }
        let value_start = body_start + key.len() + 1 + (raw_value.len() - raw_value.trim_start().len());
        out.push(Directive {
            key: key_lower,
            value: Sp::new(value.to_string(), Span { start: value_start, end: value_start + value.len() }),
        });
    }
    out
}

/// The value of directive `key`, if given.
pub fn directive(text: &str, key: &str) -> Option<Sp<String>> {
    parse_directives(text).into_iter().find(|d| d.key == key).map(|d| d.value)
}

/// `(start, end)` byte offsets of each line from `offset` on, without the newline.
fn line_spans(text: &str, offset: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = offset;
    std::iter::from_fn(move || {
        if pos >= text.len() {
            return None;
        }
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let span = (pos, end);
        pos = end + 1;
        Some(span)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(text: &str) -> Option<String> {
        directive(text, "syntax").map(|v| {
            assert_eq!(&text[v.span.start..v.span.end], v.value, "the span covers the value");
            v.value
        })
    }

    #[test]
    fn syntax_where_buildkit_finds_it() {
        assert_eq!(syntax("# syntax=decant/frontend:1\nstages: {}\n").as_deref(), Some("decant/frontend:1"));
        assert_eq!(syntax("#syntax = decant/frontend:1 \r\n").as_deref(), Some("decant/frontend:1"));
        assert_eq!(syntax("\u{feff}# syntax=img\n").as_deref(), Some("img"), "after a BOM");
        assert_eq!(syntax("#!/usr/bin/env decant\n# syntax=img\n").as_deref(), Some("img"), "after #!");
        assert_eq!(syntax("# check=skip=all\n# SYNTAX=img\n").as_deref(), Some("img"), "after another directive");
        assert_eq!(syntax("# escape=`\n# syntax=img\n").as_deref(), Some("img"));
        // Not directives: a plain comment, a blank line or YAML before it; an unknown key.
        assert_eq!(syntax("# a comment\n# syntax=img\n"), None);
        assert_eq!(syntax("\n# syntax=img\n"), None);
        assert_eq!(syntax("stages: {}\n# syntax=img\n"), None);
        assert_eq!(syntax("# foo=bar\n# syntax=img\n"), None);
        assert_eq!(syntax("# syntax=\n"), None);
    }

    #[test]
    fn check_directive_and_repeats() {
        let d = parse_directives("# syntax=img\n# check=skip=untagged-image;error=true\n# syntax=other\n");
        assert_eq!(d.len(), 2);
        assert_eq!((d[1].key.as_str(), d[1].value.value.as_str()), ("check", "skip=untagged-image;error=true"));
    }
}
