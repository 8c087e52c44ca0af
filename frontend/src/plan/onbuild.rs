//! `ONBUILD` triggers, run as a Dockerfile build runs them: before the first instruction of
//! each stage that starts from an image (or named context) with triggers, or from a stage of
//! the spec with `onbuild`.
//!
//! The triggers are Dockerfile instructions. They go through `decant convert` (as the body of a
//! one-stage Dockerfile on `scratch`), the spec it writes is planned, and the steps of that plan
//! are put first in the stage, each pointing at the stage's `from:` (the triggers are not in the
//! spec; the Dockerfile frontend points them at the `FROM` line too). The image settings they
//! make (`CMD`, `EXPOSE`, `LABEL`, ...) apply unless the stage sets its own.
//!
//! An `ARG` a trigger declares has the value a Dockerfile gives it: the build's `--build-arg`,
//! else the trigger's default, else (without one) the spec's value of an arg of that name. It is
//! in scope for the triggers only: a stage whose own steps or settings name it (and no trigger's
//! `ENV` sets it) is refused, as a Dockerfile would give them the arg.
//!
//! Only the base images are known after the plan (their configs come from BuildKit), so this
//! runs between resolving them and lowering. A trigger that reads an image or stage of its own
//! (`COPY --from=...`), or that `convert` cannot convert, fails the build at the stage's `from:`.

use std::collections::{BTreeMap, HashMap};

use super::{
    mentioned_vars, mentions_var, BuildOptions, CommandLine, Plan, RuntimeConfig, Source, Stage, StepKind, Word,
};
use crate::convert::{self, ConvertOptions, NoteKind};
use crate::diag::{Diagnostic, Diagnostics};

/// `plan` with the `ONBUILD` triggers of each stage's base image or named context run first in
/// it. `triggers` gives a stage's base (its name, for messages) and its triggers.
pub fn run_triggers<'a>(
    plan: Plan,
    opts: &BuildOptions,
    triggers: impl Fn(&Stage) -> Option<(String, &'a [String])>,
) -> Result<Plan, Diagnostics> {
    run(plan, opts, |stage| match stage.base {
        Source::Image { .. } | Source::Named { .. } => triggers(stage).map(|(b, t)| (b, t.to_vec())),
        _ => None,
    })
}

/// `plan` with the `onbuild` of each stage that another starts from run first in that one (the
/// plan's own step: these are known without BuildKit).
pub(super) fn run_stage_triggers(plan: Plan, opts: &BuildOptions) -> Result<Plan, Diagnostics> {
    let of_stages: HashMap<String, Vec<String>> = plan
        .stages
        .iter()
        .filter(|s| !s.config.onbuild.is_empty())
        .map(|s| (s.name.clone(), s.config.onbuild.clone()))
        .collect();
    if of_stages.is_empty() {
        return Ok(plan);
    }
    run(plan, opts, |stage| match &stage.base {
        Source::Stage { name } => of_stages.get(name).map(|t| (format!("stage `{name}`"), t.clone())),
        _ => None,
    })
}

fn run(
    mut plan: Plan,
    opts: &BuildOptions,
    triggers: impl Fn(&Stage) -> Option<(String, Vec<String>)>,
) -> Result<Plan, Diagnostics> {
    let mut diags = Vec::new();
    let file = plan.file.clone();
    for stage in &mut plan.stages {
        let Some((base, list)) = triggers(stage).filter(|(_, t)| !t.is_empty()) else { continue };
        let line = file.position(stage.from_span.start).line;
        if let Err(d) = prepend(stage, line, &base, &list, opts, &plan.args) {
            diags.push(d);
        }
    }
    match diags.is_empty() {
        true => Ok(plan),
        false => Err(Diagnostics::new(plan.file.clone(), diags)),
    }
}

/// The triggers of `base`, planned and put first in `stage`.
fn prepend(
    stage: &mut Stage,
    from_line: u32,
    base: &str,
    triggers: &[String],
    opts: &BuildOptions,
    spec_args: &BTreeMap<String, String>,
) -> Result<(), Diagnostic> {
    let at = stage.from_span;
    let fail = |what: String| {
        Diagnostic::error(at, format!("the ONBUILD triggers of {base} cannot run in decant: {what}"))
            .label("a Dockerfile build runs them here")
            .help("build on an image without them, or write what they do as this stage's steps")
    };
    let dockerfile: String = std::iter::once("FROM scratch\n".to_string())
        .chain(triggers.iter().map(|t| format!("{}\n", t.trim())))
        .collect();
    let copts = ConvertOptions { file_name: format!("{base} ONBUILD"), ..ConvertOptions::default() };
    // Line 1 is the `FROM`; trigger i is on line i + 2.
    let trigger = |line: usize| triggers.get(line.saturating_sub(2)).map_or("", |t| t.trim());
    let converted =
        convert::convert(&dockerfile, &copts).map_err(|e| fail(format!("`{}`: {}", trigger(e.loc.line), e.message)))?;
    if let Some(n) = converted.notes.iter().find(|n| !matches!(n.kind, NoteKind::Differs)) {
        return Err(fail(format!("`{}`: {}", trigger(n.loc.line), n.message)));
    }
    let spec = crate::spec::parse_spec(&copts.file_name, &converted.yaml)
        .map_err(|d| fail(d.items.first().map_or_else(String::new, |d| d.message.clone())))?;
    // The triggers' args: the build's value, else the trigger's default, else the spec's value.
    let build_args = (spec.args.iter())
        .filter_map(|a| {
            let name = &a.name.value;
            let value = match (opts.build_args.get(name), &a.default) {
                (Some(v), _) => v,
                (None, Some(_)) => return None,
                (None, None) => spec_args.get(name)?,
            };
            Some((name.clone(), value.clone()))
        })
        .collect();
    let trigger_opts = BuildOptions {
        target: None,
        build_args,
        build_platform: opts.build_platform.clone(),
        target_platform: Some(stage.platform.clone()),
        all_stages: false,
        named_contexts: Default::default(),
    };
    let planned = super::resolve(&spec, &trigger_opts)
        .map_err(|d| fail(d.items.first().map_or_else(String::new, |d| d.message.clone())))?;
    if let Some((image, _)) = planned.images().into_iter().next() {
        return Err(fail(format!("a trigger reads the image `{image}`")));
    }
    let Some(triggered) = planned.stages.into_iter().next() else { return Ok(()) };
    if let Some(other) = triggered.depends_on.first() {
        return Err(fail(format!("a trigger reads the stage `{other}`")));
    }
    // A Dockerfile's later instructions see a trigger's ARG, unless a trigger's ENV set it.
    let env_set: Vec<String> = (triggered.steps.iter())
        .filter_map(|s| match &s.kind {
            StepKind::Env { vars } => Some(vars.iter().map(|(k, _)| k.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    let set_by_env = |name: &str| env_set.iter().any(|k| k == name);
    let own = serde_json::to_string(&(&stage.steps, &stage.config)).unwrap_or_default();
    if let Some(a) = spec.args.iter().find(|a| !set_by_env(&a.name.value) && mentions_var(&own, &a.name.value)) {
        let name = &a.name.value;
        return Err(fail(format!(
            "`ARG {name}`: this stage reads `{name}`, which a Dockerfile gives the trigger's arg and decant \
             keeps to the triggers"
        )));
    }
    let mut steps = triggered.steps;
    // A trigger's run sees the triggers' args it mentions (and those every run gets), which the
    // spec's plan does not know: each is written in its env, unless a trigger's ENV set it.
    for s in &mut steps {
        let StepKind::Run(run) = &mut s.kind else { continue };
        let mentioned: Vec<&str> = match &run.command {
            CommandLine::Shell(cmd) => mentioned_vars(cmd).collect(),
            CommandLine::Exec(args) => args.iter().flat_map(|a| mentioned_vars(a)).collect(),
        };
        for (name, value) in &planned.args {
            let seen = mentioned.contains(&name.as_str()) || planned.env_args.contains(name);
            if seen && !planned.unset_args.contains(name) && !set_by_env(name) && run.env.iter().all(|(k, _)| k != name)
            {
                run.env.push((name.clone(), Word::literal(value.clone())));
            }
        }
    }
    for s in &mut steps {
        s.span = at;
        s.line = from_line;
        s.trigger = true;
    }
    steps.append(&mut stage.steps);
    stage.steps = steps;
    stage.config = merged(triggered.config, std::mem::take(&mut stage.config));
    if stage.shell.is_none() {
        stage.shell = triggered.shell;
    }
    Ok(())
}

/// The stage's own settings over those its base's triggers made, as the later instruction
/// wins in a Dockerfile; ports, volumes and labels add up.
fn merged(triggers: RuntimeConfig, own: RuntimeConfig) -> RuntimeConfig {
    let mut expose = triggers.expose;
    expose.extend(own.expose.into_iter().filter(|p| !expose.contains(p)).collect::<Vec<_>>());
    let mut volumes = triggers.volumes;
    volumes.extend(own.volumes.into_iter().filter(|v| !volumes.contains(v)).collect::<Vec<_>>());
    let mut labels = triggers.labels;
    labels.extend(own.labels);
    // A later ENTRYPOINT drops an earlier CMD.
    let cmd = match own.entrypoint.is_some() {
        true => own.cmd,
        false => own.cmd.or(triggers.cmd),
    };
    RuntimeConfig {
        user: own.user.or(triggers.user),
        cmd,
        entrypoint: own.entrypoint.or(triggers.entrypoint),
        expose,
        healthcheck: own.healthcheck.or(triggers.healthcheck),
        labels,
        volumes,
        stop_signal: own.stop_signal.or(triggers.stop_signal),
        onbuild: own.onbuild,
    }
}
