//! The pattern forms of a reference, `${NAME#p}`, `${NAME##p}`, `${NAME%p}`, `${NAME%%p}`,
//! `${NAME/p/r}` and `${NAME//p/r}`, with the Dockerfile frontend's semantics (BuildKit v0.13,
//! Dockerfile 1.7).
//!
//! A pattern is a shell wildcard without bracket expressions: `*` is any run of characters, `?`
//! any one character, neither of them a newline; `[`, `]` and everything else match
//! themselves. `\*`, `\?` and `\\` are the character; `\}` and `\/` are `}` and `/` (the
//! backslash only kept them from ending the pattern); another backslash is an error. Where a
//! pattern could match several ways, the match is the one a backtracking matcher finds first:
//! `*` tries the fewest characters first for `#` and `%`, the most for `##`, `%%` and the
//! replacements. `%` and `%%` match the reversed pattern against the reversed value. A
//! replacement takes the leftmost match; `//` then goes on after it (after an empty match, one
//! character further), and in its replacement `$0` (or `${0}`) is the match, `$$` a `$`, and
//! any other `$name` nothing, as Go's regexp writes a replacement.

/// Matching work allowed for one pattern: pattern length × value length (64 Mi steps).
const MAX_STEPS: usize = 1 << 26;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Lit(char),
    Any,
    Star,
}

/// `value` without the shortest (or, when the pattern starts with a second `#`/`%`, longest)
/// prefix (`suffix`: suffix) that `pattern` matches.
pub fn trim(value: &str, pattern: &str, suffix: bool) -> Result<String, String> {
    let mark = if suffix { '%' } else { '#' };
    let (longest, pattern) = match pattern.strip_prefix(mark) {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    if !suffix {
        let v: Vec<char> = value.chars().collect();
        let toks = parse(pattern)?;
        return Ok(match ends(&toks, &v, longest)?[0] {
            Some(end) => v[end..].iter().collect(),
            None => value.to_string(),
        });
    }
    let v: Vec<char> = value.chars().rev().collect();
    let toks = parse(&reverse_pattern(pattern))?;
    Ok(match ends(&toks, &v, longest)?[0] {
        Some(end) => v[end..].iter().rev().collect(),
        None => value.to_string(),
    })
}

/// `value` with the leftmost match of `pattern` (`all`: every match, left to right) replaced
/// by `with`; at most `limit` bytes long.
pub fn replace(value: &str, pattern: &str, with: &str, all: bool, limit: usize) -> Result<String, String> {
    let v: Vec<char> = value.chars().collect();
    let toks = parse(pattern)?;
    let ends = ends(&toks, &v, true)?;
    let too_long = || format!("the replacements make the value longer than {limit} bytes");
    let mut out = String::new();
    let push = |out: &mut String, chars: &[char]| out.extend(chars.iter());
    if !all {
        let Some((start, end)) = ends.iter().enumerate().find_map(|(s, e)| e.map(|e| (s, e))) else {
            return Ok(value.to_string());
        };
        push(&mut out, &v[..start]);
        out.push_str(with);
        push(&mut out, &v[end..]);
        return if out.len() > limit { Err(too_long()) } else { Ok(out) };
    }
    // Go's ReplaceAllString: successive matches; an empty match right after a match is not
    // replaced; the search goes on at the end of a match, and at least one character further.
    let (mut last_end, mut search) = (0usize, 0usize);
    while search <= v.len() {
        let Some((start, end)) = (search..=v.len()).find_map(|s| ends[s].map(|e| (s, e))) else { break };
        push(&mut out, &v[last_end..start]);
        if end > last_end || start == 0 {
            let matched: String = v[start..end].iter().collect();
            expand_template(with, &matched, &mut out);
        }
        if out.len() > limit {
            return Err(too_long());
        }
        last_end = end;
        search = if search + 1 > end { search + 1 } else { end };
    }
    push(&mut out, &v[last_end..]);
    if out.len() > limit {
        return Err(too_long());
    }
    Ok(out)
}

/// A replacement as Go's `Regexp.Expand` writes it for a pattern without groups.
fn expand_template(template: &str, matched: &str, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (braced, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let len = body.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(body.len());
        let after = &body[len..];
        let after = if braced { after.strip_prefix('}') } else { Some(after) };
        match after {
            Some(after) if len > 0 => {
                if &body[..len] == "0" {
                    out.push_str(matched);
                }
                rest = after;
            }
            // Not a name: the `$` is text.
            _ => out.push('$'),
        }
    }
    out.push_str(rest);
}

/// The pattern's tokens.
fn parse(pattern: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Tok::Star,
            '?' => Tok::Any,
            '\\' => match chars.peek().copied() {
                Some('}' | '/') => continue,
                Some(e @ ('*' | '?' | '\\')) => {
                    chars.next();
                    Tok::Lit(e)
                }
                Some(e) => {
                    return Err(format!(
                        "`\\{e}` in the pattern `{pattern}` is not an escape (`\\*`, `\\?`, `\\\\`, `\\}}`, `\\/`)"
                    ))
                }
                None => return Err(format!("the pattern `{pattern}` ends with a lone `\\`")),
            },
            c => Tok::Lit(c),
        });
    }
    Ok(out)
}

/// The pattern written backwards, each backslash still before the character it escapes.
fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; p.len()];
    let last = p.len().saturating_sub(1);
    let mut i = 0;
    while i < p.len() {
        if p[i] == '\\' && i != last {
            out[last - i - 1] = '\\';
            out[last - i] = p[i + 1];
            i += 2;
        } else {
            out[last - i] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// For every start in `v` (and its end), where the match that starts there ends, or `None`.
/// The match is a backtracking matcher's first: a star tries the most characters first when
/// `greedy`, the fewest otherwise. Computed from the end backwards, one column of token
/// states per position: `at[i]` is where the match of `toks[i..]` from this position ends.
fn ends(toks: &[Tok], v: &[char], greedy: bool) -> Result<Vec<Option<usize>>, String> {
    let (t, n) = (toks.len(), v.len());
    if (t + 1).saturating_mul(n + 1) > MAX_STEPS {
        return Err(format!(
            "matching a pattern of {t} characters against a value of {n} is too much work (at most {MAX_STEPS} steps)"
        ));
    }
    let mut starts = vec![None; n + 1];
    let mut next: Vec<Option<usize>> = vec![None; t + 1];
    let mut at: Vec<Option<usize>> = vec![None; t + 1];
    for pos in (0..=n).rev() {
        let c = v.get(pos).copied();
        let any = c.is_some_and(|c| c != '\n');
        at[t] = Some(pos);
        for i in (0..t).rev() {
            at[i] = match toks[i] {
                Tok::Lit(l) if c == Some(l) => next[i + 1],
                Tok::Any if any => next[i + 1],
                Tok::Lit(_) | Tok::Any => None,
                Tok::Star => {
                    let more = if any { next[i] } else { None };
                    if greedy {
                        more.or(at[i + 1])
                    } else {
                        at[i + 1].or(more)
                    }
                }
            };
        }
        starts[pos] = at[0];
        std::mem::swap(&mut at, &mut next);
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverses_patterns_keeping_escapes() {
        for (p, r) in [("a\\*c", "c\\*a"), ("\\\\\\ab", "b\\a\\\\"), ("ab\\", "\\ba"), ("é\\€x", "x\\€é"), ("", "")]
        {
            assert_eq!(reverse_pattern(p), r, "{p}");
        }
    }

    #[test]
    fn parses_wildcards_and_escapes() {
        use Tok::*;
        assert_eq!(
            parse("*?\\*\\?\\\\\\}\\/[.]").unwrap(),
            [Star, Any, Lit('*'), Lit('?'), Lit('\\'), Lit('}'), Lit('/'), Lit('['), Lit('.'), Lit(']')]
        );
        for bad in ["\\", "\\x", "\\\\\\", "a\\$"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bounds_the_work() {
        let big = "a".repeat(1 << 14);
        assert!(trim(&big, &"?".repeat(1 << 13), false).unwrap_err().contains("too much work"));
        assert!(replace("abc", "?", &"x".repeat(100), true, 200).unwrap_err().contains("longer than 200"));
        assert_eq!(replace("abc", "?", "xy", true, 6).unwrap(), "xyxyxy");
    }
}
