//! Goldens and checks for copy `link`/`parents`, `SOURCE_DATE_EPOCH`, and run mounts: the LLB
//! each produces, and its fallback where BuildKit lacks a feature.
//!
//! Update snapshots with `INSTA_UPDATE=always cargo test -p decant --test features`.

mod common;

use std::collections::BTreeMap;

use decant::compile;
use decant::llb::{self, pb};
use decant::lower::{self, Features, Inputs};
use decant::plan::BuildOptions;

const SPEC: &str = r#"# syntax=decant/frontend:dev
stages:
  build:
    from: busybox:local
    workdir: /src
    steps:
      - run: mkdir -p /out/bin && echo hi > /out/bin/tool
        mounts:
          - cache: /root/.cache
            id: tools
            sharing: locked
          - secret: token
          - tmpfs: /scratch
            size: 64m
  app:
    from: busybox:local
    steps:
      - copy: /out/bin/tool
        from: build
        to: /usr/local/bin/
        link: true
        chown: "1000:1000"
      - copy: [src/a.txt, docs/b.md]
        to: /data/
        parents: true
    cmd: [tool]
"#;

fn lowered(features: Features, build_args: &[(&str, &str)]) -> lower::Lowered {
    let opts = BuildOptions {
        build_args: build_args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        ..Default::default()
    };
    let plan = compile::plan("decant.yaml", SPEC, &opts).unwrap_or_else(|d| panic!("{}", d.render()));
    let inputs = Inputs { features, ..Default::default() };
    lower::lower(&plan, &inputs).unwrap_or_else(|d| panic!("{}", d.render()))
}

fn ops(def: &pb::Definition) -> Vec<pb::Op> {
    use prost::Message;
    def.def.iter().map(|b| pb::Op::decode(b.as_slice()).unwrap()).collect()
}

#[test]
fn link_uses_a_merge_op_when_buildkit_has_one() {
    let def = lowered(Features { merge_op: true, ..Default::default() }, &[]).definition();
    insta::assert_snapshot!("link_merge.llb", serde_json::to_string_pretty(&llb::dump_json(&def)).unwrap());
    let merges = ops(&def).into_iter().filter(|o| matches!(o.op, Some(pb::op::Op::Merge(_)))).count();
    assert_eq!(merges, 1);
    assert!(llb::required_caps(&def).contains("mergeop"));
}

#[test]
fn link_falls_back_to_a_plain_copy() {
    let def = lowered(Features { merge_op: false, ..Default::default() }, &[]).definition();
    let all = ops(&def);
    assert!(all.iter().all(|o| !matches!(o.op, Some(pb::op::Op::Merge(_)))));
    assert!(!llb::required_caps(&def).contains("mergeop"));
    // The copy lands on the stage's filesystem directly.
    let copy_onto_base = all.iter().any(|o| match &o.op {
        Some(pb::op::Op::File(f)) => f.actions.iter().any(|a| {
            a.input == 0 && matches!(&a.action, Some(pb::file_action::Action::Copy(c)) if c.src == "/out/bin/tool")
        }),
        _ => false,
    });
    assert!(copy_onto_base, "the linked copy falls back to a copy onto the base");
}

#[test]
fn parents_copies_the_source_root_with_include_patterns() {
    let def = lowered(Features::default(), &[]).definition();
    let copy = ops(&def)
        .into_iter()
        .find_map(|o| match o.op {
            Some(pb::op::Op::File(f)) => f.actions.into_iter().find_map(|a| match a.action {
                Some(pb::file_action::Action::Copy(c)) if !c.include_patterns.is_empty() => Some(c),
                _ => None,
            }),
            _ => None,
        })
        .expect("a copy with include patterns");
    assert_eq!(copy.src, "/");
    assert_eq!(copy.dest, "/data/");
    assert_eq!(copy.include_patterns, ["src/a.txt", "docs/b.md"]);
    assert!(llb::required_caps(&def).contains("file.copy.includeexcludepatterns"));
}

#[test]
fn mounts_lower_to_exec_mounts_without_secret_values() {
    let def = lowered(Features::default(), &[]).definition();
    let exec = ops(&def)
        .into_iter()
        .find_map(|o| match o.op {
            Some(pb::op::Op::Exec(e)) => Some(e),
            _ => None,
        })
        .unwrap();
    let kinds: Vec<(String, i32)> = exec.mounts.iter().map(|m| (m.dest.clone(), m.mount_type)).collect();
    assert!(kinds.contains(&("/root/.cache".into(), pb::MountType::Cache as i32)), "{kinds:?}");
    assert!(kinds.contains(&("/run/secrets/token".into(), pb::MountType::Secret as i32)), "{kinds:?}");
    assert!(kinds.contains(&("/scratch".into(), pb::MountType::Tmpfs as i32)), "{kinds:?}");
    let cache = exec.mounts.iter().find(|m| m.dest == "/root/.cache").unwrap();
    let opt = cache.cache_opt.as_ref().unwrap();
    // Named as the Dockerfile frontend names it: `<BUILDKIT_CACHE_MOUNT_NS>/<id>`.
    assert_eq!((opt.id.as_str(), opt.sharing), ("/tools", pb::CacheSharingOpt::Locked as i32));
    assert_eq!(cache.output, -1, "a cache mount is not an output");
    let caps = llb::required_caps(&def);
    for cap in [
        "exec.mount.cache",
        "exec.mount.cache.sharing",
        "exec.mount.secret",
        "exec.mount.tmpfs",
        "exec.mount.tmpfs.size",
    ] {
        assert!(caps.contains(cap), "{cap} in {caps:?}");
    }
}

#[test]
fn source_date_epoch_stamps_the_image_and_only_decant_history() {
    let config = lowered(Features::default(), &[("SOURCE_DATE_EPOCH", "1700000000")]).config;
    assert_eq!(config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert!(!config.history.is_empty());
    assert!(config.history.iter().all(|h| h.created.as_deref() == Some("2023-11-14T22:13:20Z")));
    // Without it, no timestamp anywhere: BuildKit fills in the creation time.
    let config = lowered(Features::default(), &[]).config;
    assert_eq!(config.created, None);
    assert!(config.history.iter().all(|h| h.created.is_none()));
    // The epoch changes the image config, never the build's ops.
    let with = lowered(Features::default(), &[("SOURCE_DATE_EPOCH", "1")]).definition();
    let without = lowered(Features::default(), &[]).definition();
    assert_eq!(with.def, without.def);
}

#[test]
fn bad_source_date_epoch_is_an_error() {
    let opts = BuildOptions {
        build_args: BTreeMap::from([("SOURCE_DATE_EPOCH".to_string(), "yesterday".to_string())]),
        ..Default::default()
    };
    let d = compile::plan("decant.yaml", SPEC, &opts).unwrap_err();
    assert!(d.render().contains("SOURCE_DATE_EPOCH `yesterday` is not a number of seconds"), "{}", d.render());
}

#[test]
fn link_with_a_chown_by_name_is_rejected() {
    let text = SPEC.replace("chown: \"1000:1000\"", "chown: app:app");
    let d = compile::plan("decant.yaml", &text, &BuildOptions::default()).unwrap_err();
    let out = d.render();
    assert!(out.contains("cannot be looked up") && out.contains("decant.yaml:22:16"), "{out}");
}

fn exec_ops(def: &pb::Definition) -> Vec<(String, pb::ExecOp)> {
    use prost::Message;
    def.def
        .iter()
        .filter_map(|b| {
            let op = pb::Op::decode(b.as_slice()).ok()?;
            match op.op {
                Some(pb::op::Op::Exec(e)) => Some((llb::digest_of(b), e)),
                _ => None,
            }
        })
        .collect()
}

/// Stages `a` and `b` (one run step choosing its network), and `final` copying from both.
const THREE_STAGES: &str = r#"# syntax=decant/frontend:dev
stages:
  a:
    from: busybox:local
    steps:
      - run: echo a > /a
  b:
    from: busybox:local
    steps:
      - run: echo b > /b
      - run: echo c > /c
        network: default
  final:
    from: busybox:local
    steps:
      - copy: [/a]
        from: a
      - copy: [/b]
        from: b
"#;

/// `no-cache` for named stages marks only their ops; `hostname`, `add-hosts` and
/// `force-network-mode` reach every run step that does not choose its own network.
#[test]
fn build_options_reach_the_ops() {
    let text = THREE_STAGES;
    let plan = compile::plan("decant.yaml", text, &BuildOptions::default()).unwrap();
    let inputs = Inputs {
        no_cache: lower::NoCache::Stages(["b".to_string()].into()),
        hostname: Some("builder".into()),
        extra_hosts: vec![("db".into(), "10.0.0.5".into())],
        network: Some(decant::plan::Network::None),
        ..Default::default()
    };
    let def = lower::lower(&plan, &inputs).unwrap().definition();
    let execs = exec_ops(&def);
    assert_eq!(execs.len(), 3);
    for (digest, e) in &execs {
        let meta = e.meta.as_ref().unwrap();
        let stage_b = meta.args.iter().any(|a| a.contains("echo b") || a.contains("echo c"));
        assert_eq!(def.metadata[digest].ignore_cache, stage_b, "only stage b ignores the cache: {:?}", meta.args);
        assert_eq!(meta.hostname, "builder");
        assert_eq!(meta.extra_hosts, [pb::HostIp { host: "db".into(), ip: "10.0.0.5".into() }]);
        let own_network = meta.args.iter().any(|a| a.contains("echo c"));
        let expected = if own_network { pb::NetMode::Unset } else { pb::NetMode::None };
        assert_eq!(e.network, expected as i32, "{:?}", meta.args);
    }
}

/// A run step sees the args its command mentions, so changing another arg keeps its cache.
#[test]
fn run_steps_see_only_the_args_they_mention() {
    let text = r#"# syntax=decant/frontend:dev
args:
  VERSION: "1"
  FLAVOUR: plain
stages:
  app:
    from: busybox:local
    steps:
      - run: apk add curl
      - run: echo building $VERSION
      - run: ["/bin/sh", "-c", "echo ${FLAVOUR:-none}"]
"#;
    let build = |args: &[(&str, &str)]| {
        let opts = BuildOptions {
            build_args: args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        };
        let plan = compile::plan("decant.yaml", text, &opts).unwrap();
        let def = lower::lower(&plan, &Inputs::default()).unwrap().definition();
        exec_ops(&def).into_iter().map(|(d, e)| (d, e.meta.unwrap())).collect::<Vec<_>>()
    };
    let base = build(&[]);
    let by_cmd = |needle: &str| base.iter().find(|(_, m)| m.args.iter().any(|a| a.contains(needle))).unwrap().clone();
    assert!(!by_cmd("apk").1.env.iter().any(|v| v.starts_with("VERSION=") || v.starts_with("FLAVOUR=")));
    assert!(by_cmd("building").1.env.contains(&"VERSION=1".to_string()));
    assert!(by_cmd("FLAVOUR").1.env.contains(&"FLAVOUR=plain".to_string()));
    // Changing VERSION changes only the step that mentions it.
    let changed = build(&[("VERSION", "2")]);
    let digests = |v: &Vec<(String, pb::Meta)>| v.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>();
    let (before, after) = (digests(&base), digests(&changed));
    assert_eq!(before[0], after[0], "apk add keeps its cache");
    assert_ne!(before[1], after[1], "the step that echoes $VERSION re-runs");
}

/// `no-cache` stage names from the client match whatever their case, as in the Dockerfile
/// frontend (`no-cache=B` marks stage `b`).
#[test]
fn no_cache_stage_names_ignore_case() {
    let opts = decant::gateway::FrontendOpts::from_vars([("BUILDKIT_FRONTEND_OPT_0", "no-cache=B")]).unwrap();
    let plan = compile::plan("decant.yaml", THREE_STAGES, &BuildOptions::default()).unwrap();
    let inputs = Inputs { no_cache: opts.no_cache(), ..Default::default() };
    let def = lower::lower(&plan, &inputs).unwrap().definition();
    let execs = exec_ops(&def);
    assert_eq!(execs.len(), 3);
    for (digest, e) in &execs {
        let stage_b = e.meta.as_ref().unwrap().args.iter().any(|a| a.contains("echo b") || a.contains("echo c"));
        assert_eq!(def.metadata[digest].ignore_cache, stage_b, "only stage b ignores the cache");
    }
}

const SYMBOLIC: &str = r##"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - copy: [run.sh, lib/]
        to: /app/
        chmod: u+x,g-w
      - copy: conf.ini
        to: /etc/app.ini
        chmod: "0640"
      - file: /usr/local/bin/start
        content: "#!/bin/sh\nexec /app/run.sh\n"
        chmod: a+x
        chown: "1000"
"##;

/// `chmod: u+x` is BuildKit's `modeStr` (mode left at 0, as BuildKit's client leaves it), with
/// its capability; a `file` step makes its file (0644) in an empty layer and copies it in with
/// the mode, as Dockerfile's `COPY --chmod=a+x <<EOF` does.
#[test]
fn a_symbolic_chmod_is_a_mode_string() {
    let plan = compile::plan("decant.yaml", SYMBOLIC, &BuildOptions::default()).unwrap();
    let def = lower::lower(&plan, &Inputs::default()).unwrap().definition();
    let copies = common::copies(&def);
    let by_dest = |d: &str| copies.iter().find(|c| c.dest == d).unwrap_or_else(|| panic!("no copy to {d}"));
    let app = by_dest("/app/");
    assert_eq!((app.mode, app.mode_str.as_str()), (0, "u+x,g-w"));
    let ini = by_dest("/etc/app.ini");
    assert_eq!((ini.mode, ini.mode_str.as_str()), (0o640, ""));
    let start = by_dest("/usr/local/bin/start");
    assert_eq!((start.src.as_str(), start.mode, start.mode_str.as_str()), ("/start", 0, "a+x"));
    assert!(start.owner.is_some() && start.create_dest_path);
    let made = ops(&def).into_iter().find_map(|o| match o.op {
        Some(pb::op::Op::File(f)) => f.actions.into_iter().find_map(|a| match a.action {
            Some(pb::file_action::Action::Mkfile(m)) => Some(m),
            _ => None,
        }),
        _ => None,
    });
    let made = made.expect("the file is made first");
    assert_eq!(
        (made.path.as_str(), made.mode, made.data.as_slice()),
        ("/start", 0o644, &b"#!/bin/sh\nexec /app/run.sh\n"[..])
    );
    // No op asks for the mode string's cap: BuildKit never registers it, so a daemon would refuse
    // the op (its own client does not send it either).
    assert!(!llb::required_caps(&def).contains(llb::MODE_STRING_CAP));
}

#[test]
fn a_symbolic_chmod_on_an_older_buildkit_is_a_located_error() {
    let plan = compile::plan("decant.yaml", SYMBOLIC, &BuildOptions::default()).unwrap();
    let inputs = Inputs { features: Features { copy_mode_string: false, ..Default::default() }, ..Default::default() };
    let d = lower::lower(&plan, &inputs).unwrap_err();
    assert_eq!(
        d.summary(),
        "decant.yaml:6:9: error: `chmod: u+x,g-w`: a symbolic mode needs BuildKit 0.17 or later, and this daemon is \
         older (write the mode in octal, e.g. `chmod: \"0755\"`)"
    );
}

#[test]
fn a_bad_symbolic_chmod_is_a_located_error() {
    let text = SYMBOLIC.replace("u+x,g-w", "u+y").replace("a+x", "\"+x,\"");
    let d = compile::plan("decant.yaml", &text, &BuildOptions::default()).unwrap_err();
    assert_eq!(
        d.summary(),
        "decant.yaml:8:16: error: `u+y` is not a file mode: octal (0755) or symbolic, as chmod takes it (u+x, g-w,o=r)\n\
         decant.yaml:14:16: error: `+x,` is not a file mode: octal (0755) or symbolic, as chmod takes it (u+x, g-w,o=r)"
    );
}

/// `parents: true` with a `/./` pivot keeps only the part after it, below the destination: the
/// copy reads from the part before it, as Dockerfile's `COPY --parents src/./app/x.txt` does.
#[test]
fn a_pivot_keeps_the_path_after_it() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  build:
    from: busybox:local
    workdir: /src
    steps:
      - run: make
  app:
    from: busybox:local
    steps:
      - copy: [src/./app/x.txt, docs/b.md, src/./lib/*.so, other/./y.txt]
        to: /data/
        parents: true
      - copy: [/out/./bin/tool, gen/./a.h, b.h]
        from: build
        to: /opt/
        parents: true
"#;
    let plan = compile::plan("decant.yaml", text, &BuildOptions::default()).unwrap();
    let def = lower::lower(&plan, &Inputs::default()).unwrap().definition();
    let got: Vec<(String, String, Vec<String>)> =
        common::copies(&def).into_iter().map(|c| (c.src, c.dest, c.include_patterns)).collect();
    let want = |src: &str, dest: &str, patterns: &[&str]| {
        (src.to_string(), dest.to_string(), patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>())
    };
    assert_eq!(
        got,
        [
            want("/src", "/data/", &["app/x.txt", "lib/*.so"]),
            want("/", "/data/", &["docs/b.md"]),
            want("/other", "/data/", &["y.txt"]),
            // From a stage: relative roots are below its workdir.
            want("/out", "/opt/", &["bin/tool"]),
            want("/src/gen", "/opt/", &["a.h"]),
            want("/src", "/opt/", &["b.h"]),
        ]
    );
    // The context sends the files by their whole path.
    let reads = plan.local_reads();
    let paths = reads.context.follow_paths();
    assert!(paths.contains(&"src/app/x.txt".to_string()) && paths.contains(&"other/y.txt".to_string()), "{paths:?}");
}

#[test]
fn a_pivot_must_keep_something() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    steps:\n      - copy: [src/./, a/./../b]\n        to: /data/\n        parents: true\n";
    let d = compile::plan("decant.yaml", text, &BuildOptions::default()).unwrap_err();
    assert_eq!(
        d.summary(),
        "decant.yaml:6:16: error: `src/./` has nothing after its `/./` pivot (with `parents: true`, `dir/./sub/file` keeps `sub/file` below the destination)\n\
         decant.yaml:6:24: error: `a/./../b` leaves its `/./` pivot with `..`"
    );
    // Without `parents`, `/./` is just a path.
    let plain = text.replace("        parents: true\n", "").replace("[src/./, a/./../b]", "src/./x");
    compile::plan("decant.yaml", &plain, &BuildOptions::default()).unwrap();
}
