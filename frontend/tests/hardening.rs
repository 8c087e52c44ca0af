//! Hostile and unusual input (issue 11): every one gets a located error or the right result,
//! quickly, and nothing aborts the process.

use decant::compile;
use decant::diag::Diagnostics;
use decant::plan::BuildOptions;
use decant::spec;

fn plan_err(text: &str) -> Diagnostics {
    compile::plan("decant.yaml", text, &BuildOptions::default()).expect_err("must be rejected")
}

/// The first error as `line:column: message`.
fn first(d: &Diagnostics) -> String {
    let e = d.errors().next().expect("an error");
    let p = d.file.position(e.span.expect("a location").start);
    format!("{}:{}: {}", p.line, p.column, e.message)
}

/// 20,000 nested block lists (40 KB) overflowed the loader's stack and aborted the process.
/// Lists, mappings by indentation, explicit keys and a mix all stop at the limit, with its place.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let limit = spec::MAX_NESTING;
    let block = format!("cmd:\n{}x\n", "- ".repeat(20_000));
    assert_eq!(
        first(&plan_err(&block)),
        format!("2:{}: the spec nests lists and mappings more than {limit} deep", 2 * limit - 1)
    );
    let mut mappings = String::from("stages:\n");
    for i in 0..5_000 {
        mappings.push_str(&format!("{}k{i}:\n", " ".repeat(i + 2)));
    }
    assert!(first(&plan_err(&mappings)).contains("more than 64 deep"));
    let explicit = format!("{}x: y\n", "? ".repeat(20_000));
    assert!(first(&plan_err(&explicit)).starts_with("1:"));
    let mixed = format!("a:\n{}{}y{}\n", "- ? ".repeat(40), "[{x: ".repeat(40), "}]".repeat(40));
    assert!(first(&plan_err(&mixed)).contains("deep"));
    // Deep but legal enough: an extension key with 60 levels is fine.
    let ok = format!("stages:\n  app:\n    from: alpine:3.20\n    x-deep:\n      {}x\n", "- ".repeat(limit - 5));
    compile::plan("decant.yaml", &ok, &BuildOptions::default()).unwrap_or_else(|d| panic!("{}", d.render()));
}

/// `A1: "${A0}${A0}"` ... `A30` allocated 2^33 bytes. The error names the arg whose expansion
/// is too long, where it is expanded.
#[test]
fn exponential_arg_expansion_is_bounded() {
    let mut text = String::from("args:\n  A0: xxxxxxxx\n");
    for i in 1..=30 {
        text.push_str(&format!("  A{i}: \"${{A{p}}}${{A{p}}}\"\n", p = i - 1));
    }
    text.push_str("stages:\n  app:\n    from: alpine:3.20\n    workdir: /${A30}\n");
    let d = plan_err(&text);
    assert_eq!(d.errors().count(), 1, "{}", d.render());
    assert_eq!(first(&d), "20:15: expanding `${A17}` (1048576 bytes) makes this value longer than 1048576 bytes");
    // Many uses of a large (but allowed) value hit the limit on the whole build.
    let mut text = String::from("args:\n  A0: xxxxxxxx\n");
    for i in 1..=16 {
        text.push_str(&format!("  A{i}: \"${{A{p}}}${{A{p}}}\"\n", p = i - 1));
    }
    text.push_str("stages:\n  app:\n    from: alpine:3.20\n    env:\n");
    for i in 0..200 {
        text.push_str(&format!("      V{i}: ${{A16}}\n"));
    }
    assert!(first(&plan_err(&text)).contains("makes all arg expansions of this build longer than"));
}

/// A UTF-8 byte order mark was read as part of the first key (or hid the `# syntax=` line).
#[test]
fn byte_order_mark_is_skipped() {
    let text = "\u{feff}# syntax=decant/frontend:dev\nstages:\n  app:\n    from: alpine:3.20\n";
    let s = spec::parse_spec("decant.yaml", text).unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(s.syntax.as_ref().map(|s| s.value.as_str()), Some("decant/frontend:dev"));
    compile::plan("decant.yaml", text, &BuildOptions::default()).unwrap();
    let text = "\u{feff}stages:\n  app:\n    from: alpine:3.20\n    workdir: ${NOPE\n";
    assert_eq!(first(&plan_err(text)), "4:14: unclosed `${` in a value");
}

/// "the spec has no `stages`" had no location.
#[test]
fn missing_stages_has_a_location() {
    assert_eq!(first(&plan_err("# syntax=decant/frontend:dev\nargs:\n  A: x\n")), "2:1: the spec has no `stages`");
    assert_eq!(first(&plan_err("")), "1:1: the spec has no `stages`");
    assert_eq!(first(&plan_err("# only a comment\n")), "1:1: the spec has no `stages`");
}

/// With `all_stages` (what `decant check` and `decant graph` plan), the stages kept document
/// order, so a stage that starts from a later one was lowered before it and failed.
#[test]
fn all_stages_are_ordered_dependencies_first() {
    let text = "stages:\n  app:\n    from: base\n  tools:\n    from: alpine:3.20\n  base:\n    from: tools\n    steps:\n      - copy: /x\n        from: tools\n";
    let opts = BuildOptions { all_stages: true, target: Some("app".into()), ..Default::default() };
    let p = compile::plan("decant.yaml", text, &opts).unwrap_or_else(|d| panic!("{}", d.render()));
    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["tools", "base", "app"]);
    decant::lower::lower(&p, &decant::lower::Inputs::default()).unwrap_or_else(|d| panic!("{}", d.render()));
    // Independent stages keep document order among themselves.
    let text = "stages:\n  b:\n    from: alpine:3.20\n  a:\n    from: alpine:3.20\n";
    let p = compile::plan("decant.yaml", text, &BuildOptions { all_stages: true, ..Default::default() }).unwrap();
    assert_eq!(p.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
}

/// NUL characters reached the LLB (and a raw NUL made the YAML scanner stop reading, silently).
#[test]
fn nul_characters_are_refused_at_the_value() {
    let raw = "stages:\n  app:\n    from: alpine:3.20\n    workdir: /a\0b\n    cmd: [\n";
    assert_eq!(first(&plan_err(raw)), "4:16: a spec cannot contain a NUL character");
    let escaped = r#"stages:
  app:
    from: alpine:3.20
    workdir: "/a\0b"
    env:
      "K\x00": v
    steps:
      - run: "echo \u0000"
      - copy: ["ok", "a\0"]
"#;
    let d = plan_err(escaped);
    let at: Vec<String> = d
        .errors()
        .map(|e| {
            let p = d.file.position(e.span.unwrap().start);
            format!("{}:{} {}", p.line, p.column, d.file.slice(e.span.unwrap()))
        })
        .collect();
    assert_eq!(at, ["4:17 \\0", "6:9 \\x00", "8:20 \\u0000", "9:24 \\0"], "{}", d.render());
    assert!(d.errors().all(|e| e.message == "a value cannot contain a NUL character"));
    // Through a build arg: at the value that uses it.
    let text = "args:\n  A:\nstages:\n  app:\n    from: alpine:3.20\n    workdir: /x${A}\n";
    let opts = BuildOptions { build_args: [("A".to_string(), "\0".to_string())].into(), ..Default::default() };
    let d = compile::plan("decant.yaml", text, &opts).unwrap_err();
    assert_eq!(first(&d), "6:14: this value contains a NUL character (from an arg)");
}

/// Invalid UTF-8 was an error without a place.
#[test]
fn invalid_utf8_has_line_and_column() {
    let d = spec::decode_text("decant.yaml", b"stages:\n  app:\n    from: \xff\n".to_vec()).unwrap_err();
    assert_eq!(first(&d), "3:11: the spec is not UTF-8 text");
}

/// `.dockerignore` lines `!`, `/`, `!/` and `/..`, which differed from Docker's reader.
#[test]
fn dockerignore_edge_lines() {
    assert_eq!(decant::dockerignore::parse("!\n/\n!/\n/..\n"), ["!", "/", "!/", "/"]);
}

mod specgen;

/// `check` accepted specs that lowering then refused (a relative secret `target`, two mounts at
/// one place, `HTTPS://` sources, `env: ""` for a secret, ...). For thousands of generated specs
/// (every value drawn from pools of good and edge values), whenever the plan succeeds, for the
/// default target and for every stage, lowering succeeds too.
#[test]
fn plan_success_implies_lower_success() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rng = move |n: usize| {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    };
    let (mut planned, mut failures) = (0, Vec::new());
    for _ in 0..2000 {
        let text = specgen::Gen::new(&mut rng).spec();
        for all_stages in [false, true] {
            let opts = BuildOptions { all_stages, ..Default::default() };
            let Ok(p) = compile::plan("decant.yaml", &text, &opts) else { continue };
            planned += 1;
            if let Err(d) = decant::lower::lower(&p, &decant::lower::Inputs::default()) {
                failures.push(format!("{text}\n{}", d.render()));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {planned} plans failed to lower; the first:\n{}", failures.len(), failures[0]);
    // The generator must reach the lowering often enough to mean something.
    assert!(planned > 400, "only {planned} plans");
}

/// `HTTPS://` sources were downloads for the plan and local paths for the LLB: the scheme is
/// lowered in the plan, as BuildKit only knows `https://`.
#[test]
fn url_schemes_in_capitals_are_downloads() {
    let text = "stages:\n  app:\n    from: alpine:3.20\n    steps:\n      - copy: HTTPS://EXAMPLE.COM/x.tgz\n        to: /opt/\n";
    let p = compile::plan("decant.yaml", text, &BuildOptions::default()).unwrap();
    let json = serde_json::to_value(&p.stages[0].steps[0]).unwrap();
    assert_eq!(json["sources"], serde_json::json!(["https://EXAMPLE.COM/x.tgz"]));
    let def = decant::lower::lower(&p, &decant::lower::Inputs::default()).unwrap().definition();
    let dump = serde_json::to_string(&decant::llb::dump_json(&def)).unwrap();
    assert!(dump.contains(r#""identifier":"https://EXAMPLE.COM/x.tgz""#), "{dump}");
}

/// The CLI printed diagnostics that came through an error path as `error: error: ...`.
#[test]
fn cli_prints_diagnostics_once() {
    let dir = std::env::temp_dir().join(format!("decant-hardening-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.yaml");
    std::fs::write(&path, b"stages:\n  app:\n    from: caf\xe9:1\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_decant")).arg("check").arg(&path).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.starts_with("error: the spec is not UTF-8 text\n"), "{stderr}");
    assert!(stderr.contains("latin1.yaml:3:14"), "{stderr}");
    assert!(!stderr.contains("error: error:"), "{stderr}");
}
