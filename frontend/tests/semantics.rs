//! Dockerfile semantics a spec must keep (issue 8): what a stage inherits, which args a run
//! sees, how values expand, and the Dockerfile-shaped mistakes `check` must catch.

mod common;

use decant::compile;
use decant::llb::pb;
use decant::plan::{BuildOptions, Platform};
use prost::Message;

fn arm64() -> BuildOptions {
    BuildOptions { target_platform: Some(Platform::parse("linux/arm64").unwrap()), ..Default::default() }
}

/// Every exec op of a definition: (args, env, platform).
fn execs(def: &pb::Definition) -> Vec<(Vec<String>, Vec<String>, String)> {
    def.def
        .iter()
        .filter_map(|b| {
            let op = pb::Op::decode(b.as_slice()).unwrap();
            let platform = op.platform.as_ref().map(|p| format!("{}/{}", p.os, p.architecture)).unwrap_or_default();
            match op.op {
                Some(pb::op::Op::Exec(e)) => {
                    let meta = e.meta.unwrap();
                    Some((meta.args, meta.env, platform))
                }
                _ => None,
            }
        })
        .collect()
}

fn exec_running<'a>(
    execs: &'a [(Vec<String>, Vec<String>, String)],
    needle: &str,
) -> &'a (Vec<String>, Vec<String>, String) {
    execs
        .iter()
        .find(|(args, _, _)| args.last().is_some_and(|a| a.contains(needle)))
        .unwrap_or_else(|| panic!("no exec runs {needle}"))
}

const CROSS: &str = r#"# syntax=decant/frontend:dev
stages:
  build:
    from: busybox:local
    platform: ${BUILDPLATFORM}
    steps:
      - run: echo building for $TARGETARCH on ${BUILDARCH} > /out
  test:
    from: build
    steps:
      - run: echo testing
  pinned:
    from: build
    platform: linux/arm64
    steps:
      - run: echo pinned
  grandchild:
    from: test
    steps:
      - run: echo grandchild
  app:
    from: busybox:local
    steps:
      - copy: /out
        from: grandchild
      - copy: /out
        from: pinned
        to: /pinned
"#;

#[test]
fn a_stage_from_a_stage_runs_on_its_platform() {
    let plan = common::plan(CROSS, &arm64());
    let platform = |name: &str| plan.stage(name).unwrap().platform.id();
    assert_eq!(platform("build"), "linux/amd64");
    assert_eq!(platform("test"), "linux/amd64", "inherits build's platform");
    assert_eq!(platform("grandchild"), "linux/amd64", "through two stages");
    assert_eq!(platform("pinned"), "linux/arm64", "an explicit platform wins");
    assert_eq!(platform("app"), "linux/arm64");
    let def = common::definition(CROSS, &arm64());
    let execs = execs(&def);
    assert_eq!(exec_running(&execs, "echo testing").2, "linux/amd64");
    assert_eq!(exec_running(&execs, "echo grandchild").2, "linux/amd64");
    assert_eq!(exec_running(&execs, "echo pinned").2, "linux/arm64");
}

#[test]
fn built_in_args_reach_a_run_that_mentions_them() {
    let def = common::definition(CROSS, &arm64());
    let execs = execs(&def);
    let env = &exec_running(&execs, "building for").1;
    assert!(env.contains(&"TARGETARCH=arm64".to_string()), "{env:?}");
    assert!(env.contains(&"BUILDARCH=amd64".to_string()), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("TARGETOS=")), "only the args it mentions: {env:?}");
    let env = &exec_running(&execs, "echo testing").1;
    assert!(!env.iter().any(|e| e.starts_with("TARGET")), "{env:?}");
}

/// Every copy action of a definition.
fn copies(def: &pb::Definition) -> Vec<pb::FileActionCopy> {
    def.def
        .iter()
        .filter_map(|b| match pb::Op::decode(b.as_slice()).unwrap().op {
            Some(pb::op::Op::File(f)) => Some(f.actions),
            _ => None,
        })
        .flatten()
        .filter_map(|a| match a.action {
            Some(pb::file_action::Action::Copy(c)) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_glob_may_match_nothing_as_in_dockerfile_copy() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    workdir: /app
    steps:
      - copy: [package.json, yarn.lock*, package-lock.json*]
"#;
    let copies = copies(&common::definition(text, &BuildOptions::default()));
    let srcs: Vec<&str> = copies.iter().map(|c| c.src.as_str()).collect();
    assert_eq!(srcs, ["/package.json", "/yarn.lock*", "/package-lock.json*"]);
    assert!(copies.iter().all(|c| c.allow_wildcard && c.allow_empty_wildcard));
}
