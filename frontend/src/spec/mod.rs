//! The spec: what a user writes in `decant.yaml`, as plain data with source spans.
//!
//! This layer only knows the file's shape. Names are not resolved, values are not validated
//! beyond their YAML type: that is the job of [`crate::plan`]. Every value keeps the [`Span`] it
//! came from, so later phases (and BuildKit, through source maps) can point back at it.

mod decode;
mod depth;
pub mod directives;
mod load;
mod scalar;
mod schema;
mod text;

use std::sync::Arc;

pub use decode::{parse_spec, parse_spec_partial};
pub use depth::MAX_NESTING;
pub use scalar::value_range;
pub use schema::json_schema;
pub use text::{decode_text, nul_in_value};

use crate::diag::{SourceFile, Span};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

impl Sp<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// A whole `decant.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub file: Arc<SourceFile>,
    /// The `# syntax=` directive at the top (see [`directives`]), if present.
    pub syntax: Option<Sp<String>>,
    /// Build arguments, in document order.
    pub args: Vec<ArgDecl>,
    /// Stages, in document order. The last one is the default target.
    pub stages: Vec<Stage>,
}

/// `args: { NAME: default }` or `args: { NAME: { default: ..., description: ... } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: Sp<String>,
    pub default: Option<Sp<String>>,
    pub description: Option<Sp<String>>,
    /// `env: true`: every `run` gets the arg in its environment, mentioned or not.
    pub env: Option<Sp<bool>>,
}

/// `KEY: value` in `env:` and `labels:` maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Sp<String>,
    pub value: Sp<String>,
}

/// A command: a string runs through the shell, a list runs as is (exec form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Shell(Sp<String>),
    Exec(Vec<Sp<String>>, Span),
}

impl Command {
    pub fn span(&self) -> Span {
        match self {
            Command::Shell(s) => s.span,
            Command::Exec(_, span) => *span,
        }
    }
}

/// One stage: a base, ordered steps, and the config of the image it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub name: Sp<String>,
    pub from: Option<Sp<String>>,
    pub platform: Option<Sp<String>>,
    pub description: Option<Sp<String>>,
    /// Values of top-level args for this stage (`--build-arg` still wins).
    pub args: Vec<KeyValue>,
    pub workdir: Option<Sp<String>>,
    pub env: Vec<KeyValue>,
    pub user: Option<Sp<String>>,
    pub shell: Option<Vec<Sp<String>>>,
    pub steps: Vec<Step>,
    pub cmd: Option<Command>,
    pub entrypoint: Option<Command>,
    pub expose: Vec<Sp<String>>,
    pub healthcheck: Option<Healthcheck>,
    pub labels: Vec<KeyValue>,
    pub volumes: Vec<Sp<String>>,
    pub stop_signal: Option<Sp<String>>,
}

impl Stage {
    /// Every `from:` the stage writes, as written: its own, then those of its copies and
    /// mounts, in step order.
    pub fn froms(&self) -> impl Iterator<Item = &Sp<String>> {
        let steps = self.steps.iter().flat_map(|step| {
            let (copy, mounts): (Option<&Sp<String>>, &[Mount]) = match &step.kind {
                StepKind::Copy(c) => (c.from.as_ref(), &[]),
                StepKind::Run(r) => (None, &r.mounts),
                _ => (None, &[]),
            };
            let mounts = mounts.iter().flat_map(|m| m.options.iter().filter(|o| o.key.value == "from"));
            copy.into_iter().chain(mounts.map(|o| &o.value))
        });
        self.from.iter().chain(steps)
    }
}

/// `healthcheck:`; `cmd: none` disables a check inherited from the base image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    pub span: Span,
    pub cmd: Option<Command>,
    pub interval: Option<Sp<String>>,
    pub timeout: Option<Sp<String>>,
    pub start_period: Option<Sp<String>>,
    pub start_interval: Option<Sp<String>>,
    pub retries: Option<Sp<String>>,
}

/// One step of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The whole step (its kind key through its last option).
    pub span: Span,
    /// The span of the kind key (`run`, `copy`, ...).
    pub key_span: Span,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    Run(Run),
    Copy(Copy),
    Env(Vec<KeyValue>),
    Workdir(Sp<String>),
    User(Sp<String>),
    File(File),
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Run(_) => "run",
            StepKind::Copy(_) => "copy",
            StepKind::Env(_) => "env",
            StepKind::Workdir(_) => "workdir",
            StepKind::User(_) => "user",
            StepKind::File(_) => "file",
        }
    }
}

/// `- file: <path>` with `content:`: a file written from the spec (like `COPY <<EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: Sp<String>,
    pub content: Option<Sp<String>>,
    pub chmod: Option<Sp<String>>,
    pub chown: Option<Sp<String>>,
}

/// `- run: <command>` and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    pub env: Vec<KeyValue>,
    pub workdir: Option<Sp<String>>,
    pub user: Option<Sp<String>>,
    pub network: Option<Sp<String>>,
    pub security: Option<Sp<String>>,
    pub mounts: Vec<Mount>,
}

/// A mount for one `run` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub span: Span,
    /// `cache`, `secret`, `ssh`, `tmpfs` or `bind`: the one kind key of the mount.
    pub kind: Sp<String>,
    /// The kind key's value: the target path (cache, tmpfs, bind) or the id (secret, ssh).
    pub value: Sp<String>,
    /// Other options, by name, in document order.
    pub options: Vec<KeyValue>,
}

/// `- copy: <sources>` and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub sources: Vec<Sp<String>>,
    /// The sources were written as a list (not one string).
    pub sources_list: bool,
    pub from: Option<Sp<String>>,
    pub to: Option<Sp<String>>,
    pub chown: Option<Sp<String>>,
    pub chmod: Option<Sp<String>>,
    pub exclude: Vec<Sp<String>>,
    pub follow_symlinks: Option<Sp<bool>>,
    /// Copy into an independent layer (a merge op where BuildKit has one).
    pub link: Option<Sp<bool>>,
    /// Keep each source's path below the destination (like `COPY --parents`).
    pub parents: Option<Sp<bool>>,
    /// Unpack local tar archives into the destination (like `ADD archive.tar.gz /`).
    pub unpack: Option<Sp<bool>>,
    /// `checksum: sha256:...` of the one URL source.
    pub checksum: Option<Sp<String>>,
    /// Keep the `.git` directory of a git `from:`.
    pub keep_git_dir: Option<Sp<bool>>,
}
