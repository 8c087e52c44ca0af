//! `decant convert` and `decant eject` goldens.
//!
//! - Every `testdata/convert/*.Dockerfile` -> its spec and notes (snapshots
//!   `convert__dockerfile@NAME.snap`). A conversion without notes must pass `decant check`.
//! - Every example spec -> its Dockerfile (`convert__eject@NAME.snap`), and that Dockerfile converts
//!   back to a spec that passes `decant check` and has the same stages.
//! - Every `tests/corpus/*/decant.yaml` is exactly what `decant convert` writes for its Dockerfile.
//!
//! Regenerate the snapshots with `INSTA_UPDATE=always cargo test -p decant --test convert`.

mod common;

use decant::convert::{convert, eject, ConvertOptions, NoteKind};
use decant::plan::BuildOptions;
use decant::{compile, spec};

/// What `decant check` does: every stage resolved; the rendered errors on failure.
fn check(name: &str, text: &str) -> Result<usize, String> {
    let opts = BuildOptions { all_stages: true, ..Default::default() };
    let (parsed, errors) = spec::parse_spec_partial(name, text);
    match compile::plan_parsed(parsed.as_ref(), &errors, &opts) {
        Ok(_) => Ok(parsed.map_or(0, |s| s.stages.len())),
        Err(d) => Err(d.render()),
    }
}

#[test]
fn dockerfiles_convert_to_specs() {
    let dir = common::repo_root().join("frontend/tests/testdata/convert");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 8, "expected the convert test Dockerfiles in {}", dir.display());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let opts = ConvertOptions { file_name: name.clone(), ..Default::default() };
        let c = convert(&text, &opts).unwrap_or_else(|e| panic!("{name}:{}: {}", e.loc, e.message));
        insta::assert_snapshot!(
            format!("dockerfile@{name}"),
            format!("{}\n--- notes ---\n{}", c.yaml, c.render_notes(&name))
        );
        if c.notes.is_empty() {
            check(&name, &c.yaml)
                .unwrap_or_else(|e| panic!("{name}: the conversion has no notes but fails check:\n{e}"));
        }
        // With notes or not, what convert writes reads back as a spec.
        if let Err(d) = spec::parse_spec(&name, &c.yaml) {
            panic!("{name}: the conversion does not parse:\n{}\n{}", c.yaml, d.render());
        }
        // Whatever was not converted is in the YAML as a comment, with its line.
        for n in c.notes.iter().filter(|n| n.kind == NoteKind::NotConverted && n.loc.line > 2) {
            assert!(
                c.yaml.contains(&format!("NOT CONVERTED ({name}:{}", n.loc)),
                "{name}: note at {} is not in the YAML:\n{}",
                n.loc,
                c.yaml
            );
        }
    }
}

#[test]
fn dockerfile_syntax_errors_name_line_and_column() {
    let opts = ConvertOptions::default();
    let e = convert("FROM busybox:local\nRUN <<EOF\necho unterminated\n", &opts).unwrap_err();
    assert_eq!((e.loc.line, e.loc.column), (2, 1));
    assert!(e.message.contains("<<EOF"), "{}", e.message);
    let e = convert("# escape=x\nFROM busybox:local\n", &opts).unwrap_err();
    assert_eq!(e.loc.line, 1);
}

#[test]
fn examples_eject_to_dockerfiles_that_convert_back() {
    for (name, path, text) in common::examples() {
        let s = spec::parse_spec(&path, &text).unwrap_or_else(|d| panic!("{}", d.render()));
        let dockerfile = eject(&s);
        insta::assert_snapshot!(format!("eject@{name}"), dockerfile);
        let back = convert(&dockerfile, &ConvertOptions::default()).unwrap();
        let stages = check(&name, &back.yaml)
            .unwrap_or_else(|e| panic!("{name}: eject then convert fails check:\n{e}\n{}", back.yaml));
        assert_eq!(stages, s.stages.len(), "{name}: {}", back.yaml);
        let back_spec = spec::parse_spec(&name, &back.yaml).unwrap();
        let names = |s: &spec::Spec| s.stages.iter().map(|st| st.name.value.clone()).collect::<Vec<_>>();
        assert_eq!(names(&back_spec), names(&s), "{name}: stage names survive the round trip");
    }
}

/// Every `testdata/eject/*.yaml` -> its Dockerfile (`convert__eject@NAME.snap`), for the step
/// kinds and keys the examples do not use; the Dockerfile converts back to the same stages.
#[test]
fn specs_eject_every_step_kind() {
    let dir = common::repo_root().join("frontend/tests/testdata/eject");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "expected specs in {}", dir.display());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        check(&name, &text).unwrap_or_else(|e| panic!("{name} fails check:\n{e}"));
        let s = spec::parse_spec(&name, &text).unwrap_or_else(|d| panic!("{}", d.render()));
        let dockerfile = eject(&s);
        insta::assert_snapshot!(format!("eject@{name}"), dockerfile);
        let back = convert(&dockerfile, &ConvertOptions::default()).unwrap();
        let back_spec = spec::parse_spec(&name, &back.yaml).unwrap_or_else(|d| panic!("{}", d.render()));
        let names = |s: &spec::Spec| s.stages.iter().map(|st| st.name.value.clone()).collect::<Vec<_>>();
        assert_eq!(names(&back_spec), names(&s), "{name}: stage names survive the round trip");
    }
}

/// A copy's or a mount's `from:` made of args ejects through a stage `FROM ${X} AS alias`, as
/// BuildKit refuses a variable in `COPY --from` and in a mount's `from=` and advises that stage.
#[test]
fn a_from_with_args_ejects_through_an_alias_stage() {
    let text = "# syntax=decant/frontend:dev\nargs:\n  SRC: builder\nstages:\n  builder:\n    from: busybox:local\n    \
                steps:\n      - run: touch /x\n  final:\n    from: busybox:local\n    steps:\n      - copy: /x\n        \
                from: ${SRC}\n        to: /x\n      - run: cat /m/x\n        mounts:\n          - bind: /m\n            \
                from: ${SRC}\n";
    check("from-args.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let s = spec::parse_spec("from-args.yaml", text).unwrap_or_else(|d| panic!("{}", d.render()));
    let dockerfile = eject(&s);
    assert!(dockerfile.contains("FROM ${SRC} AS final-from-1\n"), "{dockerfile}");
    assert!(dockerfile.contains("COPY --from=final-from-1 /x /x\n"), "{dockerfile}");
    assert!(dockerfile.contains("--mount=type=bind,target=/m,from=final-from-1 "), "{dockerfile}");
    let back = convert(&dockerfile, &ConvertOptions::default())
        .unwrap_or_else(|e| panic!("{}: {}\n{dockerfile}", e.loc, e.message));
    check("back.yaml", &back.yaml).unwrap_or_else(|e| panic!("{e}\n{}", back.yaml));
}

#[test]
fn corpus_specs_are_what_convert_writes() {
    let dir = common::repo_root().join("tests/corpus");
    let mut projects: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    projects.sort();
    assert!(projects.len() >= 10, "expected at least ten corpus projects, found {}", projects.len());
    for p in projects {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(p.join("Dockerfile")).unwrap();
        let c = convert(&text, &ConvertOptions::default()).unwrap();
        let checked_in = std::fs::read_to_string(p.join("decant.yaml"))
            .unwrap_or_else(|e| panic!("tests/corpus/{name}/decant.yaml: {e} (write it with `decant convert`)"));
        assert_eq!(
            checked_in, c.yaml,
            "tests/corpus/{name}/decant.yaml is not what `decant convert` writes: regenerate it with\n  \
             (cd tests/corpus/{name} && decant convert > decant.yaml)"
        );
    }
}

/// The command line: the spec on stdout, the notes on stderr (`FILE:LINE:COLUMN: kind: ...`),
/// exit 0; a Dockerfile that does not parse exits 1 with its line and column.
#[test]
fn cli_convert_and_eject() {
    let bin = env!("CARGO_BIN_EXE_decant");
    let dir = common::repo_root().join("frontend/tests/testdata/convert");
    let name = "notes-remaining.Dockerfile";
    let out = std::process::Command::new(bin).arg("convert").arg(name).current_dir(&dir).output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let want = convert(&text, &ConvertOptions { file_name: name.into(), ..Default::default() }).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want.yaml);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "notes-remaining.Dockerfile:5:20: needs a decant feature: COPY uses ${MODE}, which is not an arg"
        ),
        "{stderr}"
    );

    let tmp = std::env::temp_dir().join(format!("decant-convert-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("Dockerfile"), "FROM busybox:local\nRUN <<EOF\necho\n").unwrap();
    let out = std::process::Command::new(bin).arg("convert").current_dir(&tmp).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("Dockerfile:2:1: error: the heredoc <<EOF is not closed"), "{stderr}");

    let example = common::repo_root().join("examples/c-hello/decant.yaml");
    let out = std::process::Command::new(bin).arg("eject").arg(&example).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("FROM busybox:local AS runtime"));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// No input panics the converter: every prefix of every test Dockerfile, and odd shapes.
#[test]
fn convert_never_panics() {
    let dir = common::repo_root().join("frontend/tests/testdata/convert");
    let mut inputs: Vec<String> = vec![
        "".into(),
        "\u{feff}FROM x\n".into(),
        "RUN\n".into(),
        "FROM\nRUN --\nCOPY\nADD <<\nENV\nLABEL =\nARG =x\nEXPOSE\nHEALTHCHECK\nHEALTHCHECK CMD\nSHELL x\nUSER\n"
            .into(),
        "FROM a AS b AS c\nCOPY --from= a b\nRUN --mount=type=secret echo\nRUN --mount=,,, x\n".into(),
        "FROM x\nRUN a \\\n\n# c\n".into(),
        "FROM x\nENV A=${\nENV B=$\nWORKDIR ${x:+${y}}\nRUN <<\"E\nE\n".into(),
        "# escape=`\nFROM x\nRUN a `\n".into(),
        "FROM x\r\nRUN echo \u{e9}t\u{e9} \\\r\n  ok\r\n".into(),
    ];
    for e in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for (i, _) in text.char_indices() {
            inputs.push(text[..i].to_string());
        }
    }
    for text in &inputs {
        let _ = convert(text, &ConvertOptions::default());
    }
}

/// `ARG BASE` without a default and `FROM ${BASE}` (tailscale's, containerd's shape): the
/// converted spec fails `decant check` with a help line naming `--build-arg`, and passes with it.
#[test]
fn cli_check_takes_build_args() {
    let bin = env!("CARGO_BIN_EXE_decant");
    let want = convert("ARG BASE\nFROM ${BASE}\nRUN echo hi\n", &ConvertOptions::default()).unwrap();
    let tmp = std::env::temp_dir().join(format!("decant-check-args-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("decant.yaml"), &want.yaml).unwrap();
    let out = std::process::Command::new(bin).arg("check").current_dir(&tmp).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("decant.yaml:") && stderr.contains("--build-arg"), "{stderr}");
    let out = std::process::Command::new(bin)
        .args(["check", "--build-arg", "BASE=busybox:local"])
        .current_dir(&tmp)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        std::process::Command::new(bin).args(["check", "--build-arg", "BASE"]).current_dir(&tmp).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// What BuildKit refuses, convert refuses, at the instruction: a name without `=` after one with
/// it (`ENV A=1 B`, `LABEL a=1 b`), a Dockerfile without a FROM, `ADD --checksum` of several
/// sources.
#[test]
fn refused_as_buildkit_refuses() {
    let err =
        |text: &str| convert(text, &ConvertOptions::default()).err().map(|e| (e.loc.line, e.loc.column, e.message));
    let (line, column, message) = err("FROM x\nENV A=1 B\n").expect("an error");
    assert_eq!((line, column), (2, 5));
    assert!(message.contains("`B` has no `=`"), "{message}");
    let (line, _, message) = err("FROM x\nRUN true\nLABEL a=1 b c=2\n").expect("an error");
    assert_eq!(line, 3);
    assert!(message.starts_with("LABEL: `b`"), "{message}");
    let (line, _, message) = err("ARG A=1\n").expect("an error");
    assert_eq!(line, 1);
    assert!(message.contains("no FROM"), "{message}");
    // The old form takes the rest as the value; ARG takes names without defaults.
    assert!(err("FROM x\nENV A 1 B\nLABEL a b c\nARG X=1 Y\n").is_none());
    // BuildKit refuses these when it builds: the checksum is one source's.
    let sum = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let (line, _, message) =
        err(&format!("FROM x\nADD --checksum={sum} https://a.example/x.tgz https://a.example/y.tgz /d/\n")).unwrap();
    assert_eq!((line, message.as_str()), (2, "checksum can't be specified for multiple sources"));
    assert!(err(&format!("FROM x\nADD --checksum={sum} https://a.example/x.tgz /d/\n")).is_none());
}

/// A mount option its kind does not take: refused where BuildKit's parser refuses it (in its
/// words), else left out with a note; a secret's `source` is its id; an option given twice
/// keeps its last value. (The `convert` fuzz target found the duplicate.)
#[test]
fn mount_options_are_taken_as_buildkits_parser_takes_them() {
    let err = |m: &str| {
        convert(&format!("FROM x\nRUN --mount={m} true\n"), &ConvertOptions::default()).err().map(|e| e.message)
    };
    for (m, refused) in [
        ("type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount"),
        ("type=tmpfs,target=/x,mode=0700", "mode not allowed for \"tmpfs\" type mounts"),
        ("type=bind,target=/x,uid=1", "uid not allowed for \"bind\" type mounts"),
        ("type=cache,target=/x,size=1m", "unexpected key 'size' for mount type 'cache'"),
        ("type=cache,target=/x,required", "unexpected key 'required' for mount type 'cache'"),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=secret,id=a,source=b", "both source and id can't be set"),
    ] {
        assert_eq!(err(m).as_deref(), Some(refused), "{m}");
    }
    let c = |m: &str| convert(&format!("FROM x\nRUN --mount={m} true\n"), &ConvertOptions::default()).unwrap();
    let secret = c("type=secret,source=tok,target=/s");
    assert!(secret.yaml.contains("- secret: tok\n            target: /s\n"), "{}", secret.yaml);
    let cache = c("type=cache,target=/c,env=X");
    assert!(!cache.yaml.contains("env"), "{}", cache.yaml);
    assert!(cache.render_notes("D").contains("--mount option `env` on a cache mount"));
    let twice = c("type=bind,source=a,source=b,target=/m");
    assert!(twice.yaml.contains("source: b") && !twice.yaml.contains("source: a"), "{}", twice.yaml);
    assert!(decant::spec::parse_spec("decant.yaml", &twice.yaml).is_ok());
}

/// BuildKit's flag parser refuses a string flag without a value, a boolean that is neither
/// true nor false, and a flag given twice (found in a real Dockerfile: `COPY --from build /a .`).
#[test]
fn flags_are_refused_as_buildkits_flag_parser_refuses_them() {
    let err =
        |text: &str| convert(text, &ConvertOptions::default()).err().map(|e| (e.loc.line, e.loc.column, e.message));
    for (text, message) in [
        ("COPY --from build /a .", "missing a value on flag: --from"),
        ("COPY --chown /a .", "missing a value on flag: --chown"),
        ("RUN --mount true", "missing a value on flag: --mount"),
        ("RUN --network true", "missing a value on flag: --network"),
        ("COPY --link= /a .", "missing a value on flag: --link"),
        ("COPY --link=yes /a .", "expecting boolean value for flag --link, not: yes"),
        (
            "ADD --keep-git-dir=1 https://github.com/a/b.git /b",
            "expecting boolean value for flag --keep-git-dir, not: 1",
        ),
        ("COPY --from=b --from=b /a .", "duplicate flag specified: --from"),
        ("HEALTHCHECK --interval=1s --interval=2s CMD true", "duplicate flag specified: --interval"),
        ("HEALTHCHECK --retries CMD true", "missing a value on flag: --retries"),
    ] {
        let (line, column, m) = err(&format!("FROM x AS b\n{text}\n")).unwrap_or_else(|| panic!("{text} converted"));
        assert_eq!((line, m.as_str()), (2, message), "{text}");
        assert!(column > 1, "{text}: the flag's column");
    }
    // A flag the instruction does not take is a note (BuildKit refuses it: `unknown flag`).
    let c = convert("FROM x AS b\nFROM x\nADD --from=b /a /b\n", &ConvertOptions::default()).unwrap();
    assert!(c.notes.iter().any(|n| n.message.contains("ADD --from: unknown flag")), "{:?}", c.notes);
    assert!(!c.yaml.contains("from: b"), "{}", c.yaml);
    // What BuildKit takes: a boolean in any case, repeated --exclude and --mount.
    for text in [
        "COPY --link=TRUE --parents=False /a .",
        "COPY --exclude=x --exclude=y /a .",
        "RUN --mount=type=cache,target=/c --mount=type=cache,target=/d true",
    ] {
        assert!(err(&format!("FROM x AS b\n{text}\n")).is_none(), "{text}");
    }
}

#[test]
fn a_copy_from_with_a_variable_is_refused_as_buildkit_refuses_it() {
    let err = |text: &str| convert(text, &ConvertOptions::default()).err().map(|e| (e.loc.line, e.message));
    let refused = "variable expansion is not supported for --from, define a new stage with FROM using ARG from \
                   global scope as a workaround";
    for from in ["$STAGE", "${STAGE:-build}", "\"$STAGE\"", "bu\\$X"] {
        let (line, message) = err(&format!("ARG STAGE=build\nFROM x AS build\nFROM x\nCOPY --from={from} /a /b\n"))
            .unwrap_or_else(|| panic!("--from={from} converted"));
        assert_eq!((line, message.as_str()), (4, refused), "--from={from}");
    }
    // An empty one is the context, as no --from.
    let c = convert("FROM x\nCOPY --from= a.txt /a\n", &ConvertOptions::default()).unwrap();
    assert!(c.yaml.contains("- copy: a.txt\n        to: /a\n") && !c.yaml.contains("from: \"\""), "{}", c.yaml);
    // Quotes and escapes are read away first.
    for from in ["build", "\"build\"", "bu\\ild"] {
        assert!(err(&format!("FROM x AS build\nFROM x\nCOPY --from={from} /a /b\n")).is_none(), "--from={from}");
    }
    // A mount's `from=` too, in the words of BuildKit's parser.
    let mount = |from: &str| err(&format!("FROM x AS b\nFROM x\nRUN --mount=from={from},target=/m true\n"));
    let (line, message) = mount("$STAGE").expect("refused");
    assert_eq!((line, message.as_str()), (3, "'from' doesn't support variable expansion, define alias stage instead"));
    assert!(mount("b").is_none());
    let c = convert("FROM x\nRUN --mount=from=,target=/m true\n", &ConvertOptions::default()).unwrap();
    assert!(!c.yaml.contains("from: \"\""), "{}", c.yaml);
}
