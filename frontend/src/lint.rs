//! Warnings about specs that build, but probably not as meant.

use std::collections::{BTreeSet, HashSet};

use crate::diag::{did_you_mean, Diagnostic, Span};
use crate::plan::{mentioned_vars, mentions_var, value_span, Word, BUILTIN_ARGS};
use crate::spec::{self, KeyValue, Sp, Spec, StepKind};

/// Rule ids, as `decant check` and the `frontend.lint` subrequest report them.
pub const RULES: &[(&str, &str)] = &[
    (
        "missing-syntax",
        "The first line should be `# syntax=<decant image>`, or docker build reads the file as a Dockerfile",
    ),
    ("untagged-image", "An image without a tag or digest means `:latest`, which changes under you"),
    ("unused-arg", "An arg is declared but nothing refers to it"),
    ("unconsumed-build-arg", "A `--build-arg` names no declared arg, so nothing reads it"),
    (
        "undefined-var",
        "A value refers to a name that is neither an arg nor set by `env:` in the spec, and is close to one that is",
    ),
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
    for r in spec.stages.iter().flat_map(spec::Stage::froms) {
        let v = r.value.as_str();
        let remote = crate::remote::is_git(v) || crate::remote::is_url(v);
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
    // Every name a value or a command mentions (`$NAME`, `${NAME...}`): one pass over the
    // text, not one per arg.
    let mentioned: HashSet<&str> = mentioned_vars(text).collect();
    for arg in &spec.args {
        let name = &arg.name.value;
        let used = if is_identifier(name) {
            mentioned.contains(name.as_str())
        } else {
            // Not a valid arg name (the plan refuses it): the slow scan, for the same answer.
            mentions_var(text, name)
        };
        let to_every_run = arg.env.as_ref().is_some_and(|e| e.value);
        // The SBOM scan args are read by the build itself.
        let read_by_decant = [crate::plan::SBOM_SCAN_CONTEXT, crate::plan::SBOM_SCAN_STAGE].contains(&name.as_str());
        if !used && !to_every_run && !read_by_decant {
            out.push(Diagnostic::warning("unused-arg", arg.name.span, format!("arg `{name}` is never used")));
        }
    }
    out.extend(undefined_vars(spec));
    out
}

/// Build args that proxies, BuildKit or decant read without a declaration.
const IMPLICIT_BUILD_ARGS: &[&str] = &[
    "SOURCE_DATE_EPOCH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "all_proxy",
];

/// One warning naming the `--build-arg`s that no arg of the spec declares (Dockerfile builds
/// print one too: "One or more build-args were not consumed").
pub fn unconsumed_build_args<'a>(spec: &Spec, given: impl IntoIterator<Item = &'a str>) -> Option<Diagnostic> {
    let declared: BTreeSet<&str> = spec.args.iter().map(|a| a.name.value.as_str()).collect();
    let unused: Vec<&str> = given
        .into_iter()
        .filter(|n| !declared.contains(n) && !IMPLICIT_BUILD_ARGS.contains(n) && !n.starts_with("BUILDKIT_"))
        .collect();
    if unused.is_empty() {
        return None;
    }
    let list = unused.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let mut d =
        Diagnostic::warning("unconsumed-build-arg", Span::default(), format!("build args not consumed: {list}"))
            .help("declare them under `args:` to use them");
    d.span = None;
    let d = match unused.iter().find_map(|n| did_you_mean(n, declared.iter().copied()).map(|near| (n, near))) {
        Some((n, near)) => d.help(format!("declare them under `args:` to use them (`{n}`: did you mean `{near}`?)")),
        None => d,
    };
    Some(d)
}

/// Names in values that expand from the environment (`env`, `workdir`, `user`, copy paths,
/// labels, ...) that no arg and no `env:` of the spec defines, but that are close to one: likely
/// typos, which Dockerfile would also expand to nothing (its `UndefinedVar` check).
fn undefined_vars(spec: &Spec) -> Vec<Diagnostic> {
    let mut known: BTreeSet<&str> = BUILTIN_ARGS.iter().copied().collect();
    known.extend(spec.args.iter().map(|a| a.name.value.as_str()));
    let mut values: Vec<&Sp<String>> = Vec::new();
    let mut env: Vec<&KeyValue> = Vec::new();
    for stage in &spec.stages {
        env.extend(&stage.env);
        values.extend(stage.labels.iter().map(|kv| &kv.value));
        values.extend(stage.workdir.iter().chain(&stage.user).chain(&stage.stop_signal));
        values.extend(stage.expose.iter().chain(&stage.volumes));
        for step in &stage.steps {
            match &step.kind {
                StepKind::Env(kvs) => env.extend(kvs),
                StepKind::Workdir(w) | StepKind::User(w) => values.push(w),
                StepKind::Copy(c) => values.extend(c.sources.iter().chain(&c.to).chain(&c.chown)),
                StepKind::File(f) => {
                    values.extend(std::iter::once(&f.path).chain(&f.chown));
                    if f.expand.as_ref().is_some_and(|e| e.value) {
                        values.extend(&f.content);
                    }
                }
                StepKind::Run(r) => {
                    env.extend(&r.env);
                    values.extend(r.workdir.iter().chain(&r.user));
                }
            }
        }
    }
    known.extend(env.iter().map(|kv| kv.key.value.as_str()));
    values.extend(env.iter().map(|kv| &kv.value));
    let mut out = Vec::new();
    for v in values {
        let Ok(word) = Word::parse(&v.value) else { continue };
        for (name, at, len) in word.refs() {
            if known.contains(name) {
                continue;
            }
            if let Some(near) = did_you_mean(name, known.iter().copied()) {
                out.push(
                    Diagnostic::warning(
                        "undefined-var",
                        value_span(&spec.file, v, at, len),
                        format!("`{name}` is not an arg, and no `env:` in this spec sets it"),
                    )
                    .help(format!(
                        "did you mean `{near}`? (from the base image's environment it expands at build time; unset, to nothing)"
                    )),
                );
            }
        }
    }
    out
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
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
    fn untagged_images_in_copies_and_mounts() {
        let text = "# syntax=img\nstages:\n  app:\n    from: busybox:1\n    steps:\n      - copy: /x\n        from: alpine\n      \
                    - run: make\n        mounts:\n          - bind: /src\n            from: golang\n";
        let s = spec(text);
        let lines: Vec<u32> = lint(&s).iter().map(|d| s.file.position(d.span.unwrap().start).line).collect();
        assert_eq!(lines, [7, 11]);
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
    fn every_rule_is_documented_where_its_url_points() {
        let readme = include_str!("../../README.md");
        for (rule, _) in RULES {
            assert!(readme.contains(&format!("\n#### `{rule}`\n")), "README.md has no heading for `{rule}`");
        }
    }

    #[test]
    fn short_form_names_rule_and_line() {
        let s = spec(&format!("# syntax=img\n{BODY}"));
        let d = &lint(&s)[0];
        assert_eq!(short(d, &s.file), "untagged-image: `busybox` has no tag: it means `busybox:latest` (line 6)");
        assert_eq!(rule_url("untagged-image"), "README.md#untagged-image");
    }
}
