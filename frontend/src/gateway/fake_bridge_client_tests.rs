//! Gateway client calls one by one against the fake bridge.

use super::*;

#[tokio::test]
async fn ping_parses_caps_and_workers() {
    let (mut client, _) = start(Script { pong: pong(&[]), ..Default::default() }).await;
    assert!(client.caps().is_none());
    let caps: Caps = client.ping().await.expect("ping").clone();
    assert!(caps.has_gateway(cap::SOLVE_BASE));
    assert!(caps.has_gateway(cap::PROTO_REF_ARRAY));
    assert!(!caps.has_gateway(cap::WARNINGS));
    assert!(caps.has_llb(cap::FILE_BASE));
    assert!(!caps.has_llb(cap::MERGE_OP), "disabled caps are not supported");
    assert!(!caps.has_llb(cap::DIFF_OP));
    assert!(!caps.legacy);
    assert!(matches!(
        caps.require_llb(cap::MERGE_OP, "merge"),
        Err(GatewayError::MissingCap { ref cap, .. }) if cap == "mergeop"
    ));
    assert_eq!(caps.build_platform().map(|p| p.id()).as_deref(), Some("linux/arm64"));
    let ids: Vec<String> = caps.platforms().iter().map(pb::Platform::id).collect();
    assert_eq!(ids, ["linux/arm64", "linux/amd64"]);
    assert_eq!(caps.gateway_ids().count(), 17);
    assert_eq!(client.caps(), Some(&caps));
}

#[tokio::test]
async fn ping_without_caps_assumes_legacy_set() {
    let (mut client, _) = start(Script::default()).await;
    let caps = client.ping().await.expect("ping");
    assert!(caps.legacy);
    assert!(caps.has_gateway(cap::SOLVE_BASE) && caps.has_gateway(cap::READ_FILE));
    assert!(!caps.has_gateway(cap::RETURN));
}

#[tokio::test]
async fn solve_sends_result_flags_and_fields() {
    let reply = pb::SolveResponse {
        r#ref: String::new(),
        result: Some(pb::Result {
            result: Some(pb::result::Refs::Ref(pb::Ref { id: "ref-1".into(), def: vec![10, 2, 8, 1] })),
            metadata: BTreeMap::new(),
            attestations: BTreeMap::new(),
        }),
    };
    let (mut client, bridge) = start(Script { pong: pong(&[]), solve: Some(Ok(reply)), ..Default::default() }).await;
    client.ping().await.expect("ping");
    let cache = pb::CacheOptionsEntry {
        r#type: "registry".into(),
        attrs: BTreeMap::from([("ref".into(), "r.io/x:cache".into())]),
    };
    let solved = client
        .solve(SolveParams {
            definition: vec![10, 3, 1, 2, 3],
            cache_imports: vec![cache.clone()],
            evaluate: true,
            ..Default::default()
        })
        .await
        .expect("solve");
    assert_eq!(solved.id, "ref-1");
    assert_eq!(solved.def, vec![10, 2, 8, 1]);

    let sent = bridge.record(|r| r.solve.clone());
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    assert!(req.allow_result_return);
    assert!(req.allow_result_array_ref);
    assert!(req.evaluate);
    assert_eq!(req.definition, vec![10, 3, 1, 2, 3]);
    assert_eq!(req.cache_imports, vec![cache]);
    assert!(req.frontend.is_empty());
}

#[tokio::test]
async fn solve_accepts_deprecated_reply_forms() {
    let deprecated = pb::SolveResponse {
        r#ref: String::new(),
        result: Some(pb::Result {
            result: Some(pb::result::Refs::RefDeprecated("old-ref".into())),
            metadata: BTreeMap::new(),
            attestations: BTreeMap::new(),
        }),
    };
    let (client, _) = start(Script { solve: Some(Ok(deprecated)), ..Default::default() }).await;
    let solved = client.solve(SolveParams::default()).await.expect("solve");
    assert_eq!(solved.id, "old-ref");
    assert!(solved.def.is_empty());

    let top_level = pb::SolveResponse { r#ref: "top-ref".into(), result: None };
    let (client, _) = start(Script { solve: Some(Ok(top_level)), ..Default::default() }).await;
    assert_eq!(client.solve(SolveParams::default()).await.expect("solve").id, "top-ref");

    let map = pb::SolveResponse {
        r#ref: String::new(),
        result: Some(pb::Result {
            result: Some(pb::result::Refs::Refs(pb::RefMap::default())),
            metadata: BTreeMap::new(),
            attestations: BTreeMap::new(),
        }),
    };
    let (client, _) = start(Script { solve: Some(Ok(map)), ..Default::default() }).await;
    assert!(matches!(client.solve(SolveParams::default()).await, Err(GatewayError::Protocol { method: "Solve", .. })));
}

#[tokio::test]
async fn solve_error_keeps_daemon_status_for_return() {
    let inner = errors::spec_error(
        "process \"/bin/sh -c false\" did not complete successfully: exit code: 1",
        &[ErrorSource::yaml("decant.yaml", "run: false\n", LineRange::new((1, 1), (1, 11)))],
    );
    let st = tonic::Status::with_details(tonic::Code::Unknown, inner.message.clone(), inner.encode_to_vec().into());
    let (client, _) = start(Script { solve: Some(Err(st)), ..Default::default() }).await;
    let err = client.solve(SolveParams::default()).await.expect_err("solve fails");
    assert!(err.to_string().starts_with("Solve failed: process"), "{err}");
    assert_eq!(err.to_status(), inner);
}

#[tokio::test]
async fn read_file_dir_and_stat() {
    let (mut client, bridge) =
        start(Script { pong: pong(&[]), file_data: b"stages: {}\n".to_vec(), ..Default::default() }).await;
    client.ping().await.expect("ping");
    let data = client
        .read_file("ref-1", "decant.yaml", Some(pb::FileRange { offset: 0, length: 1024 }))
        .await
        .expect("read_file");
    assert_eq!(data, b"stages: {}\n");
    let data = client.read_file("ref-1", "decant.yaml", None).await.expect("read_file");
    assert_eq!(data.len(), 11);
    let sent = bridge.record(|r| r.read_file.clone());
    assert_eq!(sent[0].r#ref, "ref-1");
    assert_eq!(sent[0].file_path, "decant.yaml");
    assert_eq!(sent[0].range, Some(pb::FileRange { offset: 0, length: 1024 }));
    assert_eq!(sent[1].range, None);

    let entries = client.read_dir("ref-1", "/", Some("*.txt")).await.expect("read_dir");
    assert_eq!(entries.len(), 2);
    assert!(!entries[0].is_dir() && entries[1].is_dir());
    assert_eq!(bridge.record(|r| r.read_dir[0].include_pattern.clone()), "*.txt");

    let st = client.stat_file("ref-1", "a").await.expect("stat");
    assert_eq!((st.path.as_str(), st.permissions(), st.uid), ("a", 0o600, 1));
    let err = client.stat_file("ref-1", "missing").await.expect_err("missing");
    assert!(err.to_string().contains("no such file"), "{err}");
}

#[tokio::test]
async fn large_replies_exceed_tonic_default_limit() {
    let big = vec![7u8; 20 << 20];
    let (client, _) = start(Script { file_data: big.clone(), ..Default::default() }).await;
    let data = client.read_file("r", "big", None).await.expect("20 MiB read_file");
    assert_eq!(data.len(), big.len());
}

#[tokio::test]
async fn resolve_image_config_fields() {
    let (mut client, bridge) = start(Script { pong: pong(&[]), ..Default::default() }).await;
    client.ping().await.expect("ping");
    let platform = pb::Platform::parse("linux/arm64").expect("platform");
    let img = client
        .resolve_image_config(ResolveImageParams {
            reference: "docker.io/library/alpine:3.19".into(),
            platform: Some(platform.clone()),
            resolve_mode: ResolveMode::Pull,
            log_name: Some("[internal] load metadata for alpine".into()),
            oci_layout: None,
        })
        .await
        .expect("resolve");
    assert_eq!(img.digest, "sha256:abc");
    assert_eq!(img.config, br#"{"os":"linux"}"#);
    assert_eq!(img.reference.as_deref(), Some("docker.io/library/alpine:3.19"));
    let sent = bridge.record(|r| r.resolve.clone());
    assert_eq!(sent[0].r#ref, "docker.io/library/alpine:3.19");
    assert_eq!(sent[0].platform, Some(platform));
    assert_eq!(sent[0].resolve_mode, "pull");
    assert_eq!(sent[0].log_name, "[internal] load metadata for alpine");
}

#[tokio::test]
async fn inputs_map() {
    let (client, _) = start(Script::default()).await;
    let inputs = client.inputs().await.expect("inputs");
    assert_eq!(inputs.get("context"), Some(&vec![10, 1, 0]));
}

#[tokio::test]
async fn return_single_map_and_error() {
    let (mut client, bridge) = start(Script { pong: pong(&[]), ..Default::default() }).await;
    client.ping().await.expect("ping");

    client
        .return_result(FrontendResult::single("ref-1").with_metadata("containerimage.config", b"{}".to_vec()))
        .await
        .expect("return single");
    client
        .return_result(FrontendResult::map(BTreeMap::from([
            ("linux/amd64".to_string(), "ra".to_string()),
            ("linux/arm64".to_string(), "rb".to_string()),
        ])))
        .await
        .expect("return map");
    client
        .return_result(FrontendResult::metadata_only().with_metadata("result.json", b"[]".to_vec()))
        .await
        .expect("return metadata only");
    let spec_err = errors::spec_error("bad", &[ErrorSource::yaml("decant.yaml", "x", LineRange::new((1, 1), (1, 2)))]);
    client.return_error(spec_err.clone()).await.expect("return error");
    client.return_error(errors::status(0, "was OK")).await.expect("return error");

    let sent = bridge.record(|r| r.returns.clone());
    assert_eq!(sent.len(), 5);
    let r0 = sent[0].result.as_ref().expect("result");
    assert_eq!(r0.result, Some(pb::result::Refs::Ref(pb::Ref { id: "ref-1".into(), def: vec![] })));
    assert_eq!(r0.metadata["containerimage.config"], b"{}");
    assert!(sent[0].error.is_none());
    match &sent[1].result.as_ref().expect("result").result {
        Some(pb::result::Refs::Refs(m)) => {
            assert_eq!(m.refs.keys().collect::<Vec<_>>(), ["linux/amd64", "linux/arm64"]);
            assert_eq!(m.refs["linux/arm64"].id, "rb");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(sent[2].result.as_ref().expect("result").result, None);
    assert_eq!(sent[3].error.as_ref(), Some(&spec_err));
    assert!(sent[3].result.is_none());
    assert_eq!(sent[4].error.as_ref().map(|e| e.code), Some(errors::code::UNKNOWN));
}

#[tokio::test]
async fn return_uses_deprecated_form_without_refarray() {
    let mut p = pong(&[]);
    p.frontend_api_caps.retain(|c| c.id != cap::PROTO_REF_ARRAY);
    let (mut client, bridge) = start(Script { pong: p, ..Default::default() }).await;
    client.ping().await.expect("ping");
    client.return_result(FrontendResult::single("r")).await.expect("return");
    let sent = bridge.record(|r| r.returns.clone());
    assert_eq!(sent[0].result.as_ref().expect("result").result, Some(pb::result::Refs::RefDeprecated("r".into())));
}

#[tokio::test]
async fn warn_only_with_cap() {
    let (mut client, bridge) = start(Script { pong: pong(&[]), ..Default::default() }).await;
    let w = Warning { vertex_digest: "sha256:00".into(), level: 1, short: "careful".into(), ..Default::default() };
    assert!(!client.warn(w.clone()).await.expect("no caps yet: no-op"));
    client.ping().await.expect("ping");
    assert!(!client.warn(w.clone()).await.expect("v0.8: no-op"));
    assert!(bridge.record(|r| r.warns.is_empty()));
    assert!(!bridge.record(|r| r.calls.contains(&"Warn".to_string())));

    let (mut client, bridge) = start(Script { pong: pong(&[cap::WARNINGS]), ..Default::default() }).await;
    client.ping().await.expect("ping");
    let w = Warning {
        detail: vec!["line one".into()],
        url: "https://example.invalid/why".into(),
        source: Some(pb::SourceInfo { filename: "decant.yaml".into(), data: b"x".to_vec(), ..Default::default() }),
        ranges: vec![LineRange::new((1, 1), (1, 2)).into()],
        ..w
    };
    assert!(client.warn(w).await.expect("sent"));
    let sent = bridge.record(|r| r.warns.clone());
    assert_eq!(sent[0].short, b"careful");
    assert_eq!(sent[0].detail, vec![b"line one".to_vec()]);
    assert_eq!(sent[0].digest, "sha256:00");
    assert_eq!(sent[0].ranges.len(), 1);
}

#[tokio::test]
async fn unimplemented_method_names_it() {
    let (mut client, _) =
        start(Script { pong: pong(&[cap::WARNINGS]), unimplemented: vec!["Warn", "Inputs"], ..Default::default() })
            .await;
    // Without Ping, the call goes out and the daemon's Unimplemented comes back named.
    let err = client.inputs().await.expect_err("unimplemented");
    assert!(matches!(err, GatewayError::Unimplemented { method: "Inputs", .. }), "{err:?}");
    assert!(err.to_string().contains("BuildKit does not implement Inputs"), "{err}");

    client.ping().await.expect("ping");
    let err = client.warn(Warning::default()).await.expect_err("unimplemented");
    assert!(matches!(err, GatewayError::Unimplemented { method: "Warn", .. }), "{err:?}");
}

#[tokio::test]
async fn missing_cap_is_reported_before_calling() {
    let mut p = pong(&[]);
    p.frontend_api_caps.retain(|c| c.id != "readdir" && c.id != "returnmap");
    let (mut client, bridge) = start(Script { pong: p, ..Default::default() }).await;
    client.ping().await.expect("ping");
    let err = client.read_dir("r", "/", None).await.expect_err("no readdir");
    assert!(matches!(err, GatewayError::MissingCap { ref cap, .. } if cap == "readdir"), "{err:?}");
    let err = client.return_result(FrontendResult::map(BTreeMap::new())).await.expect_err("no returnmap");
    assert!(matches!(err, GatewayError::MissingCap { ref cap, .. } if cap == "returnmap"), "{err:?}");
    assert_eq!(bridge.record(|r| r.calls.clone()), ["Ping"]);
}

#[tokio::test]
async fn closed_connection_is_a_clear_error() {
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let client = Client::connect_io(client_io).await.expect("connect");
    drop(server_io);
    let err = client.solve(SolveParams::default()).await.expect_err("closed");
    assert!(matches!(err, GatewayError::Closed { method: "Solve", .. }), "{err:?}");
    assert!(err.to_string().contains("closed during Solve"), "{err}");
}

#[tokio::test]
async fn oversized_requests_are_reported() {
    let (client, _) = start(Script::default()).await;
    // Over the daemon's limit (4 MiB on v0.8): rejected by the server.
    let err = client
        .solve(SolveParams { definition: vec![0; 5 << 20], ..Default::default() })
        .await
        .expect_err("server limit");
    assert!(matches!(err, GatewayError::TooLarge { method: "Solve", .. }), "{err:?}");
    // Over our own encoding limit: rejected before sending.
    let err = client
        .solve(SolveParams { definition: vec![0; 17 << 20], ..Default::default() })
        .await
        .expect_err("client limit");
    assert!(matches!(err, GatewayError::TooLarge { method: "Solve", .. }), "{err:?}");
    eprintln!("oversized: {err}");
}
