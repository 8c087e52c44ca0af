//! Hand-written protobuf messages for BuildKit's LLB bridge (gateway) API.
//!
//! Field numbers and names follow BuildKit's `frontend/gateway/pb/gateway.proto` (package
//! `moby.buildkit.v1.frontend`) and the messages it imports (`moby.buildkit.v1.apicaps`,
//! `moby.buildkit.v1.types`, `fsutil.types`, `google.rpc`, and a few from `pb`).
//! Only the fields decant uses are declared: prost skips unknown fields when decoding.
//!
//! LLB `pb.Definition` values are carried as **encoded bytes**: a `bytes` field is
//! wire-compatible with an embedded message field of the same number, so this module does not
//! depend on the `llb` module. Map fields use `BTreeMap` so encoding is deterministic.

use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// pb (solver/pb/ops.proto): the LLB messages the bridge API embeds, from the llb module
// ---------------------------------------------------------------------------------------------

use crate::llb::pb::proto_enum;
pub use crate::llb::pb::{Platform, Position, Range, SourceInfo};

// ---------------------------------------------------------------------------------------------
// moby.buildkit.v1.apicaps / moby.buildkit.v1.types
// ---------------------------------------------------------------------------------------------

/// `apicaps.APICap`: one capability advertised by the daemon.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ApiCap {
    /// Capability id, e.g. `solve.base`.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Whether the capability can be used.
    #[prost(bool, tag = "2")]
    pub enabled: bool,
    /// Whether the capability is deprecated.
    #[prost(bool, tag = "3")]
    pub deprecated: bool,
    /// Machine-readable reason when disabled.
    #[prost(string, tag = "4")]
    pub disabled_reason: String,
    /// Human-readable reason when disabled.
    #[prost(string, tag = "5")]
    pub disabled_reason_msg: String,
    /// Alternative capability when disabled.
    #[prost(string, tag = "6")]
    pub disabled_alternative: String,
}

/// `types.WorkerRecord` (only the fields the gateway's Ping fills).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkerRecord {
    /// Worker id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Worker labels.
    #[prost(btree_map = "string, string", tag = "2")]
    pub labels: BTreeMap<String, String>,
    /// Platforms the worker can build for; the first is its native one.
    #[prost(message, repeated, tag = "3")]
    pub platforms: Vec<Platform>,
}

// ---------------------------------------------------------------------------------------------
// google.rpc / google.protobuf
// ---------------------------------------------------------------------------------------------

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Any {
    /// Type URL, e.g. `github.com/moby/buildkit/errdefs.Source+json`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// Encoded value (JSON for BuildKit's `+json` error details).
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.Status`: an error as passed to `Return`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Status {
    /// gRPC status code (2 = Unknown, 12 = Unimplemented, ...).
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// Message shown to the user.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Typed details.
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

// ---------------------------------------------------------------------------------------------
// fsutil.types
// ---------------------------------------------------------------------------------------------

/// `fsutil.types.Stat`. `mode` holds Go `os.FileMode` bits, not POSIX `st_mode`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Stat {
    /// Path (relative to the directory for ReadDir, the base name for StatFile).
    #[prost(string, tag = "1")]
    pub path: String,
    /// Go `os.FileMode` bits.
    #[prost(uint32, tag = "2")]
    pub mode: u32,
    /// Owner uid.
    #[prost(uint32, tag = "3")]
    pub uid: u32,
    /// Owner gid.
    #[prost(uint32, tag = "4")]
    pub gid: u32,
    /// Size in bytes.
    #[prost(int64, tag = "5")]
    pub size: i64,
    /// Modification time, Unix nanoseconds.
    #[prost(int64, tag = "6")]
    pub mod_time: i64,
    /// Symlink target.
    #[prost(string, tag = "7")]
    pub linkname: String,
    /// Device major number.
    #[prost(int64, tag = "8")]
    pub devmajor: i64,
    /// Device minor number.
    #[prost(int64, tag = "9")]
    pub devminor: i64,
    /// Extended attributes.
    #[prost(btree_map = "string, bytes", tag = "10")]
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Go `os.FileMode` directory bit.
pub const GO_MODE_DIR: u32 = 1 << 31;
/// Go `os.FileMode` symlink bit.
pub const GO_MODE_SYMLINK: u32 = 1 << 27;

impl Stat {
    /// True when the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & GO_MODE_DIR != 0
    }
    /// True when the entry is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode & GO_MODE_SYMLINK != 0
    }
    /// Permission bits (low 9 bits).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o777
    }
}

// ---------------------------------------------------------------------------------------------
// moby.buildkit.v1.frontend: Ping
// ---------------------------------------------------------------------------------------------

/// `PingRequest` (no fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PingRequest {}

/// `PongResponse`: the daemon's capabilities and workers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PongResponse {
    /// Gateway API capabilities.
    #[prost(message, repeated, tag = "1")]
    pub frontend_api_caps: Vec<ApiCap>,
    /// LLB capabilities.
    #[prost(message, repeated, tag = "2")]
    pub llb_caps: Vec<ApiCap>,
    /// Workers.
    #[prost(message, repeated, tag = "3")]
    pub workers: Vec<WorkerRecord>,
}

// ---------------------------------------------------------------------------------------------
// Solve / Result / Return
// ---------------------------------------------------------------------------------------------

/// `CacheOptionsEntry`: one cache import source.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct CacheOptionsEntry {
    /// Cache type, e.g. `registry`, `local`, `gha`.
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// Type-specific attributes, e.g. `ref`.
    #[prost(btree_map = "string, string", tag = "2")]
    pub attrs: BTreeMap<String, String>,
}

/// `SolveRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SolveRequest {
    /// Encoded `pb.Definition` to solve.
    #[prost(bytes = "vec", tag = "1")]
    pub definition: Vec<u8>,
    /// Another frontend to invoke instead of a definition.
    #[prost(string, tag = "2")]
    pub frontend: String,
    /// Options for `frontend`.
    #[prost(btree_map = "string, string", tag = "3")]
    pub frontend_opt: BTreeMap<String, String>,
    /// Let the server return map results in `SolveResponse.result`.
    #[prost(bool, tag = "5")]
    pub allow_result_return: bool,
    /// Let the server use `Result.ref`/`refs` (fields 3/4) rather than the deprecated strings.
    #[prost(bool, tag = "6")]
    pub allow_result_array_ref: bool,
    /// Cache sources to import (cap `importcaches`).
    #[prost(message, repeated, tag = "12")]
    pub cache_imports: Vec<CacheOptionsEntry>,
    /// Inputs for `frontend`, as encoded `pb.Definition`s (cap `frontend.inputs`).
    #[prost(btree_map = "string, bytes", tag = "13")]
    pub frontend_inputs: BTreeMap<String, Vec<u8>>,
    /// Solve eagerly so errors surface now (cap `gateway.solve.evaluate`).
    #[prost(bool, tag = "14")]
    pub evaluate: bool,
}

/// `SolveResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SolveResponse {
    /// Deprecated single ref id (only set when `allowResultReturn` is false).
    #[prost(string, tag = "1")]
    pub r#ref: String,
    /// The result.
    #[prost(message, optional, tag = "3")]
    pub result: Option<Result>,
}

/// `Ref`: a server-side result handle and the definition that produced it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ref {
    /// Opaque ref id, valid for this frontend run (`""` = empty result).
    #[prost(string, tag = "1")]
    pub id: String,
    /// Encoded `pb.Definition` that produced the ref (ignored by `Return`).
    #[prost(bytes = "vec", tag = "2")]
    pub def: Vec<u8>,
}

/// `RefMap`: per-platform refs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RefMap {
    /// Refs by key (platform id).
    #[prost(btree_map = "string, message", tag = "1")]
    pub refs: BTreeMap<String, Ref>,
}

/// `RefMapDeprecated`: per-platform ref ids.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RefMapDeprecated {
    /// Ref ids by key.
    #[prost(btree_map = "string, string", tag = "1")]
    pub refs: BTreeMap<String, String>,
}

/// `Result`: refs plus exporter metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Result {
    /// Which refs the result carries.
    #[prost(oneof = "result::Refs", tags = "1, 2, 3, 4")]
    pub result: Option<result::Refs>,
    /// Exporter metadata, e.g. `containerimage.config`.
    #[prost(btree_map = "string, bytes", tag = "10")]
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// Attestations by ref key (the platform id), cap `reference.attestations`. (Field 11 is
    /// reserved for an old attestation format.)
    #[prost(btree_map = "string, message", tag = "12")]
    pub attestations: BTreeMap<String, Attestations>,
}

/// `Attestations`: the attestations of one ref.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Attestations {
    #[prost(message, repeated, tag = "1")]
    pub attestation: Vec<Attestation>,
}

/// `Attestation`: a document (or a directory of them, kind `Bundle`) about a ref.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Attestation {
    /// [`AttestationKind`].
    #[prost(enumeration = "AttestationKind", tag = "1")]
    pub kind: i32,
    /// `reason` (`sbom`, `provenance`), `sbom.core`, ...
    #[prost(btree_map = "string, bytes", tag = "2")]
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// The filesystem holding the attestation.
    #[prost(message, optional, tag = "3")]
    pub r#ref: Option<Ref>,
    /// Path in `ref` (empty for a bundle: the whole ref).
    #[prost(string, tag = "4")]
    pub path: String,
    #[prost(string, tag = "5")]
    pub in_toto_predicate_type: String,
    #[prost(message, repeated, tag = "6")]
    pub in_toto_subjects: Vec<InTotoSubject>,
}

proto_enum! {
    /// `AttestationKind`.
    pub enum AttestationKind {
        /// One in-toto statement.
        InToto = 0 => "InToto",
        /// A directory of in-toto statements.
        Bundle = 1 => "Bundle",
    }
}

proto_enum! {
    /// `InTotoSubjectKind`: what an in-toto subject names.
    pub enum InTotoSubjectKind {
        /// The ref the attestation is attached to.
        Self_ = 0 => "Self",
        /// The digests given.
        Raw = 1 => "Raw",
    }
}

/// `InTotoSubject`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InTotoSubject {
    /// [`InTotoSubjectKind`].
    #[prost(enumeration = "InTotoSubjectKind", tag = "1")]
    pub kind: i32,
    #[prost(string, repeated, tag = "2")]
    pub digest: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
}

/// Nested types of [`Result`].
pub mod result {
    /// The `result` oneof of `Result`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Refs {
        /// Deprecated single ref id.
        #[prost(string, tag = "1")]
        RefDeprecated(String),
        /// Deprecated map of ref ids.
        #[prost(message, tag = "2")]
        RefsDeprecated(super::RefMapDeprecated),
        /// Single ref.
        #[prost(message, tag = "3")]
        Ref(super::Ref),
        /// Map of refs.
        #[prost(message, tag = "4")]
        Refs(super::RefMap),
    }
}

/// `ReturnRequest`: set exactly one of `result` and `error`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReturnRequest {
    /// The build result.
    #[prost(message, optional, tag = "1")]
    pub result: Option<Result>,
    /// The build error.
    #[prost(message, optional, tag = "2")]
    pub error: Option<Status>,
}

/// `ReturnResponse` (no fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReturnResponse {}

// ---------------------------------------------------------------------------------------------
// ReadFile / ReadDir / StatFile
// ---------------------------------------------------------------------------------------------

/// `FileRange`: a byte range to read.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct FileRange {
    /// Start offset.
    #[prost(int64, tag = "1")]
    pub offset: i64,
    /// Number of bytes.
    #[prost(int64, tag = "2")]
    pub length: i64,
}

/// `ReadFileRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadFileRequest {
    /// Ref id.
    #[prost(string, tag = "1")]
    pub r#ref: String,
    /// Path inside the ref.
    #[prost(string, tag = "2")]
    pub file_path: String,
    /// Optional byte range.
    #[prost(message, optional, tag = "3")]
    pub range: Option<FileRange>,
}

/// `ReadFileResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadFileResponse {
    /// File contents.
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// `ReadDirRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadDirRequest {
    /// Ref id.
    #[prost(string, tag = "1")]
    pub r#ref: String,
    /// Directory path inside the ref.
    #[prost(string, tag = "2")]
    pub dir_path: String,
    /// Optional fsutil include glob.
    #[prost(string, tag = "3")]
    pub include_pattern: String,
}

/// `ReadDirResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadDirResponse {
    /// Direct children of the directory.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<Stat>,
}

/// `StatFileRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatFileRequest {
    /// Ref id.
    #[prost(string, tag = "1")]
    pub r#ref: String,
    /// Path inside the ref.
    #[prost(string, tag = "2")]
    pub path: String,
}

/// `StatFileResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatFileResponse {
    /// The stat (lstat) of the path.
    #[prost(message, optional, tag = "1")]
    pub stat: Option<Stat>,
}

// ---------------------------------------------------------------------------------------------
// ResolveImageConfig
// ---------------------------------------------------------------------------------------------

/// `ResolveImageConfigRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResolveImageConfigRequest {
    /// Normalised image reference, e.g. `docker.io/library/alpine:latest`.
    #[prost(string, tag = "1")]
    pub r#ref: String,
    /// Platform to resolve for (unset = daemon default).
    #[prost(message, optional, tag = "2")]
    pub platform: Option<Platform>,
    /// `default`, `pull` or `local`.
    #[prost(string, tag = "3")]
    pub resolve_mode: String,
    /// Progress vertex name.
    #[prost(string, tag = "4")]
    pub log_name: String,
    /// 0 = registry, 1 = OCI layout (v0.11+).
    #[prost(int32, tag = "5")]
    pub resolver_type: i32,
    /// Session id for an OCI layout store (v0.11+).
    #[prost(string, tag = "6")]
    pub session_id: String,
    /// OCI layout store id (v0.11+).
    #[prost(string, tag = "7")]
    pub store_id: String,
}

/// `ResolveImageConfigResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResolveImageConfigResponse {
    /// Manifest digest, `sha256:...`.
    #[prost(string, tag = "1")]
    pub digest: String,
    /// Raw image config JSON.
    #[prost(bytes = "vec", tag = "2")]
    pub config: Vec<u8>,
    /// Reference after source policies (v0.12+; empty when unchanged or unsupported).
    #[prost(string, tag = "3")]
    pub r#ref: String,
}

// ---------------------------------------------------------------------------------------------
// Inputs / Warn / Evaluate
// ---------------------------------------------------------------------------------------------

/// `InputsRequest` (no fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct InputsRequest {}

/// `InputsResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InputsResponse {
    /// Frontend inputs as encoded `pb.Definition`s, by name.
    #[prost(btree_map = "string, bytes", tag = "1")]
    pub definitions: BTreeMap<String, Vec<u8>>,
}

/// `WarnRequest` (v0.10+, cap `gateway.warnings`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WarnRequest {
    /// Digest of the vertex the warning attaches to.
    #[prost(string, tag = "1")]
    pub digest: String,
    /// Level (0 is treated as 1).
    #[prost(int64, tag = "2")]
    pub level: i64,
    /// One-line message.
    #[prost(bytes = "vec", tag = "3")]
    pub short: Vec<u8>,
    /// Detail lines.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub detail: Vec<Vec<u8>>,
    /// URL with more information.
    #[prost(string, tag = "5")]
    pub url: String,
    /// Source the ranges point into.
    #[prost(message, optional, tag = "6")]
    pub info: Option<SourceInfo>,
    /// Ranges in `info`.
    #[prost(message, repeated, tag = "7")]
    pub ranges: Vec<Range>,
}

/// `WarnResponse` (no fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WarnResponse {}

/// `EvaluateRequest` (v0.11+, cap `gateway.evaluate`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EvaluateRequest {
    /// Ref id to evaluate.
    #[prost(string, tag = "1")]
    pub r#ref: String,
}

/// `EvaluateResponse` (no fields).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EvaluateResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// A minimal stand-in for an embedded `pb.Definition` message, to check that the `bytes`
    /// representation is wire-compatible with a message field.
    #[derive(Clone, PartialEq, prost::Message)]
    struct FakeDefinition {
        #[prost(bytes = "vec", repeated, tag = "1")]
        def: Vec<Vec<u8>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct RefAsMessage {
        #[prost(string, tag = "1")]
        id: String,
        #[prost(message, optional, tag = "2")]
        def: Option<FakeDefinition>,
    }

    #[test]
    fn bytes_field_is_wire_compatible_with_message_field() {
        let def = FakeDefinition { def: vec![b"op1".to_vec(), b"op2".to_vec()] };
        let as_msg = RefAsMessage { id: "r1".into(), def: Some(def.clone()) };
        let wire = as_msg.encode_to_vec();
        let as_bytes = Ref::decode(wire.as_slice()).expect("decode");
        assert_eq!(as_bytes.id, "r1");
        assert_eq!(as_bytes.def, def.encode_to_vec());
        // And back.
        let back = RefAsMessage::decode(as_bytes.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(back, as_msg);
    }

    #[test]
    fn result_oneof_round_trips() {
        let mut r = Result {
            result: Some(result::Refs::Ref(Ref { id: "x".into(), def: vec![] })),
            metadata: BTreeMap::new(),
            attestations: BTreeMap::new(),
        };
        r.metadata.insert("containerimage.config".into(), b"{}".to_vec());
        let back = Result::decode(r.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(back, r);
    }
}
