//! Dockerfile value syntax as spec value syntax: references normalised to `${NAME}`, the forms
//! decant has kept, what no build sets written as Dockerfile expands it, and renaming a
//! reference.

use crate::convert::parse::Word;

/// Does a command mention `$NAME` or `${NAME...}`?
pub(super) fn mentions(text: &str, name: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = text[i..].find('$') {
        let at = i + p + 1;
        let rest = &text[at..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        if let Some(after) = rest.strip_prefix(name) {
            if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                return true;
            }
        }
        i = at;
        if i >= b.len() {
            break;
        }
    }
    false
}

/// A variable reference found in a value.
pub(super) enum Ref {
    Name(String),
    /// A form decant does not have (`${NAME:=word}`, ...): the expression.
    Operator(String),
    /// A `$` right after a literal `\`, which a spec value reads as an escaped `$`.
    Backslash,
}

/// The modifiers decant has, as Dockerfile writes them: `${NAME:-word}`, `${NAME-word}`, ...
pub(super) const MODIFIERS: [&str; 6] = [":-", ":+", ":?", "-", "+", "?"];

/// What a value is known to read for a name that no arg has.
pub(super) enum Known {
    /// Nothing sets it (a global ARG's default naming no earlier ARG).
    Unset,
    /// An `ENV` of the stage (or of a stage it is built on) set it to this literal text.
    Value(String),
}

/// Names of no arg whose value is known where a value is read (`None`: not known).
pub(super) type Lookup<'a> = &'a dyn Fn(&str) -> Option<Known>;

/// Dockerfile value syntax to spec value syntax (see [`Converter::word_value`]).
#[cfg(test)]
fn expand(w: &Word) -> (String, Vec<Ref>) {
    expand_known(w, &|_| None)
}

/// [`expand`], where the names `known` knows are written as what Dockerfile expands them to
/// (as a positional parameter is, which no build sets).
pub(super) fn expand_known(w: &Word, known: Lookup) -> (String, Vec<Ref>) {
    let s = &w.text;
    let mut out = String::new();
    let mut refs = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i..].chars().next().unwrap();
        if c != '$' {
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let rest = &s[i + 1..];
        if out.ends_with('\\') {
            refs.push(Ref::Backslash);
        }
        if w.literal_dollars.contains(&i) {
            // `$$` is a literal `$` where a name or `{` follows (a lone `$` is kept as is).
            let escaped = rest.starts_with(|c: char| c == '{' || c == '_' || c.is_ascii_alphabetic());
            out.push_str(if escaped { "$$" } else { "$" });
            i += 1;
            continue;
        }
        if rest.starts_with('{') {
            if let Some(end) = closing_brace(w, i + 2) {
                let expr = &s[i + 2..end];
                if let Some(value) = positional(w, i + 2, end, known) {
                    match value {
                        Some((v, r)) => {
                            out.push_str(&v);
                            refs.extend(r);
                        }
                        None => {
                            refs.push(Ref::Operator(expr.to_string()));
                            out.push_str(&format!("${{{expr}}}"));
                        }
                    }
                    i = end + 1;
                    continue;
                }
                let name_len = expr.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expr.len());
                let name = &expr[..name_len];
                let op = &expr[name_len..];
                // The pattern forms keep their `#`, `%` or `/` in the word after the name, which
                // is a value too (`${A#$B}`, `${A/$B/$C}`).
                let pattern = op.starts_with(['#', '%', '/']).then_some("");
                match pattern.or_else(|| MODIFIERS.iter().find(|m| op.starts_with(**m)).copied()) {
                    _ if op.is_empty() => {
                        refs.push(Ref::Name(name.to_string()));
                        out.push_str(&format!("${{{name}}}"));
                    }
                    Some(m) if !name.is_empty() => {
                        // The word after the modifier is a value too (`${A:-$B}`).
                        let at = i + 2 + name_len + m.len();
                        let inner = w.slice(at, end);
                        let (word, inner_refs) = expand_known(&inner, known);
                        refs.push(Ref::Name(name.to_string()));
                        refs.extend(inner_refs);
                        out.push_str(&format!("${{{name}{m}{word}}}"));
                    }
                    _ => {
                        refs.push(Ref::Operator(expr.to_string()));
                        out.push_str(&format!("${{{expr}}}"));
                    }
                }
                i = end + 1;
                continue;
            }
        }
        // `$0`, `$12`, `$@`, `$$`, ...: a positional or special parameter, which no build sets:
        // Dockerfile expands it to nothing.
        // (An escaped `$` after it is a literal, not the parameter `$$`.)
        let param = match rest.starts_with('$') && w.literal_dollars.contains(&(i + 1)) {
            true => 0,
            false => parameter_len(rest),
        };
        // After a kept `\` (in a pattern form's words) the `$` stays, with the note about it.
        if param > 0 && !out.ends_with('\\') {
            i += 1 + param;
            continue;
        }
        let name_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if name_len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            // A lone `$`; before another `$` it is written `$$`, so the two do not read as one.
            out.push_str(if rest.starts_with('$') { "$$" } else { "$" });
            i += 1;
            continue;
        }
        let name = &rest[..name_len];
        match known(name) {
            None => {
                refs.push(Ref::Name(name.to_string()));
                out.push_str(&format!("${{{name}}}"));
            }
            Some(Known::Unset) => {}
            Some(Known::Value(v)) => out.push_str(&v),
        }
        i += 1 + name_len;
    }
    (out, refs)
}

/// The spec value `v` with its references to the arg `from` (`${FROM}`, `${FROM:-x}`, ...,
/// whole names, as [`mentions`] finds them) made to `to`.
pub(super) fn rename_refs(v: &str, from: &str, to: &str) -> String {
    let head = format!("${{{from}");
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find(&head) {
        let after = &rest[i + head.len()..];
        out.push_str(&rest[..i]);
        if !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            out.push_str(&format!("${{{to}"));
        } else {
            out.push_str(&head);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `v` with each plain `${name}` made `to`, in one pass (what `to` says is not read again), and
/// whether `v` names `name` in another form too (`${name:-x}`, `${name#p}`). A `$` escaped by
/// `$$` starts no reference.
pub(super) fn replace_plain_refs(v: &str, name: &str, to: &str) -> (String, bool) {
    let plain = format!("${{{name}}}");
    let head = format!("${{{name}");
    let (mut out, mut other) = (String::with_capacity(v.len()), false);
    let mut i = 0;
    while let Some(at) = v[i..].find('$').map(|k| i + k) {
        out.push_str(&v[i..at]);
        let rest = &v[at..];
        if rest.starts_with("$$") {
            out.push_str("$$");
            i = at + 2;
        } else if rest.starts_with(&plain) {
            out.push_str(to);
            i = at + plain.len();
        } else {
            other |= rest.starts_with(&head)
                && !rest[head.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            out.push('$');
            i = at + 1;
        }
    }
    out.push_str(&v[i..]);
    (out, other)
}

/// The special parameters of the shell that Dockerfile's lexer reads as names (`$@`, `${#}`, ...).
pub(super) const SPECIAL_PARAMS: [char; 8] = ['@', '*', '#', '?', '-', '$', '!', '0'];

/// The length of the positional or special parameter `s` starts with (`12` of `12a`, `@` of
/// `@x`), or 0.
pub(super) fn parameter_len(s: &str) -> usize {
    match s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()) {
        0 => usize::from(s.starts_with(SPECIAL_PARAMS)),
        digits => digits,
    }
}

/// `${...}` (body `w.text[from..end]`) when it names a positional or special parameter (`${0}`,
/// `${12}`, `${@}`, `${1:-d}`), which no build sets, or a name `known` knows: `Some(Some(value))`
/// with what Dockerfile expands it to (the value or nothing, or the word of a modifier,
/// expanded), `Some(None)` for a form that has no such value here (`${1:?msg}` fails the
/// Dockerfile build; the pattern forms of a parameter, or of a name with a value), and `None`
/// for any other expression.
pub(super) fn positional(w: &Word, from: usize, end: usize, known: Lookup) -> Option<Option<(String, Vec<Ref>)>> {
    let body = &w.text[from..end];
    let mut name_len = parameter_len(body);
    let mut value: Option<String> = None;
    let mut named = false;
    if name_len == 0 {
        let len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
        match (len, known(&body[..len.min(body.len())])) {
            (0, _) | (_, None) => return None,
            (_, Some(Known::Unset)) => {}
            (_, Some(Known::Value(v))) => value = Some(v),
        }
        (name_len, named) = (len, true);
    }
    let op = &body[name_len..];
    let word = |m: &str| Some(Some(expand_known(&w.slice(from + name_len + m.len(), end), known)));
    let Some(v) = value else {
        // Unset: nothing, or the word of `-` and `:-`.
        if op.is_empty() || op.starts_with(":+") || op.starts_with('+') || (named && op.starts_with(['#', '%', '/'])) {
            return Some(Some((String::new(), Vec::new())));
        }
        let m = [":-", "-"].into_iter().find(|m| op.starts_with(m))?;
        return word(m);
    };
    // Set to `v`: the value, or the word of `+` (and of `:+` and `:-` as `v` is empty or not).
    let m = [":-", ":+", ":?", "-", "+", "?"].into_iter().find(|m| op.starts_with(m));
    match m {
        _ if op.is_empty() => Some(Some((v, Vec::new()))),
        Some(":-") if v.is_empty() => word(":-"),
        Some(":+") if v.is_empty() => Some(Some((String::new(), Vec::new()))),
        Some(":?") if v.is_empty() => Some(None),
        Some(m @ (":+" | "+")) => word(m),
        Some(_) => Some(Some((v, Vec::new()))),
        None => Some(None),
    }
}

/// The `}` that closes the `${` whose body starts at `from`, counting nested `${...}`.
pub(super) fn closing_brace(w: &Word, from: usize) -> Option<usize> {
    let b = w.text.as_bytes();
    let mut depth = 0;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') && !w.literal_dollars.contains(&i) => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_normalise_references() {
        let w = |t: &str, lit: &[usize]| Word { text: t.into(), literal_dollars: lit.to_vec() };
        assert_eq!(expand(&w("/app/bin:$PATH", &[])).0, "/app/bin:${PATH}");
        assert_eq!(expand(&w("${A:-x}/$B", &[])).0, "${A:-x}/${B}");
        assert_eq!(expand(&w("${A}x", &[0])).0, "$${A}x");
        assert_eq!(expand(&w("$HOME $ 5$", &[0, 6, 9])).0, "$$HOME $ 5$");
        assert_eq!(expand(&w("$5 $ a", &[])).0, " $ a");
        // Positional and special parameters: Dockerfile expands them to nothing (or the default).
        assert_eq!(expand(&w("a$0b$12c$@d$$e$!f$-g", &[])).0, "abcdefg");
        assert_eq!(expand(&w("a${0}b${@}c${1:-d$X}e${2:+x}f${3-y}", &[])).0, "abcd${X}efy");
        assert_eq!(expand(&w("a$$b", &[2])).0, "a$$$$b", "an escaped `$` after `$` is literal");
        let (v, refs) = expand(&w("${1:?no}", &[]));
        assert_eq!((v.as_str(), refs.len()), ("${1:?no}", 1));
        assert_eq!(expand(&w("${A:+on}${B-$C}${D:?need D}", &[])).0, "${A:+on}${B-${C}}${D:?need D}");
        assert_eq!(expand(&w("${A:-${B:-x}}/y", &[])).0, "${A:-${B:-x}}/y");
        let names = |t: &str| {
            expand(&w(t, &[]))
                .1
                .into_iter()
                .map(|r| match r {
                    Ref::Name(n) => n,
                    Ref::Operator(e) => format!("op:{e}"),
                    Ref::Backslash => "backslash".into(),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names("${A:-${B}}"), ["A", "B"]);
        assert_eq!(names("${A#*/} ${B/$X/y} ${C:=x}"), ["A", "B", "X", "op:C:=x"]);
        assert_eq!(expand(&w("${A##*/}${B%$C}${D//$E/${F:-x}}", &[])).0, "${A##*/}${B%${C}}${D//${E}/${F:-x}}");
        assert_eq!(names("C:\\$A"), ["backslash", "A"]);
    }

    #[test]
    fn unset_names_expand_as_dockerfile_expands_them() {
        let w = |t: &str| Word { text: t.into(), literal_dollars: Vec::new() };
        let unset = |n: &str| n.starts_with('U').then_some(Known::Unset);
        let e = |t: &str| expand_known(&w(t), &unset).0;
        assert_eq!(e("a$U1.b${U2}c${U3:-d$X}e${U4:+x}f${U5-y}g${U6#p}h${U7%%p}i${U8/a/b}j"), "a.bcd${X}efyghij");
        assert_eq!(e("${X:-${U1:-in}}/$X"), "${X:-in}/${X}");
        let (v, refs) = expand_known(&w("${U1:?need it}"), &unset);
        assert_eq!((v.as_str(), refs.len()), ("${U1:?need it}", 1), "Dockerfile fails: kept, with a note");
        assert_eq!(expand_known(&w("$UX ${UX}"), &|_| None).0, "${UX} ${UX}");
    }

    #[test]
    fn known_values_expand_as_dockerfile_expands_them() {
        let w = |t: &str| Word { text: t.into(), literal_dollars: Vec::new() };
        let known = |n: &str| match n {
            "V" => Some(Known::Value("1.2".into())),
            "E" => Some(Known::Value(String::new())),
            _ => None,
        };
        let e = |t: &str| expand_known(&w(t), &known).0;
        assert_eq!(e("a/$V/${V}-${V:-d}${V-d}${V:+p}${V+q}${V:?m}/$X"), "a/1.2/1.2-1.21.2pq1.2/${X}");
        assert_eq!(e("[${E:-d}][${E-d}][${E:+p}][${E+q}][$E]"), "[d][][][q][]");
        let (v, refs) = expand_known(&w("${V#1}${E:?m}"), &known);
        assert_eq!((v.as_str(), refs.len()), ("${V#1}${E:?m}", 2), "kept, with notes");
    }

    #[test]
    fn mentions_whole_names_only() {
        assert!(mentions("echo $V", "V"));
        assert!(mentions("echo ${V:-x}", "V"));
        assert!(!mentions("echo $VV", "V"));
        assert!(!mentions("echo V", "V"));
    }
}
