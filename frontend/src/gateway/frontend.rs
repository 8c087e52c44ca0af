//! The frontend run: BuildKit started us; read the spec, compile it, solve, return.
//!
//! A build runs in phases: `read_sources` (Ping alongside the reads), then per target
//! platform `plan_and_lower` (plan, resolve images, lower), then `solve` (every platform
//! at once), then `result`. Each fails with a [`BuildError`]; every failure ends in exactly
//! one `Return` (with an error status that names the spec file and line where there is one),
//! then the process exits.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use super::client::cap;
use super::failure::BuildError;
use super::sbom::Sbom;
use super::sources;
use super::spec_source::{read_dockerignore, read_spec, solve_dockerignore_source, SpecFile, SpecSource};
use super::timings::{self, Timings};
use super::{pb, Caps, Client, FrontendOpts, FrontendResult, ResolveImageParams, SolveParams};
use crate::compile;
use crate::diag::Diagnostics;
use crate::image::ImageConfig;
use crate::llb;
use crate::lower::{self, BaseImage};
use crate::plan::{BuildOptions, Platform};
use crate::sourcemap::LineRange;

/// The single-threaded runtime a frontend run needs (`None`, said on stderr, when it cannot start).
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("decant: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Runs the frontend conversation on stdin/stdout and exits.
pub fn main() -> ExitCode {
    let origin = Instant::now();
    let Some(runtime) = runtime() else { return ExitCode::FAILURE };
    let code = runtime.block_on(run(origin));
    // Exit at once: BuildKit keeps our stdin open, and nothing is left to clean up.
    std::process::exit(code)
}

/// The benchmark's floor (`decant frontend-noop`): connect and return an empty result at once,
/// so that a build through it costs only what starting any frontend image costs. Its own time
/// goes to stderr (the daemon log) as `decant noop: total: N ms`.
pub fn noop_main() -> ExitCode {
    let origin = Instant::now();
    let Some(runtime) = runtime() else { return ExitCode::FAILURE };
    let code = runtime.block_on(async {
        let client = match Client::connect_stdio().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("decant: cannot talk to BuildKit: {e}");
                return 1;
            }
        };
        match client.return_result(FrontendResult::single("")).await {
            Ok(()) => {
                eprintln!("decant noop: total: {:.1} ms", origin.elapsed().as_secs_f64() * 1000.0);
                0
            }
            Err(e) => {
                eprintln!("decant: returning the result to BuildKit failed: {e}");
                1
            }
        }
    });
    std::process::exit(code)
}

async fn run(origin: Instant) -> i32 {
    let timings = Timings::new(origin);
    let opts = FrontendOpts::from_env();
    let mut client = match timings.time("connect", Client::connect_stdio()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("decant: cannot talk to BuildKit: {e}");
            return 1;
        }
    };
    let opts = opts.and_then(|o| timings::requested(&o).map(|show| (o, show)));
    let show_timings = matches!(opts, Ok((_, true)));
    let outcome = match opts {
        Ok((opts, _)) => build_timed(&mut client, &opts, &timings).await,
        Err(e) => Err(BuildError::from(e)),
    };
    if show_timings {
        // Its own time reaches only stderr (the vertices are already solved).
        let started = Instant::now();
        timings.show(&client).await;
        timings.record("show timings", started);
    }
    let start = Instant::now();
    let returned = match outcome {
        Ok(result) => client.return_result(result).await,
        Err(error) => client.return_error(error.into()).await,
    };
    timings.record("return", start);
    if show_timings {
        timings.to_stderr();
    }
    match returned {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("decant: returning the result to BuildKit failed: {e}");
            1
        }
    }
}

/// The whole build, from options to the result to return.
#[cfg(test)]
pub(crate) async fn build(client: &mut Client, opts: &FrontendOpts) -> Result<FrontendResult, pb::Status> {
    build_timed(client, opts, &Timings::new(Instant::now())).await.map_err(pb::Status::from)
}

/// [`build`], recording the time of each phase in `t`: read the sources, then per target
/// platform plan, resolve and lower, then solve every platform at once, then the result (with
/// an SBOM of each platform when asked, scanned after the solve).
async fn build_timed(client: &mut Client, opts: &FrontendOpts, t: &Timings) -> Result<FrontendResult, BuildError> {
    if let Some(id) = opts.request_id() {
        t.time("ping", client.ping()).await?;
        sources::check_frontend_caps(opts)?;
        return super::subrequests::handle(client, opts, id).await;
    }
    let (read, mut excludes) = read_sources(client, opts, t).await?;
    let client: &Client = client;
    let targets = TargetPlatforms::new(opts, &read.caps)?;
    // A malformed `attest:sbom` fails before anything is compiled, as other bad options do.
    opts.sbom()?;
    let parsed = parse_and_lint(client, opts, &read.spec_file, t).await?;
    // Compile every platform first (spec errors surface before anything runs), then solve them
    // together so that BuildKit builds the platforms in parallel.
    let named_contexts = sources::named_context_names(opts)?;
    let mut builds = Vec::new();
    for target in targets.platforms {
        let build_opts = BuildOptions {
            target: opts.target().filter(|t| !t.is_empty()).map(str::to_string),
            build_args: opts.build_args(),
            build_platform: targets.build.clone(),
            target_platform: Some(target),
            all_stages: false,
            named_contexts: named_contexts.clone(),
        };
        builds.push(plan_and_lower(client, opts, &read, &mut excludes, &parsed, &build_opts, t).await?);
    }
    // The scanner after the compile, so that spec errors come first (as without an SBOM).
    let sbom = t.time("sbom scanner", super::sbom::prepare(client, opts, &read.caps, &targets.build)).await?;
    if let (Sbom::Unsupported, Some(spec)) = (&sbom, &parsed.spec) {
        let wanted = builds.first().map(|b| b.sbom_wanted.clone()).unwrap_or_default();
        super::sbom::warn_unsupported(client, &wanted, spec, &read.spec_file.vertex).await;
    }
    let refs = solve(client, opts, &builds, &read.spec_file.name, t).await?;
    let result = result(&builds, refs, targets.multi);
    match sbom {
        Sbom::Scan(scanner) => {
            let scans = builds.into_iter().map(|b| (attestation_key(&b, targets.multi), b.sbom)).collect();
            t.time("sbom", super::sbom::attest(client, &scanner, scans, result)).await
        }
        Sbom::None | Sbom::Unsupported => Ok(result),
    }
}

/// What the build reads before it compiles: the daemon's caps, the client's inputs, the spec
/// and the context's `.dockerignore` patterns.
struct Sources {
    caps: Caps,
    client_inputs: BTreeMap<String, crate::llb::pb::Definition>,
    /// The build context when the client passed it as an input.
    context_input: Option<crate::llb::State>,
    spec_file: SpecFile,
}

/// The context's exclude patterns: known once the sources are read, or still being read (the
/// context's `.dockerignore`), so that the images resolve meanwhile.
enum Excludes {
    Ready(Vec<String>),
    /// The read, started at the instant given, answers the patterns and when they came.
    Reading(Instant, tokio::task::JoinHandle<(Vec<String>, Instant)>),
}

impl Excludes {
    /// The patterns, waiting for the read the first time (recorded in `t`).
    async fn get(&mut self, t: &Timings) -> &[String] {
        if let Excludes::Reading(started, read) = self {
            // A read that failed or panicked excludes nothing, as a context without the file.
            let (patterns, read_at) = read.await.unwrap_or_else(|_| (Vec::new(), Instant::now()));
            t.record_until("read .dockerignore", *started, read_at);
            *self = Excludes::Ready(patterns);
        }
        match self {
            Excludes::Ready(patterns) => patterns,
            Excludes::Reading(..) => unreachable!("just read"),
        }
    }
}

/// Pings the daemon and reads the sources.
///
/// The first round trips do not depend on each other, so they go out together: Ping, Inputs,
/// and the solves of the spec's and the context's `.dockerignore` local sources (lazy: nothing
/// is transferred before a read). The reads wait for Inputs only (a client's input can replace
/// the spec's source or the context), not for Ping; the compile waits for both. The context's
/// `.dockerignore` is only needed to lower: its read goes on while the spec is compiled and
/// its images resolve.
async fn read_sources(
    client: &mut Client,
    opts: &FrontendOpts,
    t: &Timings,
) -> Result<(Sources, Excludes), BuildError> {
    // Ping runs alongside everything up to the compile: a daemon answers it slowly, as it probes
    // the platforms it can emulate on every Ping. Until its reply the caps are unknown, so the
    // calls through this clone skip the client-side cap checks.
    let early = client.clone();
    let local_spec = SpecSource::new(opts, &BTreeMap::new())?;
    // A remote context (the opt `context=<url>`) holds the spec and the context: no local
    // .dockerignore to ask for.
    let remote_context = super::remote_context::detect(opts)?.is_some();
    let started = Instant::now();
    let read_sources = async {
        let (raw_inputs, spec_solved, ignore_solved) =
            tokio::join!(t.time("inputs", early.inputs()), early.solve(local_spec.solve_params()), async {
                match remote_context {
                    true => None,
                    false => solve_dockerignore_source(&early, opts).await,
                }
            },);
        // A daemon without `frontend.inputs` answers Unimplemented: no inputs (checked against
        // the caps once Ping has answered).
        let decoded = raw_inputs.map_err(BuildError::from).and_then(sources::decode_inputs);
        let client_inputs = decoded.as_ref().cloned().unwrap_or_default();
        // A remote context adds itself and the spec's directory to the inputs.
        let client_inputs = super::remote_context::with_remote_context(&early, opts, client_inputs).await?;
        let context_input = sources::context_input(opts, &client_inputs);
        // A context passed as an input is used as is: its .dockerignore is not read.
        let context_ignore = match (&context_input, ignore_solved) {
            (Ok(None), Some(solved)) => {
                let early = early.clone();
                Some(tokio::spawn(async move { (read_dockerignore(&early, &solved).await, Instant::now()) }))
            }
            _ => None,
        };
        // The client's `dockerfile` input replaces the local source solved above.
        // (Not with `dockerfilekey`: the spec then comes from that local whatever the inputs hold.)
        let from_input = client_inputs.contains_key(opts.dockerfile_key()) && !opts.has_dockerfile_key();
        let spec_file = match from_input {
            true => read_spec(&early, opts, &client_inputs).await,
            false => local_spec.read(&early, spec_solved).await,
        };
        t.record("read spec", started);
        Ok::<_, BuildError>((decoded, client_inputs, context_input, spec_file, context_ignore))
    };
    let (pinged, read) = tokio::join!(t.time("ping", client.ping()), read_sources);
    let caps = pinged?.clone();
    let (decoded_inputs, client_inputs, context_input, spec_file, context_ignore) = read?;
    sources::check_frontend_caps(opts)?;
    if caps.has_gateway(cap::FRONTEND_INPUTS) {
        decoded_inputs?;
    }
    let context_input = context_input?;
    let spec_file = spec_file?;
    t.set_vertex(&spec_file.vertex);
    let excludes = match (&context_input, &spec_file.ignore, context_ignore) {
        (Some(_), _, _) | (None, None, None) => Excludes::Ready(Vec::new()),
        (None, Some(text), _) => Excludes::Ready(parse_dockerignore(text)),
        (None, None, Some(reading)) => Excludes::Reading(started, reading),
    };
    Ok((Sources { caps, client_inputs, context_input, spec_file }, excludes))
}

/// The platforms to build for.
struct TargetPlatforms {
    /// The daemon's own platform.
    build: Platform,
    /// Every target (the build platform when the client names none).
    platforms: Vec<Platform>,
    /// Whether the result is a multi-platform one (a map of refs).
    multi: bool,
}

impl TargetPlatforms {
    fn new(opts: &FrontendOpts, caps: &Caps) -> Result<Self, BuildError> {
        let build = caps.build_platform().map(|p| Platform::from(&p)).unwrap_or_default();
        let mut platforms = Vec::new();
        for p in opts.platforms()? {
            platforms.push(Platform::from(&p));
        }
        let multi = platforms.len() > 1 || opts.multi_platform()?;
        if platforms.is_empty() {
            platforms.push(build.clone());
        }
        Ok(TargetPlatforms { build, platforms, multi })
    }
}

/// The spec as parsed: what parsed (the plan reports its errors beside the parse errors).
struct Parsed {
    spec: Option<crate::spec::Spec>,
    errors: Diagnostics,
}

/// Parses the spec and, when it parsed cleanly, sends the lint warnings.
async fn parse_and_lint(
    client: &Client,
    opts: &FrontendOpts,
    spec_file: &SpecFile,
    t: &Timings,
) -> Result<Parsed, BuildError> {
    let started = Instant::now();
    let (spec, parse_errors) = crate::spec::parse_spec_partial(&spec_file.name, &spec_file.text);
    t.record("compile", started);
    if let (Some(spec), true) = (&spec, parse_errors.items.is_empty()) {
        t.time("lint warnings", warn_lints(client, spec, &spec_file.vertex, &opts.build_args())).await?;
    }
    Ok(Parsed { spec, errors: parse_errors })
}

/// One target platform, compiled.
struct TargetBuild {
    platform: Platform,
    /// The encoded Definition.
    definition: Vec<u8>,
    config: ImageConfig,
    /// The config of the image the target starts from.
    base_config: Option<ImageConfig>,
    /// What an SBOM scan reads, and which of the plan's extras were asked for.
    sbom: lower::sbom::ScanTargets,
    sbom_wanted: crate::plan::SbomTargets,
}

/// Plans the spec for one target platform, resolves its images and lowers it to LLB that this
/// daemon can run.
async fn plan_and_lower(
    client: &Client,
    opts: &FrontendOpts,
    read: &Sources,
    excludes: &mut Excludes,
    parsed: &Parsed,
    build_opts: &BuildOptions,
    t: &Timings,
) -> Result<TargetBuild, BuildError> {
    let platform = build_opts.target_platform.clone().unwrap_or_else(|| build_opts.build_platform.clone());
    let started = Instant::now();
    let plan = compile::plan_parsed(parsed.spec.as_ref(), &parsed.errors, build_opts)?;
    t.record("compile", started);
    let (inputs, excludes) =
        tokio::join!(t.time("resolve images", lower_inputs(client, opts, read, &plan)), excludes.get(t));
    let inputs = lower::Inputs { exclude_patterns: excludes.to_vec(), ..inputs? };
    let started = Instant::now();
    let plan = crate::plan::onbuild::run_triggers(plan, build_opts, |stage| base_triggers(stage, &inputs))?;
    let lowered = lower::lower(&plan, &inputs)?;
    let definition = lowered.definition_bytes();
    t.record("compile", started);
    if let Some(m) = llb::missing_caps_of(&lowered.state, |cap| read.caps.has_llb(cap)).first() {
        return Err(BuildError::Unimplemented(format!(
            "{m}: this BuildKit does not support LLB capability `{}`; upgrade BuildKit or drop that feature",
            m.cap
        )));
    }
    Ok(TargetBuild {
        platform,
        definition,
        config: lowered.config,
        base_config: lowered.base_config,
        sbom: lowered.sbom,
        sbom_wanted: plan.sbom_targets(),
    })
}

/// The `ONBUILD` triggers of `stage`'s base, as BuildKit resolved it: an image's, or a named
/// context's image's.
fn base_triggers<'a>(stage: &crate::plan::Stage, inputs: &'a lower::Inputs) -> Option<(String, &'a [String])> {
    use crate::plan::Source;
    let (what, config) = match &stage.base {
        Source::Image { reference } => {
            let base = inputs.images.get(&(reference.clone(), stage.platform.clone()))?;
            (format!("the base image {reference}"), &base.config)
        }
        Source::Named { name } => {
            let nc = inputs.named_contexts.get(&(name.clone(), stage.platform.clone()))?;
            (format!("the named context `{name}`"), nc.config.as_ref()?)
        }
        _ => return None,
    };
    Some((what, config.config.on_build.as_slice()))
}

/// Solves every target at once; the refs in the order of `builds`.
async fn solve(
    client: &Client,
    opts: &FrontendOpts,
    builds: &[TargetBuild],
    spec_name: &str,
    t: &Timings,
) -> Result<Vec<String>, BuildError> {
    let cache_imports = opts.cache_imports()?;
    let started = Instant::now();
    let mut solves = tokio::task::JoinSet::new();
    for (i, build) in builds.iter().enumerate() {
        let client = client.clone();
        let params = SolveParams {
            definition: build.definition.clone(),
            cache_imports: cache_imports.clone(),
            ..Default::default()
        };
        solves.spawn(async move { (i, client.solve(params).await) });
    }
    let mut refs = vec![String::new(); builds.len()];
    while let Some(joined) = solves.join_next().await {
        let (i, solved) = joined.map_err(|e| BuildError::Other(format!("a solve task failed: {e}")))?;
        refs[i] = solved.map_err(|error| BuildError::Solve { error, spec: spec_name.to_string() })?.id;
    }
    t.record("solve", started);
    Ok(refs)
}

/// The result to return: one ref, or a ref per platform with `refs.platforms`, each with its
/// image config (and its base image's, for reproducible builds).
fn result(builds: &[TargetBuild], mut refs: Vec<String>, multi: bool) -> FrontendResult {
    if !multi {
        let build = &builds[0];
        let result =
            FrontendResult::single(refs.swap_remove(0)).with_metadata("containerimage.config", build.config.to_json());
        return super::reproducible::with_base_config(result, build.base_config.as_ref(), None);
    }
    let mut result_refs = BTreeMap::new();
    let mut platforms = Vec::new();
    let mut metadata = Vec::new();
    for (build, id) in builds.iter().zip(refs) {
        let key = build.platform.id();
        result_refs.insert(key.clone(), id);
        platforms.push(serde_json::json!({"ID": key, "Platform": build.platform}));
        metadata.push((format!("containerimage.config/{key}"), build.config.to_json()));
    }
    let mut result = FrontendResult::map(result_refs).with_metadata(
        "refs.platforms",
        serde_json::to_vec(&serde_json::json!({ "Platforms": platforms })).unwrap_or_default(),
    );
    for (k, v) in metadata {
        result = result.with_metadata(k, v);
    }
    for build in builds {
        result = super::reproducible::with_base_config(result, build.base_config.as_ref(), Some(&build.platform.id()));
    }
    result
}

/// The key of a build's attestations: its platform's id in a multi-platform result (the
/// `refs.platforms` id); in a single result, the id BuildKit derives from the image config's
/// platform, which a target pinned to another `platform:` makes differ from the target's.
fn attestation_key(build: &TargetBuild, multi: bool) -> String {
    let c = &build.config;
    if multi || c.os.is_empty() || c.architecture.is_empty() {
        return build.platform.id();
    }
    Platform::normalize(&c.os, &c.architecture, c.variant.as_deref().unwrap_or("")).id()
}

/// Sends `decant check`'s warnings (as the spec's `# check=` directive configures them) to the
/// client as build warnings, in the Dockerfile frontend's form `rule: message (line N)` with
/// the rule's docs URL (BuildKit 0.10+; older daemons cannot show them). With `error=true`,
/// warnings fail the build on every daemon.
async fn warn_lints(
    client: &Client,
    spec: &crate::spec::Spec,
    vertex: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<(), BuildError> {
    let (lints, config) = crate::lint::lint_configured(spec);
    if config.error && !lints.is_empty() {
        let as_errors = lints
            .iter()
            .map(|d| crate::diag::Diagnostic {
                severity: crate::diag::Severity::Error,
                message: format!("{} (warnings are errors: `# check=error=true`)", crate::lint::short(d, &spec.file)),
                ..d.clone()
            })
            .collect();
        return Err(BuildError::Spec(Diagnostics::new(spec.file.clone(), as_errors)));
    }
    if !client.caps().is_some_and(|c| c.has_gateway(cap::WARNINGS)) {
        return Ok(());
    }
    let source = pb::SourceInfo {
        filename: spec.file.name.clone(),
        data: spec.file.text.as_bytes().to_vec(),
        language: "yaml".into(),
        ..Default::default()
    };
    // (A build arg nothing reads is reported, never an error, as in Dockerfile builds.)
    let unconsumed = crate::lint::unconsumed_build_args(spec, build_args.keys().map(String::as_str))
        .filter(|_| config.enabled("unconsumed-build-arg"));
    for d in lints.into_iter().chain(unconsumed) {
        // Every warning carries a range (a warning about the whole file points at line 1).
        let range = LineRange::of_or_first_line(&spec.file, d.span);
        let rule = d.rule.unwrap_or("lint");
        let warning = super::Warning {
            vertex_digest: vertex.to_string(),
            level: 1,
            short: crate::lint::short(&d, &spec.file),
            detail: d.help.clone().into_iter().collect(),
            url: crate::lint::rule_url(rule),
            source: Some(source.clone()),
            ranges: vec![range.into()],
        };
        if let Err(e) = client.warn(warning).await {
            eprintln!("decant: sending a warning failed: {e}");
        }
    }
    Ok(())
}

/// Resolves the plan's images and gathers what lowering needs from the options and the daemon.
async fn lower_inputs(
    client: &Client,
    opts: &FrontendOpts,
    read: &Sources,
    plan: &crate::plan::Plan,
) -> Result<lower::Inputs, BuildError> {
    let caps = &read.caps;
    let resolve_mode = opts.image_resolve_mode()?;
    // Resolve every image at once.
    let mut resolving = tokio::task::JoinSet::new();
    for (reference, platform) in plan.images() {
        let params = ResolveImageParams {
            reference: reference.to_string(),
            platform: Some(pb::Platform::from(&platform)),
            resolve_mode,
            log_name: Some(format!("[internal] load metadata for {reference}")),
            ..Default::default()
        };
        let client = client.clone();
        resolving.spawn(async move { (reference, platform, client.resolve_image_config(params).await) });
    }
    let images = async {
        let mut images = BTreeMap::new();
        while let Some(joined) = resolving.join_next().await {
            let (reference, platform, resolved) =
                joined.map_err(|e| BuildError::Other(format!("resolving an image failed: {e}")))?;
            // An image that cannot be resolved is the spec's error, at the line that names it.
            let resolved = match (resolved, plan.image_span(&reference)) {
                (Ok(r), _) => r,
                (Err(e), Some(span)) => {
                    let d = crate::diag::Diagnostic::error(span, format!("cannot resolve image `{reference}`: {e}"));
                    return Err(BuildError::Spec(Diagnostics::new(plan.file.clone(), vec![d])));
                }
                (Err(e), None) => return Err(e.into()),
            };
            let answer = super::sources::answer(&reference, &format!("image {reference}"), &resolved)?;
            let image = BaseImage { digest: answer.digest, reference: answer.reference, config: answer.config };
            images.insert((reference, platform), image);
        }
        Ok::<_, BuildError>(images)
    };
    // Named contexts resolve at the same time as the images.
    let named_contexts = sources::named_contexts(client, opts, plan, &read.client_inputs, resolve_mode);
    let (images, named_contexts) = tokio::join!(images, named_contexts);
    let (images, named_contexts) = (images?, named_contexts?);
    Ok(lower::Inputs {
        context_name: opts.context_key().to_string(),
        session_id: Some(opts.session_id_for(opts.context_key()).to_string()).filter(|s| !s.is_empty()),
        exclude_patterns: Vec::new(),
        images,
        no_cache: opts.no_cache(),
        network: opts.force_network_mode()?.forced(),
        hostname: opts.hostname().filter(|h| !h.is_empty()).map(str::to_string),
        extra_hosts: opts.add_hosts()?.into_iter().map(|h| (h.host, h.ip.to_string())).collect(),
        labels: opts.labels(),
        resolve_mode,
        features: lower::Features {
            merge_op: caps.has_llb(cap::MERGE_OP),
            copy_mode_string: caps.has_llb(llb::MODE_STRING_CAP) || caps.has_llb(llb::MODE_STRING_SINCE_CAP),
            git_checksum: caps.has_llb(llb::GIT_CHECKSUM_CAP),
        },
        run: super::run_opts::run_options(opts, caps)?,
        context: read.context_input.clone(),
        named_contexts,
    })
}

pub use crate::dockerignore::parse as parse_dockerignore;
