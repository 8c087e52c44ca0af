//! Dockerfile semantics on Docker 20.10 (issue 8): the environment extended by `env`, built-in
//! args in a run, globs that match nothing, a shebang script, a `file` step and a relative
//! mount target. The LLB they produce is covered by `frontend/tests/semantics.rs`. Also: an ARG
//! and an ENV of one name, built from a Dockerfile and from what `decant convert` makes of it.

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
      - file: /expanded.txt
        content: "$GREETING in $$PWD, ${{UNSET:-default}}\n"
        expand: true
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
    // An expanded file step: the environment at the step (the base image's FOO included).
    assert_eq!(run(&[&tag, "cat", "/expanded.txt"]), "bar-extended in $PWD, default\n");
    // `to: $FOO/` is relative to the base image's workdir (/srv): /srv/bar/.
    assert_eq!(run(&[&tag, "cat", "/srv/bar/arch.txt"]).trim(), "arch=amd64 os=linux");
    assert_eq!(run(&[&tag, "ls", "/data"]).trim(), "a.txt", "the globs matched nothing");
    assert_eq!(run(&[&tag, "cat", "/srv/bar/awk.txt"]).trim(), "awk ran", "the shebang's interpreter ran the script");
    assert_eq!(run(&[&tag, "/srv/bar/hello.sh"]).trim(), "hello from a file step");
    assert_eq!(run(&[&tag, "cat", "/bound.txt"]).trim(), "A", "`bind: .` mounted the context on the workdir");
    assert_eq!(config(&tag)["Labels"]["seen"], "foo is bar");
}

/// `ONBUILD` against the oracle: the image decant makes with `onbuild` carries the same
/// `OnBuild` as the Dockerfile `ONBUILD` image, and Docker's own frontend runs its triggers in a
/// build `FROM` it; a decant build `from:` it runs them too, before its own steps, with the
/// same result.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn semantics_onbuild_triggers_reach_the_image_and_run_in_builds_on_it() {
    if mock() {
        return;
    }
    let mut images = Images::new("onbuild");
    let (with_decant, with_dockerfile) = (images.tag("decant"), images.tag("dockerfile"));
    let nonce = unique("n");
    let ctx = Context::new(&[("src/a.txt", "A\n")]);
    let triggers = ["COPY src /app/src", "RUN cat /app/src/a.txt > /app/triggered && echo \"$HOME\" > /app/home"];
    let s = spec(&format!(
        "stages:\n  app:\n    from: busybox:local\n    steps:\n      - run: \": {nonce}\"\n    onbuild: {}\n",
        serde_json::to_string(&triggers).unwrap()
    ));
    build(&ctx, &s, &with_decant, &[]).expect_ok("the decant image with triggers");
    let dockerfile: String = std::iter::once(format!("FROM busybox:local\nRUN : {nonce}\n"))
        .chain(triggers.iter().map(|t| format!("ONBUILD {t}\n")))
        .collect();
    ctx.write("Dockerfile.onbuild", &dockerfile);
    let out = docker(
        &["build", "--progress=plain", "-f", "Dockerfile.onbuild", "-t", &with_dockerfile, "."],
        Some(&ctx.dir),
        BUILD_TIMEOUT,
    );
    assert!(out.ok(), "Dockerfile build failed:\n{}", out.all());
    let on_build = |tag: &str| config(tag)["OnBuild"].clone();
    assert_eq!(on_build(&with_decant), on_build(&with_dockerfile), "the same triggers as the Dockerfile's ONBUILD");
    assert_eq!(strs(&on_build(&with_decant)), triggers);

    // Docker's own frontend runs the decant image's triggers.
    let child = images.tag("child");
    ctx.write("Dockerfile.child", &format!("FROM {with_decant}\n"));
    let out = docker(
        &["build", "--progress=plain", "-f", "Dockerfile.child", "-t", &child, "."],
        Some(&ctx.dir),
        BUILD_TIMEOUT,
    );
    assert!(out.ok(), "Dockerfile build on the decant image failed:\n{}", out.all());
    assert_eq!(run(&["--entrypoint", "cat", &child, "/app/triggered"]), "A\n");
    assert!(config(&child).get("OnBuild").is_none_or(Value::is_null), "the triggers ran and are gone");

    // decant on the same image runs the triggers first, as the Dockerfile build did.
    let on = images.tag("on");
    let s = spec(&format!(
        "stages:\n  app:\n    from: {with_decant}\n    steps:\n      - run: cat /app/triggered /app/home > /app/seen\n"
    ));
    let b = build(&ctx, &s, &on, &[]);
    b.expect_ok("decant on an image with triggers");
    assert!(b.text().contains("onbuild run: cat /app/src/a.txt"), "{}", b.text());
    assert_eq!(run(&["--entrypoint", "cat", &on, "/app/seen"]), "A\n/root\n");
    let cat = |tag: &str| run(&["--entrypoint", "sh", tag, "-c", "cat /app/triggered /app/home; ls -ln /app/src"]);
    assert_eq!(cat(&on), cat(&child), "the same files as the Dockerfile build on the image");
    assert!(config(&on).get("OnBuild").is_none_or(Value::is_null), "{}", config(&on));
}

/// An ARG and an ENV of one name in a stage: the Dockerfile reads whichever came last, in values
/// and in RUN, and the spec `decant convert` writes for it must read the same. Each stage is
/// built from the Dockerfile by Docker's frontend and from the converted spec by decant, with
/// and without a `--build-arg`, and the label and the run's output compared.
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn semantics_convert_arg_and_env_of_one_name_read_what_the_dockerfile_reads() {
    if mock() {
        return;
    }
    let nonce = unique("n");
    let dockerfile = format!(
        "FROM busybox:local AS env-last\nARG V=a\nENV V=e-$V\nLABEL l=$V\nRUN echo \"{nonce} run=$V\" > /o\n\
         CMD [\"cat\", \"/o\"]\n\n\
         FROM busybox:local AS arg-last\nENV V=e\nARG V=a\nLABEL l=$V\nRUN echo \"{nonce} run=$V\" > /o\n\
         CMD [\"cat\", \"/o\"]\n\n\
         FROM busybox:local AS arg-last-no-default\nENV V=e\nARG V\nLABEL l=$V\n\
         RUN echo \"{nonce} run=$V\" > /o\nCMD [\"cat\", \"/o\"]\n"
    );
    let conversion = decant::convert::convert(&dockerfile, &decant::convert::ConvertOptions::default())
        .unwrap_or_else(|e| panic!("convert: {}", e.message));
    assert!(conversion.notes.is_empty(), "{}", conversion.render_notes("Dockerfile"));
    let body = conversion.yaml.split_once('\n').map_or("", |(_, rest)| rest);
    let ctx = Context::new(&[("Dockerfile", &dockerfile)]);
    let mut images = Images::new("convert-arg-env");
    for target in ["env-last", "arg-last", "arg-last-no-default"] {
        for (i, arg) in [None, Some("V=b")].into_iter().enumerate() {
            let mut extra = vec!["--target", target];
            if let Some(a) = arg {
                extra.extend(["--build-arg", a]);
            }
            let (df_tag, decant_tag) =
                (images.tag(&format!("{target}-{i}-df")), images.tag(&format!("{target}-{i}-decant")));
            let mut args = vec!["build", "--progress=plain", "-t", &df_tag];
            args.extend(&extra);
            args.push(".");
            let out = docker(&args, Some(&ctx.dir), BUILD_TIMEOUT);
            assert!(out.ok(), "Dockerfile build failed:\n{}", out.all());
            build(&ctx, &spec(body), &decant_tag, &extra).expect_ok("the converted spec");
            let label = |tag: &str| config(tag)["Labels"]["l"].clone();
            assert_eq!(label(&decant_tag), label(&df_tag), "{target} {arg:?}: the label");
            assert_eq!(run(&[&decant_tag]), run(&[&df_tag]), "{target} {arg:?}: what the run saw");
        }
    }
    // What the Dockerfile read, for the record (tags in build order, a Dockerfile's first): the
    // ENV after the ARG, the ARG after the ENV, an ARG without a value only when the build gives
    // one.
    let seen: Vec<String> = images.tags.iter().step_by(2).map(|t| run(&[t])).collect();
    let want: Vec<String> = ["e-a", "e-b", "a", "b", "e", "b"].iter().map(|v| format!("{nonce} run={v}\n")).collect();
    assert_eq!(seen, want);
}

/// `decant eject` of a spec whose stage sets an env of an arg's name: in the spec every value
/// after it (workdir, a run's env, a later env, a copy's destination, a label) still reads the
/// arg, where a Dockerfile would read the env; the ejected Dockerfile reads the arg through a
/// copy of it. Built from both, with and without `--build-arg`, they give the same config and
/// files (it fails with the previous eject).
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn semantics_eject_arg_and_env_of_one_name_read_what_the_spec_reads() {
    if mock() {
        return;
    }
    let nonce = unique("n");
    let body = format!(
        "args:\n  V: a\nstages:\n  app:\n    from: busybox:local\n    env:\n      V: e-$V\n    workdir: /w-${{V}}\n\
         \x20   steps:\n      - run: echo \"{nonce} run=$V\" > /o\n      - run: echo \"renv=$R v=$V\" >> /o\n\
         \x20       env: {{ R: \"r-${{V}}\", V: \"${{V}}\" }}\n      - env: {{ V: \"again-${{V}}\", W: \"w-$V\" }}\n\
         \x20     - copy: a.txt\n        to: /x-${{V:-none}}/\n      - run: echo \"run2=$V $W\" >> /o && ls / >> /o\n\
         \x20   labels:\n      l: \"${{V}}\"\n    cmd: [\"cat\", \"/o\"]\n"
    );
    let parsed = decant::spec::parse_spec("decant.yaml", &spec(&body)).unwrap_or_else(|d| panic!("{}", d.render()));
    let dockerfile = decant::convert::eject(&parsed);
    assert!(!dockerfile.contains("# syntax="), "needs no newer syntax:\n{dockerfile}");
    let ctx = Context::new(&[("Dockerfile", &dockerfile), ("a.txt", "a\n")]);
    let mut images = Images::new("eject-arg-env");
    for (i, arg) in [None, Some("V=b")].into_iter().enumerate() {
        let extra: Vec<&str> = arg.map(|a| vec!["--build-arg", a]).unwrap_or_default();
        let (df_tag, decant_tag) = (images.tag(&format!("{i}-df")), images.tag(&format!("{i}-decant")));
        let mut args = vec!["build", "--progress=plain", "-t", &df_tag];
        args.extend(&extra);
        args.push(".");
        let out = docker(&args, Some(&ctx.dir), BUILD_TIMEOUT);
        assert!(out.ok(), "ejected Dockerfile build failed:\n{}\n{dockerfile}", out.all());
        build(&ctx, &spec(&body), &decant_tag, &extra).expect_ok("the spec");
        let (df, dc) = (config(&df_tag), config(&decant_tag));
        for key in ["Labels", "WorkingDir", "Env"] {
            assert_eq!(df[key], dc[key], "{arg:?}: {key}\n{dockerfile}");
        }
        assert_eq!(run(&[&df_tag]), run(&[&decant_tag]), "{arg:?}: the files\n{dockerfile}");
    }
    // What the spec reads, for the record: the arg in values, the env in runs.
    let v = |tag: &str| config(tag)["Labels"]["l"].clone();
    assert_eq!((v(&images.tags[1]), v(&images.tags[3])), (Value::from("a"), Value::from("b")));
    let first = run(&[&images.tags[1]]);
    assert!(first.starts_with(&format!("{nonce} run=e-a\nrenv=r-a v=a\nrun2=again-a w-a\n")), "{first}");
    assert!(first.contains("\nx-a\n") && first.contains("\nw-a\n"), "{first}");
}

/// The old `node:onbuild` shape: an image whose triggers declare args (`ONBUILD ARG NODE_ENV`,
/// one with a default) and set the env from one. A Dockerfile build on it and a decant build
/// on it, with and without `--build-arg`, give the same files and env (decant used to refuse
/// such triggers).
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn semantics_onbuild_arg_triggers_read_the_build_args_as_a_dockerfile_does() {
    if mock() {
        return;
    }
    let mut images = Images::new("onbuild-arg");
    let base = images.tag("base");
    let nonce = unique("n");
    let ctx = Context::new(&[("package.json", "{}\n")]);
    let onbuild = format!(
        "FROM busybox:local\nRUN : {nonce}\nWORKDIR /usr/src/app\nONBUILD ARG NODE_ENV\nONBUILD ARG LEVEL=3\n\
         ONBUILD ENV NODE_ENV $NODE_ENV\nONBUILD COPY package.json /usr/src/app/\n\
         ONBUILD RUN echo \"install [$NODE_ENV] [$LEVEL]\" > /installed\n"
    );
    ctx.write("Dockerfile.onbuild", &onbuild);
    let out = docker(&["build", "-f", "Dockerfile.onbuild", "-t", &base, "."], Some(&ctx.dir), BUILD_TIMEOUT);
    assert!(out.ok(), "the image with triggers:\n{}", out.all());
    ctx.write("Dockerfile", &format!("FROM {base}\nRUN echo \"env=$NODE_ENV\" > /app-env\n"));
    let s = spec(&format!(
        "stages:\n  app:\n    from: {base}\n    steps:\n      - run: echo \"env=$NODE_ENV\" > /app-env\n"
    ));
    let mut seen = Vec::new();
    for (i, args) in
        [vec![], vec!["--build-arg", "NODE_ENV=production", "--build-arg", "LEVEL=7"]].into_iter().enumerate()
    {
        let (df, dc) = (images.tag(&format!("{i}-df")), images.tag(&format!("{i}-decant")));
        let mut a = vec!["build", "-t", &df];
        a.extend(&args);
        a.push(".");
        let out = docker(&a, Some(&ctx.dir), BUILD_TIMEOUT);
        assert!(out.ok(), "Dockerfile build on the image:\n{}", out.all());
        build(&ctx, &s, &dc, &args).expect_ok("decant on the image with ARG triggers");
        let files = |tag: &str| run(&["--entrypoint", "sh", tag, "-c", "cat /installed /app-env; ls /usr/src/app"]);
        assert_eq!(files(&dc), files(&df), "{args:?}");
        assert_eq!(env_list(&config(&dc)), env_list(&config(&df)), "{args:?}");
        seen.push(files(&dc));
    }
    assert_eq!(
        seen,
        ["install [] [3]\nenv=\npackage.json\n", "install [production] [7]\nenv=production\npackage.json\n"]
    );
}

/// `decant eject` of a spec with literal `$` (`$$`) in its paths and plain words: the ejected
/// Dockerfile writes them `\$`, and builds to the same files and config as the spec (the
/// previous eject wrote `$$`, which a Dockerfile reads otherwise, and its COPY found no file).
#[test]
#[ignore = "needs the private BuildKit daemon: run tests/run"]
fn semantics_eject_literal_dollars_stay_literal() {
    if mock() {
        return;
    }
    let nonce = unique("n");
    let body = format!(
        "stages:\n  app:\n    from: busybox:local\n    workdir: /w$$x\n    steps:\n      - copy: $${{V}}\n\
         \x20       to: /lit-$${{V}}/\n      - copy: [\"a b$$c\"]\n        to: /sp dir/\n      - workdir: /second\\$y\n\
         \x20     - run: echo {nonce} > /o; ls /lit-* \"/sp dir\" >> /o; pwd >> /o\n    volumes: [\"/data$$x\"]\n\
         \x20   cmd: [cat, /o]\n"
    );
    let parsed = decant::spec::parse_spec("decant.yaml", &spec(&body)).unwrap_or_else(|d| panic!("{}", d.render()));
    let dockerfile = decant::convert::eject(&parsed);
    let ctx = Context::new(&[("Dockerfile", &dockerfile), ("${V}", "lit\n"), ("a b$c", "sp\n")]);
    let mut images = Images::new("eject-dollars");
    let (df, dc) = (images.tag("df"), images.tag("decant"));
    let out = docker(&["build", "-t", &df, "."], Some(&ctx.dir), BUILD_TIMEOUT);
    assert!(out.ok(), "ejected Dockerfile build failed:\n{}\n{dockerfile}", out.all());
    build(&ctx, &spec(&body), &dc, &[]).expect_ok("the spec");
    assert_eq!(run(&[&dc]), format!("{nonce}\n/lit-${{V}}:\n${{V}}\n\n/sp dir:\na b$c\n/second$y\n"));
    assert_eq!(run(&[&df]), run(&[&dc]), "{dockerfile}");
    for key in ["WorkingDir", "Volumes"] {
        assert_eq!(config(&df)[key], config(&dc)[key], "{key}\n{dockerfile}");
    }
}
