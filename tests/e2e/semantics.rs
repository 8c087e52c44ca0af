//! Dockerfile semantics on Docker 20.10 (issue 8): the environment extended by `env`, built-in
//! args in a run, globs that match nothing, a shebang script, a `file` step and a relative
//! mount target. The LLB they produce is covered by `frontend/tests/semantics.rs`.

use super::*;

#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn semantics_env_extends_base_path_and_builtin_args_reach_runs() {
    if mock() {
        return;
    }
    let mut images = Images::new("semantics");
    let tag = images.tag("img");
    let ctx = Context::new(&[("a.txt", "A\n")]);
    let nonce = unique("n");
    let s = spec(&format!(
        r#"stages:
  build:
    from: busybox:local
    platform: ${{BUILDPLATFORM}}
    steps:
      - run: ": {nonce}; echo arch=$TARGETARCH os=${{TARGETOS}} > /arch.txt"
      - run: |
          #!/usr/bin/awk -f
          BEGIN {{ print "awk ran" > "/awk.txt" }}
  app:
    from: busybox-env:local
    env:
      PATH: "/opt/tools/bin:$PATH"
      GREETING: "${{FOO}}-extended"
    steps:
      - copy: [/arch.txt, /awk.txt]
        from: build
        to: $FOO/
      - file: $FOO/hello.sh
        content: |
          #!/bin/sh
          echo "hello from a file step"
        chmod: "0755"
      - run: cat a.txt > /bound.txt
        mounts:
          - bind: .
      - copy: [a.txt, yarn.lock*, package-lock.json*]
        to: /data/
    labels:
      seen: "foo is ${{FOO:-unset}}"
"#
    ));
    let b = build(&ctx, &s, &tag, &[]);
    b.expect_ok("semantics build");
    let env = env_list(&config(&tag));
    let path = env.iter().find(|e| e.starts_with("PATH=")).cloned().unwrap_or_default();
    assert!(path.starts_with("PATH=/opt/tools/bin:/") && !path.contains('$'), "{env:?}");
    assert!(env.contains(&"GREETING=bar-extended".to_string()), "{env:?}");
    let printed = run(&[&tag, "env"]);
    assert!(printed.lines().any(|l| l == "GREETING=bar-extended"), "{printed}");
    assert!(printed.lines().any(|l| l.starts_with("PATH=/opt/tools/bin:/")), "{printed}");
    // `to: $FOO/` is relative to the base image's workdir (/srv): /srv/bar/.
    assert_eq!(run(&[&tag, "cat", "/srv/bar/arch.txt"]).trim(), "arch=amd64 os=linux");
    assert_eq!(run(&[&tag, "ls", "/data"]).trim(), "a.txt", "the globs matched nothing");
    assert_eq!(run(&[&tag, "cat", "/srv/bar/awk.txt"]).trim(), "awk ran", "the shebang's interpreter ran the script");
    assert_eq!(run(&[&tag, "/srv/bar/hello.sh"]).trim(), "hello from a file step");
    assert_eq!(run(&[&tag, "cat", "/bound.txt"]).trim(), "A", "`bind: .` mounted the context on the workdir");
    assert_eq!(config(&tag)["Labels"]["seen"], "foo is bar");
}
