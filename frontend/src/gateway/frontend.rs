//! The frontend run: BuildKit started us; read the spec, compile it, solve, return.
//!
//! Every failure ends in exactly one `Return` (with an error status that names the spec file
//! and line where there is one), then the process exits.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use super::errors::{self, code, ErrorSource};
use super::sources;
use super::timings::{self, Timings};
use super::{
    pb, Client, FrontendOpts, FrontendResult, GatewayError, NetworkMode, NoCache, ResolveImageParams, SolveParams,
};
use crate::compile;
use crate::diag::Diagnostics;
use crate::image::ImageConfig;
use crate::llb::{self, OpMeta};
use crate::lower::{self, BaseImage};
use crate::plan::{BuildOptions, Network, Platform};

/// Names tried, in order, when the client does not say which file to read.
const DEFAULT_FILENAMES: &[&str] = &["decant.yaml", "Dockerfile"];

/// Runs the frontend conversation on stdin/stdout and exits.
pub fn main() -> ExitCode {
    let origin = Instant::now();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("decant: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(origin));
    // Exit at once: BuildKit keeps our stdin open, and nothing is left to clean up.
    std::process::exit(code)
}

/// The benchmark's floor (`decant frontend-noop`): connect and return an empty result at once,
/// so that a build through it costs only what starting any frontend image costs. Its own time
/// goes to stderr (the daemon log) as `decant noop: total: N ms`.
pub fn noop_main() -> ExitCode {
    let origin = Instant::now();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("decant: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
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
        Err(e) => Err(errors::status(code::INVALID_ARGUMENT, e.to_string())),
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
        Err(status) => client.return_error(status).await,
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

fn gateway_status(e: GatewayError) -> pb::Status {
    e.to_status()
}

fn opt_status(e: super::OptsError) -> pb::Status {
    errors::status(code::INVALID_ARGUMENT, e.to_string())
}

/// The whole build, from options to the result to return.
#[cfg(test)]
pub(crate) async fn build(client: &mut Client, opts: &FrontendOpts) -> Result<FrontendResult, pb::Status> {
    build_timed(client, opts, &Timings::new(Instant::now())).await
}

/// [`build`], recording the time of each phase in `t`.
///
/// The first round trips do not depend on each other, so they go out together: Ping, Inputs,
/// and the solves of the spec's and the context's `.dockerignore` local sources (lazy: nothing
/// is transferred before a read). The reads wait for Inputs only (a client's input can replace
/// the spec's source or the context), not for Ping; the compile waits for both.
async fn build_timed(client: &mut Client, opts: &FrontendOpts, t: &Timings) -> Result<FrontendResult, pb::Status> {
    if let Some(id) = opts.request_id() {
        t.time("ping", client.ping()).await.map_err(gateway_status)?;
        sources::check_frontend_caps(opts)?;
        return super::subrequests::handle(client, opts, id).await;
    }
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
        let decoded = raw_inputs.map_err(gateway_status).and_then(sources::decode_inputs);
        let client_inputs = decoded.as_ref().cloned().unwrap_or_default();
        // A remote context adds itself and the spec's directory to the inputs.
        let client_inputs = super::remote_context::with_remote_context(&early, opts, client_inputs).await?;
        let context_input = sources::context_input(opts, &client_inputs);
        let (spec_file, context_ignore) = tokio::join!(
            async {
                // The client's `dockerfile` input replaces the local source solved above.
                // (Not with `dockerfilekey`: the spec then comes from that local whatever the inputs hold.)
                let from_input = client_inputs.contains_key(opts.dockerfile_key()) && !opts.has_dockerfile_key();
                let file = match from_input {
                    true => read_spec(&early, opts, &client_inputs).await,
                    false => local_spec.read(&early, spec_solved).await,
                };
                t.record("read spec", started);
                file
            },
            async {
                // A context passed as an input is used as is: its .dockerignore is not read.
                let ignore = match (&context_input, ignore_solved) {
                    (Ok(None), Some(solved)) => read_dockerignore(&early, &solved).await,
                    _ => Vec::new(),
                };
                t.record("read .dockerignore", started);
                ignore
            }
        );
        Ok::<_, pb::Status>((decoded, client_inputs, context_input, spec_file, context_ignore))
    };
    let (pinged, read) = tokio::join!(t.time("ping", client.ping()), read_sources);
    let caps = pinged.map_err(gateway_status)?.clone();
    let (decoded_inputs, client_inputs, context_input, spec_file, context_ignore) = read?;
    let client: &Client = client;
    sources::check_frontend_caps(opts)?;
    if caps.has_gateway(super::client::cap::FRONTEND_INPUTS) {
        decoded_inputs?;
    }
    let context_input = context_input?;
    let spec_file = spec_file?;
    t.set_vertex(&spec_file.vertex);
    let excludes = match (&context_input, &spec_file.ignore) {
        (Some(_), _) => Vec::new(),
        (None, Some(text)) => parse_dockerignore(text),
        (None, None) => context_ignore,
    };

    let build_platform = caps.build_platform().map(|p| Platform::from(&p)).unwrap_or_default();
    let mut targets = Vec::new();
    for p in opts.platforms().map_err(opt_status)? {
        targets.push(Platform::from(&p));
    }
    let multi = targets.len() > 1 || opts.multi_platform().map_err(opt_status)?;
    if targets.is_empty() {
        targets.push(build_platform.clone());
    }

    let started = Instant::now();
    let (spec, parse_errors) = crate::spec::parse_spec_partial(&spec_file.name, &spec_file.text);
    t.record("compile", started);
    if let (Some(spec), true) = (&spec, parse_errors.items.is_empty()) {
        t.time("lint warnings", warn_lints(client, spec, &spec_file.vertex, &opts.build_args())).await?;
        super::sbom::warn_sbom(client, opts, spec, &spec_file.vertex).await;
    }
    // Compile every platform first (spec errors surface before anything runs), then solve them
    // together so that BuildKit builds the platforms in parallel.
    let named_contexts = sources::named_context_names(opts)?;
    let mut builds = Vec::new();
    for target in targets {
        let build_opts = BuildOptions {
            target: opts.target().filter(|t| !t.is_empty()).map(str::to_string),
            build_args: opts.build_args(),
            build_platform: build_platform.clone(),
            target_platform: Some(target.clone()),
            all_stages: false,
            named_contexts: named_contexts.clone(),
        };
        let started = Instant::now();
        let plan =
            compile::plan_parsed(spec.as_ref(), &parse_errors, &build_opts).map_err(|d| diagnostics_status(&d))?;
        t.record("compile", started);
        let inputs = t
            .time(
                "resolve images",
                lower_inputs(client, opts, &caps, &plan, excludes.clone(), &client_inputs, context_input.clone()),
            )
            .await?;
        let started = Instant::now();
        let lowered = lower::lower(&plan, &inputs).map_err(|d| diagnostics_status(&d))?;
        let def = lowered.definition();
        t.record("compile", started);
        if let Some(m) = llb::missing_caps(&def, |cap| caps.has_llb(cap)).first() {
            return Err(errors::status(
                code::UNIMPLEMENTED,
                format!(
                    "{m}: this BuildKit does not support LLB capability `{}`; upgrade BuildKit or drop that feature",
                    m.cap
                ),
            ));
        }
        builds.push((target, def, lowered.config, lowered.base_config));
    }
    let cache_imports = opts.cache_imports().map_err(opt_status)?;
    let started = Instant::now();
    let mut solves = tokio::task::JoinSet::new();
    for (i, (_, def, _, _)) in builds.iter().enumerate() {
        let client = client.clone();
        let params =
            SolveParams { definition: llb::encode(def), cache_imports: cache_imports.clone(), ..Default::default() };
        solves.spawn(async move { (i, client.solve(params).await) });
    }
    let mut refs = vec![String::new(); builds.len()];
    while let Some(joined) = solves.join_next().await {
        let (i, solved) = joined.map_err(|e| errors::status(code::UNKNOWN, format!("a solve task failed: {e}")))?;
        refs[i] = solved.map_err(|e| with_spec_location(e.to_status(), &spec_file.name))?.id;
    }
    t.record("solve", started);
    if !multi {
        let (_, _, config, base) = &builds[0];
        let result =
            FrontendResult::single(refs.swap_remove(0)).with_metadata("containerimage.config", config.to_json());
        return Ok(super::reproducible::with_base_config(result, base.as_ref(), None));
    }
    let mut result_refs = BTreeMap::new();
    let mut platforms = Vec::new();
    let mut metadata = Vec::new();
    for ((platform, _, config, _), id) in builds.iter().zip(refs) {
        let key = platform.id();
        result_refs.insert(key.clone(), id);
        platforms.push(serde_json::json!({"ID": key, "Platform": platform}));
        metadata.push((format!("containerimage.config/{key}"), config.to_json()));
    }
    let mut result = FrontendResult::map(result_refs).with_metadata(
        "refs.platforms",
        serde_json::to_vec(&serde_json::json!({ "Platforms": platforms })).unwrap_or_default(),
    );
    for (k, v) in metadata {
        result = result.with_metadata(k, v);
    }
    for (platform, _, _, base) in &builds {
        result = super::reproducible::with_base_config(result, base.as_ref(), Some(&platform.id()));
    }
    Ok(result)
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
) -> Result<(), pb::Status> {
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
        return Err(diagnostics_status(&Diagnostics::new(spec.file.clone(), as_errors)));
    }
    if !client.caps().is_some_and(|c| c.has_gateway("gateway.warnings")) {
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
        let span = d.span.unwrap_or(crate::diag::Span { start: 0, end: 0 });
        let s = spec.file.position(span.start);
        let e = spec.file.position(span.end);
        let rule = d.rule.unwrap_or("lint");
        let warning = super::Warning {
            vertex_digest: vertex.to_string(),
            level: 1,
            short: crate::lint::short(&d, &spec.file),
            detail: d.help.clone().into_iter().collect(),
            url: crate::lint::rule_url(rule),
            source: Some(source.clone()),
            ranges: vec![errors::range((s.line as i32, s.column as i32), (e.line as i32, e.column as i32))],
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
    caps: &super::Caps,
    plan: &crate::plan::Plan,
    exclude_patterns: Vec<String>,
    client_inputs: &BTreeMap<String, crate::llb::pb::Definition>,
    context_input: Option<crate::llb::State>,
) -> Result<lower::Inputs, pb::Status> {
    let resolve_mode = opts.image_resolve_mode().map_err(opt_status)?;
    // Resolve every image at once.
    let mut resolving = tokio::task::JoinSet::new();
    for (reference, platform) in plan.images() {
        let params = ResolveImageParams {
            reference: reference.to_string(),
            platform: Some(pb::Platform::from(&platform)),
            resolve_mode,
            log_name: Some(format!("[internal] load metadata for {reference}")),
        };
        let client = client.clone();
        resolving.spawn(async move { (reference, platform, client.resolve_image_config(params).await) });
    }
    let mut images = BTreeMap::new();
    while let Some(joined) = resolving.join_next().await {
        let (reference, platform, resolved) =
            joined.map_err(|e| errors::status(code::UNKNOWN, format!("resolving an image failed: {e}")))?;
        let resolved = resolved.map_err(gateway_status)?;
        let config = ImageConfig::from_json(&resolved.config).map_err(|e| {
            errors::status(code::UNKNOWN, format!("the config of image {reference} is not valid JSON: {e}"))
        })?;
        // Pin only to a well-formed digest (an engine resolving a local-only image sends none).
        let digest = Some(resolved.digest).filter(|d| crate::plan::remote::parse_checksum(d).is_ok());
        let answered = super::sources::answered_reference(&reference, resolved.reference.as_deref())?;
        images.insert((reference, platform), BaseImage { digest, reference: answered, config });
    }
    Ok(lower::Inputs {
        context_name: opts.context_key().to_string(),
        session_id: Some(opts.session_id_for(opts.context_key()).to_string()).filter(|s| !s.is_empty()),
        exclude_patterns,
        images,
        no_cache: match opts.no_cache() {
            NoCache::None => lower::NoCache::None,
            NoCache::All => lower::NoCache::All,
            NoCache::Stages(s) => lower::NoCache::Stages(s.into_iter().collect()),
        },
        network: match opts.force_network_mode().map_err(opt_status)? {
            NetworkMode::Sandbox => None,
            NetworkMode::None => Some(Network::None),
            NetworkMode::Host => Some(Network::Host),
        },
        hostname: opts.hostname().filter(|h| !h.is_empty()).map(str::to_string),
        extra_hosts: opts.add_hosts().map_err(opt_status)?.into_iter().map(|h| (h.host, h.ip.to_string())).collect(),
        labels: opts.labels(),
        resolve_mode: Some(resolve_mode.as_str().to_string()).filter(|m| *m != "default"),
        features: lower::Features {
            merge_op: caps.has_llb("mergeop"),
            copy_mode_string: caps.has_llb(llb::MODE_STRING_CAP),
        },
        run: super::run_opts::run_options(opts, caps)?,
        context: context_input,
        named_contexts: sources::named_contexts(client, opts, plan, client_inputs, resolve_mode).await?,
    })
}

/// The spec as read from the client.
pub(crate) struct SpecFile {
    pub name: String,
    pub text: String,
    /// `<name>.dockerignore` beside the spec, which wins over the context's `.dockerignore`.
    pub ignore: Option<String>,
    /// Digest of the vertex that loaded the spec (where warnings attach).
    pub vertex: String,
}

/// Solves the `dockerfile` local source (or the client's `dockerfile` input) and reads the spec.
pub(crate) async fn read_spec(
    client: &Client,
    opts: &FrontendOpts,
    inputs: &BTreeMap<String, crate::llb::pb::Definition>,
) -> Result<SpecFile, pb::Status> {
    let source = SpecSource::new(opts, inputs)?;
    let solved = client.solve(source.solve_params()).await;
    source.read(client, solved).await
}

/// Where the spec is read from: the names to try and the definition that loads them.
struct SpecSource {
    candidates: Vec<String>,
    definition: crate::llb::pb::Definition,
}

impl SpecSource {
    /// The `dockerfile` local source (following every candidate name and its `.dockerignore`),
    /// or the client's `dockerfile` input when `inputs` has one.
    fn new(opts: &FrontendOpts, inputs: &BTreeMap<String, crate::llb::pb::Definition>) -> Result<Self, pb::Status> {
        let explicit = opts.get("filename").filter(|f| !f.is_empty() && *f != ".");
        let candidates: Vec<String> = match explicit {
            Some(f) => vec![f.to_string()],
            None => DEFAULT_FILENAMES.iter().map(|s| s.to_string()).collect(),
        };
        let key = opts.dockerfile_key();
        // The client may pass the spec's directory as a frontend input instead of a local; with
        // `dockerfilekey` the spec comes from that local whatever the inputs hold (buildx sets it
        // for `dockerfile-inline` and stdin specs while the context input holds something else).
        if let Some(def) = inputs.get(key).filter(|_| !opts.has_dockerfile_key()) {
            return Ok(SpecSource { candidates, definition: def.clone() });
        }
        let mut follow: Vec<String> = Vec::new();
        for c in &candidates {
            follow.push(c.clone());
            follow.push(format!("{c}.dockerignore"));
        }
        let local = llb::local(
            key,
            llb::LocalOpts {
                session_id: Some(opts.session_id_for(key).to_string()).filter(|s| !s.is_empty()),
                follow_paths: follow,
                shared_key_hint: Some(key.to_string()),
                ..Default::default()
            },
            OpMeta::named(format!("[internal] load build definition from {}", candidates[0])),
        )
        .map_err(|e| errors::status(code::INVALID_ARGUMENT, e.to_string()))?;
        Ok(SpecSource { candidates, definition: llb::marshal(&local) })
    }

    fn solve_params(&self) -> SolveParams {
        SolveParams { definition: llb::encode(&self.definition), ..Default::default() }
    }

    /// Reads the first candidate that exists from the solved source, with its `.dockerignore`
    /// (both at once).
    async fn read(
        &self,
        client: &Client,
        solved: Result<super::SolvedRef, GatewayError>,
    ) -> Result<SpecFile, pb::Status> {
        // Warnings attach to the vertex that loaded the spec (the last op before the terminal one).
        let def = &self.definition.def;
        let vertex = def.len().checked_sub(2).map(|i| llb::digest_of(&def[i])).unwrap_or_default();
        let solved = solved.map_err(gateway_status)?;
        let mut last_err = None;
        for name in &self.candidates {
            let ignore_name = format!("{name}.dockerignore");
            let (spec, ignore) = tokio::join!(
                client.read_file(&solved.id, name, None),
                client.read_file(&solved.id, &ignore_name, None)
            );
            match spec {
                Ok(bytes) => {
                    let text = crate::spec::decode_text(name, bytes).map_err(|d| diagnostics_status(&d))?;
                    let ignore = ignore.ok().map(|b| String::from_utf8_lossy(&b).into_owned());
                    return Ok(SpecFile { name: name.clone(), text, ignore, vertex });
                }
                Err(e) => last_err = Some(e),
            }
        }
        let detail = last_err.map(|e| e.to_string()).unwrap_or_default();
        Err(errors::status(
            code::NOT_FOUND,
            format!("cannot read the build spec ({}): {detail}", self.candidates.join(" or ")),
        ))
    }
}

/// Solves the context's `.dockerignore` local source (lazily: nothing is sent before a read);
/// `None` when that fails.
async fn solve_dockerignore_source(client: &Client, opts: &FrontendOpts) -> Option<super::SolvedRef> {
    let ctx = opts.context_key();
    let local = llb::local(
        ctx,
        llb::LocalOpts {
            session_id: Some(opts.session_id_for(ctx).to_string()).filter(|s| !s.is_empty()),
            follow_paths: vec![".dockerignore".into()],
            shared_key_hint: Some(format!("{ctx}-.dockerignore")),
            ..Default::default()
        },
        OpMeta::named("[internal] load .dockerignore"),
    )
    .ok()?;
    client.solve(SolveParams { definition: llb::encode(&llb::marshal(&local)), ..Default::default() }).await.ok()
}

/// The context's `.dockerignore` patterns from its solved source (none when it has no such file).
async fn read_dockerignore(client: &Client, solved: &super::SolvedRef) -> Vec<String> {
    match client.read_file(&solved.id, ".dockerignore", None).await {
        Ok(bytes) => parse_dockerignore(&String::from_utf8_lossy(&bytes)),
        Err(_) => Vec::new(),
    }
}

pub use crate::dockerignore::parse as parse_dockerignore;

/// A status for spec errors: every diagnostic as a `file:line:col` line, each with its source
/// range attached so BuildKit clients print the snippet.
pub(crate) fn diagnostics_status(d: &Diagnostics) -> pb::Status {
    let errors: Vec<_> = d.errors().collect();
    let message = errors.iter().map(|e| d.line_of(e)).collect::<Vec<_>>().join("\n");
    let sources: Vec<ErrorSource> = errors
        .iter()
        .filter_map(|e| {
            let span = e.span?;
            let s = d.file.position(span.start);
            let end = d.file.position(span.end.max(span.start));
            Some(ErrorSource::yaml(
                d.file.name.clone(),
                d.file.text.as_bytes().to_vec(),
                (s.line as i32, s.column as i32),
                (end.line as i32, end.column as i32),
            ))
        })
        .collect();
    errors::spec_error(message, &sources)
}

/// Prefixes a failed solve's message with the spec location BuildKit attached to it (from our
/// source map), for clients that print the frontend's message. Docker 20.10 prints BuildKit's
/// own error instead; there the vertex name (`... (decant.yaml:LINE)`) carries the line.
fn with_spec_location(mut status: pb::Status, spec_name: &str) -> pb::Status {
    let line = status.details.iter().find_map(|d| {
        if d.type_url != errors::SOURCE_TYPE_URL {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&d.value).ok()?;
        let range = v.get("ranges")?.get(0)?;
        let start = range.get("start").or_else(|| range.get("Start"))?;
        start.get("line").or_else(|| start.get("Line"))?.as_i64()
    });
    if let Some(line) = line {
        status.message = format!("{spec_name}:{line}: {}", status.message);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_solves_name_the_spec_line() {
        let detail = pb::Any {
            type_url: errors::SOURCE_TYPE_URL.into(),
            value: br#"{"info":{"filename":"decant.yaml"},"ranges":[{"start":{"Line":7,"Character":9},"end":{"Line":7,"Character":15}}]}"#.to_vec(),
        };
        let status = pb::Status { code: 2, message: "exit code: 3".into(), details: vec![detail] };
        assert_eq!(with_spec_location(status, "decant.yaml").message, "decant.yaml:7: exit code: 3");
    }
}
