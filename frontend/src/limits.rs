//! Limits on the size of a spec, far above what any real spec reaches.
//!
//! Below them every phase does work linear (or n log n) in the spec, so the limits bound what a
//! hostile or generated spec can cost: a spec over one gets a located error before it is
//! decoded. The README's spec reference lists them.

use crate::spec::tree::{Mark, Node, Sequence};

use crate::diag::{Diagnostic, Diagnostics, SourceFile, Span};

/// The spec file, in bytes (real specs: a few KB).
pub const MAX_SPEC_BYTES: usize = 16 * 1024 * 1024;
/// Stages in one spec (real specs: a few dozen).
pub const MAX_STAGES: usize = 10_000;
/// Steps in one stage.
pub const MAX_STEPS: usize = 10_000;
/// Keys in one mapping (`env`, `labels`, `args`, ...) and items in one list (`copy` sources,
/// exec-form commands, ...).
pub const MAX_ENTRIES: usize = 10_000;
/// One key or value, in bytes (a long `run` script is a few KB).
pub const MAX_STRING_BYTES: usize = 1024 * 1024;
/// YAML nodes (strings, lists, mappings, keys) that the aliases of a spec copy, in all
/// (a spec that reuses its `x-` blocks copies a few hundred). Aliases of aliases double at each
/// level: this bounds what a few lines can expand to.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// The longest a value may get by expanding args (1 MiB).
pub const MAX_EXPANDED_LEN: usize = 1 << 20;
/// The most that arg expansions may add up to in one build (64 MiB).
pub const MAX_EXPANDED_TOTAL: usize = 64 << 20;

/// The error for a spec longer than [`MAX_SPEC_BYTES`], at the first byte past the limit, or
/// `None` when it is not too long. The error's file is the text up to that byte: neither it nor
/// the work to locate the error grows with what lies beyond.
pub fn check_size(name: &str, text: &str) -> Option<Diagnostics> {
    let len = text.len();
    if len <= MAX_SPEC_BYTES {
        return None;
    }
    let mut at = MAX_SPEC_BYTES;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let end = at + text[at..].chars().next().map_or(0, char::len_utf8);
    let file = SourceFile::new(name, &text[..end]);
    let message = format!("the spec is {len} bytes, more than the limit of {MAX_SPEC_BYTES} bytes");
    let error = Diagnostic::error(Span { start: at, end }, message).label("the limit is reached here");
    Some(Diagnostics::new(file, vec![error]))
}

/// What a collection is, for the message and its limit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    Stages,
    Stage,
    Steps,
    Other,
}

/// Errors for every collection or string of the loaded spec over its limit, each at the first
/// entry past the limit (or at the string). Walks the tree once, without recursion.
pub(crate) fn check_tree(file: &SourceFile, root: &Node) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // From a node's start to the end of its line, or of the node's own text when it starts so.
    let at = |m: Option<&Mark>, text: Option<&str>| {
        let start = m.map_or(0, Mark::offset);
        let line = file.rest_of_line(start);
        let len = text.filter(|t| line.starts_with(t)).map_or(line.len(), str::len);
        Span { start, end: start + len }
    };
    let mut todo = vec![(root, Place::Top)];
    while let Some((node, place)) = todo.pop() {
        match node {
            Node::Scalar(s) => {
                let len = s.as_str().len();
                if len > MAX_STRING_BYTES {
                    let msg = format!("a string of {len} bytes, more than the limit of {MAX_STRING_BYTES} bytes");
                    out.push(Diagnostic::error(at(Some(&s.start), None), msg));
                }
            }
            Node::Mapping(map) => {
                let (limit, what) = match place {
                    Place::Stages => (MAX_STAGES, "stages in one spec"),
                    _ => (MAX_ENTRIES, "keys in one mapping"),
                };
                if let Some((key, _)) = map.iter().nth(limit) {
                    let msg = format!("more than {limit} {what}");
                    out.push(
                        Diagnostic::error(at(Some(&key.start), Some(key.as_str())), msg)
                            .label("the limit is reached here"),
                    );
                }
                for (key, value) in map.iter().take(limit) {
                    let inner = match (place, key.as_str()) {
                        (Place::Top, "stages") => Place::Stages,
                        (Place::Stages, _) => Place::Stage,
                        (Place::Stage, "steps") => Place::Steps,
                        _ => Place::Other,
                    };
                    todo.push((value, inner));
                    let len = key.as_str().len();
                    if len > MAX_STRING_BYTES {
                        let msg = format!("a key of {len} bytes, more than the limit of {MAX_STRING_BYTES} bytes");
                        out.push(Diagnostic::error(at(Some(&key.start), None), msg));
                    }
                }
            }
            Node::Sequence(Sequence { items, .. }) => {
                let (limit, what) = match place {
                    Place::Steps => (MAX_STEPS, "steps in one stage"),
                    _ => (MAX_ENTRIES, "items in one list"),
                };
                if let Some(item) = items.get(limit) {
                    let msg = format!("more than {limit} {what}");
                    // A mapping's marker is after its first key: point at the key.
                    let (marker, text) = match item {
                        Node::Scalar(s) => (Some(&s.start), Some(s.as_str())),
                        Node::Mapping(m) => match m.keys().next() {
                            Some(k) => (Some(&k.start), Some(k.as_str())),
                            None => (item.start(), None),
                        },
                        Node::Sequence(_) => (item.start(), None),
                    };
                    out.push(Diagnostic::error(at(marker, text), msg).label("the limit is reached here"));
                }
                todo.extend(items.iter().take(limit).map(|n| (n, Place::Other)));
            }
        }
    }
    out
}
