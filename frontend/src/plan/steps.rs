//! Resolving steps: the dispatch by kind, and where `copy` and mounts read from. `run` (with
//! its mounts) and `copy` have modules of their own; `env`, `workdir` and `user` are simple.

use super::{Resolver, Source, StepKind};
use crate::diag::Diagnostic;
use crate::remote;
use crate::spec::{self, Sp};

impl Resolver {
    pub(crate) fn step(&mut self, step: &spec::Step, names: &[&str], this: &str) -> Option<StepKind> {
        match &step.kind {
            spec::StepKind::Run(run) => self.run(run, names, this).map(StepKind::Run),
            spec::StepKind::Copy(copy) => self.copy(copy, names, this).map(StepKind::Copy),
            spec::StepKind::Env(kvs) => {
                if kvs.is_empty() {
                    self.error(step.key_span, "`env` sets no variables");
                }
                Some(StepKind::Env { vars: self.env_vars(kvs) })
            }
            spec::StepKind::Workdir(w) => {
                let path = self.word(w)?;
                if path.as_literal_str().is_some_and(str::is_empty) {
                    self.error(w.span, "`workdir` cannot be empty");
                }
                Some(StepKind::Workdir { path })
            }
            spec::StepKind::File(f) => {
                let path = self.word(&f.path)?;
                if path.as_literal_str().is_some_and(|p| p.is_empty() || p.ends_with('/')) {
                    self.error(f.path.span, "`file` needs a file path (not empty, no trailing `/`)");
                }
                // None: the file is 0644 and new parent directories keep their default mode.
                let mode = f.chmod.as_ref().and_then(|m| self.parsed(m, super::values::parse_chmod));
                let chown = f.chown.as_ref().and_then(|o| self.word(o));
                let content = f.content.as_ref().map(|c| c.value.clone()).unwrap_or_default();
                let expanded = match (&f.content, f.expand.as_ref().is_some_and(|e| e.value)) {
                    (Some(c), true) => Some(self.word(c)?),
                    _ => None,
                };
                Some(StepKind::File { path, content, expanded, mode, chown })
            }
            spec::StepKind::User(u) => {
                let user = self.word(u)?;
                if user.as_literal_str().is_some_and(str::is_empty) {
                    self.error(u.span, "`user` cannot be empty");
                }
                Some(StepKind::User { user })
            }
        }
    }

    /// Resolves the `from:` of a copy or mount: also `context` and git repositories.
    pub(crate) fn resolve_from(&mut self, raw: &Sp<String>, names: &[&str], this: &str) -> Option<Source> {
        if raw.value == "context" {
            return Some(Source::Context);
        }
        let value = self.text(raw)?;
        if remote::is_git(&value) {
            return match remote::GitSource::parse(&value) {
                Ok(g) => Some(Source::Git(Box::new(g))),
                Err(msg) => {
                    self.error(raw.span, format!("invalid git URL `{value}`: {msg}"));
                    None
                }
            };
        }
        if remote::is_url(&value) {
            let d = Diagnostic::error(raw.span, format!("`{value}` is not a git repository URL"))
                .label("an http(s) `from:` must end in `.git`")
                .help("to download a file, list its URL as a copy source: `copy: https://...`");
            self.diags.push(d);
            return None;
        }
        self.source_value(value, raw, names, this)
    }
}
