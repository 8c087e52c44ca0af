//! The oracle: every project in `tests/corpus/` is built twice on the same daemon, once from its
//! `Dockerfile` by Docker's own frontend and once from its `decant.yaml` (what `decant convert`
//! writes, checked in) by decant, and the two images must be the same:
//!
//! - the file tree: every path with its type, mode, owner, and content digest or link target
//!   (`docker create` + `docker export`, the tar walked here);
//! - the image config: env, cmd, entrypoint, user, workdir, exposed ports, labels, healthcheck,
//!   stop signal, volumes, shell;
//! - what the image prints when run with its default command (stdout and exit code).
//!
//! The spec's `decant eject` output is built by Docker's frontend too, and must give the decant
//! image again.
//!
//! Any difference fails the test, unless the project's `DIFFERENCES` file names it with a reason
//! (a deliberate decant behaviour). Its lines read `WHAT -- WHY`, `#` starts a comment, and WHAT
//! is one of:
//!
//! - `path:/some/path` — that path and everything below it are not compared;
//! - `config:Field` — that image config field (`Env`, `User`, ...) is not compared;
//! - `output` — the run's output is not compared;
//! - `oracle` — the Dockerfile cannot be built here (e.g. it needs a newer Dockerfile syntax than
//!   Docker 20.10's built-in frontend offline); the decant image's output is then compared with
//!   the project's `expected-output` file instead.
//!
//! A project's `BUILD` file holds extra `docker build` arguments (one or more per line, split on
//! whitespace, e.g. `--secret id=token,src=token.txt`), given to both builds.
//!
//! Run only these with `DECANT_E2E_FILTER=corpus tests/run`, one project with
//! `DECANT_E2E_FILTER=corpus_c_server`.

use super::*;
use sha2::{Digest, Sha256};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

/// The projects that have a test below (kept in step with the directory by a test).
const PROJECTS: &[&str] = &[
    "archive-scratch",
    "args-stages",
    "c-server",
    "config-heavy",
    "copy-options",
    "cross-stages",
    "globs",
    "heredoc-scripts",
    "mounts",
    "paths-modes",
    "python-venv",
    "scratch-platform",
    "shell-heavy",
    "stage-refs",
    "user-workdir",
    "users-chown",
];

macro_rules! corpus_tests {
    ($($fn_name:ident => $project:literal),* $(,)?) => {
        $(
            #[test]
            #[ignore = "needs the private BuildKit daemon: run tests/run"]
            fn $fn_name() {
                oracle($project);
            }
        )*
    };
}

corpus_tests! {
    corpus_archive_scratch => "archive-scratch",
    corpus_args_stages => "args-stages",
    corpus_c_server => "c-server",
    corpus_config_heavy => "config-heavy",
    corpus_copy_options => "copy-options",
    corpus_cross_stages => "cross-stages",
    corpus_globs => "globs",
    corpus_heredoc_scripts => "heredoc-scripts",
    corpus_mounts => "mounts",
    corpus_paths_modes => "paths-modes",
    corpus_python_venv => "python-venv",
    corpus_scratch_platform => "scratch-platform",
    corpus_shell_heavy => "shell-heavy",
    corpus_stage_refs => "stage-refs",
    corpus_user_workdir => "user-workdir",
    corpus_users_chown => "users-chown",
}

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn corpus_every_project_has_a_test() {
    let mut dirs: Vec<String> = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Dockerfile").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, PROJECTS, "every tests/corpus/<project> needs a line in corpus_tests! and PROJECTS");
}

/// What a project's `DIFFERENCES` file excuses.
#[derive(Default)]
struct Differences {
    oracle_skipped: Option<String>,
    output: Option<String>,
    config: BTreeMap<String, String>,
    paths: Vec<(String, String)>,
}

impl Differences {
    fn read(dir: &Path) -> Differences {
        let mut d = Differences::default();
        let Ok(text) = fs::read_to_string(dir.join("DIFFERENCES")) else { return d };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (what, why) =
                line.split_once(" -- ").unwrap_or_else(|| panic!("DIFFERENCES:{}: write `WHAT -- WHY`: {line}", n + 1));
            let (what, why) = (what.trim(), why.trim().to_string());
            assert!(!why.is_empty(), "DIFFERENCES:{}: a difference needs its reason", n + 1);
            if what == "oracle" {
                d.oracle_skipped = Some(why);
            } else if what == "output" {
                d.output = Some(why);
            } else if let Some(f) = what.strip_prefix("config:") {
                d.config.insert(f.to_string(), why);
            } else if let Some(p) = what.strip_prefix("path:") {
                d.paths.push((p.trim_end_matches('/').to_string(), why));
            } else {
                panic!("DIFFERENCES:{}: unknown `{what}` (oracle, output, config:Field, path:/p)", n + 1);
            }
        }
        d
    }

    fn path_excused(&self, path: &str) -> bool {
        self.paths.iter().any(|(p, _)| path == p || path.starts_with(&format!("{p}/")))
    }
}

/// Copies a project into a fresh build context (dot files too), pointing the spec's `# syntax=`
/// line at the frontend image under test.
fn project_context(name: &str) -> Context {
    let ctx = Context::new(&[]);
    copy_dir(&corpus_dir().join(name), &ctx.dir);
    let spec_path = ctx.dir.join("decant.yaml");
    let text = fs::read_to_string(&spec_path).unwrap();
    let body = text.split_once('\n').map_or("", |(_, rest)| rest);
    fs::write(&spec_path, format!("# syntax={}\n{body}", frontend_image())).unwrap();
    ctx
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let kind = e.file_type().unwrap();
        if kind.is_symlink() {
            // Links stay links (a project may copy them), whatever they point at.
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn build_file(ctx: &Context, file: &str, tag: &str, extra: &[String]) -> Output {
    let mut args = vec!["build", "--progress=plain", "-f", file, "-t", tag];
    args.extend(extra.iter().map(String::as_str));
    args.push(".");
    let out = docker(&args, Some(&ctx.dir), BUILD_TIMEOUT);
    eprintln!("[e2e] corpus build {file} -> {tag}: exit {:?} in {:.2?}", out.code, out.wall);
    out
}

/// The image config fields the comparison covers.
const CONFIG_FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "User",
    "WorkingDir",
    "ExposedPorts",
    "Labels",
    "Healthcheck",
    "StopSignal",
    "Volumes",
    "Shell",
    "ArgsEscaped",
    "OnBuild",
];

fn oracle(name: &str) {
    let ctx = project_context(name);
    let problems = compare(name, &ctx);
    assert!(
        problems.is_empty(),
        "{name}: the decant image differs from the Dockerfile's in {} way(s) (a deliberate difference goes in \
         tests/corpus/{name}/DIFFERENCES):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// Builds the project in `ctx` both ways; the differences not excused by its DIFFERENCES file.
fn compare(name: &str, ctx: &Context) -> Vec<String> {
    let dir = corpus_dir().join(name);
    let diffs = Differences::read(&dir);
    let extra: Vec<String> = fs::read_to_string(dir.join("BUILD"))
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let mut images = Images::new(&format!("corpus-{name}"));
    let decant_tag = images.tag("decant");

    if let Some(why) = &diffs.oracle_skipped {
        eprintln!("[e2e] {name}: the Dockerfile is not built here ({why}); comparing with expected-output");
        let b = build_file(ctx, "decant.yaml", &decant_tag, &extra);
        assert!(b.ok(), "{name}: the decant build failed:\n{}", b.all());
        let decant_run = run_default(&decant_tag);
        let want = fs::read_to_string(dir.join("expected-output"))
            .unwrap_or_else(|e| panic!("{name}: DIFFERENCES skips the oracle, so expected-output is needed: {e}"));
        let mut problems = Vec::new();
        if decant_run.stdout != want || decant_run.code != Some(0) {
            problems.push(format!(
                "run output: expected-output {want:?} vs decant (exit {:?}) {:?} {}",
                decant_run.code, decant_run.stdout, decant_run.stderr
            ));
        }
        return problems;
    }

    // The oracle first: a failure there is the project's, not decant's.
    let oracle_tag = images.tag("dockerfile");
    let o = build_file(ctx, "Dockerfile", &oracle_tag, &extra);
    assert!(o.ok(), "{name}: the Dockerfile build (the oracle) failed:\n{}", o.all());
    let oracle_run = run_default(&oracle_tag);
    let b = build_file(ctx, "decant.yaml", &decant_tag, &extra);
    assert!(b.ok(), "{name}: the decant build failed (the Dockerfile built):\n{}", b.all());
    let decant_run = run_default(&decant_tag);

    let mut problems =
        diff_images(("Dockerfile", &oracle_tag, &oracle_run), ("decant", &decant_tag, &decant_run), ctx, &diffs);

    // And back: `decant eject` of the spec, built by Docker's frontend, gives the decant image.
    let ejected =
        Command::new(env!("CARGO_BIN_EXE_decant")).arg("eject").arg(ctx.dir.join("decant.yaml")).output().unwrap();
    assert!(ejected.status.success(), "{name}: decant eject: {}", String::from_utf8_lossy(&ejected.stderr));
    // Outside the build context, which a project may copy whole.
    let outside = Context::new(&[]);
    let ejected_path = outside.dir.join("Dockerfile.ejected");
    fs::write(&ejected_path, &ejected.stdout).unwrap();
    let eject_tag = images.tag("ejected");
    let e = build_file(ctx, ejected_path.to_str().unwrap(), &eject_tag, &extra);
    assert!(e.ok(), "{name}: the ejected Dockerfile does not build:\n{}", e.all());
    let eject_run = run_default(&eject_tag);
    problems.extend(diff_images(
        ("decant", &decant_tag, &decant_run),
        ("ejected", &eject_tag, &eject_run),
        ctx,
        &diffs,
    ));
    if problems.is_empty() {
        eprintln!(
            "[e2e] {name}: same tree, config and output from the Dockerfile, decant.yaml and its ejected Dockerfile"
        );
    }
    problems
}

/// The differences between two images (config fields, file tree, run output) that `diffs` does
/// not excuse, each naming both sides by their label.
fn diff_images(a: (&str, &str, &Output), b: (&str, &str, &Output), ctx: &Context, diffs: &Differences) -> Vec<String> {
    let ((al, at, ar), (bl, bt, br)) = (a, b);
    let mut problems = Vec::new();
    let (ac, bc) = (config(at), config(bt));
    for f in CONFIG_FIELDS {
        let (x, y) = (normalise(&ac[*f]), normalise(&bc[*f]));
        if x != y && !diffs.config.contains_key(*f) {
            problems.push(format!("config {f}: {al} {x} vs {bl} {y}"));
        }
    }
    let (atree, btree) = (tree(at, ctx), tree(bt, ctx));
    let paths: std::collections::BTreeSet<&String> = atree.keys().chain(btree.keys()).collect();
    for p in paths {
        if diffs.path_excused(p) {
            continue;
        }
        match (atree.get(p), btree.get(p)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => problems.push(format!(
                "{p}: {al} {} vs {bl} {}",
                x.map_or("(absent)", String::as_str),
                y.map_or("(absent)", String::as_str)
            )),
        }
    }
    if diffs.output.is_none() && (ar.stdout != br.stdout || ar.code != br.code) {
        problems.push(format!(
            "run output: {al} (exit {:?}) {:?} {:?} vs {bl} (exit {:?}) {:?} {:?}",
            ar.code, ar.stdout, ar.stderr, br.code, br.stdout, br.stderr
        ));
    }
    problems
}

/// The comparison sees what it should: c-server with a changed spec (another user, a file mode,
/// an extra file, another command) must show each change.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn corpus_comparison_reports_each_kind_of_difference() {
    let ctx = project_context("c-server");
    let spec_path = ctx.dir.join("decant.yaml");
    let spec = fs::read_to_string(&spec_path).unwrap();
    let changed = spec
        .replace("user: \"65534:65534\"", "user: \"65534:65533\"")
        .replace("cmd: [\"--once\"]", "cmd: [\"--check\"]")
        .replace("        to: /usr/local/bin/server\n", "        to: /usr/local/bin/server\n        chmod: \"0700\"\n")
        .replace(
            "    steps:\n      - copy: /out/server",
            "    steps:\n      - run: touch /extra\n      - copy: /out/server",
        );
    assert_ne!(changed, spec);
    fs::write(&spec_path, changed).unwrap();
    let problems = compare("c-server", &ctx).join("\n");
    for want in [
        "config User",
        "config Cmd",
        "/usr/local/bin/server: Dockerfile file 755",
        "/extra: Dockerfile (absent)",
        "run output",
    ] {
        assert!(problems.contains(want), "the comparison misses {want:?}:\n{problems}");
    }
}

/// `null`, `[]`, `{}`, `""` and `false` are the same absence in an image config.
fn normalise(v: &Value) -> String {
    match v {
        Value::Bool(false) => "null".into(),
        Value::Array(a) if a.is_empty() => "null".into(),
        Value::Object(o) if o.is_empty() => "null".into(),
        Value::String(s) if s.is_empty() => "null".into(),
        other => other.to_string(),
    }
}

/// `docker run --rm TAG` with the image's own command; its output, whatever the exit code.
fn run_default(tag: &str) -> Output {
    docker(&["run", "--rm", tag], None, RUN_TIMEOUT)
}

/// Every path of the image's file system: `type mode uid:gid` and a content digest or link target.
fn tree(tag: &str, ctx: &Context) -> BTreeMap<String, String> {
    let created = docker(&["create", tag], None, RUN_TIMEOUT);
    assert!(created.ok(), "docker create {tag}: {}", created.all());
    let id = created.stdout.trim().to_string();
    let tar = ctx.dir.join(format!("{}.tar", unique("export-")));
    let out = docker(&["export", "-o", tar.to_str().unwrap(), &id], None, RUN_TIMEOUT);
    let _ = docker(&["rm", "-f", &id], None, RUN_TIMEOUT);
    assert!(out.ok(), "docker export: {}", out.all());
    let bytes = fs::read(&tar).unwrap();
    let _ = fs::remove_file(&tar);
    walk_tar(&bytes)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn octal(b: &[u8]) -> u64 {
    let s = cstr(b);
    u64::from_str_radix(s.trim_matches(|c: char| c == ' ' || c == '\0'), 8).unwrap_or(0)
}

/// A tar stream (ustar, with PAX and GNU long names) as a map from absolute path to entry.
fn walk_tar(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut i = 0;
    let mut long_name: Option<String> = None;
    let mut long_link: Option<String> = None;
    let mut pax: BTreeMap<String, String> = BTreeMap::new();
    while i + 512 <= bytes.len() {
        let h = &bytes[i..i + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let mut size = octal(&h[124..136]) as usize;
        if let Some(s) = pax.get("size").and_then(|s| s.parse().ok()) {
            size = s;
        }
        let typ = h[156];
        let data = &bytes[i + 512..(i + 512 + size).min(bytes.len())];
        i += 512 + size.div_ceil(512) * 512;
        match typ {
            b'x' => {
                let mut rest = data;
                while let Some(sp) = rest.iter().position(|&c| c == b' ') {
                    let len: usize = String::from_utf8_lossy(&rest[..sp]).parse().unwrap_or(0);
                    if len == 0 || len > rest.len() {
                        break;
                    }
                    let rec = String::from_utf8_lossy(&rest[sp + 1..len - 1]).into_owned();
                    if let Some((k, v)) = rec.split_once('=') {
                        pax.insert(k.to_string(), v.to_string());
                    }
                    rest = &rest[len..];
                }
                continue;
            }
            b'g' => continue,
            b'L' => {
                long_name = Some(cstr(data));
                continue;
            }
            b'K' => {
                long_link = Some(cstr(data));
                continue;
            }
            _ => {}
        }
        let ustar = &h[257..262] == b"ustar";
        let header_name = match (ustar, cstr(&h[345..500])) {
            (true, prefix) if !prefix.is_empty() => format!("{prefix}/{}", cstr(&h[0..100])),
            _ => cstr(&h[0..100]),
        };
        let name = pax.remove("path").or(long_name.take()).unwrap_or(header_name);
        let link = pax.remove("linkpath").or(long_link.take()).unwrap_or_else(|| cstr(&h[157..257]));
        let uid = pax.remove("uid").and_then(|s| s.parse().ok()).unwrap_or_else(|| octal(&h[108..116]));
        let gid = pax.remove("gid").and_then(|s| s.parse().ok()).unwrap_or_else(|| octal(&h[116..124]));
        pax.clear();
        let mode = octal(&h[100..108]) & 0o7777;
        let path = format!("/{}", name.trim_start_matches("./").trim_end_matches('/'));
        let what = match typ {
            b'0' | 0 | b'7' => format!("file {mode:o} {uid}:{gid} sha256:{}", hex::encode(Sha256::digest(data))),
            b'5' => format!("dir {mode:o} {uid}:{gid}"),
            b'2' => format!("symlink {uid}:{gid} -> {link}"),
            b'1' => format!("hardlink -> /{link}"),
            other => format!("type {} {mode:o} {uid}:{gid}", other as char),
        };
        out.insert(if path == "/" { "/".into() } else { path }, what);
    }
    out
}

#[test]
fn corpus_tar_walk_reads_ustar_pax_and_gnu_entries() {
    // Headers made by hand: a file, a directory, a symlink, and a PAX long name.
    fn header(name: &str, typ: u8, size: usize, mode: u32, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
        h[108..115].copy_from_slice(b"0001750");
        h[116..123].copy_from_slice(b"0001750");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = typ;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..262].copy_from_slice(b"ustar");
        h
    }
    fn pad(mut v: Vec<u8>) -> Vec<u8> {
        v.resize(v.len().div_ceil(512) * 512, 0);
        v
    }
    let mut t = Vec::new();
    t.extend(header("a.txt", b'0', 3, 0o644, ""));
    t.extend(pad(b"hi\n".to_vec()));
    t.extend(header("d/", b'5', 0, 0o755, ""));
    t.extend(header("d/l", b'2', 0, 0o777, "../a.txt"));
    let long = format!("d/{}", "x".repeat(120));
    let rec = format!("path={long}\n");
    let rec = format!("{} {rec}", rec.len() + 4);
    t.extend(header("pax", b'x', rec.len(), 0o644, ""));
    t.extend(pad(rec.into_bytes()));
    t.extend(header("short", b'0', 0, 0o600, ""));
    t.extend(vec![0u8; 1024]);
    let m = walk_tar(&t);
    assert_eq!(m["/a.txt"], format!("file 644 1000:1000 sha256:{}", hex::encode(Sha256::digest(b"hi\n"))));
    assert_eq!(m["/d"], "dir 755 1000:1000");
    assert_eq!(m["/d/l"], "symlink 1000:1000 -> ../a.txt");
    assert!(m[&format!("/{long}")].starts_with("file 600 "), "{m:?}");
    assert_eq!(m.len(), 4);
}
