//! Golden (snapshot) tests: every example's plan, LLB and image config, and the rendered
//! diagnostics of every spec in `tests/testdata/invalid/`.
//!
//! Snapshots live in `tests/snapshots/`. After an intended change, regenerate them with
//!
//!     INSTA_UPDATE=always CARGO_TARGET_DIR=/work/target-shared cargo test -p decant --test goldens
//!
//! and review the diff (`git diff frontend/tests/snapshots`) before committing. (cargo-insta is
//! not needed. Without INSTA_UPDATE, a mismatch fails the test and writes a `.snap.new` beside
//! the snapshot.)

mod common;

use std::collections::BTreeMap;

use decant::plan::{BuildOptions, Platform};
use decant::{compile, lint, llb, lower, plan, spec};

fn pretty(bytes: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    serde_json::to_string_pretty(&v).unwrap()
}

/// Plan JSON, LLB JSON and image config JSON of one build of one example.
fn snapshot_build(name: &str, path: &str, text: &str, opts: &BuildOptions, suffix: &str) {
    let p = compile::plan(path, text, opts).unwrap_or_else(|d| panic!("{path}:\n{}", d.render()));
    insta::assert_snapshot!(format!("{name}{suffix}.plan"), serde_json::to_string_pretty(&p).unwrap());
    let lowered = lower::lower(&p, &lower::Inputs::default()).unwrap_or_else(|d| panic!("{path}:\n{}", d.render()));
    let def = lowered.definition();
    insta::assert_snapshot!(
        format!("{name}{suffix}.llb"),
        serde_json::to_string_pretty(&llb::dump_json(&def)).unwrap()
    );
    insta::assert_snapshot!(format!("{name}{suffix}.config"), pretty(&lowered.config.to_json()));
}

#[test]
fn examples_plan_llb_config() {
    for (name, path, text) in common::examples() {
        snapshot_build(&name, &path, &text, &BuildOptions::default(), "");
    }
}

/// The go example cross-compiles: the build stage runs on the build platform and gets the
/// target's `${TARGETOS}`/`${TARGETARCH}`; the runtime stage is the target platform's image.
#[test]
fn go_server_cross_compiled_for_arm64() {
    let (name, path, text) = common::examples().into_iter().find(|(n, _, _)| n == "go-server").unwrap();
    let opts = BuildOptions {
        target_platform: Some(Platform::parse("linux/arm64").unwrap()),
        build_args: BTreeMap::from([("VERSION".to_string(), "2.0.0".to_string())]),
        ..Default::default()
    };
    snapshot_build(&name, &path, &text, &opts, "-arm64");
    let p = compile::plan(&path, &text, &opts).unwrap();
    let build = p.stage("build").unwrap();
    assert_eq!(build.platform.id(), "linux/amd64", "the build stage runs on the build platform");
    let env = serde_json::to_string(&build.steps).unwrap();
    assert!(env.contains(r#""GOOS=linux""#) && env.contains(r#""GOARCH=arm64""#), "{env}");
    assert_eq!(p.stage("runtime").unwrap().platform.id(), "linux/arm64");
    assert_eq!(
        p.stage("runtime").unwrap().config.labels["org.opencontainers.image.version"].as_literal().as_deref(),
        Some("2.0.0")
    );
}

/// `decant check` on every example: no errors for any target, and no lint warnings.
#[test]
fn examples_check_clean() {
    for (_, path, text) in common::examples() {
        assert!(text.starts_with("# syntax=decant/frontend:dev\n"), "{path}: first line must be the syntax directive");
        let s = spec::parse_spec(&path, &text).unwrap_or_else(|d| panic!("{}", d.render()));
        let warnings = lint::lint(&s);
        assert!(warnings.is_empty(), "{path}: {}", decant::diag::Diagnostics::new(s.file.clone(), warnings).render());
        for stage in &s.stages {
            let opts = BuildOptions { target: Some(stage.name.value.clone()), ..Default::default() };
            plan::resolve(&s, &opts).unwrap_or_else(|d| panic!("{}", d.render()));
        }
    }
}

/// Each invalid spec fails (in the parser, the planner or lowering) and renders its
/// diagnostics: message, `file:line:col`, underline, help.
#[test]
fn invalid_specs_render_diagnostics() {
    let mut seen = 0;
    insta::glob!("testdata/invalid/*.yaml", |path| {
        seen += 1;
        let text = std::fs::read_to_string(path).unwrap();
        let name = format!("invalid/{}", path.file_name().unwrap().to_string_lossy());
        let rendered = match compile::plan(&name, &text, &BuildOptions::default()) {
            Err(d) => d.render(),
            Ok(p) => match lower::lower(&p, &lower::Inputs::default()) {
                Err(d) => d.render(),
                Ok(_) => panic!("{name} compiled, but it is meant to be invalid"),
            },
        };
        assert!(rendered.contains("error"), "{name}: {rendered}");
        insta::assert_snapshot!(rendered);
    });
    assert!(seen >= 15, "only {seen} invalid specs");
}
