//! A small YAML writer for the converter: block mappings and lists in a fixed key order, flow
//! lists for short commands, comments above any entry, literal blocks for multi-line text, and
//! quotes only where a plain scalar would be read differently.

/// A YAML value with comments attached to mapping entries and list items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Str(String),
    /// No value (`key:` alone): YAML's null.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A list of strings written `[a, b]` when short enough.
    Flow(Vec<String>),
    List(Vec<Item>),
    Map(Vec<Entry>),
}

/// A mapping entry: comment lines above it, its key and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub comments: Vec<String>,
    pub key: String,
    pub value: Node,
}

/// A list item and the comment lines above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub comments: Vec<String>,
    pub value: Node,
}

impl Entry {
    pub fn new(key: &str, value: Node) -> Entry {
        Entry { comments: Vec::new(), key: key.to_string(), value }
    }
    pub fn str(key: &str, value: impl Into<String>) -> Entry {
        Entry::new(key, Node::Str(value.into()))
    }
}

/// Writes a top-level mapping.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    write_map(&mut out, entries, 0, false);
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_comments(out: &mut String, comments: &[String], indent: usize) {
    for c in comments {
        pad(out, indent);
        if c.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str(&comment(c));
        }
    }
}

/// `text` as one YAML comment line (`# text` and a newline). What would end the line early or
/// that YAML does not allow in a comment (a control character but the tab, a Unicode line or
/// paragraph separator, a non-character) is a space: a Dockerfile's text can hold any of them.
pub fn comment(text: &str) -> String {
    let clean = |c: char| match c {
        '\t' => c,
        '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => ' ',
        c if c.is_control() => ' ',
        c => c,
    };
    let mut line = String::with_capacity(text.len() + 3);
    line.push_str("# ");
    line.extend(text.chars().map(clean));
    line.push('\n');
    line
}

/// `first_inline`: the first key follows a `- ` already written.
fn write_map(out: &mut String, entries: &[Entry], indent: usize, first_inline: bool) {
    for (i, e) in entries.iter().enumerate() {
        let inline = first_inline && i == 0;
        if !inline {
            write_comments(out, &e.comments, indent);
            pad(out, indent);
        }
        let k = key(&e.key);
        // YAML reads an implicit key of at most 1024 characters: a longer one is explicit
        // (`? key`, then `: value` on the next line).
        if k.chars().count() > 1000 {
            out.push_str("? ");
            out.push_str(&k);
            out.push('\n');
            pad(out, indent);
        } else {
            out.push_str(&k);
        }
        out.push(':');
        write_value(out, &e.value, indent);
    }
}

/// Writes a value after `key:` (the colon is written); `indent` is the key's indent.
fn write_value(out: &mut String, v: &Node, indent: usize) {
    match v {
        // A block scalar holds no other control character (a `\r` would read as a line break).
        Node::Str(s) if s.contains('\n') && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            write_block(out, s, indent + 2)
        }
        Node::Str(s) => {
            out.push(' ');
            out.push_str(&scalar(s, false));
            out.push('\n');
        }
        Node::Bool(b) => out.push_str(if *b { " true\n" } else { " false\n" }),
        Node::Null => out.push('\n'),
        Node::Flow(items) => {
            let flow = format!("[{}]", items.iter().map(|s| scalar(s, true)).collect::<Vec<_>>().join(", "));
            if items.iter().all(|s| !s.contains('\n')) && indent + flow.len() < 100 {
                out.push(' ');
                out.push_str(&flow);
                out.push('\n');
            } else {
                out.push('\n');
                for s in items {
                    pad(out, indent + 2);
                    out.push('-');
                    write_value(out, &Node::Str(s.clone()), indent + 2);
                }
            }
        }
        Node::List(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Node::List(items) => {
            out.push('\n');
            write_list(out, items, indent + 2);
        }
        Node::Map(entries) => {
            out.push('\n');
            write_map(out, entries, indent + 2, false);
        }
    }
}

fn write_list(out: &mut String, items: &[Item], indent: usize) {
    for it in items {
        write_comments(out, &it.comments, indent);
        pad(out, indent);
        out.push_str("- ");
        match &it.value {
            Node::Map(entries) if !entries.is_empty() => {
                // The first entry's comments go above the item.
                write_comments_after_dash(out, &entries[0].comments, indent);
                write_map(out, entries, indent + 2, true);
            }
            Node::Str(s) if s.contains('\n') => {
                out.pop();
                write_block(out, s, indent + 2);
            }
            Node::Str(s) => {
                out.push_str(&scalar(s, false));
                out.push('\n');
            }
            other => {
                // Nested lists do not occur in specs; write them as a flow list.
                out.pop();
                write_value(out, other, indent);
            }
        }
    }
}

fn write_comments_after_dash(out: &mut String, comments: &[String], indent: usize) {
    if comments.is_empty() {
        return;
    }
    // Move the comments before the `- ` already written.
    let dash = out.len() - 2 - indent;
    let mut text = String::new();
    write_comments(&mut text, comments, indent);
    out.insert_str(dash, &text);
}

/// A literal block scalar (`|`, `|-` without a final newline, `|2` when the text starts with a
/// space), after `key:` or `-`.
fn write_block(out: &mut String, s: &str, indent: usize) {
    out.push_str(" |");
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    let body = match s.strip_suffix('\n') {
        Some(b) if b.ends_with('\n') || b.is_empty() => {
            out.push('+');
            b
        }
        Some(b) => b,
        None => {
            out.push('-');
            s
        }
    };
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn key(k: &str) -> String {
    scalar(k, true)
}

/// A scalar: plain when YAML reads it back as the same string, else double-quoted.
pub fn scalar(s: &str, in_flow: bool) -> String {
    if is_plain(s, in_flow) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn is_plain(s: &str, in_flow: bool) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() || s.ends_with(char::is_whitespace) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(|c| c.is_control()) {
        return false;
    }
    // In a flow list a `-` last before the `,` or `]` reads as an indicator.
    if in_flow && (s.contains([',', '[', ']', '{', '}']) || s.ends_with('-')) {
        return false;
    }
    // Values YAML would read as something other than text (`<<` as a key merges a mapping).
    if s == "<<" {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if ["true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", ".inf", ".nan"].contains(&lower.as_str()) {
        return false;
    }
    let looks_numeric = s.chars().all(|c| c.is_ascii_digit() || "+-._:eExXoObB".contains(c) || c.is_ascii_hexdigit())
        && s.chars().any(|c| c.is_ascii_digit());
    !looks_numeric || s.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `convert` fuzz target found YAML reads otherwise, written so that it reads back.
    #[test]
    fn keys_comments_and_flow_items_that_yaml_reads_otherwise() {
        assert_eq!(scalar("<<", false), "\"<<\"", "a merge key");
        assert_eq!(scalar("a -", true), "\"a -\"", "a `-` before the `]`");
        assert_eq!(scalar("ls -la", true), "ls -la");
        assert_eq!(comment("a\u{2028}b\rc\u{85}d\te"), "# a b c d\te\n");
        let long = "k".repeat(1100);
        let entries = vec![Entry::str(&long, "v")];
        let text = render(&[Entry::new("labels", Node::Map(entries))]);
        assert!(text.contains(&format!("  ? {long}\n  : v\n")), "{text}");
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(scalar("/usr/bin/app", false), "/usr/bin/app");
        assert_eq!(scalar("${BUILDPLATFORM}", false), "${BUILDPLATFORM}");
        assert_eq!(scalar("0755", false), "\"0755\"");
        assert_eq!(scalar("true", false), "\"true\"");
        assert_eq!(scalar("a: b", false), "\"a: b\"");
        assert_eq!(scalar("*.md", false), "\"*.md\"");
        assert_eq!(scalar("a,b", true), "\"a,b\"");
        assert_eq!(scalar("8080/tcp", false), "8080/tcp");
        assert_eq!(scalar("", false), "\"\"");
    }

    #[test]
    fn text_with_a_carriage_return_is_quoted_not_a_block() {
        let mut out = String::new();
        write_value(&mut out, &Node::Str("a\r\nb\r\n".into()), 0);
        assert_eq!(out, " \"a\\r\\nb\\r\\n\"\n");
        let mut out = String::new();
        write_value(&mut out, &Node::Str("a\n\tb\n".into()), 0);
        assert_eq!(out, " |\n  a\n  \tb\n");
    }

    #[test]
    fn nested_shapes_and_comments() {
        let step = Node::Map(vec![
            Entry {
                comments: vec!["build it".into()],
                key: "run".into(),
                value: Node::Str("make\nmake install\n".into()),
            },
            Entry::new(
                "mounts",
                Node::List(vec![Item {
                    comments: vec![],
                    value: Node::Map(vec![Entry::str("cache", "/root/.cache"), Entry::str("id", "x")]),
                }]),
            ),
        ]);
        let doc = render(&[Entry::new("steps", Node::List(vec![Item { comments: vec![], value: step }]))]);
        assert_eq!(
            doc,
            "steps:\n  # build it\n  - run: |\n      make\n      make install\n    mounts:\n      - cache: /root/.cache\n        id: x\n"
        );
    }
}
