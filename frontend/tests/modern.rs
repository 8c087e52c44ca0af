//! Goldens and checks for what newer clients send (issue 10): proxy build args, exec resource
//! options, cache-mount namespaces, the base image config for reproducible images.
//!
//! Update snapshots with `INSTA_UPDATE=always cargo test -p decant --test modern`.

use std::collections::BTreeMap;

use decant::compile;
use decant::llb::{self, pb};
use decant::lower::{self, Inputs, RunOptions};
use decant::plan::BuildOptions;
use prost::Message;

const SPEC: &str = r#"# syntax=decant/frontend:dev
stages:
  build:
    from: busybox:local
    workdir: /src
    steps:
      - run: echo fetch > /fetched
        mounts:
          - cache: /root/.cache
            id: tools
      - run: echo offline > /offline
        network: none
  app:
    from: busybox:local
    steps:
      - copy: /fetched
        from: build
      - run: echo $HTTP_PROXY > /proxy
    env: { MODE: prod }
"#;

fn build_args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn lowered(run: RunOptions) -> lower::Lowered {
    let plan =
        compile::plan("decant.yaml", SPEC, &BuildOptions::default()).unwrap_or_else(|d| panic!("{}", d.render()));
    lower::lower(&plan, &Inputs { run, ..Default::default() }).unwrap_or_else(|d| panic!("{}", d.render()))
}

fn execs(def: &pb::Definition) -> Vec<pb::ExecOp> {
    def.def
        .iter()
        .filter_map(|b| match pb::Op::decode(b.as_slice()).ok()?.op {
            Some(pb::op::Op::Exec(e)) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn proxy_build_args_reach_every_run_step_and_nothing_else() {
    let args = build_args(&[("HTTP_PROXY", "http://proxy:3128"), ("no_proxy", "localhost"), ("VERSION", "1")]);
    let with = lowered(RunOptions::from_build_args(&args));
    let def = with.definition();
    insta::assert_snapshot!("proxy.llb", serde_json::to_string_pretty(&llb::dump_json(&def)).unwrap());
    let all = execs(&def);
    assert_eq!(all.len(), 3);
    for e in &all {
        let meta = e.meta.as_ref().unwrap();
        let proxy = meta.proxy_env.as_ref().expect("every run step, also one without network");
        assert_eq!((proxy.http_proxy.as_str(), proxy.no_proxy.as_str()), ("http://proxy:3128", "localhost"));
        // Not in the step's env (BuildKit adds it at run time, outside the cache key) ...
        assert!(meta.env.iter().all(|kv| !kv.to_ascii_uppercase().contains("PROXY")), "{:?}", meta.env);
    }
    // ... nor in the image.
    assert!(with.config.config.env.iter().all(|kv| !kv.contains("PROXY")), "{:?}", with.config.config.env);
    assert!(llb::required_caps(&def).contains("exec.meta.proxyenv"));
    // Without proxy args the ops differ only by `proxy_env`, which BuildKit leaves out of the
    // cache key (solver/llbsolver/ops/exec.go CacheMap): every step keeps its cache.
    let without = execs(&lowered(RunOptions::default()).definition());
    let strip = |mut e: pb::ExecOp| {
        e.meta.as_mut().unwrap().proxy_env = None;
        e.mounts.iter_mut().for_each(|m| m.input = 0);
        e.encode_to_vec()
    };
    assert_eq!(all.into_iter().map(strip).collect::<Vec<_>>(), without.into_iter().map(strip).collect::<Vec<_>>());
}

#[test]
fn resource_options_and_cache_namespace() {
    let run = RunOptions {
        shm_size: Some(128 << 20),
        ulimits: vec![("nofile".into(), 1024, 2048)],
        cgroup_parent: Some("/ci".into()),
        ..RunOptions::from_build_args(&build_args(&[("BUILDKIT_CACHE_MOUNT_NS", "team-a")]))
    };
    let def = lowered(run).definition();
    insta::assert_snapshot!("resources.llb", serde_json::to_string_pretty(&llb::dump_json(&def)).unwrap());
    for e in execs(&def) {
        let meta = e.meta.as_ref().unwrap();
        assert_eq!(meta.ulimit, vec![pb::Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 }]);
        assert_eq!(meta.cgroup_parent, "/ci");
        let shm = e.mounts.iter().find(|m| m.dest == "/dev/shm").expect("a /dev/shm mount");
        assert_eq!(shm.mount_type, pb::MountType::Tmpfs as i32);
        assert_eq!(shm.tmpfs_opt.as_ref().map(|t| t.size), Some(128 << 20));
        for m in e.mounts.iter().filter(|m| m.mount_type == pb::MountType::Cache as i32) {
            assert_eq!(m.cache_opt.as_ref().unwrap().id, "team-a/tools");
        }
    }
    let caps = llb::required_caps(&def);
    for cap in ["exec.meta.ulimit", "exec.meta.cgroup.parent", "exec.mount.tmpfs.size"] {
        assert!(caps.contains(cap), "{cap} in {caps:?}");
    }
    // None of it without the options: the ops are those of a plain build.
    let plain = lowered(RunOptions::default()).definition();
    assert!(execs(&plain).iter().all(|e| e.mounts.iter().all(|m| m.dest != "/dev/shm")));
    let caps = llb::required_caps(&plain);
    assert!(!caps.contains("exec.meta.ulimit") && !caps.contains("exec.mount.tmpfs.size"), "{caps:?}");
}

#[test]
fn a_step_that_mounts_dev_shm_keeps_its_own() {
    let text = SPEC.replace(
        "      - run: echo offline > /offline\n",
        "      - run: echo offline > /offline\n        mounts: [{ tmpfs: /dev/shm, size: 1m }]\n",
    );
    let plan =
        compile::plan("decant.yaml", &text, &BuildOptions::default()).unwrap_or_else(|d| panic!("{}", d.render()));
    let inputs = Inputs { run: RunOptions { shm_size: Some(1 << 30), ..Default::default() }, ..Default::default() };
    let def = lower::lower(&plan, &inputs).unwrap_or_else(|d| panic!("{}", d.render())).definition();
    let sizes: Vec<Vec<i64>> = execs(&def)
        .iter()
        .map(|e| e.mounts.iter().filter(|m| m.dest == "/dev/shm").map(|m| m.tmpfs_opt.as_ref().unwrap().size).collect())
        .collect();
    assert!(sizes.contains(&vec![1 << 20]), "the step's own mount: {sizes:?}");
    assert!(sizes.iter().all(|s| s.len() == 1), "one /dev/shm per step: {sizes:?}");
}

#[test]
fn the_base_config_is_the_image_the_target_starts_from() {
    let text = "# syntax=decant/frontend:dev\nstages:\n  base:\n    from: busybox:local\n    steps:\n      - run: echo > /x\n  mid:\n    from: base\n  app:\n    from: mid\n    cmd: [sh]\n  empty:\n    from: scratch\n";
    let busybox = decant::image::ImageConfig::from_json(
        br#"{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},"history":[{"created_by":"ADD rootfs"}]}"#,
    )
    .unwrap();
    let lower_target = |target: &str| {
        let opts = BuildOptions { target: Some(target.into()), ..Default::default() };
        let plan = compile::plan("decant.yaml", text, &opts).unwrap_or_else(|d| panic!("{}", d.render()));
        let mut inputs = Inputs::default();
        for key in plan.images() {
            inputs.images.insert(key, lower::BaseImage { digest: None, reference: None, config: busybox.clone() });
        }
        lower::lower(&plan, &inputs).unwrap_or_else(|d| panic!("{}", d.render()))
    };
    let app = lower_target("app");
    let base = app.base_config.expect("app starts from busybox through two stages");
    assert_eq!(base.rootfs.diff_ids, busybox.rootfs.diff_ids, "the layers are kept");
    assert_eq!(base.history.len(), 1);
    assert!(app.config.history.len() > base.history.len(), "the target's own history goes on top");
    assert!(lower_target("empty").base_config.is_none());
}

/// Git URLs in BuildKit's query form work wherever a git URL does: copy and mount `from:`
/// and named contexts.
#[test]
fn git_urls_with_a_query_in_copies_mounts_and_named_contexts() {
    let text = r#"# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - copy: docs/
        from: https://github.com/org/repo.git?ref=v1&subdir=app
        to: /docs/
      - run: ls /tools
        mounts:
          - bind: /tools
            from: https://github.com/org/tools.git?tag=v2&keep-git-dir=true
      - copy: /
        from: vendored
        to: /vendor/
"#;
    let opts = BuildOptions { named_contexts: ["vendored".to_string()].into(), ..Default::default() };
    let plan = compile::plan("decant.yaml", text, &opts).unwrap_or_else(|d| panic!("{}", d.render()));
    let named = lower::contexts::offline(
        &plan,
        &BTreeMap::from([(
            "vendored".to_string(),
            "https://github.com/org/vendor.git?branch=stable&subdir=lib".to_string(),
        )]),
    )
    .unwrap();
    let def = lower::lower(&plan, &Inputs { named_contexts: named, ..Default::default() })
        .unwrap_or_else(|d| panic!("{}", d.render()))
        .definition();
    insta::assert_snapshot!("git_query.llb", serde_json::to_string_pretty(&llb::dump_json(&def)).unwrap());
    let sources: Vec<pb::SourceOp> = def
        .def
        .iter()
        .filter_map(|b| match pb::Op::decode(b.as_slice()).ok()?.op {
            Some(pb::op::Op::Source(s)) if s.identifier.starts_with("git://") => Some(s),
            _ => None,
        })
        .collect();
    let find = |id: &str| sources.iter().find(|s| s.identifier == id).unwrap_or_else(|| panic!("{id} in {sources:?}"));
    // The subdirectory travels in the identifier (`#ref:dir`), as BuildKit's llb.Git writes it.
    find("git://github.com/org/repo.git#v1:app");
    let tools = find("git://github.com/org/tools.git#refs/tags/v2");
    assert_eq!(tools.attrs.get("git.keepgitdir").map(String::as_str), Some("true"));
    find("git://github.com/org/vendor.git#refs/heads/stable:lib");
    assert_eq!(sources.len(), 3);
}
