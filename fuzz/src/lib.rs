//! What every fuzz target checks, shared by the targets in `fuzz_targets/`.

use decant::plan::BuildOptions;
use decant::{compile, lower};

/// The spec generator of the tests (`frontend/tests/specgen`), driven by the fuzzer's bytes.
#[path = "../../frontend/tests/specgen/mod.rs"]
pub mod specgen;

/// Compiles `text` the way `decant check` (every stage) and a build (the default target) do.
/// Errors must render; a plan must lower (what `check` accepts, the build accepts); and
/// compiling twice gives the same bytes.
pub fn compile_checked(text: &str) {
    for all_stages in [true, false] {
        let opts = BuildOptions { all_stages, ..Default::default() };
        match compile::plan("fuzz.yaml", text, &opts) {
            Err(d) => {
                assert!(d.has_errors(), "a failed plan without an error");
                let _ = d.render();
            }
            Ok(p) => {
                let lowered = match lower::lower(&p, &lower::Inputs::default()) {
                    Ok(l) => l,
                    // A name that is no arg expands from the stage's environment, which the base
                    // image's config completes at build time: such a value can fail only then
                    // (`${NAME:?msg}`, a volume that expands to nothing), as in a Dockerfile. So can
                    // a relative mount target, which lands under the image's working directory
                    // (on `/` when it has none: refused, as the Dockerfile frontend refuses it).
                    Err(d) if from_environment(text, &p) || relative_mount_target(&p) => {
                        assert!(d.has_errors(), "a failed lowering without an error");
                        let _ = d.render();
                        continue;
                    }
                    Err(d) => panic!("the plan passed and lowering failed:\n{text}\n{}", d.render()),
                };
                let bytes = lowered.definition_bytes();
                if !all_stages {
                    let again = compile::plan("fuzz.yaml", text, &opts).expect("plan again");
                    let again = lower::lower(&again, &lower::Inputs::default()).expect("lower again");
                    assert_eq!(bytes, again.definition_bytes(), "two compiles differ");
                }
            }
        }
    }
}

/// Whether `text` expands a name that is neither a declared nor a built-in arg.
fn from_environment(text: &str, plan: &decant::plan::Plan) -> bool {
    let args = plan.all_args();
    decant::plan::mentioned_vars(text).any(|name| !args.contains_key(name))
}

/// Whether a run step of the plan mounts at a relative (or empty) target.
fn relative_mount_target(plan: &decant::plan::Plan) -> bool {
    use decant::plan::{Mount, StepKind};
    let relative = |t: &str| !t.starts_with('/');
    plan.stages.iter().flat_map(|s| &s.steps).any(|step| match &step.kind {
        StepKind::Run(run) => run.mounts.iter().any(|m| match m {
            Mount::Cache { target, .. } | Mount::Tmpfs { target, .. } | Mount::Bind { target, .. } => relative(target),
            Mount::Secret { target, .. } | Mount::Ssh { target, .. } => target.as_deref().is_some_and(relative),
        }),
        _ => false,
    })
}

/// Converts `dockerfile` as `decant convert` does. A refusal must name a line of it; a spec it
/// writes must parse (its values may still fail `decant check`, as the notes say), eject, and
/// the ejected Dockerfile convert again without a panic.
pub fn convert_checked(dockerfile: &str) {
    use decant::convert::{convert, eject, ConvertOptions};
    let opts = ConvertOptions::default();
    let conversion = match convert(dockerfile, &opts) {
        Ok(c) => c,
        Err(e) => {
            assert!(e.loc.line >= 1, "a refusal without a line: {}", e.message);
            return;
        }
    };
    let _ = conversion.render_notes("Dockerfile");
    let spec = match decant::spec::parse_spec("decant.yaml", &conversion.yaml) {
        Ok(spec) => spec,
        Err(d) => {
            panic!("convert wrote a spec that does not parse:\n{dockerfile}\n---\n{}\n{}", conversion.yaml, d.render())
        }
    };
    let ejected = eject(&spec);
    let _ = convert(&ejected, &opts);
}
