//! SBOM scans (`--sbom`): which extras the plan asks for (`BUILDKIT_SBOM_SCAN_CONTEXT` and
//! `BUILDKIT_SBOM_SCAN_STAGE`, with the Dockerfile frontend's value rules), and the golden of
//! the scan definition the gateway solves.
//!
//! Regenerate after an intended change with `INSTA_UPDATE=always cargo test -p decant --test
//! sbom` and review `git diff frontend/tests/snapshots`.

mod common;

use std::collections::BTreeMap;

use decant::image::ImageConfig;
use decant::llb;
use decant::lower::{self, sbom::Scanner};
use decant::plan::{BuildOptions, ImageRef, Platform, SbomTargets};

const SPEC: &str = "args:
  MODE: release
stages:
  deps:
    from: busybox:1
    steps:
      - copy: go.mod
  tools:
    from: busybox:1
    steps:
      - run: echo tools > /t
  app:
    from: busybox:1
    steps:
      - copy: /
        from: deps
      - copy: /t
        from: tools
";

fn with_args(args: &[(&str, &str)]) -> BuildOptions {
    BuildOptions {
        build_args: args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    }
}

fn targets(text: &str, args: &[(&str, &str)]) -> SbomTargets {
    common::plan(text, &with_args(args)).sbom_targets()
}

fn stages(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn nothing_extra_unless_asked() {
    assert_eq!(targets(SPEC, &[]), SbomTargets::default());
}

#[test]
fn build_args_select_the_context_and_stages() {
    let t = targets(SPEC, &[("BUILDKIT_SBOM_SCAN_CONTEXT", "true"), ("BUILDKIT_SBOM_SCAN_STAGE", "1")]);
    assert_eq!(t, SbomTargets { context: true, stages: stages(&["deps", "tools"]) }, "the target is not an extra");
    let t = targets(SPEC, &[("BUILDKIT_SBOM_SCAN_STAGE", "tools,other")]);
    assert_eq!(t, SbomTargets { context: false, stages: stages(&["tools"]) }, "a list names stages");
    let t = targets(SPEC, &[("BUILDKIT_SBOM_SCAN_STAGE", "False"), ("BUILDKIT_SBOM_SCAN_CONTEXT", "0")]);
    assert_eq!(t, SbomTargets::default());
    // The context is scanned when the target asks for it: a list without the target does not.
    assert!(!targets(SPEC, &[("BUILDKIT_SBOM_SCAN_CONTEXT", "deps")]).context);
    assert!(targets(SPEC, &[("BUILDKIT_SBOM_SCAN_CONTEXT", "app")]).context);
    // Only stages the target needs.
    let opts = BuildOptions { target: Some("deps".into()), ..with_args(&[("BUILDKIT_SBOM_SCAN_STAGE", "true")]) };
    assert_eq!(common::plan(SPEC, &opts).sbom_targets(), SbomTargets::default());
}

#[test]
fn a_stage_asks_in_its_args() {
    // No top-level declaration needed for the scan args, as Dockerfile's `ARG` in a stage.
    let text = SPEC.replace(
        "  tools:\n    from: busybox:1\n",
        "  tools:\n    from: busybox:1\n    args: { BUILDKIT_SBOM_SCAN_STAGE: \"true\" }\n",
    );
    assert_eq!(targets(&text, &[]), SbomTargets { context: false, stages: stages(&["tools"]) });
    // `--build-arg` wins over the stage's value.
    assert_eq!(targets(&text, &[("BUILDKIT_SBOM_SCAN_STAGE", "false")]), SbomTargets::default());
    let text = SPEC.replace(
        "  app:\n    from: busybox:1\n",
        "  app:\n    from: busybox:1\n    args: { BUILDKIT_SBOM_SCAN_CONTEXT: \"${MODE}\" }\n",
    );
    assert!(!targets(&text, &[]).context, "`release` is neither a boolean nor this stage's name");
    assert!(targets(&text, &[("MODE", "true")]).context, "the value may use args");
    // A top-level declaration gives every stage its default.
    let text = SPEC.replace("args:\n", "args:\n  BUILDKIT_SBOM_SCAN_STAGE: deps\n");
    assert_eq!(targets(&text, &[]), SbomTargets { context: false, stages: stages(&["deps"]) });
}

#[test]
fn lowered_extras_are_the_context_and_the_stages() {
    let opts = with_args(&[("BUILDKIT_SBOM_SCAN_CONTEXT", "true"), ("BUILDKIT_SBOM_SCAN_STAGE", "deps")]);
    let plan = common::plan(SPEC, &opts);
    let lowered = lower::lower(&plan, &lower::Inputs::default()).unwrap();
    assert_eq!(lowered.sbom.extras.keys().collect::<Vec<_>>(), ["context", "deps"]);
    assert!(!lowered.sbom.ignore_cache);
    let json = llb::dump_json(&llb::marshal(&lowered.sbom.extras["context"])).to_string();
    assert!(json.contains("local://context") && json.contains(r#"[\"go.mod\"]"#), "the filtered context: {json}");
    let inputs = lower::Inputs { no_cache: lower::NoCache::Stages(["deps".into()].into()), ..Default::default() };
    assert!(lower::lower(&plan, &inputs).unwrap().sbom.ignore_cache, "a scanned stage without cache");
}

/// The scanner of the goldens: entrypoint and command, an environment and a workdir.
fn scanner() -> Scanner {
    let config = ImageConfig::from_json(
        br#"{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/bin/syft-scanner"],"Cmd":["--quiet"],"Env":["HOME=/root","BUILDKIT_SCAN_SOURCE=ignored"],"WorkingDir":"/scan"}}"#,
    )
    .unwrap();
    Scanner {
        reference: ImageRef::parse("docker/buildkit-syft-scanner:stable-1")
            .unwrap()
            .pinned(&decant::reference::Digest::parse(&format!("sha256:{}", "5".repeat(64))).unwrap()),
        platform: Platform::parse("linux/amd64").unwrap(),
        config,
        params: BTreeMap::from([("MODE".into(), "fast".into())]),
    }
}

#[test]
fn scan_definition() {
    let opts = with_args(&[("BUILDKIT_SBOM_SCAN_CONTEXT", "true"), ("BUILDKIT_SBOM_SCAN_STAGE", "tools")]);
    let lowered = lower::lower(&common::plan(SPEC, &opts), &lower::Inputs::default()).unwrap();
    let out = scanner().scan("linux/amd64", &lowered.sbom).unwrap();
    let def = llb::marshal(&out);
    insta::assert_snapshot!("scan_with_extras.llb", serde_json::to_string_pretty(&llb::dump_json(&def)).unwrap());
}

#[test]
fn scan_definition_of_the_target_alone() {
    let lowered = lower::lower(&common::plan(SPEC, &BuildOptions::default()), &lower::Inputs::default()).unwrap();
    let mut s = scanner();
    s.params.clear();
    s.config.config.env.clear();
    let def = llb::marshal(&s.scan("linux/amd64", &lowered.sbom).unwrap());
    let json = serde_json::to_string_pretty(&llb::dump_json(&def)).unwrap();
    assert!(!json.contains("BUILDKIT_SCAN_SOURCE_EXTRAS") && !json.contains("/run/src/extras"), "{json}");
    assert!(json.contains("PATH=/usr/local/sbin"), "the default PATH when the image sets none");
    insta::assert_snapshot!("scan_target_only.llb", json);
}

#[test]
fn a_scanner_without_a_command_is_an_error() {
    let lowered = lower::lower(&common::plan(SPEC, &BuildOptions::default()), &lower::Inputs::default()).unwrap();
    let mut s = scanner();
    s.config.config.entrypoint = None;
    s.config.config.cmd = Some(Vec::new());
    let e = s.scan("linux/amd64", &lowered.sbom).unwrap_err().to_string();
    assert!(e.contains("does not have cmd"), "{e}");
}

#[test]
fn eject_keeps_a_stage_scan_arg() {
    let text = SPEC.replace(
        "  tools:\n    from: busybox:1\n",
        "  tools:\n    from: busybox:1\n    args: { BUILDKIT_SBOM_SCAN_STAGE: \"true\" }\n",
    );
    let spec = decant::spec::parse_spec("decant.yaml", &text).unwrap();
    let dockerfile = decant::convert::eject(&spec);
    let tools = dockerfile.split("FROM ").find(|s| s.contains(" AS tools")).unwrap();
    assert!(tools.contains("ARG BUILDKIT_SBOM_SCAN_STAGE=true\n"), "{dockerfile}");
}

#[test]
fn a_declared_scan_arg_is_not_unused() {
    let text = SPEC.replace("args:\n", "args:\n  BUILDKIT_SBOM_SCAN_STAGE: deps\n  NOT_READ: x\n");
    let spec = decant::spec::parse_spec("decant.yaml", &text).unwrap();
    let unused: Vec<String> =
        decant::lint::lint(&spec).into_iter().filter(|d| d.rule == Some("unused-arg")).map(|d| d.message).collect();
    assert_eq!(unused, ["arg `NOT_READ` is never used", "arg `MODE` is never used"]);
}

#[test]
fn convert_writes_a_stage_scan_arg_as_the_stage_args() {
    let dockerfile = "FROM busybox:1 AS deps\nARG BUILDKIT_SBOM_SCAN_STAGE=true\nRUN echo hi > /x\nFROM busybox:1\nARG BUILDKIT_SBOM_SCAN_CONTEXT=true\nCOPY --from=deps /x /x\n";
    let c = decant::convert::convert(dockerfile, &Default::default()).unwrap();
    assert!(
        !c.yaml.contains("\nargs:") && !c.yaml.contains("env:"),
        "no declaration, not in the runs' env:\n{}",
        c.yaml
    );
    assert_eq!(targets(&c.yaml, &[]), SbomTargets { context: true, stages: stages(&["deps"]) }, "{}", c.yaml);
}
