//! Turning a [`State`] into a Definition's wire bytes (or a [`pb::Definition`]), and checking
//! its caps.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Bound;
use std::sync::Arc;

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message;

use super::pb;
use super::state::{digest_of, OpDigest, Output, Range, SourceFile, State, Vertex};
use super::wire::{
    int, message, message_sized, message_sized_unless_empty, message_unless_empty, string, string_always,
};
use crate::sourcemap::to_i32;

/// Marshal the graph ending at `state` into a Definition.
///
/// The Definition [`marshal_bytes`] encodes, decoded: that function alone decides what goes in
/// and in which order. Use it directly where only the bytes are needed.
pub fn marshal(state: &State) -> pb::Definition {
    // The bytes were produced by encoding a Definition, so decoding cannot fail; fall back to an
    // empty Definition rather than panic.
    pb::Definition::decode(marshal_bytes(state).as_slice()).unwrap_or_default()
}

/// The protobuf encoding of the Definition of the graph ending at `state`, written in one pass
/// from the graph, laid out as Go's deterministic marshal (and prost) lays it out: fields in
/// number order, map entries sorted by key, no field at its proto3 default.
///
/// Ops are listed inputs first (post-order, inputs in op order), each digest once; the
/// last entry is the terminal op whose single input is `state`. When two vertices have
/// the same digest, the metadata of the first one reached wins. Scratch gives an empty
/// Definition (no bytes), which BuildKit solves to an empty result.
pub fn marshal_bytes(state: &State) -> Vec<u8> {
    let Some(out) = state.output() else {
        return Vec::new();
    };
    let Graph { entries, files } = graph(out);
    // The entries of the maps metadata (2) and source locations, written in def order (the
    // order the vertices were walked in, close to their order in memory), then copied out in
    // digest order: that pass reads one buffer from start to end, not every vertex again.
    let Maps { side, spans } = map_entries(&entries);
    // The ops and the metadata at their exact size, the source file's with room to spare: the
    // buffer is never moved, and shrinking it at the end leaves it in place (a buffer several
    // times too large was copied whole by the allocator's shrink at 10,000 stages).
    let field = |len: usize| 1 + encoded_len_varint(len as u64) + len;
    let size: usize = entries.iter().map(|e| field(e.bytes.len())).sum::<usize>()
        + spans
            .iter()
            .map(|(meta, location)| field(meta.len()) + location.as_ref().map_or(0, |r| r.len() + 8))
            .sum::<usize>()
        + files
            .iter()
            .map(|f| f.data.len() + f.filename.len() + f.language.as_ref().map_or(0, String::len) + 64)
            .sum::<usize>();
    let mut buf = Vec::with_capacity(size);
    // Definition.def (1)
    for e in &entries {
        encode_key(1, WireType::LengthDelimited, &mut buf);
        encode_varint(e.bytes.len() as u64, &mut buf);
        buf.extend_from_slice(&e.bytes);
    }
    // Definition.metadata (2): map<digest, OpMetadata>; of equal digests the last one is kept,
    // as a map built entry by entry would keep it.
    let sorted = by_digest(&entries);
    for &i in &sorted {
        string_always(&mut buf, 2, &side[spans[i].0.clone()]);
    }
    // Definition.source (3)
    if !files.is_empty() {
        let locations = sorted.iter().filter_map(|&i| spans[i].1.clone());
        // Its length guessed from the files and the locations: the source file would be moved
        // if the guess were short.
        let guess = files.iter().map(|f| f.data.len() + f.filename.len() + 16).sum::<usize>()
            + locations.clone().map(|r| r.len() + 4).sum::<usize>();
        message_sized(&mut buf, 3, guess, |b| {
            // Source.locations (1): map<digest, Locations>; each op has at most one location.
            for r in locations {
                string_always(b, 1, &side[r]);
            }
            // Source.infos (2)
            for f in &files {
                let guess = f.data.len() + f.filename.len() + 16;
                message_sized(b, 2, guess, |b| {
                    string(b, 1, f.filename.as_bytes());
                    string(b, 2, &f.data);
                    string(b, 4, f.language.as_deref().unwrap_or_default().as_bytes());
                });
            }
        });
    }
    debug_assert!(buf.len() <= size, "the Definition outgrew its estimate: {} > {size}", buf.len());
    buf.shrink_to_fit();
    buf
}

/// The ops of a Definition, in def order (the terminal op last), and its source files.
struct Graph<'a> {
    entries: Vec<Entry<'a>>,
    /// Source files, deduplicated by content, in order of first use.
    files: Vec<&'a Arc<SourceFile>>,
}

/// The map entries of a Definition's ops, in def order: `side` holds them one after the other,
/// `spans` says where each op's metadata entry is, and its source location entry if it has one.
struct Maps {
    side: Vec<u8>,
    spans: Vec<(std::ops::Range<usize>, Option<std::ops::Range<usize>>)>,
}

/// The map entries (key and value) of each op: metadata (`digest`, `OpMetadata`), and location
/// (`digest`, `Locations`) for an op with a source location.
fn map_entries(entries: &[Entry]) -> Maps {
    // Room to spare: growing it would copy it whole (16 MB at 10,000 stages), while the pages of
    // a large buffer that are never written are never touched.
    let mut side = Vec::with_capacity(entries.iter().map(|e| 2 * e.digest.len() + 256).sum());
    let mut spans = Vec::with_capacity(entries.len());
    // Most metadata are alike: the length of the one before is a good guess for the room of
    // the length prefix.
    let mut meta_len = 0;
    for e in entries {
        let start = side.len();
        string(&mut side, 1, e.digest.as_bytes());
        meta_len = message_sized_unless_empty(&mut side, 2, meta_len, |b| e.meta.encode(b));
        let meta = start..side.len();
        let location = e.location.map(|(index, ranges)| {
            let start = side.len();
            string(&mut side, 1, e.digest.as_bytes());
            message_unless_empty(&mut side, 2, |b| message(b, 1, |b| location(b, index, ranges)));
            start..side.len()
        });
        spans.push((meta, location));
    }
    Maps { side, spans }
}

/// What the Definition of the graph ending at `out` lists.
fn graph(out: &Output) -> Graph<'_> {
    // Borrowed from the graph, which `state` keeps alive: no digest copies, no reference counts.
    let mut seen = DigestSet::default();
    // Vertices already walked, by address: most edges lead to a vertex seen before, and its
    // address is checked without reading its digest (another cache line) or hashing 71 bytes.
    // Distinct vertices with equal digests still meet in `seen`.
    let mut walked: HashSet<*const Vertex, BuildHasherDefault<AddrHasher>> = HashSet::default();
    // In def order; the terminal op is added last.
    let mut entries: Vec<Entry> = Vec::new();
    let mut files: Vec<&Arc<SourceFile>> = Vec::new();

    // Iterative post-order walk, so deep chains cannot overflow the stack.
    let mut stack: Vec<(&Vertex, usize)> = vec![(&out.vertex, 0)];
    while let Some((vertex, next)) = stack.last_mut() {
        if let Some(input) = vertex.inputs.get(*next) {
            *next += 1;
            let child: &Vertex = &input.vertex;
            if !walked.contains(&std::ptr::from_ref(child)) && !seen.contains(&child.digest) {
                stack.push((child, 0));
            }
            continue;
        }
        let vertex: &Vertex = vertex;
        stack.pop();
        walked.insert(std::ptr::from_ref(vertex));
        if !seen.insert(&vertex.digest) {
            continue;
        }
        let location = vertex.meta.location.as_ref().map(|loc| {
            let index = match files.iter().position(|f| Arc::ptr_eq(f, &loc.file) || ***f == *loc.file) {
                Some(i) => i,
                None => {
                    files.push(&loc.file);
                    files.len() - 1
                }
            };
            (index, loc.ranges.as_slice())
        });
        let meta = match &vertex.raw_meta {
            Some(raw) => Meta::Raw(raw),
            None => Meta::Built(vertex),
        };
        entries.push(Entry {
            digest: Cow::Borrowed(vertex.digest.as_str()),
            bytes: Cow::Borrowed(&vertex.bytes),
            meta,
            location,
        });
    }

    // The terminal op: its input is `state`; its caps those of the definition plus every `meta.`
    // cap an op asks for.
    let terminal = pb::Op {
        inputs: vec![pb::Input { digest: out.digest().to_string(), index: out.index() }],
        ..Default::default()
    };
    let terminal_bytes = terminal.encode_to_vec();
    let terminal_digest = digest_of(&terminal_bytes);
    let mut terminal_caps: BTreeSet<&str> = ["constraints", "platform"].into();
    for e in &entries {
        e.meta.for_each_cap(|c| {
            if c.starts_with("meta.") {
                terminal_caps.insert(c);
            }
        });
    }
    entries.push(Entry {
        digest: Cow::Owned(terminal_digest),
        bytes: Cow::Owned(terminal_bytes),
        meta: Meta::Terminal(terminal_caps),
        location: None,
    });

    Graph { entries, files }
}

impl State {
    /// Same as [`marshal`].
    pub fn marshal(&self) -> pb::Definition {
        marshal(self)
    }
}

/// One op of a Definition being written.
struct Entry<'a> {
    digest: Cow<'a, str>,
    bytes: Cow<'a, [u8]>,
    meta: Meta<'a>,
    /// Index of its source file and its ranges there.
    location: Option<(usize, &'a [Range])>,
}

/// Where an op's metadata comes from.
#[derive(Clone)]
enum Meta<'a> {
    /// Received with a spliced Definition: written as is.
    Raw(&'a pb::OpMetadata),
    /// An op built here: from its [`super::OpMeta`] and caps.
    Built(&'a Vertex),
    /// The terminal op: only caps.
    Terminal(BTreeSet<&'a str>),
}

impl<'a> Meta<'a> {
    /// Calls `f` with each cap set to true.
    fn for_each_cap(&self, mut f: impl FnMut(&'a str)) {
        match *self {
            Meta::Raw(raw) => raw.caps.iter().filter(|(_, on)| **on).for_each(|(c, _)| f(c)),
            Meta::Built(v) => {
                for c in v.caps.iter() {
                    f(c);
                }
            }
            Meta::Terminal(ref caps) => caps.iter().for_each(|c| f(c)),
        }
    }

    /// The op's `llb.customname`.
    fn name(&self) -> Option<&'a str> {
        match *self {
            Meta::Raw(raw) => raw.description.get(NAME).map(String::as_str),
            Meta::Built(v) => v.meta.name.as_deref().or_else(|| v.meta.description.get(NAME).map(String::as_str)),
            Meta::Terminal(_) => None,
        }
    }

    /// The OpMetadata message's fields.
    fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Meta::Raw(raw) => raw.encode_raw(buf),
            Meta::Built(v) => {
                // ignore_cache (1)
                if v.meta.ignore_cache {
                    encode_key(1, WireType::Varint, buf);
                    buf.push(1);
                }
                // description (2): map<string, string>, the custom name under `llb.customname`.
                for (k, val) in description(&v.meta) {
                    message(buf, 2, |b| {
                        string(b, 1, k.as_bytes());
                        string(b, 2, val.as_bytes());
                    });
                }
                caps(buf, v.caps.iter());
                // progress_group (6)
                if let Some((id, name)) = &v.meta.progress_group {
                    message(buf, 6, |b| {
                        string(b, 1, id.as_bytes());
                        string(b, 2, name.as_bytes());
                    });
                }
            }
            Meta::Terminal(set) => caps(buf, set.iter().copied()),
        }
    }
}

/// OpMetadata.caps (5): map<string, bool>, every cap true.
fn caps<'a>(buf: &mut Vec<u8>, caps: impl Iterator<Item = &'a str>) {
    for c in caps {
        message(buf, 5, |b| {
            string(b, 1, c.as_bytes());
            encode_key(2, WireType::Varint, b);
            b.push(1);
        });
    }
}

/// The description key of an op's vertex name.
const NAME: &str = "llb.customname";

/// An op's description entries in key order: its `description` with its name (if any) as
/// `llb.customname`.
fn description(meta: &super::OpMeta) -> impl Iterator<Item = (&str, &str)> {
    let d = &meta.description;
    let name = match &meta.name {
        Some(n) => Some((NAME, n.as_str())),
        None => d.get_key_value(NAME).map(|(k, v)| (k.as_str(), v.as_str())),
    };
    fn pair<'a>((k, v): (&'a String, &'a String)) -> (&'a str, &'a str) {
        (k.as_str(), v.as_str())
    }
    d.range::<str, _>((Bound::Unbounded, Bound::Excluded(NAME)))
        .map(pair)
        .chain(name)
        .chain(d.range::<str, _>((Bound::Excluded(NAME), Bound::Unbounded)).map(pair))
}

/// A Location message's fields: source_index (1), ranges (2).
fn location(buf: &mut Vec<u8>, index: usize, ranges: &[Range]) {
    int(buf, 1, i64::from(to_i32(crate::diag::to_u32(index))));
    for r in ranges {
        message(buf, 2, |b| {
            for (tag, p) in [(1, r.start), (2, r.end)] {
                message(b, tag, |b| {
                    int(b, 1, i64::from(to_i32(p.line)));
                    int(b, 2, i64::from(to_i32(p.character)));
                });
            }
        });
    }
}

/// The digests already marshalled. They are hex of sha256, so a cheap mix of their bytes hashes
/// them well (the B-tree of them compared whole strings, a cache miss each, on every edge).
type DigestSet<'a> = HashSet<&'a OpDigest, BuildHasherDefault<DigestHasher>>;

/// Hashes a vertex address: one multiply (the low bits are alignment, the high ones spread).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(26);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Whole words read in place; the tail byte by byte (a variable-length copy into a word
        // was a call to memcpy per word).
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        for &b in words.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The indices of `entries` sorted by digest, of equal digests only the last one. Their digests are
/// `sha256:<hex>`: sorting small (prefix, index) pairs costs a fraction of sorting by
/// whole-string comparisons.
fn by_digest(entries: &[Entry]) -> Vec<usize> {
    // The 8 bytes after `sha256:`, big-endian: ordered as the strings are on those bytes.
    let prefix = |d: &str| {
        let mut word = [0u8; 8];
        let tail = d.as_bytes().get(7..).unwrap_or_default();
        let n = tail.len().min(8);
        word[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(word)
    };
    let all_sha256 = entries.iter().all(|e| e.digest.starts_with("sha256:"));
    let mut order: Vec<(u64, usize)> =
        entries.iter().enumerate().map(|(i, e)| (if all_sha256 { prefix(&e.digest) } else { 0 }, i)).collect();
    // Equal prefixes (or digests not of that form) fall back to the whole string, then to the
    // position, which keeps the sort stable.
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| entries[a.1].digest.cmp(&entries[b.1].digest)).then(a.1.cmp(&b.1))
    });
    // Equal digests have equal prefixes: the digests are compared only then.
    let mut sorted: Vec<usize> = Vec::with_capacity(order.len());
    let mut last_prefix = None;
    for (prefix, i) in order {
        match sorted.last_mut() {
            Some(last) if last_prefix == Some(prefix) && entries[*last].digest == entries[i].digest => *last = i,
            _ => sorted.push(i),
        }
        last_prefix = Some(prefix);
    }
    sorted
}

/// Encode a Definition to bytes (deterministic: maps are ordered).
pub fn encode(def: &pb::Definition) -> Vec<u8> {
    def.encode_to_vec()
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
    let ops = digests.iter().filter_map(|d| def.metadata.get(d).map(|md| (d.as_str(), Meta::Raw(md))));
    first_missing(ops, is_supported)
}

/// [`missing_caps`] of [`marshal`]`(state)`, read from the graph without building the
/// Definition.
pub fn missing_caps_of(state: &State, is_supported: impl Fn(&str) -> bool) -> Vec<MissingCap> {
    let Some(out) = state.output() else { return Vec::new() };
    let graph = graph(out);
    first_missing(graph.entries.iter().map(|e| (&*e.digest, e.meta.clone())), is_supported)
}

/// The caps for which `is_supported` is false, each once, with the first of `ops` needing it.
fn first_missing<'a>(
    ops: impl Iterator<Item = (&'a str, Meta<'a>)>,
    is_supported: impl Fn(&str) -> bool,
) -> Vec<MissingCap> {
    let mut reported = BTreeSet::new();
    let mut missing = Vec::new();
    for (digest, meta) in ops {
        meta.for_each_cap(|cap| {
            if !is_supported(cap) && reported.insert(cap) {
                missing.push(MissingCap {
                    cap: cap.to_string(),
                    op_digest: digest.to_string(),
                    op_name: meta.name().map(str::to_string),
                });
            }
        });
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::exec::{exec, Access, Exec, MountKind, MountSpec};
    use crate::llb::file::{Copy, FileChain};
    use crate::llb::merge::merge;
    use crate::llb::source::{image, local, ImageOpts, LocalOpts};
    use crate::llb::state::{OpMeta, Range, SourceLocation};
    use sha2::{Digest, Sha256};

    fn build(spec: &Arc<SourceFile>) -> State {
        let plat = pb::Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
        let loc = |l: u32| SourceLocation { file: spec.clone(), ranges: Range::new(l, 1, l, 10).into() };
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
            .finish(Some(&plat), OpMeta { location: Some(loc(2)), ..OpMeta::named("copy") });
        let run = exec(
            Exec {
                root: copied,
                args: vec!["make".into()],
                cwd: "/app".into(),
                platform: Some(plat),
                mounts: vec![MountSpec {
                    dest: "/ctx".into(),
                    kind: MountKind::Bind { source: ctx, selector: None, access: Access::ReadOnly },
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

    /// The Definition as a plain reading of the rules builds it: the oracle for the one-pass
    /// writer.
    fn reference(state: &State) -> pb::Definition {
        fn walk<'a>(v: &'a Vertex, seen: &mut BTreeSet<&'a str>, order: &mut Vec<&'a Vertex>) {
            if seen.contains(v.digest.as_str()) {
                return;
            }
            for i in &v.inputs {
                walk(&i.vertex, seen, order);
            }
            if seen.insert(v.digest.as_str()) {
                order.push(v);
            }
        }
        let Some(out) = state.output() else { return pb::Definition::default() };
        let mut order = Vec::new();
        walk(&out.vertex, &mut BTreeSet::new(), &mut order);
        let mut def = pb::Definition::default();
        let mut files: Vec<Arc<SourceFile>> = Vec::new();
        let mut locations = std::collections::BTreeMap::new();
        let mut terminal_caps: std::collections::BTreeMap<String, bool> =
            [("constraints".to_string(), true), ("platform".to_string(), true)].into();
        for v in order {
            def.def.push(v.bytes.clone());
            let md = v.raw_meta.as_deref().cloned().unwrap_or_else(|| pb::OpMetadata {
                ignore_cache: v.meta.ignore_cache,
                description: {
                    let mut d = v.meta.description.clone();
                    if let Some(n) = &v.meta.name {
                        d.insert("llb.customname".into(), n.clone());
                    }
                    d
                },
                export_cache: None,
                caps: v.caps.iter().map(|c| (c.to_string(), true)).collect(),
                progress_group: v.meta.progress_group.clone().map(|(id, name)| pb::ProgressGroup {
                    id,
                    name,
                    weak: false,
                }),
            });
            for (c, on) in &md.caps {
                if *on && c.starts_with("meta.") {
                    terminal_caps.insert(c.clone(), true);
                }
            }
            def.metadata.insert(v.digest.to_string(), md);
            if let Some(loc) = &v.meta.location {
                let index = files.iter().position(|f| **f == *loc.file).unwrap_or_else(|| {
                    files.push(loc.file.clone());
                    files.len() - 1
                });
                let ranges = loc
                    .ranges
                    .iter()
                    .map(|r| pb::Range {
                        start: Some(pb::Position { line: r.start.line as i32, character: r.start.character as i32 }),
                        end: Some(pb::Position { line: r.end.line as i32, character: r.end.character as i32 }),
                    })
                    .collect();
                locations.insert(
                    v.digest.to_string(),
                    pb::Locations { locations: vec![pb::Location { source_index: index as i32, ranges }] },
                );
            }
        }
        let terminal = pb::Op {
            inputs: vec![pb::Input { digest: out.digest().into(), index: out.index() }],
            ..Default::default()
        }
        .encode_to_vec();
        def.metadata.insert(digest_of(&terminal), pb::OpMetadata { caps: terminal_caps, ..Default::default() });
        def.def.push(terminal);
        if !files.is_empty() {
            let infos = files
                .iter()
                .map(|f| pb::SourceInfo {
                    filename: f.filename.clone(),
                    data: f.data.clone(),
                    definition: None,
                    language: f.language.clone().unwrap_or_default(),
                })
                .collect();
            def.source = Some(pb::Source { locations, infos });
        }
        def
    }

    #[test]
    fn one_pass_bytes_are_prost_encoding_of_the_definition() {
        let spec = spec_file();
        let other = Arc::new(SourceFile { filename: "other.yaml".into(), data: b"x\n".to_vec(), language: None });
        let mut described = OpMeta {
            description: [("a.before", "1"), ("llb.customname", "overridden"), ("z.after", "")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            progress_group: Some(("pg".into(), "group".into())),
            location: Some(SourceLocation { file: other.clone(), ranges: Range::new(1, 1, 300, 200).into() }),
            ..OpMeta::named("named")
        };
        // Equal ops built separately: the first one's metadata is kept.
        let first =
            image(&crate::reference::ImageRef::parse("busybox").unwrap(), ImageOpts::default(), described.clone())
                .unwrap();
        described.name = None;
        described.ignore_cache = true;
        described.progress_group = Some((String::new(), String::new()));
        let second =
            image(&crate::reference::ImageRef::parse("busybox").unwrap(), ImageOpts::default(), described).unwrap();
        let unnamed = local(
            "other",
            LocalOpts::default(),
            OpMeta {
                description: [("llb.customname".to_string(), "from description".to_string())].into(),
                location: Some(SourceLocation { file: other, ranges: Range::new(0, 0, 0, 0).into() }),
                ..Default::default()
            },
        )
        .unwrap();
        // Spliced ops, with metadata as received: a cap set to false, export_cache, a default one.
        let mut theirs = marshal(&build(&spec));
        for md in theirs.metadata.values_mut() {
            md.caps.insert("zz.off".into(), false);
            md.export_cache = Some(pb::ExportCache { value: false });
        }
        let plain = theirs.def[0].clone();
        theirs.metadata.insert(digest_of(&plain), pb::OpMetadata::default());
        let spliced = State::from_definition(&theirs).unwrap();
        let st = merge(
            vec![first, crate::llb::merge::diff(&second, &unnamed, OpMeta::default()), spliced, build(&spec)],
            OpMeta::named("all"),
        );

        let want = reference(&st);
        assert!(want.source.as_ref().is_some_and(|s| s.infos.len() == 2));
        assert_eq!(marshal_bytes(&st), want.encode_to_vec());
        assert_eq!(marshal(&st), want);
        let none = |_: &str| false;
        assert_eq!(missing_caps_of(&st, none), missing_caps(&want, none));
        assert!(marshal_bytes(&State::scratch()).is_empty());
    }

    /// The buffer is reserved at the size it will have (a debug assertion checks it): a source
    /// file with a long language name (a spliced input's, any string) and large content too.
    #[test]
    fn the_reserved_size_holds_every_source_file() {
        for (language, data) in [(None, 0), (Some("y".repeat(5_000)), 100_000), (Some(String::new()), 1)] {
            let file = Arc::new(SourceFile { filename: "f".repeat(300), data: vec![b'a'; data], language });
            let meta = OpMeta {
                location: Some(SourceLocation { file, ranges: Range::new(1, 1, 9, 9).into() }),
                ..OpMeta::named("located")
            };
            let st = local("context", LocalOpts::default(), meta).unwrap();
            assert_eq!(marshal_bytes(&st), reference(&st).encode_to_vec());
        }
    }

    #[test]
    fn a_wrong_length_guess_still_writes_the_minimal_prefix() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let payload = vec![7u8; len];
            let want = pb::SourceInfo { data: payload.clone(), ..Default::default() };
            let mut want_bytes = Vec::new();
            prost::encoding::message::encode(2, &want, &mut want_bytes);
            for guess in [0usize, 1, 127, 128, 16_384, 3_000_000, len] {
                let mut buf = vec![9u8];
                let got = message_sized(&mut buf, 2, guess, |b| string(b, 2, &payload));
                assert_eq!(&buf[1..], want_bytes.as_slice(), "payload {len}, guess {guess}");
                assert_eq!(got, want.encoded_len());
            }
        }
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
        assert_eq!(missing_caps_of(&build(&spec_file()), v08), missing);
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
