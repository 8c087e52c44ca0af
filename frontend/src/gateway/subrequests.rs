//! Subrequests (`requestid`): answers about the spec instead of a build, so that
//! `docker buildx build --call targets|outline|check` work.

use base64::Engine as _;
use serde_json::{json, Value};

use super::failure::BuildError;
use super::spec_source::{read_spec, SpecFile};
use super::{Client, FrontendOpts, FrontendResult};
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::plan::{BuildOptions, Mount, StepKind};
use crate::sourcemap::LineRange;
use crate::spec::{self, Spec};
use crate::{lint, plan};

const DESCRIBE: &str = "frontend.subrequests.describe";
const OUTLINE: &str = "frontend.outline";
const TARGETS: &str = "frontend.targets";
const LINT: &str = "frontend.lint";

/// Answers subrequest `id`.
pub(crate) async fn handle(client: &Client, opts: &FrontendOpts, id: &str) -> Result<FrontendResult, BuildError> {
    match id {
        DESCRIBE => Ok(describe()),
        OUTLINE | TARGETS | LINT => {
            let inputs = super::sources::inputs(client).await?;
            let inputs = super::remote_context::with_remote_context(client, opts, inputs).await?;
            let file = read_spec(client, opts, &inputs).await?;
            match id {
                TARGETS => {
                    let spec = spec::parse_spec(&file.name, &file.text)?;
                    Ok(targets(&spec))
                }
                OUTLINE => {
                    let spec = spec::parse_spec(&file.name, &file.text)?;
                    let bopts = BuildOptions {
                        target: opts.target().filter(|t| !t.is_empty()).map(str::to_string),
                        build_args: opts.build_args(),
                        ..Default::default()
                    };
                    let p = plan::resolve(&spec, &bopts)?;
                    Ok(outline(&spec, &p))
                }
                _ => Ok(lint_result(&file, &lint_build_options(opts)?)),
            }
        }
        other => Err(BuildError::Subrequest(other.to_string())),
    }
}

fn result(json_value: Value, text: String) -> FrontendResult {
    FrontendResult::metadata_only()
        .with_metadata("result.json", serde_json::to_vec(&json_value).unwrap_or_default())
        .with_metadata("result.txt", text)
        .with_metadata("version", "1.0.0")
}

fn describe() -> FrontendResult {
    let reqs = [
        (DESCRIBE, "List the subrequests this frontend answers"),
        (OUTLINE, "List the args, secrets, SSH sockets and caches a build uses"),
        (TARGETS, "List the stages of the spec"),
        (LINT, "Check the spec and report warnings"),
    ];
    let list: Vec<Value> = reqs
        .iter()
        .map(|(name, desc)| {
            json!({"name": name, "version": "1.0.0", "type": "rpc", "description": desc, "opts": [{"name": "target", "description": "the stage to describe"}], "metadata": [{"name": "result.json"}, {"name": "result.txt"}]})
        })
        .collect();
    let text = reqs.iter().map(|(n, d)| format!("{n:<32}{d}\n")).collect::<String>();
    result(Value::Array(list), format!("NAME{:<28}DESCRIPTION\n{text}", ""))
}

fn location(file: &SourceFile, span: Span) -> Value {
    let LineRange { start: s, end: e } = LineRange::of(file, span);
    json!({"sourceIndex": 0, "ranges": [{"start": {"line": s.line, "character": s.column}, "end": {"line": e.line, "character": e.column}}]})
}

fn sources(file: &SourceFile) -> Value {
    json!([base64::engine::general_purpose::STANDARD.encode(file.text.as_bytes())])
}

fn targets(spec: &Spec) -> FrontendResult {
    let last = spec.stages.len().saturating_sub(1);
    let mut text = String::from("TARGET\tDESCRIPTION\n");
    let list: Vec<Value> = spec
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let desc = s.description.as_ref().map(|d| d.value.clone()).unwrap_or_default();
            text.push_str(&format!("{}{}\t{desc}\n", s.name.value, if i == last { " (default)" } else { "" }));
            let mut t = json!({"name": s.name.value, "location": location(&spec.file, s.name.span)});
            if i == last {
                t["default"] = json!(true);
            }
            if !desc.is_empty() {
                t["description"] = json!(desc);
            }
            if let Some(from) = &s.from {
                t["base"] = json!(from.value);
            }
            t
        })
        .collect();
    result(json!({"targets": list, "sources": sources(&spec.file)}), text)
}

/// The target's parameters, as the Dockerfile frontend's outline gives them: the args the
/// target and the stages it needs use (with the value the first of them sees: the target's own
/// `args:` value, else the build's), and their secrets, SSH agents and caches, each once, in
/// document order.
fn outline(spec: &Spec, p: &plan::Plan) -> FrontendResult {
    let mut text = String::from("BUILD ARG\tVALUE\tDESCRIPTION\n");
    let args: Vec<Value> = used_args(spec, p)
        .into_iter()
        .map(|(a, value)| {
            let desc = a.description.as_ref().map(|d| d.value.clone()).unwrap_or_default();
            text.push_str(&format!("{}\t{value}\t{desc}\n", a.name.value));
            let mut v = json!({"name": a.name.value, "value": value, "location": location(&spec.file, a.name.span)});
            if !desc.is_empty() {
                v["description"] = json!(desc);
            }
            v
        })
        .collect();
    // (line, name, entry): each name once, at its first place in the document.
    let (mut secrets, mut ssh, mut caches) = (Vec::new(), Vec::new(), Vec::new());
    for stage in &p.stages {
        for step in &stage.steps {
            let StepKind::Run(run) = &step.kind else { continue };
            let loc = location(&spec.file, step.span);
            for m in &run.mounts {
                match m {
                    Mount::Secret { id, required, .. } => {
                        secrets.push((step.span.start, id, json!({"name": id, "required": required, "location": loc})))
                    }
                    Mount::Ssh { id, required, .. } => {
                        ssh.push((step.span.start, id, json!({"name": id, "required": required, "location": loc})))
                    }
                    Mount::Cache { id, .. } => caches.push((step.span.start, id, json!({"ID": id, "location": loc}))),
                    _ => {}
                }
            }
        }
    }
    let [secrets, ssh, caches] = [secrets, ssh, caches].map(first_by_name);
    let mut value = json!({"name": p.target, "args": args, "secrets": secrets, "ssh": ssh, "cache": caches, "sources": sources(&spec.file)});
    if let Some(d) = p.stage(&p.target).and_then(|s| s.description.as_ref()) {
        value["description"] = json!(d);
    }
    result(value, text)
}

/// Each name's first entry, in document order.
fn first_by_name(mut entries: Vec<(usize, &String, Value)>) -> Vec<Value> {
    entries.sort_by_key(|(at, _, _)| *at);
    let mut seen = std::collections::BTreeSet::new();
    entries.into_iter().filter(|(_, name, _)| seen.insert(name.as_str())).map(|(_, _, v)| v).collect()
}

/// The declared args the planned stages use, in declaration order, each with the value the
/// first stage that uses it sees (the target first). An arg is used when a stage's text
/// mentions it (`$NAME`, `${NAME...}`), when it is `env: true` and a stage runs something, or
/// when the default of a used arg mentions it.
fn used_args<'s>(spec: &'s Spec, p: &plan::Plan) -> Vec<(&'s spec::ArgDecl, String)> {
    let texts = stage_texts(spec);
    // The target first, then the stages it needs.
    let order = p.stages.iter().rev();
    let runs = p.stages.iter().any(|s| s.steps.iter().any(|st| matches!(st.kind, StepKind::Run(_))));
    let mut used: std::collections::BTreeMap<&str, String> = std::collections::BTreeMap::new();
    for stage in order {
        let Some(text) = texts.get(stage.name.as_str()) else { continue };
        let mentioned: std::collections::BTreeSet<&str> = plan::mentioned_vars(text).collect();
        for a in &spec.args {
            let name = a.name.value.as_str();
            let reaches = mentioned.contains(name) || (runs && a.env.as_ref().is_some_and(|e| e.value));
            if reaches && !used.contains_key(name) {
                let value = stage.args.get(name).or_else(|| p.args.get(name)).cloned().unwrap_or_default();
                used.insert(name, value);
            }
        }
    }
    // Defaults that mention other args make those used too (with the build's value).
    loop {
        let more: Vec<&str> = spec
            .args
            .iter()
            .filter(|a| used.contains_key(a.name.value.as_str()))
            .filter_map(|a| a.default.as_ref())
            .flat_map(|d| plan::mentioned_vars(&d.value))
            .filter(|n| !used.contains_key(n) && spec.args.iter().any(|a| a.name.value == *n))
            .collect();
        if more.is_empty() {
            break;
        }
        for n in more {
            let value = p.args.get(n).cloned().unwrap_or_default();
            let name = spec.args.iter().find(|a| a.name.value == n).map_or(n, |a| a.name.value.as_str());
            used.insert(name, value);
        }
    }
    spec.args.iter().filter_map(|a| used.get(a.name.value.as_str()).map(|v| (a, v.clone()))).collect()
}

/// Each stage's text: from its name to the next stage's name, or to the next top-level key
/// decant knows of after it (`args:` written after `stages:`), or to the end of the file.
fn stage_texts(spec: &Spec) -> std::collections::BTreeMap<&str, &str> {
    let text = spec.file.text.as_str();
    let starts: Vec<usize> = spec.stages.iter().map(|s| s.name.span.start).collect();
    let mut out = std::collections::BTreeMap::new();
    for (i, stage) in spec.stages.iter().enumerate() {
        let start = starts[i];
        let end = starts.get(i + 1).copied().unwrap_or_else(|| {
            let later_args = spec.args.iter().map(|a| a.name.span.start).filter(|&a| a > start).min();
            later_args.map_or(text.len(), |a| text[..a].rfind("\nargs:").unwrap_or(a))
        });
        out.insert(stage.name.value.as_str(), text.get(start..end.max(start)).unwrap_or(""));
    }
    out
}

/// The build `--call check` checks: the one the user asked for (`target`, build args, named
/// contexts), not the default one.
fn lint_build_options(opts: &FrontendOpts) -> Result<BuildOptions, BuildError> {
    Ok(BuildOptions {
        target: opts.target().filter(|t| !t.is_empty()).map(str::to_string),
        build_args: opts.build_args(),
        named_contexts: super::sources::named_context_names(opts)?,
        ..Default::default()
    })
}

fn lint_result(file: &SpecFile, build: &BuildOptions) -> FrontendResult {
    let source = SourceFile::new(file.name.clone(), file.text.clone());
    let warning = |d: &Diagnostic| {
        let rule = d.rule.unwrap_or("");
        let description = lint::RULES.iter().find(|(r, _)| *r == rule).map(|(_, d)| *d).unwrap_or("");
        // buildx reads `location` without a nil check: a warning about the whole file points
        // at its first line.
        json!({"ruleName": rule, "description": description, "url": lint::rule_url(rule), "detail": d.message, "location": location(&source, d.span.unwrap_or_default())})
    };
    let (warnings, build_error) = match spec::parse_spec(&file.name, &file.text) {
        Ok(s) => {
            let w: Vec<Value> = lint::lint_configured(&s).0.iter().map(warning).collect();
            let err = plan::resolve(&s, build).err().map(|d| {
                let first = d.errors().next().cloned();
                json!({"message": d.summary(), "location": first.and_then(|f| f.span).map(|sp| location(&source, sp))})
            });
            (w, err)
        }
        Err(d) => {
            let first = d.errors().next().cloned();
            (
                Vec::new(),
                Some(
                    json!({"message": d.summary(), "location": first.and_then(|f| f.span).map(|sp| location(&source, sp))}),
                ),
            )
        }
    };
    let mut text = String::new();
    for w in &warnings {
        text.push_str(&format!("{}: {}\n", w["ruleName"].as_str().unwrap_or(""), w["detail"].as_str().unwrap_or("")));
    }
    if let Some(e) = &build_error {
        text.push_str(&format!("error: {}\n", e["message"].as_str().unwrap_or("")));
    }
    if text.is_empty() {
        text.push_str("Check complete, no warnings found.\n");
    }
    let status = if warnings.is_empty() && build_error.is_none() { "0" } else { "1" };
    let mut value = json!({"warnings": warnings, "sources": [{"filename": file.name, "data": base64::engine::general_purpose::STANDARD.encode(file.text.as_bytes()), "language": "yaml"}]});
    if let Some(e) = build_error {
        value["buildError"] = e;
    }
    result(value, text).with_metadata("result.statuscode", status)
}
