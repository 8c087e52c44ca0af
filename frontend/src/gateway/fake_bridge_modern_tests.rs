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
    let mut pong = pong(&[]);
    pong.llb_caps = v08_llb_caps();
    pong.llb_caps.extend(extra_llb.iter().map(|id| cap(id)));
    let (mut client, bridge) = start(Script {
        pong,
        solve: Some(Ok(ref_reply("r1"))),
        file_data: spec.as_bytes().to_vec(),
        inputs: Some(BTreeMap::new()),
        resolve_digest: Some(format!("sha256:{}", "d".repeat(64))),
        ..script
    })
    .await;
    let mut map = BTreeMap::from([("filename".to_string(), "decant.yaml".to_string())]);
    for (k, v) in opts {
        map.insert(k.to_string(), v.to_string());
    }
    let res = crate::gateway::frontend::build(&mut client, &FrontendOpts::from_map(map)).await;
    (res, bridge)
}

/// The exec ops of every definition the frontend solved.
fn solved_execs(bridge: &FakeBridge) -> Vec<crate::llb::pb::ExecOp> {
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
