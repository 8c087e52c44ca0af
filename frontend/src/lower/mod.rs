//! Lowering: a [`Plan`] to LLB states and the image config of its target.
//!
//! The only module that knows both the plan and LLB. Stages are lowered in plan order
//! (dependencies first); a stage that copies from another reads that stage's final state, so
//! independent stages stay independent subgraphs that BuildKit runs in parallel.

mod base;
mod config;
pub mod contexts;
mod naming;
mod run;
pub mod run_opts;
pub mod sbom;
mod steps;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::image::ImageConfig;
use crate::llb::{self, pb, OpMeta, State};
use crate::plan::{GitSource, ImageRef, Network, Plan, Platform, Source, Stage};
use crate::reference::Digest;
use config::{empty_config, inherit};

pub use base::base_image_config;
pub use contexts::{ContextValue, NamedContext};
pub use run_opts::RunOptions;
pub(crate) use steps::{join_path, join_path_keep_slash};

/// A base image as the daemon resolved it.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The manifest digest, to pin the source op (absent for local-only images).
    pub digest: Option<Digest>,
    /// The reference BuildKit answered, after source policies (absent before BuildKit 0.12):
    /// the source op names this one.
    pub reference: Option<ImageRef>,
    pub config: ImageConfig,
}

/// Which stages ignore the build cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NoCache {
    #[default]
    None,
    All,
    Stages(BTreeSet<String>),
}

impl NoCache {
    fn applies(&self, stage: &str) -> bool {
        match self {
            NoCache::None => false,
            NoCache::All => true,
            NoCache::Stages(s) => s.contains(stage),
        }
    }
}

/// Everything lowering needs besides the plan; all of it optional for offline use.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Name of the local source with the build context (`context`).
    pub context_name: String,
    /// Session that serves the local sources.
    pub session_id: Option<String>,
    /// `.dockerignore` patterns of the context.
    pub exclude_patterns: Vec<String>,
    /// Resolved configs of the plan's images; an image missing here inherits nothing.
    pub images: BTreeMap<(ImageRef, Platform), BaseImage>,
    pub no_cache: NoCache,
    /// `force-network-mode`: the network of run steps that do not choose one.
    pub network: Option<Network>,
    pub hostname: Option<String>,
    pub extra_hosts: Vec<(String, String)>,
    /// `label:` options: added to the target image's labels.
    pub labels: BTreeMap<String, String>,
    /// `image-resolve-mode` for image sources.
    pub resolve_mode: llb::ResolveMode,
    /// The build context when the client passed it as a frontend input (replaces the local
    /// source `context_name`).
    pub context: Option<State>,
    /// Named contexts by name and the platform of the stage reading them (see
    /// [`Plan::named_contexts`]).
    pub named_contexts: BTreeMap<(String, Platform), NamedContext>,
    /// What the daemon's BuildKit can do, where decant has a fallback.
    pub features: Features,
    /// Proxy, resource and cache-namespace settings of every run step.
    pub run: RunOptions,
}

/// Optional BuildKit features with a fallback. The default is a current BuildKit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Merge ops (BuildKit 0.10+): `copy` with `link: true` makes an independent layer.
    pub merge_op: bool,
    /// Symbolic modes on copies (BuildKit 0.17+): `chmod: u+x`. No fallback: without it such a
    /// step is an error.
    pub copy_mode_string: bool,
    /// Git sources pinned to a commit (cap `source.git.checksum`, BuildKit 0.23+). No fallback:
    /// an older daemon would drop the pin, so a pinned git source is an error there.
    pub git_checksum: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features { merge_op: true, copy_mode_string: true, git_checksum: true }
    }
}

impl Default for Inputs {
    fn default() -> Self {
        Inputs {
            context_name: "context".into(),
            session_id: None,
            exclude_patterns: Vec::new(),
            images: BTreeMap::new(),
            no_cache: NoCache::None,
            network: None,
            hostname: None,
            extra_hosts: Vec::new(),
            labels: BTreeMap::new(),
            resolve_mode: llb::ResolveMode::Default,
            context: None,
            named_contexts: BTreeMap::new(),
            features: Features::default(),
            run: RunOptions::default(),
        }
    }
}

/// The lowered target.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub state: State,
    pub config: ImageConfig,
    /// The config of the image the target starts from (see [`base_image_config`]).
    pub base_config: Option<ImageConfig>,
    /// What an SBOM scan of the target reads (see [`Plan::sbom_targets`]).
    pub sbom: sbom::ScanTargets,
}

impl Lowered {
    pub fn definition(&self) -> pb::Definition {
        llb::marshal(&self.state)
    }

    /// The encoded [`Lowered::definition`], written straight from the graph.
    pub fn definition_bytes(&self) -> Vec<u8> {
        llb::marshal_bytes(&self.state)
    }
}

/// Lowers `plan` to the target's state and image config.
pub fn lower(plan: &Plan, inputs: &Inputs) -> Result<Lowered, Diagnostics> {
    let mut l = Lowerer::new(plan, inputs);
    let mut target = None;
    for stage in &plan.stages {
        match l.stage(stage) {
            Ok(mut built) => {
                // Of a stage no later stage starts from, the others read only the state and the
                // workdir: its config (history, env) goes to the result if it is the target, and
                // is not kept otherwise.
                let based_on = l.base_uses.get(stage.name.as_str()).is_some_and(|n| *n > 0);
                if stage.name == plan.target {
                    let config = if based_on { built.config.clone() } else { built.take_config() };
                    target = Some(Built { state: built.state.clone(), config });
                } else if !based_on {
                    built.take_config();
                }
                l.built.insert(stage.name.as_str(), built);
            }
            Err(d) => l.diags.push(d),
        }
    }
    match target {
        Some(mut t) if l.diags.is_empty() => {
            t.config.config.labels.extend(inputs.labels.clone());
            if let Some(epoch) = plan.source_date_epoch {
                config::stamp(&mut t.config, epoch);
            }
            let sbom = l.scan_targets(&t.state).map_err(|d| Diagnostics::new(plan.file.clone(), vec![d]))?;
            Ok(Lowered {
                state: t.state,
                config: t.config,
                base_config: base_image_config(plan, inputs).cloned(),
                sbom,
            })
        }
        _ => Err(Diagnostics::new(plan.file.clone(), l.diags)),
    }
}

/// A stage as lowered so far: its filesystem and the image config it carries.
#[derive(Debug, Clone)]
struct Built {
    state: State,
    config: ImageConfig,
}

impl Built {
    /// The config, for the last stage that starts from this one (no copy of its history and
    /// env), or for the result. What stays is the workdir: copies from this stage read relative
    /// paths from it.
    fn take_config(&mut self) -> ImageConfig {
        let rest = ImageConfig {
            config: crate::image::ContainerConfig {
                working_dir: self.config.config.working_dir.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        std::mem::replace(&mut self.config, rest)
    }
}

struct Lowerer<'a> {
    plan: &'a Plan,
    inputs: &'a Inputs,
    file: Arc<llb::SourceFile>,
    /// The stages lowered so far, by name.
    built: HashMap<&'a str, Built>,
    context: Option<State>,
    diags: Vec<Diagnostic>,
    /// Every arg a `run` can see, built-ins included ([`Plan::all_args`]), computed once.
    all_args: BTreeMap<String, String>,
    /// How many stages still to lower start from each stage: the last one takes its config.
    base_uses: HashMap<&'a str, usize>,
    /// The platform of the stage being lowered, as its ops carry it (made once per stage, not
    /// per op).
    platform: pb::Platform,
}

impl<'a> Lowerer<'a> {
    fn new(plan: &'a Plan, inputs: &'a Inputs) -> Self {
        let file = Arc::new(llb::SourceFile {
            filename: plan.file.name.clone(),
            data: plan.file.text.as_bytes().to_vec(),
            language: Some("yaml".into()),
        });
        let all_args = plan.all_args();
        let mut base_uses: HashMap<&str, usize> = HashMap::new();
        for stage in &plan.stages {
            if let Source::Stage { name } = &stage.base {
                *base_uses.entry(name.as_str()).or_default() += 1;
            }
        }
        Lowerer {
            plan,
            inputs,
            file,
            built: HashMap::new(),
            context: None,
            diags: Vec::new(),
            all_args,
            base_uses,
            platform: pb::Platform::default(),
        }
    }

    /// Op metadata: a progress name, the source location, and the stage's cache policy.
    fn meta(&self, stage: &Stage, name: String, span: Span) -> OpMeta {
        // The spec location in the name too: clients that print no source snippets (Docker
        // 20.10) still show which line failed.
        // The line is the range's start: the position is looked up once.
        let range = range(&self.plan.file, span);
        let line = range.start.line;
        let mut name = name;
        name.reserve(self.plan.file.name.len() + 14);
        name.push_str(" (");
        name.push_str(&self.plan.file.name);
        let _ = write!(name, ":{line})");
        let mut meta = OpMeta::named(name);
        meta.ignore_cache = self.inputs.no_cache.applies(&stage.name);
        meta.location = Some(llb::SourceLocation { file: self.file.clone(), ranges: range.into() });
        meta
    }

    fn llb_error(&self, span: Span, e: llb::LlbError) -> Diagnostic {
        Diagnostic::error(span, e.to_string())
    }

    /// The build context, loaded once.
    fn context(&mut self) -> Result<State, llb::LlbError> {
        if let Some(c) = &self.context {
            return Ok(c.clone());
        }
        if let Some(c) = &self.inputs.context {
            self.context = Some(c.clone());
            return Ok(c.clone());
        }
        // Only the paths the planned stages read are walked and sent.
        let mut opts = llb::LocalOpts {
            session_id: self.inputs.session_id.clone(),
            exclude_patterns: self.inputs.exclude_patterns.clone(),
            follow_paths: self.plan.local_reads().context.follow_paths(),
            ..Default::default()
        };
        opts.shared_key_hint = Some(contexts::shared_key_hint(&self.inputs.context_name, &opts));
        let state = llb::local(&self.inputs.context_name, opts, OpMeta::named("[internal] load build context"))?;
        self.context = Some(state.clone());
        Ok(state)
    }

    /// What an SBOM scan of the target (`core`) reads besides it: the build context as the
    /// stages read it, and the stages that ask to be scanned, as the Dockerfile frontend
    /// chooses them.
    fn scan_targets(&mut self, core: &State) -> Result<sbom::ScanTargets, Diagnostic> {
        let wanted = self.plan.sbom_targets();
        let mut extras = BTreeMap::new();
        let mut ignore_cache = self.inputs.no_cache.applies(&self.plan.target);
        if wanted.context {
            let span = self.plan.stage(&self.plan.target).map(|s| s.span).unwrap_or_default();
            extras.insert("context".to_string(), self.context().map_err(|e| self.llb_error(span, e))?);
        }
        for name in wanted.stages {
            ignore_cache |= self.inputs.no_cache.applies(&name);
            if let Some(built) = self.built.get(name.as_str()) {
                extras.insert(name, built.state.clone());
            }
        }
        Ok(sbom::ScanTargets { core: core.clone(), extras, ignore_cache })
    }

    fn image_state(&self, reference: &ImageRef, platform: &Platform, meta: OpMeta) -> Result<State, llb::LlbError> {
        let resolved = self.inputs.images.get(&(reference.clone(), platform.clone()));
        let pinned = match resolved {
            Some(r) => reference.resolved(r.reference.as_ref(), r.digest.as_ref()),
            None => reference.clone(),
        };
        let opts =
            llb::ImageOpts { platform: Some(pb::Platform::from(platform)), resolve_mode: self.inputs.resolve_mode };
        llb::image(&pinned, opts, meta)
    }

    fn image_config(&self, reference: &ImageRef, platform: &Platform) -> Option<&'a ImageConfig> {
        self.inputs.images.get(&(reference.clone(), platform.clone())).map(|b| &b.config)
    }

    fn named(&self, name: &str, platform: &Platform, span: Span) -> Result<&'a NamedContext, Diagnostic> {
        self.inputs.named_contexts.get(&(name.to_string(), platform.clone())).ok_or_else(|| {
            Diagnostic::error(span, format!("named context `{name}` was not provided for {}", platform.id()))
        })
    }

    /// A git repository as a source.
    pub(crate) fn git_state(
        &self,
        stage: &Stage,
        g: &GitSource,
        keep_git_dir: bool,
        span: Span,
    ) -> Result<State, Diagnostic> {
        if let Some(sum) = g.checksum.as_ref().filter(|_| !self.inputs.features.git_checksum) {
            let msg = format!(
                "`{g}` is pinned to the commit `{sum}`: checking it needs BuildKit 0.23 or later (LLB capability \
                 `source.git.checksum`), and this daemon is older"
            );
            return Err(Diagnostic::error(span, msg)
                .help("pin the commit as the ref instead (`#<full sha>`), or build on a newer BuildKit"));
        }
        let meta = self.meta(stage, format!("[{}] load git {g}", stage.name), span);
        llb::git(g, keep_git_dir, meta).map_err(|e| self.llb_error(span, e))
    }

    /// The state a copy or mount reads from, and the directory relative paths start at.
    fn source(&mut self, stage: &Stage, from: &Source, span: Span) -> Result<(State, String), Diagnostic> {
        Ok(match from {
            Source::Context => (self.context().map_err(|e| self.llb_error(span, e))?, "/".into()),
            Source::Scratch => (State::scratch(), "/".into()),
            Source::Stage { name } => {
                let built = self
                    .built
                    .get(name.as_str())
                    .ok_or_else(|| Diagnostic::error(span, format!("stage `{name}` was not built")))?;
                (built.state.clone(), workdir_of(Some(&built.config)))
            }
            Source::Image { reference } => {
                let meta = self.meta(stage, format!("[{}] load {reference}", stage.name), span);
                let state = self.image_state(reference, &stage.platform, meta).map_err(|e| self.llb_error(span, e))?;
                (state, workdir_of(self.image_config(reference, &stage.platform)))
            }
            Source::Git(g) => (self.git_state(stage, g, false, span)?, "/".into()),
            Source::Named { name } => {
                let nc = self.named(name, &stage.platform, span)?;
                (nc.state.clone(), workdir_of(nc.config.as_ref()))
            }
        })
    }

    fn stage(&mut self, stage: &Stage) -> Result<Built, Diagnostic> {
        self.platform = pb::Platform::from(&stage.platform);
        let total = stage.steps.len() + 1;
        let from_meta = |l: &Self, what: &str| {
            l.meta(stage, naming::step_name(&stage.name, 1, total, &format!("from {what}")), stage.from_span)
        };
        let (state, mut config) = match &stage.base {
            Source::Scratch => (State::scratch(), empty_config(&stage.platform)),
            Source::Stage { name } => {
                let last = match self.base_uses.get_mut(name.as_str()) {
                    Some(n) => {
                        *n = n.saturating_sub(1);
                        *n == 0
                    }
                    None => false,
                };
                let built = self
                    .built
                    .get_mut(name.as_str())
                    .ok_or_else(|| Diagnostic::error(stage.span, format!("stage `{name}` was not built")))?;
                let mut config = if last { built.take_config() } else { built.config.clone() };
                // A stage's triggers are for the stages built on it: the plan has put them first
                // in this one; its image does not keep them (as the Dockerfile frontend's).
                config.config.on_build.clear();
                (built.state.clone(), config)
            }
            Source::Image { reference } => {
                let meta = from_meta(self, &reference.to_string());
                let state =
                    self.image_state(reference, &stage.platform, meta).map_err(|e| self.llb_error(stage.span, e))?;
                let config = match self.image_config(reference, &stage.platform) {
                    Some(c) => inherit(c),
                    None => empty_config(&stage.platform),
                };
                (state, config)
            }
            Source::Named { name } => {
                let nc = self.named(name, &stage.platform, stage.span)?;
                let config = nc.config.as_ref().map(inherit).unwrap_or_else(|| empty_config(&stage.platform));
                (nc.state.clone(), config)
            }
            // Not a base the plan makes; read as a copy would, with no config.
            from @ (Source::Context | Source::Git(_)) => {
                (self.source(stage, from, stage.from_span)?.0, empty_config(&stage.platform))
            }
        };
        config.architecture = stage.platform.architecture.clone();
        config.os = stage.platform.os.clone();
        config.variant = stage.platform.variant.clone();
        let mut built = Built { state, config };
        for (i, step) in stage.steps.iter().enumerate() {
            let history = match step.trigger {
                true => format!("onbuild {}", naming::describe(&step.kind)),
                false => naming::describe(&step.kind),
            };
            let name = naming::step_name(&stage.name, i + 2, total, &history);
            self.step(stage, step, name, history, &mut built)?;
        }
        config::apply_runtime_config(stage, &mut built.config)?;
        Ok(built)
    }
}

/// The directory relative paths start at in an image: its workdir, or `/`.
fn workdir_of(config: Option<&ImageConfig>) -> String {
    match config.map(|c| c.config.working_dir.as_str()) {
        Some(dir) if !dir.is_empty() => dir.to_string(),
        _ => "/".into(),
    }
}

/// A plan platform as LLB (and the gateway API) carry it.
impl From<&Platform> for pb::Platform {
    fn from(p: &Platform) -> pb::Platform {
        pb::Platform {
            architecture: p.architecture.clone(),
            os: p.os.clone(),
            variant: p.variant.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// A span as the 1-based line/character range BuildKit's source maps use.
pub(crate) fn range(file: &SourceFile, span: Span) -> llb::Range {
    crate::sourcemap::LineRange::of(file, span).into()
}
