//! End-to-end tests of [`Client`] against an in-process fake LLB bridge: a tonic server
//! implementing the service by hand, over `tokio::io::duplex` (or real OS pipes).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use prost::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::body::Body;
use tonic::codegen::http;

use super::client::{cap, Caps, Client, FrontendResult, ResolveImageParams, SolveParams, Warning};
use super::errors::{self, ErrorSource, GatewayError};
use super::opts::ResolveMode;
use super::pb;
use crate::sourcemap::LineRange;

const PREFIX: &str = "/moby.buildkit.v1.frontend.LLBBridge/";

/// Everything the fake received, by method.
#[derive(Default)]
struct Recorded {
    calls: Vec<String>,
    solve: Vec<pb::SolveRequest>,
    read_file: Vec<pb::ReadFileRequest>,
    read_dir: Vec<pb::ReadDirRequest>,
    resolve: Vec<pb::ResolveImageConfigRequest>,
    returns: Vec<pb::ReturnRequest>,
    warns: Vec<pb::WarnRequest>,
}

/// How the fake answers.
#[derive(Clone, Default)]
struct Script {
    pong: pb::PongResponse,
    solve: Option<Result<pb::SolveResponse, tonic::Status>>,
    file_data: Vec<u8>,
    /// What `ReadFile` answers for these paths (`file_data` for all others).
    files: BTreeMap<String, Vec<u8>>,
    /// Methods answered with Unimplemented (as an old daemon would).
    unimplemented: Vec<&'static str>,
    /// What `Inputs` answers (a fixed map when `None`).
    inputs: Option<BTreeMap<String, Vec<u8>>>,
    /// The digest `ResolveImageConfig` answers (`sha256:abc` when `None`).
    resolve_digest: Option<String>,
    /// The `Ref` `ResolveImageConfig` answers (the requested one when `None`, as BuildKit 0.12+
    /// does without a source policy).
    resolve_ref: Option<String>,
    /// How long `Ping` takes to answer (a real daemon probes its platforms); its reply is then
    /// recorded as the call `Ping replied`.
    ping_delay: Option<std::time::Duration>,
}

#[derive(Clone)]
struct FakeBridge {
    script: Arc<Script>,
    rec: Arc<Mutex<Recorded>>,
}

fn cap(id: &str) -> pb::ApiCap {
    pb::ApiCap { id: id.to_string(), enabled: true, ..Default::default() }
}

/// The gateway caps of a BuildKit v0.8 daemon (Docker 20.10), without `gateway.warnings`.
fn v08_gateway_caps() -> Vec<pb::ApiCap> {
    [
        "solve.base",
        "solve.inlinereturn",
        "resolveimage",
        "resolveimage.resolvemode",
        "readfile",
        "return",
        "returnmap",
        "readdir",
        "statfile",
        "importcaches",
        "proto.refarray",
        "reference.output",
        "frontend.inputs",
        "gateway.solve.metadata",
        "gateway.exec",
        "frontend.caps",
        "gateway.solve.evaluate",
    ]
    .into_iter()
    .map(cap)
    .collect()
}

fn pong(extra_gateway: &[&str]) -> pb::PongResponse {
    let mut gw = v08_gateway_caps();
    gw.extend(extra_gateway.iter().map(|id| cap(id)));
    pb::PongResponse {
        frontend_api_caps: gw,
        llb_caps: vec![
            cap("file.base"),
            cap("source.local"),
            pb::ApiCap { id: "mergeop".into(), enabled: false, ..Default::default() },
        ],
        workers: vec![pb::WorkerRecord {
            id: "w0".into(),
            labels: BTreeMap::from([("org.mobyproject.buildkit.worker.executor".into(), "oci".into())]),
            platforms: vec![
                pb::Platform {
                    architecture: "arm64".into(),
                    os: "linux".into(),
                    variant: "v8".into(),
                    ..Default::default()
                },
                pb::Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() },
            ],
        }],
    }
}

/// Serves one unary call with `f`.
async fn unary<Req, Resp, F>(req: http::Request<Body>, f: F) -> http::Response<Body>
where
    Req: Message + Default + Send + 'static,
    Resp: Message + Send + 'static,
    F: FnOnce(Req) -> Result<Resp, tonic::Status> + Clone + Send + 'static,
{
    let svc = tower::service_fn(move |r: tonic::Request<Req>| {
        let f = f.clone();
        async move { f(r.into_inner()).map(tonic::Response::new) }
    });
    let mut grpc =
        tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default()).max_decoding_message_size(4 << 20); // like BuildKit v0.8's server
    grpc.unary(svc, req).await
}

impl FakeBridge {
    fn new(script: Script) -> FakeBridge {
        FakeBridge { script: Arc::new(script), rec: Arc::default() }
    }

    fn record<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.rec.lock().expect("lock"))
    }

    async fn dispatch(self, req: http::Request<Body>) -> http::Response<Body> {
        let method = req.uri().path().strip_prefix(PREFIX).unwrap_or("?").to_string();
        self.record(|r| r.calls.push(method.clone()));
        if self.script.unimplemented.contains(&method.as_str()) {
            return tonic::Status::unimplemented(format!("unknown method {method}")).into_http();
        }
        let (s, me) = (self.script.clone(), self.clone());
        match method.as_str() {
            "Ping" => {
                let delay = s.ping_delay;
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                let resp = unary(req, move |_: pb::PingRequest| Ok(s.pong.clone())).await;
                if delay.is_some() {
                    me.record(|r| r.calls.push("Ping replied".into()));
                }
                resp
            }
            "Solve" => {
                unary(req, move |r: pb::SolveRequest| {
                    me.record(|rec| rec.solve.push(r));
                    s.solve.clone().unwrap_or_else(|| Ok(pb::SolveResponse::default()))
                })
                .await
            }
            "ReadFile" => {
                unary(req, move |r: pb::ReadFileRequest| {
                    let data = s.files.get(&r.file_path).unwrap_or(&s.file_data).clone();
                    me.record(|rec| rec.read_file.push(r));
                    Ok(pb::ReadFileResponse { data })
                })
                .await
            }
            "ReadDir" => {
                unary(req, move |r: pb::ReadDirRequest| {
                    me.record(|rec| rec.read_dir.push(r));
                    Ok(pb::ReadDirResponse {
                        entries: vec![
                            pb::Stat { path: "a.txt".into(), mode: 0o644, size: 3, ..Default::default() },
                            pb::Stat { path: "sub".into(), mode: pb::GO_MODE_DIR | 0o755, ..Default::default() },
                        ],
                    })
                })
                .await
            }
            "StatFile" => {
                unary(req, move |r: pb::StatFileRequest| {
                    if r.path == "missing" {
                        return Err(tonic::Status::unknown("lstat /missing: no such file or directory"));
                    }
                    Ok(pb::StatFileResponse {
                        stat: Some(pb::Stat { path: r.path, mode: 0o600, uid: 1, ..Default::default() }),
                    })
                })
                .await
            }
            "ResolveImageConfig" => {
                unary(req, move |r: pb::ResolveImageConfigRequest| {
                    let answered = s.resolve_ref.clone().unwrap_or_else(|| r.r#ref.clone());
                    me.record(|rec| rec.resolve.push(r));
                    Ok(pb::ResolveImageConfigResponse {
                        digest: s.resolve_digest.clone().unwrap_or_else(|| "sha256:abc".into()),
                        config: br#"{"os":"linux"}"#.to_vec(),
                        r#ref: answered,
                    })
                })
                .await
            }
            "Inputs" => {
                unary(req, move |_: pb::InputsRequest| {
                    Ok(pb::InputsResponse {
                        definitions: s
                            .inputs
                            .clone()
                            .unwrap_or_else(|| BTreeMap::from([("context".to_string(), vec![10, 1, 0])])),
                    })
                })
                .await
            }
            "Warn" => {
                unary(req, move |r: pb::WarnRequest| {
                    me.record(|rec| rec.warns.push(r));
                    Ok(pb::WarnResponse {})
                })
                .await
            }
            "Return" => {
                unary(req, move |r: pb::ReturnRequest| {
                    me.record(|rec| rec.returns.push(r));
                    Ok(pb::ReturnResponse {})
                })
                .await
            }
            "Evaluate" => {
                // Never answers: lets a test break the connection mid-call.
                let svc = tower::service_fn(|_: tonic::Request<pb::EvaluateRequest>| async {
                    std::future::pending::<Result<tonic::Response<pb::EvaluateResponse>, tonic::Status>>().await
                });
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                    pb::EvaluateResponse,
                    pb::EvaluateRequest,
                >::default());
                grpc.unary(svc, req).await
            }
            _ => tonic::Status::unimplemented(format!("unknown method {method}")).into_http(),
        }
    }
}

impl tower::Service<http::Request<Body>> for FakeBridge {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.dispatch(req).await) })
    }
}

/// Serves `bridge` on `io` in the background.
fn serve<IO>(bridge: FakeBridge, io: IO)
where
    IO: AsyncRead + AsyncWrite + tonic::transport::server::Connected + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let incoming = tokio_stream::iter(vec![Ok::<_, std::io::Error>(io)]);
        if let Err(e) = tonic::transport::Server::builder().serve_with_incoming(bridge, incoming).await {
            eprintln!("fake bridge: {e}");
        }
    });
}

/// A client connected to a fake bridge over an in-memory duplex stream.
async fn start(script: Script) -> (Client, FakeBridge) {
    let bridge = FakeBridge::new(script);
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    serve(bridge.clone(), server_io);
    let client = Client::connect_io(client_io).await.expect("connect");
    (client, bridge)
}

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

/// The production path: two OS pipes, non-blocking, joined (as `take_stdio` does with fds 0/1).
#[tokio::test]
async fn works_over_os_pipes() {
    use std::os::fd::{FromRawFd, OwnedFd};
    fn os_pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two new descriptors into the array.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(rc, 0, "pipe2");
        // SAFETY: both descriptors are new and owned here.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }
    let (to_frontend_r, to_frontend_w) = os_pipe();
    let (to_daemon_r, to_daemon_w) = os_pipe();
    let server_io = super::transport::stream_from_fds(to_daemon_r, to_frontend_w).expect("server io");
    let bridge = FakeBridge::new(Script { pong: pong(&[]), file_data: vec![1; 5 << 20], ..Default::default() });
    serve(bridge, PipeIo(server_io));
    let client_io = super::transport::stream_from_fds(to_frontend_r, to_daemon_w).expect("client io");
    let mut client = Client::connect_io(client_io).await.expect("connect");
    assert!(client.ping().await.expect("ping").has_gateway(cap::SOLVE_BASE));
    assert_eq!(client.read_file("r", "f", None).await.expect("read").len(), 5 << 20);
}

/// Server-side wrapper so the pipe stream satisfies tonic's `Connected`.
struct PipeIo(super::transport::StdioStream);

impl tonic::transport::server::Connected for PipeIo {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl AsyncRead for PipeIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PipeIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// BuildKit going away mid-conversation (the pipe closes after a successful Ping).
#[tokio::test]
async fn connection_lost_after_ping() {
    let bridge = FakeBridge::new(Script { pong: pong(&[]), ..Default::default() });
    let (client_io, mut proxy_client_side) = tokio::io::duplex(1 << 16);
    let (mut proxy_server_side, server_io) = tokio::io::duplex(1 << 16);
    serve(bridge, server_io);
    let proxy = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut proxy_client_side, &mut proxy_server_side).await;
    });
    let mut client = Client::connect_io(client_io).await.expect("connect");
    client.ping().await.expect("ping");
    proxy.abort();
    let _ = proxy.await;
    let err = client.read_file("r", "decant.yaml", None).await.expect_err("gone");
    eprintln!("connection lost: {err}");
    assert!(matches!(err, GatewayError::Closed { method: "ReadFile", .. }), "{err:?}");
    // No reconnect: the next call fails the same way instead of hanging.
    let err = client.inputs().await.expect_err("still gone");
    eprintln!("connection lost (2nd call): {err}");
    assert!(matches!(err, GatewayError::Closed { method: "Inputs", .. }), "{err:?}");
}

/// The pipe breaking while a call is in flight.
#[tokio::test]
async fn connection_lost_during_call() {
    let bridge = FakeBridge::new(Script { pong: pong(&[cap::EVALUATE]), ..Default::default() });
    let (client_io, mut proxy_client_side) = tokio::io::duplex(1 << 16);
    let (mut proxy_server_side, server_io) = tokio::io::duplex(1 << 16);
    serve(bridge.clone(), server_io);
    let proxy = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut proxy_client_side, &mut proxy_server_side).await;
    });
    let client = Client::connect_io(client_io).await.expect("connect");
    let call = tokio::spawn(async move { client.evaluate("r").await });
    while !bridge.record(|r| r.calls.contains(&"Evaluate".to_string())) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    proxy.abort();
    let err = call.await.expect("join").expect_err("broken");
    eprintln!("lost during call: {err}");
    assert!(matches!(err, GatewayError::Closed { method: "Evaluate", .. }), "{err:?}");
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
    let err = pb::Status::from(super::sources::inputs(&client).await.unwrap_err());
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
    let opts = super::FrontendOpts::from_map(BTreeMap::from([
        ("context:base".to_string(), "input:base".to_string()),
        ("input-metadata:base".to_string(), format!(r#"{{"containerimage.config":"{cfg}"}}"#)),
        ("context:alpine:3.20".to_string(), "docker-image://alpine:3.19".to_string()),
    ]));
    let inputs = super::sources::inputs(&client).await.unwrap();
    let context = super::sources::context_input(&opts, &inputs).unwrap().expect("context input");
    assert_eq!(llb::marshal(&context).def, ctx_def.def);

    let text = "stages:\n  app:\n    from: base\n    steps:\n      - copy: f\n      - copy: /etc/os-release\n        from: alpine:3.20\n";
    let bopts =
        BuildOptions { named_contexts: super::sources::named_context_names(&opts).unwrap(), ..Default::default() };
    let plan = crate::compile::plan("decant.yaml", text, &bopts).unwrap();
    let named = super::sources::named_contexts(&client, &opts, &plan, &inputs, ResolveMode::Default).await.unwrap();
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

// ---------------------------------------------------------------------------------------------
// Subrequests (`requestid`), answered against the fake bridge: the Docker 20.10 CLI cannot send
// them, so this is where `frontend.targets|outline|lint|subrequests.describe` are covered.
// ---------------------------------------------------------------------------------------------

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

/// Answers subrequest `id` with `SUBREQUEST_SPEC` (or `spec`) as the file the fake serves.
/// A Solve reply with the single ref `id`.
fn ref_reply(id: &str) -> pb::SolveResponse {
    pb::SolveResponse {
        r#ref: String::new(),
        result: Some(pb::Result {
            result: Some(pb::result::Refs::Ref(pb::Ref { id: id.into(), def: Vec::new() })),
            metadata: BTreeMap::new(),
        }),
    }
}

async fn subrequest(spec: &str, id: &str, extra: &[(&str, &str)]) -> (Result<FrontendResult, pb::Status>, FakeBridge) {
    let reply = ref_reply("spec-ref");
    let (mut client, bridge) = start(Script {
        pong: pong(&[]),
        solve: Some(Ok(reply)),
        file_data: spec.as_bytes().to_vec(),
        ..Default::default()
    })
    .await;
    client.ping().await.expect("ping");
    let mut map = BTreeMap::from([
        ("requestid".to_string(), id.to_string()),
        ("filename".to_string(), "decant.yaml".to_string()),
    ]);
    for (k, v) in extra {
        map.insert(k.to_string(), v.to_string());
    }
    let opts = super::FrontendOpts::from_map(map);
    let res = super::subrequests::handle(&client, &opts, id).await.map_err(pb::Status::from);
    (res, bridge)
}

fn result_json(r: &FrontendResult) -> serde_json::Value {
    assert!(matches!(r.refs, super::client::ResultRefs::None), "a subrequest returns no ref");
    assert_eq!(r.metadata.get("version").map(Vec::as_slice), Some(&b"1.0.0"[..]));
    serde_json::from_slice(r.metadata.get("result.json").expect("result.json")).expect("result.json is JSON")
}

fn result_txt(r: &FrontendResult) -> String {
    String::from_utf8(r.metadata.get("result.txt").expect("result.txt").clone()).unwrap()
}

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
    let args = v["args"].as_array().expect("args");
    assert_eq!(args[0]["name"], "VERSION");
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

// ---------------------------------------------------------------------------------------------
// Whole builds through `frontend::build` against the fake bridge.
// ---------------------------------------------------------------------------------------------

/// The LLB caps of a BuildKit v0.8 daemon (Docker 20.10).
fn v08_llb_caps() -> Vec<pb::ApiCap> {
    [
        "source.image",
        "source.image.resolvemode",
        "source.local",
        "source.local.unique",
        "source.local.sessionid",
        "source.local.includepatterns",
        "source.local.followpaths",
        "source.local.excludepatterns",
        "source.local.sharedkeyhint",
        "source.git",
        "source.git.keepgitdir",
        "source.git.fullurl",
        "source.http",
        "source.http.checksum",
        "source.http.perm",
        "exec.meta.base",
        "exec.meta.proxyenv",
        "exec.meta.network",
        "exec.meta.security",
        "exec.meta.setsdefaultpath",
        "exec.mount.bind",
        "exec.mount.cache",
        "exec.mount.cache.sharing",
        "exec.mount.selector",
        "exec.mount.tmpfs",
        "exec.mount.secret",
        "exec.mount.ssh",
        "file.base",
        "file.rm.wildcard",
        "constraints",
        "platform",
        "meta.ignorecache",
        "meta.description",
        "meta.exportcache",
    ]
    .iter()
    .map(|id| cap(id))
    .collect()
}

const BUILD_SPEC: &str = "# syntax=decant/frontend:dev
stages:
  build:
    from: busybox:local
    platform: ${BUILDPLATFORM}
    steps:
      - run: echo building for $TARGETARCH > /out
        env: { TARGETARCH: \"${TARGETARCH}\" }
  app:
    from: busybox:local
    steps:
      - copy: /out
        from: build
        link: true
    cmd: [cat, /out]
";

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
    let opts = super::FrontendOpts::from_map(map);
    let res = super::frontend::build(&mut client, &opts).await;
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
    let opts = super::FrontendOpts::from_map(BTreeMap::from([("filename".into(), "decant.yaml".into())]));
    let res = super::frontend::build(&mut client, &opts).await;
    assert_eq!(res.expect("build").refs, crate::gateway::ResultRefs::Single("r1".into()));
    assert!(bridge.record(|r| r.calls.contains(&"Inputs".to_string())));
}

/// Timings show as progress vertices (evaluated at once) and, where the daemon shows them, as
/// one build warning on the spec's vertex.
#[tokio::test]
async fn timings_show_as_vertices_and_a_warning() {
    use super::timings::Timings;
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

/// Whole builds with what newer clients send (issue 10), in a file of their own.
#[path = "fake_bridge_modern_tests.rs"]
mod modern;
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
    let opts = super::FrontendOpts::from_map(BTreeMap::from([("filename".into(), "decant.yaml".into())]));
    super::frontend::build(&mut client, &opts).await.expect("build");
    let calls = bridge.record(|r| r.calls.clone());
    let replied = calls.iter().position(|c| c == "Ping replied").expect("ping replied");
    let reads = calls.iter().filter(|c| *c == "ReadFile").count();
    let reads_before = calls[..replied].iter().filter(|c| *c == "ReadFile").count();
    assert_eq!((reads, reads_before), (3, 3), "{calls:?}");
    // Resolving images needs the plan, which needs Ping's worker platforms: after the reply.
    let resolve = calls.iter().position(|c| c == "ResolveImageConfig").expect("resolve");
    assert!(resolve > replied, "{calls:?}");
}
