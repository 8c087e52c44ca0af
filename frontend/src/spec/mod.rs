//! The spec: what a user writes in `decant.yaml`, as plain data with source spans.
//!
//! This layer only knows the file's shape. Names are not resolved, values are not validated
//! beyond their YAML type: that is the job of [`crate::plan`]. Every value keeps the [`Span`] it
//! came from, so later phases (and BuildKit, through source maps) can point back at it.

mod decode;
mod depth;
pub mod directives;
mod load;
mod names;
mod scalar;
mod schema;
mod text;
pub(crate) mod tree;

use std::sync::Arc;

pub use decode::{parse_spec, parse_spec_partial};
pub use depth::MAX_NESTING;
pub use names::{BUILTIN_ARGS, SBOM_SCAN_CONTEXT, SBOM_SCAN_STAGE};
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
    /// Docker `ONBUILD` triggers the image carries, as written (Dockerfile instructions).
    pub onbuild: Vec<Sp<String>>,
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
            let mounts = mounts.iter().filter_map(|m| match &m.kind {
                MountKind::Cache(c) => c.from.as_ref(),
                MountKind::Bind(b) => b.from.as_ref(),
                _ => None,
            });
            copy.into_iter().chain(mounts)
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
    /// `expand: true`: `$` references in the content expand, as in other values.
    pub expand: Option<Sp<bool>>,
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
    pub kind: MountKind,
}

/// A mount by its kind key. Option values are text here (as YAML gave them); `plan` reads them.
/// The fields are in the order of the keys in the description (`schema.rs`), the decoder fills
/// them in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    Cache(CacheMount),
    Secret(SecretMount),
    Ssh(SshMount),
    Tmpfs(TmpfsMount),
    Bind(BindMount),
}

/// `- cache: <target>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    pub target: Sp<String>,
    pub id: Option<Sp<String>>,
    pub sharing: Option<Sp<String>>,
    pub from: Option<Sp<String>>,
    pub source: Option<Sp<String>>,
    pub mode: Option<Sp<String>>,
    pub uid: Option<Sp<String>>,
    pub gid: Option<Sp<String>>,
    pub readonly: Option<Sp<String>>,
}

/// `- secret: <id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    pub id: Sp<String>,
    pub target: Option<Sp<String>>,
    pub env: Option<Sp<String>>,
    pub required: Option<Sp<String>>,
    pub mode: Option<Sp<String>>,
    pub uid: Option<Sp<String>>,
    pub gid: Option<Sp<String>>,
}

/// `- ssh: <id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMount {
    pub id: Sp<String>,
    pub target: Option<Sp<String>>,
    pub required: Option<Sp<String>>,
    pub mode: Option<Sp<String>>,
    pub uid: Option<Sp<String>>,
    pub gid: Option<Sp<String>>,
}

/// `- tmpfs: <target>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    pub target: Sp<String>,
    pub size: Option<Sp<String>>,
}

/// `- bind: <target>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub target: Sp<String>,
    pub from: Option<Sp<String>>,
    pub source: Option<Sp<String>>,
    pub readwrite: Option<Sp<String>>,
}

/// The most options a kind of mount has (cache's 8); checked against the description when
/// compiling.
const MOUNT_OPTIONS_MAX: usize = 8;
const _: () = {
    let mut i = 0;
    while i < schema::Mount::KEYS_OF.len() {
        assert!(schema::Mount::KEYS_OF[i].len() <= MOUNT_OPTIONS_MAX + 1, "raise MOUNT_OPTIONS_MAX");
        i += 1;
    }
};

impl MountKind {
    /// Builds a mount of the kind `kind` (one of `shape::Mount::KINDS`) from its kind key's value
    /// and its options, given in the order of its keys (`None` for `kind` not a mount kind).
    fn from_options(
        kind: &str,
        value: Sp<String>,
        options: [Option<Sp<String>>; MOUNT_OPTIONS_MAX],
    ) -> Option<MountKind> {
        let mut o = options.into_iter();
        let mut next = || o.next().flatten();
        Some(match kind {
            "cache" => MountKind::Cache(CacheMount {
                target: value,
                id: next(),
                sharing: next(),
                from: next(),
                source: next(),
                mode: next(),
                uid: next(),
                gid: next(),
                readonly: next(),
            }),
            "secret" => MountKind::Secret(SecretMount {
                id: value,
                target: next(),
                env: next(),
                required: next(),
                mode: next(),
                uid: next(),
                gid: next(),
            }),
            "ssh" => MountKind::Ssh(SshMount {
                id: value,
                target: next(),
                required: next(),
                mode: next(),
                uid: next(),
                gid: next(),
            }),
            "tmpfs" => MountKind::Tmpfs(TmpfsMount { target: value, size: next() }),
            "bind" => MountKind::Bind(BindMount { target: value, from: next(), source: next(), readwrite: next() }),
            _ => return None,
        })
    }

    /// The options written, by name, in document order (for `decant eject`).
    pub fn options(&self) -> Vec<(&'static str, &Sp<String>)> {
        // The keys of the kind and its options in their order (as `from_options` takes them).
        let (keys, values): (&[&str], Vec<Option<&Sp<String>>>) = match self {
            MountKind::Cache(m) => (
                schema::CacheMount::KEYS,
                vec![
                    m.id.as_ref(),
                    m.sharing.as_ref(),
                    m.from.as_ref(),
                    m.source.as_ref(),
                    m.mode.as_ref(),
                    m.uid.as_ref(),
                    m.gid.as_ref(),
                    m.readonly.as_ref(),
                ],
            ),
            MountKind::Secret(m) => (
                schema::SecretMount::KEYS,
                vec![
                    m.target.as_ref(),
                    m.env.as_ref(),
                    m.required.as_ref(),
                    m.mode.as_ref(),
                    m.uid.as_ref(),
                    m.gid.as_ref(),
                ],
            ),
            MountKind::Ssh(m) => (
                schema::SshMount::KEYS,
                vec![m.target.as_ref(), m.required.as_ref(), m.mode.as_ref(), m.uid.as_ref(), m.gid.as_ref()],
            ),
            MountKind::Tmpfs(m) => (schema::TmpfsMount::KEYS, vec![m.size.as_ref()]),
            MountKind::Bind(m) => {
                (schema::BindMount::KEYS, vec![m.from.as_ref(), m.source.as_ref(), m.readwrite.as_ref()])
            }
        };
        let mut written: Vec<(&'static str, &Sp<String>)> =
            keys[1..].iter().zip(values).filter_map(|(k, v)| Some((*k, v?))).collect();
        written.sort_by_key(|(_, v)| v.span.start);
        written
    }

    /// `cache`, `secret`, `ssh`, `tmpfs` or `bind`.
    pub fn name(&self) -> &'static str {
        match self {
            MountKind::Cache(_) => schema::CacheMount::KEYS[0],
            MountKind::Secret(_) => schema::SecretMount::KEYS[0],
            MountKind::Ssh(_) => schema::SshMount::KEYS[0],
            MountKind::Tmpfs(_) => schema::TmpfsMount::KEYS[0],
            MountKind::Bind(_) => schema::BindMount::KEYS[0],
        }
    }

    /// The kind key's value: the target path (cache, tmpfs, bind) or the id (secret, ssh).
    pub fn value(&self) -> &Sp<String> {
        match self {
            MountKind::Cache(CacheMount { target, .. })
            | MountKind::Tmpfs(TmpfsMount { target, .. })
            | MountKind::Bind(BindMount { target, .. }) => target,
            MountKind::Secret(SecretMount { id, .. }) | MountKind::Ssh(SshMount { id, .. }) => id,
        }
    }
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
    /// `checksum: sha256:...` of the one URL source, or the commit of a git `from:`.
    pub checksum: Option<Sp<String>>,
    /// Keep the `.git` directory of a git `from:`.
    pub keep_git_dir: Option<Sp<bool>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mounts of the one `run` step of `mounts` (a YAML list).
    fn mounts(mounts: &str) -> Vec<Mount> {
        let text = format!("stages:\n  a:\n    from: scratch\n    steps:\n      - run: x\n        mounts: {mounts}\n");
        let spec = parse_spec("decant.yaml", &text).unwrap_or_else(|d| panic!("{}", d.render()));
        match &spec.stages[0].steps[0].kind {
            StepKind::Run(run) => run.mounts.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// Every option, written as `name: name` in reverse key order, lands in the field of its
    /// name, and `options()` gives them back by name in document order.
    #[test]
    fn mount_options_land_in_their_fields() {
        let v = |o: &Option<Sp<String>>| o.as_ref().map(|s| s.value.clone()).unwrap_or_default();
        let kinds = [
            schema::CacheMount::KEYS,
            schema::SecretMount::KEYS,
            schema::SshMount::KEYS,
            schema::TmpfsMount::KEYS,
            schema::BindMount::KEYS,
        ];
        for keys in kinds {
            let options: Vec<String> = keys[1..].iter().rev().map(|k| format!("{k}: {k}")).collect();
            let m = mounts(&format!("[{{ {}: kind, {} }}]", keys[0], options.join(", "))).remove(0);
            assert_eq!((m.kind.name(), m.kind.value().value.as_str()), (keys[0], "kind"));
            let got: Vec<(&str, &str)> = m.kind.options().into_iter().map(|(k, s)| (k, s.value.as_str())).collect();
            let want: Vec<(&str, &str)> = keys[1..].iter().rev().map(|k| (*k, *k)).collect();
            assert_eq!(got, want);
            let fields: Vec<String> = match &m.kind {
                MountKind::Cache(c) => {
                    [&c.id, &c.sharing, &c.from, &c.source, &c.mode, &c.uid, &c.gid, &c.readonly].map(v).to_vec()
                }
                MountKind::Secret(s) => [&s.target, &s.env, &s.required, &s.mode, &s.uid, &s.gid].map(v).to_vec(),
                MountKind::Ssh(s) => [&s.target, &s.required, &s.mode, &s.uid, &s.gid].map(v).to_vec(),
                MountKind::Tmpfs(t) => [&t.size].map(v).to_vec(),
                MountKind::Bind(b) => [&b.from, &b.source, &b.readwrite].map(v).to_vec(),
            };
            // The field names, written out: the fields hold the options of these names.
            let named: Vec<&str> = match &m.kind {
                MountKind::Cache(_) => vec!["id", "sharing", "from", "source", "mode", "uid", "gid", "readonly"],
                MountKind::Secret(_) => vec!["target", "env", "required", "mode", "uid", "gid"],
                MountKind::Ssh(_) => vec!["target", "required", "mode", "uid", "gid"],
                MountKind::Tmpfs(_) => vec!["size"],
                MountKind::Bind(_) => vec!["from", "source", "readwrite"],
            };
            assert_eq!(fields, named, "{}", keys[0]);
        }
    }
}
