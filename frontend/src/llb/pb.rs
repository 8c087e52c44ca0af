//! Hand-written prost types for BuildKit's LLB wire format (proto package `pb`,
//! `solver/pb/ops.proto`).
//!
//! Only field numbers and names follow the upstream schema. Every proto `map` is a
//! `BTreeMap` so that encoding is byte-deterministic (prost writes fields in tag order
//! and map entries in iteration order).
//!
//! Field names use snake_case; the doc comment on each field gives the upstream name
//! where it differs.

use std::collections::BTreeMap;

/// A proto enum, with its values' names as BuildKit's schema spells them (for `decant llb
/// --json`; `frontend/tests/wire_table.rs` checks names and numbers against `frontend/proto`).
pub trait ProtoEnum: Copy + PartialEq + TryFrom<i32> + 'static {
    /// Every value and its proto name.
    const VALUES: &'static [(Self, &'static str)];

    /// The proto name of this value.
    fn proto_name(self) -> &'static str {
        Self::VALUES.iter().find(|(v, _)| *v == self).map_or("", |(_, n)| n)
    }
}

/// Declares a prost enumeration and its [`ProtoEnum`] names in one list.
macro_rules! proto_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $num:literal => $proto:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
        #[repr(i32)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $num,)*
        }

        impl $crate::llb::pb::ProtoEnum for $name {
            const VALUES: &'static [(Self, &'static str)] = &[$(($name::$variant, $proto),)*];
        }
    };
}
pub(crate) use proto_enum;

/// A marshalled LLB graph: a list of encoded [`Op`]s plus per-op metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Definition {
    /// `def`: each entry is one encoded [`Op`]; the last one is the terminal op.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub def: Vec<Vec<u8>>,
    /// `metadata`: keyed by op digest (`sha256:<hex>`).
    #[prost(btree_map = "string, message", tag = "2")]
    pub metadata: BTreeMap<String, OpMetadata>,
    /// `Source`: source maps pointing ops back at user files.
    #[prost(message, optional, tag = "3")]
    pub source: Option<Source>,
}

/// One vertex of the LLB graph.
///
/// Its `Message` impl is written by hand for one reason: the byte order. BuildKit v0.18+
/// decodes every op a frontend sends, re-encodes it with Go's deterministic marshal and digests
/// that; Go writes the members of a `oneof` after all other fields, while prost's derive writes
/// every field by tag number (the `oneof` before `platform`). Encoding in Go's order keeps our
/// digests the ones BuildKit uses (source maps, progress, provenance).
#[derive(Clone, PartialEq, Default, Debug)]
pub struct Op {
    /// `inputs` (1): edges to other ops' outputs.
    pub inputs: Vec<Input>,
    /// The op kind (`oneof op`: 2, 3, 4, 6, 7), encoded last.
    pub op: Option<op::Op>,
    /// `platform` (10).
    pub platform: Option<Platform>,
    /// `constraints` (11).
    pub constraints: Option<WorkerConstraints>,
}

impl prost::Message for Op {
    fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
        use prost::encoding::message;
        for input in &self.inputs {
            message::encode(1, input, buf);
        }
        if let Some(p) = &self.platform {
            message::encode(10, p, buf);
        }
        if let Some(c) = &self.constraints {
            message::encode(11, c, buf);
        }
        if let Some(op) = &self.op {
            op.encode(buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl prost::bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        use prost::encoding::message;
        match tag {
            1 => message::merge_repeated(wire_type, &mut self.inputs, buf, ctx),
            2 | 3 | 4 | 6 | 7 => op::Op::merge(&mut self.op, tag, wire_type, buf, ctx),
            10 => message::merge(wire_type, self.platform.get_or_insert_with(Default::default), buf, ctx),
            11 => message::merge(wire_type, self.constraints.get_or_insert_with(Default::default), buf, ctx),
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        use prost::encoding::message;
        message::encoded_len_repeated(1, &self.inputs)
            + self.platform.as_ref().map_or(0, |p| message::encoded_len(10, p))
            + self.constraints.as_ref().map_or(0, |c| message::encoded_len(11, c))
            + self.op.as_ref().map_or(0, |o| o.encoded_len())
    }

    fn clear(&mut self) {
        *self = Op::default();
    }
}

/// The `oneof op` of [`Op`].
pub mod op {
    /// Op kind. `build` (5) is experimental upstream and deliberately not modelled.
    #[allow(clippy::large_enum_variant)]
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Op {
        /// `exec`
        #[prost(message, tag = "2")]
        Exec(super::ExecOp),
        /// `source`
        #[prost(message, tag = "3")]
        Source(super::SourceOp),
        /// `file`
        #[prost(message, tag = "4")]
        File(super::FileOp),
        /// `merge` (BuildKit v0.10+)
        #[prost(message, tag = "6")]
        Merge(super::MergeOp),
        /// `diff` (BuildKit v0.10+)
        #[prost(message, tag = "7")]
        Diff(super::DiffOp),
    }
}

/// OCI platform.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Platform {
    /// `Architecture`
    #[prost(string, tag = "1")]
    pub architecture: String,
    /// `OS`
    #[prost(string, tag = "2")]
    pub os: String,
    /// `Variant`
    #[prost(string, tag = "3")]
    pub variant: String,
    /// `OSVersion`
    #[prost(string, tag = "4")]
    pub os_version: String,
    /// `OSFeatures`
    #[prost(string, repeated, tag = "5")]
    pub os_features: Vec<String>,
}

/// An edge: output `index` of the op with `digest`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Message)]
pub struct Input {
    /// `digest`
    #[prost(string, tag = "1")]
    pub digest: String,
    /// `index`
    #[prost(int64, tag = "2")]
    pub index: i64,
}

/// Run a command in a container.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecOp {
    /// `meta`
    #[prost(message, optional, tag = "1")]
    pub meta: Option<Meta>,
    /// `mounts`
    #[prost(message, repeated, tag = "2")]
    pub mounts: Vec<Mount>,
    /// `network`
    #[prost(enumeration = "NetMode", tag = "3")]
    pub network: i32,
    /// `security`
    #[prost(enumeration = "SecurityMode", tag = "4")]
    pub security: i32,
    /// `secretenv`
    #[prost(message, repeated, tag = "5")]
    pub secretenv: Vec<SecretEnv>,
}

/// Process parameters of an [`ExecOp`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct Meta {
    /// `args`
    #[prost(string, repeated, tag = "1")]
    pub args: Vec<String>,
    /// `env` (`K=V`)
    #[prost(string, repeated, tag = "2")]
    pub env: Vec<String>,
    /// `cwd`
    #[prost(string, tag = "3")]
    pub cwd: String,
    /// `user`
    #[prost(string, tag = "4")]
    pub user: String,
    /// `proxy_env`
    #[prost(message, optional, tag = "5")]
    pub proxy_env: Option<ProxyEnv>,
    /// `extraHosts`
    #[prost(message, repeated, tag = "6")]
    pub extra_hosts: Vec<HostIp>,
    /// `hostname`
    #[prost(string, tag = "7")]
    pub hostname: String,
    /// `ulimit`
    #[prost(message, repeated, tag = "9")]
    pub ulimit: Vec<Ulimit>,
    /// `cgroupParent`
    #[prost(string, tag = "10")]
    pub cgroup_parent: String,
    /// `removeMountStubsRecursive`
    #[prost(bool, tag = "11")]
    pub remove_mount_stubs_recursive: bool,
    /// `validExitCodes`
    #[prost(int32, repeated, tag = "12")]
    pub valid_exit_codes: Vec<i32>,
}

/// `HostIP`: an `/etc/hosts` entry.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HostIp {
    /// `Host`
    #[prost(string, tag = "1")]
    pub host: String,
    /// `IP`
    #[prost(string, tag = "2")]
    pub ip: String,
}

/// `Ulimit`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ulimit {
    /// `Name`
    #[prost(string, tag = "1")]
    pub name: String,
    /// `Soft`
    #[prost(int64, tag = "2")]
    pub soft: i64,
    /// `Hard`
    #[prost(int64, tag = "3")]
    pub hard: i64,
}

/// `ProxyEnv`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProxyEnv {
    /// `http_proxy`
    #[prost(string, tag = "1")]
    pub http_proxy: String,
    /// `https_proxy`
    #[prost(string, tag = "2")]
    pub https_proxy: String,
    /// `ftp_proxy`
    #[prost(string, tag = "3")]
    pub ftp_proxy: String,
    /// `no_proxy`
    #[prost(string, tag = "4")]
    pub no_proxy: String,
    /// `all_proxy`
    #[prost(string, tag = "5")]
    pub all_proxy: String,
}

proto_enum! {
    /// Network mode of an exec.
    pub enum NetMode {
        /// The default sandboxed network.
        Unset = 0 => "UNSET",
        /// Needs the `network.host` entitlement.
        Host = 1 => "HOST",
        None = 2 => "NONE",
    }
}

proto_enum! {
    /// Security mode of an exec.
    pub enum SecurityMode {
        Sandbox = 0 => "SANDBOX",
        /// Needs the `security.insecure` entitlement.
        Insecure = 1 => "INSECURE",
    }
}

/// `SecretEnv`: an environment variable filled from a secret.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SecretEnv {
    /// `ID`
    #[prost(string, tag = "1")]
    pub id: String,
    /// `name`
    #[prost(string, tag = "2")]
    pub name: String,
    /// `optional`
    #[prost(bool, tag = "3")]
    pub optional: bool,
}

/// A filesystem mounted into an exec.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Mount {
    /// `input`: index into `Op.inputs`, -1 for none.
    #[prost(int64, tag = "1")]
    pub input: i64,
    /// `selector`
    #[prost(string, tag = "2")]
    pub selector: String,
    /// `dest`
    #[prost(string, tag = "3")]
    pub dest: String,
    /// `output`: output index, -1 for none.
    #[prost(int64, tag = "4")]
    pub output: i64,
    /// `readonly`
    #[prost(bool, tag = "5")]
    pub readonly: bool,
    /// `mountType`
    #[prost(enumeration = "MountType", tag = "6")]
    pub mount_type: i32,
    /// `TmpfsOpt`
    #[prost(message, optional, tag = "19")]
    pub tmpfs_opt: Option<TmpfsOpt>,
    /// `cacheOpt`
    #[prost(message, optional, tag = "20")]
    pub cache_opt: Option<CacheOpt>,
    /// `secretOpt`
    #[prost(message, optional, tag = "21")]
    pub secret_opt: Option<SecretOpt>,
    /// `SSHOpt`
    #[prost(message, optional, tag = "22")]
    pub ssh_opt: Option<SshOpt>,
    /// `resultID` (gateway containers only)
    #[prost(string, tag = "23")]
    pub result_id: String,
    /// `contentCache`
    #[prost(enumeration = "MountContentCache", tag = "24")]
    pub content_cache: i32,
}

proto_enum! {
    /// Kind of an exec mount.
    pub enum MountType {
        Bind = 0 => "BIND",
        Secret = 1 => "SECRET",
        Ssh = 2 => "SSH",
        Cache = 3 => "CACHE",
        Tmpfs = 4 => "TMPFS",
    }
}

proto_enum! {
    /// `MountContentCache`
    pub enum MountContentCache {
        Default = 0 => "DEFAULT",
        On = 1 => "ON",
        Off = 2 => "OFF",
    }
}

/// `TmpfsOpt`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TmpfsOpt {
    /// `size` in bytes (0 = unlimited/default).
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// `CacheOpt`
#[derive(Clone, PartialEq, prost::Message)]
pub struct CacheOpt {
    /// `ID`
    #[prost(string, tag = "1")]
    pub id: String,
    /// `sharing`
    #[prost(enumeration = "CacheSharingOpt", tag = "2")]
    pub sharing: i32,
}

proto_enum! {
    /// Sharing mode of a cache mount.
    pub enum CacheSharingOpt {
        Shared = 0 => "SHARED",
        Private = 1 => "PRIVATE",
        Locked = 2 => "LOCKED",
    }
}

/// `SecretOpt`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SecretOpt {
    /// `ID`
    #[prost(string, tag = "1")]
    pub id: String,
    /// `uid`
    #[prost(uint32, tag = "2")]
    pub uid: u32,
    /// `gid`
    #[prost(uint32, tag = "3")]
    pub gid: u32,
    /// `mode`
    #[prost(uint32, tag = "4")]
    pub mode: u32,
    /// `optional`
    #[prost(bool, tag = "5")]
    pub optional: bool,
}

/// `SSHOpt`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SshOpt {
    /// `ID`
    #[prost(string, tag = "1")]
    pub id: String,
    /// `uid`
    #[prost(uint32, tag = "2")]
    pub uid: u32,
    /// `gid`
    #[prost(uint32, tag = "3")]
    pub gid: u32,
    /// `mode`
    #[prost(uint32, tag = "4")]
    pub mode: u32,
    /// `optional`
    #[prost(bool, tag = "5")]
    pub optional: bool,
}

/// A source: image, local dir, git repo, http file...
#[derive(Clone, PartialEq, prost::Message)]
pub struct SourceOp {
    /// `identifier`, e.g. `docker-image://docker.io/library/alpine:3.19`.
    #[prost(string, tag = "1")]
    pub identifier: String,
    /// `attrs`
    #[prost(btree_map = "string, string", tag = "2")]
    pub attrs: BTreeMap<String, String>,
}

/// A chain of file actions.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileOp {
    /// `actions` (field 2; there is no field 1).
    #[prost(message, repeated, tag = "2")]
    pub actions: Vec<FileAction>,
}

/// One step of a [`FileOp`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileAction {
    /// `input`: the base filesystem.
    #[prost(int64, tag = "1")]
    pub input: i64,
    /// `secondaryInput`: the copy source.
    #[prost(int64, tag = "2")]
    pub secondary_input: i64,
    /// `output`: -1 unless this action is an output of the op.
    #[prost(int64, tag = "3")]
    pub output: i64,
    /// `oneof action`
    #[prost(oneof = "file_action::Action", tags = "4, 5, 6, 7, 8")]
    pub action: Option<file_action::Action>,
}

/// The `oneof action` of [`FileAction`].
pub mod file_action {
    /// File action kind.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Action {
        /// `copy`
        #[prost(message, tag = "4")]
        Copy(super::FileActionCopy),
        /// `mkfile`
        #[prost(message, tag = "5")]
        Mkfile(super::FileActionMkFile),
        /// `mkdir`
        #[prost(message, tag = "6")]
        Mkdir(super::FileActionMkDir),
        /// `rm`
        #[prost(message, tag = "7")]
        Rm(super::FileActionRm),
        /// `symlink` (BuildKit v0.19+)
        #[prost(message, tag = "8")]
        Symlink(super::FileActionSymlink),
    }
}

/// `FileActionCopy`
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileActionCopy {
    /// `src`
    #[prost(string, tag = "1")]
    pub src: String,
    /// `dest`
    #[prost(string, tag = "2")]
    pub dest: String,
    /// `owner`
    #[prost(message, optional, tag = "3")]
    pub owner: Option<ChownOpt>,
    /// `mode` (-1 = keep the source mode)
    #[prost(int32, tag = "4")]
    pub mode: i32,
    /// `followSymlink`
    #[prost(bool, tag = "5")]
    pub follow_symlink: bool,
    /// `dirCopyContents`
    #[prost(bool, tag = "6")]
    pub dir_copy_contents: bool,
    /// `attemptUnpackDockerCompatibility`
    #[prost(bool, tag = "7")]
    pub attempt_unpack_docker_compatibility: bool,
    /// `createDestPath`
    #[prost(bool, tag = "8")]
    pub create_dest_path: bool,
    /// `allowWildcard`
    #[prost(bool, tag = "9")]
    pub allow_wildcard: bool,
    /// `allowEmptyWildcard`
    #[prost(bool, tag = "10")]
    pub allow_empty_wildcard: bool,
    /// `timestamp` (unix ns, -1 = unset)
    #[prost(int64, tag = "11")]
    pub timestamp: i64,
    /// `include_patterns`
    #[prost(string, repeated, tag = "12")]
    pub include_patterns: Vec<String>,
    /// `exclude_patterns`
    #[prost(string, repeated, tag = "13")]
    pub exclude_patterns: Vec<String>,
    /// `alwaysReplaceExistingDestPaths`
    #[prost(bool, tag = "14")]
    pub always_replace_existing_dest_paths: bool,
    /// `modeStr`
    #[prost(string, tag = "15")]
    pub mode_str: String,
    /// `required_paths`
    #[prost(string, repeated, tag = "16")]
    pub required_paths: Vec<String>,
}

/// `FileActionMkFile`
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileActionMkFile {
    /// `path`
    #[prost(string, tag = "1")]
    pub path: String,
    /// `mode`
    #[prost(int32, tag = "2")]
    pub mode: i32,
    /// `data`
    #[prost(bytes = "vec", tag = "3")]
    pub data: Vec<u8>,
    /// `owner`
    #[prost(message, optional, tag = "4")]
    pub owner: Option<ChownOpt>,
    /// `timestamp` (-1 = unset)
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
}

/// `FileActionMkDir`
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileActionMkDir {
    /// `path`
    #[prost(string, tag = "1")]
    pub path: String,
    /// `mode`
    #[prost(int32, tag = "2")]
    pub mode: i32,
    /// `makeParents`
    #[prost(bool, tag = "3")]
    pub make_parents: bool,
    /// `owner`
    #[prost(message, optional, tag = "4")]
    pub owner: Option<ChownOpt>,
    /// `timestamp` (-1 = unset)
    #[prost(int64, tag = "5")]
    pub timestamp: i64,
}

/// `FileActionRm`
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileActionRm {
    /// `path`
    #[prost(string, tag = "1")]
    pub path: String,
    /// `allowNotFound`
    #[prost(bool, tag = "2")]
    pub allow_not_found: bool,
    /// `allowWildcard`
    #[prost(bool, tag = "3")]
    pub allow_wildcard: bool,
}

/// `FileActionSymlink`
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileActionSymlink {
    /// `oldpath`: the link target.
    #[prost(string, tag = "1")]
    pub oldpath: String,
    /// `newpath`: where the link is created.
    #[prost(string, tag = "2")]
    pub newpath: String,
    /// `owner`
    #[prost(message, optional, tag = "3")]
    pub owner: Option<ChownOpt>,
    /// `timestamp` (-1 = unset)
    #[prost(int64, tag = "4")]
    pub timestamp: i64,
}

/// `ChownOpt`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChownOpt {
    /// `user`
    #[prost(message, optional, tag = "1")]
    pub user: Option<UserOpt>,
    /// `group`
    #[prost(message, optional, tag = "2")]
    pub group: Option<UserOpt>,
}

/// `UserOpt`
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserOpt {
    /// `oneof user`
    #[prost(oneof = "user_opt::User", tags = "1, 2")]
    pub user: Option<user_opt::User>,
}

/// The `oneof user` of [`UserOpt`].
pub mod user_opt {
    /// A user or group, by name or numeric id.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum User {
        /// `byName`
        #[prost(message, tag = "1")]
        ByName(super::NamedUserOpt),
        /// `byID`
        #[prost(uint32, tag = "2")]
        ById(u32),
    }
}

/// `NamedUserOpt`
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedUserOpt {
    /// `name`
    #[prost(string, tag = "1")]
    pub name: String,
    /// `input`: the filesystem whose /etc/passwd and /etc/group resolve the name.
    #[prost(int64, tag = "2")]
    pub input: i64,
}

/// `MergeInput`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MergeInput {
    /// `input`
    #[prost(int64, tag = "1")]
    pub input: i64,
}

/// `MergeOp`: layers inputs on top of each other, bottom first.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MergeOp {
    /// `inputs`
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<MergeInput>,
}

/// `LowerDiffInput`
#[derive(Clone, PartialEq, prost::Message)]
pub struct LowerDiffInput {
    /// `input`
    #[prost(int64, tag = "1")]
    pub input: i64,
}

/// `UpperDiffInput`
#[derive(Clone, PartialEq, prost::Message)]
pub struct UpperDiffInput {
    /// `input`
    #[prost(int64, tag = "1")]
    pub input: i64,
}

/// `DiffOp`: the changes that turn `lower` into `upper`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DiffOp {
    /// `lower`
    #[prost(message, optional, tag = "1")]
    pub lower: Option<LowerDiffInput>,
    /// `upper`
    #[prost(message, optional, tag = "2")]
    pub upper: Option<UpperDiffInput>,
}

/// `WorkerConstraints`
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkerConstraints {
    /// `filter`
    #[prost(string, repeated, tag = "1")]
    pub filter: Vec<String>,
}

/// Per-op metadata; not part of the op digest.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpMetadata {
    /// `ignore_cache`
    #[prost(bool, tag = "1")]
    pub ignore_cache: bool,
    /// `description` (e.g. `llb.customname`)
    #[prost(btree_map = "string, string", tag = "2")]
    pub description: BTreeMap<String, String>,
    /// `export_cache`
    #[prost(message, optional, tag = "4")]
    pub export_cache: Option<ExportCache>,
    /// `caps`: LLB cap IDs this op needs; validated by the daemon.
    #[prost(btree_map = "string, bool", tag = "5")]
    pub caps: BTreeMap<String, bool>,
    /// `progress_group`
    #[prost(message, optional, tag = "6")]
    pub progress_group: Option<ProgressGroup>,
}

/// `ExportCache`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportCache {
    /// `Value`
    #[prost(bool, tag = "1")]
    pub value: bool,
}

/// `ProgressGroup`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProgressGroup {
    /// `id`
    #[prost(string, tag = "1")]
    pub id: String,
    /// `name`
    #[prost(string, tag = "2")]
    pub name: String,
    /// `weak`
    #[prost(bool, tag = "3")]
    pub weak: bool,
}

/// Source maps of a [`Definition`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct Source {
    /// `locations`: keyed by op digest.
    #[prost(btree_map = "string, message", tag = "1")]
    pub locations: BTreeMap<String, Locations>,
    /// `infos`: the source files, referenced by index.
    #[prost(message, repeated, tag = "2")]
    pub infos: Vec<SourceInfo>,
}

/// `Locations`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Locations {
    /// `locations`
    #[prost(message, repeated, tag = "1")]
    pub locations: Vec<Location>,
}

/// `Location`: ranges in one source file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    /// `sourceIndex`: index into `Source.infos`.
    #[prost(int32, tag = "1")]
    pub source_index: i32,
    /// `ranges`
    #[prost(message, repeated, tag = "2")]
    pub ranges: Vec<Range>,
}

/// `SourceInfo`: one source file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SourceInfo {
    /// `filename`
    #[prost(string, tag = "1")]
    pub filename: String,
    /// `data`
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
    /// `definition`: the LLB that loaded the file.
    #[prost(message, optional, tag = "3")]
    pub definition: Option<Definition>,
    /// `language`
    #[prost(string, tag = "4")]
    pub language: String,
}

/// `Range`
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Range {
    /// `start`
    #[prost(message, optional, tag = "1")]
    pub start: Option<Position>,
    /// `end`
    #[prost(message, optional, tag = "2")]
    pub end: Option<Position>,
}

/// `Position` (1-based line and character).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Position {
    /// `line`
    #[prost(int32, tag = "1")]
    pub line: i32,
    /// `character`
    #[prost(int32, tag = "2")]
    pub character: i32,
}
