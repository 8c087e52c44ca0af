//! Whole builds through the fake bridge with the options and replies of newer clients and
//! daemons: proxy build args, exec resource options, cache-mount namespaces, source-policy
//! rewrites, base image configs, remote contexts, `dockerfilekey`.

use std::collections::BTreeMap;

use prost::Message;

use super::{cap, pong, ref_reply, start, v08_llb_caps, FakeBridge, Script, BUILD_SPEC};

use crate::gateway::{pb, FrontendOpts, FrontendResult};

/// A build of `spec` with opts `opts` on a v0.8 daemon plus `extra_llb` LLB caps.
pub(super) async fn build_on(
    spec: &str,
    opts: &[(&str, &str)],
    extra_llb: &[&str],
    script: Script,
) -> (Result<FrontendResult, pb::Status>, FakeBridge) {
    // The script's own Ping answer when it has one, else a v0.8 daemon's.
    let mut pong = if script.pong.frontend_api_caps.is_empty() {
        let mut p = pong(&[]);
        p.llb_caps = v08_llb_caps();
        p
    } else {
        script.pong.clone()
    };
    pong.llb_caps.extend(extra_llb.iter().map(|id| cap(id)));
    let inputs = script.inputs.clone().or_else(|| Some(BTreeMap::new()));
    let resolve_digest = script.resolve_digest.clone().or_else(|| Some(format!("sha256:{}", "d".repeat(64))));
    let solve = script.solve.clone().or_else(|| Some(Ok(ref_reply("r1"))));
    let (mut client, bridge) =
        start(Script { pong, solve, file_data: spec.as_bytes().to_vec(), inputs, resolve_digest, ..script }).await;
    let mut map = BTreeMap::from([("filename".to_string(), "decant.yaml".to_string())]);
    for (k, v) in opts {
        map.insert(k.to_string(), v.to_string());
    }
    let res = crate::gateway::frontend::build(&mut client, &FrontendOpts::from_map(map)).await;
    (res, bridge)
}

/// The exec ops of every definition the frontend solved.
pub(super) fn solved_execs(bridge: &FakeBridge) -> Vec<crate::llb::pb::ExecOp> {
    use crate::llb::pb as llbpb;
    let mut out = Vec::new();
    for s in bridge.record(|r| r.solve.clone()) {
        let Ok(def) = crate::llb::decode_definition(&s.definition) else { continue };
        for b in &def.def {
            if let Ok(llbpb::Op { op: Some(llbpb::op::Op::Exec(e)), .. }) = llbpb::Op::decode(b.as_slice()) {
                out.push(e);
            }
        }
    }
    out
}

#[tokio::test]
async fn proxy_build_args_become_proxy_env_of_run_steps() {
    let opts = [("build-arg:HTTP_PROXY", "http://proxy:3128"), ("build-arg:https_proxy", "http://s:3129")];
    let (res, bridge) = build_on(BUILD_SPEC, &opts, &[], Script::default()).await;
    let res = res.expect("build");
    let execs = solved_execs(&bridge);
    assert_eq!(execs.len(), 1, "the spec has one run step");
    let proxy = execs[0].meta.as_ref().unwrap().proxy_env.clone().expect("proxy_env");
    assert_eq!((proxy.http_proxy.as_str(), proxy.https_proxy.as_str()), ("http://proxy:3128", "http://s:3129"));
    let config = String::from_utf8(res.metadata["containerimage.config"].clone()).unwrap();
    assert!(!config.contains("proxy"), "not in the image: {config}");
}

#[tokio::test]
async fn resource_options_need_their_caps() {
    for (opt, value, cap) in [
        ("shm-size", "67108864", "exec.mount.tmpfs.size"),
        ("ulimit", "nofile=1024:2048", "exec.meta.ulimit"),
        ("cgroup-parent", "/ci", "exec.meta.cgroup.parent"),
    ] {
        let (res, bridge) = build_on(BUILD_SPEC, &[(opt, value)], &[], Script::default()).await;
        let err = res.expect_err("a v0.8 daemon lacks the cap");
        assert!(err.message.contains(opt) && err.message.contains(cap), "{}", err.message);
        assert!(solved_execs(&bridge).is_empty(), "nothing built");
    }
    let opts = [("shm-size", "67108864"), ("ulimit", "nofile=1024:2048"), ("cgroup-parent", "/ci")];
    let caps = ["exec.mount.tmpfs.size", "exec.meta.ulimit", "exec.meta.cgroup.parent"];
    let (res, bridge) = build_on(BUILD_SPEC, &opts, &caps, Script::default()).await;
    res.expect("build on a daemon with the caps");
    let e = &solved_execs(&bridge)[0];
    let meta = e.meta.as_ref().unwrap();
    assert_eq!((meta.ulimit[0].name.as_str(), meta.ulimit[0].soft, meta.ulimit[0].hard), ("nofile", 1024, 2048));
    assert_eq!(meta.cgroup_parent, "/ci");
    let shm = e.mounts.iter().find(|m| m.dest == "/dev/shm").expect("/dev/shm");
    assert_eq!(shm.tmpfs_opt.as_ref().unwrap().size, 64 << 20);
    // A malformed value names the option.
    let (res, _) = build_on(BUILD_SPEC, &[("ulimit", "nofiles=1")], &caps, Script::default()).await;
    assert!(res.expect_err("bad ulimit").message.contains("\"ulimit\""));
}

#[tokio::test]
async fn cache_mount_namespace_prefixes_ids() {
    let spec = BUILD_SPEC.replace(
        "        env: { TARGETARCH: \"${TARGETARCH}\" }\n",
        "        env: { TARGETARCH: \"${TARGETARCH}\" }\n        mounts: [{ cache: /root/.cache, id: gocache }]\n",
    );
    let (res, bridge) = build_on(&spec, &[("build-arg:BUILDKIT_CACHE_MOUNT_NS", "proj")], &[], Script::default()).await;
    res.expect("build");
    let ids: Vec<String> =
        solved_execs(&bridge)[0].mounts.iter().filter_map(|m| m.cache_opt.as_ref().map(|c| c.id.clone())).collect();
    assert_eq!(ids, ["proj/gocache"]);
}

/// The identifiers of the source ops in a solved definition.
fn source_ids(definition: &[u8]) -> Vec<String> {
    use crate::llb::pb as llbpb;
    let Ok(def) = crate::llb::decode_definition(definition) else { return Vec::new() };
    def.def
        .iter()
        .filter_map(|b| match llbpb::Op::decode(b.as_slice()).ok()?.op {
            Some(llbpb::op::Op::Source(s)) => Some(s.identifier),
            _ => None,
        })
        .collect()
}

fn git_input(url: &str) -> Vec<u8> {
    let source = crate::remote::GitSource::parse(&format!("{url}#main")).unwrap();
    let state = crate::llb::git(&source, false, Default::default()).unwrap();
    crate::llb::marshal_bytes(&state)
}

/// bake's `dockerfile-inline` with a context given as a state: buildx passes the context (and a
/// `dockerfile` input holding the same state) plus `dockerfilekey=dockerfile` and the inline
/// spec in the `dockerfile` local. The spec must come from the local.
#[tokio::test]
async fn dockerfilekey_reads_the_spec_from_the_local_whatever_the_inputs() {
    let repo = git_input("https://github.com/org/repo.git");
    let inputs = BTreeMap::from([("context".to_string(), repo.clone()), ("dockerfile".to_string(), repo)]);
    let script = || Script { inputs: Some(inputs.clone()), ..Default::default() };
    let (res, bridge) = build_on(BUILD_SPEC, &[("dockerfilekey", "dockerfile")], &[], script()).await;
    res.expect("build");
    // The spec's local is solved (at once, before the inputs are known) and the input never is.
    let git_alone = |solves: &[crate::gateway::pb::SolveRequest]| {
        solves.iter().any(|s| source_ids(&s.definition) == ["git://github.com/org/repo.git#main"])
    };
    let solves = bridge.record(|r| r.solve.clone());
    assert_eq!(source_ids(&solves[0].definition), ["local://dockerfile"], "the spec's solve reads the local");
    assert!(!git_alone(&solves), "with dockerfilekey the dockerfile input is not read");
    // Without `dockerfilekey`, the `dockerfile` input is where the spec is.
    let (res, bridge) = build_on(BUILD_SPEC, &[], &[], script()).await;
    res.expect("build");
    assert!(git_alone(&bridge.record(|r| r.solve.clone())), "the spec is read from the dockerfile input");
}

/// A source policy rewrote `busybox:local` to another image: the image sources name the
/// reference BuildKit answered (pinned to the answered digest), not the one decant asked for.
#[tokio::test]
async fn image_sources_pin_the_reference_buildkit_answered() {
    let digest = format!("sha256:{}", "e".repeat(64));
    let script = Script {
        resolve_ref: Some("registry.example.com/mirror/busybox:1.36".into()),
        resolve_digest: Some(digest.clone()),
        ..Default::default()
    };
    let (res, bridge) = build_on(BUILD_SPEC, &[], &[], script).await;
    res.expect("build");
    let asked: Vec<String> = bridge.record(|r| r.resolve.iter().map(|q| q.r#ref.clone()).collect());
    assert!(asked.iter().all(|r| r == "docker.io/library/busybox:local"), "{asked:?}");
    let ids: Vec<String> = bridge.record(|r| r.solve.clone()).iter().flat_map(|s| source_ids(&s.definition)).collect();
    let images: Vec<&String> = ids.iter().filter(|i| i.starts_with("docker-image://")).collect();
    assert!(!images.is_empty());
    let want = format!("docker-image://registry.example.com/mirror/busybox:1.36@{digest}");
    assert!(images.iter().all(|i| **i == want), "{images:?}");
    // Daemons before 0.12 answer no reference: the requested one is pinned.
    let script =
        Script { resolve_ref: Some(String::new()), resolve_digest: Some(digest.clone()), ..Default::default() };
    let (res, bridge) = build_on(BUILD_SPEC, &[], &[], script).await;
    res.expect("build");
    let ids: Vec<String> = bridge.record(|r| r.solve.clone()).iter().flat_map(|s| source_ids(&s.definition)).collect();
    assert!(ids.contains(&format!("docker-image://docker.io/library/busybox:local@{digest}")), "{ids:?}");
    // An answer that is no reference fails the build, naming both.
    let script = Script { resolve_ref: Some("Not A Ref".into()), ..Default::default() };
    let err = build_on(BUILD_SPEC, &[], &[], script).await.0.expect_err("bad answer");
    assert!(err.message.contains("busybox:local") && err.message.contains("Not A Ref"), "{}", err.message);
}

/// The base image's config travels with the result (per platform for a map result), for
/// `rewrite-timestamp=true`; a target on `scratch` sends none.
#[tokio::test]
async fn results_carry_the_base_image_config() {
    let (res, _) = build_on(BUILD_SPEC, &[], &[], Script::default()).await;
    let res = res.expect("build");
    let base: serde_json::Value = serde_json::from_slice(&res.metadata["containerimage.base.config"]).unwrap();
    assert_eq!(base["os"], "linux", "the config BuildKit resolved for busybox:local: {base}");
    let (res, _) = build_on(BUILD_SPEC, &[("platform", "linux/amd64,linux/arm64")], &[], Script::default()).await;
    let res = res.expect("build");
    let keys: Vec<&String> = res.metadata.keys().filter(|k| k.starts_with("containerimage.base.config")).collect();
    assert_eq!(keys, ["containerimage.base.config/linux/amd64", "containerimage.base.config/linux/arm64"]);
    let scratch = BUILD_SPEC.replace("  app:\n    from: busybox:local\n", "  app:\n    from: scratch\n");
    let (res, _) = build_on(&scratch, &[], &[], Script::default()).await;
    let res = res.expect("build");
    assert!(!res.metadata.keys().any(|k| k.starts_with("containerimage.base.config")), "{:?}", res.metadata.keys());
}

const CONTEXT_SPEC: &str = "# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - copy: hello.c
";

/// The solves after the speculative one: the frontend solves the `dockerfile` local before it
/// knows where the spec is (lazily: nothing is read from it unless the spec comes from there).
fn after_speculative(bridge: &FakeBridge) -> Vec<pb::SolveRequest> {
    let solves = bridge.record(|r| r.solve.clone());
    assert_eq!(source_ids(&solves[0].definition), ["local://dockerfile"], "the speculative spec solve");
    solves[1..].to_vec()
}

/// Every source identifier of every solve after the speculative one, in order.
fn all_sources(bridge: &FakeBridge) -> Vec<Vec<String>> {
    after_speculative(bridge).iter().map(|s| source_ids(&s.definition)).collect()
}

fn json_of(bridge: &FakeBridge, i: usize) -> String {
    let solves = after_speculative(bridge);
    crate::llb::dump_json(&crate::llb::decode_definition(&solves[i].definition).unwrap()).to_string()
}

/// `docker buildx build https://github.com/org/repo.git?ref=v1&subdir=app`: only the opt
/// `context`; the spec and the context both come from the repository.
#[tokio::test]
async fn a_git_context_holds_the_spec_and_the_context() {
    let opts = [
        ("context", "https://github.com/org/repo.git?ref=v1&subdir=app"),
        ("build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", "true"),
    ];
    // A v0.8 daemon cannot check out a subdirectory: the error names the cap.
    let (res, _) = build_on(CONTEXT_SPEC, &opts, &[], Script::default()).await;
    assert!(res.expect_err("no subdir on v0.8").message.contains("source.git.subdir"));
    let (res, bridge) = build_on(CONTEXT_SPEC, &opts, &["source.git.subdir"], Script::default()).await;
    res.expect("build");
    let sources = all_sources(&bridge);
    assert!(sources.iter().flatten().all(|s| !s.starts_with("local://")), "no locals: {sources:?}");
    assert_eq!(sources[0], ["git://github.com/org/repo.git#v1:app"], "the spec is read from the repository");
    assert!(json_of(&bridge, 0).contains("git.keepgitdir"), "BUILDKIT_CONTEXT_KEEP_GIT_DIR");
    let build = sources.last().unwrap();
    assert!(build.contains(&"git://github.com/org/repo.git#v1:app".to_string()), "the context: {build:?}");
    let reads = bridge.record(|r| r.read_file.iter().map(|f| f.file_path.clone()).collect::<Vec<_>>());
    assert_eq!(reads[0], "decant.yaml");
    assert!(!reads.contains(&".dockerignore".to_string()), "no .dockerignore for a remote context: {reads:?}");
}

const PINNED_SPEC: &str = "# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - copy: /
        from: https://github.com/org/tools.git?commit=0123abc&keep-git-dir=1
        to: /tools/
";

/// A git source pinned to a commit needs `source.git.checksum` (BuildKit 0.23+): on Docker
/// 20.10's v0.8 the build fails at the step, before the build is solved, rather than build an
/// unpinned checkout. A remote build context pinned in its URL fails too, naming the cap.
#[tokio::test]
async fn a_pinned_git_source_needs_the_checksum_cap() {
    let (res, bridge) = build_on(PINNED_SPEC, &[], &[], Script::default()).await;
    let err = res.expect_err("v0.8 cannot check the pin");
    assert!(
        err.message.contains("decant.yaml:6:9: error: `https://github.com/org/tools.git` is pinned")
            && err.message.contains("source.git.checksum"),
        "{}",
        err.message
    );
    let solved = all_sources(&bridge);
    assert!(solved.iter().flatten().all(|s| !s.starts_with("git://")), "no build solved: {solved:?}");
    let (res, bridge) = build_on(PINNED_SPEC, &[], &["source.git.checksum"], Script::default()).await;
    res.expect("build");
    let json = json_of(&bridge, after_speculative(&bridge).len() - 1);
    assert!(json.contains(r#""git.checksum":"0123abc""#), "{json}");
    let opts = [("context", "https://github.com/org/repo.git?commit=0123abc")];
    let (res, _) = build_on(CONTEXT_SPEC, &opts, &[], Script::default()).await;
    assert!(res.expect_err("a pinned context on v0.8").message.contains("source.git.checksum"));
}

/// `docker build -f decant.yaml - < ctx.tar` on Docker 20.10 (`context=http://build-context-<id>`)
/// and `docker buildx build https://host/ctx.tar.gz`: the download is unpacked; the spec is
/// read from it by its name.
#[tokio::test]
async fn a_tarball_context_is_unpacked_and_holds_the_spec() {
    let script = Script {
        files: BTreeMap::from([("context".to_string(), crate::gateway::remote_context::tar_header("decant.yaml"))]),
        ..Default::default()
    };
    let (res, bridge) = build_on(CONTEXT_SPEC, &[("context", "http://build-context-abc")], &[], script).await;
    res.expect("build");
    let sources = all_sources(&bridge);
    assert!(sources.iter().flatten().all(|s| !s.starts_with("local://")), "no locals: {sources:?}");
    assert_eq!(sources[0], ["http://build-context-abc"], "the download is solved first");
    let reads = bridge.record(|r| r.read_file.clone());
    assert_eq!((reads[0].file_path.as_str(), reads[0].range.map(|r| r.length)), ("context", Some(1024)));
    assert_eq!(reads[1].file_path, "decant.yaml");
    let spec_solve = json_of(&bridge, 1);
    assert!(spec_solve.contains("\"attemptUnpackDockerCompatibility\":true"), "{spec_solve}");
    let build = json_of(&bridge, after_speculative(&bridge).len() - 1);
    assert!(build.contains("attemptUnpackDockerCompatibility") && build.contains("hello.c"), "{build}");
}

/// A download that is no archive is the spec itself.
#[tokio::test]
async fn a_plain_file_context_is_the_spec() {
    let script = Script {
        files: BTreeMap::from([("context".to_string(), CONTEXT_SPEC.as_bytes().to_vec())]),
        ..Default::default()
    };
    let (res, bridge) = build_on(CONTEXT_SPEC, &[("context", "https://example.com/decant.yaml")], &[], script).await;
    res.expect("build");
    let spec_solve = json_of(&bridge, 1);
    assert!(spec_solve.contains("\"dest\":\"/decant.yaml\""), "copied to the spec's name: {spec_solve}");
    assert!(!spec_solve.contains("attemptUnpackDockerCompatibility\":true"), "{spec_solve}");
}

/// `--call targets` on a remote context reads the spec from there too.
#[tokio::test]
async fn subrequests_read_the_spec_from_a_remote_context() {
    let (res, bridge) =
        super::subrequest(CONTEXT_SPEC, "frontend.targets", &[("context", "git@github.com:org/repo.git#main")]).await;
    res.expect("targets");
    // Subrequests make no speculative solve.
    let sources: Vec<Vec<String>> = bridge.record(|r| r.solve.iter().map(|s| source_ids(&s.definition)).collect());
    assert_eq!(sources[0], ["git://github.com/org/repo.git#main"], "{sources:?}");
}

/// `--call check` checks the build asked for: its target and build args.
#[tokio::test]
async fn lint_checks_the_requested_target_and_build_args() {
    let spec = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n";
    let lint = |extra: &'static [(&'static str, &'static str)]| async move {
        let (res, _) = super::subrequest(spec, "frontend.lint", extra).await;
        super::result_json(&res.expect("lint"))
    };
    assert!(lint(&[]).await.get("buildError").is_none());
    let v = lint(&[("target", "nosuch")]).await;
    assert!(v["buildError"]["message"].as_str().is_some_and(|m| m.contains("nosuch")), "{v}");
    let v = lint(&[("build-arg:SOURCE_DATE_EPOCH", "yesterday")]).await;
    assert!(v["buildError"]["message"].as_str().is_some_and(|m| m.contains("SOURCE_DATE_EPOCH")), "{v}");
}

/// Every warning has a rule, a docs URL and a location (buildx dereferences it unchecked),
/// and the spec's `# check=` directive skips rules.
#[tokio::test]
async fn lint_warnings_have_urls_and_locations_and_follow_the_check_directive() {
    let spec = "# check=skip=unused-arg\nargs:\n  UNUSED: x\nstages:\n  app:\n    from: busybox\n";
    let (res, _) = super::subrequest(spec, "frontend.lint", &[]).await;
    let v = super::result_json(&res.expect("lint"));
    let warnings = v["warnings"].as_array().unwrap();
    let rules: Vec<&str> = warnings.iter().map(|w| w["ruleName"].as_str().unwrap()).collect();
    // No `# syntax=` line (the check directive does not count), an untagged image; the unused
    // arg is skipped.
    assert_eq!(rules, ["missing-syntax", "untagged-image"], "{v}");
    for w in warnings {
        assert_eq!(w["url"], format!("README.md#{}", w["ruleName"].as_str().unwrap()));
        assert!(w["location"]["ranges"][0]["start"]["line"].as_u64().is_some(), "{w}");
    }
}

/// `# check=error=true`: warnings fail the build, on every daemon.
#[tokio::test]
async fn check_error_true_fails_the_build_on_warnings() {
    let text = BUILD_SPEC
        .replace("stages:\n", "args:\n  UNUSED: x\nstages:\n")
        .replace("# syntax=decant/frontend:dev\n", "# syntax=decant/frontend:dev\n# check=error=true\n");
    let (res, bridge) = build_on(&text, &[], &[], Script::default()).await;
    let err = res.expect_err("a warning is an error");
    assert!(err.message.contains("unused-arg: arg `UNUSED` is never used (line 4)"), "{}", err.message);
    assert!(solved_execs(&bridge).is_empty(), "nothing built");
    let fixed = text.replace("# check=error=true\n", "# check=error=true;skip=unused-arg\n");
    build_on(&fixed, &[], &[], Script::default()).await.0.expect("no warnings left");
}

/// `chmod: u+x` needs BuildKit 0.17+, told by its `exec.validexitcode` (BuildKit never lists the
/// `file.copy.modestring` it declares): on a v0.8 daemon the build fails before solving, at the
/// step; on a newer one the copy carries the mode string, and its op asks for no such cap.
#[tokio::test]
async fn a_symbolic_chmod_needs_the_mode_string_cap() {
    let spec = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    steps:\n      - copy: run.sh\n        to: /bin/\n        chmod: u+x\n";
    let (res, bridge) = build_on(spec, &[], &[], Script::default()).await;
    let msg = res.expect_err("no mode strings on v0.8").message;
    assert!(msg.contains("decant.yaml:6:9") && msg.contains("BuildKit 0.17"), "{msg}");
    let solved = |b: &FakeBridge| (0..after_speculative(b).len()).map(|i| json_of(b, i)).collect::<Vec<_>>();
    assert!(solved(&bridge).iter().all(|j| !j.contains("u+x")), "the copy is not solved");
    let (res, bridge) = build_on(spec, &[], &["exec.validexitcode"], Script::default()).await;
    res.expect("build");
    assert!(solved(&bridge).iter().any(|j| j.contains("\"modeStr\":\"u+x\"")), "{:?}", solved(&bridge));
    assert!(solved(&bridge).iter().all(|j| !j.contains("file.copy.modestring")), "{:?}", solved(&bridge));
}

/// An `oci-layout://` named context brings its image config, resolved from the client's store
/// (resolver type 1, with the store's id), as the Dockerfile frontend does.
#[tokio::test]
async fn an_oci_layout_context_brings_its_image_config() {
    let digest = format!("sha256:{}", "e".repeat(64));
    let spec = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: base\n";
    let dummy = format!("docker.io/library/base@{digest}");
    let script = Script {
        resolve_configs: BTreeMap::from([(
            dummy.clone(),
            br#"{"architecture":"amd64","os":"linux","config":{"Env":["FROM_LAYOUT=1"],"WorkingDir":"/srv"}}"#.to_vec(),
        )]),
        ..Default::default()
    };
    let value = format!("oci-layout://mystore@{digest}");
    let (res, bridge) = build_on(spec, &[("context:base", value.as_str())], &["source.ocilayout"], script).await;
    let res = res.expect("build");
    let resolved = bridge.record(|r| r.resolve.clone());
    let layout = resolved.iter().find(|r| r.r#ref == dummy).expect("the layout's config is resolved");
    assert_eq!((layout.resolver_type, layout.store_id.as_str()), (1, "mystore"));
    let config: serde_json::Value = serde_json::from_slice(&res.metadata["containerimage.config"]).unwrap();
    assert_eq!(config["config"]["Env"][0], "FROM_LAYOUT=1", "{config}");
    assert_eq!(config["config"]["WorkingDir"], "/srv", "{config}");
}

/// A base image's `ONBUILD` triggers run first in each stage on it, on every platform, and the
/// image config drops them; one decant cannot run fails the build at the stage's `from:`.
#[tokio::test]
async fn a_base_images_onbuild_triggers_run_first() {
    let script = |config: &str| Script {
        resolve_configs: BTreeMap::from([("docker.io/library/busybox:local".to_string(), config.as_bytes().to_vec())]),
        ..Default::default()
    };
    let config = r#"{"os":"linux","architecture":"amd64","config":{"OnBuild":["RUN make triggered","EXPOSE 9090"]}}"#;
    let opts = [("platform", "linux/amd64,linux/arm64")];
    let (res, bridge) = build_on(BUILD_SPEC, &opts, &[], script(config)).await;
    let res = res.expect("build");
    let execs = solved_execs(&bridge);
    let triggered =
        execs.iter().filter(|e| e.meta.as_ref().is_some_and(|m| m.args.join(" ").contains("make triggered")));
    // `build` on the build platform (once), `app` on each of the two target platforms.
    assert_eq!(triggered.count(), 3);
    for key in res.metadata.keys().filter(|k| k.starts_with("containerimage.config/")) {
        let config: serde_json::Value = serde_json::from_slice(&res.metadata[key]).unwrap();
        assert!(config["config"].get("OnBuild").is_none(), "{config}");
        assert!(config["config"]["ExposedPorts"].get("9090/tcp").is_some(), "{config}");
    }
    let bad = r#"{"os":"linux","config":{"OnBuild":["COPY --from=tools /bin/tool /bin/"]}}"#;
    let (res, _) = build_on(BUILD_SPEC, &[], &[], script(bad)).await;
    let err = res.expect_err("a trigger reading another image");
    assert!(err.message.contains("decant.yaml:4:11"), "{}", err.message);
    assert!(err.message.contains("cannot run in decant: a trigger reads the image"), "{}", err.message);
}
