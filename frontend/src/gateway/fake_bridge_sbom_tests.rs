//! SBOM scans through the fake bridge: `attest:sbom` resolves the scanner, each platform's
//! scan is solved after the build, and the result carries one SPDX bundle per platform; the
//! context and other stages are mounted only when the spec asks; a daemon without
//! `reference.attestations` gets a warning instead.

use std::collections::BTreeMap;

use prost::Message;

use super::modern::build_on;
use super::{cap, pong, start, v08_llb_caps, FakeBridge, Script, BUILD_SPEC};
use crate::gateway::{pb, FrontendResult};
use crate::llb::pb as llbpb;

const SCANNER: &str = "example.com/scanner:1";
const SCANNER_CONFIG: &[u8] =
    br#"{"os":"linux","config":{"Entrypoint":["/bin/scan"],"Cmd":["--all"],"Env":["PATH=/bin"],"WorkingDir":"/w"}}"#;

/// A daemon with attestations and warnings; solves answer `s1`, `s2`, ...
fn modern(attestations: bool) -> Script {
    let mut extra = vec!["gateway.warnings"];
    if attestations {
        extra.push(cap::ATTESTATIONS);
    }
    let mut pong = pong(&extra);
    pong.llb_caps = v08_llb_caps();
    Script {
        pong,
        numbered_refs: true,
        resolve_configs: BTreeMap::from([(SCANNER.to_string(), SCANNER_CONFIG.to_vec())]),
        ..Default::default()
    }
}

async fn sbom_build(spec: &str, opts: &[(&str, &str)], script: Script) -> (FrontendResult, FakeBridge) {
    let mut all = vec![("attest:sbom", "generator=example.com/scanner:1,MODE=fast")];
    all.extend_from_slice(opts);
    let (res, bridge) = build_on(spec, &all, &[], script).await;
    (res.expect("build"), bridge)
}

/// The scans solved: (the solve's position, its exec op, its custom name).
fn scans(bridge: &FakeBridge) -> Vec<(usize, llbpb::ExecOp, String)> {
    let mut out = Vec::new();
    for (i, s) in bridge.record(|r| r.solve.clone()).into_iter().enumerate() {
        let Ok(def) = crate::llb::decode_definition(&s.definition) else { continue };
        for b in &def.def {
            let Ok(llbpb::Op { op: Some(llbpb::op::Op::Exec(e)), .. }) = llbpb::Op::decode(b.as_slice()) else {
                continue;
            };
            let digest = crate::llb::digest_of(b);
            let name = def.metadata.get(&digest).and_then(|m| m.description.get("llb.customname")).cloned();
            if let Some(name) = name.filter(|n| n.contains("generating sbom")) {
                out.push((i, e, name));
            }
        }
    }
    out
}

fn mount_dests(e: &llbpb::ExecOp) -> Vec<&str> {
    e.mounts.iter().map(|m| m.dest.as_str()).collect()
}

#[tokio::test]
async fn an_sbom_is_scanned_and_returned_as_an_attestation() {
    let (res, bridge) = sbom_build(BUILD_SPEC, &[], modern(true)).await;
    // The scanner is resolved for the build platform, like the Dockerfile frontend's.
    let resolved = bridge.record(|r| r.resolve.clone());
    let scanner = resolved.iter().find(|r| r.r#ref == SCANNER).expect("the scanner is resolved");
    assert_eq!(scanner.log_name, format!("[internal] load metadata for {SCANNER}"));
    let build_platform = scanner.platform.clone().expect("a platform");
    // The scan is solved after the build, once.
    let scans = scans(&bridge);
    assert_eq!(scans.len(), 1, "{scans:?}");
    let (at, exec, name) = &scans[0];
    assert_eq!(*at, bridge.record(|r| r.solve.len()) - 1, "the last solve");
    let id = crate::plan::Platform {
        os: build_platform.os.clone(),
        architecture: build_platform.architecture.clone(),
        variant: Some(build_platform.variant.clone()).filter(|v| !v.is_empty()),
    }
    .id();
    assert_eq!(name, &format!("[{id}] generating sbom using {SCANNER}@sha256:{}", "d".repeat(64)));
    let meta = exec.meta.as_ref().unwrap();
    assert_eq!(meta.args, ["/bin/scan", "--all"]);
    assert_eq!(meta.cwd, "/w");
    assert_eq!(
        meta.env,
        [
            "PATH=/bin",
            "BUILDKIT_SCAN_DESTINATION=/run/out/",
            "BUILDKIT_SCAN_SOURCE=/run/src/core/sbom",
            "BUILDKIT_SCAN_MODE=fast"
        ]
    );
    assert_eq!(mount_dests(exec), ["/", "/tmp", "/run/src/core/sbom", "/run/out"]);
    assert_eq!(exec.mounts[1].mount_type, llbpb::MountType::Tmpfs as i32);
    assert!(exec.mounts[2].readonly && exec.mounts[2].output == -1);
    assert_eq!((exec.mounts[3].readonly, exec.mounts[3].output), (false, 1), "the scan's output");
    // The result carries the scan's ref as an SPDX bundle, under the platform's id.
    let crate::gateway::ResultRefs::Single(image) = &res.refs else { panic!("{:?}", res.refs) };
    assert_eq!(res.attestations.keys().collect::<Vec<_>>(), [&id]);
    let att = &res.attestations[&id];
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].kind, pb::AttestationKind::Bundle as i32);
    assert_eq!(att[0].in_toto_predicate_type, "https://spdx.dev/Document");
    assert_eq!(att[0].metadata["reason"], b"sbom");
    assert_eq!(att[0].metadata["sbom-core"], b"sbom");
    let scan_ref = att[0].r#ref.as_ref().unwrap().id.clone();
    assert_eq!(scan_ref, format!("s{}", at + 1), "the scan's own solve");
    assert_ne!(&scan_ref, image);
    // No extras were asked for, and the build says nothing about SBOMs.
    assert!(bridge.record(|r| r.warns.iter().all(|w| !String::from_utf8_lossy(&w.short).starts_with("sbom"))));
}

#[tokio::test]
async fn the_context_and_stages_are_scanned_when_asked() {
    let opts = [("build-arg:BUILDKIT_SBOM_SCAN_CONTEXT", "true"), ("build-arg:BUILDKIT_SBOM_SCAN_STAGE", "true")];
    let (_, bridge) = sbom_build(BUILD_SPEC, &opts, modern(true)).await;
    let found = scans(&bridge);
    let exec = &found[0].1;
    assert_eq!(
        mount_dests(exec),
        ["/", "/tmp", "/run/src/core/sbom", "/run/src/extras/sbom-build", "/run/src/extras/sbom-context", "/run/out"]
    );
    assert!(exec.meta.as_ref().unwrap().env.contains(&"BUILDKIT_SCAN_SOURCE_EXTRAS=/run/src/extras".to_string()));
    let json = crate::llb::dump_json(
        &crate::llb::decode_definition(&bridge.record(|r| r.solve[found[0].0].definition.clone())).unwrap(),
    )
    .to_string();
    assert!(json.contains("local://context"), "the build context is mounted");
    // A stage asks in its own `args:`; only that stage is scanned.
    let spec = BUILD_SPEC.replace(
        "    platform: ${BUILDPLATFORM}\n",
        "    platform: ${BUILDPLATFORM}\n    args: { BUILDKIT_SBOM_SCAN_STAGE: build }\n",
    );
    let (_, bridge) = sbom_build(&spec, &[], modern(true)).await;
    let found = scans(&bridge);
    assert_eq!(mount_dests(&found[0].1), ["/", "/tmp", "/run/src/core/sbom", "/run/src/extras/sbom-build", "/run/out"]);
}

#[tokio::test]
async fn each_platform_gets_its_own_scan() {
    let (res, bridge) = sbom_build(BUILD_SPEC, &[("platform", "linux/amd64,linux/arm64")], modern(true)).await;
    let crate::gateway::ResultRefs::Map(refs) = &res.refs else { panic!("{:?}", res.refs) };
    assert_eq!(refs.keys().collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);
    assert_eq!(res.attestations.keys().collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);
    let scans = scans(&bridge);
    let mut names: Vec<&str> = scans.iter().map(|(_, _, n)| n.as_str()).collect();
    names.sort();
    assert!(
        names[0].starts_with("[linux/amd64] generating sbom") && names[1].starts_with("[linux/arm64]"),
        "{names:?}"
    );
    // Each platform's attestation is the ref of the scan of that platform.
    for (at, _, name) in &scans {
        let id = name.trim_start_matches('[').split(']').next().unwrap();
        assert_eq!(res.attestations[id][0].r#ref.as_ref().unwrap().id, format!("s{}", at + 1));
    }
    // The scanner is resolved once.
    assert_eq!(bridge.record(|r| r.resolve.iter().filter(|r| r.r#ref == SCANNER).count()), 1);
}

#[tokio::test]
async fn without_the_attestations_cap_a_warning_says_what_is_not_scanned() {
    let opts = [("build-arg:BUILDKIT_SBOM_SCAN_CONTEXT", "true"), ("build-arg:BUILDKIT_SBOM_SCAN_STAGE", "build")];
    let (res, bridge) = sbom_build(BUILD_SPEC, &opts, modern(false)).await;
    assert!(res.attestations.is_empty());
    assert!(scans(&bridge).is_empty(), "nothing scanned");
    assert!(bridge.record(|r| r.resolve.iter().all(|r| r.r#ref != SCANNER)), "the scanner is not resolved");
    let warns: Vec<String> =
        bridge.record(|r| r.warns.iter().map(|w| String::from_utf8_lossy(&w.short).into_owned()).collect());
    let sbom: Vec<&String> = warns.iter().filter(|w| w.starts_with("sbom:")).collect();
    assert_eq!(sbom.len(), 1, "{warns:?}");
    assert!(sbom[0].contains("reference.attestations"), "{}", sbom[0]);
    assert!(sbom[0].contains("the image, the build context and stage `build` are not scanned"), "{}", sbom[0]);
}

#[tokio::test]
async fn a_scanner_without_a_command_fails_the_build() {
    let mut script = modern(true);
    script.resolve_configs.insert(SCANNER.into(), br#"{"os":"linux","config":{}}"#.to_vec());
    let (res, bridge) = build_on(BUILD_SPEC, &[("attest:sbom", "generator=example.com/scanner:1")], &[], script).await;
    let msg = res.expect_err("no command").message;
    assert!(msg.contains("scanner example.com/scanner:1 does not have cmd"), "{msg}");
    assert!(scans(&bridge).is_empty());
    let (res, _) = build_on(BUILD_SPEC, &[("attest:sbom", "generator=Not Valid")], &[], modern(true)).await;
    let msg = res.expect_err("a bad generator").message;
    assert!(msg.contains("failed to parse sbom scanner Not Valid"), "{msg}");
}

/// Return carries the attestations (`Result.attestations`, field 12); a daemon without the
/// cap refuses them before the call.
#[tokio::test]
async fn return_carries_the_attestations() {
    let att = pb::Attestation { kind: pb::AttestationKind::Bundle as i32, ..Default::default() };
    let result = FrontendResult::single("img").with_attestation("linux/amd64", att.clone());
    let (mut client, bridge) = start(modern(true)).await;
    client.ping().await.unwrap();
    client.return_result(result.clone()).await.expect("return");
    let returned = bridge.record(|r| r.returns.clone());
    let sent = returned[0].result.as_ref().unwrap();
    assert_eq!(sent.attestations["linux/amd64"].attestation, [att]);
    let (mut client, bridge) = start(modern(false)).await;
    client.ping().await.unwrap();
    let e = client.return_result(result).await.unwrap_err().to_string();
    assert!(e.contains("reference.attestations"), "{e}");
    assert!(bridge.record(|r| r.returns.is_empty()));
}

/// A single result's attestation is keyed by the image config's platform, as BuildKit reads a
/// result without `refs.platforms`: here the target runs on another platform than asked.
#[tokio::test]
async fn a_single_result_is_keyed_by_its_config_platform() {
    let spec = BUILD_SPEC
        .replace("  app:\n    from: busybox:local\n", "  app:\n    from: busybox:local\n    platform: linux/arm/v7\n");
    let (res, _) = sbom_build(&spec, &[("platform", "linux/amd64")], modern(true)).await;
    let config: serde_json::Value = serde_json::from_slice(&res.metadata["containerimage.config"]).unwrap();
    assert_eq!((config["architecture"].as_str(), config["variant"].as_str()), (Some("arm"), Some("v7")));
    assert_eq!(res.attestations.keys().collect::<Vec<_>>(), ["linux/arm/v7"]);
}

/// Spec errors come first: the scanner is resolved only once the spec compiled.
#[tokio::test]
async fn a_spec_error_comes_before_the_scanner() {
    let spec = BUILD_SPEC.replace("from: build\n", "from: biuld\n");
    let (res, bridge) = build_on(&spec, &[("attest:sbom", "generator=example.com/scanner:1")], &[], modern(true)).await;
    let msg = res.expect_err("a spec error").message;
    assert!(msg.contains("biuld"), "{msg}");
    assert!(bridge.record(|r| r.resolve.iter().all(|r| r.r#ref != SCANNER)), "the scanner is not resolved");
}
