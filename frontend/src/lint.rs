//! Warnings about specs that build, but probably not as meant.

use std::collections::HashSet;

use crate::diag::{Diagnostic, Span};
use crate::plan::{mentioned_vars, mentions_var};
use crate::spec::{Command, Spec, StepKind};

/// Rule ids, as `decant check` and the `frontend.lint` subrequest report them.
pub const RULES: &[(&str, &str)] = &[
    (
        "missing-syntax",
        "The first line should be `# syntax=<decant image>`, or docker build reads the file as a Dockerfile",
    ),
    ("untagged-image", "An image without a tag or digest means `:latest`, which changes under you"),
    ("unused-arg", "An arg is declared but nothing refers to it"),
];

/// Lints a parsed spec.
pub fn lint(spec: &Spec) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if spec.syntax.is_none() {
        out.push(
            Diagnostic::warning(
                "missing-syntax",
                Span { start: 0, end: spec.file.text.lines().next().map_or(0, str::len) },
                "no `# syntax=` line",
            )
            .help("start the file with `# syntax=<decant frontend image>` so `docker build -f` runs decant"),
        );
    }
    let stage_names: HashSet<&str> = spec.stages.iter().map(|s| s.name.value.as_str()).collect();
    let mut image_refs = Vec::new();
    for stage in &spec.stages {
        image_refs.extend(stage.from.iter());
        for step in &stage.steps {
            if let StepKind::Copy(c) = &step.kind {
                image_refs.extend(c.from.iter());
            }
        }
    }
    for r in image_refs {
        let v = r.value.as_str();
        let remote = crate::plan::remote::is_git(v) || crate::plan::remote::is_url(v);
        let is_image = v != "scratch" && v != "context" && !stage_names.contains(&v) && !v.contains("${") && !remote;
        let last = v.rsplit('/').next().unwrap_or(v);
        if is_image && !last.contains(':') && !v.contains('@') {
            out.push(
                Diagnostic::warning("untagged-image", r.span, format!("`{v}` has no tag: it means `{v}:latest`"))
                    .help("pin a tag or a digest"),
            );
        }
    }
    let text = &spec.file.text;
    // Every name used as `${NAME}` or `${NAME:...` anywhere, and every variable a `run` command
    // mentions: one pass over the text and one over the commands, not one per arg.
    let braced = braced_names(text);
    let mut in_commands = HashSet::new();
    for step in spec.stages.iter().flat_map(|s| &s.steps) {
        if let StepKind::Run(r) = &step.kind {
            match &r.command {
                Command::Shell(s) => in_commands.extend(mentioned_vars(&s.value)),
                Command::Exec(args, _) => in_commands.extend(args.iter().flat_map(|a| mentioned_vars(&a.value))),
            }
        }
    }
    for arg in &spec.args {
        let name = &arg.name.value;
        let used = if is_identifier(name) {
            braced.contains(name.as_str()) || in_commands.contains(name.as_str())
        } else {
            // Not a valid arg name (the plan refuses it): the slow scans, for the same answer.
            used_braced_slow(text, name)
                || spec.stages.iter().flat_map(|s| &s.steps).any(|step| match &step.kind {
                    StepKind::Run(r) => mentions(&r.command, name),
                    _ => false,
                })
        };
        if !used {
            out.push(Diagnostic::warning("unused-arg", arg.name.span, format!("arg `{name}` is never used")));
        }
    }
    out
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The identifiers written as `${NAME}` or `${NAME:` in `text`.
fn braced_names(text: &str) -> HashSet<&str> {
    let mut out = HashSet::new();
    for (i, _) in text.match_indices("${") {
        let rest = &text[i + 2..];
        let len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        if len > 0 && matches!(rest.as_bytes().get(len), Some(b'}' | b':')) {
            out.insert(&rest[..len]);
        }
    }
    out
}

fn used_braced_slow(text: &str, name: &str) -> bool {
    let braced = format!("${{{name}");
    text.match_indices(&braced).any(|(i, _)| {
        let after = text[i + braced.len()..].chars().next();
        matches!(after, Some('}' | ':'))
    })
}

fn mentions(c: &Command, name: &str) -> bool {
    match c {
        Command::Shell(s) => mentions_var(&s.value, name),
        Command::Exec(args, _) => args.iter().any(|a| mentions_var(&a.value, name)),
    }
}
