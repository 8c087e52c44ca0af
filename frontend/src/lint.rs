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
    ("check-directive", "The `# check=` directive names an unknown rule or key, or a bad value"),
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

/// Where a rule is documented (a README anchor: the rule's heading under "Checks").
pub fn rule_url(rule: &str) -> String {
    format!("README.md#{rule}")
}

/// How checks are configured: the `# check=` directive at the top of the spec, as the
/// Dockerfile's (`# check=skip=untagged-image,unused-arg;error=true`, `skip=all`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    /// Skip every rule.
    pub skip_all: bool,
    /// Rules to skip.
    pub skip: std::collections::BTreeSet<String>,
    /// Warnings fail the build.
    pub error: bool,
}

impl CheckConfig {
    /// The configuration in `spec`'s `# check=` directive, and warnings about the directive
    /// itself (unknown keys or rules, bad booleans).
    pub fn of(spec: &Spec) -> (CheckConfig, Vec<Diagnostic>) {
        let mut config = CheckConfig::default();
        let mut problems = Vec::new();
        let Some(d) = crate::spec::directives::directive(&spec.file.text, "check") else { return (config, problems) };
        let bad = |why: String| Diagnostic::warning("check-directive", d.span, why);
        for part in d.value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').map_or((part, ""), |(k, v)| (k.trim(), v.trim()));
            match key.to_ascii_lowercase().as_str() {
                "skip" => {
                    for rule in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                        if rule.eq_ignore_ascii_case("all") {
                            config.skip_all = true;
                        } else if RULES.iter().any(|(r, _)| *r == rule) {
                            config.skip.insert(rule.to_string());
                        } else {
                            let names: Vec<&str> = RULES.iter().map(|(r, _)| *r).collect();
                            problems.push(bad(format!(
                                "unknown rule `{rule}` in `# check=skip` (rules: {})",
                                names.join(", ")
                            )));
                        }
                    }
                }
                "error" => match value {
                    "1" | "t" | "T" | "true" | "TRUE" | "True" => config.error = true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => config.error = false,
                    v => problems.push(bad(format!("`error={v}` in `# check=` is not a boolean"))),
                },
                other => problems.push(bad(format!("unknown key `{other}` in `# check=` (skip, error)"))),
            }
        }
        (config, problems)
    }

    /// Whether warnings of `rule` are reported.
    pub fn enabled(&self, rule: &str) -> bool {
        !self.skip_all && !self.skip.contains(rule)
    }
}

/// Lints `spec` as its `# check=` directive says: skipped rules left out, problems with the
/// directive itself reported. Returns the configuration too (for `error=true`).
pub fn lint_configured(spec: &Spec) -> (Vec<Diagnostic>, CheckConfig) {
    let (config, mut out) = CheckConfig::of(spec);
    out.extend(lint(spec).into_iter().filter(|d| config.enabled(d.rule.unwrap_or(""))));
    (out, config)
}

/// A warning's one-line form, as the Dockerfile frontend writes its build warnings:
/// `rule: message (line N)`.
pub fn short(d: &Diagnostic, file: &crate::diag::SourceFile) -> String {
    let rule = d.rule.unwrap_or("lint");
    match d.span {
        Some(span) => format!("{rule}: {} (line {})", d.message, file.position(span.start).line),
        None => format!("{rule}: {}", d.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Spec {
        crate::spec::parse_spec("decant.yaml", text).unwrap_or_else(|d| panic!("{}", d.render()))
    }

    const BODY: &str = "args:\n  UNUSED: x\nstages:\n  app:\n    from: busybox\n";

    fn rules(text: &str) -> Vec<&'static str> {
        lint_configured(&spec(text)).0.iter().map(|d| d.rule.unwrap()).collect()
    }

    #[test]
    fn check_directive_skips_rules_and_sets_error() {
        assert_eq!(rules(&format!("# syntax=img\n{BODY}")), ["untagged-image", "unused-arg"]);
        assert_eq!(rules(&format!("# syntax=img\n# check=skip=unused-arg\n{BODY}")), ["untagged-image"]);
        assert_eq!(rules(&format!("# check=skip=all;error=true\n# syntax=img\n{BODY}")), Vec::<&str>::new());
        let (_, config) = lint_configured(&spec(&format!("# syntax=img\n# check=error=true\n{BODY}")));
        assert!(config.error);
        let got = rules(&format!("# syntax=img\n# check=skip=nosuch;error=maybe;foo=1\n{BODY}"));
        assert_eq!(got.iter().filter(|r| **r == "check-directive").count(), 3, "{got:?}");
    }

    #[test]
    fn short_form_names_rule_and_line() {
        let s = spec(&format!("# syntax=img\n{BODY}"));
        let d = &lint(&s)[0];
        assert_eq!(short(d, &s.file), "untagged-image: `busybox` has no tag: it means `busybox:latest` (line 6)");
        assert_eq!(rule_url("untagged-image"), "README.md#untagged-image");
    }
}
