//! Whole builds through `frontend::build` against the fake bridge: inputs and named contexts,
//! platforms, lint warnings, LLB caps, the order of the first round trips, timings.

use super::*;

/// Frontend inputs and named contexts through the bridge: the `context` input replaces the
/// build context, an `input:` named context is spliced unchanged with its `input-metadata`
/// config, and a `docker-image://` one is resolved (and pinned) like a base image.
#[tokio::test]
async fn inputs_and_named_contexts_through_the_bridge() {
    use crate::llb::{self, OpMeta, State};
    use crate::plan::BuildOptions;
    use base64::Engine as _;

    let ctx_def =
        llb::marshal(&llb::local("ctx-from-client", llb::LocalOpts::default(), OpMeta::named("client ctx")).unwrap());
    let base_def = llb::marshal(
        &llb::FileChain::on(State::scratch())
            .mkdir("/base", 0o755, false, None)
            .finish(None, OpMeta::named("client base")),
    );
    let (mut client, bridge) = start(Script {
        pong: pong(&[]),
        inputs: Some(BTreeMap::from([
            ("context".to_string(), llb::encode(&ctx_def)),
            ("base".to_string(), llb::encode(&base_def)),
            ("broken".to_string(), vec![0xff, 0x01]),
        ])),
        ..Default::default()
    })
    .await;
    client.ping().await.unwrap();
    // An input that is not a Definition is reported, naming it.
    let err = pb::Status::from(crate::gateway::sources::inputs(&client).await.unwrap_err());
    assert!(err.message.contains("frontend input `broken`"), "{}", err.message);

    let (mut client, bridge2) = start(Script {
        pong: pong(&[]),
        inputs: Some(BTreeMap::from([
            ("context".to_string(), llb::encode(&ctx_def)),
            ("base".to_string(), llb::encode(&base_def)),
        ])),
        resolve_digest: Some(format!("sha256:{}", "c".repeat(64))),
        ..Default::default()
    })
    .await;
    drop(bridge);
    client.ping().await.unwrap();
    let cfg = base64::engine::general_purpose::STANDARD
        .encode(br#"{"os":"linux","architecture":"amd64","config":{"WorkingDir":"/base","Env":["FROM_INPUT=1"]}}"#);
    let opts = crate::gateway::FrontendOpts::from_map(BTreeMap::from([
        ("context:base".to_string(), "input:base".to_string()),
        ("input-metadata:base".to_string(), format!(r#"{{"containerimage.config":"{cfg}"}}"#)),
        ("context:alpine:3.20".to_string(), "docker-image://alpine:3.19".to_string()),
    ]));
    let inputs = crate::gateway::sources::inputs(&client).await.unwrap();
    let context = crate::gateway::sources::context_input(&opts, &inputs).unwrap().expect("context input");
    assert_eq!(llb::marshal(&context).def, ctx_def.def);

    let text = "stages:\n  app:\n    from: base\n    steps:\n      - copy: f\n      - copy: /etc/os-release\n        from: alpine:3.20\n";
    let bopts = BuildOptions {
        named_contexts: crate::gateway::sources::named_context_names(&opts).unwrap(),
        ..Default::default()
    };
    let plan = crate::compile::plan("decant.yaml", text, &bopts).unwrap();
    let named =
        crate::gateway::sources::named_contexts(&client, &opts, &plan, &inputs, ResolveMode::Default).await.unwrap();
    assert_eq!(named.len(), 2);
    let resolved = bridge2.record(|r| r.resolve.clone());
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].r#ref, "docker.io/library/alpine:3.19");
    assert_eq!(resolved[0].log_name, "[context alpine:3.20] load metadata for docker.io/library/alpine:3.19");

    let inputs = crate::lower::Inputs { context: Some(context), named_contexts: named, ..Default::default() };
    let lowered = crate::lower::lower(&plan, &inputs).unwrap();
    assert_eq!(lowered.config.config.working_dir, "/base");
    assert!(lowered.config.config.env.contains(&"FROM_INPUT=1".to_string()));
    let def = lowered.definition();
    for op in &base_def.def[..base_def.def.len() - 1] {
        assert!(def.def.contains(op), "the input's ops are kept byte for byte");
    }
    let json = serde_json::to_string(&llb::dump_json(&def)).unwrap();
    assert!(json.contains("local://ctx-from-client"), "the context input replaces the local context");
    assert!(!json.contains("local://context"));
    assert!(
        json.contains(&format!("docker-image://docker.io/library/alpine:3.19@sha256:{}", "c".repeat(64))),
        "pinned by the resolved digest"
    );
    assert!(
        json.contains(r#""dest":"/base/""#) && json.contains(r#""src":"/f""#),
        "from the context into the inherited workdir"
    );
}

async fn whole_build(opts: &[(&str, &str)]) -> (Result<FrontendResult, pb::Status>, FakeBridge) {
    whole_build_of(BUILD_SPEC, opts).await
}

/// Runs `frontend::build` on `spec` with a v0.8 daemon's caps; every solve answers ref `r1`.
async fn whole_build_of(spec: &str, opts: &[(&str, &str)]) -> (Result<FrontendResult, pb::Status>, FakeBridge) {
    whole_build_with(spec, opts, &[]).await
}

/// The same, with extra gateway caps.
async fn whole_build_with(
    spec: &str,
    opts: &[(&str, &str)],
    gateway_caps: &[&str],
) -> (Result<FrontendResult, pb::Status>, FakeBridge) {
    let reply = ref_reply("r1");
    let mut pong = pong(gateway_caps);
    pong.llb_caps = v08_llb_caps();
    let (mut client, bridge) = start(Script {
        pong,
        solve: Some(Ok(reply)),
        file_data: spec.as_bytes().to_vec(),
        inputs: Some(BTreeMap::new()),
        resolve_digest: Some(format!("sha256:{}", "d".repeat(64))),
        ..Default::default()
    })
    .await;
    let mut map = BTreeMap::from([("filename".to_string(), "decant.yaml".to_string())]);
    for (k, v) in opts {
        map.insert(k.to_string(), v.to_string());
    }
    let opts = crate::gateway::FrontendOpts::from_map(map);
    let res = crate::gateway::frontend::build(&mut client, &opts).await;
    (res, bridge)
}

#[tokio::test]
async fn multi_platform_build_returns_a_ref_and_config_per_platform() {
    let (res, bridge) = whole_build(&[("platform", "linux/amd64,linux/arm64")]).await;
    let res = res.expect("build");
    let crate::gateway::ResultRefs::Map(refs) = &res.refs else { panic!("a map result: {:?}", res.refs) };
    assert_eq!(refs.keys().collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);
    let platforms: serde_json::Value = serde_json::from_slice(&res.metadata["refs.platforms"]).unwrap();
    assert_eq!(platforms["Platforms"][1]["ID"], "linux/arm64");
    assert_eq!(platforms["Platforms"][1]["Platform"]["architecture"], "arm64");
    let arm: serde_json::Value = serde_json::from_slice(&res.metadata["containerimage.config/linux/arm64"]).unwrap();
    assert_eq!(arm["architecture"], "arm64");
    assert_eq!(arm["config"]["Cmd"], serde_json::json!(["cat", "/out"]));
    assert!(!res.metadata.contains_key("containerimage.config"));
    // Two build solves besides the spec and .dockerignore loads; each for its own platform.
    let solves = bridge.record(|r| r.solve.clone());
    let builds: Vec<String> = solves
        .iter()
        .filter(|s| !s.definition.is_empty())
        .map(|s| {
            serde_json::to_string(&crate::llb::dump_json(&crate::llb::decode_definition(&s.definition).unwrap()))
                .unwrap()
        })
        .filter(|j| j.contains("run: echo building"))
        .collect();
    assert_eq!(builds.len(), 2, "one build solve per platform");
    assert!(
        builds.iter().any(|j| j.contains(r#""TARGETARCH=arm64""#))
            && builds.iter().any(|j| j.contains(r#""TARGETARCH=amd64""#))
    );
    // The build stage runs on the build platform (the fake worker's arm64) for both targets.
    assert!(builds.iter().all(|j| !j.contains("mergeop")), "v0.8 has no merge op: link falls back to a copy");
}

#[tokio::test]
async fn single_platform_build_returns_one_ref_and_config() {
    let (res, _) = whole_build(&[("platform", "linux/arm64"), ("build-arg:SOURCE_DATE_EPOCH", "86400")]).await;
    let res = res.expect("build");
    assert_eq!(res.refs, crate::gateway::ResultRefs::Single("r1".into()));
    let config: serde_json::Value = serde_json::from_slice(&res.metadata["containerimage.config"]).unwrap();
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["created"], "1970-01-02T00:00:00Z");
}

#[tokio::test]
async fn missing_llb_caps_fail_the_build_with_their_name() {
    let text = BUILD_SPEC.replace("        link: true\n", "        exclude: [\"*.md\"]\n");
    let (res, _bridge) = whole_build_of(&text, &[]).await;
    let err = res.expect_err("exclude needs BuildKit 0.9");
    assert!(err.message.contains("file.copy.includeexcludepatterns"), "{}", err.message);
    assert!(err.message.contains("decant.yaml:"), "names the step: {}", err.message);
}

#[tokio::test]
async fn lint_warnings_reach_daemons_that_show_them() {
    let text = BUILD_SPEC.replace("stages:\n", "args:\n  UNUSED: x\nstages:\n");
    let (res, bridge) = whole_build_with(&text, &[], &["gateway.warnings"]).await;
    res.expect("build");
    let warns = bridge.record(|r| r.warns.clone());
    assert_eq!(warns.len(), 1, "{warns:?}");
    let w = &warns[0];
    assert_eq!(String::from_utf8_lossy(&w.short), "unused-arg: arg `UNUSED` is never used (line 3)");
    assert_eq!(w.url, "README.md#unused-arg");
    assert_eq!(w.ranges[0].start.unwrap().line, 3);
    assert_eq!(w.info.as_ref().unwrap().filename, "decant.yaml");
    assert!(w.digest.starts_with("sha256:"), "attached to the spec's load vertex");
    // A v0.8 daemon has no Warn: nothing is sent, and the build goes on.
    let (res, bridge) = whole_build_with(&text, &[], &[]).await;
    res.expect("build");
    assert!(bridge.record(|r| r.warns.clone()).is_empty());
}

/// Ping, Inputs and the lazy solves of the spec's and the `.dockerignore`'s sources go out
/// together; reads come only after them (they wait for Inputs).
#[tokio::test]
async fn first_round_trips_go_out_together() {
    let (res, bridge) = whole_build(&[]).await;
    res.expect("build");
    let calls = bridge.record(|r| r.calls.clone());
    let mut first: Vec<&str> = calls.iter().take(4).map(String::as_str).collect();
    first.sort();
    assert_eq!(first, ["Inputs", "Ping", "Solve", "Solve"], "{calls:?}");
    let first_read = calls.iter().position(|c| c == "ReadFile").expect("reads");
    assert_eq!(first_read, 4, "{calls:?}");
    // The spec and its own .dockerignore, and the context's .dockerignore: one round of reads.
    let reads = bridge.record(|r| r.read_file.iter().map(|f| f.file_path.clone()).collect::<Vec<_>>());
    let mut reads: Vec<&str> = reads.iter().map(String::as_str).collect();
    reads.sort();
    assert_eq!(reads, [".dockerignore", "decant.yaml", "decant.yaml.dockerignore"]);
}

/// A daemon without `frontend.inputs` (and without the method) still builds: the early Inputs
/// call's error is ignored.
#[tokio::test]
async fn early_inputs_call_is_ignored_without_the_cap() {
    let mut pong = pong(&[]);
    pong.frontend_api_caps.retain(|c| c.id != "frontend.inputs");
    pong.llb_caps = v08_llb_caps();
    let (mut client, bridge) = start(Script {
        pong,
        solve: Some(Ok(ref_reply("r1"))),
        file_data: BUILD_SPEC.as_bytes().to_vec(),
        unimplemented: vec!["Inputs"],
        resolve_digest: Some(format!("sha256:{}", "d".repeat(64))),
        ..Default::default()
    })
    .await;
    let opts = crate::gateway::FrontendOpts::from_map(BTreeMap::from([("filename".into(), "decant.yaml".into())]));
    let res = crate::gateway::frontend::build(&mut client, &opts).await;
    assert_eq!(res.expect("build").refs, crate::gateway::ResultRefs::Single("r1".into()));
    assert!(bridge.record(|r| r.calls.contains(&"Inputs".to_string())));
}

/// Timings show as progress vertices (evaluated at once) and, where the daemon shows them, as
/// one build warning on the spec's vertex.
#[tokio::test]
async fn timings_show_as_vertices_and_a_warning() {
    use crate::gateway::timings::Timings;
    for (extra, evaluate, warned) in [(&["gateway.warnings"][..], true, true), (&[][..], true, false)] {
        let (mut client, bridge) = start(Script { pong: pong(extra), ..Default::default() }).await;
        let t = Timings::new(std::time::Instant::now());
        t.time("ping", client.ping()).await.expect("ping");
        t.set_vertex("sha256:spec");
        t.show(&client).await;
        let solves = bridge.record(|r| r.solve.clone());
        assert_eq!(solves.len(), 1);
        assert_eq!(solves[0].evaluate, evaluate);
        let def = crate::llb::decode_definition(&solves[0].definition).unwrap();
        let names: Vec<&str> =
            def.metadata.values().filter_map(|m| m.description.get("llb.customname").map(String::as_str)).collect();
        assert!(names.iter().any(|n| n.starts_with("[decant timings] ping: ")), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("[decant timings] total: ")), "{names:?}");
        let warns = bridge.record(|r| r.warns.clone());
        assert_eq!(warns.len(), usize::from(warned), "{warns:?}");
        if warned {
            assert_eq!(warns[0].digest, "sha256:spec");
            assert!(String::from_utf8_lossy(&warns[0].short).starts_with("decant timings: total: "));
            assert!(String::from_utf8_lossy(&warns[0].detail[0]).starts_with("ping: "));
        }
    }
    // Without `gateway.solve.evaluate` a read of the last file makes the vertices run.
    let mut pong = pong(&[]);
    pong.frontend_api_caps.retain(|c| c.id != "gateway.solve.evaluate");
    let (mut client, bridge) = start(Script { pong, solve: Some(Ok(ref_reply("t1"))), ..Default::default() }).await;
    client.ping().await.expect("ping");
    Timings::new(std::time::Instant::now()).show(&client).await;
    assert!(!bridge.record(|r| r.solve[0].evaluate));
    let reads = bridge.record(|r| r.read_file.clone());
    assert_eq!((reads[0].r#ref.as_str(), reads[0].file_path.as_str()), ("t1", "/total"));
}

/// The spec and `.dockerignore` are read while a slow Ping is still unanswered.
#[tokio::test]
async fn reads_do_not_wait_for_ping() {
    let mut pong = pong(&[]);
    pong.llb_caps = v08_llb_caps();
    let (mut client, bridge) = start(Script {
        pong,
        solve: Some(Ok(ref_reply("r1"))),
        file_data: BUILD_SPEC.as_bytes().to_vec(),
        inputs: Some(BTreeMap::new()),
        resolve_digest: Some(format!("sha256:{}", "d".repeat(64))),
        ping_delay: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    })
    .await;
    let opts = crate::gateway::FrontendOpts::from_map(BTreeMap::from([("filename".into(), "decant.yaml".into())]));
    crate::gateway::frontend::build(&mut client, &opts).await.expect("build");
    let calls = bridge.record(|r| r.calls.clone());
    let replied = calls.iter().position(|c| c == "Ping replied").expect("ping replied");
    let reads = calls.iter().filter(|c| *c == "ReadFile").count();
    let reads_before = calls[..replied].iter().filter(|c| *c == "ReadFile").count();
    assert_eq!((reads, reads_before), (3, 3), "{calls:?}");
    // Resolving images needs the plan, which needs Ping's worker platforms: after the reply.
    let resolve = calls.iter().position(|c| c == "ResolveImageConfig").expect("resolve");
    assert!(resolve > replied, "{calls:?}");
}

const CONTEXT_SPEC: &str = "# syntax=decant/frontend:dev
stages:
  app:
    from: busybox:local
    steps:
      - copy: src/
        to: /src/
";

/// The images resolve while a slow read of the context's `.dockerignore` is still unanswered
/// (only lowering needs its patterns), and the patterns still reach the context source.
#[tokio::test]
async fn images_resolve_while_the_context_dockerignore_is_read() {
    let mut pong = pong(&[]);
    pong.llb_caps = v08_llb_caps();
    let (mut client, bridge) = start(Script {
        pong,
        solve: Some(Ok(ref_reply("r1"))),
        files: BTreeMap::from([
            (".dockerignore".to_string(), b"node_modules\n".to_vec()),
            ("decant.yaml".to_string(), CONTEXT_SPEC.as_bytes().to_vec()),
        ]),
        inputs: Some(BTreeMap::new()),
        resolve_digest: Some(format!("sha256:{}", "d".repeat(64))),
        slow_reads: vec![".dockerignore"],
        missing_files: vec!["decant.yaml.dockerignore"],
        ..Default::default()
    })
    .await;
    let opts = crate::gateway::FrontendOpts::from_map(BTreeMap::from([("filename".into(), "decant.yaml".into())]));
    crate::gateway::frontend::build(&mut client, &opts).await.expect("build");
    let calls = bridge.record(|r| r.calls.clone());
    let replied = calls.iter().position(|c| c == "ReadFile replied .dockerignore").expect("slow read replied");
    let resolve = calls.iter().position(|c| c == "ResolveImageConfig").expect("resolve");
    assert!(resolve < replied, "{calls:?}");
    // The build's solve comes after the patterns, and its context source excludes them.
    let solves = bridge.record(|r| r.solve.clone());
    let build = solves.last().expect("build solve");
    let bytes = String::from_utf8_lossy(&build.definition);
    let excluded = bytes.contains("local.excludepatterns") && bytes.contains(r#"["node_modules"]"#);
    assert!(excluded, "the context source carries the .dockerignore patterns");
}

/// An image the daemon cannot resolve is a spec error at the `from:` that names it, as the
/// Dockerfile frontend points at its FROM line.
#[tokio::test]
async fn an_image_that_cannot_be_resolved_is_located() {
    let mut pong = pong(&[]);
    pong.llb_caps = v08_llb_caps();
    let (mut client, _bridge) = start(Script {
        pong,
        solve: Some(Ok(ref_reply("r1"))),
        files: BTreeMap::from([("decant.yaml".to_string(), CONTEXT_SPEC.as_bytes().to_vec())]),
        inputs: Some(BTreeMap::new()),
        unimplemented: vec!["ResolveImageConfig"],
        ..Default::default()
    })
    .await;
    let opts = crate::gateway::FrontendOpts::from_map(BTreeMap::from([("filename".into(), "decant.yaml".into())]));
    let err = crate::gateway::frontend::build(&mut client, &opts).await.expect_err("no image");
    assert!(
        err.message.contains("decant.yaml:4:11")
            && err.message.contains("cannot resolve image `docker.io/library/busybox:local`"),
        "{}",
        err.message
    );
}
