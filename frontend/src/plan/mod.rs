//! The plan: a validated, resolved stage graph for one build.
//!
//! [`resolve`] takes a [`Spec`] and the build's options (target, args, platforms) and checks
//! everything that can be checked without a daemon: names, references, cycles, value syntax,
//! arg substitution. It collects *all* errors. The result is plain data: printable as JSON
//! (`decant plan`) and the only input of [`crate::lower`].

mod args;
mod copy;
pub mod onbuild;
pub mod pattern;
mod reads;
mod run;
mod sources;
mod steps;
pub mod values;
pub mod word;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

pub use crate::reference::ImageRef;
pub use crate::remote::GitSource;
pub(crate) use args::value_span;
pub use args::{mentions_var, scan_enabled_for, Args, BUILTIN_ARGS, SBOM_SCAN_CONTEXT, SBOM_SCAN_STAGE};
pub use copy::Copy;
pub use reads::{LocalPaths, LocalReads};
pub use run::{ssh_default_target, Mount, Network, Run, Security, Sharing};
pub use sources::{Reader, Source};
pub use values::Platform;
pub use word::Word;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics, SourceFile, Span};
use crate::spec::{self, Sp, Spec};

/// What a build asks for besides the spec.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The stage to build; the last stage when `None`.
    pub target: Option<String>,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// The platform the build runs on (the daemon's).
    pub build_platform: Platform,
    /// The platform of the image; the build platform when `None`.
    pub target_platform: Option<Platform>,
    /// Keep every stage, not only those the target needs (for pictures of the whole spec).
    pub all_stages: bool,
    /// Names of the named contexts the build was given (`context:<name>` options). A `from:`
    /// that names one (a stage name, or an image by its short or full name) reads that
    /// context instead.
    pub named_contexts: BTreeSet<String>,
}

/// A resolved build: the target and every stage it needs, dependencies first.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    #[serde(skip)]
    pub file: Arc<SourceFile>,
    pub target: String,
    pub build_platform: Platform,
    pub target_platform: Platform,
    /// User-declared args and their values for this build.
    pub args: BTreeMap<String, String>,
    /// Args declared with `env: true`: every `run` gets them in its environment.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub env_args: BTreeSet<String>,
    /// Args declared without a default that no `--build-arg` gave: empty in values, and (as a
    /// Dockerfile's `ARG NAME` leaves them) not set in a run's environment unless a stage's
    /// `args:` gives them a value.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub unset_args: BTreeSet<String>,
    /// `SOURCE_DATE_EPOCH` (a build arg): the creation time of the image, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<i64>,
    /// Stages needed by the target, dependencies before dependents, ties in document order.
    pub stages: Vec<Stage>,
}

impl Plan {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// What an SBOM scan of the target adds, as the Dockerfile frontend chooses it: the build
    /// context when the target asks for it, and every other planned stage that asks to be
    /// scanned.
    pub fn sbom_targets(&self) -> SbomTargets {
        SbomTargets {
            context: self.stage(&self.target).is_some_and(|t| t.sbom_scan.context),
            stages: self
                .stages
                .iter()
                .filter(|s| s.name != self.target && s.sbom_scan.stage)
                .map(|s| s.name.clone())
                .collect(),
        }
    }

    /// Every arg a `run` can see, built-ins included, sorted by name.
    pub fn all_args(&self) -> BTreeMap<String, String> {
        let builtin = Args::builtin(&self.build_platform, &self.target_platform);
        let mut out: BTreeMap<String, String> =
            builtin.names().map(|n| (n.to_string(), builtin.get(n).unwrap_or_default().to_string())).collect();
        out.extend(self.args.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

/// One stage of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    /// Position of the stage in the spec, from 1.
    pub number: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the stage starts: an image, `scratch`, a stage or a named context (never the
    /// build context or a git repository).
    pub base: Source,
    pub platform: Platform,
    /// Args with another value in this stage (its `args:`, unless `--build-arg` gave one).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// Stage-level `env:` and `workdir:` come first, as steps (in that order).
    pub steps: Vec<Step>,
    pub config: RuntimeConfig,
    /// Stages this one reads from (its base, copy and mount sources), sorted.
    pub depends_on: Vec<String>,
    #[serde(skip)]
    pub span: Span,
    /// The `from:` value (the stage name where it has none): where the base image's ops point.
    #[serde(skip)]
    pub from_span: Span,
    /// The shell for shell-form commands (`shell:`), or the base image's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// What an SBOM of a build of this stage scans besides it (`BUILDKIT_SBOM_SCAN_*`).
    #[serde(skip_serializing_if = "SbomScan::is_off")]
    pub sbom_scan: SbomScan,
}

/// A stage's `BUILDKIT_SBOM_SCAN_CONTEXT` and `BUILDKIT_SBOM_SCAN_STAGE`, each from
/// `--build-arg`, else the stage's `args:`, else the top-level arg's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SbomScan {
    /// Scan the build context when this stage is the target.
    pub context: bool,
    /// Scan this stage when the target needs it (and it is not the target).
    pub stage: bool,
}

impl SbomScan {
    fn is_off(&self) -> bool {
        !self.context && !self.stage
    }
}

/// What an SBOM scan of the target gets besides the target's filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SbomTargets {
    /// The build context (extra `context`).
    pub context: bool,
    /// Other stages of the plan, by name, in plan order.
    pub stages: Vec<String>,
}

/// A command line: through the shell or exec form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandLine {
    Shell(String),
    Exec(Vec<String>),
}

/// A step with its place in the spec.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub kind: StepKind,
    /// Line of the step in the spec file.
    pub line: u32,
    #[serde(skip)]
    pub span: Span,
    /// One of the `ONBUILD` triggers of the stage's base (an image's, a named context's or a
    /// base stage's `onbuild`; see [`onbuild`]), not a step of the spec.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trigger: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepKind {
    Run(Run),
    Copy(Copy),
    Env {
        #[serde(serialize_with = "key_values")]
        vars: Vec<(String, Word)>,
    },
    Workdir {
        path: Word,
    },
    User {
        user: Word,
    },
    /// A file written from the spec (`file:` with `content:`).
    File {
        path: Word,
        /// The content as written.
        content: String,
        /// With `expand: true`, the content as a value, expanded when the step is lowered.
        #[serde(skip_serializing_if = "Option::is_none")]
        expanded: Option<Word>,
        /// `chmod:`; without it the file is 0644.
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<values::Mode>,
        #[serde(skip_serializing_if = "Option::is_none")]
        chown: Option<Word>,
    },
}

/// The image config a stage sets for whoever runs it (no effect on its build steps).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuntimeConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<CommandLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<CommandLine>,
    /// Ports as `80/tcp`; one with a reference to the environment is checked when it expands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, Word>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<Word>,
    /// Docker `ONBUILD` triggers, as written: the image stores them unexpanded, as the
    /// Dockerfile frontend does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub onbuild: Vec<String>,
}

/// A healthcheck with durations in nanoseconds, as the image config stores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// `None` disables the base image's check (`cmd: none`).
    pub cmd: Option<CommandLine>,
    pub interval: Option<u64>,
    pub timeout: Option<u64>,
    pub start_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<u64>,
    pub retries: Option<u32>,
}

/// Resolves `spec` for one build; all errors at once.
pub fn resolve(spec: &Spec, opts: &BuildOptions) -> Result<Plan, Diagnostics> {
    let mut r = Resolver {
        file: spec.file.clone(),
        diags: Vec::new(),
        args: Args::default(),
        build_args: opts.build_args.keys().cloned().collect(),
        scan_build_args: [SBOM_SCAN_CONTEXT, SBOM_SCAN_STAGE]
            .into_iter()
            .filter_map(|n| Some((n.to_string(), opts.build_args.get(n)?.clone())))
            .collect(),
        named: opts.named_contexts.clone(),
        order: spec.stages.iter().map(|s| s.name.value.clone()).collect(),
    };
    let plan = r.plan(spec, opts);
    match plan {
        Some(plan) if r.diags.is_empty() => onbuild::run_stage_triggers(plan, opts),
        _ => Err(Diagnostics::new(spec.file.clone(), r.diags)),
    }
}

/// The names a stage may not take: they mean something else in `from:`.
const RESERVED: &[&str] = &["scratch", "context"];

pub(crate) struct Resolver {
    pub(crate) file: Arc<SourceFile>,
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) args: Args,
    /// The names given with `--build-arg`: they win over a stage's `args:`.
    pub(crate) build_args: BTreeSet<String>,
    /// `--build-arg` values of the SBOM scan args (which need no declaration).
    pub(crate) scan_build_args: BTreeMap<String, String>,
    pub(crate) named: BTreeSet<String>,
    /// Stage names in document order (for Dockerfile-style stage numbers).
    pub(crate) order: Vec<String>,
}

impl Resolver {
    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, message));
    }

    /// Substitutes args in a value, reporting a bad reference.
    pub(crate) fn text(&mut self, s: &Sp<String>) -> Option<String> {
        match self.args.substitute(&self.file, s) {
            // As the parser reports it (and once, when it did), or else an arg brought it.
            Ok(v) if v.contains('\0') => {
                let d = spec::nul_in_value(&self.file, s.span, &s.value)
                    .unwrap_or_else(|| Diagnostic::error(s.span, "this value contains a NUL character (from an arg)"));
                self.diags.push(d);
                None
            }
            Ok(v) => Some(v),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// Expands the args in a value that may also refer to the stage's environment (expanded at
    /// build time), reporting a bad reference.
    pub(crate) fn word(&mut self, s: &Sp<String>) -> Option<Word> {
        match self.args.word(&self.file, s) {
            Ok(v) => Some(v),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    /// [`Self::word`], checked and normalised by `check` now when it is literal (else when it
    /// expands at build time).
    pub(crate) fn checked_word(
        &mut self,
        s: &Sp<String>,
        check: impl FnOnce(&str) -> Result<String, String>,
    ) -> Option<Word> {
        let w = self.word(s)?;
        let Some(text) = w.as_literal_str() else { return Some(w) };
        match check(text) {
            Ok(v) => Some(Word::literal(v)),
            Err(msg) => {
                self.error(s.span, msg);
                None
            }
        }
    }

    /// Substitutes and parses a value, reporting failures at its span.
    pub(crate) fn parsed<T>(&mut self, s: &Sp<String>, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let text = self.text(s)?;
        match parse(&text) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.error(s.span, msg);
                None
            }
        }
    }

    pub(crate) fn line(&self, span: Span) -> u32 {
        self.file.position(span.start).line
    }

    fn plan(&mut self, spec: &Spec, opts: &BuildOptions) -> Option<Plan> {
        let target_platform = opts.target_platform.clone().unwrap_or_else(|| opts.build_platform.clone());
        self.args = Args::builtin(&opts.build_platform, &target_platform);
        self.declare_args(spec, opts);

        // Sorted, for binary search: specs can have thousands of stages.
        let mut names: Vec<&str> = spec.stages.iter().map(|s| s.name.value.as_str()).collect();
        names.sort_unstable();
        for stage in &spec.stages {
            self.check_stage_name(&stage.name);
        }
        let mut stages: Vec<Stage> = Vec::with_capacity(spec.stages.len());
        for (i, stage) in spec.stages.iter().enumerate() {
            if let Some(s) = self.stage(stage, i + 1, &names, &target_platform) {
                stages.push(s);
            }
        }
        if !self.diags.is_empty() {
            return None;
        }
        let links = Links::of(&stages);
        self.check_cycles(&stages, &links.deps);
        if !self.diags.is_empty() {
            return None;
        }
        inherit_platforms(spec, &mut stages, &links.base);
        let target = match &opts.target {
            // Stage names are lowercase; a target in any case names the same stage, as in Dockerfile.
            Some(t) => match stages.iter().find(|s| s.name.eq_ignore_ascii_case(t)) {
                Some(s) => s.name.clone(),
                None => {
                    let mut d = Diagnostic::error(Span::default(), format!("target stage `{t}` is not in the spec"));
                    d.span = None;
                    let d = d.help(match did_you_mean(t, names.iter().copied()) {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => format!("stages: {}", names.join(", ")),
                    });
                    self.diags.push(d);
                    return None;
                }
            },
            None => stages.last()?.name.clone(),
        };
        let stages = order_needed(stages, &links.deps, &target, opts.all_stages);
        let source_date_epoch = match opts.build_args.get("SOURCE_DATE_EPOCH").map(|v| v.trim()) {
            None | Some("") => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    let mut d = Diagnostic::error(
                        Span::default(),
                        format!("SOURCE_DATE_EPOCH `{v}` is not a number of seconds"),
                    );
                    d.span = None;
                    self.diags.push(d);
                    return None;
                }
            },
        };
        Some(Plan {
            source_date_epoch,
            file: self.file.clone(),
            target,
            build_platform: opts.build_platform.clone(),
            target_platform,
            args: self.args.declared().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            env_args: spec
                .args
                .iter()
                .filter(|a| a.env.as_ref().is_some_and(|e| e.value))
                .map(|a| a.name.value.clone())
                .filter(|n| self.args.get(n).is_some())
                .collect(),
            unset_args: self.args.unset().map(str::to_string).collect(),
            stages,
        })
    }

    fn declare_args(&mut self, spec: &Spec, opts: &BuildOptions) {
        for arg in &spec.args {
            let name = &arg.name.value;
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.starts_with(|c: char| c.is_ascii_digit())
            {
                self.error(arg.name.span, format!("`{name}` is not a valid arg name (letters, digits and _)"));
                continue;
            }
            if BUILTIN_ARGS.contains(&name.as_str()) {
                self.error(arg.name.span, format!("`{name}` is a built-in arg; it cannot be declared"));
                continue;
            }
            let value = match (opts.build_args.get(name), &arg.default) {
                (Some(v), _) => v.clone(),
                // Defaults may refer to args declared before them.
                (None, Some(d)) => self.text(d).unwrap_or_default(),
                (None, None) => String::new(),
            };
            self.args.declare(name, value);
            if arg.default.is_none() && !opts.build_args.contains_key(name) {
                self.args.mark_unset(name);
            }
        }
    }

    fn check_stage_name(&mut self, name: &Sp<String>) {
        let n = name.value.as_str();
        let valid = n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !valid {
            self.diags.push(
                Diagnostic::error(name.span, format!("`{n}` is not a valid stage name"))
                    .help("stage names start with a lowercase letter and contain only a-z, 0-9, -, _ and ."),
            );
        } else if RESERVED.contains(&n) {
            self.error(name.span, format!("`{n}` is reserved and cannot name a stage"));
        }
    }

    /// Resolves a `from:` value: a stage, `scratch`, or an image.
    pub(crate) fn source_ref(&mut self, raw: &Sp<String>, names: &[&str], this: &str) -> Option<Source> {
        let value = self.text(raw)?;
        self.source_value(value, raw, names, this)
    }

    /// The named context a `from:` value selects: the value as written, the image's short
    /// name (`alpine:3.20`, `:latest` dropped) or its full name, in that order.
    fn named_context(&self, value: &str) -> Option<String> {
        if self.named.is_empty() {
            return None;
        }
        let mut keys = vec![value.to_string()];
        if let Ok(r) = ImageRef::parse(value) {
            keys.push(r.familiar());
            keys.push(r.to_string());
        }
        keys.into_iter().find(|k| self.named.contains(k))
    }

    /// [`Self::source_ref`] for a value already substituted.
    pub(crate) fn source_value(
        &mut self,
        value: String,
        raw: &Sp<String>,
        names: &[&str],
        this: &str,
    ) -> Option<Source> {
        if value == "scratch" {
            return Some(Source::Scratch);
        }
        if !value.is_empty()
            && value.chars().all(|c| c.is_ascii_digit())
            && names.binary_search(&value.as_str()).is_err()
        {
            // Dockerfile's `FROM 0` / `COPY --from=0`: stages by number.
            let help = match value.parse::<usize>().ok().and_then(|i| self.order.get(i)) {
                Some(name) => format!("Dockerfile's stage {value} is `{name}` here: write `from: {name}`"),
                None => "write the stage's name".to_string(),
            };
            let d = Diagnostic::error(raw.span, format!("`{value}` is a Dockerfile stage number; decant names stages"))
                .label("not an image or a stage name")
                .help(help);
            self.diags.push(d);
            return None;
        }
        if let Some(name) = self.named_context(&value) {
            return Some(Source::Named { name });
        }
        if names.binary_search(&value.as_str()).is_ok() {
            if value == this {
                self.error(raw.span, format!("stage `{this}` cannot use itself"));
                return None;
            }
            return Some(Source::Stage { name: value });
        }
        // A bare word that is almost a stage name is a typo, not an image.
        let bare = !value.contains([':', '/', '@']);
        if bare {
            if let Some(near) = did_you_mean(&value, names.iter().copied().filter(|n| *n != this)) {
                let d = Diagnostic::error(raw.span, format!("unknown stage `{value}`"))
                    .label("not a stage of this spec")
                    .help(format!("did you mean `{near}`? (to use an image, give it a tag: `{value}:latest`)"));
                self.diags.push(d);
                return None;
            }
        }
        match ImageRef::parse(&value) {
            Ok(reference) => Some(Source::Image { reference }),
            Err(msg) => {
                let mut d = Diagnostic::error(raw.span, format!("invalid image reference `{value}`: {msg}"));
                if raw.value.contains('$') {
                    // `FROM ${BASE}` with `ARG BASE` and no default: the build must give it.
                    let is = if value.is_empty() { "empty".to_string() } else { format!("`{value}`") };
                    d = d.help(format!(
                        "`{}` is {is} with the args as this build sets them: an arg without a default is empty \
                         unless the build gives it (`--build-arg NAME=...`)",
                        raw.value
                    ));
                }
                self.diags.push(d);
                None
            }
        }
    }

    /// A stage, resolved with its own arg values (its `args:`) in place of the build's.
    fn stage(&mut self, s: &spec::Stage, number: usize, names: &[&str], target: &Platform) -> Option<Stage> {
        let mut restore = Vec::new();
        let mut values = BTreeMap::new();
        // The SBOM scan args as this stage sets them without a top-level declaration.
        let mut scan_values = BTreeMap::new();
        for kv in &s.args {
            let name = kv.key.value.as_str();
            if BUILTIN_ARGS.contains(&name) {
                self.error(kv.key.span, format!("`{name}` is a built-in arg; a stage cannot set it"));
                continue;
            }
            let undeclared_scan = [SBOM_SCAN_CONTEXT, SBOM_SCAN_STAGE].contains(&name) && self.args.get(name).is_none();
            if undeclared_scan {
                if let Some(value) = self.text(&kv.value) {
                    scan_values.insert(name, value);
                }
                continue;
            }
            let Some(old) = self.args.get(name).map(str::to_string) else {
                let d = Diagnostic::error(kv.key.span, format!("arg `{name}` is not declared in the top-level `args`"))
                    .label("a stage sets the value of a declared arg")
                    .suggest(name, self.args.declared().map(|(n, _)| n));
                let d = match d.help {
                    Some(_) => d,
                    None => d.help(format!("declare it: `args: {{ {name}: ... }}` at the top of the spec")),
                };
                self.diags.push(d);
                continue;
            };
            // `--build-arg` wins, as over a Dockerfile `ARG NAME=value` in a stage.
            if self.build_args.contains(name) {
                continue;
            }
            // The value may refer to args, this stage's earlier ones included.
            let Some(value) = self.text(&kv.value) else { continue };
            restore.push((name.to_string(), old, self.args.is_unset(name)));
            self.args.set(name, value.clone());
            values.insert(name.to_string(), value);
        }
        let stage = self.stage_with_args(s, number, names, target);
        // `--build-arg` first, then this stage's value, then the top-level one.
        let scan = |name: &str| {
            let value = self.scan_build_args.get(name).map(String::as_str);
            let value = value.or(scan_values.get(name).map(String::as_str)).or(self.args.get(name));
            value.is_some_and(|v| scan_enabled_for(&s.name.value, v))
        };
        let sbom_scan = SbomScan { context: scan(SBOM_SCAN_CONTEXT), stage: scan(SBOM_SCAN_STAGE) };
        for (name, old, unset) in restore.into_iter().rev() {
            self.args.set(&name, old);
            if unset {
                self.args.mark_unset(&name);
            }
        }
        stage.map(|stage| Stage { args: values, sbom_scan, ..stage })
    }

    fn stage_with_args(&mut self, s: &spec::Stage, number: usize, names: &[&str], target: &Platform) -> Option<Stage> {
        let errors_before = self.diags.len();
        let this = s.name.value.as_str();
        // A bad `from:` is reported, and the rest of the stage is still checked.
        let base = match &s.from {
            Some(from) if crate::remote::is_url(&from.value) || crate::remote::is_git(&from.value) => {
                let d = Diagnostic::error(from.span, "a stage cannot start from a URL")
                    .help("start from an image and copy from the repository or URL in a step (`copy: .` with `from: <git URL>`, or `copy: <https URL>`)");
                self.diags.push(d);
                None
            }
            Some(from) => self.source_ref(from, names, this),
            None => None,
        };
        let platform = match &s.platform {
            Some(p) => self.parsed(p, Platform::parse).unwrap_or_else(|| target.clone()),
            None => target.clone(),
        };
        // Its env and workdir, then its steps.
        let mut steps = Vec::with_capacity(s.steps.len() + 2);
        // The stage's env first, so that its workdir can refer to it.
        if !s.env.is_empty() {
            let span = s.env[0].key.span;
            let vars = self.env_vars(&s.env);
            steps.push(Step { kind: StepKind::Env { vars }, line: self.line(span), span, trigger: false });
        }
        if let Some(w) = &s.workdir {
            if let Some(path) = self.word(w) {
                steps.push(Step {
                    kind: StepKind::Workdir { path },
                    line: self.line(w.span),
                    span: w.span,
                    trigger: false,
                });
            }
        }
        for step in &s.steps {
            if let Some(kind) = self.step(step, names, this) {
                steps.push(Step { kind, line: self.line(step.key_span), span: step.key_span, trigger: false });
            }
        }
        let config = self.runtime_config(s);
        let shell = s.shell.as_ref().map(|sh| sh.iter().filter_map(|a| self.text(a)).collect::<Vec<_>>());
        if let Some(sh) = &shell {
            if sh.is_empty() {
                let span = s.name.span;
                self.error(span, "`shell` cannot be empty");
            }
        }
        let base = base?;
        if self.diags.len() > errors_before {
            return None;
        }
        let mut stage = Stage {
            name: this.to_string(),
            number,
            description: s.description.as_ref().map(|d| d.value.clone()),
            base,
            platform,
            args: BTreeMap::new(),
            steps,
            config,
            depends_on: Vec::new(),
            span: s.name.span,
            from_span: s.from.as_ref().map_or(s.name.span, |f| f.span),
            shell,
            sbom_scan: SbomScan::default(),
        };
        stage.depends_on = stage.stages_read();
        Some(stage)
    }

    pub(crate) fn env_vars(&mut self, kvs: &[spec::KeyValue]) -> Vec<(String, Word)> {
        let mut out = Vec::new();
        for kv in kvs {
            let key = &kv.key.value;
            if key.is_empty() || key.contains(['=', ' ']) {
                self.error(kv.key.span, format!("`{key}` is not a valid environment variable name"));
                continue;
            }
            if let Some(v) = self.word(&kv.value) {
                out.push((key.clone(), v));
            }
        }
        out
    }

    fn command(&mut self, c: &spec::Command, what: &str) -> Option<CommandLine> {
        match c {
            spec::Command::Shell(s) if s.value.trim().is_empty() => {
                self.error(s.span, format!("{what} is empty"));
                None
            }
            spec::Command::Shell(s) => Some(CommandLine::Shell(s.value.clone())),
            spec::Command::Exec(args, span) if args.is_empty() => {
                self.error(*span, format!("{what} is an empty list"));
                None
            }
            spec::Command::Exec(args, _) => Some(CommandLine::Exec(args.iter().map(|a| a.value.clone()).collect())),
        }
    }

    /// A `cmd` or `entrypoint`: an empty list clears it, as Dockerfile's `CMD []` and
    /// `ENTRYPOINT []` do (an empty entrypoint still drops the inherited cmd).
    fn config_command(&mut self, c: &spec::Command, what: &str) -> Option<CommandLine> {
        match c {
            spec::Command::Exec(args, _) if args.is_empty() => Some(CommandLine::Exec(Vec::new())),
            _ => self.command(c, what),
        }
    }

    fn runtime_config(&mut self, s: &spec::Stage) -> RuntimeConfig {
        let mut c = RuntimeConfig {
            user: s.user.as_ref().and_then(|u| self.word(u)),
            cmd: s.cmd.as_ref().and_then(|cmd| self.config_command(cmd, "`cmd`")),
            entrypoint: s.entrypoint.as_ref().and_then(|e| self.config_command(e, "`entrypoint`")),
            stop_signal: s.stop_signal.as_ref().and_then(|sig| self.checked_word(sig, values::parse_signal)),
            ..Default::default()
        };
        for p in &s.expose {
            if let Some(port) = self.checked_word(p, values::parse_port) {
                if !c.expose.contains(&port) {
                    c.expose.push(port);
                }
            }
        }
        for v in &s.volumes {
            if let Some(path) = self.checked_word(v, check_volume) {
                if !c.volumes.contains(&path) {
                    c.volumes.push(path);
                }
            }
        }
        for t in &s.onbuild {
            match values::parse_onbuild_trigger(&t.value) {
                Ok(trigger) => c.onbuild.push(trigger),
                Err(msg) => self.error(t.span, msg),
            }
        }
        for kv in &s.labels {
            if kv.key.value.is_empty() {
                self.error(kv.key.span, "a label needs a name");
                continue;
            }
            if let Some(v) = self.word(&kv.value) {
                c.labels.insert(kv.key.value.clone(), v);
            }
        }
        if let Some(h) = &s.healthcheck {
            c.healthcheck = self.healthcheck(h);
        }
        c
    }

    fn healthcheck(&mut self, h: &spec::Healthcheck) -> Option<Healthcheck> {
        let cmd = match h.cmd.as_ref()? {
            spec::Command::Shell(s) if s.value == "none" || s.value == "NONE" => None,
            other => Some(self.command(other, "`healthcheck.cmd`")?),
        };
        let mut dur = |v: &Option<Sp<String>>| v.as_ref().and_then(|d| self.parsed(d, values::parse_duration));
        let interval = dur(&h.interval);
        let timeout = dur(&h.timeout);
        let start_period = dur(&h.start_period);
        let start_interval = dur(&h.start_interval);
        let retries = h.retries.as_ref().and_then(|r| self.parsed(r, values::parse_count));
        Some(Healthcheck { cmd, interval, timeout, start_period, start_interval, retries })
    }

    fn check_cycles(&mut self, stages: &[Stage], deps: &[Vec<usize>]) {
        // Iterative depth-first search with colours (0 new, 1 on the path, 2 done), so deep
        // chains cannot overflow the stack. The first cycle found is reported at its first stage.
        let mut colour = vec![0u8; stages.len()];
        for root in 0..stages.len() {
            if colour[root] != 0 {
                continue;
            }
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            colour[root] = 1;
            while let Some(&mut (node, ref mut next)) = path.last_mut() {
                if let Some(&dep) = deps[node].get(*next) {
                    *next += 1;
                    match colour[dep] {
                        0 => {
                            colour[dep] = 1;
                            path.push((dep, 0));
                        }
                        1 => {
                            let start = path.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                            let mut cycle: Vec<&str> =
                                path[start..].iter().map(|&(n, _)| stages[n].name.as_str()).collect();
                            cycle.push(&stages[dep].name);
                            let msg = format!("stages depend on each other in a cycle: {}", cycle.join(" -> "));
                            self.error(stages[dep].span, msg);
                            return;
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    path.pop();
                }
            }
        }
    }
}

/// The identifiers a shell text refers to as `$NAME` or `${NAME...}`, in order, with repeats:
/// for an identifier `name`, `mentioned_vars(t).any(|v| v == name)` is [`mentions_var`]`(t, name)`.
/// One pass over the text finds them all, where asking [`mentions_var`] about every arg would
/// scan the text once per arg.
pub fn mentioned_vars(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('$').filter_map(|(i, _)| {
        let after = &text[i + 1..];
        let rest = after.strip_prefix('{').unwrap_or(after);
        let len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        (len > 0).then(|| &rest[..len])
    })
}

/// `[("K", "V")]` as `["K=V"]`, the way image configs list environment variables.
pub(crate) fn key_values<S: serde::Serializer>(kvs: &[(String, Word)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(kvs.iter().map(|(k, v)| format!("{k}={}", v.text())))
}

/// A `volumes:` path must be absolute.
pub fn check_volume(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Err(format!("volume `{path}` must be an absolute path"))
    }
}

/// A stage `from:` another stage without a `platform:` of its own runs on that stage's platform,
/// as a Dockerfile `FROM build` stage does. Stages have no cycles here.
fn inherit_platforms(spec: &Spec, stages: &mut [Stage], base: &[Option<usize>]) {
    let explicit: BTreeSet<&str> =
        spec.stages.iter().filter(|s| s.platform.is_some()).map(|s| s.name.value.as_str()).collect();
    let mut done = vec![false; stages.len()];
    for start in 0..stages.len() {
        // The chain of stage bases up to one that is settled (or has its own platform).
        let mut chain = Vec::new();
        let mut at = start;
        while !done[at] {
            done[at] = true;
            chain.push(at);
            match base[at] {
                Some(parent) if !explicit.contains(stages[at].name.as_str()) => at = parent,
                _ => break,
            }
        }
        let platform = stages[at].platform.clone();
        for i in chain {
            // Compared first: a stage mostly has its base's platform already (the target's),
            // and the copy would cost its strings.
            if !explicit.contains(stages[i].name.as_str())
                && matches!(stages[i].base, Source::Stage { .. })
                && stages[i].platform != platform
            {
                stages[i].platform = platform.clone();
            }
        }
    }
}

/// How the stages of a plan refer to each other, by index (looked up by name once, for the
/// cycle check, the platforms stages inherit and the build order).
struct Links {
    /// The stages each one reads (its `depends_on` that are stages), in that order.
    deps: Vec<Vec<usize>>,
    /// The stage each one starts from, if it starts from a stage.
    base: Vec<Option<usize>>,
}

impl Links {
    fn of(stages: &[Stage]) -> Links {
        // A later stage of the same name wins, as in a map built stage by stage.
        let index: HashMap<&str, usize> = stages.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let deps = stages
            .iter()
            .map(|s| s.depends_on.iter().filter_map(|d| index.get(d.as_str()).copied()).collect())
            .collect();
        let base = stages
            .iter()
            .map(|s| match &s.base {
                Source::Stage { name } => index.get(name.as_str()).copied(),
                _ => None,
            })
            .collect();
        Links { deps, base }
    }
}

/// Keeps the target and the stages it needs (every stage with `all`), dependencies first,
/// otherwise in document order.
fn order_needed(stages: Vec<Stage>, deps: &[Vec<usize>], target: &str, all: bool) -> Vec<Stage> {
    let deps = |i: usize| deps[i].iter().copied();
    let mut needed = vec![all; stages.len()];
    // Of two stages with one name, the last (as a map from names would keep it).
    let mut todo: Vec<usize> = stages.iter().rposition(|s| s.name == target).into_iter().collect();
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut needed[i], true) {
            todo.extend(deps(i));
        }
    }
    // Kahn's algorithm; among the stages ready to go, the earliest in the document first.
    let mut waiting = vec![0usize; stages.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); stages.len()];
    for i in (0..stages.len()).filter(|&i| needed[i]) {
        for d in deps(i) {
            waiting[i] += 1;
            dependents[d].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..stages.len()).filter(|&i| needed[i] && waiting[i] == 0).collect();
    let mut order = Vec::new();
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.insert(j);
            }
        }
    }
    let mut slots: Vec<Option<Stage>> = stages.into_iter().map(Some).collect();
    // At its final size: collected from `filter_map`, the list (of stages, a few hundred bytes
    // each) grew by doubling, moved each time.
    let mut needed_stages = Vec::with_capacity(order.len());
    needed_stages.extend(order.into_iter().filter_map(|i| slots[i].take()));
    needed_stages
}
