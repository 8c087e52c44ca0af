//! `DECANT_TIMINGS`: the frontend's phases as progress vertices, on Docker 20.10 (BuildKit v0.8,
//! which has no build warnings, so the vertices are what the user sees).

use super::*;

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn timings_build_arg_shows_the_phases_as_vertices() {
    if mock() {
        return;
    }
    let mut images = Images::new("timings");
    let tag = images.tag("img");
    let ctx = Context::new(&[("a.txt", "A\n")]);
    let s = spec("stages:\n  app:\n    from: busybox:local\n    steps:\n      - copy: a.txt\n    cmd: [cat, /a.txt]\n");
    let timed = build(&ctx, &s, &tag, &["--build-arg", "DECANT_TIMINGS=1"]);
    timed.expect_ok("build with timings");
    let names: Vec<&str> =
        timed.vertices.values().map(|v| v.name.as_str()).filter(|n| n.starts_with("[decant timings] ")).collect();
    for phase in
        ["connect", "ping", "inputs", "read spec", "read .dockerignore", "compile", "resolve images", "solve", "total"]
    {
        let prefix = format!("[decant timings] {phase}: ");
        assert!(
            names.iter().any(|n| n.strip_prefix(&prefix).is_some_and(|rest| rest.contains(" ms"))),
            "no vertex for {phase}: {names:?}\n{}",
            timed.text()
        );
    }
    // The image is the same as without timings.
    assert_eq!(run(&[&tag]).trim(), "A");
    let plain = build(&ctx, &s, &tag, &[]);
    plain.expect_ok("build without timings");
    assert!(
        !plain.vertices.values().any(|v| v.name.starts_with("[decant timings]")),
        "timings shown without the build arg:\n{}",
        plain.text()
    );
    // A value that is not a boolean is an error naming the option.
    let bad = build(&ctx, &s, &tag, &["--build-arg", "DECANT_TIMINGS=maybe"]);
    assert!(!bad.ok(), "DECANT_TIMINGS=maybe must fail");
    assert!(bad.text().contains("build-arg:DECANT_TIMINGS"), "{}", bad.text());
}
