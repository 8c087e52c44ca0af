//! The loaded YAML: a node tree with the place of each node, as the loader (`load.rs`) builds it
//! and the decoder (`decode.rs`) and the limits (`limits.rs`) read it.
//!
//! It holds what `marked-yaml`'s tree holds (values, positions, whether a scalar was plain), in
//! a leaner shape: a mapping is its entries in order (a `Vec`, looked up by a scan: spec
//! mappings are small, and the loader indexes the large ones while it checks for duplicates),
//! and every position carries its byte offset, computed once as the node is loaded.

use marked_yaml::types::MarkedScalarNode;
use marked_yaml::{Marker, Span as Marks};

/// A place in the text: the parser's line (1-based), column (1-based, in characters) and
/// character index, and the byte offset of that line and column in the file. Kept as `u32`
/// (a spec is at most `limits::MAX_SPEC_BYTES`, 16 MiB), which makes nodes smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Mark {
    line: u32,
    column: u32,
    index: u32,
    offset: u32,
}

/// `n` as a `u32`: a spec's positions fit (see [`Mark`]).
fn small(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Mark {
    pub fn new(line: usize, column: usize, index: usize, offset: usize) -> Self {
        Mark { line: small(line), column: small(column), index: small(index), offset: small(offset) }
    }

    /// The 1-based line.
    pub fn line(&self) -> usize {
        self.line as usize
    }

    /// The byte offset in the file.
    pub fn offset(&self) -> usize {
        self.offset as usize
    }

    /// The same place as `marked-yaml` writes it.
    pub fn marker(&self) -> Marker {
        Marker::new(0, self.index as usize, self.line as usize, self.column as usize)
    }
}

/// A scalar: its value, where it starts, and whether it was plain (may be read as null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scalar {
    pub value: String,
    pub start: Mark,
    pub coerce: bool,
}

impl Scalar {
    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn may_coerce(&self) -> bool {
        self.coerce
    }

    /// The same scalar as `marked-yaml` builds it (for its error type).
    pub fn to_marked(&self) -> MarkedScalarNode {
        let mut s = MarkedScalarNode::new(Marks::new_start(self.start.marker()), self.value.as_str());
        s.set_coerce(self.coerce);
        s
    }
}

/// A list and where it starts and ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequence {
    pub items: Vec<Node>,
    pub start: Option<Mark>,
    pub end: Option<Mark>,
}

/// A mapping: its entries in document order (keys are unique), and where it starts and ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    pub entries: Vec<(Scalar, Node)>,
    pub start: Option<Mark>,
    pub end: Option<Mark>,
}

impl Mapping {
    pub fn empty(start: Option<Mark>, end: Option<Mark>) -> Self {
        Mapping { entries: Vec::new(), start, end }
    }

    pub fn get_node(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.value == key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &Scalar> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Scalar, &Node)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Scalar(Scalar),
    Sequence(Sequence),
    Mapping(Mapping),
}

impl Node {
    /// Moves the node out, leaving an empty scalar in its place (the decoder takes the values
    /// it keeps instead of copying them).
    pub fn take(&mut self) -> Node {
        let empty = Scalar { value: String::new(), start: Mark::default(), coerce: false };
        std::mem::replace(self, Node::Scalar(empty))
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Where the node starts.
    pub fn start(&self) -> Option<&Mark> {
        match self {
            Node::Scalar(s) => Some(&s.start),
            Node::Sequence(s) => s.start.as_ref(),
            Node::Mapping(m) => m.start.as_ref(),
        }
    }

    /// Where a collection ends (`None` for a scalar).
    pub fn end(&self) -> Option<&Mark> {
        match self {
            Node::Scalar(_) => None,
            Node::Sequence(s) => s.end.as_ref(),
            Node::Mapping(m) => m.end.as_ref(),
        }
    }

    /// The same tree as `marked-yaml` builds (to compare with its loader).
    #[cfg(test)]
    pub fn to_marked(&self) -> marked_yaml::Node {
        use marked_yaml::types::{MarkedMappingNode, MarkedSequenceNode};
        let marks = |start: Option<Mark>, end: Option<Mark>| match (start, end) {
            (Some(s), Some(e)) => Marks::new_with_marks(s.marker(), e.marker()),
            (Some(s), None) => Marks::new_start(s.marker()),
            _ => Marks::new_blank(),
        };
        match self {
            Node::Scalar(s) => s.to_marked().into(),
            Node::Sequence(s) => {
                MarkedSequenceNode::new(marks(s.start, s.end), s.items.iter().map(Node::to_marked).collect()).into()
            }
            Node::Mapping(m) => {
                let mut out = MarkedMappingNode::new_empty(marks(m.start, m.end));
                for (k, v) in &m.entries {
                    out.insert(k.to_marked(), v.to_marked());
                }
                out.into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Nodes stay small: the loader moves them as it builds the tree, the decoder as it reads it.
    #[test]
    fn nodes_are_small() {
        use std::mem::size_of;
        // With `usize` positions: 32, 64, 112 and 176 bytes.
        assert_eq!(size_of::<super::Mark>(), 16);
        assert!(size_of::<super::Node>() <= 72, "{}", size_of::<super::Node>());
        assert!(size_of::<(super::Scalar, super::Node)>() <= 120);
    }
}
