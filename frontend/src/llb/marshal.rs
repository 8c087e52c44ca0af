//! Turning a [`State`] into a [`pb::Definition`], and checking its caps.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use prost::Message;

use super::pb;
use super::state::{digest_of, SourceFile, State, Vertex};
use crate::sourcemap::to_i32;

/// Marshal the graph ending at `state` into a Definition.
///
/// Ops are listed inputs first (post-order, inputs in op order), each digest once; the
/// last entry is the terminal op whose single input is `state`. When two vertices have
/// the same digest, the metadata of the first one reached wins. Scratch gives an empty
/// Definition (no `def`), which BuildKit solves to an empty result.
pub fn marshal(state: &State) -> pb::Definition {
    let Some(out) = state.output() else {
        return pb::Definition::default();
    };
    let mut def = pb::Definition::default();
    // Borrowed from the graph, which `state` keeps alive: no digest copies, no reference counts.
    let mut seen = DigestSet::default();
    // Sorted once at the end: inserting each op into the map searched it by digest every time.
    let mut metadata: Vec<(String, pb::OpMetadata)> = Vec::new();
    let mut sources = SourceCollector::default();
    let mut meta_caps: BTreeSet<String> = BTreeSet::new();

    // Iterative post-order walk, so deep chains cannot overflow the stack.
    let mut stack: Vec<(&Vertex, usize)> = vec![(&out.vertex, 0)];
    while let Some((vertex, next)) = stack.last_mut() {
        if let Some(input) = vertex.inputs.get(*next) {
            *next += 1;
            let child: &Vertex = &input.vertex;
            if !seen.contains(child.digest.as_str()) {
                stack.push((child, 0));
            }
            continue;
        }
        let vertex: &Vertex = vertex;
        stack.pop();
        if !seen.insert(vertex.digest.as_str()) {
            continue;
        }
        def.def.push(vertex.bytes.clone());
        let md = op_metadata(vertex);
        for (c, on) in &md.caps {
            if *on && c.starts_with("meta.") && !meta_caps.contains(c) {
                meta_caps.insert(c.clone());
            }
        }
        metadata.push((vertex.digest.clone(), md));
        if let Some(loc) = &vertex.meta.location {
            sources.add(&vertex.digest, &loc.file, &loc.ranges);
        }
    }

    let terminal = pb::Op {
        inputs: vec![pb::Input { digest: out.digest().to_string(), index: out.index() }],
        ..Default::default()
    };
    let bytes = terminal.encode_to_vec();
    let digest = digest_of(&bytes);
    let mut caps: BTreeMap<String, bool> =
        [("constraints", true), ("platform", true)].map(|(k, v)| (k.to_string(), v)).into();
    caps.extend(meta_caps.into_iter().map(|c| (c, true)));
    metadata.push((digest, pb::OpMetadata { caps, ..Default::default() }));
    // In digest order, so that `collect` builds the map without moving entries around again;
    // it keeps the last of equal digests, as inserting did.
    def.metadata = by_digest(metadata).collect();
    def.def.push(bytes);
    def.source = sources.finish();
    def
}

impl State {
    /// Same as [`marshal`].
    pub fn marshal(&self) -> pb::Definition {
        marshal(self)
    }
}

/// The digests already marshalled. They are hex of sha256, so a cheap mix of their bytes hashes
/// them well (the B-tree of them compared whole strings, a cache miss each, on every edge).
type DigestSet<'a> = HashSet<&'a str, BuildHasherDefault<DigestHasher>>;

#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `entries` sorted by digest, stably. The entries are large and their digests `sha256:<hex>`:
/// sorting small (prefix, index) pairs and moving each entry once costs a fraction of sorting
/// the entries themselves by whole-string comparisons.
fn by_digest<T: Default>(mut entries: Vec<(String, T)>) -> impl Iterator<Item = (String, T)> {
    // The 8 bytes after `sha256:`, big-endian: ordered as the strings are on those bytes.
    let prefix = |d: &str| {
        let mut word = [0u8; 8];
        let tail = d.as_bytes().get(7..).unwrap_or_default();
        let n = tail.len().min(8);
        word[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(word)
    };
    let all_sha256 = entries.iter().all(|(d, _)| d.starts_with("sha256:"));
    let mut order: Vec<(u64, usize)> =
        entries.iter().enumerate().map(|(i, (d, _))| (if all_sha256 { prefix(d) } else { 0 }, i)).collect();
    // Equal prefixes (or digests not of that form) fall back to the whole string, then to the
    // position, which keeps the sort stable.
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| entries[a.1].0.cmp(&entries[b.1].0)).then(a.1.cmp(&b.1)));
    order.into_iter().map(move |(_, i)| std::mem::take(&mut entries[i]))
}

/// Encode a Definition to bytes (deterministic: maps are ordered).
pub fn encode(def: &pb::Definition) -> Vec<u8> {
    def.encode_to_vec()
}

fn op_metadata(v: &Vertex) -> pb::OpMetadata {
    if let Some(raw) = &v.raw_meta {
        return raw.clone();
    }
    pb::OpMetadata {
        ignore_cache: v.meta.ignore_cache,
        description: v.meta.description_map(),
        export_cache: None,
        caps: v.caps.iter().map(|c| (c.to_string(), true)).collect(),
        progress_group: v.meta.progress_group.as_ref().map(|(id, name)| pb::ProgressGroup {
            id: id.clone(),
            name: name.clone(),
            weak: false,
        }),
    }
}

/// Collects source files (deduplicated by content, in order of first use) and locations.
#[derive(Default)]
struct SourceCollector {
    files: Vec<Arc<SourceFile>>,
    /// Each op's digest and location, in the order added; grouped and sorted by `finish`.
    locations: Vec<(String, pb::Location)>,
}

impl SourceCollector {
    fn add(&mut self, digest: &str, file: &Arc<SourceFile>, ranges: &[super::state::Range]) {
        let index = match self.files.iter().position(|f| Arc::ptr_eq(f, file) || **f == **file) {
            Some(i) => i,
            None => {
                self.files.push(file.clone());
                self.files.len() - 1
            }
        };
        let location = pb::Location {
            source_index: to_i32(crate::sourcemap::to_u32(index)),
            ranges: ranges
                .iter()
                .map(|r| pb::Range {
                    start: Some(pb::Position { line: to_i32(r.start.line), character: to_i32(r.start.character) }),
                    end: Some(pb::Position { line: to_i32(r.end.line), character: to_i32(r.end.character) }),
                })
                .collect(),
        };
        self.locations.push((digest.to_string(), location));
    }

    fn finish(self) -> Option<pb::Source> {
        if self.files.is_empty() {
            return None;
        }
        // Grouped by digest, each op's locations in the order added (the sort is stable).
        let added = self.locations;
        let mut locations: Vec<(String, pb::Locations)> = Vec::with_capacity(added.len());
        for (digest, location) in by_digest(added) {
            match locations.last_mut() {
                Some((last, group)) if *last == digest => group.locations.push(location),
                _ => locations.push((digest, pb::Locations { locations: vec![location] })),
            }
        }
        Some(pb::Source {
            locations: locations.into_iter().collect(),
            infos: self
                .files
                .iter()
                .map(|f| pb::SourceInfo {
                    filename: f.filename.clone(),
                    data: f.data.clone(),
                    definition: None,
                    language: f.language.clone().unwrap_or_default(),
                })
                .collect(),
        })
    }
}

/// Every LLB cap a Definition asks for (the union of its metadata `caps` set to true),
/// sorted.
pub fn required_caps(def: &pb::Definition) -> BTreeSet<String> {
    def.metadata.values().flat_map(|m| m.caps.iter().filter(|(_, on)| **on).map(|(c, _)| c.clone())).collect()
}

/// A cap the daemon lacks, with the op that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingCap {
    /// The cap id, e.g. `mergeop`.
    pub cap: String,
    /// Digest of the first op (in `def` order) that needs it.
    pub op_digest: String,
    /// That op's `llb.customname`, if any.
    pub op_name: Option<String>,
}

impl fmt::Display for MissingCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the BuildKit daemon does not support the LLB feature {:?}", self.cap)?;
        match &self.op_name {
            Some(n) => write!(f, " (needed by step {n:?})"),
            None => write!(f, " (needed by op {})", self.op_digest),
        }
    }
}

impl std::error::Error for MissingCap {}

/// The caps of `def` for which `is_supported` is false, each once, in `def` order of the
/// first op needing it (then cap name). Metadata entries whose digest is not in `def`
/// are checked last.
pub fn missing_caps(def: &pb::Definition, is_supported: impl Fn(&str) -> bool) -> Vec<MissingCap> {
    let mut digests: Vec<String> = def.def.iter().map(|b| digest_of(b)).collect();
    let known: BTreeSet<&String> = digests.iter().collect();
    let extra: Vec<String> = def.metadata.keys().filter(|k| !known.contains(k)).cloned().collect();
    digests.extend(extra);
    let mut reported = BTreeSet::new();
    let mut missing = Vec::new();
    for digest in digests {
        let Some(md) = def.metadata.get(&digest) else {
            continue;
        };
        for (cap, on) in &md.caps {
            if *on && !is_supported(cap) && reported.insert(cap.clone()) {
                missing.push(MissingCap {
                    cap: cap.clone(),
                    op_digest: digest.clone(),
                    op_name: md.description.get("llb.customname").cloned(),
                });
            }
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::exec::{exec, Exec, MountKind, MountSpec};
    use crate::llb::file::{Copy, FileChain};
    use crate::llb::merge::merge;
    use crate::llb::source::{image, local, ImageOpts, LocalOpts};
    use crate::llb::state::{OpMeta, Range, SourceLocation};
    use sha2::{Digest, Sha256};

    fn build(spec: &Arc<SourceFile>) -> State {
        let plat = pb::Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
        let loc = |l: u32| SourceLocation { file: spec.clone(), ranges: vec![Range::new(l, 1, l, 10)] };
        let base = image(
            &crate::reference::ImageRef::parse("alpine:3.19").unwrap(),
            ImageOpts { platform: Some(plat.clone()), ..Default::default() },
            OpMeta { name: Some("base".into()), location: Some(loc(1)), ..Default::default() },
        )
        .unwrap();
        let ctx = local("context", LocalOpts { session_id: Some("s".into()), ..Default::default() }, OpMeta::default())
            .unwrap();
        let copied = FileChain::on(base.clone())
            .copy(&ctx, Copy { src: "/".into(), dest: "/app".into(), ..Default::default() })
            .finish(Some(plat.clone()), OpMeta { location: Some(loc(2)), ..OpMeta::named("copy") });
        let run = exec(
            Exec {
                root: copied,
                args: vec!["make".into()],
                cwd: "/app".into(),
                platform: Some(plat),
                mounts: vec![MountSpec {
                    dest: "/ctx".into(),
                    kind: MountKind::Bind { source: ctx, selector: None, readonly: true },
                }],
                ..Default::default()
            },
            OpMeta { ignore_cache: true, location: Some(loc(3)), ..OpMeta::named("build") },
        )
        .unwrap();
        merge(vec![base, run.root], OpMeta::default())
    }

    fn spec_file() -> Arc<SourceFile> {
        Arc::new(SourceFile {
            filename: "decant.yaml".into(),
            data: b"a\nb\nc\n".to_vec(),
            language: Some("yaml".into()),
        })
    }

    #[test]
    fn digests_are_sha256_of_op_bytes() {
        let def = marshal(&build(&spec_file()));
        for bytes in &def.def {
            let d = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
            assert!(def.metadata.contains_key(&d), "no metadata for {d}");
            // Every input refers to an earlier op.
            let op = pb::Op::decode(bytes.as_slice()).unwrap();
            for i in op.inputs {
                let pos = def.def.iter().position(|b| digest_of(b) == i.digest).expect("missing input");
                assert!(def.def[pos] != *bytes);
            }
        }
    }

    #[test]
    fn identical_construction_gives_identical_bytes() {
        let a = encode(&marshal(&build(&spec_file())));
        let b = encode(&marshal(&build(&spec_file())));
        assert_eq!(a, b);
        assert_eq!(a, encode(&pb::Definition::decode(a.as_slice()).unwrap()));
    }

    #[test]
    fn shared_inputs_are_deduplicated_and_ordered() {
        let def = marshal(&build(&spec_file()));
        // image, local, file, exec, merge, terminal.
        assert_eq!(def.def.len(), 6);
        let digests: Vec<String> = def.def.iter().map(|b| digest_of(b)).collect();
        let unique: BTreeSet<&String> = digests.iter().collect();
        assert_eq!(unique.len(), digests.len());
        for (i, bytes) in def.def.iter().enumerate() {
            for input in pb::Op::decode(bytes.as_slice()).unwrap().inputs {
                let j = digests.iter().position(|d| *d == input.digest).unwrap();
                assert!(j < i, "input after its user");
            }
        }
    }

    #[test]
    fn terminal_op_shape() {
        let st = build(&spec_file());
        let def = marshal(&st);
        let last = pb::Op::decode(def.def.last().unwrap().as_slice()).unwrap();
        assert_eq!(
            last,
            pb::Op {
                inputs: vec![pb::Input { digest: st.output().unwrap().digest().into(), index: 0 }],
                ..Default::default()
            }
        );
        let md = &def.metadata[&digest_of(def.def.last().unwrap())];
        let caps: Vec<&str> = md.caps.keys().map(String::as_str).collect();
        assert_eq!(caps, vec!["constraints", "meta.description", "meta.ignorecache", "platform"]);
    }

    #[test]
    fn metadata_and_source_map() {
        let def = marshal(&build(&spec_file()));
        let ops: Vec<(String, pb::Op)> =
            def.def.iter().map(|b| (digest_of(b), pb::Op::decode(b.as_slice()).unwrap())).collect();
        let exec_digest = &ops.iter().find(|(_, o)| matches!(o.op, Some(pb::op::Op::Exec(_)))).unwrap().0;
        let md = &def.metadata[exec_digest];
        assert!(md.ignore_cache);
        assert_eq!(md.description["llb.customname"], "build");
        assert!(md.caps.contains_key("exec.meta.base"));
        assert!(md.caps.contains_key("meta.ignorecache"));
        let src = def.source.as_ref().unwrap();
        assert_eq!(src.infos.len(), 1);
        assert_eq!(src.infos[0].filename, "decant.yaml");
        assert_eq!(src.infos[0].language, "yaml");
        assert_eq!(src.locations.len(), 3);
        let loc = &src.locations[exec_digest].locations[0];
        assert_eq!(loc.source_index, 0);
        assert_eq!(loc.ranges[0].start, Some(pb::Position { line: 3, character: 1 }));
    }

    #[test]
    fn scratch_is_empty_definition() {
        let def = marshal(&State::scratch());
        assert!(def.def.is_empty() && def.metadata.is_empty() && def.source.is_none());
        assert!(encode(&def).is_empty());
    }

    #[test]
    fn caps_listing_and_missing() {
        let def = marshal(&build(&spec_file()));
        let caps = required_caps(&def);
        for c in ["source.image", "source.local", "source.local.sessionid", "file.base", "exec.meta.base", "mergeop"] {
            assert!(caps.contains(c), "missing {c}");
        }
        let v08 = |c: &str| c != "mergeop";
        let missing = missing_caps(&def, v08);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].cap, "mergeop");
        assert!(missing[0].to_string().contains("mergeop"));
        assert!(missing_caps(&def, |_| true).is_empty());
    }

    #[test]
    fn equal_ops_built_separately_share_a_digest() {
        let a =
            image(&crate::reference::ImageRef::parse("alpine").unwrap(), ImageOpts::default(), OpMeta::named("first"))
                .unwrap();
        let b =
            image(&crate::reference::ImageRef::parse("alpine").unwrap(), ImageOpts::default(), OpMeta::named("second"))
                .unwrap();
        assert_eq!(a, b);
        let m = crate::llb::merge::diff(&a, &b, OpMeta::default());
        let def = marshal(&m);
        // one image op (first metadata wins), the diff, the terminal.
        assert_eq!(def.def.len(), 3);
        let img = digest_of(&def.def[0]);
        assert_eq!(def.metadata[&img].description["llb.customname"], "first");
        match pb::Op::decode(def.def[1].as_slice()).unwrap().op {
            Some(pb::op::Op::Diff(d)) => {
                assert_eq!((d.lower.unwrap().input, d.upper.unwrap().input), (0, 0))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let mut s = State::scratch();
        for i in 0..5000 {
            s = FileChain::on(s).mkdir(format!("/d{i}"), 0o755, false, None).finish(None, OpMeta::default());
        }
        assert_eq!(marshal(&s).def.len(), 5001);
        // Dropping is iterative too.
        drop(s);
    }
}
