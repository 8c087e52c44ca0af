//! The build context is filtered by what the build reads: a context with thousands of files the
//! spec never reads sends only the paths its copies and mounts use (BuildKit's progress prints
//! the bytes as `transferring context: N`), the same as the Dockerfile frontend sends for the
//! same build, and the image is still right.
//!
//! A module of the e2e suite (`tests/e2e/main.rs`); run only these with
//! `DECANT_E2E_FILTER=context_ tests/run`.

use super::*;

/// Files of 100 bytes in `node_modules/` that no build here reads: about 300 kB of content.
const UNREAD_FILES: usize = 3000;

/// The bytes of the build context sent, from the last `transferring context: N` of the plain
/// progress output (BuildKit prints decimal units: `41B`, `2.05kB`, `1.3MB`).
fn context_bytes(text: &str) -> u64 {
    let last = text
        .lines()
        .filter_map(|l| l.split_once("transferring context: ").map(|(_, rest)| rest))
        .last()
        .unwrap_or_else(|| panic!("no `transferring context:` in the output:\n{text}"));
    let size = last.split_whitespace().next().unwrap_or_default();
    let digits = size.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(size.len());
    let (number, unit) = size.split_at(digits);
    let number: f64 = number.parse().unwrap_or_else(|_| panic!("bad size {size:?} in {last:?}"));
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unknown unit {other:?} in {last:?}"),
    };
    (number * scale) as u64
}

#[test]
fn context_bytes_parses_progress_sizes() {
    assert_eq!(context_bytes("#2 [internal] load build context\n#2 transferring context: 41B done\n"), 41);
    assert_eq!(
        context_bytes("#5 transferring context: 1.20MB 0.5s\n#5 transferring context: 2.05kB 1.0s done\n"),
        2050
    );
    assert_eq!(context_bytes("#5 transferring context: 13.1MB 2.1s done"), 13_100_000);
}

/// A context with `node_modules/` of [`UNREAD_FILES`] files, a `.dockerignore`, and the few
/// files the build reads: `src/`, `docs/*.md`, `tools/gen.sh` (through a bind mount).
fn repository() -> Context {
    let ctx = Context::new(&[
        (".dockerignore", "src/*.tmp\n"),
        ("src/main.c", "int main(void) { return 0; }\n"),
        ("src/util/util.c", "int util(void) { return 1; }\n"),
        ("src/scratch.tmp", "ignored by .dockerignore\n"),
        ("docs/guide.md", "# guide\n"),
        ("docs/notes.txt", "not matched by the glob\n"),
        ("tools/gen.sh", "echo generated\n"),
        ("README.md", "not read\n"),
    ]);
    let filler = "x".repeat(99) + "\n";
    for i in 0..UNREAD_FILES {
        ctx.write(&format!("node_modules/pkg{}/f{i}.js", i / 100), &filler);
    }
    ctx
}

const FILTERED_SPEC: &str = r#"stages:
  app:
    from: busybox:local
    workdir: /app
    steps:
      - copy: src/
        to: src/
      - copy: docs/*.md
        to: docs/
      - run: ": NONCE; sh /mnt/tools/gen.sh > /app/generated"
        mounts:
          - bind: /mnt/tools
            source: tools
"#;

/// The same build for Docker's built-in frontend.
const FILTERED_DOCKERFILE: &str = "FROM busybox:local
WORKDIR /app
COPY src/ src/
COPY docs/*.md docs/
RUN --mount=type=bind,target=/mnt/tools,source=tools : NONCE; sh /mnt/tools/gen.sh > /app/generated
";

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn context_only_paths_the_spec_reads_are_sent() {
    if mock() {
        eprintln!("[e2e] mock mode: skipping the context filter (it is decant's)");
        return;
    }
    let mut images = Images::new("ctxfilter");
    let ctx = repository();
    let nonce = unique("n");

    // decant: only src/, docs/*.md and tools/ are sent.
    let tag = images.tag("decant");
    let b = build(&ctx, &spec(&FILTERED_SPEC.replace("NONCE", &nonce)), &tag, &[]);
    b.expect_ok("filtered build");
    let sent = context_bytes(&b.text());
    eprintln!("[e2e] decant sent {sent} B of context");
    assert!(sent < 20_000, "decant sent {sent} B: more than the few files the spec reads\n{}", b.text());
    let listing = run(&["--entrypoint", "/bin/sh", &tag, "-c", "cd /app && find . | sort; cat generated"]);
    assert_eq!(
        listing,
        ".\n./docs\n./docs/guide.md\n./generated\n./src\n./src/main.c\n./src/util\n./src/util/util.c\ngenerated\n",
        "the image has what the spec copies, and .dockerignore still applies"
    );

    // The same build as a Dockerfile sends about as much (the built-in frontend filters the same
    // way); decant sends no more than twice that, plus a little.
    fs::write(ctx.dir.join("Dockerfile.cmp"), FILTERED_DOCKERFILE.replace("NONCE", &nonce)).unwrap();
    let tag_df = images.tag("dockerfile");
    let out = docker(
        &["build", "--progress=plain", "-f", "Dockerfile.cmp", "-t", &tag_df, "."],
        Some(&ctx.dir),
        BUILD_TIMEOUT,
    );
    assert!(out.ok(), "Dockerfile build failed:\n{}", out.all());
    let sent_df = context_bytes(&out.all());
    eprintln!("[e2e] the Dockerfile build sent {sent_df} B of context");
    assert!(sent <= 2 * sent_df + 2_000, "decant sent {sent} B, the Dockerfile build {sent_df} B");

    // A cached rebuild sends only file headers again: still small.
    let again = build(&ctx, &spec(&FILTERED_SPEC.replace("NONCE", &nonce)), &tag, &[]);
    again.expect_ok("cached rebuild");
    let resent = context_bytes(&again.text());
    assert!(resent < 20_000, "the cached rebuild sent {resent} B\n{}", again.text());

    // Control: `copy: .` turns the filter off, and then all of node_modules/ is sent (so the
    // small figures above are the filter's doing, not a quirk of the measurement).
    let whole = spec("stages:\n  app:\n    from: busybox:local\n    workdir: /app\n    steps:\n      - copy: .\n");
    let tag_all = images.tag("all");
    let b = build(&ctx, &whole, &tag_all, &[]);
    b.expect_ok("copy: . build");
    let sent_all = context_bytes(&b.text());
    eprintln!("[e2e] `copy: .` sent {sent_all} B of context");
    assert!(sent_all > 100 * UNREAD_FILES as u64, "`copy: .` sent only {sent_all} B");
    let count = run(&["--entrypoint", "/bin/sh", &tag_all, "-c", "find /app/node_modules -type f | wc -l"]);
    assert_eq!(count.trim(), UNREAD_FILES.to_string());
}

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn context_target_sends_only_what_its_stages_read() {
    if mock() {
        return;
    }
    let mut images = Images::new("ctxtarget");
    let ctx = repository();
    // `test` copies node_modules/; `app` does not need `test`, so building `app` leaves it out.
    let s = spec(
        r#"stages:
  test:
    from: busybox:local
    steps:
      - copy: node_modules/
        to: /nm/
  app:
    from: busybox:local
    steps:
      - copy: src/main.c
        to: /app/
    cmd: [cat, /app/main.c]
"#,
    );
    let tag = images.tag("app");
    let b = build(&ctx, &s, &tag, &[]);
    b.expect_ok("app build");
    let sent = context_bytes(&b.text());
    assert!(sent < 5_000, "building app sent {sent} B\n{}", b.text());
    assert_eq!(run(&[&tag]), "int main(void) { return 0; }\n");

    let tag_test = images.tag("test");
    let b = build(&ctx, &s, &tag_test, &["--target", "test"]);
    b.expect_ok("test build");
    let sent = context_bytes(&b.text());
    assert!(sent > 100 * UNREAD_FILES as u64, "building test sent only {sent} B\n{}", b.text());
}
