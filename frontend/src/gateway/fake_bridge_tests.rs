//! The fake LLB bridge the gateway tests talk to: a tonic server implementing the service by
//! hand, over `tokio::io::duplex` (or real OS pipes), recording what it receives and answering
//! as its [`Script`] says; the tests, by topic, are in the files beside this one.

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
    /// The config `ResolveImageConfig` answers for these references (`{"os":"linux"}` for all
    /// others).
    resolve_configs: BTreeMap<String, Vec<u8>>,
    /// Solve answers ref `s<N>` for its N-th call (from 1) instead of `solve`'s answer.
    numbered_refs: bool,
    /// How long `Ping` takes to answer (a real daemon probes its platforms); its reply is then
    /// recorded as the call `Ping replied`.
    ping_delay: Option<std::time::Duration>,
    /// `ReadFile` of these paths answers after 300 ms; its reply is then recorded as the call
    /// `ReadFile replied PATH`.
    slow_reads: Vec<&'static str>,
    /// `ReadFile` of these paths fails as for a file the source does not have.
    missing_files: Vec<&'static str>,
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
                    let n = me.record(|rec| {
                        rec.solve.push(r);
                        rec.solve.len()
                    });
                    if s.numbered_refs {
                        return Ok(ref_reply(&format!("s{n}")));
                    }
                    s.solve.clone().unwrap_or_else(|| Ok(pb::SolveResponse::default()))
                })
                .await
            }
            "ReadFile" => {
                let slow: Arc<Mutex<Option<String>>> = Arc::default();
                let (flag, rec) = (slow.clone(), me.clone());
                let resp = unary(req, move |r: pb::ReadFileRequest| {
                    if s.missing_files.contains(&r.file_path.as_str()) {
                        return Err(tonic::Status::unknown(format!("open {}: no such file or directory", r.file_path)));
                    }
                    let data = s.files.get(&r.file_path).unwrap_or(&s.file_data).clone();
                    if s.slow_reads.contains(&r.file_path.as_str()) {
                        *flag.lock().expect("lock") = Some(r.file_path.clone());
                    }
                    rec.record(|rec| rec.read_file.push(r));
                    Ok(pb::ReadFileResponse { data })
                })
                .await;
                let slow_path = slow.lock().expect("lock").take();
                if let Some(path) = slow_path {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    me.record(|r| r.calls.push(format!("ReadFile replied {path}")));
                }
                resp
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
                    let config = s.resolve_configs.get(&r.r#ref).cloned();
                    me.record(|rec| rec.resolve.push(r));
                    Ok(pb::ResolveImageConfigResponse {
                        digest: s.resolve_digest.clone().unwrap_or_else(|| "sha256:abc".into()),
                        config: config.unwrap_or_else(|| br#"{"os":"linux"}"#.to_vec()),
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

/// A Solve reply with the single ref `id`.
fn ref_reply(id: &str) -> pb::SolveResponse {
    pb::SolveResponse {
        r#ref: String::new(),
        result: Some(pb::Result {
            result: Some(pb::result::Refs::Ref(pb::Ref { id: id.into(), def: Vec::new() })),
            metadata: BTreeMap::new(),
            attestations: BTreeMap::new(),
        }),
    }
}

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

/// The spec of the whole builds: a stage built on the build platform, copied (linked) into
/// the target stage.
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

/// Whole builds through `frontend::build`.
#[path = "fake_bridge_build_tests.rs"]
mod builds;
/// Answers subrequest `id` with `spec` as the file the fake serves.
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
    let opts = crate::gateway::FrontendOpts::from_map(map);
    let res = crate::gateway::subrequests::handle(&client, &opts, id).await.map_err(pb::Status::from);
    (res, bridge)
}

fn result_json(r: &FrontendResult) -> serde_json::Value {
    assert!(matches!(r.refs, crate::gateway::client::ResultRefs::None), "a subrequest returns no ref");
    assert_eq!(r.metadata.get("version").map(Vec::as_slice), Some(&b"1.0.0"[..]));
    serde_json::from_slice(r.metadata.get("result.json").expect("result.json")).expect("result.json is JSON")
}

fn result_txt(r: &FrontendResult) -> String {
    String::from_utf8(r.metadata.get("result.txt").expect("result.txt").clone()).unwrap()
}

/// Client calls one by one: caps, Solve, ReadFile/ReadDir/StatFile, ResolveImageConfig,
/// Inputs, Return, Warn, and how their failures read.
#[path = "fake_bridge_client_tests.rs"]
mod client_calls;
/// Whole builds with what newer clients send (issue 10), in a file of their own.
#[path = "fake_bridge_modern_tests.rs"]
mod modern;
/// The production transport (OS pipes) and BuildKit going away mid-conversation.
#[path = "fake_bridge_pipe_tests.rs"]
mod pipes;
/// SBOM scans (`attest:sbom`).
#[path = "fake_bridge_sbom_tests.rs"]
mod sbom;
/// Subrequests (`requestid`).
#[path = "fake_bridge_subrequest_tests.rs"]
mod subrequests;
