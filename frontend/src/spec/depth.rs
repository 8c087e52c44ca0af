//! The bound on how deeply collections nest ([`MAX_NESTING`]), and a pre-pass over the
//! parser's events that checks it and finds which anchors some alias uses.
//!
//! A parser that recurses once per level of nesting overflows the stack on a few kilobytes of
//! `- - - - ...` (block nesting has no limit of its own; flow nesting stops at 255). The loader
//! (`load.rs`) pulls the iterative parser's events itself and checks the bound as collections
//! open; it runs this pre-pass only when the anchored nodes it keeps grow too large, to keep
//! just the ones an alias uses.

use std::collections::HashSet;

use yaml_rust2::parser::{Event, Parser};

/// The deepest nesting of mappings and lists a spec may have. A real spec needs about 8 (spec,
/// `stages`, stage, `steps`, step, `mounts`, mount); the rest is room for `x-` extensions.
pub const MAX_NESTING: usize = 64;

/// The 1-based line and column (in characters) of the first collection that opens deeper than
/// [`MAX_NESTING`], if any. Text the parser rejects is left for the loader to report.
#[cfg(test)]
pub(super) fn too_deep(text: &str) -> Option<(usize, usize)> {
    scan(text).err()
}

/// Like [`too_deep`] (the `Err`), else the ids of the anchors that an alias refers to: the
/// loader keeps a copy of those only.
pub(super) fn scan(text: &str) -> Result<HashSet<usize>, (usize, usize)> {
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut aliased = HashSet::new();
    loop {
        match parser.next_token() {
            Ok((Event::SequenceStart(..) | Event::MappingStart(..), mark)) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err((mark.line(), mark.col() + 1));
                }
            }
            Ok((Event::SequenceEnd | Event::MappingEnd, _)) => depth = depth.saturating_sub(1),
            Ok((Event::Alias(id), _)) => {
                aliased.insert(id);
            }
            Ok((Event::StreamEnd, _)) | Err(_) => return Ok(aliased),
            Ok(_) => {}
        }
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
mod cost {
    /// `cargo test -p decant --lib depth::cost -- --ignored --nocapture`: the pre-pass against
    /// the loader, on a spec of 10,000 stages.
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
        assert!(super::too_deep(&text).is_none());
        let pre = t.elapsed();
        let t = std::time::Instant::now();
        marked_yaml::parse_yaml(0, &text).unwrap();
        let load = t.elapsed();
        let file = crate::diag::SourceFile::new("decant.yaml", text.as_str());
        let t = std::time::Instant::now();
        assert!(matches!(super::super::load::load(&file), super::super::load::Loaded::Tree(..)));
        let ours = t.elapsed();
        println!("pre-pass {pre:?}, marked-yaml's loader {load:?}, decant's loader {ours:?} ({} bytes)", text.len());
    }
}
