//! Where files come from: remote sources in the spec (https downloads with checksums, git
//! repositories) and named contexts (`context:<name>` options, here given by hand as the
//! gateway would fill them). Goldens of plan and LLB JSON, diagnostics of invalid specs, and
//! the checks behind them.
//!
//! Regenerate after an intended change with
//! `INSTA_UPDATE=always CARGO_TARGET_DIR=/work/target-shared cargo test -p decant --test sources`
//! and review `git diff frontend/tests/snapshots`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use decant::compile;
use decant::image::ImageConfig;
use decant::llb::{self, pb, OpMeta, State};
use decant::lower::{self, NamedContext};
use decant::plan::{BuildOptions, Plan, Platform};

fn testdata(name: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/sources").join(name);
    (format!("sources/{name}"), std::fs::read_to_string(&path).unwrap())
}

fn plan(name: &str, text: &str, opts: &BuildOptions) -> Plan {
    compile::plan(name, text, opts).unwrap_or_else(|d| panic!("{name}:\n{}", d.render()))
}

fn dump(def: &pb::Definition) -> String {
    serde_json::to_string_pretty(&llb::dump_json(def)).unwrap()
}

/// The source ops of a definition: identifier and attrs.
fn sources(def: &pb::Definition) -> Vec<(String, BTreeMap<String, String>)> {
    use prost::Message;
    def.def
        .iter()
        .filter_map(|b| match pb::Op::decode(b.as_slice()).unwrap().op {
            Some(pb::op::Op::Source(s)) => Some((s.identifier, s.attrs)),
            _ => None,
        })
        .collect()
}

/// The plan and LLB of `testdata/sources/<file>`, each checked against its golden
/// (`<golden>.plan`, `<golden>.llb`); the definition.
fn plan_and_llb_goldens(file: &str, golden: &str) -> pb::Definition {
    let (name, text) = testdata(file);
    let p = plan(&name, &text, &BuildOptions::default());
    insta::assert_snapshot!(format!("{golden}.plan"), serde_json::to_string_pretty(&p).unwrap());
    let def = lower::lower(&p, &lower::Inputs::default()).unwrap().definition();
    insta::assert_snapshot!(format!("{golden}.llb"), dump(&def));
    def
}

#[test]
fn remote_sources_plan_and_llb() {
    let def = plan_and_llb_goldens("remote.yaml", "remote");

    let srcs = sources(&def);
    let http: Vec<_> = srcs.iter().filter(|(id, _)| id.starts_with("https://")).collect();
    assert_eq!(http.len(), 2, "one http source per URL");
    assert_eq!(http[0].1["http.filename"], "tool-1.2.tar.gz");
    assert_eq!(http[0].1["http.checksum"], "sha256:4f1e3c0d2b6a59870f1e3c0d2b6a59870f1e3c0d2b6a59870f1e3c0d2b6a5987");
    assert_eq!(http[1].1["http.filename"], "LICENSE");
    assert!(!http[1].1.contains_key("http.checksum"));
    let git: Vec<_> = srcs.iter().filter(|(id, _)| id.starts_with("git://")).collect();
    assert_eq!(git.len(), 3);
    assert_eq!(git[0].0, "git://github.com/moby/buildkit.git#v0.8.3");
    assert_eq!(git[0].1["git.keepgitdir"], "true");
    assert_eq!(git[1].0, "git://github.com/moby/buildkit.git#v0.10.0:docs");
    assert_eq!(git[1].1["git.fullurl"], "git@github.com:moby/buildkit.git");
    assert_eq!(git[2].0, "git://github.com/moby/buildkit.git");

    // Features gate on the daemon's caps: on BuildKit v0.8 (Docker 20.10) only the git subdir
    // is missing; checksums and keep-git-dir are there.
    let v08_missing = ["source.git.subdir", "file.copy.includeexcludepatterns"];
    let missing = llb::missing_caps(&def, |c| !v08_missing.contains(&c));
    let names: Vec<&str> = missing.iter().map(|m| m.cap.as_str()).collect();
    assert_eq!(names, ["source.git.subdir"]);
    assert!(
        missing[0].to_string().contains("decant.yaml") || missing[0].to_string().contains("sources/remote.yaml"),
        "{}",
        missing[0]
    );
}

#[test]
fn remote_sources_are_deterministic() {
    let (name, text) = testdata("remote.yaml");
    let bytes = || {
        llb::encode(
            &lower::lower(&plan(&name, &text, &BuildOptions::default()), &lower::Inputs::default())
                .unwrap()
                .definition(),
        )
    };
    let first = bytes();
    for _ in 0..20 {
        assert_eq!(bytes(), first);
    }
}

/// A definition as a client would pass it as a frontend input (buildx `--build-context
/// deps=target:...`): a stage with a run step.
fn deps_input() -> (State, pb::Definition) {
    let plat = pb::Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
    let base = llb::image(
        &decant::reference::ImageRef::parse("golang:1.22").unwrap(),
        llb::ImageOpts { platform: Some(plat.clone()), ..Default::default() },
        OpMeta::named("[deps 1/2] FROM golang:1.22"),
    )
    .unwrap();
    let run = llb::exec(
        llb::Exec {
            root: base,
            args: vec!["/bin/sh".into(), "-c".into(), "go mod download".into()],
            cwd: "/go".into(),
            platform: Some(plat),
            ..Default::default()
        },
        OpMeta::named("[deps 2/2] RUN go mod download"),
    )
    .unwrap();
    let def = llb::marshal(&run.root);
    (run.root, def)
}

fn image_config(json: &str) -> ImageConfig {
    ImageConfig::from_json(json.as_bytes()).unwrap()
}

/// The named contexts of `named.yaml`, as the gateway would load them.
fn named_inputs(p: &Plan) -> lower::Inputs {
    let amd64 = Platform::parse("linux/amd64").unwrap();
    let key = |n: &str| (n.to_string(), amd64.clone());
    let values = BTreeMap::from([
        ("src".to_string(), "local:src".to_string()),
        ("tools".to_string(), "https://github.com/org/tools.git#v1".to_string()),
        ("golang:1.22".to_string(), "docker-image://golang:1.22-alpine".to_string()),
        // Replaced below: `input:` values need the client's definitions.
        ("deps".to_string(), "docker-image://scratch".to_string()),
    ]);
    let mut named = lower::contexts::offline(p, &values).unwrap_or_else(|e| panic!("{e}"));
    // The image context comes with its resolved config (inherited by stages based on it).
    named.get_mut(&key("golang:1.22")).unwrap().config = Some(image_config(
        r#"{"os":"linux","architecture":"amd64","config":{"Env":["PATH=/usr/local/go/bin:/usr/bin:/bin","GOPATH=/go"],"WorkingDir":"/go"}}"#,
    ));
    // `deps` is a frontend input, spliced, with the config from `input-metadata:deps`.
    let (_, def) = deps_input();
    named.insert(
        key("deps"),
        NamedContext {
            state: State::from_definition(&def).unwrap(),
            config: Some(image_config(r#"{"os":"linux","architecture":"amd64","config":{"WorkingDir":"/go/src"}}"#)),
        },
    );
    lower::Inputs { named_contexts: named, session_id: Some("sess".into()), ..Default::default() }
}

#[test]
fn named_contexts_replace_stages_images_and_sources() {
    let (name, text) = testdata("named.yaml");
    let names: BTreeSet<String> = ["src", "tools", "golang:1.22", "deps", "unused"].map(String::from).into();
    let opts = BuildOptions { named_contexts: names, ..Default::default() };
    let p = plan(&name, &text, &opts);
    insta::assert_snapshot!("named.plan", serde_json::to_string_pretty(&p).unwrap());

    // The overridden stage `deps` is no longer built: only build and app remain.
    let stages: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["build", "app"]);
    let used: Vec<String> = p.named_contexts().into_iter().map(|(n, _)| n).collect();
    assert_eq!(used, ["deps", "golang:1.22", "src", "tools"], "matched by stage name, image short name, plain name");

    let inputs = named_inputs(&p);
    let lowered = lower::lower(&p, &inputs).unwrap();
    let def = lowered.definition();
    insta::assert_snapshot!("named.llb", dump(&def));

    let srcs = sources(&def);
    let ids: Vec<&str> = srcs.iter().map(|(id, _)| id.as_str()).collect();
    assert!(ids.contains(&"docker-image://docker.io/library/golang:1.22-alpine"), "{ids:?}");
    // `golang:1.22` itself appears only inside the spliced `deps` input (its own base).
    let golang: Vec<_> = def
        .def
        .iter()
        .filter(|b| {
            sources(&pb::Definition { def: vec![b.to_vec()], ..Default::default() })
                .iter()
                .any(|(id, _)| id == "docker-image://docker.io/library/golang:1.22")
        })
        .collect();
    assert_eq!(golang.len(), 1);
    assert_eq!(def.metadata[&llb::digest_of(golang[0])].description["llb.customname"], "[deps 1/2] FROM golang:1.22");
    assert!(ids.contains(&"local://src") && ids.contains(&"git://github.com/org/tools.git#v1"), "{ids:?}");
    assert!(!ids.contains(&"local://context"), "nothing reads the build context: {ids:?}");
    // The spliced input keeps its bytes: every op of it is in ours.
    let (_, input) = deps_input();
    for op in &input.def[..input.def.len() - 1] {
        assert!(def.def.contains(op), "input op missing");
    }
    // The input's ops keep their names.
    let names: Vec<&str> =
        def.metadata.values().filter_map(|m| m.description.get("llb.customname").map(String::as_str)).collect();
    assert!(names.contains(&"[deps 2/2] RUN go mod download"), "{names:?}");
    // `build` is based on the golang context and inherits its environment and workdir; its
    // copy from `deps` reads relative to the input's workdir.
    let json = serde_json::to_string(&llb::dump_json(&def)).unwrap();
    assert!(json.contains(r#""src":"/go/src/go.mod""#), "relative to the input's WorkingDir");
    assert!(json.contains(r#""GOPATH=/go""#), "env inherited from the context image's config");

    // The same spec without named contexts builds the stages and images it names.
    let plain = plan(&name, &text, &BuildOptions::default());
    assert_eq!(plain.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["deps", "build", "app"]);
    assert!(plain.named_contexts().is_empty());
}

#[test]
fn named_context_matches_full_image_name_and_platform() {
    let text = "stages:\n  app:\n    from: alpine\n    platform: linux/arm64\n";
    for key in ["alpine", "docker.io/library/alpine:latest"] {
        let opts = BuildOptions { named_contexts: BTreeSet::from([key.to_string()]), ..Default::default() };
        let p = plan("decant.yaml", text, &opts);
        let used: Vec<(String, String)> = p.named_contexts().into_iter().map(|(n, p)| (n, p.id())).collect();
        assert_eq!(used, [(key.to_string(), "linux/arm64".to_string())]);
    }
    // A name that matches nothing changes nothing.
    let opts = BuildOptions { named_contexts: BTreeSet::from(["alpine:3.20".to_string()]), ..Default::default() };
    assert!(plan("decant.yaml", text, &opts).named_contexts().is_empty());
}

#[test]
fn missing_named_context_is_an_error_not_a_panic() {
    let text = "stages:\n  app:\n    from: base\n";
    let opts = BuildOptions { named_contexts: BTreeSet::from(["base".to_string()]), ..Default::default() };
    let p = plan("decant.yaml", text, &opts);
    let err = lower::lower(&p, &lower::Inputs::default()).unwrap_err();
    assert!(err.render().contains("named context `base` was not provided"), "{}", err.render());
}

/// `decant llb --build-context` gives the same LLB as the library.
#[test]
fn cli_build_context_matches_library() {
    let (_, text) = testdata("named.yaml");
    let dir = std::env::temp_dir().join(format!("decant-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("decant.yaml");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_decant"))
        .args([
            "llb",
            "--json",
            "--build-context",
            "src=local:src",
            "--build-context",
            "golang:1.22=docker-image://golang:1.22-alpine",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let names: BTreeSet<String> = ["src", "golang:1.22"].map(String::from).into();
    let p = plan(&file.display().to_string(), &text, &BuildOptions { named_contexts: names, ..Default::default() });
    let values = BTreeMap::from([
        ("src".to_string(), "local:src".to_string()),
        ("golang:1.22".to_string(), "docker-image://golang:1.22-alpine".to_string()),
    ]);
    let inputs = lower::Inputs { named_contexts: lower::contexts::offline(&p, &values).unwrap(), ..Default::default() };
    let def = lower::lower(&p, &inputs).unwrap().definition();
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli, llb::dump_json(&def));
    assert!(String::from_utf8_lossy(&out.stdout).contains("local://src"));

    // A bad value is a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_decant"))
        .args(["llb", "--json", "--build-context", "src=ftp://x"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("context `src`: unsupported context value"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `decant graph` draws remote sources and named contexts as nodes.
#[test]
fn graph_shows_remote_sources() {
    let (name, text) = testdata("remote.yaml");
    let spec = decant::spec::parse_spec(&name, &text).unwrap();
    let g = decant::graph::StageGraph::from_spec(&spec);
    insta::assert_snapshot!("remote.graph.mermaid", g.mermaid());
    let dot = g.dot();
    assert!(dot.contains("\"https://example.com/LICENSE\" [shape=note];"), "{dot}");
    assert!(dot.contains("\"https://github.com/moby/buildkit.git#v0.8.3\" -> \"app\""), "{dot}");
}

#[test]
fn invalid_remote_specs_render_diagnostics() {
    let mut seen = 0;
    insta::glob!("testdata/sources/invalid/*.yaml", |path| {
        seen += 1;
        let text = std::fs::read_to_string(path).unwrap();
        let name = format!("invalid/{}", path.file_name().unwrap().to_string_lossy());
        let rendered = match compile::plan(&name, &text, &BuildOptions::default()) {
            Err(d) => d.render(),
            Ok(_) => panic!("{name} compiled, but it is meant to be invalid"),
        };
        assert!(rendered.contains("error"), "{name}: {rendered}");
        insta::assert_snapshot!(rendered);
    });
    assert!(seen >= 7, "only {seen} invalid specs");
}

/// Git sources pinned to a commit: `git.checksum` and its cap on the source op, the identifier
/// unchanged (the ref, or none for the default branch).
#[test]
fn pinned_git_sources_plan_and_llb() {
    let def = plan_and_llb_goldens("git-pinned.yaml", "git_pinned");
    let git: Vec<_> = sources(&def).into_iter().filter(|(id, _)| id.starts_with("git://")).collect();
    let pins: Vec<(&str, &str)> = git.iter().map(|(id, a)| (id.as_str(), a["git.checksum"].as_str())).collect();
    assert_eq!(
        pins,
        [
            (
                "git://github.com/docker-archive/windows-container-utility.git",
                "aa1ba87e99b68e0113bd27ec26c60b88f9d4ccd9"
            ),
            ("git://github.com/moby/buildkit.git#v0.23.0", "8a7e5c1"),
            ("git://github.com/org/repo.git#refs/tags/v1", "0123456789abcdef0123456789abcdef01234567"),
        ]
    );
    assert_eq!(git[0].1["git.keepgitdir"], "true");
    assert!(llb::required_caps(&def).contains(llb::GIT_CHECKSUM_CAP));
}

/// On a daemon without `source.git.checksum` (BuildKit before 0.23, Docker 20.10's v0.8) the pin
/// would be dropped: the first pinned source is a located error instead.
#[test]
fn a_pinned_git_source_on_an_older_buildkit_is_a_located_error() {
    let (name, text) = testdata("git-pinned.yaml");
    let p = plan(&name, &text, &BuildOptions::default());
    let features = lower::Features { git_checksum: false, ..Default::default() };
    let d = lower::lower(&p, &lower::Inputs { features, ..Default::default() }).unwrap_err();
    let summary = d.summary();
    assert!(summary.starts_with("sources/git-pinned.yaml:8:9: error: "), "{summary}");
    assert!(summary.contains("source.git.checksum") && summary.contains("BuildKit 0.23"), "{summary}");
    // Unpinned git sources need no such cap.
    let unpinned = text.replace("commit=aa1ba87e99b68e0113bd27ec26c60b88f9d4ccd9&", "");
    let unpinned = unpinned
        .replace("        checksum: 8a7e5c1\n", "")
        .replace("&checksum=0123456789abcdef0123456789abcdef01234567", "");
    let p = plan(&name, &unpinned, &BuildOptions::default());
    let def = lower::lower(&p, &lower::Inputs { features, ..Default::default() }).unwrap().definition();
    assert!(!llb::required_caps(&def).contains(llb::GIT_CHECKSUM_CAP));
}
