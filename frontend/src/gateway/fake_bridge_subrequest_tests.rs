//! Subrequests (`requestid`), answered against the fake bridge: the Docker 20.10 CLI cannot send
//! them, so this is where `frontend.targets|outline|lint|subrequests.describe` are covered.

use super::*;

const SUBREQUEST_SPEC: &str = "# syntax=decant/frontend:dev
args:
  VERSION:
    default: \"1.0\"
    description: the release
  UNUSED: x
stages:
  build:
    from: busybox:local
    description: compiles things
    steps:
      - run: echo $VERSION
        mounts:
          - secret: tok
            required: true
          - cache: /root/.cache
            id: gocache
          - ssh: default
  runtime:
    from: busybox
    steps:
      - copy: /x
        from: build
        to: /x
";

#[tokio::test]
async fn subrequest_describe_lists_every_request() {
    let (res, bridge) = subrequest(SUBREQUEST_SPEC, "frontend.subrequests.describe", &[]).await;
    let res = res.expect("describe");
    let v = result_json(&res);
    let names: Vec<&str> = v.as_array().expect("a list").iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["frontend.subrequests.describe", "frontend.outline", "frontend.targets", "frontend.lint"]);
    assert!(v.as_array().unwrap().iter().all(|r| r["type"] == "rpc" && r["version"] == "1.0.0"));
    assert!(result_txt(&res).contains("frontend.targets"));
    // describe needs no spec: nothing was solved or read.
    assert!(bridge.record(|r| r.solve.is_empty() && r.read_file.is_empty()));
}

#[tokio::test]
async fn subrequest_targets_lists_stages_with_default_and_location() {
    let (res, bridge) = subrequest(SUBREQUEST_SPEC, "frontend.targets", &[]).await;
    let res = res.expect("targets");
    let v = result_json(&res);
    let t = v["targets"].as_array().expect("targets");
    assert_eq!(t.len(), 2, "{v}");
    assert_eq!(t[0]["name"], "build");
    assert_eq!(t[0]["description"], "compiles things");
    assert_eq!(t[0]["base"], "busybox:local");
    assert!(t[0].get("default").is_none(), "{v}");
    assert_eq!(t[1]["name"], "runtime");
    assert_eq!(t[1]["default"], true, "the last stage is the default target");
    // Locations are 1-based lines of the stage names (line 8 = `  build:`, 19 = `  runtime:`).
    assert_eq!(t[0]["location"]["ranges"][0]["start"]["line"], 8, "{v}");
    assert_eq!(t[1]["location"]["ranges"][0]["start"]["line"], 19, "{v}");
    use base64::Engine as _;
    let src = base64::engine::general_purpose::STANDARD.decode(v["sources"][0].as_str().unwrap()).unwrap();
    assert_eq!(src, SUBREQUEST_SPEC.as_bytes());
    let txt = result_txt(&res);
    assert!(txt.contains("build\tcompiles things") && txt.contains("runtime (default)"), "{txt}");
    // The spec was read through the dockerfile local source, by the requested name.
    let reads = bridge.record(|r| r.read_file.clone());
    let paths: Vec<(&str, &str)> = reads.iter().map(|r| (r.r#ref.as_str(), r.file_path.as_str())).collect();
    assert_eq!(paths, [("spec-ref", "decant.yaml"), ("spec-ref", "decant.yaml.dockerignore")]);
}

#[tokio::test]
async fn subrequest_outline_lists_args_secrets_ssh_and_caches() {
    let (res, _) =
        subrequest(SUBREQUEST_SPEC, "frontend.outline", &[("build-arg:VERSION", "2.0"), ("target", "build")]).await;
    let v = result_json(&res.expect("outline"));
    assert_eq!(v["name"], "build", "{v}");
    assert_eq!(v["description"], "compiles things", "the target's description: {v}");
    let args = v["args"].as_array().expect("args");
    let names: Vec<&str> = args.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["VERSION"], "UNUSED is used by no stage: {v}");
    assert_eq!(args[0]["value"], "2.0", "--build-arg overrides the default: {v}");
    assert_eq!(args[0]["description"], "the release");
    assert_eq!(
        v["secrets"],
        serde_json::json!([{"name": "tok", "required": true, "location": v["secrets"][0]["location"]}])
    );
    assert_eq!(v["secrets"][0]["location"]["ranges"][0]["start"]["line"], 12, "the run step's line: {v}");
    assert_eq!(v["ssh"][0]["name"], "default");
    assert_eq!(v["ssh"][0]["required"], false);
    assert_eq!(v["cache"][0]["ID"], "gocache");
}

/// As the Dockerfile frontend's outline: only the args the target and the stages it needs use
/// (through their defaults too, and `env: true` ones when something runs), with the value the
/// target sees; each secret once.
#[tokio::test]
async fn subrequest_outline_lists_what_the_target_uses() {
    let spec = "# syntax=decant/frontend:dev
args:
  BASE: \"1\"
  VERSION: \"${BASE}.2\"
  TOOLS: x
  EVERYWHERE: { default: y, env: true }
  LATER: z
stages:
  tools:
    from: busybox:local
    steps:
      - run: echo $TOOLS $VERSION
        mounts:
          - secret: tok
  app:
    from: busybox:local
    args: { VERSION: \"9\" }
    steps:
      - run: echo ${VERSION}
        mounts:
          - secret: tok
      - copy: /x
        from: tools
  other:
    from: busybox:local
    steps:
      - run: echo $LATER
";
    let (res, _) = subrequest(spec, "frontend.outline", &[("target", "app")]).await;
    let v = result_json(&res.expect("outline"));
    let args: Vec<(&str, &str)> = v["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["value"].as_str().unwrap()))
        .collect();
    assert_eq!(args, [("BASE", "1"), ("VERSION", "9"), ("TOOLS", "x"), ("EVERYWHERE", "y")], "{v}");
    let secrets = v["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 1, "one secret, once: {v}");
    assert_eq!(secrets[0]["location"]["ranges"][0]["start"]["line"], 12, "its first use: {v}");
    assert!(v.get("description").is_none(), "{v}");
}

#[tokio::test]
async fn subrequest_lint_reports_warnings_and_build_errors() {
    let (res, _) = subrequest(SUBREQUEST_SPEC, "frontend.lint", &[]).await;
    let res = res.expect("lint");
    let v = result_json(&res);
    let rules: Vec<&str> = v["warnings"].as_array().unwrap().iter().map(|w| w["ruleName"].as_str().unwrap()).collect();
    assert!(rules.contains(&"untagged-image"), "`from: busybox` is untagged: {v}");
    assert!(rules.contains(&"unused-arg"), "UNUSED is never used: {v}");
    assert!(!rules.contains(&"missing-syntax"), "{v}");
    assert!(v.get("buildError").is_none(), "{v}");
    assert_eq!(res.metadata.get("result.statuscode").map(Vec::as_slice), Some(&b"1"[..]));
    assert!(result_txt(&res).contains("untagged-image: "), "{}", result_txt(&res));

    // A clean spec: status 0 and the "no warnings" text.
    let clean = "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n";
    let res = subrequest(clean, "frontend.lint", &[]).await.0.expect("lint clean");
    assert_eq!(result_json(&res)["warnings"], serde_json::json!([]));
    assert_eq!(res.metadata.get("result.statuscode").map(Vec::as_slice), Some(&b"0"[..]));
    assert!(result_txt(&res).contains("no warnings"));

    // A spec that does not resolve: lint still answers, with the error and its line.
    let broken =
        "# syntax=decant/frontend:dev\nstages:\n  app:\n    from: busybox:local\n    platform: linux/${NOPE}\n";
    let res = subrequest(broken, "frontend.lint", &[]).await.0.expect("lint broken");
    let v = result_json(&res);
    assert!(v["buildError"]["message"].as_str().is_some_and(|m| m.contains("NOPE")), "{v}");
    assert_eq!(v["buildError"]["location"]["ranges"][0]["start"]["line"], 5, "{v}");
    assert_eq!(res.metadata.get("result.statuscode").map(Vec::as_slice), Some(&b"1"[..]));
}

#[tokio::test]
async fn subrequest_unknown_id_is_unsupported_request() {
    let (res, bridge) = subrequest(SUBREQUEST_SPEC, "frontend.nosuch", &[]).await;
    let st = res.expect_err("an unknown request fails");
    assert_eq!(st.message, "unsupported request frontend.nosuch");
    assert_eq!(st.details.len(), 1);
    assert!(bridge.record(|r| r.solve.is_empty()), "nothing solved for an unknown request");
}

#[tokio::test]
async fn subrequest_targets_reports_spec_errors_with_line() {
    let bad = "# syntax=decant/frontend:dev\nstages:\n  app:\n    form: busybox:local\n";
    let st = subrequest(bad, "frontend.targets", &[]).await.0.expect_err("bad spec fails");
    assert!(st.message.contains("decant.yaml:4"), "{}", st.message);
    assert!(st.message.contains("form"), "{}", st.message);
}
