//! Dockerfile semantics a spec must keep (issue 8): what a stage inherits, which args a run
//! sees, how values expand, and the Dockerfile-shaped mistakes `check` must catch.

mod common;

use decant::llb::pb;
use decant::plan::{BuildOptions, Platform};
use decant::{compile, lower};
use prost::Message;

fn arm64() -> BuildOptions {
    BuildOptions { target_platform: Some(Platform::parse("linux/arm64").unwrap()), ..Default::default() }
}

/// Every exec op of a definition: (args, env, platform).
fn execs(def: &pb::Definition) -> Vec<(Vec<String>, Vec<String>, String)> {
    def.def
        .iter()
        .filter_map(|b| {
            let op = pb::Op::decode(b.as_slice()).unwrap();
            let platform = op.platform.as_ref().map(|p| format!("{}/{}", p.os, p.architecture)).unwrap_or_default();
            match op.op {
                Some(pb::op::Op::Exec(e)) => {
                    let meta = e.meta.unwrap();
                    Some((meta.args, meta.env, platform))
                }
                _ => None,
            }
        })
        .collect()
}

fn exec_running<'a>(
    execs: &'a [(Vec<String>, Vec<String>, String)],
    needle: &str,
) -> &'a (Vec<String>, Vec<String>, String) {
    execs
        .iter()
        .find(|(args, _, _)| args.last().is_some_and(|a| a.contains(needle)))
        .unwrap_or_else(|| panic!("no exec runs {needle}"))
}

const CROSS: &str = r#"# syntax=decant/frontend:dev
stages:
  build:
    from: busybox:local
    platform: ${BUILDPLATFORM}
    steps:
      - run: echo building for $TARGETARCH on ${BUILDARCH} > /out
  test:
    from: build
    steps:
      - run: echo testing
  pinned:
    from: build
    platform: linux/arm64
    steps:
      - run: echo pinned
  grandchild:
    from: test
    steps:
      - run: echo grandchild
  app:
    from: busybox:local
    steps:
      - copy: /out
        from: grandchild
      - copy: /out
        from: pinned
        to: /pinned
"#;

#[test]
fn a_stage_from_a_stage_runs_on_its_platform() {
    let plan = common::plan(CROSS, &arm64());
    let platform = |name: &str| plan.stage(name).unwrap().platform.id();
    assert_eq!(platform("build"), "linux/amd64");
    assert_eq!(platform("test"), "linux/amd64", "inherits build's platform");
    assert_eq!(platform("grandchild"), "linux/amd64", "through two stages");
    assert_eq!(platform("pinned"), "linux/arm64", "an explicit platform wins");
    assert_eq!(platform("app"), "linux/arm64");
    let def = common::definition(CROSS, &arm64());
    let execs = execs(&def);
    assert_eq!(exec_running(&execs, "echo testing").2, "linux/amd64");
    assert_eq!(exec_running(&execs, "echo grandchild").2, "linux/amd64");
    assert_eq!(exec_running(&execs, "echo pinned").2, "linux/arm64");
}

#[test]
fn built_in_args_reach_a_run_that_mentions_them() {
    let def = common::definition(CROSS, &arm64());
    let execs = execs(&def);
    let env = &exec_running(&execs, "building for").1;
    assert!(env.contains(&"TARGETARCH=arm64".to_string()), "{env:?}");
    assert!(env.contains(&"BUILDARCH=amd64".to_string()), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("TARGETOS=")), "only the args it mentions: {env:?}");
    let env = &exec_running(&execs, "echo testing").1;
    assert!(!env.iter().any(|e| e.starts_with("TARGET")), "{env:?}");
}

use common::copies;

#[test]
fn a_glob_may_match_nothing_as_in_dockerfile_copy() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    workdir: /app
    steps:
      - copy: [package.json, yarn.lock*, package-lock.json*]
"#;
    let copies = copies(&common::definition(text, &BuildOptions::default()));
    let srcs: Vec<&str> = copies.iter().map(|c| c.src.as_str()).collect();
    assert_eq!(srcs, ["/package.json", "/yarn.lock*", "/package-lock.json*"]);
    assert!(copies.iter().all(|c| c.allow_wildcard && c.allow_empty_wildcard));
}

/// Lowers `text` with every image resolved to `config`.
fn lower_with_base(text: &str, config: &decant::image::ImageConfig) -> Result<lower::Lowered, String> {
    let plan = compile::plan("decant.yaml", text, &BuildOptions::default()).map_err(|d| d.render())?;
    let mut inputs = lower::Inputs::default();
    for (reference, platform) in plan.images() {
        inputs
            .images
            .insert((reference, platform), lower::BaseImage { digest: None, reference: None, config: config.clone() });
    }
    lower::lower(&plan, &inputs).map_err(|d| d.render())
}

/// Lowers `text` with `busybox:local` resolved to a config with `env`.
fn lower_with_base_env(text: &str, env: &[&str]) -> Result<lower::Lowered, String> {
    let mut config = decant::image::ImageConfig::default();
    config.config.env = env.iter().map(|s| s.to_string()).collect();
    lower_with_base(text, &config)
}

const VENV: &str = r#"# syntax=decant/frontend:dev
args:
  APP: demo
stages:
  app:
    from: busybox:local
    env:
      PATH: "/app/.venv/bin:$PATH"
      CONF: "${PHP_INI_DIR}/conf.d"
      APP_HOME: /srv/$APP
    workdir: ${APP_HOME}/src
    steps:
      - env: { PATH: "/opt/tools:${PATH}", OLD_PATH: "$PATH", UNSET: "[${NOPE}]" }
      - copy: config.ini
        to: ${CONF}/
      - run: echo "$PATH"
        env: { FROM_RUN: "${APP_HOME:-x}${NOPE:+y}" }
      - user: ${RUN_AS:-nobody}
    labels:
      home: $APP_HOME
      price: "$$5 \\$6"
    expose: ["${PORT:-8080}"]
    stop_signal: ${SIG}
"#;

#[test]
fn values_extend_the_environment_of_the_base_image() {
    let base = ["PATH=/usr/local/bin:/usr/bin:/bin", "PHP_INI_DIR=/usr/local/etc/php", "SIG=SIGQUIT"];
    let lowered = lower_with_base_env(VENV, &base).unwrap();
    let c = &lowered.config.config;
    let env: std::collections::BTreeMap<&str, &str> = c.env.iter().filter_map(|kv| kv.split_once('=')).collect();
    assert_eq!(env["PATH"], "/opt/tools:/app/.venv/bin:/usr/local/bin:/usr/bin:/bin");
    assert_eq!(env["OLD_PATH"], "/app/.venv/bin:/usr/local/bin:/usr/bin:/bin", "one env step expands before it sets");
    assert_eq!(env["CONF"], "/usr/local/etc/php/conf.d");
    assert_eq!(env["APP_HOME"], "/srv/demo", "args expand in the plan");
    assert_eq!(env["UNSET"], "[]", "an unset name is empty, as in Dockerfile");
    assert_eq!(c.working_dir, "/srv/demo/src");
    assert_eq!(c.user, "nobody");
    assert_eq!(c.labels["home"], "/srv/demo");
    assert_eq!(c.labels["price"], "$5 $6");
    assert_eq!(c.exposed_ports.keys().collect::<Vec<_>>(), ["8080/tcp"]);
    assert_eq!(c.stop_signal, "SIGQUIT");
    let def = lowered.definition();
    let (_, run_env, _) = exec_running(&execs(&def), "echo").clone();
    assert!(run_env.contains(&"FROM_RUN=/srv/demo".to_string()), "{run_env:?}");
    assert!(run_env.contains(&"PATH=/opt/tools:/app/.venv/bin:/usr/local/bin:/usr/bin:/bin".to_string()));
    let dests: Vec<String> = copies(&def).into_iter().map(|c| c.dest).collect();
    assert_eq!(dests, ["/usr/local/etc/php/conf.d/"]);
}

#[test]
fn a_required_value_fails_the_build_with_its_message() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    workdir: ${HOME:?the base image must set HOME}\n";
    assert!(compile::plan("decant.yaml", text, &BuildOptions::default()).is_ok(), "HOME may come from the base image");
    let e = lower_with_base_env(text, &[]).unwrap_err();
    assert!(e.contains("HOME: the base image must set HOME") && e.contains("decant.yaml:5"), "{e}");
    assert_eq!(lower_with_base_env(text, &["HOME=/root"]).unwrap().config.config.working_dir, "/root");
    let port = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    expose: [$PORT]\n";
    let e = lower_with_base_env(port, &["PORT=http"]).unwrap_err();
    assert!(e.contains("`http` is not a port number"), "{e}");
}

#[test]
fn check_warns_about_a_likely_typo_but_not_about_the_base_images_variables() {
    let text = r#"# syntax=decant/frontend:dev
args:
  VERSION: "1.0"
stages:
  app:
    from: busybox:local
    env:
      PATH: /venv/bin:$PATH
      APP_HOME: /srv/v$VERSION
    workdir: ${APP_HOEM}/${HOME}
    steps:
      - file: /expanded
        content: "${VERSON} ${APP_HOME}\n"
        expand: true
      - file: /as-written
        content: "${APP_HOMME}\n"
"#;
    let spec = decant::spec::parse_spec("decant.yaml", text).unwrap();
    assert!(compile::plan("decant.yaml", text, &BuildOptions::default()).is_ok(), "not an error");
    let warnings = decant::lint::lint(&spec);
    let undefined: Vec<&str> =
        warnings.iter().filter(|w| w.rule == Some("undefined-var")).map(|w| w.message.as_str()).collect();
    // An expanded file's content is a value; one written as is is not.
    assert_eq!(
        undefined,
        [
            "`APP_HOEM` is not an arg, and no `env:` in this spec sets it",
            "`VERSON` is not an arg, and no `env:` in this spec sets it"
        ]
    );
    assert!(!warnings.iter().any(|w| w.message.contains("VERSION")), "`$VERSION` uses the arg: {warnings:?}");
}

#[test]
fn relative_and_empty_mount_targets_resolve_against_the_workdir() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    workdir: /src
    steps:
      - run: make
        mounts:
          - bind: .
          - cache: node_modules
          - tmpfs: ../tmp
          - secret: npmrc
            target: .npmrc
      - run: ls
        workdir: sub
        mounts:
          - cache: ""
            id: whole
"#;
    let def = common::definition(text, &BuildOptions::default());
    let mut dests: Vec<(String, String)> = Vec::new();
    for b in &def.def {
        if let Some(pb::op::Op::Exec(e)) = pb::Op::decode(b.as_slice()).unwrap().op {
            let cmd = e.meta.unwrap().args.last().cloned().unwrap();
            dests.extend(e.mounts.into_iter().filter(|m| m.dest != "/").map(|m| (cmd.clone(), m.dest)));
        }
    }
    dests.sort();
    let want = [
        ("ls", "/src/sub"),
        ("make", "/src"),
        ("make", "/src/.npmrc"),
        ("make", "/src/node_modules"),
        ("make", "/tmp"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(dests, want);
}

#[test]
fn a_file_step_writes_its_content_like_copy_heredoc() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    env: { APP: /srv/app }
    workdir: /w
    steps:
      - file: $APP/start.sh
        content: |
          #!/bin/sh
          echo "$HOME"
        chmod: "0755"
        chown: "1000:1000"
      - file: notes.txt
        content: ""
"#;
    let plan = common::plan(text, &BuildOptions::default());
    let json = serde_json::to_value(&plan.stages[0].steps[2]).unwrap();
    assert_eq!(json["step"], "file");
    assert_eq!(json["path"], "${APP}/start.sh");
    let def = common::definition(text, &BuildOptions::default());
    let mut files = Vec::new();
    for b in &def.def {
        if let Some(pb::op::Op::File(f)) = pb::Op::decode(b.as_slice()).unwrap().op {
            for a in f.actions {
                if let Some(pb::file_action::Action::Mkfile(m)) = a.action {
                    files.push((m.path, m.mode, String::from_utf8(m.data).unwrap()));
                }
            }
        }
    }
    // As Dockerfile's COPY <<EOF: made 0644 in an empty layer, then copied in with the step's
    // mode and owner (which the parent directories the copy makes get too).
    assert_eq!(
        files,
        [
            ("/start.sh".to_string(), 0o644, "#!/bin/sh\necho \"$HOME\"\n".to_string()),
            ("/notes.txt".to_string(), 0o644, String::new())
        ]
    );
    let copied: Vec<(String, String, i32, bool, bool)> = common::copies(&def)
        .into_iter()
        .map(|c| (c.src, c.dest, c.mode, c.owner.is_some(), c.create_dest_path))
        .collect();
    assert_eq!(
        copied,
        [
            ("/start.sh".to_string(), "/srv/app/start.sh".to_string(), 0o755, true, true),
            ("/notes.txt".to_string(), "/w/notes.txt".to_string(), -1, false, true)
        ]
    );
}

#[test]
fn a_script_with_a_shebang_runs_under_its_interpreter() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - run: |
          #!/usr/bin/env python3
          print("hi")
      - run: echo plain
"#;
    let def = common::definition(text, &BuildOptions::default());
    let ops: Vec<pb::Op> = def.def.iter().map(|b| pb::Op::decode(b.as_slice()).unwrap()).collect();
    let execs: Vec<&pb::ExecOp> = ops
        .iter()
        .filter_map(|o| match &o.op {
            Some(pb::op::Op::Exec(e)) => Some(e),
            _ => None,
        })
        .collect();
    let script = execs.iter().find(|e| e.meta.as_ref().unwrap().args == ["/dev/pipes/script"]).expect("run as a file");
    let pipes = script.mounts.iter().find(|m| m.dest == "/dev/pipes").expect("the script is mounted");
    assert!(pipes.readonly);
    let data: Vec<(i32, Vec<u8>)> = ops
        .iter()
        .filter_map(|o| match &o.op {
            Some(pb::op::Op::File(f)) => Some(f.actions.iter().filter_map(|a| match &a.action {
                Some(pb::file_action::Action::Mkfile(m)) => Some((m.mode, m.data.clone())),
                _ => None,
            })),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(data, [(0o755, b"#!/usr/bin/env python3\nprint(\"hi\")\n".to_vec())]);
    let plain = execs.iter().find(|e| e.meta.as_ref().unwrap().args.last().unwrap() == "echo plain").unwrap();
    assert_eq!(plain.meta.as_ref().unwrap().args[..2], ["/bin/sh", "-c"]);
}

#[test]
fn an_arg_with_env_true_reaches_every_run() {
    let text = r#"# syntax=decant/frontend:dev
args:
  NODE_ENV: { default: production, env: true }
  OTHER: x
stages:
  app:
    from: busybox:local
    steps:
      - run: yarn build
      - run: echo $OTHER
"#;
    let def = common::definition(text, &BuildOptions::default());
    let execs = execs(&def);
    assert!(exec_running(&execs, "yarn build").1.contains(&"NODE_ENV=production".to_string()));
    assert!(!exec_running(&execs, "yarn build").1.iter().any(|e| e.starts_with("OTHER=")));
    let echo = &exec_running(&execs, "echo $OTHER").1;
    assert!(echo.contains(&"NODE_ENV=production".to_string()) && echo.contains(&"OTHER=x".to_string()), "{echo:?}");
    let spec = decant::spec::parse_spec("decant.yaml", text).unwrap();
    assert!(!decant::lint::lint(&spec).iter().any(|w| w.rule == Some("unused-arg")), "an env arg is used");
}

#[test]
fn expose_ranges_and_healthcheck_start_interval_reach_the_config() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    expose: ["8000-8002", 53/udp]
    healthcheck: { cmd: "true", start_period: 30s, start_interval: 2s }
"#;
    let lowered = lower_with_base_env(text, &[]).unwrap();
    let c = &lowered.config.config;
    assert_eq!(c.exposed_ports.keys().collect::<Vec<_>>(), ["53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]);
    let json: serde_json::Value = serde_json::from_slice(&lowered.config.to_json()).unwrap();
    assert_eq!(json["config"]["Healthcheck"]["StartInterval"], 2_000_000_000u64);
    assert_eq!(json["config"]["Healthcheck"]["StartPeriod"], 30_000_000_000u64);
}

#[test]
fn a_cache_mount_can_be_readonly() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    steps:\n      - run: ls\n        mounts:\n          - cache: /a\n            readonly: true\n          - cache: /b\n";
    let def = common::definition(text, &BuildOptions::default());
    let mut seen = Vec::new();
    for b in &def.def {
        if let Some(pb::op::Op::Exec(e)) = pb::Op::decode(b.as_slice()).unwrap().op {
            seen.extend(e.mounts.into_iter().filter(|m| m.cache_opt.is_some()).map(|m| (m.dest, m.readonly)));
        }
    }
    assert_eq!(seen, [("/a".to_string(), true), ("/b".to_string(), false)]);
}

#[test]
fn build_args_that_nothing_declares_are_named_in_one_warning() {
    let text = "# syntax=decant/frontend:dev\nargs:\n  VERSION: \"1\"\nstages:\n  app:\n    from: busybox:local\n";
    let spec = decant::spec::parse_spec("decant.yaml", text).unwrap();
    let given = ["VERSION", "VERSOIN", "HTTP_PROXY", "SOURCE_DATE_EPOCH", "BUILDKIT_INLINE_CACHE", "OTHER"];
    let w = decant::lint::unconsumed_build_args(&spec, given).expect("a warning");
    assert_eq!(w.message, "build args not consumed: `VERSOIN`, `OTHER`");
    assert!(w.help.as_deref().unwrap().contains("did you mean `VERSION`"), "{:?}", w.help);
    let rendered = decant::diag::Diagnostics::new(spec.file.clone(), vec![w]).render();
    assert!(rendered.contains("unconsumed-build-arg"), "{rendered}");
    assert!(decant::lint::unconsumed_build_args(&spec, ["VERSION", "no_proxy"]).is_none());
}

#[test]
fn unpack_asks_buildkit_to_unpack_local_archives_as_dockerfile_add_does() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  rootfs:\n    from: scratch\n    steps:\n      - copy: rootfs.tar.gz\n        to: /\n        unpack: true\n      - copy: plain.tar\n        to: /keep/\n";
    let def = common::definition(text, &BuildOptions::default());
    let copies: Vec<(String, bool)> =
        common::copies(&def).into_iter().map(|c| (c.src, c.attempt_unpack_docker_compatibility)).collect();
    assert_eq!(copies, [("/rootfs.tar.gz".to_string(), true), ("/plain.tar".to_string(), false)]);
}

const STAGE_ARGS: &str = r#"# syntax=decant/frontend:dev
args:
  VERSION: "1"
  CHANNEL: stable
stages:
  old:
    from: busybox:local
    args:
      VERSION: "2"
      CHANNEL: ${CHANNEL}-v$VERSION
    labels: { version: "${VERSION}" }
    steps:
      - run: echo old $VERSION $CHANNEL
  new:
    from: busybox:local
    steps:
      - run: echo new $VERSION $CHANNEL
      - copy: /
        from: old
"#;

fn env_of(def: &pb::Definition, needle: &str) -> Vec<String> {
    let all = execs(def);
    let (_, env, _) = exec_running(&all, needle);
    env.iter().filter(|e| e.starts_with("VERSION=") || e.starts_with("CHANNEL=")).cloned().collect()
}

/// A stage's `args:` gives a declared arg another value in that stage only, as a Dockerfile
/// `ARG VERSION=2` in one stage does; `--build-arg` wins over both.
#[test]
fn a_stage_sets_its_own_arg_values() {
    let def = common::definition(STAGE_ARGS, &BuildOptions::default());
    assert_eq!(env_of(&def, "echo old"), ["CHANNEL=stable-v2", "VERSION=2"]);
    assert_eq!(env_of(&def, "echo new"), ["CHANNEL=stable", "VERSION=1"]);
    let plan = common::plan(STAGE_ARGS, &BuildOptions::default());
    let old = plan.stage("old").unwrap();
    assert_eq!(serde_json::to_string(&old.config.labels).unwrap(), r#"{"version":"2"}"#);
    assert!(plan.stage("new").unwrap().args.is_empty());

    let given = BuildOptions {
        build_args: std::collections::BTreeMap::from([("VERSION".to_string(), "9".to_string())]),
        ..Default::default()
    };
    let def = common::definition(STAGE_ARGS, &given);
    assert_eq!(env_of(&def, "echo old"), ["CHANNEL=stable-v9", "VERSION=9"]);
    assert_eq!(env_of(&def, "echo new"), ["CHANNEL=stable", "VERSION=9"]);
}

#[test]
fn a_stage_sets_declared_args_only() {
    let text =
        STAGE_ARGS.replace("      VERSION: \"2\"\n", "      VERSOIN: \"2\"\n      TARGETARCH: arm64\n      NEW: x\n");
    let d = decant::compile::plan("decant.yaml", &text, &BuildOptions::default()).unwrap_err();
    assert_eq!(
        d.summary(),
        "decant.yaml:9:7: error: arg `VERSOIN` is not declared in the top-level `args` (did you mean `VERSION`?)\n\
         decant.yaml:10:7: error: `TARGETARCH` is a built-in arg; a stage cannot set it\n\
         decant.yaml:11:7: error: arg `NEW` is not declared in the top-level `args` (declare it: `args: { NEW: ... }` at the top of the spec)"
    );
}

/// Every file action of a definition, with the number of inputs of its op.
fn file_actions(def: &pb::Definition) -> Vec<(usize, pb::FileAction)> {
    def.def
        .iter()
        .filter_map(|b| match pb::Op::decode(b.as_slice()).unwrap() {
            pb::Op { op: Some(pb::op::Op::File(f)), inputs, .. } => Some((inputs.len(), f.actions)),
            _ => None,
        })
        .flat_map(|(n, actions)| actions.into_iter().map(move |a| (n, a)))
        .collect()
}

fn by_name(name: &str, input: i64) -> Option<pb::UserOpt> {
    Some(pb::UserOpt { user: Some(pb::user_opt::User::ByName(pb::NamedUserOpt { name: name.into(), input })) })
}

#[test]
fn a_workdir_belongs_to_the_user_of_that_point_as_in_dockerfile() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - workdir: /before
      - user: app
      - workdir: /home/app/work
      - user: 1000:1000
      - workdir: numeric
"#;
    let owners: Vec<(String, Option<pb::ChownOpt>)> = file_actions(&common::definition(text, &BuildOptions::default()))
        .into_iter()
        .filter_map(|(_, a)| match a.action {
            Some(pb::file_action::Action::Mkdir(m)) => Some((m.path, m.owner)),
            _ => None,
        })
        .collect();
    let by_id = |id| Some(pb::UserOpt { user: Some(pb::user_opt::User::ById(id)) });
    assert_eq!(
        owners,
        [
            ("/before".to_string(), None),
            ("/home/app/work".to_string(), Some(pb::ChownOpt { user: by_name("app", 0), group: None })),
            ("/home/app/work/numeric".to_string(), Some(pb::ChownOpt { user: by_id(1000), group: by_id(1000) })),
        ]
    );
}

#[test]
fn a_chown_by_name_reads_the_base_in_every_action_of_a_copy() {
    // Several sources are one file op whose actions chain; BuildKit looks a name up in the op's
    // inputs only (an earlier action's output there is "invalid input index").
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - copy: [a.txt, b.txt, dir]
        to: /srv/
        chown: app:staff
"#;
    let copies: Vec<(usize, i64, pb::ChownOpt)> = file_actions(&common::definition(text, &BuildOptions::default()))
        .into_iter()
        .filter_map(|(n, a)| match a.action {
            Some(pb::file_action::Action::Copy(c)) => Some((n, a.input, c.owner.unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(copies.len(), 3);
    for (n, input, owner) in copies {
        assert!(input == 0 || input >= n as i64, "chained actions read the previous output");
        assert_eq!(owner, pb::ChownOpt { user: by_name("app", 0), group: by_name("staff", 0) });
    }
}

/// Lowers `text` with `busybox:local` resolved to a config with this entrypoint and cmd.
fn lower_with_base_command(text: &str, entrypoint: &[&str], cmd: &[&str]) -> decant::image::ContainerConfig {
    let mut config = decant::image::ImageConfig::default();
    config.config.entrypoint = Some(entrypoint.iter().map(|s| s.to_string()).collect());
    config.config.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
    lower_with_base(text, &config).unwrap().config.config
}

#[test]
fn an_empty_entrypoint_or_cmd_clears_it_as_in_dockerfile() {
    let spec =
        |runtime: &str| format!("# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n{runtime}");
    // ENTRYPOINT []: no entrypoint, and the inherited cmd goes too.
    let c = lower_with_base_command(&spec("    entrypoint: []\n"), &["/init"], &["serve"]);
    assert_eq!((c.entrypoint, c.cmd, c.args_escaped), (None, None, false));
    // ENTRYPOINT [] with CMD: only the cmd.
    let c = lower_with_base_command(&spec("    entrypoint: []\n    cmd: [sh]\n"), &["/init"], &["serve"]);
    assert_eq!((c.entrypoint, c.cmd, c.args_escaped), (None, Some(vec!["sh".to_string()]), true));
    // CMD []: no cmd, the entrypoint stays.
    let c = lower_with_base_command(&spec("    cmd: []\n"), &["/init"], &["serve"]);
    assert_eq!((c.entrypoint, c.cmd, c.args_escaped), (Some(vec!["/init".to_string()]), None, true));
    // A run still needs a command.
    let text = spec("    steps:\n      - run: []\n");
    let err = compile::plan("decant.yaml", &text, &BuildOptions::default()).unwrap_err().render();
    assert!(err.contains("has an empty command list"), "{err}");
}

#[test]
fn a_workdir_is_kept_as_dockerfile_keeps_it() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - workdir: /
      - workdir: /w/
      - workdir: sub/../x
"#;
    let lowered = lower_with_base_env(text, &[]).unwrap();
    // An absolute path stays as written, a relative one is joined and cleaned.
    assert_eq!(lowered.config.config.working_dir, "/w/x");
    let history: Vec<(String, bool)> = lowered
        .config
        .history
        .iter()
        .map(|h| (h.created_by.clone().unwrap_or_default(), h.empty_layer))
        .filter(|(by, _)| by.starts_with("workdir"))
        .collect();
    assert_eq!(
        history,
        [
            ("workdir: /".to_string(), true),
            ("workdir: /w/".to_string(), false),
            ("workdir: sub/../x".to_string(), false)
        ]
    );
    // `workdir: /` makes nothing; the others make their clean path.
    let made: Vec<String> = file_actions(&lowered.definition())
        .into_iter()
        .filter_map(|(_, a)| match a.action {
            Some(pb::file_action::Action::Mkdir(m)) => Some(m.path),
            _ => None,
        })
        .collect();
    assert_eq!(made, ["/w", "/w/x"]);

    let text = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    steps:\n      - workdir: /srv/app/\n";
    assert_eq!(lower_with_base_env(text, &[]).unwrap().config.config.working_dir, "/srv/app/");
}

#[test]
fn an_arg_without_a_value_is_unset_in_runs_as_in_dockerfile() {
    let text = r#"# syntax=decant/frontend:dev
args:
  NOVAL:
  EMPTY: ""
stages:
  app:
    from: busybox:local
    env:
      X: ${NOVAL-def}
      Y: ${NOVAL+set}
      Z: ${EMPTY-def}
    steps:
      - run: echo "${NOVAL-unset} ${EMPTY-unset}"
  given:
    from: busybox:local
    args:
      NOVAL: here
    steps:
      - run: echo "${NOVAL-unset} given"
"#;
    let env_of = |opts: &BuildOptions, needle: &str| {
        let def = common::definition(text, opts);
        exec_running(&execs(&def), needle).1.clone()
    };
    let app = common::target("app");
    let env = env_of(&app, "EMPTY");
    assert!(!env.iter().any(|e| e.starts_with("NOVAL=")), "{env:?}");
    assert!(env.contains(&"EMPTY=".to_string()), "an empty default is a value: {env:?}");
    // A stage's value or a build arg sets it.
    assert!(env_of(&common::target("given"), "given").contains(&"NOVAL=here".to_string()));
    // In the spec's values too: unset for `-` and `+`, as Dockerfile's ENV X=${NOVAL-def}.
    let plan = common::plan(text, &app);
    let lowered = decant::lower::lower(&plan, &lower::Inputs::default()).unwrap();
    let env = &lowered.config.config.env;
    for kv in ["X=def", "Y=", "Z="] {
        assert!(env.contains(&kv.to_string()), "{kv} in {env:?}");
    }
    let mut given = app.clone();
    given.build_args.insert("NOVAL".into(), String::new());
    assert!(env_of(&given, "EMPTY").contains(&"NOVAL=".to_string()));
}

#[test]
fn a_target_names_its_stage_in_any_case_as_in_dockerfile() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  build:\n    from: busybox:local\n  app:\n    from: build\n";
    assert_eq!(common::plan(text, &common::target("Build")).target, "build");
    let err = compile::plan("decant.yaml", text, &common::target("nope")).unwrap_err().render();
    assert!(err.contains("target stage `nope` is not in the spec"), "{err}");
}

#[test]
fn a_base_images_docker_leftovers_and_triggers_do_not_pass_into_the_result() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n";
    let base = br#"{"architecture":"amd64","os":"linux","os.version":"1","docker_version":"20.10.7","container":"abc",
        "container_config":{"Cmd":["/bin/sh"]},"config":{"Hostname":"abc","AttachStdin":false,"Env":["A=1"],
        "OnBuild":["RUN echo trigger"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]},"history":[]}"#;
    let config = decant::image::ImageConfig::from_json(base).unwrap();
    let out: serde_json::Value =
        serde_json::from_slice(&lower_with_base(text, &config).unwrap().config.to_json()).unwrap();
    // What the Dockerfile frontend keeps of a base: the OCI image, Docker's healthcheck and shell.
    assert_eq!(out["os.version"], "1");
    assert_eq!(out["config"]["Env"][0], "A=1");
    assert_eq!(out["config"]["Cmd"][0], "sh");
    for gone in ["docker_version", "container", "container_config"] {
        assert!(out.get(gone).is_none(), "{gone}: {out}");
    }
    for gone in ["Hostname", "AttachStdin", "OnBuild"] {
        assert!(out["config"].get(gone).is_none(), "{gone}: {out}");
    }
}

/// The pattern forms, as moby/moby's Dockerfile uses them: args in the plan, the base image's
/// environment at build time, both in the image config and a run's environment.
#[test]
fn pattern_forms_expand_as_in_dockerfile() {
    let text = r#"# syntax=decant/frontend:dev
args:
  VERSION: v1.2.3
stages:
  app:
    from: busybox:local
    env:
      NUMBER: ${VERSION#v}
      SUFFIX: "${TARGETPLATFORM#linux/amd64}"
      DASHED: ${TARGETPLATFORM//\//-}
      MINOR: ${VERSION%.*}
      MAJOR: ${VERSION%%.*}
      FIRST_PATH: ${PATH%%:*}
      LAST_PATH: ${PATH##*:}
    steps:
      - run: echo pattern
        env: { TAG: "${VERSION/v/release-}${TARGETVARIANT:+-${TARGETVARIANT}}" }
"#;
    let lowered = lower_with_base_env(text, &["PATH=/usr/local/bin:/usr/bin:/bin"]).unwrap();
    let env: std::collections::BTreeMap<&str, &str> =
        lowered.config.config.env.iter().filter_map(|kv| kv.split_once('=')).collect();
    assert_eq!(env["NUMBER"], "1.2.3");
    assert_eq!(env["SUFFIX"], "", "the target platform is linux/amd64");
    assert_eq!(env["DASHED"], "linux-amd64");
    assert_eq!(env["MINOR"], "v1.2");
    assert_eq!(env["MAJOR"], "v1");
    assert_eq!(env["FIRST_PATH"], "/usr/local/bin");
    assert_eq!(env["LAST_PATH"], "/bin");
    let def = lowered.definition();
    let (_, run_env, _) = exec_running(&execs(&def), "echo pattern").clone();
    assert!(run_env.contains(&"TAG=release-1.2.3".to_string()), "{run_env:?}");

    let bad = text.replace("${VERSION%.*}", "${VERSION%\\x}");
    let e = compile::plan("decant.yaml", &bad, &BuildOptions::default()).unwrap_err().to_string();
    assert!(e.contains("decant.yaml:11:14") && e.contains("is not an escape"), "{e}");
}

#[test]
fn onbuild_triggers_are_written_as_is_and_a_base_images_are_not_inherited() {
    // A stage's `onbuild` goes into its image config unexpanded; the base image's triggers
    // (run by then, see `onbuild_triggers_of_the_base_run_first`) are not kept.
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    onbuild: ["COPY . /app", "  RUN make -C /app PREFIX=$HOME  "]
"#;
    let mut base = decant::image::ImageConfig::default();
    base.config.on_build = vec!["RUN touch /triggered".into()];
    let lowered = lower_with_base(text, &base).unwrap();
    assert_eq!(lowered.config.config.on_build, ["COPY . /app", "RUN make -C /app PREFIX=$HOME"]);
    let json = serde_json::to_value(&lowered.config).unwrap();
    assert_eq!(json["config"]["OnBuild"][1], "RUN make -C /app PREFIX=$HOME");

    let plain = text.replace("    onbuild: [\"COPY . /app\", \"  RUN make -C /app PREFIX=$HOME  \"]\n", "");
    let lowered = lower_with_base(&plain, &base).unwrap();
    assert!(lowered.config.config.on_build.is_empty());
    assert!(serde_json::to_value(&lowered.config).unwrap()["config"].get("OnBuild").is_none());
}

/// The plan of `text` with the triggers `triggers` on every image base, run.
fn with_triggers(text: &str, triggers: &[&str]) -> Result<decant::plan::Plan, String> {
    with_triggers_and(text, triggers, BuildOptions::default())
}

fn with_triggers_and(text: &str, triggers: &[&str], opts: BuildOptions) -> Result<decant::plan::Plan, String> {
    let plan = compile::plan("decant.yaml", text, &opts).map_err(|d| d.render())?;
    let triggers: Vec<String> = triggers.iter().map(|t| t.to_string()).collect();
    decant::plan::onbuild::run_triggers(plan, &opts, |stage| match &stage.base {
        decant::plan::Source::Image { reference } => Some((format!("the base image {reference}"), triggers.as_slice())),
        _ => None,
    })
    .map_err(|d| d.render())
}

#[test]
fn onbuild_triggers_of_the_base_run_first() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    workdir: /srv
    steps:
      - run: make install
    entrypoint: [/srv/app]
    expose: [8080]
"#;
    let triggers =
        ["COPY . /app", "RUN make -C /app", "ENV MODE=release", "CMD [\"--serve\"]", "EXPOSE 9090", "LABEL a=b"];
    let plan = with_triggers(text, &triggers).unwrap();
    let app = &plan.stages[0];
    let kinds: Vec<String> =
        app.steps.iter().map(|s| serde_json::to_value(s).unwrap()["step"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["copy", "run", "env", "workdir", "run"], "the triggers, then the stage's own");
    assert!(app.steps[..3].iter().all(|s| s.trigger && s.line == 4), "at the `from:` line");
    assert!(app.steps[3..].iter().all(|s| !s.trigger));
    // The stage's ENTRYPOINT comes after the trigger's CMD and drops it, as in a Dockerfile;
    // ports and labels add up.
    let c = serde_json::to_value(&app.config).unwrap();
    assert!(c.get("cmd").is_none(), "{c}");
    assert_eq!(c["expose"], serde_json::json!(["9090/tcp", "8080/tcp"]), "{c}");
    assert_eq!(c["labels"]["a"], "b");
    // The lowered graph reads the context for the trigger's copy, and names its steps.
    let lowered = lower_with_base_env_plan(&plan);
    let def = lowered.definition();
    let names: Vec<&String> = def.metadata.values().filter_map(|m| m.description.get("llb.customname")).collect();
    assert!(names.iter().any(|n| n.starts_with("[app 2/6] onbuild copy")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("[app 3/6] onbuild run: make -C /app")), "{names:?}");
}

#[test]
fn onbuild_triggers_decant_cannot_run_fail_at_the_stage() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n";
    for (trigger, says) in [
        ("COPY --from=builder /out /out", "a trigger reads the image `docker.io/library/builder:latest`"),
        ("MAINTAINER me", "`MAINTAINER me`"),
        ("RUN <<EOF", "`RUN <<EOF`"),
    ] {
        let err = with_triggers(text, &[trigger]).expect_err(trigger);
        assert!(
            err.contains("the ONBUILD triggers of the base image docker.io/library/busybox:local cannot run in decant"),
            "{err}"
        );
        assert!(err.contains(says), "{trigger}: {err}");
        assert!(err.contains("decant.yaml:4:11"), "at the `from:`: {err}");
    }
}

/// A trigger's ARG has a Dockerfile's value in the triggers: the build's, else the trigger's
/// default, else the spec's value of that name (node's old `ONBUILD ARG NODE_ENV` and
/// `ONBUILD ENV NODE_ENV $NODE_ENV`). A stage that reads the arg itself is refused, unless a
/// trigger's ENV set it (then both read the env).
#[test]
fn onbuild_arg_triggers_take_the_dockerfile_value_and_stay_in_the_triggers() {
    let spec = |args: &str, run: &str| {
        format!("# syntax=decant/frontend:dev\n{args}stages:\n  app:\n    from: busybox:local\n    steps:\n      - run: {run}\n")
    };
    let triggers = ["ARG NODE_ENV", "ARG LEVEL=3", "ENV NODE_ENV $NODE_ENV", "RUN echo $LEVEL > /level"];
    let seen = |args: &str, build: &[(&str, &str)]| {
        let opts = BuildOptions {
            build_args: build.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..BuildOptions::default()
        };
        let plan = with_triggers_and(&spec(args, "npm run build"), &triggers, opts).unwrap();
        let steps = serde_json::to_value(&plan.stages[0].steps).unwrap();
        (steps[0]["vars"][0].as_str().map(String::from), steps[1]["env"].to_string())
    };
    let (env, run) = seen("", &[]);
    assert_eq!(env.as_deref(), Some("NODE_ENV="), "no value: the ENV is empty, as in a Dockerfile");
    assert_eq!(run, r#"["LEVEL=3"]"#, "the trigger's default");
    let (env, run) = seen("", &[("NODE_ENV", "production"), ("LEVEL", "9")]);
    assert_eq!(env.as_deref(), Some("NODE_ENV=production"));
    assert_eq!(run, r#"["LEVEL=9"]"#, "the build's value wins");
    let (env, run) = seen("args:\n  NODE_ENV: test\n  LEVEL: \"5\"\n", &[]);
    assert_eq!(env.as_deref(), Some("NODE_ENV=test"), "the spec's value fills an ARG without a default");
    assert_eq!(run, r#"["LEVEL=3"]"#, "but not one with a default");
    // The stage's own run reads NODE_ENV (set by the triggers' ENV): fine. LEVEL: refused.
    assert!(with_triggers(&spec("", "echo $NODE_ENV"), &triggers).is_ok());
    let err = with_triggers(&spec("", "echo ${LEVEL}"), &triggers).unwrap_err();
    assert!(err.contains("`ARG LEVEL`: this stage reads `LEVEL`"), "{err}");
    assert!(err.contains("decant.yaml:4:11"), "at the `from:`: {err}");
}

/// Lowers an already planned `plan` with no base image configs.
fn lower_with_base_env_plan(plan: &decant::plan::Plan) -> lower::Lowered {
    lower::lower(plan, &lower::Inputs::default()).unwrap()
}

#[test]
fn a_stages_onbuild_runs_first_in_the_stages_on_it_as_in_dockerfile() {
    // Current Dockerfile frontends run a stage's ONBUILD in a stage `FROM` it; the stage's
    // own image keeps them, the other's does not.
    let text = r#"# syntax=decant/frontend:dev
stages:
  base:
    from: busybox:local
    onbuild: ["RUN echo triggered > /t", "ENV MODE=release"]
  app:
    from: base
    steps:
      - run: cat /t
"#;
    let plan = compile::plan("decant.yaml", text, &BuildOptions::default()).map_err(|d| d.render()).unwrap();
    let app = plan.stage("app").unwrap();
    let steps: Vec<(bool, u32)> = app.steps.iter().map(|s| (s.trigger, s.line)).collect();
    assert_eq!(steps, [(true, 7), (true, 7), (false, 9)]);
    assert!(plan.stage("base").unwrap().steps.is_empty());
    let lowered = lower_with_base_env_plan(&plan);
    assert!(lowered.config.config.on_build.is_empty(), "app's image has no triggers");
    assert!(lowered.config.config.env.contains(&"MODE=release".to_string()), "{:?}", lowered.config.config.env);
    let base = compile::plan("decant.yaml", text, &BuildOptions { target: Some("base".into()), ..Default::default() })
        .unwrap();
    assert_eq!(lower_with_base_env_plan(&base).config.config.on_build.len(), 2);
}

/// The data of every `mkfile` in `def`.
fn mkfile_data(def: &decant::llb::pb::Definition) -> Vec<String> {
    use decant::llb::pb;
    def.def
        .iter()
        .filter_map(|b| <pb::Op as prost::Message>::decode(b.as_slice()).ok())
        .filter_map(|op| match op.op {
            Some(pb::op::Op::File(f)) => Some(f.actions),
            _ => None,
        })
        .flatten()
        .filter_map(|a| match a.action {
            Some(pb::file_action::Action::Mkfile(m)) => Some(String::from_utf8_lossy(&m.data).into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_file_step_expands_its_content_only_when_asked() {
    // As Dockerfile's unquoted `COPY <<EOF`: args, then the environment at the step (the base
    // image's included), `$$` a `$`; without `expand` the content is as written.
    let text = r#"# syntax=decant/frontend:dev
args:
  VERSION: "1.2"
stages:
  app:
    from: busybox:local
    steps:
      - env: { NAME: world }
      - file: /greeting
        content: "hello $NAME from ${BASE_VAR}, v${VERSION}, $$5, ${MISSING:-none}\n"
        expand: true
      - file: /raw
        content: "hello $NAME\n"
"#;
    let lowered = lower_with_base_env(text, &["PATH=/bin", "BASE_VAR=base"]).unwrap();
    let data = mkfile_data(&lowered.definition());
    assert!(data.contains(&"hello world from base, v1.2, $5, none\n".to_string()), "{data:?}");
    assert!(data.contains(&"hello $NAME\n".to_string()), "{data:?}");
}

#[test]
fn a_chown_with_an_empty_user_or_group_is_read_as_dockerfile_reads_it() {
    // A Dockerfile's `--chown=:staff` is the uid 0 with that group, `--chown=app:` app with the
    // gid 0 (BuildKit's LLB client writes an empty name as the id 0), `--chown=:` is 0:0.
    // `a:b:c` stays an error.
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - copy: a.txt
        to: /group-only
        chown: ":staff"
      - copy: a.txt
        to: /user-only
        chown: "app:"
      - copy: a.txt
        to: /root
        chown: ":"
      - copy: a.txt
        to: /linked
        chown: ":2000"
        link: true
"#;
    let owners: Vec<pb::ChownOpt> = file_actions(&common::definition(text, &BuildOptions::default()))
        .into_iter()
        .filter_map(|(_, a)| match a.action {
            Some(pb::file_action::Action::Copy(c)) => c.owner,
            _ => None,
        })
        .collect();
    let by_id = |id| Some(pb::UserOpt { user: Some(pb::user_opt::User::ById(id)) });
    assert_eq!(
        owners,
        [
            pb::ChownOpt { user: by_id(0), group: by_name("staff", 0) },
            pb::ChownOpt { user: by_name("app", 0), group: by_id(0) },
            pb::ChownOpt { user: by_id(0), group: by_id(0) },
            pb::ChownOpt { user: by_id(0), group: by_id(2000) },
        ]
    );
    let bad = text.replace("\":staff\"", "a:b:c");
    let err = compile::plan("decant.yaml", &bad, &BuildOptions::default()).unwrap_err().render();
    assert!(err.contains("`a:b:c` is not an owner"), "{err}");
}

#[test]
fn a_readwrite_bind_is_no_output_as_a_dockerfile_rw_mount() {
    // A Dockerfile's `rw` bind mount is writable with no output (its writes are dropped), so that
    // BuildKit caches the step by the content of what is mounted; an output would turn that off.
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - run: echo x >> /rw/f.txt
        mounts:
          - bind: /rw
            source: f.txt
            readwrite: true
          - bind: /ro
"#;
    let def = common::definition(text, &BuildOptions::default());
    let (mounts, caps) = def
        .def
        .iter()
        .zip(common::op_digests(&def))
        .find_map(|(b, digest)| match pb::Op::decode(b.as_slice()).unwrap().op {
            Some(pb::op::Op::Exec(e)) => Some((e.mounts, def.metadata[&digest].caps.clone())),
            _ => None,
        })
        .expect("an exec");
    let shape: Vec<(&str, i64, bool)> = mounts.iter().map(|m| (m.dest.as_str(), m.output, m.readonly)).collect();
    assert_eq!(shape, [("/", 0, false), ("/rw", -1, false), ("/ro", -1, true)]);
    assert!(caps.get("exec.mount.bind.readwrite-nooutput") == Some(&true), "{caps:?}");
}
