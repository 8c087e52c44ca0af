//! Regression tests for compiler bugs found while writing the test suite (all fixed).

use std::panic::{catch_unwind, AssertUnwindSafe};

use decant::compile;
use decant::plan::BuildOptions;

/// BUG (spec/decode.rs, `STEP_KINDS` and `Decoder::step`): `env`, `workdir` and `user` are both step kinds and
/// `run` options, and `step()` counts every key in STEP_KINDS as a kind, so a `run` step with
/// its own `env:`/`workdir:`/`user:` is rejected as "a step has one kind; this one has both
/// `run` and `env`". Expected: when `run` (or `copy`) is present, it is the kind and the other
/// keys are its options. Workaround in examples/c-hello and examples/go-server: stage-level
/// `workdir:`/`env:` instead of per-run options.
#[test]
fn run_step_accepts_its_env_workdir_and_user_options() {
    let text = r#"# syntax=decant/frontend:dev
args:
  VERSION: "1.0"
stages:
  app:
    from: golang:1.23-alpine
    steps:
      - run: go build -o /out/app .
        env:
          GOOS: ${TARGETOS}
          GOARCH: ${TARGETARCH}
        workdir: /src
        user: "1000"
"#;
    let plan =
        compile::plan("decant.yaml", text, &BuildOptions::default()).unwrap_or_else(|d| panic!("{}", d.render()));
    let json = serde_json::to_value(&plan.stages[0].steps[0]).unwrap();
    assert_eq!(json["env"], serde_json::json!(["GOOS=linux", "GOARCH=amd64"]));
    assert_eq!(json["workdir"], "/src");
    assert_eq!(json["user"], "1000");
}

/// BUG (spec/decode.rs `load_error`, diag.rs `render_one`): a YAML load error gets the span
/// `start..start + 1` in bytes. When the character at `start` is multi-byte (here `é`),
/// the span ends inside it and `Diagnostics::render()` panics in annotate-snippets ("end byte
/// index N is not a char boundary"). Any spec with a YAML error at a non-ASCII character
/// crashes `decant check` and the frontend instead of reporting the error. Expected: the span
/// covers the whole character (`start + ch.len_utf8()`), and `render_one` clamps spans to
/// char boundaries as it already clamps them to the text's length.
#[test]
fn yaml_error_at_multibyte_character_renders() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: alpine:3.20\n    cmd: [a, b]é\n";
    let d = compile::plan("decant.yaml", text, &BuildOptions::default()).expect_err("invalid YAML");
    let rendered = catch_unwind(AssertUnwindSafe(|| d.render())).expect("render must not panic");
    assert!(rendered.contains("decant.yaml:5:"), "{rendered}");
}

/// Fuzz (bytes): a stage whose only key is an `x-` extension key close to `from` (`x-om`) failed
/// to plan with no error at all: the missing `from` was taken for a reported typo, but
/// extension keys are never reported. Expected: "stage `app` has no `from`".
#[test]
fn an_extension_key_is_not_a_typo_of_from() {
    let text = "stages:\n  app:\n    x-om: Alpine::3.\n";
    let d = compile::plan("decant.yaml", text, &BuildOptions::default()).expect_err("no from");
    assert!(d.has_errors());
    assert!(d.render().contains("stage `app` has no `from`"), "{}", d.render());
}
