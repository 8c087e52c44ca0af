//! What newer clients send, on Docker 20.10 (BuildKit v0.8): proxy build args reach run steps
//! (and only them), and `BUILDKIT_CACHE_MOUNT_NS` separates cache mounts. The LLB on a current
//! BuildKit is covered by `frontend/tests/modern.rs` and the fake-bridge tests.

use super::*;

/// `docker build --build-arg HTTP_PROXY=...` without declaring the arg: a run step sees it in
/// both spellings; the image does not keep it; another proxy keeps the step's cache.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn proxy_build_args_reach_run_steps_but_not_the_image_or_cache_key() {
    if mock() {
        return;
    }
    let mut images = Images::new("proxy");
    let (first, second) = (images.tag("a"), images.tag("b"));
    let ctx = Context::new(&[]);
    let nonce = unique("n");
    let s = spec(&format!(
        "stages:\n  app:\n    from: busybox:local\n    steps:\n      - run: echo ran:'{nonce}'; echo \"$HTTP_PROXY|$http_proxy|$NO_PROXY\" > /proxy\n    cmd: [cat, /proxy]\n"
    ));
    let b = build(
        &ctx,
        &s,
        &first,
        &["--build-arg", "HTTP_PROXY=http://proxy.invalid:3128", "--build-arg", "NO_PROXY=localhost"],
    );
    b.expect_ok("proxy args");
    assert!(b.ran(&nonce), "the step ran:\n{}", b.text());
    assert_eq!(run(&[&first]).trim(), "http://proxy.invalid:3128|http://proxy.invalid:3128|localhost");
    let env = env_list(&config(&first));
    assert!(env.iter().all(|kv| !kv.to_ascii_uppercase().contains("PROXY")), "not in the image: {env:?}");
    // BuildKit keeps proxy settings out of the cache key: another proxy reuses the step.
    let b = build(&ctx, &s, &second, &["--build-arg", "HTTP_PROXY=http://other.invalid:8080"]);
    b.expect_ok("another proxy");
    assert!(!b.ran(&nonce), "the step came from the cache:\n{}", b.text());
}

/// `--build-arg BUILDKIT_CACHE_MOUNT_NS=NS` prefixes cache mount ids, as the Dockerfile frontend
/// does: two namespaces do not see each other's cache; the same namespace does.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn cache_mount_namespace_separates_caches() {
    if mock() {
        return;
    }
    let mut images = Images::new("cachens");
    let ctx = Context::new(&[]);
    let id = unique("ns-cache-");
    let s = spec(&format!(
        "args:\n  N:\nstages:\n  app:\n    from: busybox:local\n    steps:\n      - run: (cat /c/mark 2>/dev/null || echo empty) > /seen; echo $N > /c/mark\n        mounts: [{{ cache: /c, id: {id} }}]\n    cmd: [cat, /seen]\n"
    ));
    let mut seen = |ns: &str, n: &str| {
        let tag = images.tag(n);
        let b = build(
            &ctx,
            &s,
            &tag,
            &["--build-arg", &format!("BUILDKIT_CACHE_MOUNT_NS={ns}"), "--build-arg", &format!("N={n}")],
        );
        b.expect_ok(&format!("namespace {ns}"));
        run(&[&tag]).trim().to_string()
    };
    assert_eq!(seen("a", "one"), "empty", "a new cache");
    assert_eq!(seen("b", "two"), "empty", "namespace b does not see namespace a's cache");
    assert_eq!(seen("a", "three"), "one", "namespace a sees its own cache");
}

/// `docker build -f decant.yaml - < ctx.tar`: Docker 20.10 sends the tarball as the opt
/// `context=http://build-context-<id>` (no locals), and decant asks BuildKit for that URL. But
/// Docker's built-in Dockerfile frontend has already read the upload once (to find the
/// `# syntax=` line) and the daemon serves it only once, so the download fails ("context not
/// found"); a frontend can read it only by sending the very op bytes the v0.8 Dockerfile
/// frontend sent. decant names the URL and the reason, instead of failing on a missing local.
/// The successful path (unpacking, the spec read from the tarball) is in the fake-bridge tests.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn a_tarball_on_stdin_is_asked_for_as_the_remote_context() {
    if mock() {
        return;
    }
    let mut images = Images::new("stdintar");
    let tag = images.tag("img");
    let ctx = Context::new(&[("src/hello.txt", "hi\n")]);
    ctx.write(
        "decant.yaml",
        &spec("stages:\n  app:\n    from: busybox:local\n    steps:\n      - copy: src/hello.txt\n        to: /hello.txt\n"),
    );
    let tar = std::env::temp_dir().join(unique("decant-ctx-")).with_extension("tar");
    let made = Command::new("tar").arg("-C").arg(&ctx.dir).arg("-cf").arg(&tar).arg(".").status().expect("tar");
    assert!(made.success());
    let out = Command::new(docker_bin())
        .args(["build", "--progress=plain", "-f", "decant.yaml", "-t", &tag, "-"])
        .env("DOCKER_BUILDKIT", "1")
        .stdin(fs::File::open(&tar).unwrap())
        .output()
        .expect("docker build");
    let _ = fs::remove_file(&tar);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("[e2e] docker build - < ctx.tar:\n{text}");
    assert!(!out.status.success());
    assert!(text.contains("cannot read the downloaded build context http://build-context-"), "{text}");
    assert!(text.contains("context not found"), "{text}");
    assert!(!text.contains("load build definition from decant.yaml"), "no local was asked for:\n{text}");
}

/// `# check=error=true` (after `# syntax=`, among the leading directives Docker 20.10 reads):
/// a warning fails the build, naming the rule and the line, in the Dockerfile frontend's form.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn check_directive_makes_warnings_errors() {
    if mock() {
        return;
    }
    let mut images = Images::new("checkerr");
    let tag = images.tag("img");
    let ctx = Context::new(&[]);
    let body = "args:\n  UNUSED: x\nstages:\n  app:\n    from: busybox:local\n";
    let s = spec(&format!("# check=error=true\n{body}"));
    let b = build(&ctx, &s, &tag, &[]);
    assert!(!b.ok(), "a warning is an error:\n{}", b.text());
    let line = line_of(&s, "UNUSED: x");
    assert!(b.text().contains(&format!("unused-arg: arg `UNUSED` is never used (line {line})")), "{}", b.text());
    let s = spec(&format!("# check=error=true;skip=unused-arg\n{body}"));
    build(&ctx, &s, &tag, &[]).expect_ok("the rule skipped");
}
