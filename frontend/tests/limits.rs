//! Size limits (frontend/src/limits.rs) and the cases that used to take super-linear time.
//!
//! Each case runs at its limit, a size where the quadratic code took minutes in a debug build
//! and the linear code takes well under a second; what is asserted is the result (every value
//! decoded and placed right), never a time. Speed itself is measured by the benchmark
//! (`cargo bench -p decant --bench compile`, tests/bench/compile.sh).

use std::fmt::Write as _;

use decant::limits::{MAX_ENTRIES, MAX_SPEC_BYTES, MAX_STAGES, MAX_STEPS, MAX_STRING_BYTES};
use decant::plan::BuildOptions;
use decant::{compile, lint, llb, lower, spec};

const HEAD: &str = "# syntax=decant/frontend:dev\nstages:\n";

fn check(text: &str) -> Result<decant::plan::Plan, String> {
    let opts = BuildOptions { all_stages: true, ..Default::default() };
    compile::plan("decant.yaml", text, &opts).map_err(|d| d.summary())
}

/// One stage with one step, whose body is `step`.
fn one_step(step: &str) -> String {
    format!("{HEAD}  app:\n    from: alpine:3.20\n    steps:\n      - {step}\n")
}

fn flow_sources(n: usize) -> String {
    (0..n).map(|i| format!("s{i}.txt")).collect::<Vec<_>>().join(", ")
}

#[test]
fn a_long_flow_list_is_decoded_and_placed() {
    // Every value of a one-line flow list used to rescan the line from its start.
    let text = one_step(&format!("copy: [{}]\n        to: /x/", flow_sources(MAX_ENTRIES)));
    let parsed = spec::parse_spec("decant.yaml", &text).unwrap_or_else(|d| panic!("{}", d.render()));
    let spec::StepKind::Copy(copy) = &parsed.stages[0].steps[0].kind else { panic!("a copy step") };
    assert_eq!(copy.sources.len(), MAX_ENTRIES);
    for (i, s) in copy.sources.iter().enumerate() {
        assert_eq!(parsed.file.slice(s.span), format!("s{i}.txt"));
    }
    let last = copy.sources.last().unwrap();
    let pos = parsed.file.position(last.span.start);
    let line = text.lines().nth(pos.line as usize - 1).unwrap();
    assert_eq!(line[pos.column as usize - 1..].split(',').next().unwrap(), format!("s{}.txt]", MAX_ENTRIES - 1));
    assert!(check(&text).is_ok());
}

#[test]
fn the_most_stages_are_checked_and_linted() {
    // Lint looked every `from:` up in a list of the stage names.
    let mut text = String::from(HEAD);
    for i in 0..MAX_STAGES {
        match i {
            0 => text.push_str("  s0:\n    from: alpine:3.20\n"),
            _ => writeln!(text, "  s{i}:\n    from: s{}", i - 1).unwrap(),
        }
    }
    let plan = check(&text).unwrap();
    assert_eq!(plan.stages.len(), MAX_STAGES);
    let parsed = spec::parse_spec("decant.yaml", &text).unwrap();
    assert_eq!(lint::lint(&parsed), Vec::new());
}

#[test]
fn the_most_env_keys_reach_a_run_step() {
    // Each variable was set by a linear search of those set before it.
    let mut text = format!("{HEAD}  app:\n    from: alpine:3.20\n    env:\n");
    for i in 0..MAX_ENTRIES {
        writeln!(text, "      K{i}: v{i}").unwrap();
    }
    // And once more, in the step's own env, overriding the stage's.
    text.push_str("    steps:\n      - run: env\n        env:\n          K0: again\n");
    let plan = check(&text).unwrap();
    let lowered = lower::lower(&plan, &lower::Inputs::default()).unwrap_or_else(|d| panic!("{}", d.render()));
    let env = &lowered.config.config.env;
    assert_eq!(env.len(), MAX_ENTRIES + 1, "PATH and every key");
    assert_eq!(env[1], "K0=v0");
    let def = lowered.definition();
    let exec = def
        .def
        .iter()
        .filter_map(|b| match <llb::pb::Op as prost::Message>::decode(b.as_slice()).unwrap().op {
            Some(llb::pb::op::Op::Exec(e)) => Some(e),
            _ => None,
        })
        .next()
        .unwrap();
    let run_env = exec.meta.unwrap().env;
    assert_eq!(run_env.len(), MAX_ENTRIES + 1);
    assert_eq!(run_env.iter().filter(|kv| kv.starts_with("K0=")).collect::<Vec<_>>(), ["K0=again"]);
}

#[test]
fn many_diagnostics_render_each_at_its_line() {
    // Each one was rendered from the whole file; merging them compared each with all others.
    let mut text = format!("{HEAD}  app:\n    from: alpine:3.20\n    steps:\n");
    for i in 0..MAX_STEPS {
        writeln!(text, "      - run: echo {i}\n        bogus{i}: x").unwrap();
    }
    let d = compile::plan("decant.yaml", &text, &BuildOptions::default()).unwrap_err();
    assert_eq!(d.items.len(), MAX_STEPS);
    let rendered = d.render();
    for (i, item) in d.items.iter().enumerate() {
        assert_eq!(item.message, format!("unknown key `bogus{i}` in a `run` step"));
    }
    assert_eq!(rendered.matches("error: unknown key").count(), MAX_STEPS);
    let last_line = 5 + 2 * MAX_STEPS;
    assert!(rendered.contains(&format!("--> decant.yaml:{last_line}:9\n")), "the last one at its line");
    assert!(rendered.contains(&format!("{last_line} |         bogus{}: x\n", MAX_STEPS - 1)));
}

/// The one error of a spec over a limit, as `file:line:col: error: message`.
fn over(text: &str) -> String {
    let d = check(text).unwrap_err();
    assert_eq!(d.lines().count(), 1, "{d}");
    d
}

#[test]
fn too_many_stages() {
    let mut text = String::from(HEAD);
    for i in 0..=MAX_STAGES {
        writeln!(text, "  s{i}:\n    from: alpine:3.20").unwrap();
    }
    let line = 3 + 2 * MAX_STAGES;
    assert_eq!(over(&text), format!("decant.yaml:{line}:3: error: more than {MAX_STAGES} stages in one spec"));
}

#[test]
fn too_many_steps() {
    let mut text = format!("{HEAD}  app:\n    from: alpine:3.20\n    steps:\n");
    for i in 0..=MAX_STEPS {
        writeln!(text, "      - run: echo {i}").unwrap();
    }
    let line = 6 + MAX_STEPS;
    assert_eq!(over(&text), format!("decant.yaml:{line}:9: error: more than {MAX_STEPS} steps in one stage"));
}

#[test]
fn too_many_keys_or_items() {
    let mut text = format!("{HEAD}  app:\n    from: alpine:3.20\n    labels:\n");
    for i in 0..=MAX_ENTRIES {
        writeln!(text, "      l{i}: v").unwrap();
    }
    let line = 6 + MAX_ENTRIES;
    assert_eq!(over(&text), format!("decant.yaml:{line}:7: error: more than {MAX_ENTRIES} keys in one mapping"));

    let text = one_step(&format!("copy: [{}]", flow_sources(MAX_ENTRIES + 1)));
    let column = 16 + flow_sources(MAX_ENTRIES).len() + 2;
    assert_eq!(over(&text), format!("decant.yaml:6:{column}: error: more than {MAX_ENTRIES} items in one list"));
}

#[test]
fn too_long_a_string() {
    let long = "x".repeat(MAX_STRING_BYTES + 1);
    let text = one_step(&format!("run: echo {long}"));
    assert_eq!(
        over(&text),
        format!(
            "decant.yaml:6:14: error: a string of {} bytes, more than the limit of {MAX_STRING_BYTES} bytes",
            MAX_STRING_BYTES + 6
        )
    );
    // At the limit, it is fine.
    assert!(check(&one_step(&format!("run: {}", "x".repeat(MAX_STRING_BYTES)))).is_ok());
}

#[test]
fn too_big_a_spec() {
    // A comment fills the file up, with a two-byte character across the limit: the error is at
    // that character, the first one past the limit.
    let mut text = one_step("run: make");
    text.push('#');
    text.push_str(&"x".repeat(MAX_SPEC_BYTES - 1 - text.len()));
    text.push_str("éxyz");
    let line = text.lines().count();
    let last_line_start = text.rfind('\n').unwrap() + 1;
    let at = (0..=MAX_SPEC_BYTES).rev().find(|&i| text.is_char_boundary(i)).unwrap();
    let column = text[last_line_start..at].chars().count() + 1;
    assert_eq!(
        over(&text),
        format!(
            "decant.yaml:{line}:{column}: error: the spec is {} bytes, more than the limit of {MAX_SPEC_BYTES} bytes",
            text.len()
        )
    );
}
