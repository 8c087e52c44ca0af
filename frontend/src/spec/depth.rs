//! Loading the YAML tree, with a bound on how deeply collections nest.
//!
//! The recursive loader of `marked-yaml` (`yaml_rust2::Parser::load`) recurses once per level
//! of nesting, so a few kilobytes of `- - - - ...` (block nesting has no limit of its own; flow
//! nesting stops at 255) would overflow the stack and abort the process. [`load`] drives the
//! event parser iteratively instead, counting open collections (the first one past
//! [`MAX_NESTING`] is refused wherever it is in the stream), and builds the same `marked-yaml`
//! tree with the same errors as `marked_yaml::parse_yaml_with_options` with duplicate keys
//! refused and coercion prevented, in one pass over the text.

use hashlink::linked_hash_map::Entry;
use hashlink::LinkedHashMap;
use marked_yaml::loader::DuplicateKeyInner;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, Marker, Node, Span};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker as YamlMarker, TScalarStyle};

/// The deepest nesting of mappings and lists a spec may have. A real spec needs about 8 (spec,
/// `stages`, stage, `steps`, step, `mounts`, mount); the rest is room for `x-` extensions.
pub const MAX_NESTING: usize = 64;

/// Why [`load`] gave no tree.
#[derive(Debug)]
pub(super) enum Failure {
    /// The 1-based line and column (in characters) of the first collection that opens deeper
    /// than [`MAX_NESTING`]; reported before any other problem of the text.
    TooDeep(usize, usize),
    /// What `marked-yaml`'s loader reports.
    Load(LoadError),
}

/// The first document of `text` as a tree (its top level a mapping; an empty stream is an
/// empty mapping), as `marked-yaml` loads it with `error_on_duplicate_keys(true)` and
/// `prevent_coercion(true)`.
pub(super) fn load(text: &str) -> Result<Node, Failure> {
    let mut parser = Parser::new_from_str(text);
    let mut loader = Loader { stack: vec![State::Initial] };
    let mut depth = 0usize;
    // The tree is the first document's; the nesting bound covers the whole stream.
    let mut loading = true;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(next) => next,
            Err(e) if loading => return Err(Failure::Load(LoadError::ScanError(marker(*e.marker()), e))),
            // Past the first document, broken YAML is not read (as by the loader).
            Err(_) => break,
        };
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Failure::TooDeep(mark.line(), mark.col() + 1));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        let end = matches!(event, Event::StreamEnd);
        if loading {
            loading = !matches!(event, Event::DocumentEnd | Event::StreamEnd);
            loader.event(event, mark);
        }
        if end {
            break;
        }
    }
    match loader.stack.pop() {
        Some(State::Finished(node)) => Ok(node),
        Some(State::Error(e)) => Err(Failure::Load(e)),
        // The parser ends every stream it accepts; kept total rather than trusted.
        _ => Err(Failure::Load(LoadError::TopLevelMustBeMapping(Marker::new(0, 0, 1, 1)))),
    }
}

fn marker(mark: YamlMarker) -> Marker {
    Marker::new(0, mark.index(), mark.line(), mark.col() + 1)
}

type Mapping = LinkedHashMap<MarkedScalarNode, Node>;

/// The states of `marked-yaml`'s event loader (one per open collection).
enum State {
    Initial,
    StartStream,
    StartDocument,
    MappingWaitingOnKey(Marker, Mapping),
    MappingWaitingOnValue(Marker, Mapping, MarkedScalarNode),
    SequenceWaitingOnValue(Marker, Vec<Node>),
    Finished(Node),
    Error(LoadError),
}

struct Loader {
    stack: Vec<State>,
}

impl Loader {
    /// One event, as `marked-yaml`'s loader takes it; the first error stops the loading. An
    /// event the parser never sends in that state is an error, not a panic.
    fn event(&mut self, event: Event, mark: YamlMarker) {
        let Some(current) = self.stack.pop() else { return };
        if let State::Error(_) = current {
            self.stack.push(current);
            return;
        }
        let mark = marker(mark);
        let next = match event {
            Event::StreamStart => State::StartStream,
            Event::DocumentStart => State::StartDocument,
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) if tag.is_some() || anchor != 0 => {
                if tag.is_some() {
                    State::Error(LoadError::UnexpectedTag(mark))
                } else {
                    State::Error(LoadError::UnexpectedAnchor(mark))
                }
            }
            Event::MappingStart(..) => match current {
                State::StartDocument => State::MappingWaitingOnKey(mark, Mapping::new()),
                State::MappingWaitingOnKey(..) => State::Error(LoadError::MappingKeyMustBeScalar(mark)),
                outer => {
                    self.stack.push(outer);
                    State::MappingWaitingOnKey(mark, Mapping::new())
                }
            },
            Event::SequenceStart(..) => match current {
                State::StartDocument => State::Error(LoadError::TopLevelMustBeMapping(mark)),
                State::MappingWaitingOnKey(..) => State::Error(LoadError::MappingKeyMustBeScalar(mark)),
                outer => {
                    self.stack.push(outer);
                    State::SequenceWaitingOnValue(mark, Vec::new())
                }
            },
            Event::MappingEnd => match current {
                State::MappingWaitingOnKey(start, map) => {
                    self.close(Node::from(MarkedMappingNode::new(Span::new_with_marks(start, mark), map)))
                }
                _ => State::Error(LoadError::TopLevelMustBeMapping(mark)),
            },
            Event::SequenceEnd => match current {
                State::SequenceWaitingOnValue(start, list) => {
                    self.close(Node::from(MarkedSequenceNode::new(Span::new_with_marks(start, mark), list)))
                }
                _ => State::Error(LoadError::TopLevelMustBeMapping(mark)),
            },
            Event::DocumentEnd => current,
            Event::StreamEnd => match current {
                State::StartStream => {
                    State::Finished(Node::from(MarkedMappingNode::new_empty(Span::new_with_marks(mark, mark))))
                }
                other => other,
            },
            Event::Scalar(_, _, anchor, _) if anchor != 0 => State::Error(LoadError::UnexpectedAnchor(mark)),
            Event::Scalar(_, _, _, Some(_)) => State::Error(LoadError::UnexpectedTag(mark)),
            Event::Scalar(value, style, _, None) => {
                let mut node = MarkedScalarNode::new(Span::new_start(mark), value);
                node.set_coerce(matches!(style, TScalarStyle::Plain));
                match current {
                    State::MappingWaitingOnKey(start, map) => State::MappingWaitingOnValue(start, map, node),
                    State::StartDocument => State::Error(LoadError::TopLevelMustBeMapping(mark)),
                    outer => {
                        self.stack.push(outer);
                        self.close(Node::from(node))
                    }
                }
            }
            // Aliases only follow anchors, which are refused before.
            Event::Alias(_) | Event::Nothing => State::Error(LoadError::UnexpectedAnchor(mark)),
        };
        self.stack.push(next);
    }

    /// `node` is complete: it becomes the value of the collection open below it (popped), or
    /// the document.
    fn close(&mut self, node: Node) -> State {
        match self.stack.pop() {
            None => State::Finished(node),
            Some(State::MappingWaitingOnValue(start, mut map, key)) => match map.entry(key.clone()) {
                Entry::Occupied(entry) => State::Error(LoadError::DuplicateKey(Box::new(DuplicateKeyInner {
                    prev_key: entry.key().clone(),
                    key,
                }))),
                Entry::Vacant(entry) => {
                    entry.insert(node);
                    State::MappingWaitingOnKey(start, map)
                }
            },
            Some(State::SequenceWaitingOnValue(start, mut list)) => {
                list.push(node);
                State::SequenceWaitingOnValue(start, list)
            }
            Some(other) => {
                self.stack.push(other);
                State::Finished(node)
            }
        }
    }
}

/// The 1-based line and column of the first collection nested too deep, if any.
#[cfg(test)]
pub(super) fn too_deep(text: &str) -> Option<(usize, usize)> {
    match load(text) {
        Err(Failure::TooDeep(line, column)) => Some((line, column)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_level_too_deep() {
        let ok = format!("cmd:\n{}x\n", "- ".repeat(MAX_NESTING - 1));
        assert_eq!(too_deep(&ok), None);
        let deep = format!("cmd:\n{}x\n", "- ".repeat(MAX_NESTING));
        // The mapping is level 1, so the list opened by the MAX_NESTING-th `- ` is one too many.
        assert_eq!(too_deep(&deep), Some((2, 2 * MAX_NESTING - 1)));
        let flow = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        assert!(too_deep(&flow).is_some());
        // Mappings nested by indentation, and explicit keys, count too.
        let mut nested = String::new();
        for i in 0..=MAX_NESTING {
            nested.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        assert_eq!(too_deep(&nested).map(|(l, _)| l), Some(MAX_NESTING + 1));
        assert!(too_deep(&format!("{}x\n", "? ".repeat(MAX_NESTING + 1))).is_some());
        // A sibling does not add to the depth.
        let wide: String = (0..1000).map(|i| format!("k{i}: [[a], {{b: c}}]\n")).collect();
        assert_eq!(too_deep(&wide), None);
        // Broken YAML is the loader's to report.
        assert_eq!(too_deep("a: [\n"), None);
    }
}

#[cfg(test)]
mod same_as_marked_yaml {
    use marked_yaml::LoaderOptions;

    /// The tree (spans included) or the error of `marked-yaml`'s own loader.
    fn reference(text: &str) -> String {
        let options = LoaderOptions::default().error_on_duplicate_keys(true).prevent_coercion(true);
        format!("{:?}", marked_yaml::parse_yaml_with_options(0, text, options))
    }

    fn ours(text: &str) -> String {
        match super::load(text) {
            Ok(node) => format!("{:?}", Ok::<_, ()>(node)),
            Err(super::Failure::Load(e)) => format!("{:?}", Err::<(), _>(e)),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn loads_what_marked_yaml_loads() {
        let mut texts: Vec<String> = [
            "",
            "\n",
            "# only a comment\n",
            "---\n",
            "...\n",
            "--- |\n  x\n",
            "x\n",
            "- a\n",
            "[a]\n",
            "{a: b}\n",
            "a: 1\n",
            "a: 1\na: 2\n",
            "a: {b: 1, b: 2}\n",
            "a: [1, [2]]\na: x\n",
            "a: &x 1\n",
            "a: &x 1\nb: *x\n",
            "a: *x\n",
            "&x a: 1\n",
            "a: !t 1\n",
            "a: !t [1]\n",
            "a: &y {b: c}\n",
            "? [a]\n: b\n",
            "? {a: b}\n: c\n",
            "a: [\n",
            "a: 'x\n",
            "a: \"x\\q\"\n",
            "a: b: c\n",
            "a: 1\n---\nb: [\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\n...\n",
            "a:\n  - b\n  - c: d\n    e: f\n",
            "\"quoted\": 'x'\nplain: 1.5\nbool: true\nnull: ~\n",
            "a: |\n  lit\n  eral\nb: >\n  fold\n",
            "a:\n- x\n- - y\n  - z\n",
            "a: [b, {c: [d, e]}, f]\n",
            "a:\n  b:\n    c:\n      d: [1, 2]\n",
            "\t a: 1\n",
            "a: 1\n  b: 2\n",
            "a: 1 # c\nb: 'é ü'\n",
            "- \n",
            "a:\nb:\n",
            "? a\n",
            "{a: 1, a: 2}\n",
            "%YAML 1.2\n---\na: 1\n",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
        let mut found = 0;
        for entry in walk(std::path::Path::new(dir)) {
            if entry.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                texts.push(std::fs::read_to_string(&entry).unwrap_or_default());
                found += 1;
            }
        }
        assert!(found > 0, "no examples under {dir}");
        for text in &texts {
            assert_eq!(ours(text), reference(text), "on {text:?}");
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}

#[cfg(test)]
mod cost {
    /// `cargo test -p decant --lib depth::cost -- --ignored --nocapture`: this loader against
    /// `marked-yaml`'s, on a spec of 10,000 stages.
    #[test]
    #[ignore]
    fn prepass_against_loader() {
        let mut text = String::from("stages:\n");
        for i in 0..10_000 {
            text.push_str(&format!(
                "  s{i}:\n    from: alpine:3.20\n    env: {{A: b}}\n    steps:\n      - run: make {i}\n        mounts:\n          - cache: /c\n      - copy: [a, b]\n        to: /x/\n"
            ));
        }
        let t = std::time::Instant::now();
        assert!(super::load(&text).is_ok());
        let pre = t.elapsed();
        let t = std::time::Instant::now();
        marked_yaml::parse_yaml(0, &text).unwrap();
        let load = t.elapsed();
        println!("this loader {pre:?}, marked-yaml {load:?} ({} bytes)", text.len());
    }
}
