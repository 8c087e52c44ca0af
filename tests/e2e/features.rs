//! Copy `link` and `parents`, and `SOURCE_DATE_EPOCH`, on Docker 20.10 (BuildKit v0.8): `link`
//! falls back to a plain copy (v0.8 has no merge op), `parents` is refused naming the capability
//! it needs (v0.8 has no include patterns), and the epoch sets the image's creation time.
//! Their LLB on a current BuildKit is covered by `frontend/tests/features.rs`.

use super::*;

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn link_falls_back_to_a_copy_and_epoch_sets_created() {
    if mock() {
        return;
    }
    let mut images = Images::new("linkepoch");
    let tag = images.tag("img");
    let ctx = Context::new(&[("a.txt", "A\n")]);
    let nonce = unique("n");
    let s = spec(&format!(
        "stages:\n  build:\n    from: busybox:local\n    steps:\n      - run: mkdir -p /out && echo {nonce} > /out/tool\n  app:\n    from: busybox:local\n    steps:\n      - copy: /out/tool\n        from: build\n        to: /opt/\n        link: true\n        chown: \"1000:1000\"\n      - copy: a.txt\n        to: /opt/\n        link: true\n    cmd: [cat, /opt/tool]\n"
    ));
    let b = build(&ctx, &s, &tag, &["--build-arg", "SOURCE_DATE_EPOCH=1700000000"]);
    b.expect_ok("link + SOURCE_DATE_EPOCH");
    assert_eq!(run(&[&tag]).trim(), nonce, "the linked copy is in the image");
    let owner = run(&["--entrypoint", "/bin/sh", &tag, "-c", "stat -c '%u:%g' /opt/tool; cat /opt/a.txt"]);
    assert_eq!(owner, "1000:1000\nA\n");
    let img = inspect(&tag);
    assert_eq!(img["Created"], "2023-11-14T22:13:20Z", "SOURCE_DATE_EPOCH sets the creation time");
    let history = docker(&["history", "--no-trunc", "--format", "{{.CreatedAt}} {{.CreatedBy}}", &tag], None, RUN_TIMEOUT);
    assert!(history.ok(), "{}", history.all());
    let decant_lines: Vec<&str> = history.stdout.lines().filter(|l| l.contains("copy:")).collect();
    assert_eq!(decant_lines.len(), 2, "{}", history.stdout);
    assert!(decant_lines.iter().all(|l| l.starts_with("2023-11-14")), "history entries carry the epoch:\n{}", history.stdout);
}

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn parents_on_buildkit_0_8_names_the_missing_capability() {
    if mock() {
        return;
    }
    let mut images = Images::new("parents");
    let tag = images.tag("img");
    let ctx = Context::new(&[("src/a/one.txt", "1\n")]);
    let s = spec("stages:\n  app:\n    from: busybox:local\n    steps:\n      - copy: [src/a/one.txt]\n        to: /data/\n        parents: true\n");
    let b = build(&ctx, &s, &tag, &[]);
    assert_error_at(&b, line_of(&s, "- copy: [src/a/one.txt]"), "parents on v0.8");
    assert!(b.text().contains("file.copy.includeexcludepatterns"), "{}", b.text());
}
