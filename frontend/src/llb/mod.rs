//! LLB: typed ops, content digests and deterministic marshalling. Knows nothing of the spec.
//!
//! Build [`State`]s with the constructors ([`image`], [`local`], [`git`], [`http`],
//! [`exec()`], [`FileChain`], [`merge()`], [`diff()`]), then turn the final state into a
//! [`pb::Definition`] with [`marshal()`]. Every op is content-addressed: its digest is
//! the sha256 of its encoded bytes, so equal constructions give byte-identical output.

pub mod dump;
pub mod exec;
pub mod file;
pub mod marshal;
pub mod merge;
pub mod pb;
pub mod source;
pub mod splice;
pub mod state;
mod wire;

pub use dump::{decode_definition, dump_json};
pub use exec::{exec, Access, Exec, ExecResult, MountKind, MountSpec};
pub use file::{Chown, Copy, FileChain, UserSpec, MODE_STRING_CAP, MODE_STRING_SINCE_CAP};
pub use marshal::{encode, marshal, marshal_bytes, missing_caps, missing_caps_of, required_caps, MissingCap};
pub use merge::{diff, merge};
pub use source::{
    git, http, image, local, oci_layout, HttpOpts, ImageOpts, LocalOpts, OciLayoutOpts, ResolveMode, GIT_CHECKSUM_CAP,
};
pub use state::{digest_of, LlbError, OpMeta, Output, Position, Range, Ranges, SourceFile, SourceLocation, State};
