//! From a place in a scalar's value back to its place in the file.
//!
//! A value differs from its source text when it was quoted (`\u00e9`, `\L`, `''`), folded over
//! several lines, or written as a block scalar (`|`, `>`). Positions inside a value (an arg
//! reference, say) are mapped back by decoding the source again beside the value. This runs
//! only when a diagnostic points inside a value, never on the way to a plan.

use std::ops::Range;

use crate::diag::{SourceFile, Span};

/// The bytes of the file that wrote the character at byte `at` of `value`, the value of the
/// scalar whose source starts at `span.start`. When the source cannot be matched with the value
/// (it should always match), the place is counted from the start of the text as a fallback.
pub fn value_range(file: &SourceFile, span: Span, value: &str, at: usize) -> Range<usize> {
    source_unit(&file.text, span.start, value, at).unwrap_or_else(|| {
        let quoted = file.text.get(span.start..).is_some_and(|t| t.starts_with(['"', '\'']));
        let start = span.start + usize::from(quoted) + at;
        start..start + value.get(at..).and_then(|v| v.chars().next()).map_or(0, char::len_utf8)
    })
}

/// The source bytes of the value's character at byte `at`, by decoding the source from
/// `start` and matching the decoded characters with the value's.
fn source_unit(text: &str, start: usize, value: &str, at: usize) -> Option<Range<usize>> {
    let src = text.get(start..)?;
    let units = match src.chars().next()? {
        '"' => double_quoted(src),
        '\'' => single_quoted(src),
        '|' | '>' => {
            // The content starts on the line after the header (`|`, `>-`, `|2 # comment`).
            let body = src.find('\n')? + 1;
            src[body..].char_indices().map(|(i, c)| (c, body + i..body + i + c.len_utf8())).collect()
        }
        _ => src.char_indices().map(|(i, c)| (c, i..i + c.len_utf8())).collect(),
    };
    let mut units = units.into_iter();
    for (i, v) in value.char_indices() {
        // Skip what folding and indentation removed; a folded line break matches a space.
        let range = loop {
            let (d, range) = units.next()?;
            if d == v || (v.is_whitespace() && d.is_whitespace()) {
                break range;
            }
            if !d.is_whitespace() {
                return None;
            }
        };
        if i == at {
            return Some(start + range.start..start + range.end);
        }
        if i > at {
            return None;
        }
    }
    None
}

/// The characters of a double-quoted scalar with the source bytes of each (an escape is one
/// character); an escaped line break gives none.
fn double_quoted(src: &str) -> Vec<(char, Range<usize>)> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                let decoded = match e {
                    '0' => Some('\0'),
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    't' | '\t' => Some('\t'),
                    'n' => Some('\n'),
                    'v' => Some('\u{b}'),
                    'f' => Some('\u{c}'),
                    'r' => Some('\r'),
                    'e' => Some('\u{1b}'),
                    'N' => Some('\u{85}'),
                    '_' => Some('\u{a0}'),
                    'L' => Some('\u{2028}'),
                    'P' => Some('\u{2029}'),
                    'x' => hex(2, &mut chars),
                    'u' => hex(4, &mut chars),
                    'U' => hex(8, &mut chars),
                    // An escaped line break joins the lines.
                    '\n' | '\r' => None,
                    other => Some(other),
                };
                let end = chars.peek().map_or(src.len(), |&(j, _)| j);
                if let Some(d) = decoded {
                    out.push((d, i..end));
                }
            }
            c => out.push((c, i..i + c.len_utf8())),
        }
    }
    out
}

fn hex(n: usize, chars: &mut impl Iterator<Item = (usize, char)>) -> Option<char> {
    let digits: String = (0..n).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
    u32::from_str_radix(&digits, 16).ok().and_then(char::from_u32)
}

/// The characters of a single-quoted scalar with their source bytes (`''` is one `'`).
fn single_quoted(src: &str) -> Vec<(char, Range<usize>)> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().map(|&(_, c)| c) != Some('\'') {
                break;
            }
            chars.next();
            out.push(('\'', i..i + 2));
        } else {
            out.push((c, i..i + c.len_utf8()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `yaml` (one mapping `k: <scalar>`), and returns the source text at the place of
    /// `needle` in the value.
    fn at(yaml: &str, needle: &str) -> (String, String) {
        let root = marked_yaml::parse_yaml(0, yaml).unwrap();
        let node = root.as_mapping().unwrap().get_scalar("k").unwrap();
        let value = node.as_str().to_string();
        let m = node.span().start().unwrap();
        let file = SourceFile::new("t", yaml);
        let start = file.offset(m.line(), m.column());
        let i = value.find(needle).unwrap_or_else(|| panic!("{needle:?} not in {value:?}"));
        let r = value_range(&file, Span { start, end: start }, &value, i);
        (value, yaml[r].to_string())
    }

    #[test]
    fn every_scalar_style() {
        assert_eq!(at("k: \"\\u00e9\\u00e9/${NOPE}\"\n", "$").1, "$");
        let (v, s) = at("k: \"\\u00e9\\u00e9/${NOPE}\"\n", "é");
        assert_eq!((v.as_str(), s.as_str()), ("éé/${NOPE}", "\\u00e9"));
        assert_eq!(at("k: \"a\\Lb ${X}\"\n", "$").1, "$");
        assert_eq!(at("k: \"a\\Lb ${X}\"\n", "\u{2028}").1, "\\L");
        assert_eq!(at("k: \"a\\x41\\U0001F600 ${X}\"\n", "$").1, "$");
        assert_eq!(at("k: \"a \\\n   b ${X}\"\n", "$").1, "$");
        assert_eq!(at("k: 'it''s ${X}'\n", "$").1, "$");
        assert_eq!(at("k: 'it''s ${X}'\n", "'").1, "''");
        // Plain, folded over lines: the line break became a space.
        let yaml = "k: first line\n  second ${X}\n";
        assert_eq!(at(yaml, "$").1, "$");
        assert_eq!(&yaml[yaml.find('$').unwrap()..][..4], "${X}");
        assert_eq!(at("k: |\n  one\n  two ${X}\n", "$").1, "$");
        assert_eq!(at("k: >-\n  one\n\n  two ${X}\n", "$").1, "$");
        assert_eq!(at("k: \"a\n\n  b ${X}\"\n", "$").1, "$");
    }

    #[test]
    fn positions_point_at_the_source() {
        let yaml = "k: \"\\u00e9\\u00e9\\u00e9\\u00e9/${NOPE}\"\n";
        let root = marked_yaml::parse_yaml(0, yaml).unwrap();
        let node = root.as_mapping().unwrap().get_scalar("k").unwrap();
        let file = SourceFile::new("t", yaml);
        let r = value_range(&file, Span { start: 3, end: 3 }, node.as_str(), node.as_str().find('$').unwrap());
        assert_eq!(file.position(r.start).column, 30);
    }
}
