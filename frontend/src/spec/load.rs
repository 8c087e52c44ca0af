//! The YAML loader: the event parser's events -> a node tree (`tree.rs`), with anchors
//! (`&name`), aliases (`*name`) and merge keys (`<<: *name`) resolved.
//!
//! `marked-yaml`'s own loader refuses anchors; this one builds the tree it would (the same
//! values and markers for the same text, tested below) and copies an anchored node where an
//! alias names it. A copy keeps the anchored text's positions, so an error inside it points at
//! what the user wrote; the alias uses are returned so that diagnostics can say which alias
//! reached it. Copies are bounded by [`limits::MAX_ALIAS_NODES`] (checked before copying, so a
//! "billion laughs" document fails at once) and by [`MAX_NESTING`] (an alias inside an alias
//! nests deeper than its text shows).
//! The builder keeps its own stack: nothing here recurses on the document's nesting.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use marked_yaml::loader::DuplicateKeyInner;
use marked_yaml::{LoadError, Marker};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker as YamlMarker, ScanError, TScalarStyle};

use super::depth::MAX_NESTING;
use super::tree::{Mapping, Mark, Node, Scalar, Sequence};
use crate::diag::{did_you_mean, AliasUse, Diagnostic, SourceFile, Span};
use crate::limits::MAX_ALIAS_NODES;

/// What the loader gives: the tree, the alias uses and whether a value holds a NUL character
/// (written as an escape: the text has none), or one error.
pub(super) enum Loaded {
    Tree(Node, Vec<AliasUse>, bool),
    /// An error of the kinds `marked-yaml` reports.
    Yaml(LoadError),
    /// An error of anchors, aliases or merge keys, and the alias uses before it.
    Located(Diagnostic, Vec<AliasUse>),
    /// The first collection that opens deeper than [`MAX_NESTING`]: 1-based line and column.
    TooDeep(usize, usize),
}

/// Loads the first document of `file.text`. Duplicate keys are errors; a quoted scalar may not
/// be coerced.
///
/// One pass over the parser's events: the nesting bound is checked as collections open, and
/// every anchored node is kept for the aliases that may follow. Keeping them costs a copy of
/// each anchored node; should those copies pass [`MAX_ALIAS_NODES`] nodes (anchors nested in
/// anchors), the text is loaded again, after a pre-pass that finds which anchors some alias
/// uses, keeping only those.
pub(super) fn load(file: &SourceFile) -> Loaded {
    if let Some(done) = load_with(file, Keep::Every { budget: MAX_ALIAS_NODES }) {
        return done;
    }
    match super::depth::scan(&file.text) {
        Ok(aliased) => load_with(file, Keep::Only(&aliased)).unwrap_or_else(|| unreachable!("no budget")),
        Err((line, column)) => Loaded::TooDeep(line, column),
    }
}

/// Which anchored nodes the builder keeps a copy of.
enum Keep<'a> {
    /// Every one, while their nodes add up to less than `budget`.
    Every { budget: usize },
    /// Those with these ids (the ones some alias uses).
    Only(&'a HashSet<usize>),
}

/// The load, or `None` when [`Keep::Every`] ran out of budget.
fn load_with(file: &SourceFile, keep: Keep<'_>) -> Option<Loaded> {
    let mut b = Builder {
        file,
        keep,
        stack: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        copied: 0,
        uses: Vec::new(),
        error: None,
        nul: false,
        hasher: RandomState::new(),
    };
    // The events `Parser::load` would hand the builder for the first document, pulled one by
    // one: the parser is iterative, its loader recurses once per level of nesting.
    let mut parser = Parser::new_from_str(&file.text);
    let mut depth = 0usize;
    loop {
        let (ev, mark) = match parser.next_token() {
            Ok(next) => next,
            Err(e) => return Some(b.scan_error(e)),
        };
        match ev {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(Loaded::TooDeep(mark.line(), mark.col() + 1));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        let last = matches!(ev, Event::DocumentEnd | Event::StreamEnd);
        b.on_event(ev, mark);
        if matches!(b.keep, Keep::Every { budget: 0 }) {
            return None;
        }
        if last {
            break;
        }
    }
    match b.error {
        Some(Loaded::Located(d, _)) => return Some(Loaded::Located(d, b.uses)),
        Some(e) => return Some(e),
        None => {}
    }
    let root = b.root.unwrap_or_else(|| Node::Mapping(Mapping::empty(None, None)));
    Some(Loaded::Tree(root, b.uses, b.nul))
}

/// A collection being built.
enum Frame {
    Seq {
        start: Mark,
        anchor: usize,
        /// Where its items start in [`Builder::items`].
        base: usize,
    },
    Map {
        start: Mark,
        anchor: usize,
        /// Where its entries start in [`Builder::entries`].
        base: usize,
        /// The hashes of the keys, once there are [`INDEXED`] of them: a duplicate is looked
        /// for by a scan only when its hash is there.
        hashes: Option<HashSet<u64>>,
        key: Option<Scalar>,
        merges: Vec<Merge>,
    },
}

/// The number of keys from which a mapping being built indexes them (see [`Frame::Map`]).
const INDEXED: usize = 8;

/// A `<<` entry: its key, its value, and how many explicit entries came before it.
struct Merge {
    key: Scalar,
    after: usize,
    value: Node,
}

/// An anchored node that an alias uses: a copy, its size in nodes and its height.
struct Anchored {
    node: Node,
    size: usize,
    height: usize,
    target: Span,
}

struct Builder<'a> {
    file: &'a SourceFile,
    keep: Keep<'a>,
    stack: Vec<Frame>,
    /// The items and entries of the open collections, innermost last: a collection takes its
    /// own when it ends, in a `Vec` of their number (one allocation, no growth, no spare room).
    items: Vec<Node>,
    entries: Vec<(Scalar, Node)>,
    root: Option<Node>,
    anchors: HashMap<usize, Anchored>,
    /// Nodes copied by aliases so far.
    copied: usize,
    uses: Vec<AliasUse>,
    error: Option<Loaded>,
    /// A scalar's value holds a NUL character.
    nul: bool,
    hasher: RandomState,
}

fn marker(m: YamlMarker) -> Marker {
    Marker::new(0, m.index(), m.line(), m.col() + 1)
}

/// The number of nodes of `node` and the depth of its collections (0 for a scalar).
fn measure(node: &Node) -> (usize, usize) {
    match node {
        Node::Scalar(_) => (1, 0),
        Node::Sequence(seq) => seq.items.iter().map(measure).fold((1, 1), |(n, h), (s, d)| (n + s, h.max(d + 1))),
        Node::Mapping(map) => {
            map.entries.iter().map(|(_, v)| measure(v)).fold((1 + map.len(), 1), |(n, h), (s, d)| (n + s, h.max(d + 1)))
        }
    }
}

impl Builder<'_> {
    /// The parser's marker, with its byte offset.
    fn mark(&self, m: YamlMarker) -> Mark {
        let column = m.col() + 1;
        Mark::new(m.line(), column, m.index(), self.file.offset(m.line(), column))
    }

    fn fail(&mut self, e: Loaded) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn located(&mut self, at: Span, message: String, label: &str) {
        self.fail(Loaded::Located(Diagnostic::error(at, message).label(label), Vec::new()));
    }

    /// The `*name` at a marker.
    fn alias_at(&self, m: YamlMarker) -> (String, Span) {
        let start = self.file.offset(m.line(), m.col() + 1);
        let rest = self.file.rest_of_line(start);
        let len = rest.find(|c: char| c.is_whitespace() || ",[]{}".contains(c)).unwrap_or(rest.len());
        let name = rest[..len].trim_start_matches('*').to_string();
        (name, Span { start, end: start + len.max(1) })
    }

    fn scan_error(&self, e: ScanError) -> Loaded {
        if e.info().contains("unknown anchor") {
            let (name, at) = self.alias_at(*e.marker());
            let anchors = anchor_names(&self.file.text);
            let help = if anchors.contains(&name) {
                format!("`&{name}` comes after the alias: YAML needs the anchor first")
            } else if let Some(near) = did_you_mean(&name, anchors.iter().map(String::as_str)) {
                format!("did you mean `*{near}`?")
            } else {
                format!("put an anchor `&{name}` on the node to reuse, before the alias")
            };
            let d = Diagnostic::error(at, format!("the alias `*{name}` refers to no anchor"))
                .label("unknown anchor")
                .help(help);
            return Loaded::Located(d, Vec::new());
        }
        Loaded::Yaml(LoadError::ScanError(marker(*e.marker()), e))
    }

    /// The span of the anchored node's text, for notes on diagnostics inside it.
    fn text_span(&self, node: &Node) -> Span {
        let start = node.start().map_or(0, Mark::offset);
        let end = match node {
            Node::Scalar(s) => {
                let line = self.file.rest_of_line(start);
                start + if line.starts_with(s.as_str()) { s.as_str().len() } else { line.trim_end().len() }
            }
            _ => node.end().map_or(start, Mark::offset),
        };
        let end = start + self.file.text[start..end.max(start)].trim_end().len();
        Span { start, end }
    }

    /// Keeps a copy of an anchored node for the aliases that may use it (see [`Keep`]).
    fn keep_anchored(&mut self, anchor: usize, node: &Node) {
        let (size, height) = measure(node);
        match &mut self.keep {
            Keep::Only(aliased) if !aliased.contains(&anchor) => return,
            Keep::Only(_) => {}
            Keep::Every { budget } if size >= *budget => {
                *budget = 0;
                return;
            }
            Keep::Every { budget } => *budget -= size,
        }
        let target = self.text_span(node);
        self.anchors.insert(anchor, Anchored { node: node.clone(), size, height, target });
    }

    /// Puts a finished node where it belongs.
    fn place(&mut self, node: Node, anchor: usize, mark: Marker) {
        if anchor != 0 {
            self.keep_anchored(anchor, &node);
        }
        match self.stack.last_mut() {
            None => match node {
                Node::Mapping(_) => self.root = Some(node),
                _ => self.fail(Loaded::Yaml(LoadError::TopLevelMustBeMapping(mark))),
            },
            Some(Frame::Seq { .. }) => self.items.push(node),
            Some(Frame::Map { key: key @ None, .. }) => match node {
                Node::Scalar(s) => *key = Some(s),
                _ => self.fail(Loaded::Yaml(LoadError::MappingKeyMustBeScalar(mark))),
            },
            Some(Frame::Map { base, hashes, key: key @ Some(_), merges, .. }) => {
                let entries = &mut self.entries;
                let base = *base;
                let Some(k) = key.take() else { return };
                let merge = k.may_coerce() && k.as_str() == "<<";
                if merge && merges.is_empty() {
                    merges.push(Merge { key: k, after: entries.len() - base, value: node });
                    return;
                }
                let hash = hashes.as_ref().map(|_| self.hasher.hash_one(k.as_str()));
                let prev = match merge {
                    true => merges.first().map(|m| &m.key),
                    // Without the hash, the key is new; with it, most likely a duplicate.
                    false if hash.is_some_and(|h| !hashes.as_ref().is_some_and(|s| s.contains(&h))) => None,
                    false => entries[base..].iter().map(|(p, _)| p).find(|p| p.as_str() == k.as_str()),
                };
                if let Some(prev) = prev {
                    let inner = DuplicateKeyInner { prev_key: prev.to_marked(), key: k.to_marked() };
                    self.fail(Loaded::Yaml(LoadError::DuplicateKey(Box::new(inner))));
                    return;
                }
                match (hashes.as_mut(), hash) {
                    (Some(set), Some(h)) => {
                        set.insert(h);
                    }
                    _ if entries.len() - base + 1 == INDEXED => {
                        let set = entries[base..].iter().map(|(p, _)| p).chain([&k]);
                        *hashes = Some(set.map(|p| self.hasher.hash_one(p.as_str())).collect());
                    }
                    _ => {}
                }
                entries.push((k, node));
            }
        }
    }

    /// Starts a collection, unless it would be a mapping key.
    fn open(&mut self, frame: Frame, mark: Marker) {
        match self.stack.last() {
            Some(Frame::Map { key: None, .. }) => self.fail(Loaded::Yaml(LoadError::MappingKeyMustBeScalar(mark))),
            None if matches!(frame, Frame::Seq { .. }) => {
                self.fail(Loaded::Yaml(LoadError::TopLevelMustBeMapping(mark)))
            }
            _ => self.stack.push(frame),
        }
    }

    fn alias(&mut self, id: usize, m: YamlMarker) {
        let (name, at) = self.alias_at(m);
        let Some(anchored) = self.anchors.get(&id) else {
            // An alias inside its own anchor (`&a [*a]`): the node is not finished.
            let msg = format!("the alias `*{name}` is inside the node its anchor names");
            return self.located(at, msg, "recursive alias");
        };
        if self.copied + anchored.size > MAX_ALIAS_NODES {
            let msg = format!(
                "`*{name}` makes the spec's aliases copy more than {MAX_ALIAS_NODES} nodes (limits::MAX_ALIAS_NODES)"
            );
            return self.located(at, msg, "the limit is reached here");
        }
        if self.stack.len() + anchored.height > MAX_NESTING {
            let msg = format!("through `*{name}`, the spec nests lists and mappings more than {MAX_NESTING} deep");
            return self.located(at, msg, "too deep");
        }
        self.copied += anchored.size;
        let node = anchored.node.clone();
        self.uses.push(AliasUse { name, at, target: anchored.target });
        self.place(node, 0, marker(m));
    }

    /// Finishes a mapping: the `<<` entries add the keys the mapping does not set itself, at
    /// their place; of several merged mappings the first that sets a key wins (YAML 1.1).
    fn merged(&mut self, map: Mapping, merges: Vec<Merge>) -> Mapping {
        if merges.is_empty() {
            return map;
        }
        let Mapping { entries: explicit, start, end } = map;
        let mut out = Mapping::empty(start, end);
        // The keys set so far and those the mapping sets itself.
        let mut taken: HashSet<String> = explicit.iter().map(|(k, _)| k.value.clone()).collect();
        let mut merges = merges.into_iter().peekable();
        let mut explicit = explicit.into_iter();
        for i in 0.. {
            while let Some(m) = merges.next_if(|m| m.after == i) {
                for (k, v) in self.merge_sources(m.value) {
                    if taken.insert(k.value.clone()) {
                        out.entries.push((k, v));
                    }
                }
            }
            match explicit.next() {
                Some(entry) => out.entries.push(entry),
                None => break,
            }
        }
        out
    }

    /// The entries a `<<` value merges, in order.
    fn merge_sources(&mut self, value: Node) -> Vec<(Scalar, Node)> {
        let maps = match value {
            Node::Mapping(m) => vec![Node::Mapping(m)],
            Node::Sequence(seq) => seq.items,
            other => vec![other],
        };
        let mut out = Vec::new();
        for item in maps {
            match item {
                Node::Mapping(m) => out.extend(m.entries),
                other => {
                    let at = self.text_span(&other);
                    let what = if matches!(other, Node::Scalar(_)) { "a string" } else { "a list" };
                    let msg = format!("`<<` merges a mapping or a list of mappings (`<<: *name`), found {what}");
                    self.located(at, msg, "not a mapping");
                }
            }
        }
        out
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: YamlMarker) {
        if self.error.is_some() {
            return;
        }
        let m = marker(mark);
        match ev {
            Event::Alias(id) => self.alias(id, mark),
            Event::Scalar(value, style, anchor, tag) => {
                if tag.is_some() {
                    return self.fail(Loaded::Yaml(LoadError::UnexpectedTag(m)));
                }
                // The text has no NUL (see `parse_spec_partial`): only an escape writes one.
                if matches!(style, TScalarStyle::DoubleQuoted) && value.contains('\0') {
                    self.nul = true;
                }
                let coerce = matches!(style, TScalarStyle::Plain);
                let node = Scalar { value, start: self.mark(mark), coerce };
                self.place(Node::Scalar(node), anchor, m);
            }
            Event::SequenceStart(_, Some(_)) | Event::MappingStart(_, Some(_)) => {
                self.fail(Loaded::Yaml(LoadError::UnexpectedTag(m)))
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Frame::Seq { start: self.mark(mark), anchor, base: self.items.len() }, m)
            }
            Event::MappingStart(anchor, _) => {
                let (base, hashes, merges) = (self.entries.len(), None, Vec::new());
                self.open(Frame::Map { start: self.mark(mark), anchor, base, hashes, key: None, merges }, m)
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { start, anchor, base }) = self.stack.pop() {
                    let items = self.items.drain(base..).collect();
                    let node = Sequence { items, start: Some(start), end: Some(self.mark(mark)) };
                    self.place(Node::Sequence(node), anchor, m);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { start, anchor, base, merges, .. }) = self.stack.pop() {
                    let entries = self.entries.drain(base..).collect();
                    let map = Mapping { entries, start: Some(start), end: Some(self.mark(mark)) };
                    let map = self.merged(map, merges);
                    self.place(Node::Mapping(map), anchor, m);
                }
            }
            Event::StreamEnd if self.root.is_none() => {
                let at = Some(self.mark(mark));
                self.root = Some(Node::Mapping(Mapping::empty(at, at)));
            }
            _ => {}
        }
    }
}

/// The anchor names (`&name`) in `text`, for a suggestion.
fn anchor_names(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        if c == '&' && (prev.is_whitespace() || "-:[{,".contains(prev)) {
            let rest = &text[i + 1..];
            let len = rest.find(|c: char| c.is_whitespace() || ",[]{}".contains(c)).unwrap_or(rest.len());
            if len > 0 && !out.iter().any(|n| n == &rest[..len]) {
                out.push(rest[..len].to_string());
            }
        }
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without anchors, the tree (values, markers, coercion) and the errors are `marked-yaml`'s.
    #[test]
    fn the_same_tree_and_errors_as_marked_yaml() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        let mut texts: Vec<String> = [
            "",
            "# only a comment\n",
            "{}",
            "a: 1\n---\nb: 2\n",
            "- a\n",
            "x\n",
            "a: [1, {b: c}]\n",
            "a: 'q'\nb: \"r\"\n",
            "a: |\n  x\n  y\nb: >\n  z\n",
            "a:\n  - {x: 1}\n  - [2, 3]\n",
            "a: 1\na: 2\n",
            "? [a]\n: b\n",
            "a: !tag x\n",
            "a: [\n",
            "a: b: c\n",
            "k:\n  - - - x\n",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Mappings large enough for the loader to index their keys, with a duplicate key.
        let many: String = (0..20).map(|i| format!("k{i}: {i}\n")).collect();
        texts.push(format!("{many}k5: again\n"));
        texts.push(format!("a:\n  b: 1\n{many}k19: last\n"));
        for dir in ["examples", "frontend/tests/testdata/invalid", "frontend/tests/testdata/eject", "tests/corpus"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                for f in [p.clone(), p.join("decant.yaml")] {
                    if f.extension().is_some_and(|x| x == "yaml") && f.is_file() {
                        texts.push(std::fs::read_to_string(&f).unwrap());
                    }
                }
            }
        }
        assert!(texts.len() > 40, "{}", texts.len());
        for text in &texts {
            let theirs = marked_yaml::parse_yaml_with_options(
                0,
                text,
                marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true).prevent_coercion(true),
            );
            let file = SourceFile::new("t", text.as_str());
            let ours = match load(&file) {
                Loaded::Tree(node, uses, _) => {
                    assert!(uses.is_empty());
                    Ok(node.to_marked())
                }
                Loaded::Yaml(e) => Err(e),
                Loaded::Located(d, _) => panic!("{text:?}: {}", d.message),
                // Past the nesting bound (which marked-yaml does not have): tested below.
                Loaded::TooDeep(..) => {
                    assert!(text.contains("deeper than the loader allows"), "{text:?}");
                    continue;
                }
            };
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{text:?}");
        }
    }

    /// Anchored nodes past the budget of kept copies: the second pass keeps only the aliased
    /// ones, and the result is the same as if every copy had been kept.
    #[test]
    fn anchors_past_the_copy_budget_load_through_the_pre_pass() {
        let big = vec!["a"; MAX_ALIAS_NODES + 10].join(", ");
        let text = format!("big: &big [{big}]\nsmall: &small {{k: v}}\nuse: *small\n");
        let file = SourceFile::new("t", text.as_str());
        let Loaded::Tree(Node::Mapping(root), uses, _) = load(&file) else { panic!("not loaded") };
        assert_eq!(uses.len(), 1);
        assert_eq!(format!("{:?}", root.get_node("use")), format!("{:?}", root.get_node("small")));
        // Aliasing the big one is refused by the alias budget, as it always was.
        let text = format!("big: &big [{big}]\nuse: *big\n");
        let file = SourceFile::new("t", text.as_str());
        let Loaded::Located(d, _) = load(&file) else { panic!("not refused") };
        assert!(d.message.contains("MAX_ALIAS_NODES"), "{}", d.message);
    }

    #[test]
    fn nesting_is_bounded_in_the_same_pass() {
        let deep = format!("cmd:\n{}x\n", "- ".repeat(MAX_NESTING));
        let file = SourceFile::new("t", deep.as_str());
        assert!(matches!(load(&file), Loaded::TooDeep(2, c) if c == 2 * MAX_NESTING - 1));
        let ok = format!("cmd:\n{}x\n", "- ".repeat(MAX_NESTING - 1));
        let file = SourceFile::new("t", ok.as_str());
        assert!(matches!(load(&file), Loaded::Tree(..)));
    }
}
