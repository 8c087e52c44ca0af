//! Splicing a received [`pb::Definition`] (a frontend input, a solved ref's definition) into
//! our graph as a [`State`].
//!
//! The received ops are kept byte for byte, so their digests (and BuildKit's cache keys) do not
//! change, and an op that we also build ourselves is the same vertex and appears once. The
//! state points at what the Definition's terminal op points at. Metadata (names, caps, cache
//! policy) and source locations travel with the ops.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use prost::Message;

use super::pb;
use super::state::{
    digest_of, Caps, LlbError, OpDigest, OpMeta, Output, Range, SourceFile, SourceLocation, State, Vertex,
};

fn invalid(value: impl Into<String>) -> LlbError {
    LlbError::Invalid { what: "definition", value: value.into() }
}

impl State {
    /// The state a marshalled Definition produces. An empty Definition is scratch.
    ///
    /// Errors: an op that does not decode, a missing input digest, a terminal op that is not a
    /// single input, an input index below zero, or a dependency cycle.
    pub fn from_definition(def: &pb::Definition) -> Result<State, LlbError> {
        let Some((terminal_bytes, body)) = def.def.split_last() else {
            return Ok(State::scratch());
        };
        let terminal = pb::Op::decode(terminal_bytes.as_slice()).map_err(|e| invalid(format!("terminal op: {e}")))?;
        let [result] = terminal.inputs.as_slice() else {
            return Err(invalid(format!("the terminal op has {} inputs, expected 1", terminal.inputs.len())));
        };
        if terminal.op.is_some() {
            return Err(invalid("the last op is not a terminal op (it has an operation)"));
        }

        // Decode every op once, by digest (duplicates in `def` are the same op).
        let mut ops: BTreeMap<String, (&Vec<u8>, Vec<pb::Input>)> = BTreeMap::new();
        for bytes in body {
            let op = pb::Op::decode(bytes.as_slice()).map_err(|e| invalid(format!("op: {e}")))?;
            ops.insert(digest_of(bytes), (bytes, op.inputs));
        }
        let locations = source_locations(def);

        // Build vertices inputs first, iteratively (received graphs may be deep).
        let mut built: BTreeMap<String, Arc<Vertex>> = BTreeMap::new();
        let mut on_stack: BTreeSet<String> = BTreeSet::new();
        let mut stack: Vec<String> = vec![result.digest.clone()];
        while let Some(digest) = stack.last().cloned() {
            if built.contains_key(&digest) {
                stack.pop();
                continue;
            }
            on_stack.insert(digest.clone());
            let (bytes, inputs) = ops.get(&digest).ok_or_else(|| invalid(format!("missing input digest {digest}")))?;
            if let Some(next) = inputs.iter().find(|i| !built.contains_key(&i.digest)) {
                if on_stack.contains(&next.digest) {
                    return Err(invalid(format!("dependency cycle through {}", next.digest)));
                }
                stack.push(next.digest.clone());
                continue;
            }
            let mut outs = Vec::with_capacity(inputs.len());
            for i in inputs {
                if i.index < 0 {
                    return Err(invalid(format!("negative output index {} of {}", i.index, i.digest)));
                }
                outs.push(Output { vertex: built[&i.digest].clone(), index: i.index });
            }
            let raw = def.metadata.get(&digest).cloned().unwrap_or_default();
            let meta = OpMeta {
                name: raw.description.get("llb.customname").cloned(),
                description: raw
                    .description
                    .iter()
                    .filter(|(k, _)| *k != "llb.customname")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                ignore_cache: raw.ignore_cache,
                progress_group: raw.progress_group.as_ref().map(|g| (g.id.clone(), g.name.clone())),
                location: locations.get(&digest).cloned(),
            };
            let vertex = Arc::new(Vertex {
                // A key of `ops`, made by `digest_of`.
                digest: OpDigest::parse(&digest).ok_or_else(|| invalid(format!("invalid op digest {digest}")))?,
                bytes: (*bytes).clone(),
                inputs: outs,
                meta,
                caps: Caps::default(),
                raw_meta: Some(Box::new(raw)),
            });
            on_stack.remove(&digest);
            built.insert(digest, vertex);
            stack.pop();
        }
        if result.index < 0 {
            return Err(invalid(format!("negative output index {}", result.index)));
        }
        Ok(State::from_vertex(built[&result.digest].clone(), result.index))
    }
}

/// The first source location of each op, with its file.
fn source_locations(def: &pb::Definition) -> BTreeMap<String, SourceLocation> {
    let Some(src) = &def.source else { return BTreeMap::new() };
    let files: Vec<Arc<SourceFile>> = src
        .infos
        .iter()
        .map(|i| {
            Arc::new(SourceFile {
                filename: i.filename.clone(),
                data: i.data.clone(),
                language: Some(i.language.clone()).filter(|l| !l.is_empty()),
            })
        })
        .collect();
    let pos = |p: &Option<pb::Position>| {
        let p = p.unwrap_or_default();
        (u32::try_from(p.line).unwrap_or(0), u32::try_from(p.character).unwrap_or(0))
    };
    src.locations
        .iter()
        .filter_map(|(digest, locs)| {
            let loc = locs.locations.first()?;
            let file = files.get(usize::try_from(loc.source_index).ok()?)?.clone();
            let ranges = loc
                .ranges
                .iter()
                .map(|r| {
                    let (sl, sc) = pos(&r.start);
                    let (el, ec) = pos(&r.end);
                    Range::new(sl, sc, el, ec)
                })
                .collect();
            Some((digest.clone(), SourceLocation { file, ranges }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::{exec, image, local, marshal, Copy, Exec, FileChain, ImageOpts, LocalOpts};

    fn plat() -> pb::Platform {
        pb::Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() }
    }

    /// A small graph as another client would send it: image, local, copy, run.
    fn theirs() -> (State, pb::Definition) {
        let file = Arc::new(SourceFile {
            filename: "Dockerfile".into(),
            data: b"FROM alpine\nRUN make\n".to_vec(),
            language: Some("Dockerfile".into()),
        });
        let base = image(
            &crate::reference::ImageRef::parse("alpine:3.19").unwrap(),
            ImageOpts { platform: Some(plat()), ..Default::default() },
            OpMeta::named("[1/3] FROM alpine"),
        )
        .unwrap();
        let ctx = local(
            "context",
            LocalOpts { session_id: Some("s1".into()), ..Default::default() },
            OpMeta::named("load context"),
        )
        .unwrap();
        let copied = FileChain::on(base)
            .copy(&ctx, Copy { src: "/".into(), dest: "/src/".into(), ..Default::default() })
            .finish(Some(&plat()), OpMeta::named("[2/3] COPY"));
        let run = exec(
            Exec {
                root: copied,
                args: vec!["make".into()],
                cwd: "/src".into(),
                platform: Some(plat()),
                ..Default::default()
            },
            OpMeta {
                ignore_cache: true,
                location: Some(SourceLocation { file, ranges: Range::new(2, 1, 2, 9).into() }),
                ..OpMeta::named("[3/3] RUN make")
            },
        )
        .unwrap();
        let def = marshal(&run.root);
        (run.root, def)
    }

    #[test]
    fn round_trip_keeps_bytes_digests_and_metadata() {
        let (original, def) = theirs();
        let spliced = State::from_definition(&def).unwrap();
        assert_eq!(spliced, original, "points at the terminal op's input");
        let again = marshal(&spliced);
        assert_eq!(again.def, def.def, "ops byte-identical, same order");
        assert_eq!(again.metadata, def.metadata, "metadata (names, caps, ignore_cache) kept");
        assert_eq!(again.source, def.source, "source map kept");
        assert_eq!(spliced.output().unwrap().meta().name.as_deref(), Some("[3/3] RUN make"));
    }

    #[test]
    fn spliced_ops_dedupe_with_ours() {
        let (_, def) = theirs();
        let spliced = State::from_definition(&def).unwrap();
        // We build the same alpine image op ourselves and copy from the spliced state onto it.
        let ours = image(
            &crate::reference::ImageRef::parse("alpine:3.19").unwrap(),
            ImageOpts { platform: Some(plat()), ..Default::default() },
            OpMeta::named("ours"),
        )
        .unwrap();
        let out = FileChain::on(ours.clone())
            .copy(&spliced, Copy { src: "/src/app".into(), dest: "/app".into(), ..Default::default() })
            .finish(Some(&plat()), OpMeta::named("copy app"));
        let m = marshal(&out);
        let digests: Vec<String> = m.def.iter().map(|b| digest_of(b)).collect();
        let unique: BTreeSet<&String> = digests.iter().collect();
        assert_eq!(unique.len(), digests.len(), "each op once");
        // Their 4 ops + our copy + terminal; the image op is shared.
        assert_eq!(m.def.len(), 6);
        let img = ours.output().unwrap().digest();
        assert_eq!(digests.iter().filter(|d| *d == img).count(), 1);
        // Every op of theirs is there byte for byte.
        for b in &def.def[..def.def.len() - 1] {
            assert!(m.def.contains(b));
        }
        // The ignore-cache cap of their run reaches our terminal op's caps.
        let term = &m.metadata[digests.last().unwrap()];
        assert!(term.caps.contains_key("meta.ignorecache"));
    }

    #[test]
    fn empty_is_scratch_and_bad_definitions_are_errors() {
        assert!(State::from_definition(&pb::Definition::default()).unwrap().is_scratch());
        let (_, def) = theirs();
        // Without the op its terminal points at.
        let mut missing = def.clone();
        let n = missing.def.len();
        missing.def.remove(n - 2);
        assert!(State::from_definition(&missing).is_err());
        // A last op that is not a terminal op.
        let mut no_terminal = def.clone();
        no_terminal.def.pop();
        assert!(State::from_definition(&no_terminal).is_err());
        // Garbage bytes.
        let garbage = pb::Definition { def: vec![vec![0xff, 0xff, 0xff]], ..Default::default() };
        assert!(State::from_definition(&garbage).is_err());
        // Negative index.
        let term =
            pb::Op { inputs: vec![pb::Input { digest: digest_of(&def.def[0]), index: -1 }], ..Default::default() };
        let neg = pb::Definition { def: vec![def.def[0].clone(), term.encode_to_vec()], ..Default::default() };
        assert!(State::from_definition(&neg).is_err());
    }

    #[test]
    fn deep_received_chain() {
        let mut s = State::scratch();
        for i in 0..3000 {
            s = FileChain::on(s).mkdir(format!("/d{i}"), 0o755, false, None).finish(None, OpMeta::default());
        }
        let def = marshal(&s);
        let spliced = State::from_definition(&def).unwrap();
        assert_eq!(marshal(&spliced).def, def.def);
    }
}
