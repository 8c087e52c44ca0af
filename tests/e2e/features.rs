//! Copy `link` and `parents`, `SOURCE_DATE_EPOCH` and `ssh` mounts on Docker 20.10 (BuildKit v0.8): `link`
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
    let history =
        docker(&["history", "--no-trunc", "--format", "{{.CreatedAt}} {{.CreatedBy}}", &tag], None, RUN_TIMEOUT);
    assert!(history.ok(), "{}", history.all());
    let decant_lines: Vec<&str> = history.stdout.lines().filter(|l| l.contains("copy:")).collect();
    assert_eq!(decant_lines.len(), 2, "{}", history.stdout);
    assert!(
        decant_lines.iter().all(|l| l.starts_with("2023-11-14")),
        "history entries carry the epoch:\n{}",
        history.stdout
    );
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

/// An `ssh` mount forwards the client's agent (`docker build --ssh default`) as a socket, only
/// to its step; `required: true` without a forwarded agent fails at the step's line.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn ssh_mount_forwards_the_agent_socket() {
    if mock() {
        return;
    }
    let dir = std::env::temp_dir().join(unique("decant-ssh"));
    fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Only this test's docker processes see the agent: the suite runs one test at a time.
    std::env::set_var("SSH_AUTH_SOCK", &sock);
    let mut images = Images::new("ssh");
    let tag = images.tag("img");
    let ctx = Context::new(&[]);
    let nonce = unique("n");
    let s = spec(&format!(
        "stages:\n  app:\n    from: busybox:local\n    steps:\n      - run: test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK {nonce}\" > /ssh.txt\n        mounts:\n          - ssh: default\n            required: true\n      - run: test ! -e /run/buildkit/ssh_agent.0 && echo gone >> /ssh.txt\n"
    ));
    let forwarded = build(&ctx, &s, &tag, &["--ssh", "default"]);
    std::env::remove_var("SSH_AUTH_SOCK");
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = fs::remove_dir_all(&dir);
    forwarded.expect_ok("ssh mount with a forwarded agent");
    let out = run(&["--entrypoint", "/bin/cat", &tag, "/ssh.txt"]);
    assert_eq!(out, format!("/run/buildkit/ssh_agent.0 {nonce}\ngone\n"), "the socket is there for its step only");

    // A new nonce, so the step is not answered from the cache.
    let s = s.replace(&nonce, &unique("n"));
    let missing = build(&ctx, &s, &tag, &[]);
    assert_error_at(&missing, line_of(&s, "- run: test -S"), "a required ssh mount without --ssh");
}
