//! Content-addressed vertices and the immutable [`State`] handle.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};

use super::{pb, wire};

/// Errors from building LLB with invalid parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlbError {
    /// An exec was given no command.
    #[error("exec needs at least one argument")]
    EmptyArgs,
    /// A mount destination is not an absolute path, or is `/` (reserved for the root mount).
    #[error("invalid mount destination {0:?}: must be an absolute path other than \"/\"")]
    InvalidMountDest(String),
    /// Two mounts share a destination.
    #[error("duplicate mount destination {0:?}")]
    DuplicateMountDest(String),
    /// A source op was given an empty name / reference / URL.
    #[error("empty {0}")]
    EmptySource(&'static str),
    /// A name or value cannot be put into the wire format.
    #[error("invalid {what}: {value:?}")]
    Invalid {
        /// What was being validated.
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

/// A source file that op locations point into (for error reporting by BuildKit).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceFile {
    /// File name as shown to the user.
    pub filename: String,
    /// Full file contents.
    pub data: Vec<u8>,
    /// Optional language hint (e.g. `yaml`).
    pub language: Option<String>,
}

/// A 1-based position in a source file, as BuildKit expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based character (column).
    pub character: u32,
}

/// A range of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Range {
    /// Start, inclusive.
    pub start: Position,
    /// End.
    pub end: Position,
}

impl Range {
    /// A range from `(start_line, start_char)` to `(end_line, end_char)`, all 1-based.
    pub fn new(start_line: u32, start_char: u32, end_line: u32, end_char: u32) -> Self {
        Range {
            start: Position { line: start_line, character: start_char },
            end: Position { line: end_line, character: end_char },
        }
    }
}

/// Where in a source file an op comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file (shared between many ops; deduplicated by content when marshalling).
    pub file: Arc<SourceFile>,
    /// Ranges in that file.
    pub ranges: Ranges,
}

/// The ranges of a [`SourceLocation`]: one held inline (an op's usual case), or several.
#[derive(Debug, Clone)]
pub struct Ranges(RangesRepr);

#[derive(Debug, Clone)]
enum RangesRepr {
    One(Range),
    Many(Vec<Range>),
}

impl Ranges {
    /// The ranges in order.
    pub fn as_slice(&self) -> &[Range] {
        match &self.0 {
            RangesRepr::One(r) => std::slice::from_ref(r),
            RangesRepr::Many(v) => v,
        }
    }
}

impl std::ops::Deref for Ranges {
    type Target = [Range];

    fn deref(&self) -> &[Range] {
        self.as_slice()
    }
}

impl PartialEq for Ranges {
    fn eq(&self, other: &Ranges) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Ranges {}

impl From<Range> for Ranges {
    fn from(r: Range) -> Ranges {
        Ranges(RangesRepr::One(r))
    }
}

impl From<Vec<Range>> for Ranges {
    fn from(v: Vec<Range>) -> Ranges {
        match v.as_slice() {
            [r] => Ranges::from(*r),
            _ => Ranges(RangesRepr::Many(v)),
        }
    }
}

impl FromIterator<Range> for Ranges {
    fn from_iter<I: IntoIterator<Item = Range>>(iter: I) -> Ranges {
        Ranges::from(iter.into_iter().collect::<Vec<_>>())
    }
}

/// Per-op metadata. None of it is part of the op digest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpMeta {
    /// Vertex name shown in progress output (`description["llb.customname"]`).
    pub name: Option<String>,
    /// Extra description keys (e.g. `com.docker.dockerfile.v1.command`).
    pub description: BTreeMap<String, String>,
    /// Do not use the cache for this op.
    pub ignore_cache: bool,
    /// Progress group `(id, name)`.
    pub progress_group: Option<(String, String)>,
    /// Source location of the op.
    pub location: Option<SourceLocation>,
}

impl OpMeta {
    /// Metadata with just a vertex name.
    pub fn named(name: impl Into<String>) -> Self {
        OpMeta { name: Some(name.into()), ..Default::default() }
    }
}

/// Every LLB cap an op built here can ask for, in byte order: bit `i` of [`Caps`] is the `i`th.
const CAP_NAMES: [&str; 43] = [
    "diffop",
    "exec.meta.base",
    "exec.meta.cgroup.parent",
    "exec.meta.network",
    "exec.meta.proxyenv",
    "exec.meta.security",
    "exec.meta.ulimit",
    "exec.mount.bind",
    "exec.mount.bind.readwrite-nooutput",
    "exec.mount.cache",
    "exec.mount.cache.sharing",
    "exec.mount.secret",
    "exec.mount.selector",
    "exec.mount.ssh",
    "exec.mount.tmpfs",
    "exec.mount.tmpfs.size",
    "exec.secretenv",
    "file.base",
    "file.copy.alwaysreplaceexistingdestpaths",
    "file.copy.includeexcludepatterns",
    "file.rm.wildcard",
    "file.symlink.create",
    "mergeop",
    "meta.description",
    "meta.ignorecache",
    "soruce.http.uidgid",
    "source.git",
    "source.git.checksum",
    "source.git.fullurl",
    "source.git.keepgitdir",
    "source.git.subdir",
    "source.http",
    "source.http.checksum",
    "source.http.perm",
    "source.image",
    "source.image.resolvemode",
    "source.local",
    "source.local.excludepatterns",
    "source.local.followpaths",
    "source.local.includepatterns",
    "source.local.sessionid",
    "source.local.sharedkeyhint",
    "source.ocilayout",
];

// Caps is a 64-bit set.
const _: () = assert!(CAP_NAMES.len() <= 64);

/// One of [`CAP_NAMES`], named by [`cap!`] (which fails to compile for any other name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cap(u8);

impl Cap {
    /// The cap `name`; only for constants (a name not in [`CAP_NAMES`] panics).
    pub(crate) const fn named(name: &str) -> Cap {
        let mut i = 0;
        while i < CAP_NAMES.len() {
            if is_same(CAP_NAMES[i], name) {
                return Cap(i as u8);
            }
            i += 1;
        }
        panic!("not an LLB cap in CAP_NAMES");
    }
}

const fn is_same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The [`Cap`] of a cap name, checked when compiling.
macro_rules! cap {
    ($name:expr) => {
        const { $crate::llb::state::Cap::named($name) }
    };
}
pub(crate) use cap;

/// The LLB caps an op needs: a set of [`CAP_NAMES`], iterated in their (byte) order.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps(u64);

impl Caps {
    /// The set of `caps`.
    pub(crate) fn of(caps: &[Cap]) -> Caps {
        let mut set = Caps::default();
        set.extend(caps.iter().copied());
        set
    }

    pub(crate) fn insert(&mut self, cap: Cap) {
        self.0 |= 1 << cap.0;
    }

    /// Whether the set holds the cap `name`.
    pub fn contains(&self, name: &str) -> bool {
        CAP_NAMES.iter().position(|n| *n == name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The cap names in byte order.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + use<> {
        // Lowest set bit first: one step per cap, not per name.
        let mut bits = self.0;
        std::iter::from_fn(move || {
            let i = bits.trailing_zeros() as usize;
            bits &= bits.checked_sub(1)?;
            CAP_NAMES.get(i).copied()
        })
    }
}

impl Extend<Cap> for Caps {
    fn extend<I: IntoIterator<Item = Cap>>(&mut self, caps: I) {
        for c in caps {
            self.insert(c);
        }
    }
}

impl std::fmt::Debug for Caps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A marshalled op: its bytes, digest, input edges and metadata. Immutable once built.
pub(crate) struct Vertex {
    pub(crate) digest: OpDigest,
    pub(crate) bytes: Vec<u8>,
    pub(crate) inputs: Vec<Output>,
    pub(crate) meta: OpMeta,
    pub(crate) caps: Caps,
    /// Metadata received with a spliced Definition, marshalled as is (then `meta` and `caps`
    /// are unused). `None` for the ops built here.
    pub(crate) raw_meta: Option<Box<pb::OpMetadata>>,
}

impl Vertex {
    /// Encode `op` (whose `inputs` are filled from `inputs` here) and digest it.
    pub(crate) fn new(mut op: pb::Op, inputs: Vec<Output>, meta: OpMeta, caps: Caps) -> Arc<Vertex> {
        // The inputs are the op's first field: written here straight from the digests, then the
        // rest of the op, as encoding `op` with its `inputs` filled would (without copying the
        // digests into it).
        op.inputs.clear();
        let mut bytes = Vec::with_capacity(op.encoded_len() + inputs_len(&inputs));
        write_inputs(&mut bytes, &inputs);
        op.encode_raw(&mut bytes);
        Vertex::finish(bytes, inputs, meta, caps)
    }

    /// An op written straight to bytes, as [`Vertex::new`] would encode it: `inputs` (1),
    /// `platform` (10), then the op kind, the `oneof op` field `tag` (exec 2, file 4, ...) whose
    /// payload `body` writes (about `size` bytes; `body` is given the inputs).
    pub(crate) fn write(
        inputs: Vec<Output>,
        platform: Option<&pb::Platform>,
        tag: u32,
        size: usize,
        body: impl FnOnce(&mut Vec<u8>, &[Output]),
        meta: OpMeta,
        caps: Caps,
    ) -> Arc<Vertex> {
        // Written in a buffer kept for the next op, then copied to a block of the exact size: no
        // growing, no shrinking (which left small free pieces all over the heap).
        let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
        buf.clear();
        buf.reserve(inputs_len(&inputs) + size + 64);
        write_inputs(&mut buf, &inputs);
        if let Some(p) = platform {
            wire::message(&mut buf, 10, |b| p.encode_raw(b));
        }
        // Room for a two-byte length: most op bodies are 128 bytes or more.
        wire::message_sized(&mut buf, tag, size.max(128), |b| body(b, &inputs));
        let bytes = buf.to_vec();
        let _ = SCRATCH.try_with(|scratch| scratch.set(buf));
        Vertex::finish(bytes, inputs, meta, caps)
    }

    /// The vertex of the op encoded as `bytes`: its digest, and the caps its metadata needs.
    fn finish(bytes: Vec<u8>, inputs: Vec<Output>, meta: OpMeta, mut caps: Caps) -> Arc<Vertex> {
        let digest = OpDigest::of(&bytes);
        // When the op's description (custom name included) is not empty.
        if meta.name.is_some() || !meta.description.is_empty() {
            caps.insert(cap!("meta.description"));
        }
        if meta.ignore_cache {
            caps.insert(cap!("meta.ignorecache"));
        }
        Arc::new(Vertex { digest, bytes, inputs, meta, caps, raw_meta: None })
    }
}

thread_local! {
    /// The buffer [`Vertex::write`] writes each op in.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The encoded length of an op's `inputs` field, about.
fn inputs_len(inputs: &[Output]) -> usize {
    inputs.iter().map(|o| o.vertex.digest.0.len() + 16).sum()
}

/// An op's `inputs` (1), straight from the digests.
fn write_inputs(bytes: &mut Vec<u8>, inputs: &[Output]) {
    for o in inputs {
        wire::message(bytes, 1, |b| {
            wire::string(b, 1, o.vertex.digest.as_bytes());
            wire::int(b, 2, o.index);
        });
    }
}

impl Drop for Vertex {
    /// Drop input chains iteratively so that very deep graphs cannot overflow the stack.
    fn drop(&mut self) {
        let mut pending: Vec<Output> = std::mem::take(&mut self.inputs);
        while let Some(out) = pending.pop() {
            if let Ok(mut v) = Arc::try_unwrap(out.vertex) {
                pending.append(&mut v.inputs);
            }
        }
    }
}

/// `"sha256:" + hex(sha256(bytes))`: the digest BuildKit computes for an op.
pub fn digest_of(bytes: &[u8]) -> String {
    OpDigest::of(bytes).as_str().to_string()
}

/// An op's digest, `sha256:<hex>`, held in place: no allocation of its own, and read from
/// the vertex it names (every op is digested once, and its digest read on every edge to it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct OpDigest([u8; 71]);

impl OpDigest {
    const PREFIX: &'static [u8; 7] = b"sha256:";

    /// The digest of the op encoded as `bytes`.
    pub(crate) fn of(bytes: &[u8]) -> OpDigest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 71];
        out[..7].copy_from_slice(Self::PREFIX);
        for (pair, b) in out[7..].chunks_exact_mut(2).zip(Sha256::digest(bytes)) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        OpDigest(out)
    }

    /// A digest as [`digest_of`] writes it; `None` for any other string.
    pub(crate) fn parse(s: &str) -> Option<OpDigest> {
        let bytes = <[u8; 71]>::try_from(s.as_bytes()).ok()?;
        let hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
        (bytes.starts_with(Self::PREFIX) && bytes[7..].iter().all(hex)).then_some(OpDigest(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn as_str(&self) -> &str {
        // ASCII by construction (`of` and `parse`): never the empty fallback.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for OpDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for OpDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One output of a vertex.
#[derive(Clone)]
pub struct Output {
    pub(crate) vertex: Arc<Vertex>,
    pub(crate) index: i64,
}

impl Output {
    /// Digest of the op producing this output.
    pub fn digest(&self) -> &str {
        self.vertex.digest.as_str()
    }

    /// Output index within that op.
    pub fn index(&self) -> i64 {
        self.index
    }

    /// The LLB caps used by the producing op itself (not its inputs).
    pub fn caps(&self) -> &Caps {
        &self.vertex.caps
    }

    /// The encoded op bytes of the producing op.
    pub fn op_bytes(&self) -> &[u8] {
        &self.vertex.bytes
    }

    /// Decode the producing op (for inspection and tests).
    pub fn op(&self) -> pb::Op {
        // The bytes were produced by encoding a pb::Op, so decoding cannot fail;
        // fall back to an empty op rather than panic.
        pb::Op::decode(self.vertex.bytes.as_slice()).unwrap_or_default()
    }

    /// Metadata attached to the producing op.
    pub fn meta(&self) -> &OpMeta {
        &self.vertex.meta
    }
}

impl PartialEq for Output {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && self.vertex.digest == other.vertex.digest
    }
}

impl Eq for Output {}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.vertex.digest, self.index)
    }
}

/// An immutable filesystem state: scratch (empty) or one output of an op.
///
/// Cheap to clone. Two states are equal when they are the same output of ops with the
/// same digest (metadata is not compared).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct State {
    pub(crate) output: Option<Output>,
}

impl State {
    /// The empty filesystem.
    pub fn scratch() -> Self {
        State { output: None }
    }

    /// True for scratch.
    pub fn is_scratch(&self) -> bool {
        self.output.is_none()
    }

    /// The output this state refers to, `None` for scratch.
    pub fn output(&self) -> Option<&Output> {
        self.output.as_ref()
    }

    pub(crate) fn from_vertex(vertex: Arc<Vertex>, index: i64) -> Self {
        State { output: Some(Output { vertex, index }) }
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.output {
            None => f.write_str("State(scratch)"),
            Some(o) => write!(f, "State({o:?})"),
        }
    }
}

/// Collects an op's inputs, deduplicated, in order of first use.
#[derive(Default)]
pub(crate) struct InputSet {
    pub(crate) outputs: Vec<Output>,
}

impl InputSet {
    /// Index of `state` in the op's inputs (added if new); -1 for scratch.
    pub(crate) fn index_of(&mut self, state: &State) -> i64 {
        let Some(out) = &state.output else { return -1 };
        if let Some(i) = self.outputs.iter().position(|o| o == out) {
            return i as i64;
        }
        self.outputs.push(out.clone());
        (self.outputs.len() - 1) as i64
    }

    pub(crate) fn len(&self) -> i64 {
        self.outputs.len() as i64
    }

    /// Index of `state` among `inputs`; -1 for scratch or a state not there.
    pub(crate) fn position(inputs: &[Output], state: &State) -> i64 {
        let Some(out) = &state.output else { return -1 };
        inputs.iter().position(|o| o == out).map_or(-1, |i| i as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_iterate_in_byte_order() {
        // The marshaller writes an op's caps in this order (as a sorted set of names would).
        assert!(CAP_NAMES.windows(2).all(|w| w[0] < w[1]), "CAP_NAMES sorted, without repeats");
        let caps = Caps::of(&[cap!("meta.description"), cap!("exec.meta.base"), cap!("exec.mount.bind")]);
        assert_eq!(caps.iter().collect::<Vec<_>>(), ["exec.meta.base", "exec.mount.bind", "meta.description"]);
        assert!(caps.contains("exec.mount.bind") && !caps.contains("file.base") && !caps.contains("nope"));
    }

    #[test]
    fn digest_format() {
        let d = digest_of(b"");
        assert_eq!(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(OpDigest::parse(&d).map(|d| d.to_string()), Some(d.clone()));
        for bad in ["", "sha256:", &d[..70], &d.to_uppercase(), &d.replace("sha256", "sha512"), &format!("{d}0")] {
            assert_eq!(OpDigest::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn op_bytes_are_prost_encoding_of_the_op_with_its_inputs() {
        let leaf = Vertex::new(pb::Op::default(), Vec::new(), OpMeta::default(), Caps::default());
        let inputs = [0, 1, 0].map(|index| Output { vertex: leaf.clone(), index }).to_vec();
        let op = pb::Op {
            platform: Some(pb::Platform { os: "linux".into(), ..Default::default() }),
            op: Some(pb::op::Op::Merge(pb::MergeOp::default())),
            ..Default::default()
        };
        let v = Vertex::new(op.clone(), inputs.clone(), OpMeta::default(), Caps::default());
        let want = pb::Op {
            inputs: inputs.iter().map(|o| pb::Input { digest: o.digest().to_string(), index: o.index }).collect(),
            ..op
        };
        assert_eq!(v.bytes, want.encode_to_vec());
        assert_eq!(v.digest.as_str(), digest_of(&v.bytes));
    }

    #[test]
    fn scratch_is_default() {
        assert!(State::default().is_scratch());
        assert_eq!(State::scratch(), State::default());
    }
}
