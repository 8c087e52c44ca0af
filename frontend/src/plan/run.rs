//! Resolving `run` steps and their mounts.

use serde::Serialize;

use super::Source;
use super::{values, CommandLine, Resolver, Word};
use crate::diag::{Diagnostic, Span};
use crate::spec::{self, Sp};

/// A `run` step.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub command: CommandLine,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "super::key_values")]
    pub env: Vec<(String, Word)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(skip_serializing_if = "is_sandbox")]
    pub security: Security,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
}

fn is_sandbox(s: &Security) -> bool {
    *s == Security::Sandbox
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    Sandbox,
    Insecure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

/// A mount of a `run` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mount {
    Cache {
        target: String,
        id: String,
        sharing: Sharing,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<Source>,
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        readonly: bool,
    },
    Secret {
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        env: Option<String>,
        required: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
    },
    Ssh {
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        required: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
    },
    Tmpfs {
        target: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    Bind {
        target: String,
        from: Source,
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        readwrite: bool,
    },
}

impl Mount {
    /// The stage or image a mount reads, if any.
    pub fn from(&self) -> Option<&Source> {
        match self {
            Mount::Cache { from, .. } => from.as_ref(),
            Mount::Bind { from, .. } => Some(from),
            _ => None,
        }
    }
}

impl Resolver {
    pub(crate) fn run(&mut self, run: &spec::Run, names: &[&str], this: &str) -> Option<Run> {
        let command = match &run.command {
            spec::Command::Shell(s) if s.value.trim().is_empty() => {
                self.diags.push(Diagnostic::error(s.span, "`run` has an empty command").label("nothing to run"));
                return None;
            }
            spec::Command::Exec(args, span) if args.is_empty() => {
                self.error(*span, "`run` has an empty command list");
                return None;
            }
            spec::Command::Shell(s) => CommandLine::Shell(s.value.clone()),
            spec::Command::Exec(args, _) => CommandLine::Exec(args.iter().map(|a| a.value.clone()).collect()),
        };
        let network = run.network.as_ref().and_then(|n| {
            self.parsed(n, |v| match v {
                "default" | "sandbox" => Ok(Network::Default),
                "none" => Ok(Network::None),
                "host" => Ok(Network::Host),
                other => Err(format!("`{other}` is not a network mode (default, none or host)")),
            })
        });
        let security = run
            .security
            .as_ref()
            .and_then(|s| {
                self.parsed(s, |v| match v {
                    "sandbox" => Ok(Security::Sandbox),
                    "insecure" => Ok(Security::Insecure),
                    other => Err(format!("`{other}` is not a security mode (sandbox or insecure)")),
                })
            })
            .unwrap_or(Security::Sandbox);
        let mut mounts = Vec::new();
        // Where each mount lands (without trailing slashes): two mounts cannot share a place.
        let mut places = std::collections::BTreeSet::new();
        let mut ssh = 0;
        for m in &run.mounts {
            let Some(resolved) = self.mount(m, names, this) else { continue };
            let place = match &resolved {
                Mount::Cache { target, .. } | Mount::Tmpfs { target, .. } | Mount::Bind { target, .. } => {
                    Some(target.clone())
                }
                Mount::Secret { target, .. } => target.clone(),
                Mount::Ssh { target, .. } => {
                    ssh += 1;
                    Some(target.clone().unwrap_or_else(|| ssh_default_target(ssh - 1)))
                }
            };
            if let Some(place) = place {
                if !places.insert(place.trim_end_matches('/').to_string()) {
                    let span = match &m.kind {
                        spec::MountKind::Secret(spec::SecretMount { target: Some(t), .. })
                        | spec::MountKind::Ssh(spec::SshMount { target: Some(t), .. }) => t.span,
                        kind => kind.value().span,
                    };
                    self.error(span, format!("another mount of this step is at `{place}` already"));
                }
            }
            mounts.push(resolved);
        }
        Some(Run {
            command,
            env: self.env_vars(&run.env),
            workdir: run.workdir.as_ref().and_then(|w| self.word(w)),
            user: run.user.as_ref().and_then(|u| self.word(u)),
            network,
            security,
            mounts,
        })
    }

    fn mount(&mut self, m: &spec::Mount, names: &[&str], this: &str) -> Option<Mount> {
        let raw = m.kind.value();
        let value = self.text(raw)?;
        let num = |r: &mut Self, v: &Option<Sp<String>>| v.as_ref().and_then(|v| r.parsed(v, values::parse_count));
        let mode = |r: &mut Self, v: &Option<Sp<String>>| v.as_ref().and_then(|v| r.parsed(v, values::parse_mode));
        let flag =
            |r: &mut Self, v: &Option<Sp<String>>| v.as_ref().and_then(|v| r.parsed(v, parse_bool)).unwrap_or(false);
        let text = |r: &mut Self, v: &Option<Sp<String>>| v.as_ref().and_then(|v| r.text(v));
        // Relative targets resolve against the workdir at build time; `/` itself cannot be
        // mounted over.
        let root = |r: &mut Self, path: &str, span: Span| {
            // `/`, `//`, `/a/..`: what is left after folding `.` and `..` is the root.
            let depth = path.split('/').fold(0usize, |d, c| match c {
                "" | "." => d,
                ".." => d.saturating_sub(1),
                _ => d + 1,
            });
            if path.starts_with('/') && depth == 0 {
                r.error(span, "a mount cannot replace `/`: mount it somewhere below");
            }
        };
        let target_opt = |r: &mut Self, raw: &Option<Sp<String>>| {
            let raw = raw.as_ref()?;
            let target = r.text(raw)?;
            root(r, &target, raw.span);
            Some(target)
        };
        if matches!(m.kind, spec::MountKind::Cache(_) | spec::MountKind::Tmpfs(_) | spec::MountKind::Bind(_)) {
            root(self, &value, raw.span);
        }
        Some(match &m.kind {
            spec::MountKind::Cache(c) => {
                let sharing = match &c.sharing {
                    Some(s) => self.parsed(s, |v| match v {
                        "shared" => Ok(Sharing::Shared),
                        "private" => Ok(Sharing::Private),
                        "locked" => Ok(Sharing::Locked),
                        other => Err(format!("`{other}` is not a cache sharing mode (shared, private or locked)")),
                    })?,
                    None => Sharing::Shared,
                };
                let from = match &c.from {
                    Some(f) => Some(self.resolve_from(f, names, this)?),
                    None => None,
                };
                Mount::Cache {
                    // Dockerfile's default: the target as written, cleaned (Go's `path.Clean`).
                    id: text(self, &c.id).unwrap_or_else(|| crate::dockerignore::clean(&value)),
                    target: value,
                    sharing,
                    from,
                    source: text(self, &c.source),
                    mode: mode(self, &c.mode),
                    uid: num(self, &c.uid),
                    gid: num(self, &c.gid),
                    readonly: flag(self, &c.readonly),
                }
            }
            spec::MountKind::Secret(s) => {
                let target = target_opt(self, &s.target);
                let env = s.env.as_ref().and_then(|v| {
                    let name = self.text(v)?;
                    if name.is_empty() {
                        self.error(v.span, "`env` needs the name of the variable to put the secret in");
                    } else if name.contains(['=', ' ']) {
                        self.error(v.span, format!("`{name}` is not a valid environment variable name"));
                    }
                    Some(name)
                });
                Mount::Secret {
                    target: if target.is_none() && env.is_none() {
                        Some(format!("/run/secrets/{value}"))
                    } else {
                        target
                    },
                    env,
                    id: value,
                    required: flag(self, &s.required),
                    mode: mode(self, &s.mode),
                    uid: num(self, &s.uid),
                    gid: num(self, &s.gid),
                }
            }
            spec::MountKind::Ssh(s) => Mount::Ssh {
                target: target_opt(self, &s.target),
                id: value,
                required: flag(self, &s.required),
                mode: mode(self, &s.mode),
                uid: num(self, &s.uid),
                gid: num(self, &s.gid),
            },
            spec::MountKind::Tmpfs(t) => {
                Mount::Tmpfs { target: value, size: t.size.as_ref().and_then(|v| self.parsed(v, parse_size)) }
            }
            spec::MountKind::Bind(b) => {
                let from = match &b.from {
                    Some(f) => self.resolve_from(f, names, this)?,
                    None => Source::Context,
                };
                Mount::Bind { target: value, from, source: text(self, &b.source), readwrite: flag(self, &b.readwrite) }
            }
        })
    }
}

/// Where an SSH mount without `target` goes: the `n`th SSH mount of a step, from 0.
pub fn ssh_default_target(n: usize) -> String {
    format!("/run/buildkit/ssh_agent.{n}")
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "True" | "TRUE" | "yes" => Ok(true),
        "false" | "False" | "FALSE" | "no" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    }
}

/// A size such as `64m`, `1g`, `4096`, in bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let lower = s.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (num, scale) = match trimmed.char_indices().last() {
        Some((i, 'k')) => (&trimmed[..i], 1u64 << 10),
        Some((i, 'm')) => (&trimmed[..i], 1 << 20),
        Some((i, 'g')) => (&trimmed[..i], 1 << 30),
        _ => (trimmed, 1),
    };
    // BuildKit keeps sizes in a signed 64-bit number.
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| i64::try_from(n).is_ok())
        .ok_or_else(|| format!("`{s}` is not a size (e.g. 64m, 1g)"))
}
