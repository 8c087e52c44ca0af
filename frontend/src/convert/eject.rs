//! `decant eject`: the Dockerfile equivalent of a spec, for leaving decant.
//!
//! Every arg is declared before the first `FROM` and again in each stage (Dockerfile args are
//! scoped per stage). What a Dockerfile cannot say as the spec does (a step's own env, workdir
//! or user) is written with the nearest equivalent and a `# decant eject:` comment.

use crate::remote::{is_git, is_url};
use crate::spec::{Command, Copy, File, KeyValue, Mount, MountKind, Run, Sp, Spec, Stage, StepKind};

/// The Dockerfile for a parsed spec.
pub fn eject(spec: &Spec) -> String {
    let mut out = String::new();
    for a in &spec.args {
        match &a.default {
            Some(d) => out.push_str(&format!("ARG {}={}\n", a.name.value, quote(&d.value))),
            None => out.push_str(&format!("ARG {}\n", a.name.value)),
        }
    }
    // `env: true` is what a Dockerfile ARG declared in a stage does; the other args differ.
    if spec.args.iter().any(|a| !a.env.as_ref().is_some_and(|e| e.value)) {
        let every: Vec<&str> = spec
            .args
            .iter()
            .filter(|a| a.env.as_ref().is_some_and(|e| e.value))
            .map(|a| a.name.value.as_str())
            .collect();
        out.push_str(
            "# decant eject: each stage declares every arg, so every RUN gets them all in its environment; in the \
             spec a run gets only the args it mentions",
        );
        if !every.is_empty() {
            out.push_str(&format!(" and those with `env: true` ({})", every.join(", ")));
        }
        out.push('\n');
    }
    for st in &spec.stages {
        // `COPY --from` and a mount's `from=` take no variable: a stage `FROM ${X} AS alias`
        // stands for each (BuildKit's own advice), before the stage that uses it.
        for (from, alias) in from_aliases(spec, st) {
            out.push_str(&format!(
                "\n# decant eject: `{from}` as a stage, since COPY --from and a mount's from= take no variable\nFROM {from} AS {alias}\n"
            ));
        }
        out.push('\n');
        stage(&mut out, spec, st);
    }
    // The `# syntax=` line only when a newer Dockerfile syntax than a builder's built-in one is
    // needed: without it the file builds offline, with it BuildKit pulls that frontend.
    let mut newer: Vec<&str> = Vec::new();
    let mut version = "1.4";
    for (needle, what, v) in NEWER_SYNTAX {
        if out.contains(needle) && !newer.contains(&what) {
            newer.push(what);
            version = newest(version, v);
        }
    }
    // `--chmod=u+x`: a mode that is neither octal nor an arg.
    if out
        .match_indices(" --chmod=")
        .any(|(i, m)| !out[i + m.len()..].starts_with(|c: char| c.is_ascii_digit() || c == '$'))
    {
        newer.push("COPY --chmod with a symbolic mode");
        version = newest(version, "1.14");
    }
    // Git sources: `ADD --checksum=<commit>` of one (1.16), and git URLs in the query form (1.18).
    for (what, v) in git_syntax(&out) {
        if !newer.contains(&what) {
            newer.push(what);
            version = newest(version, v);
        }
    }
    let mut head = String::new();
    if !newer.is_empty() {
        head.push_str("# syntax=docker/dockerfile:1\n");
        head.push_str(&format!("# (Dockerfile syntax {version} or newer for: {})\n", newer.join(", ")));
    }
    head.push_str(&format!("# Ejected from {} by `decant eject`.\n", spec.file.name));
    head + &out
}

/// The newer of two Dockerfile syntax versions (`1.14` is newer than `1.6`).
fn newest<'a>(a: &'a str, b: &'a str) -> &'a str {
    let key = |v: &str| v.split('.').map(|n| n.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>();
    if key(b) > key(a) {
        b
    } else {
        a
    }
}

/// What a Dockerfile says only in a newer syntax than 1.2 (BuildKit's built-in frontend of
/// Docker 20.10): the text that shows it, its name, and the syntax that has it.
const NEWER_SYNTAX: [(&str, &str, &str); 9] = [
    (" <<EOF", "heredocs", "1.4"),
    (" <<'EOF", "heredocs", "1.4"),
    (" --link", "COPY --link", "1.4"),
    (" --exclude=", "COPY --exclude", "1.19"),
    (" --parents", "COPY --parents", "1.20"),
    (" --checksum=", "ADD --checksum", "1.6"),
    (" --keep-git-dir", "ADD --keep-git-dir", "1.4"),
    (",env=", "secret mounts as env", "1.10"),
    (" --start-interval=", "HEALTHCHECK --start-interval", "1.6"),
];

/// The newer syntax the `ADD` lines of git sources in `out` need: their names and versions.
fn git_syntax(out: &str) -> Vec<(&'static str, &'static str)> {
    let mut found = Vec::new();
    for line in out.lines().filter(|l| l.starts_with("ADD ")) {
        let Some(url) = line.split_whitespace().find(|w| is_git(w)) else { continue };
        if line.contains(" --checksum=") {
            found.push(("ADD --checksum of a git URL", "1.16"));
        }
        if url.split('#').next().is_some_and(|u| u.contains('?')) {
            found.push(("git URLs with a query", "1.18"));
        }
    }
    found
}

fn stage(out: &mut String, spec: &Spec, st: &Stage) {
    if let Some(d) = &st.description {
        out.push_str(&format!("# {}\n", d.value));
    }
    let platform = st.platform.as_ref().map(|p| format!("--platform={} ", p.value)).unwrap_or_default();
    let from = st.from.as_ref().map(|f| f.value.as_str()).unwrap_or("scratch");
    out.push_str(&format!("FROM {platform}{from} AS {}\n", st.name.value));
    // A stage's own value of an arg is its `ARG NAME=value` (a `--build-arg` still wins).
    for a in &spec.args {
        match st.args.iter().find(|kv| kv.key.value == a.name.value) {
            Some(kv) => out.push_str(&format!("ARG {}={}\n", a.name.value, quote(&kv.value.value))),
            None => out.push_str(&format!("ARG {}\n", a.name.value)),
        }
    }
    let (unshadowed, copies) = unshadow(spec, st);
    let st = &unshadowed;
    // The SBOM scan args a stage sets without a top-level declaration.
    let declared = |name: &str| spec.args.iter().any(|a| a.name.value == name);
    for kv in st.args.iter().filter(|kv| {
        [crate::spec::SBOM_SCAN_CONTEXT, crate::spec::SBOM_SCAN_STAGE].contains(&kv.key.value.as_str())
            && !declared(&kv.key.value)
    }) {
        out.push_str(&format!("ARG {}={}\n", kv.key.value, quote(&kv.value.value)));
    }
    let mut body = String::new();
    stage_body(&mut body, spec, st);
    // A Dockerfile stage sees a built-in arg only when it declares it: one its text names, or
    // one a run is handed (`TARGETOS: ${TARGETOS}`, which the RUN does not repeat).
    let handed: Vec<&str> = (st.steps.iter())
        .filter_map(|step| match &step.kind {
            StepKind::Run(r) => Some(r.env.iter().filter(|kv| hands_arg(kv)).map(|kv| kv.key.value.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    for b in crate::spec::BUILTIN_ARGS {
        let named = body.contains(&format!("${{{b}}}")) || body.contains(&format!("${b}"));
        if named || handed.contains(b) || copies.iter().any(|(n, _)| n == b) {
            out.push_str(&format!("ARG {b}\n"));
        }
    }
    for (name, copy) in &copies {
        out.push_str(&format!(
            "# decant eject: after this stage's ENV {name}, a Dockerfile's ${name} is the env's value and the spec's the arg's\nARG {copy}=${{{name}}}\n"
        ));
    }
    out.push_str(&body);
}

/// Stage `st` with each reference to an arg that its own `env` (stage or step) set earlier
/// renamed to a copy of the arg, and those copies (arg, copy). After `ENV X=...` a Dockerfile's
/// `${X}` is the env's value; the spec's is still the arg's, everywhere but in commands (which
/// the shell expands from the env in both). `from:` values are left alone: a Dockerfile's
/// `--from` and `FROM` read only the global args, which the copies are not.
fn unshadow(spec: &Spec, st: &Stage) -> (Stage, Vec<(String, String)>) {
    let is_arg =
        |name: &str| spec.args.iter().any(|a| a.name.value == name) || crate::spec::BUILTIN_ARGS.contains(&name);
    let taken =
        |name: &str| spec.args.iter().any(|a| a.name.value == name) || st.args.iter().any(|kv| kv.key.value == name);
    let mut st = st.clone();
    let mut shadowed: Vec<(String, String)> = Vec::new();
    let mut used: Vec<(String, String)> = Vec::new();
    let shadow = |env: &[KeyValue], shadowed: &mut Vec<(String, String)>| {
        for kv in env.iter().filter(|kv| is_arg(&kv.key.value)) {
            if shadowed.iter().all(|(n, _)| *n != kv.key.value) {
                let mut copy = format!("decant_arg_{}", kv.key.value);
                while taken(&copy) {
                    copy.push('_');
                }
                shadowed.push((kv.key.value.clone(), copy));
            }
        }
    };
    let mut rename = |v: &mut Sp<String>, shadowed: &[(String, String)]| {
        for (name, copy) in shadowed {
            if let Some(renamed) = rename_var(&v.value, name, copy) {
                v.value = renamed;
                if used.iter().all(|(n, _)| n != name) {
                    used.push((name.clone(), copy.clone()));
                }
            }
        }
    };
    // The stage's env expands before any of it is set, then comes its workdir, then the steps.
    shadow(&st.env, &mut shadowed);
    if let Some(w) = st.workdir.as_mut() {
        rename(w, &shadowed);
    }
    for step in &mut st.steps {
        match &mut step.kind {
            StepKind::Run(r) => {
                for kv in &mut r.env {
                    rename(&mut kv.value, &shadowed);
                }
                for v in r.workdir.iter_mut().chain(r.user.iter_mut()) {
                    rename(v, &shadowed);
                }
            }
            StepKind::Copy(c) => {
                for v in
                    c.sources.iter_mut().chain(&mut c.exclude).chain(&mut c.to).chain(&mut c.chown).chain(&mut c.chmod)
                {
                    rename(v, &shadowed);
                }
            }
            StepKind::Env(kv) => {
                for kv in kv.iter_mut() {
                    rename(&mut kv.value, &shadowed);
                }
                shadow(kv, &mut shadowed);
            }
            StepKind::Workdir(v) | StepKind::User(v) => rename(v, &shadowed),
            StepKind::File(f) => {
                for v in std::iter::once(&mut f.path).chain(&mut f.chown).chain(&mut f.chmod) {
                    rename(v, &shadowed);
                }
                if f.expand.as_ref().is_some_and(|e| e.value) {
                    if let Some(c) = f.content.as_mut() {
                        rename(c, &shadowed);
                    }
                }
            }
        }
    }
    // The image's config sees the stage's final environment.
    for v in (st.user.iter_mut()).chain(&mut st.expose).chain(&mut st.volumes).chain(&mut st.stop_signal) {
        rename(v, &shadowed);
    }
    for kv in &mut st.labels {
        rename(&mut kv.value, &shadowed);
    }
    (st, used)
}

/// `v` with every reference to `name` (`$name`, `${name}`, `${name:-w}`, ...) made one to `to`,
/// or `None` when it has none. A `$` escaped as `$$` or `\$` starts no reference.
fn rename_var(v: &str, name: &str, to: &str) -> Option<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (mut out, mut changed, mut i) = (String::with_capacity(v.len()), false, 0);
    while let Some(at) = v[i..].find(['$', '\\']).map(|k| i + k) {
        out.push_str(&v[i..at]);
        let rest = &v[at..];
        if rest.starts_with("$$") || rest.starts_with("\\$") {
            out.push_str(&rest[..2]);
            i = at + 2;
            continue;
        }
        if rest.starts_with('\\') {
            out.push('\\');
            i = at + 1;
            continue;
        }
        let (braced, after) = match rest[1..].strip_prefix('{') {
            Some(after) => (true, after),
            None => (false, &rest[1..]),
        };
        if after.starts_with(name) && !after[name.len()..].starts_with(is_name) {
            out.push_str(if braced { "${" } else { "$" });
            out.push_str(to);
            changed = true;
            i = v.len() - after.len() + name.len();
        } else {
            out.push('$');
            i = at + 1;
        }
    }
    out.push_str(&v[i..]);
    changed.then_some(out)
}

/// The working directory stage `name` of `spec` ends with, when the spec alone says it (its
/// workdirs are written without `$`, and it starts from scratch, a stage whose workdir is known,
/// or sets an absolute one).
fn final_workdir(spec: &Spec, name: &str, depth: usize) -> Option<String> {
    let st = spec.stages.iter().find(|s| s.name.value == name)?;
    let mut dir = match st.from.as_ref().map(|f| f.value.as_str()) {
        None | Some("scratch") => Some("/".to_string()),
        Some(base) if depth < 64 && spec.stages.iter().any(|s| s.name.value == base) => {
            final_workdir(spec, base, depth + 1)
        }
        Some(_) => None,
    };
    let steps = st.steps.iter().filter_map(|s| match &s.kind {
        StepKind::Workdir(w) => Some(w),
        _ => None,
    });
    for w in st.workdir.iter().chain(steps) {
        if w.value.contains('$') {
            return None;
        }
        dir = match (dir, w.value.starts_with('/')) {
            (_, true) => Some(w.value.clone()),
            (Some(d), false) => Some(crate::lower::join_path(&d, &w.value)),
            (None, false) => None,
        };
    }
    dir
}

fn stage_body(out: &mut String, spec: &Spec, st: &Stage) {
    if let Some(shell) = &st.shell {
        // SHELL expands no variables: the spec's literal `$$` is a plain `$` there.
        let words: Vec<String> = shell.iter().map(|s| s.value.replace("$$", "$")).collect();
        out.push_str(&format!("SHELL {}\n", json(words.iter().map(String::as_str))));
    }
    // The stage's env comes before its workdir, which may refer to it (as in the spec).
    env(out, &st.env);
    if let Some(w) = &st.workdir {
        out.push_str(&format!("WORKDIR {}\n", word(&w.value)));
    }
    // The user a `user` step of this stage set, to restore after a run with its own user.
    let mut user: Option<&str> = None;
    let aliases = from_aliases(spec, st);
    for step in &st.steps {
        match &step.kind {
            StepKind::Run(r) => run(out, r, user, &aliases),
            StepKind::Copy(c) => copy(out, spec, st, c, &aliases),
            StepKind::Env(kv) => env(out, kv),
            StepKind::Workdir(w) => out.push_str(&format!("WORKDIR {}\n", word(&w.value))),
            StepKind::User(u) => {
                user = Some(u.value.as_str());
                out.push_str(&format!("USER {}\n", word(&u.value)));
            }
            StepKind::File(f) => file(out, f),
        }
    }
    if let Some(u) = &st.user {
        out.push_str(&format!("USER {}\n", word(&u.value)));
    }
    if let Some(e) = &st.entrypoint {
        out.push_str(&format!("ENTRYPOINT {}\n", command(e)));
    }
    if let Some(c) = &st.cmd {
        out.push_str(&format!("CMD {}\n", command(c)));
    }
    if !st.expose.is_empty() {
        out.push_str(&format!("EXPOSE {}\n", st.expose.iter().map(|p| word(&p.value)).collect::<Vec<_>>().join(" ")));
    }
    if let Some(h) = &st.healthcheck {
        match &h.cmd {
            None => out.push_str("HEALTHCHECK NONE\n"),
            Some(Command::Shell(s)) if s.value == "none" => out.push_str("HEALTHCHECK NONE\n"),
            Some(c) => {
                out.push_str("HEALTHCHECK");
                for (flag, v) in [
                    ("interval", &h.interval),
                    ("timeout", &h.timeout),
                    ("start-period", &h.start_period),
                    ("start-interval", &h.start_interval),
                    ("retries", &h.retries),
                ] {
                    if let Some(v) = v {
                        out.push_str(&format!(" --{flag}={}", v.value));
                    }
                }
                out.push_str(&format!(" CMD {}\n", command(c)));
            }
        }
    }
    for kv in &st.labels {
        out.push_str(&format!("LABEL {}={}\n", quote(&kv.key.value), quote(&kv.value.value)));
    }
    if !st.volumes.is_empty() {
        let volumes: Vec<String> = st.volumes.iter().map(|v| word(&v.value)).collect();
        out.push_str(&format!("VOLUME {}\n", json(volumes.iter().map(String::as_str))));
    }
    if let Some(s) = &st.stop_signal {
        out.push_str(&format!("STOPSIGNAL {}\n", word(&s.value)));
    }
    for t in &st.onbuild {
        out.push_str(&format!("ONBUILD {}\n", t.value.trim()));
    }
}

fn env(out: &mut String, kv: &[KeyValue]) {
    if kv.is_empty() {
        return;
    }
    let pairs: Vec<String> = kv.iter().map(|kv| format!("{}={}", kv.key.value, quote(&kv.value.value))).collect();
    out.push_str(&format!("ENV {}\n", pairs.join(" ")));
}

/// `NAME: ${NAME}` in a run's env hands an arg to the run; in the Dockerfile the stage's ARG
/// already does (every arg, and each built-in one the stage's runs are handed, is declared).
fn hands_arg(kv: &KeyValue) -> bool {
    kv.value.value == format!("${{{}}}", kv.key.value)
}

fn run(out: &mut String, r: &Run, user: Option<&str>, aliases: &[(String, String)]) {
    let mut line = String::from("RUN");
    for m in &r.mounts {
        line.push_str(&format!(" --mount={}", mount(m, r.workdir.as_ref().map(|w| w.value.as_str()), aliases)));
    }
    if let Some(n) = &r.network {
        line.push_str(&format!(" --network={}", n.value));
    }
    if let Some(s) = &r.security {
        line.push_str(&format!(" --security={}", s.value));
    }
    if let Some(u) = &r.user {
        if user.is_none() {
            out.push_str(&format!(
                "# decant eject: this run's user {} (the base's user is not known here: restore it after this run)\n",
                u.value
            ));
        }
        out.push_str(&format!("USER {}\n", word(&u.value)));
    }
    match &r.command {
        Command::Exec(args, _) => {
            let mut a: Vec<&str> = Vec::new();
            let env: Vec<&KeyValue> = r.env.iter().filter(|kv| !hands_arg(kv)).collect();
            if !env.is_empty() || r.workdir.is_some() {
                out.push_str("# decant eject: this run's env and workdir go through sh (or env(1))\n");
            }
            // A Dockerfile expands nothing in an exec-form RUN: env values that refer to the
            // environment (or hold a literal `$`) are set by sh, which expands them as decant does.
            let needs_sh = r.workdir.is_some() || env.iter().any(|kv| kv.value.value.contains('$'));
            let mut prefix = Vec::new();
            if needs_sh {
                let mut script = String::new();
                for kv in &env {
                    script.push_str(&format!("export {}={}; ", kv.key.value, shell_quote(&kv.value.value)));
                }
                if let Some(w) = &r.workdir {
                    script.push_str(&format!("mkdir -p {w} && cd {w} && ", w = shell_quote(&w.value)));
                }
                script.push_str("exec \"$@\"");
                prefix.extend(["/bin/sh".to_string(), "-c".into(), script, "sh".into()]);
            } else if !env.is_empty() {
                prefix.push("env".into());
                prefix.extend(env.iter().map(|kv| format!("{}={}", kv.key.value, kv.value.value)));
            }
            a.extend(prefix.iter().map(String::as_str));
            a.extend(args.iter().map(|s| s.value.as_str()));
            line.push_str(&format!(" {}", json(a)));
        }
        Command::Shell(s) if s.value.starts_with("#!") => shebang(out, &mut line, r, &s.value),
        Command::Shell(s) => {
            let mut script = String::new();
            for kv in r.env.iter().filter(|kv| !hands_arg(kv)) {
                script.push_str(&format!("export {}={}; ", kv.key.value, shell_quote(&kv.value.value)));
            }
            if let Some(w) = &r.workdir {
                // As the spec's run, which BuildKit starts in its workdir, made if missing.
                script.push_str(&format!("mkdir -p {w} && cd {w} && ", w = shell_quote(&w.value)));
            }
            script.push_str(&s.value);
            let lines: Vec<&str> = script.trim_end_matches('\n').split('\n').collect();
            if lines.len() > 1 && lines[..lines.len() - 1].iter().all(|l| l.ends_with('\\')) {
                // Backslash continuations read the same in a Dockerfile.
                line.push(' ');
                line.push_str(&lines.join("\n"));
            } else if script.contains('\n') {
                let name = delimiter(&script);
                line.push_str(&format!(" <<{name}\n{}\n{name}", script.trim_end_matches('\n')));
            } else {
                line.push(' ');
                line.push_str(&script);
            }
        }
    }
    out.push_str(&line);
    out.push('\n');
    if let (Some(_), Some(previous)) = (&r.user, user) {
        out.push_str(&format!("USER {}\n", word(previous)));
    }
}

/// A `--mount=` value. A relative target resolves against the step's working directory in
/// the spec, against WORKDIR in a Dockerfile: a run's own `workdir` (done with `cd`) is joined
/// to it.
fn mount(m: &Mount, run_workdir: Option<&str>, aliases: &[(String, String)]) -> String {
    let target = |t: &str| match run_workdir {
        _ if t.starts_with('/') => t.to_string(),
        Some(w) if t.is_empty() || t == "." => w.to_string(),
        Some(w) => format!("{}/{t}", w.trim_end_matches('/')),
        None if t.is_empty() => ".".to_string(),
        None => t.to_string(),
    };
    let mut parts = vec![format!("type={}", m.kind.name())];
    match &m.kind {
        MountKind::Secret(_) | MountKind::Ssh(_) => parts.push(format!("id={}", m.kind.value().value)),
        _ => parts.push(format!("target={}", target(&m.kind.value().value))),
    }
    for (key, value) in m.kind.options() {
        let k = match (key, value.value.as_str()) {
            ("readwrite", "true") => {
                parts.push("rw".into());
                continue;
            }
            ("readonly", "true") => {
                parts.push("ro".into());
                continue;
            }
            // The context is a Dockerfile bind's default source (`from=context` names a stage).
            ("readwrite" | "readonly", _) | ("from", "context") => continue,
            ("target", t) => {
                parts.push(format!("target={}", target(t)));
                continue;
            }
            ("from", f) => {
                parts.push(format!("from={}", alias_of(aliases, f)));
                continue;
            }
            (k, _) => k,
        };
        parts.push(format!("{k}={}", value.value));
    }
    parts.join(",")
}

/// A heredoc delimiter that no line of `text` equals.
fn delimiter(text: &str) -> String {
    let mut name = String::from("EOF");
    while text.lines().any(|l| l == name) {
        name.push('_');
    }
    name
}

/// A run script with a `#!` line: a `RUN <<'EOF'` heredoc, which Dockerfile runs under that
/// interpreter too. A run's own env or workdir needs a shell around it: then the interpreter
/// reads the script from its standard input.
fn shebang(out: &mut String, line: &mut String, r: &Run, script: &str) {
    let body = script.strip_suffix('\n').unwrap_or(script);
    let name = delimiter(body);
    let env: Vec<&KeyValue> = r.env.iter().filter(|kv| !hands_arg(kv)).collect();
    if env.is_empty() && r.workdir.is_none() {
        line.push_str(&format!(" <<'{name}'\n{body}\n{name}"));
        return;
    }
    let interpreter = body.lines().next().unwrap_or("#!").trim_start_matches("#!").trim();
    out.push_str(&format!(
        "# decant eject: this run's env and workdir need a shell, so `{interpreter}` reads the script from \
         standard input (not from a file)\n"
    ));
    let mut cmd = String::new();
    for kv in env {
        cmd.push_str(&format!("export {}={}; ", kv.key.value, shell_quote(&kv.value.value)));
    }
    if let Some(w) = &r.workdir {
        cmd.push_str(&format!("mkdir -p {w} && cd {w} && ", w = shell_quote(&w.value)));
    }
    line.push_str(&format!(" {cmd}exec {interpreter} /dev/stdin <<'{name}'\n{body}\n{name}"));
}

/// A `file` step: a `COPY <<'EOF'` heredoc (quoted: the content is taken as written).
fn file(out: &mut String, f: &File) {
    let content = f.content.as_ref().map(|c| c.value.as_str()).unwrap_or("");
    let body = content.strip_suffix('\n').unwrap_or(content);
    if !content.is_empty() && !content.ends_with('\n') {
        out.push_str("# decant eject: a heredoc ends with a newline, which the spec's content does not have\n");
    }
    if f.path.value.contains(char::is_whitespace) {
        out.push_str("# decant eject: a heredoc's destination cannot have spaces in a Dockerfile\n");
    }
    // Without a chmod both make the file 0644 and new parent directories 0755: a `--chmod` here
    // would give the parents its mode too.
    let mut line = String::from("COPY");
    if let Some(m) = &f.chmod {
        line.push_str(&format!(" --chmod={}", word(&m.value)));
    }
    if let Some(c) = &f.chown {
        line.push_str(&format!(" --chown={}", word(&c.value)));
    }
    let name = delimiter(body);
    // A quoted delimiter keeps the body as written; an expanded one is unquoted, with the
    // backslashes that Dockerfile's heredoc expansion takes away written twice.
    let (open, body) = match f.expand.as_ref().is_some_and(|e| e.value) {
        true => (name.clone(), word(body)),
        false => (format!("'{name}'"), body.to_string()),
    };
    if content.is_empty() {
        line.push_str(&format!(" <<{open} {}\n{name}\n", word(&f.path.value)));
    } else {
        line.push_str(&format!(" <<{open} {}\n{body}\n{name}\n", word(&f.path.value)));
    }
    out.push_str(&line);
}

/// A spec value as Dockerfile text that expands to the same, for the body of an unquoted
/// heredoc and for a plain word (`WORKDIR`, `USER`, `COPY`'s paths and flags, `EXPOSE`,
/// `VOLUME`, ...): references (`$NAME`, `${...}`) stay; every literal `$` (`$$` or `\$` in the
/// value, or one before anything but a name or `{`, which Dockerfile could read as `$1` or
/// `$$`) is `\$`; another `\`, which Dockerfile would take as an escape, is `\\`.
fn word(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('$' | '\\', Some('$')) => {
                chars.next();
                out.push_str("\\$");
            }
            ('$', Some(&n)) if n == '{' || n == '_' || n.is_ascii_alphabetic() => out.push('$'),
            ('$', _) => out.push_str("\\$"),
            ('\\', _) => out.push_str("\\\\"),
            (c, _) => out.push(c),
        }
    }
    out
}

/// What `value` gives with the args' values in stage `st` (its own, else the default; unset is
/// empty), as the plan expands a `from:` or a source before telling a git repository or a URL
/// apart: `from: ${REPO}#${REF}` is a repository (ADD), not a stage (`COPY --from` refuses `$`).
fn with_arg_values(spec: &Spec, st: &Stage, value: &str) -> String {
    fn lookup(spec: &Spec, st: &Stage, name: &str, depth: usize) -> Option<String> {
        let raw = match st.args.iter().find(|kv| kv.key.value == name) {
            Some(kv) => kv.value.value.clone(),
            None => spec.args.iter().find(|a| a.name.value == name)?.default.as_ref()?.value.clone(),
        };
        // A default may name other args; the depth bound also ends a cycle.
        if depth > 8 {
            return Some(raw);
        }
        let word = crate::plan::word::Word::parse(&raw).ok()?;
        word.expand(&|n| lookup(spec, st, n, depth + 1)).ok()
    }
    if !value.contains('$') {
        return value.to_string();
    }
    crate::plan::word::Word::parse(value)
        .and_then(|w| w.expand(&|n| lookup(spec, st, n, 0)))
        .unwrap_or_else(|_| value.to_string())
}

/// The `from:` values of a stage's copies and mounts that name args and are neither a git
/// repository nor a URL, each with the name of the stage that stands for it in the Dockerfile.
fn from_aliases(spec: &Spec, st: &Stage) -> Vec<(String, String)> {
    let mut froms: Vec<&str> = Vec::new();
    for step in &st.steps {
        match &step.kind {
            StepKind::Copy(c) => froms.extend(c.from.iter().map(|f| f.value.as_str())),
            StepKind::Run(r) => froms.extend(
                r.mounts
                    .iter()
                    .flat_map(|m| m.kind.options())
                    .filter(|(k, _)| *k == "from")
                    .map(|(_, v)| v.value.as_str()),
            ),
            _ => {}
        }
    }
    let mut aliases: Vec<(String, String)> = Vec::new();
    for from in froms {
        if !from.contains('$') || aliases.iter().any(|(f, _)| f == from) {
            continue;
        }
        let resolved = with_arg_values(spec, st, from);
        if is_git(&resolved) || is_url(&resolved) {
            continue;
        }
        let taken = |name: &str| spec.stages.iter().any(|s| s.name.value == name);
        let mut n = aliases.len() + 1;
        while taken(&format!("{}-from-{n}", st.name.value)) {
            n += 1;
        }
        aliases.push((from.to_string(), format!("{}-from-{n}", st.name.value)));
    }
    aliases
}

/// `from` as the Dockerfile names it: its alias stage when it names args.
fn alias_of<'a>(aliases: &'a [(String, String)], from: &'a str) -> &'a str {
    aliases.iter().find(|(f, _)| f == from).map_or(from, |(_, a)| a.as_str())
}

fn copy(out: &mut String, spec: &Spec, st: &Stage, c: &Copy, aliases: &[(String, String)]) {
    let git = c.from.as_ref().is_some_and(|f| is_git(&with_arg_values(spec, st, &f.value)));
    let url = c.sources.iter().any(|s| is_url(&with_arg_values(spec, st, &s.value)));
    let unpack = c.unpack.as_ref().is_some_and(|u| u.value);
    if unpack && c.from.is_some() {
        out.push_str("# decant eject: the spec unpacks archives from another stage here; Dockerfile ADD reads only the context\n");
    }
    let add = git || url || (unpack && c.from.is_none());
    let mut line = String::from(if add { "ADD" } else { "COPY" });
    if let Some(f) = &c.from {
        if !git {
            line.push_str(&format!(" --from={}", alias_of(aliases, &f.value)));
        }
    }
    for (flag, v) in [("chown", &c.chown), ("chmod", &c.chmod), ("checksum", &c.checksum)] {
        if let Some(v) = v {
            line.push_str(&format!(" --{flag}={}", word(&v.value)));
        }
    }
    for e in &c.exclude {
        line.push_str(&format!(" --exclude={}", word(&e.value)));
    }
    for (flag, v) in [("link", &c.link), ("parents", &c.parents), ("keep-git-dir", &c.keep_git_dir)] {
        if v.as_ref().is_some_and(|b| b.value) {
            line.push_str(&format!(" --{flag}"));
        }
    }
    if c.follow_symlinks.as_ref().is_some_and(|b| !b.value) {
        out.push_str("# decant eject: follow_symlinks: false has no Dockerfile flag\n");
    }
    let to = c.to.as_ref().map(|t| t.value.clone()).unwrap_or_else(|| "./".into());
    let mut words: Vec<String> = if git {
        c.from.iter().map(|f| f.value.clone()).collect()
    } else {
        c.sources.iter().map(|s| s.value.clone()).collect()
    };
    // decant reads a relative source from the stage's (or image's) workdir, Dockerfile from its
    // root: joined when the spec says the workdir, else said.
    let from = c.from.as_ref().map(|f| f.value.as_str()).filter(|f| !git && *f != "context");
    let relative = |w: &String| !w.starts_with('/') && !w.starts_with('$') && !is_url(w);
    if let Some(from) = from.filter(|_| words.iter().any(relative)) {
        match final_workdir(spec, from, 0) {
            Some(dir) => {
                for w in words.iter_mut().filter(|w| relative(w)) {
                    *w = crate::lower::join_path_keep_slash(&dir, w);
                }
            }
            None => out.push_str(&format!(
                "# decant eject: relative sources are read from {from}'s workdir in the spec and from its root here\n"
            )),
        }
    }
    if git && c.sources.iter().any(|s| !matches!(s.value.as_str(), "." | "/" | "./")) {
        out.push_str("# decant eject: only a whole repository can be added; the spec copies part of it\n");
    }
    words.push(to);
    let words: Vec<String> = words.iter().map(|w| word(w)).collect();
    if words.iter().any(|w| w.contains(char::is_whitespace)) {
        line.push_str(&format!(" {}", json(words.iter().map(String::as_str))));
    } else {
        line.push_str(&format!(" {}", words.join(" ")));
    }
    out.push_str(&line);
    out.push('\n');
}

fn command(c: &Command) -> String {
    match c {
        Command::Shell(s) => s.value.clone(),
        Command::Exec(a, _) => json(a.iter().map(|s| s.value.as_str())),
    }
}

fn json<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.into_iter().collect::<Vec<_>>()).unwrap_or_default()
}

/// Whether `s` has a literal `$` of the spec (`$$` or `\$`), which a Dockerfile writes `\$`.
fn has_literal_dollar(s: &str) -> bool {
    s.contains("$$") || s.contains("\\$")
}

/// A value for ENV, LABEL and ARG: double-quoted when it has spaces, quotes or a literal `$`.
fn quote(s: &str) -> String {
    if !s.is_empty() && !has_literal_dollar(s) && !s.contains(|c: char| c.is_whitespace() || "\"'\\".contains(c)) {
        return s.to_string();
    }
    double_quoted(s, false)
}

/// A word for sh that still expands `${NAME}` (args reach the run as env, as in the spec).
fn shell_quote(s: &str) -> String {
    let literal = has_literal_dollar(s) || s.contains("$(");
    if !literal && !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:=${}".contains(c)) {
        return s.to_string();
    }
    double_quoted(s, true)
}

/// `s` in double quotes, where `${NAME}` and `$NAME` still expand: a literal `$` of the spec
/// (`$$`, `\$`) becomes `\$`, quotes and backslashes are escaped, and for sh (`sh`) also a
/// command substitution (the spec runs none in a value) and backticks.
fn double_quoted(s: &str, sh: bool) -> String {
    let mut q = String::from("\"");
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' | '\\' if chars.peek() == Some(&'$') => {
                chars.next();
                q.push_str("\\$");
            }
            '$' if sh && chars.peek() == Some(&'(') => q.push_str("\\$"),
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            '`' if sh => q.push_str("\\`"),
            _ => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::rename_var;

    #[test]
    fn rename_var_renames_every_form_of_one_name_and_nothing_else() {
        let r = |v: &str| rename_var(v, "V", "C");
        assert_eq!(r("$V ${V} ${V:-x} ${V#p} ${W:-$V}/").as_deref(), Some("$C ${C} ${C:-x} ${C#p} ${W:-$C}/"));
        assert_eq!(r("$VV ${VV} $W $$V \\$V ${X}"), None);
        assert_eq!(r("$$$V").as_deref(), Some("$$$C"));
        assert_eq!(r("a\\b$V").as_deref(), Some("a\\b$C"));
        assert_eq!(r("$V"), Some("$C".to_string()));
        assert_eq!(r("$"), None);
    }
}
