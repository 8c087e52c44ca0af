//! The build context is filtered by what the build reads: the local sources of the build context
//! and of `local:` named contexts carry the paths the planned stages read as follow paths
//! (`local.followpaths`), and a shared-key hint keyed by that file set. Goldens of those source
//! ops, one per case, and the rules behind them.
//!
//! Regenerate after an intended change with `INSTA_UPDATE=always cargo test -p decant --test
//! context_filter` and review `git diff frontend/tests/snapshots`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use decant::llb::{self, pb};
use decant::lower::{self, contexts};
use decant::plan::{BuildOptions, LocalPaths};

/// The local sources of a definition, one per line: identifier, then the attrs as JSON.
fn locals(def: &pb::Definition) -> String {
    use prost::Message;
    let mut out = String::new();
    for bytes in &def.def {
        if let Some(pb::op::Op::Source(s)) = pb::Op::decode(bytes.as_slice()).unwrap().op {
            if s.identifier.starts_with("local://") {
                out.push_str(&format!("{} {}\n", s.identifier, serde_json::to_string_pretty(&s.attrs).unwrap()));
            }
        }
    }
    out
}

fn lowered(text: &str, opts: &BuildOptions, inputs: &lower::Inputs) -> pb::Definition {
    let p = common::plan(text, opts);
    lower::lower(&p, inputs).unwrap_or_else(|d| panic!("lower failed:\n{}", d.render())).definition()
}

/// The local sources of `steps` in a one-stage spec, built with default options.
fn one_stage(steps: &str) -> String {
    let text = format!("stages:\n  app:\n    from: busybox:1\n    workdir: /app\n    steps:\n{steps}");
    locals(&lowered(&text, &BuildOptions::default(), &lower::Inputs::default()))
}

/// The follow paths of the build context's source (`None`: no context source at all).
fn follow_paths(steps: &str) -> Option<Vec<String>> {
    let text = one_stage(steps);
    let json = text.strip_prefix("local://context ")?;
    let attrs: BTreeMap<String, String> = serde_json::from_str(json.trim_end()).unwrap();
    Some(attrs.get("local.followpaths").map(|v| serde_json::from_str(v).unwrap()).unwrap_or_default())
}

#[test]
fn no_context_use_means_no_context_source() {
    let text = one_stage("      - run: echo hi\n      - copy: https://example.com/tool.tgz\n        to: /opt/\n");
    assert_eq!(text, "", "neither a run nor a download reads the context");
}

#[test]
fn one_file() {
    insta::assert_snapshot!("one_file", one_stage("      - copy: go.mod\n"));
}

#[test]
fn a_directory() {
    insta::assert_snapshot!("a_directory", one_stage("      - copy: src/\n        to: src/\n"));
}

#[test]
fn a_glob() {
    insta::assert_snapshot!("a_glob", one_stage("      - copy: [\"*.go\", \"cmd/*/main.go\"]\n"));
}

#[test]
fn copy_of_the_whole_context_turns_the_filter_off() {
    insta::assert_snapshot!("whole_context", one_stage("      - copy: src/\n      - copy: .\n"));
    for whole in [".", "./", "/", "src/..", "[., go.mod]"] {
        let steps = format!("      - copy: {whole}\n      - copy: go.mod\n");
        assert_eq!(follow_paths(&steps), Some(Vec::new()), "`copy: {whole}` sends everything");
    }
}

#[test]
fn a_bind_mount_from_the_context() {
    let steps = "      - run: make\n        mounts:\n          - bind: /src\n            source: ./src\n          - cache: /root/.cache\n      - copy: Makefile\n";
    insta::assert_snapshot!("bind_mount", one_stage(steps));
    // Without `source`, a bind mount reads the whole context.
    let whole = "      - run: make\n        mounts: [{bind: /src}]\n      - copy: Makefile\n";
    assert_eq!(follow_paths(whole), Some(Vec::new()));
    // A cache mount seeded from the context reads its `source` (all of it without one).
    let seeded = "      - run: make\n        mounts: [{cache: /c, from: context, source: seed}]\n";
    assert_eq!(follow_paths(seeded), Some(vec!["seed".to_string()]));
    let seeded_all = "      - run: make\n        mounts: [{cache: /c, from: context}]\n      - copy: Makefile\n";
    assert_eq!(follow_paths(seeded_all), Some(Vec::new()));
}

#[test]
fn paths_from_every_planned_stage_and_only_those() {
    let text = r#"stages:
  deps:
    from: busybox:1
    steps:
      - copy: package.json
      - copy: node_modules/
        to: /nm/
  build:
    from: busybox:1
    steps:
      - copy: [src/, /tsconfig.json]
        to: /src/
      - copy: /nm
        from: deps
  test:
    from: build
    steps:
      - copy: tests/
"#;
    let all = locals(&lowered(text, &BuildOptions::default(), &lower::Inputs::default()));
    insta::assert_snapshot!("target_default", all);
    // `--target build` still needs `deps` (and its copies), but not `test`.
    let build = locals(&lowered(text, &common::target("build"), &lower::Inputs::default()));
    insta::assert_snapshot!("target_build", build);
    // `--target deps` drops the copies of `build` and `test`.
    let p = common::plan(text, &common::target("deps"));
    assert_eq!(
        p.local_reads().context,
        LocalPaths::Paths(["node_modules".to_string(), "package.json".to_string()].into())
    );
}

#[test]
fn dockerignore_still_applies_and_keys_the_snapshot() {
    let text = "stages:\n  app:\n    from: busybox:1\n    steps:\n      - copy: src/\n";
    let plain = locals(&lowered(text, &BuildOptions::default(), &lower::Inputs::default()));
    let inputs = lower::Inputs { exclude_patterns: vec!["src/*.tmp".into()], ..Default::default() };
    let ignored = locals(&lowered(text, &BuildOptions::default(), &inputs));
    insta::assert_snapshot!("with_dockerignore", ignored);
    let hint = |t: &str| t.lines().find(|l| l.contains("local.sharedkeyhint")).unwrap().to_string();
    assert_ne!(hint(&plain), hint(&ignored), "another file set, another snapshot");
}

#[test]
fn the_hint_names_the_file_set() {
    let opts = |follow: &[&str]| llb::LocalOpts {
        follow_paths: follow.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let a = contexts::shared_key_hint("context", &opts(&["src"]));
    assert_eq!(a, contexts::shared_key_hint("context", &opts(&["src"])), "deterministic");
    assert!(a.starts_with("context:decant-"), "{a}");
    assert_ne!(a, contexts::shared_key_hint("context", &opts(&["src", "go.mod"])));
    // Never the Dockerfile frontend's hint, even for the whole context: its builds keep theirs.
    assert_ne!(contexts::shared_key_hint("context", &opts(&[])), "context");
}

#[test]
fn a_named_local_context() {
    let text = r#"stages:
  app:
    from: busybox:1
    steps:
      - copy: [img/logo.png, "css/*.css"]
        from: assets
        to: /www/
      - run: ls /vendor
        mounts:
          - bind: /vendor
            from: vendored
            source: lib
      - copy: src/
"#;
    let names = ["assets", "vendored"].map(String::from).into_iter().collect();
    let opts = BuildOptions { named_contexts: names, ..Default::default() };
    let p = common::plan(text, &opts);
    let values: BTreeMap<String, String> =
        [("assets".to_string(), "local:assets".to_string()), ("vendored".to_string(), "local:vendor-dir".to_string())]
            .into();
    let named_contexts = contexts::offline(&p, &values).unwrap();
    let inputs = lower::Inputs { named_contexts, ..Default::default() };
    let def = lower::lower(&p, &inputs).unwrap().definition();
    insta::assert_snapshot!("named_local", locals(&def));

    // A stage that starts from a named context reads all of it.
    let based = "stages:\n  app:\n    from: base\n    steps:\n      - copy: x\n        from: base\n";
    let p = common::plan(based, &BuildOptions { named_contexts: ["base".to_string()].into(), ..Default::default() });
    assert_eq!(p.local_reads().named("base"), &LocalPaths::All);
    assert_eq!(p.local_reads().context, LocalPaths::Nothing);
}

/// `decant llb --json` shows the filter (the local source's attrs).
#[test]
fn llb_json_shows_the_filter() {
    let dir = std::env::temp_dir().join(format!("decant-ctx-filter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("decant.yaml");
    std::fs::write(&spec, "stages:\n  app:\n    from: busybox:1\n    steps:\n      - copy: src/\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_decant")).args(["llb", "--json"]).arg(&spec).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(json.contains(r#""local.followpaths": "[\"src\"]""#), "{json}");
    assert!(json.contains(r#""local.sharedkeyhint": "context:decant-"#), "{json}");
}
