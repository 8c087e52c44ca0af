//! The frontend run: BuildKit started us; read the spec, compile it, solve, return.
//!
//! Every failure ends in exactly one `Return` (with an error status that names the spec file
//! and line where there is one), then the process exits.

use std::collections::BTreeMap;
use std::process::ExitCode;

use super::errors::{self, code, ErrorSource};
use super::sources;
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
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("decant: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    // Exit at once: BuildKit keeps our stdin open, and nothing is left to clean up.
    std::process::exit(code)
}

async fn run() -> i32 {
    let opts = FrontendOpts::from_env();
    let mut client = match Client::connect_stdio().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("decant: cannot talk to BuildKit: {e}");
            return 1;
        }
    };
    let outcome = match opts {
        Ok(opts) => build(&mut client, &opts).await,
        Err(e) => Err(errors::status(code::INVALID_ARGUMENT, e.to_string())),
    };
    let returned = match outcome {
        Ok(result) => client.return_result(result).await,
        Err(status) => client.return_error(status).await,
    };
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
pub(crate) async fn build(client: &mut Client, opts: &FrontendOpts) -> Result<FrontendResult, pb::Status> {
    let caps = client.ping().await.map_err(gateway_status)?.clone();
    sources::check_frontend_caps(opts)?;
    if let Some(id) = opts.request_id() {
        return super::subrequests::handle(client, opts, id).await;
    }
    let client_inputs = sources::inputs(client).await?;
    let client_inputs = super::remote_context::with_remote_context(client, opts, client_inputs).await?;
    let context_input = sources::context_input(opts, &client_inputs)?;
    // Independent round trips to the daemon, so at the same time. A context that is not the
    // client's directory has no .dockerignore to read.
    let context_ignore = async {
        match context_input {
            Some(_) => Vec::new(),
            None => read_dockerignore(client, opts).await,
        }
    };
    let (spec_file, context_ignore) = tokio::join!(read_spec(client, opts, &client_inputs), context_ignore);
    let spec_file = spec_file?;
    // A context passed as an input is used as is: no .dockerignore.
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

    let (spec, parse_errors) = crate::spec::parse_spec_partial(&spec_file.name, &spec_file.text);
    if let (Some(spec), true) = (&spec, parse_errors.items.is_empty()) {
        warn_lints(client, spec, &spec_file.vertex).await?;
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
        let plan =
            compile::plan_parsed(spec.as_ref(), &parse_errors, &build_opts).map_err(|d| diagnostics_status(&d))?;
        let inputs =
            lower_inputs(client, opts, &caps, &plan, excludes.clone(), &client_inputs, context_input.clone()).await?;
        let lowered = lower::lower(&plan, &inputs).map_err(|d| diagnostics_status(&d))?;
        let def = lowered.definition();
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
async fn warn_lints(client: &Client, spec: &crate::spec::Spec, vertex: &str) -> Result<(), pb::Status> {
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
    for d in lints {
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
        features: lower::Features { merge_op: caps.has_llb("mergeop") },
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
    let explicit = opts.get("filename").filter(|f| !f.is_empty() && *f != ".");
    let candidates: Vec<String> = match explicit {
        Some(f) => vec![f.to_string()],
        None => DEFAULT_FILENAMES.iter().map(|s| s.to_string()).collect(),
    };
    let mut follow: Vec<String> = Vec::new();
    for c in &candidates {
        follow.push(c.clone());
        follow.push(format!("{c}.dockerignore"));
    }
    let key = opts.dockerfile_key();
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
    // The client may pass the spec's directory as a frontend input instead of a local; with
    // `dockerfilekey` the spec comes from that local whatever the inputs hold (buildx sets it
    // for `dockerfile-inline` and stdin specs while the context input holds something else).
    let definition = match inputs.get(key).filter(|_| !opts.has_dockerfile_key()) {
        Some(def) => def.clone(),
        None => llb::marshal(&local),
    };
    // Warnings attach to the vertex that loaded the spec (the last op before the terminal one).
    let vertex = definition.def.len().checked_sub(2).map(|i| llb::digest_of(&definition.def[i])).unwrap_or_default();
    let definition = llb::encode(&definition);
    let solved = client.solve(SolveParams { definition, ..Default::default() }).await.map_err(gateway_status)?;
    let mut last_err = None;
    for name in &candidates {
        match client.read_file(&solved.id, name, None).await {
            Ok(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| errors::status(code::INVALID_ARGUMENT, format!("{name} is not UTF-8 text")))?;
                let ignore = client
                    .read_file(&solved.id, &format!("{name}.dockerignore"), None)
                    .await
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                return Ok(SpecFile { name: name.clone(), text, ignore, vertex });
            }
            Err(e) => last_err = Some(e),
        }
    }
    let detail = last_err.map(|e| e.to_string()).unwrap_or_default();
    Err(errors::status(code::NOT_FOUND, format!("cannot read the build spec ({}): {detail}", candidates.join(" or "))))
}

/// The context's `.dockerignore` patterns (none when it has no such file).
async fn read_dockerignore(client: &Client, opts: &FrontendOpts) -> Vec<String> {
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
    );
    let Ok(local) = local else { return Vec::new() };
    let Ok(solved) =
        client.solve(SolveParams { definition: llb::encode(&llb::marshal(&local)), ..Default::default() }).await
    else {
        return Vec::new();
    };
    match client.read_file(&solved.id, ".dockerignore", None).await {
        Ok(bytes) => parse_dockerignore(&String::from_utf8_lossy(&bytes)),
        Err(_) => Vec::new(),
    }
}

/// Parses `.dockerignore` as Docker does: comments and blank lines skipped, paths cleaned.
pub fn parse_dockerignore(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (neg, pat) = match line.strip_prefix('!') {
            Some(p) => ("!", p.trim()),
            None => ("", line),
        };
        let cleaned = clean(pat);
        let cleaned = cleaned.strip_prefix('/').unwrap_or(&cleaned).to_string();
        if !cleaned.is_empty() {
            out.push(format!("{neg}{cleaned}"));
        }
    }
    out
}

/// `filepath.Clean` for a pattern: folds `.`, `..` and repeated slashes.
fn clean(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

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
    fn dockerignore_is_parsed_like_docker() {
        let text = "\u{feff}# comment\n\n  *.log \n/target/\n!target/keep\n./a/../b//c\n#x\n";
        assert_eq!(parse_dockerignore(text), ["*.log", "target", "!target/keep", "b/c"]);
    }

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
