//! Dockerfile-parity features end to end: `run` mounts (secret, cache, tmpfs, bind), `run`
//! options (env, workdir, user, network, security), `copy` options, `docker build` options, and
//! the names of the vertices in the progress output.
//!
//! A module of the e2e suite (`tests/e2e/main.rs`), so it shares its helpers; run only these with
//! `DECANT_E2E_FILTER=parity tests/run`.
//!
//! Not reachable through Docker 20.10's CLI, so not here: `no-cache` for some stages only (no
//! flag), `hostname` (no flag), `--allow security.insecure` / `network.host` (no flag: only the
//! refusal is checked), subrequests (no `--call`: covered against the fake bridge in
//! `frontend/src/gateway/fake_bridge_tests.rs`), `copy.exclude`, tmpfs `size` and secret `env`
//! (BuildKit 0.9/0.10 features: only the clear refusal of `exclude` is checked).

use super::*;
use sha2::{Digest, Sha256};

/// The mock harness (Docker's own frontend on a translated spec) knows nothing of mounts.
fn skip_in_mock(test: &str) -> bool {
    if mock() {
        eprintln!("[e2e] mock mode: skipping {test}");
    }
    mock()
}

/// `sh -c SCRIPT` in `image`; stdout.
fn sh(image: &str, script: &str) -> String {
    run(&["--entrypoint", "/bin/sh", image, "-c", script])
}

/// Interface names listed in a copy of `/proc/net/dev`.
fn interfaces(proc_net_dev: &str) -> Vec<String> {
    proc_net_dev.lines().skip(2).filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string())).collect()
}

/// Does `hay` contain `needle` as a byte string?
fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The build failed, and its text contains every one of `needles`.
fn assert_fails_with(b: &Build, what: &str, needles: &[&str]) {
    let text = b.text();
    assert!(!b.ok(), "{what}: the build should fail:\n{text}");
    for n in needles {
        assert!(text.contains(n), "{what}: the error should mention {n:?}:\n{text}");
    }
}

/// A one-stage spec `app` from busybox:local with the given steps (indented YAML list items).
fn one_stage(steps: &str) -> String {
    spec(&format!("stages:\n  app:\n    from: busybox:local\n    steps:\n{steps}"))
}

// ---------------------------------------------------------------------------------------------
// Secret mounts
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn parity_secret_mounts_never_reach_the_image() {
    if skip_in_mock("secret mounts") {
        return;
    }
    let mut images = Images::new("secret");
    let tag = images.tag("img");
    let ctx = Context::new(&[]);
    // The secret file lives outside the build context, as it would for real.
    let secrets = Context::new(&[]);
    let value = unique("decant-secret-value-");
    secrets.write("tok", &value);
    let src = format!("id=tok,src={}", secrets.dir.join("tok").display());
    let want_sum = hex::encode(Sha256::digest(value.as_bytes()));
    let nonce = unique("n");

    let s = one_stage(&format!(
        r#"      - run: ": {nonce}; sha256sum /run/secrets/tok | cut -d' ' -f1 > /sum1; wc -c < /run/secrets/tok | tr -d ' ' > /len1"
        mounts: [{{secret: tok}}]
      - run: "sha256sum /etc/tok.conf | cut -d' ' -f1 > /sum2; stat -c '%u %a' /etc/tok.conf > /stat2; test -e /run/secrets/tok || echo gone > /gone"
        mounts: [{{secret: tok, target: /etc/tok.conf, uid: 1000, mode: "0440"}}]
      - run: "cat /run/secrets/absent 2>/dev/null || echo optional-ok > /optional"
        mounts: [{{secret: absent}}]
"#
    ));
    let b = build(&ctx, &s, &tag, &["--secret", &src]);
    b.expect_ok("secret build");
    let out = sh(&tag, "cat /sum1 /len1 /sum2 /stat2 /gone /optional; test -e /etc/tok.conf && echo stub-left; true");
    assert_eq!(
        out,
        format!("{want_sum}\n{}\n{want_sum}\n1000 440\ngone\noptional-ok\n", value.len()),
        "the run steps read the secret at /run/secrets/tok and at its target (owner 1000, mode 0440); \
         it exists only for its step; an optional secret that was not given is absent"
    );
    assert!(!b.text().contains(&value), "the secret value is in the build output:\n{}", b.text());

    // The exported image (every layer, the config, the history) does not contain the value.
    let saved = ctx.dir.join("image.tar");
    let out = docker(&["save", "-o", saved.to_str().unwrap(), &tag], None, RUN_TIMEOUT);
    assert!(out.ok(), "docker save: {}", out.all());
    let bytes = fs::read(&saved).unwrap();
    // Positive control: the search does see file contents (the layers are uncompressed tars).
    assert!(contains_bytes(&bytes, want_sum.as_bytes()), "self-check: /sum1's content not found in the saved image");
    assert!(!contains_bytes(&bytes, value.as_bytes()), "the secret value is in the saved image");
    let history = docker(&["history", "--no-trunc", &tag], None, RUN_TIMEOUT);
    assert!(history.ok() && !history.stdout.contains(&value), "{}", history.all());

    // Nor in the LLB the compiler produces (it never sees the value; the mount is there by id).
    let llb = Command::new(env!("CARGO_BIN_EXE_decant"))
        .args(["llb", "--json"])
        .arg(ctx.dir.join("decant.yaml"))
        .output()
        .expect("decant llb");
    assert!(llb.status.success(), "decant llb: {}", String::from_utf8_lossy(&llb.stderr));
    let llb = String::from_utf8(llb.stdout).unwrap();
    assert!(llb.contains("\"mountType\": \"SECRET\"") && llb.contains("\"ID\": \"tok\""), "{llb}");
    assert!(!llb.contains(&value));

    // A required secret that is not given fails the build, naming the secret and the step's line.
    let req = one_stage("      - run: cat /run/secrets/needed\n        mounts: [{secret: needed, required: true}]\n");
    let b = build(&ctx, &req, &images.tag("req"), &[]);
    assert_fails_with(&b, "required secret missing", &["secret needed", "not found"]);
    assert_error_at(&b, line_of(&req, "run: cat"), "required secret missing");
}

// ---------------------------------------------------------------------------------------------
// Cache mounts
// ---------------------------------------------------------------------------------------------

fn cache_spec(nonce: &str, cid: &str) -> String {
    spec(&format!(
        r#"stages:
  counter:
    from: busybox:local
    steps:
      - run: ": {nonce}; echo x >> /cache/log; wc -l < /cache/log | tr -d ' ' > /count; echo ran:'counter'"
        mounts: [{{cache: /cache, id: {cid}-count, sharing: locked}}]
      - run: "stat -c '%u %a' /owned > /owned.stat; touch /owned/f"
        mounts: [{{cache: /owned, id: {cid}-owned, uid: 1000, mode: "0700"}}]
      - run: "test -e /cache/log || echo clean > /cache.clean"
  writer:
    from: busybox:local
    steps:
      - run: ": {nonce}; echo {nonce} > /w/marker"
        mounts: [{{cache: /w, id: {cid}-shared}}]
  reader:
    from: writer
    steps:
      - run: ": {nonce}; cat /r/marker > /seen; echo ran:'reader'"
        mounts: [{{cache: /r, id: {cid}-shared, sharing: private}}]
  final:
    from: busybox:local
    steps:
      - copy: [/count, /owned.stat, /cache.clean]
        from: counter
        to: /out/
      - copy: /seen
        from: reader
        to: /out/seen
    cmd: [cat, /out/count, /out/owned.stat, /out/cache.clean, /out/seen]
"#
    ))
}

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn parity_cache_mounts_persist_between_builds_and_share_by_id() {
    if skip_in_mock("cache mounts") {
        return;
    }
    let mut images = Images::new("cachemount");
    let tag = images.tag("img");
    let ctx = Context::new(&[]);
    let cid = unique("c");

    let (n1, n2) = (unique("n"), unique("n"));
    let first = build(&ctx, &cache_spec(&n1, &cid), &tag, &[]);
    first.expect_ok("first cache-mount build");
    assert!(first.ran("counter") && first.ran("reader"), "{}", first.text());
    assert_eq!(
        run(&[&tag]),
        format!("1\n1000 700\nclean\n{n1}\n"),
        "a fresh cache; uid/mode apply to a new cache dir; the cache is not in the stage's files; \
         the reader stage sees the writer stage's cache through the same id at another path"
    );

    // A changed input reruns the steps: they see the first build's cache contents.
    let second = build(&ctx, &cache_spec(&n2, &cid), &tag, &[]);
    second.expect_ok("second cache-mount build");
    assert!(second.ran("counter") && second.ran("reader"), "the steps should rerun:\n{}", second.text());
    assert_eq!(run(&[&tag]), format!("2\n1000 700\nclean\n{n2}\n"), "the second build sees the first build's cache");
}

// ---------------------------------------------------------------------------------------------
// tmpfs and bind mounts; the names of vertices
// ---------------------------------------------------------------------------------------------

/// BuildKit's own vertices, named by the daemon rather than by decant.
fn is_daemon_vertex(name: &str) -> bool {
    name.starts_with("resolve image config for ") || name.starts_with("docker-image://") || name == "exporting to image"
}

/// Every vertex decant names is `[internal] …` or `[STAGE …] … (decant.yaml:LINE)`, and each
/// `(prefix, needle)` names a vertex starting with `prefix` at the line of `needle` in `s`.
fn assert_vertex_names(b: &Build, s: &str, expected: &[(&str, &str)]) {
    let names: Vec<&str> = b.vertices.values().map(|v| v.name.as_str()).collect();
    for n in &names {
        if is_daemon_vertex(n) || n.starts_with("[internal] ") {
            continue;
        }
        let line = n
            .strip_suffix(')')
            .and_then(|r| r.rsplit_once(" (decant.yaml:"))
            .and_then(|(_, l)| l.parse::<usize>().ok());
        assert!(
            n.starts_with('[') && line.is_some_and(|l| l >= 1 && l <= s.lines().count()),
            "vertex {n:?} is neither [internal] nor `[stage …] … (decant.yaml:LINE)`; all: {names:#?}"
        );
    }
    for (prefix, needle) in expected {
        let suffix = format!("(decant.yaml:{})", line_of(s, needle));
        assert!(
            names.iter().any(|n| n.starts_with(prefix) && n.ends_with(&suffix)),
            "no vertex `{prefix}… {suffix}`; all: {names:#?}"
        );
    }
}

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn parity_tmpfs_and_bind_mounts_leave_no_trace_and_vertex_names() {
    if skip_in_mock("tmpfs and bind mounts") {
        return;
    }
    let mut images = Images::new("mounts");
    let tag = images.tag("img");
    let ctx = Context::new(&[("input.txt", "from-context\n")]);
    let s = spec(
        r#"stages:
  src:
    from: busybox:local
    workdir: /data
    steps:
      - run: echo from-src > f.txt
  app:
    from: busybox:local
    steps:
      - run: "echo tmp > /scratch/t.txt; grep ' /scratch ' /proc/mounts | cut -d' ' -f3 > /tmpfs.type; cat /scratch/t.txt > /tmpfs.read"
        mounts: [{tmpfs: /scratch}]
      - run: "cat /mnt/f.txt > /bind.read; if touch /mnt/x 2>/dev/null; then echo rw; else echo ro; fi > /bind.mode"
        mounts: [{bind: /mnt, from: src, source: /data}]
      - run: "echo changed > /rw/f.txt; echo new > /rw/new.txt; cat /rw/f.txt > /rw.read"
        mounts: [{bind: /rw, from: src, source: /data, readwrite: true}]
      - run: cat /ctx/input.txt > /ctx.read
        mounts: [{bind: /ctx}]
      - copy: /data/
        from: src
        to: /src-after/
      - copy: /bin/busybox
        from: busybox-env:local
        to: /from-image/
"#,
    );
    let b = build(&ctx, &s, &tag, &[]);
    b.expect_ok("mounts build");
    let out = sh(
        &tag,
        "cat /tmpfs.type /tmpfs.read /bind.read /bind.mode /rw.read /ctx.read /src-after/*; \
         for f in /scratch/t.txt /rw/f.txt /rw/new.txt /mnt/x /ctx/input.txt /src-after/new.txt; do test -e $f && echo LEAK $f; done; \
         /from-image/busybox true && echo image-copy-ok",
    );
    assert_eq!(
        out, "tmpfs\ntmp\nfrom-src\nro\nchanged\nfrom-context\nfrom-src\nimage-copy-ok\n",
        "tmpfs is a tmpfs and its files stay out of the image; a bind of a stage is read-only unless \
         readwrite, whose writes reach neither the image nor the source stage; a bind defaults to the context"
    );

    // Vertex names: `[stage n/N] what (decant.yaml:LINE)` for steps, `[internal] …` for loads.
    assert_vertex_names(
        &b,
        &s,
        &[
            ("[src 2/3] workdir: /data", "workdir: /data"),
            ("[src 3/3] run: echo from-src", "echo from-src"),
            ("[app 2/7] run: echo tmp", "echo tmp"),
            ("[app 3/7] run: cat /mnt/f.txt", "cat /mnt/f.txt"),
            ("[app 4/7] run: echo changed", "echo changed"),
            ("[app 5/7] run: cat /ctx/input.txt", "cat /ctx/input.txt"),
            ("[app 6/7] copy: --from=src /data/ -> /src-after/", "- copy: /data/"),
            (
                "[app 7/7] copy: --from=docker.io/library/busybox-env:local /bin/busybox -> /from-image/",
                "- copy: /bin/busybox",
            ),
        ],
    );
    for internal in [
        "[internal] load build definition from decant.yaml",
        "[internal] load .dockerignore",
        "[internal] load metadata for docker.io/library/busybox:local",
        "[internal] load metadata for docker.io/library/busybox-env:local",
        "[internal] load build context",
    ] {
        assert!(b.vertices.values().any(|v| v.name == internal), "no vertex {internal:?}:\n{}", b.text());
    }
}

// ---------------------------------------------------------------------------------------------
// run options: env, workdir, user, network, security
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn parity_run_options_apply_to_their_step_only() {
    if skip_in_mock("run options") {
        return;
    }
    let mut images = Images::new("runopts");
    let tag = images.tag("img");
    let ctx = Context::new(&[]);
    let s = spec(
        r#"stages:
  app:
    from: busybox:local
    workdir: /w
    env: { STAGE: s, OVER: stage }
    steps:
      - run: echo "$STAGE $OVER $STEP $(pwd) $(id -u)" > /tmp/opts1
        env: { OVER: step, STEP: "1" }
        workdir: sub/dir
        user: "65534"
      - run: echo "$STAGE $OVER [$STEP] $(pwd) $(id -u)" > /tmp/opts2
      - run: id -un > /tmp/byname
        user: nobody
      - run: cat /proc/net/dev > /tmp/net.none
        network: none
      - run: cat /proc/net/dev > /tmp/net.default
"#,
    );
    build(&ctx, &s, &tag, &[]).expect_ok("run options build");
    let out = sh(&tag, "cat /tmp/opts1 /tmp/opts2 /tmp/byname");
    assert_eq!(
        out, "s step 1 /w/sub/dir 65534\ns stage [] /w 0\nnobody\n",
        "per-step env (over the stage's), workdir (relative to the stage's) and user (id or name) \
         apply to their step only"
    );
    assert_eq!(interfaces(&sh(&tag, "cat /tmp/net.none")), ["lo"], "network: none sees only lo");
    let default = interfaces(&sh(&tag, "cat /tmp/net.default"));
    assert!(
        default.len() > 1 && default.contains(&"lo".to_string()),
        "the default network has more than lo: {default:?}"
    );
    let cfg = config(&tag);
    assert!(!env_list(&cfg).iter().any(|e| e.starts_with("STEP=")), "step env leaked into the image: {cfg}");
    assert!(env_list(&cfg).contains(&"OVER=stage".to_string()), "{cfg}");
    assert_eq!(cfg["WorkingDir"], "/w");
    assert_eq!(cfg["User"], "", "a step's user is not the image's");

    // Privileged modes need entitlements that Docker 20.10's CLI cannot grant (no --allow):
    // the build fails and says which entitlement is missing.
    for (mode, entitlement) in [("security: insecure", "security.insecure"), ("network: host", "network.host")] {
        let bad = one_stage(&format!("      - run: echo hi\n        {mode}\n"));
        let b = build(&ctx, &bad, &images.tag("entitled"), &[]);
        // Docker 20.10 shows BuildKit's own load error, whatever message the frontend returns, so
        // it cannot name the step; it does name the entitlement.
        assert_fails_with(&b, mode, &[&format!("{entitlement} is not allowed")]);
    }
}

// ---------------------------------------------------------------------------------------------
// copy options
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn parity_copy_globs_dirs_owner_mode_and_image_sources() {
    if skip_in_mock("copy options") {
        return;
    }
    let mut images = Images::new("copyopts");
    let tag = images.tag("img");
    let ctx = Context::new(&[
        ("a.txt", "A\n"),
        ("b.txt", "B\n"),
        ("c.txt", "C\n"),
        ("notes.md", "N\n"),
        ("dir/x.txt", "X\n"),
        ("dir/sub/y.txt", "Y\n"),
    ]);
    let s = spec(
        r#"stages:
  app:
    from: busybox:local
    workdir: /w
    steps:
      - copy: "*.txt"
        to: /glob
      - copy: [a.txt, notes.md]
        to: /many
      - copy: dir
        to: /dircopy
      - copy: a.txt
        to: /owned.txt
        chown: "1000:1000"
        chmod: "0640"
      - copy: dir/
        to: /owned-dir/
        chown: "65534"
      - copy: b.txt
        to: rel/
      - copy: c.txt
      - copy: /bin/busybox
        from: busybox:local
        to: /from-image/sh
"#,
    );
    build(&ctx, &s, &tag, &[]).expect_ok("copy options build");
    let listing = sh(&tag, "find /glob /many /dircopy /w /owned-dir -type f | sort");
    assert_eq!(
        listing,
        "/dircopy/sub/y.txt\n/dircopy/x.txt\n/glob/a.txt\n/glob/b.txt\n/glob/c.txt\n/many/a.txt\n/many/notes.md\n\
         /owned-dir/sub/y.txt\n/owned-dir/x.txt\n/w/c.txt\n/w/rel/b.txt\n",
        "a glob or several sources go into a directory; a directory source copies its contents; \
         relative destinations and no destination resolve against the workdir"
    );
    let stats =
        sh(&tag, "stat -c '%n %u:%g %a' /owned.txt /owned-dir/x.txt /owned-dir/sub /glob/a.txt; cat /owned.txt");
    assert_eq!(
        stats,
        "/owned.txt 1000:1000 640\n/owned-dir/x.txt 65534:65534 644\n/owned-dir/sub 65534:65534 755\n/glob/a.txt 0:0 644\nA\n",
        "chown (uid:gid, or a uid alone: its group too) and chmod apply to the copied files"
    );
    assert_eq!(sh(&tag, "/from-image/sh -c 'echo from-image'"), "from-image\n", "a copy from an image, renamed");

    // exclude needs BuildKit 0.9 (file.copy.includeexcludepatterns): a clear refusal, not a misbuild.
    let ex = one_stage("      - copy: \"*.txt\"\n        to: /x/\n        exclude: [b.txt]\n");
    let b = build(&ctx, &ex, &images.tag("exclude"), &[]);
    assert_fails_with(&b, "copy exclude on BuildKit 0.8", &["file.copy.includeexcludepatterns"]);
    assert!(b.text().contains(&format!("decant.yaml:{}", line_of(&ex, "- copy:"))), "{}", b.text());
}

// ---------------------------------------------------------------------------------------------
// docker build options: --add-host, --network, an undeclared --build-arg
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn parity_build_options_add_host_network_none_undeclared_arg() {
    if skip_in_mock("build options") {
        return;
    }
    let mut images = Images::new("buildopts");
    let tag = images.tag("img");
    let ctx = Context::new(&[]);
    let s = one_stage(
        "      - run: cat /etc/hosts > /hosts; cat /proc/net/dev > /net; echo \"[$UNDECLARED]\" > /undeclared\n      - run: cat /proc/net/dev > /net.step\n        network: default\n",
    );
    let b = build(
        &ctx,
        &s,
        &tag,
        &["--add-host", "decant-host:1.2.3.4", "--network", "none", "--build-arg", "UNDECLARED=zzz"],
    );
    b.expect_ok("build options");
    let hosts = sh(&tag, "cat /hosts");
    assert!(
        hosts.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1.2.3.4", "decant-host"]),
        "--add-host not in /etc/hosts:\n{hosts}"
    );
    assert_eq!(interfaces(&sh(&tag, "cat /net")), ["lo"], "--network none: runs see only lo");
    // Dockerfile-like: a step's own network mode wins over the build's.
    assert!(interfaces(&sh(&tag, "cat /net.step")).len() > 1, "network: default under --network none");
    assert_eq!(sh(&tag, "cat /undeclared"), "[]\n", "an undeclared --build-arg is ignored");
    assert!(!env_list(&config(&tag)).iter().any(|e| e.contains("zzz")));
}
