//! A typed client for BuildKit's LLB bridge service.
//!
//! Calls are hand-written on top of `tonic::client::Grpc` with the prost codec; every method
//! path is `/moby.buildkit.v1.frontend.LLBBridge/<Method>`. After [`Client::ping`] the daemon's
//! capabilities are cached and each call checks the capability that guards it, so an old
//! daemon fails with a clear [`GatewayError::MissingCap`] instead of a bare `Unimplemented`.

use std::collections::BTreeMap;

use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use super::errors::{self, GatewayError};
use super::opts::ResolveMode;
use super::pb;
use super::transport;

/// Capability ids decant checks (gateway and LLB).
pub mod cap {
    /// Gateway: Solve.
    pub const SOLVE_BASE: &str = "solve.base";
    /// Gateway: Solve returns its result inline (pre-capability daemons have it).
    pub const SOLVE_INLINE_RETURN: &str = "solve.inlinereturn";
    /// Gateway: ResolveImageConfig.
    pub const RESOLVE_IMAGE: &str = "resolveimage";
    /// Gateway: ResolveImageConfig with a resolve mode.
    pub const RESOLVE_IMAGE_MODE: &str = "resolveimage.resolvemode";
    /// Gateway: ReadFile.
    pub const READ_FILE: &str = "readfile";
    /// Gateway: ReadDir.
    pub const READ_DIR: &str = "readdir";
    /// Gateway: StatFile.
    pub const STAT_FILE: &str = "statfile";
    /// Gateway: Return.
    pub const RETURN: &str = "return";
    /// Gateway: returning a map of refs.
    pub const RETURN_MAP: &str = "returnmap";
    /// Gateway: `Result.ref`/`refs` carry `Ref` messages (fields 3/4).
    pub const PROTO_REF_ARRAY: &str = "proto.refarray";
    /// Gateway: `Ref.def` is filled in Solve replies.
    pub const REFERENCE_OUTPUT: &str = "reference.output";
    /// Gateway: SolveRequest.CacheImports.
    pub const IMPORT_CACHES: &str = "importcaches";
    /// Gateway: Inputs and SolveRequest.FrontendInputs.
    pub const FRONTEND_INPUTS: &str = "frontend.inputs";
    /// Gateway: SolveRequest.Evaluate.
    pub const SOLVE_EVALUATE: &str = "gateway.solve.evaluate";
    /// Gateway: the Evaluate method (v0.11+).
    pub const EVALUATE: &str = "gateway.evaluate";
    /// Gateway: Warn (v0.10+).
    pub const WARNINGS: &str = "gateway.warnings";
    /// Gateway: `Result.attestations` in Return (v0.11+).
    pub const ATTESTATIONS: &str = "reference.attestations";
    /// Gateway: containers (NewContainer/ExecProcess).
    pub const EXEC: &str = "gateway.exec";
    /// LLB: FileOp.
    pub const FILE_BASE: &str = "file.base";
    /// LLB: MergeOp (v0.10+).
    pub const MERGE_OP: &str = "mergeop";
    /// LLB: DiffOp (v0.10+).
    pub const DIFF_OP: &str = "diffop";
    /// LLB: the size of a tmpfs mount (`shm-size`).
    pub const EXEC_MOUNT_TMPFS_SIZE: &str = "exec.mount.tmpfs.size";
    /// LLB: ulimits of a run step (`ulimit`).
    pub const EXEC_META_ULIMIT: &str = "exec.meta.ulimit";
    /// LLB: the cgroup parent of a run step (`cgroup-parent`).
    pub const EXEC_META_CGROUP_PARENT: &str = "exec.meta.cgroup.parent";
}

/// The gateway capabilities pre-capability daemons are assumed to have (when Ping returns none).
const LEGACY_GATEWAY_CAPS: &[&str] = &[cap::SOLVE_BASE, cap::SOLVE_INLINE_RETURN, cap::RESOLVE_IMAGE, cap::READ_FILE];

/// What the daemon said it supports, from Ping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caps {
    gateway: BTreeMap<String, pb::ApiCap>,
    llb: BTreeMap<String, pb::ApiCap>,
    /// Workers as reported by Ping.
    pub workers: Vec<pb::WorkerRecord>,
    /// True when the daemon sent no gateway caps and a legacy default set was assumed.
    pub legacy: bool,
}

impl Caps {
    /// Builds the cap sets from a Ping reply.
    pub fn from_pong(pong: pb::PongResponse) -> Caps {
        let index = |caps: Vec<pb::ApiCap>| caps.into_iter().map(|c| (c.id.clone(), c)).collect::<BTreeMap<_, _>>();
        let legacy = pong.frontend_api_caps.is_empty();
        let mut gateway = index(pong.frontend_api_caps);
        if legacy {
            for id in LEGACY_GATEWAY_CAPS {
                gateway.insert(id.to_string(), pb::ApiCap { id: id.to_string(), enabled: true, ..Default::default() });
            }
        }
        Caps { gateway, llb: index(pong.llb_caps), workers: pong.workers, legacy }
    }

    /// True when the daemon has gateway capability `id` enabled.
    pub fn has_gateway(&self, id: &str) -> bool {
        self.gateway.get(id).is_some_and(|c| c.enabled)
    }

    /// True when the daemon has LLB capability `id` enabled.
    pub fn has_llb(&self, id: &str) -> bool {
        self.llb.get(id).is_some_and(|c| c.enabled)
    }

    /// Fails with [`GatewayError::MissingCap`] unless gateway cap `id` is enabled.
    pub fn require_gateway(&self, id: &str, what: &'static str) -> Result<(), GatewayError> {
        if self.has_gateway(id) {
            Ok(())
        } else {
            Err(GatewayError::MissingCap { cap: id.to_string(), what })
        }
    }

    /// Fails with [`GatewayError::MissingCap`] unless LLB cap `id` is enabled.
    pub fn require_llb(&self, id: &str, what: &'static str) -> Result<(), GatewayError> {
        if self.has_llb(id) {
            Ok(())
        } else {
            Err(GatewayError::MissingCap { cap: id.to_string(), what })
        }
    }

    /// Enabled gateway capability ids, sorted.
    pub fn gateway_ids(&self) -> impl Iterator<Item = &str> {
        self.gateway.values().filter(|c| c.enabled).map(|c| c.id.as_str())
    }

    /// Enabled LLB capability ids, sorted.
    pub fn llb_ids(&self) -> impl Iterator<Item = &str> {
        self.llb.values().filter(|c| c.enabled).map(|c| c.id.as_str())
    }

    /// All worker platforms, normalised, in worker order, without duplicates.
    pub fn platforms(&self) -> Vec<pb::Platform> {
        let mut out: Vec<pb::Platform> = Vec::new();
        for p in self.workers.iter().flat_map(|w| w.platforms.iter()) {
            let p = p.normalized();
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// The build platform: the first platform of the first worker, normalised.
    pub fn build_platform(&self) -> Option<pb::Platform> {
        self.workers.first()?.platforms.first().map(pb::Platform::normalized)
    }
}

/// What to solve.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SolveParams {
    /// Encoded `pb.Definition` (empty = solve another frontend, or an empty result).
    pub definition: Vec<u8>,
    /// Cache sources to import (only on the final build solve).
    pub cache_imports: Vec<pb::CacheOptionsEntry>,
    /// Solve eagerly so errors surface now.
    pub evaluate: bool,
    /// Frontend inputs as encoded `pb.Definition`s (with `frontend`).
    pub frontend_inputs: BTreeMap<String, Vec<u8>>,
    /// Another frontend to run instead of `definition` (e.g. `dockerfile.v0`); empty = none.
    pub frontend: String,
    /// Options for `frontend`.
    pub frontend_opt: BTreeMap<String, String>,
}

/// A solved result handle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SolvedRef {
    /// Ref id for ReadFile/ReadDir/StatFile/Return; `""` is the empty (scratch) result.
    pub id: String,
    /// Encoded `pb.Definition` that produced the ref (empty when the daemon sent none).
    pub def: Vec<u8>,
    /// Result metadata the daemon sent (usually empty for LLB solves).
    pub metadata: BTreeMap<String, Vec<u8>>,
}

/// What to resolve with ResolveImageConfig.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolveImageParams {
    /// Normalised reference, e.g. `docker.io/library/alpine:3.19`.
    pub reference: String,
    /// Platform to resolve for (`None` = daemon default).
    pub platform: Option<pb::Platform>,
    /// Resolve mode.
    pub resolve_mode: ResolveMode,
    /// Progress vertex name.
    pub log_name: Option<String>,
    /// Resolve from the client's OCI layout store (session id, store id) instead of a registry
    /// (BuildKit v0.11+, as `source.ocilayout`).
    pub oci_layout: Option<(String, String)>,
}

/// A resolved image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedImage {
    /// Manifest digest.
    pub digest: String,
    /// Raw image config JSON.
    pub config: Vec<u8>,
    /// The reference to use instead of the requested one (after source policies), if any.
    pub reference: Option<String>,
}

/// A build warning (sent only to daemons with cap `gateway.warnings`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Warning {
    /// Digest of the vertex the warning attaches to.
    pub vertex_digest: String,
    /// Level (1 is the normal level).
    pub level: i64,
    /// One-line message.
    pub short: String,
    /// Detail lines.
    pub detail: Vec<String>,
    /// URL with more information (empty = none).
    pub url: String,
    /// Source the ranges point into.
    pub source: Option<pb::SourceInfo>,
    /// Ranges in `source`.
    pub ranges: Vec<pb::Range>,
}

/// The refs of a frontend result.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ResultRefs {
    /// No ref: metadata only (subrequests).
    #[default]
    None,
    /// One ref id (`""` = empty image).
    Single(String),
    /// Ref ids by platform id, for multi-platform results.
    Map(BTreeMap<String, String>),
}

/// The result handed to `Return`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontendResult {
    /// Refs.
    pub refs: ResultRefs,
    /// Exporter metadata (`containerimage.config`, `refs.platforms`, `result.json`, ...).
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// Attestations by ref key (the platform id), cap `reference.attestations`.
    pub attestations: BTreeMap<String, Vec<pb::Attestation>>,
}

impl FrontendResult {
    /// A single-ref result.
    pub fn single(ref_id: impl Into<String>) -> FrontendResult {
        FrontendResult { refs: ResultRefs::Single(ref_id.into()), ..Default::default() }
    }

    /// A multi-platform result.
    pub fn map(refs: BTreeMap<String, String>) -> FrontendResult {
        FrontendResult { refs: ResultRefs::Map(refs), ..Default::default() }
    }

    /// A metadata-only result.
    pub fn metadata_only() -> FrontendResult {
        FrontendResult::default()
    }

    /// Adds one metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds an attestation of the ref with key `key` (the platform id).
    pub fn with_attestation(mut self, key: impl Into<String>, attestation: pb::Attestation) -> Self {
        self.attestations.entry(key.into()).or_default().push(attestation);
        self
    }
}

/// A client of the LLB bridge. Cheap to clone; clones share the connection (not the caps
/// cache of later pings).
#[derive(Debug, Clone)]
pub struct Client {
    grpc: tonic::client::Grpc<Channel>,
    caps: Option<Caps>,
}

macro_rules! bridge_path {
    ($method:literal) => {
        concat!("/moby.buildkit.v1.frontend.LLBBridge/", $method)
    };
}

impl Client {
    /// Wraps an established channel, with decant's message size limits.
    pub fn new(channel: Channel) -> Client {
        let grpc = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(transport::MAX_DECODING_MESSAGE_SIZE)
            .max_encoding_message_size(transport::MAX_ENCODING_MESSAGE_SIZE);
        Client { grpc, caps: None }
    }

    /// Connects over our own stdin/stdout (the way BuildKit runs a gateway frontend).
    pub async fn connect_stdio() -> Result<Client, GatewayError> {
        Ok(Client::new(transport::connect_stdio().await?))
    }

    /// Connects over any byte stream (tests, or a socket).
    pub async fn connect_io<IO>(io: IO) -> Result<Client, GatewayError>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        Ok(Client::new(transport::connect_io(io).await?))
    }

    /// The capabilities from the last [`Client::ping`], if any.
    pub fn caps(&self) -> Option<&Caps> {
        self.caps.as_ref()
    }

    /// Asks the daemon for its capabilities and workers, and caches them for later checks.
    pub async fn ping(&mut self) -> Result<&Caps, GatewayError> {
        let pong: pb::PongResponse = self.call("Ping", bridge_path!("Ping"), pb::PingRequest {}).await?;
        Ok(self.caps.insert(Caps::from_pong(pong)))
    }

    /// Solves a definition (or another frontend) and returns the single ref it produced.
    ///
    /// Always sets `allowResultReturn` and `allowResultArrayRef`; a reply in the deprecated
    /// string form is accepted too.
    pub async fn solve(&self, params: SolveParams) -> Result<SolvedRef, GatewayError> {
        self.need(cap::SOLVE_BASE, "Solve")?;
        if !params.cache_imports.is_empty() {
            self.need(cap::IMPORT_CACHES, "cache imports")?;
        }
        if params.evaluate {
            self.need(cap::SOLVE_EVALUATE, "Solve with evaluate")?;
        }
        if !params.frontend_inputs.is_empty() {
            self.need(cap::FRONTEND_INPUTS, "frontend inputs")?;
        }
        let req = pb::SolveRequest {
            definition: params.definition,
            frontend: params.frontend,
            frontend_opt: params.frontend_opt,
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports: params.cache_imports,
            frontend_inputs: params.frontend_inputs,
            evaluate: params.evaluate,
        };
        let resp: pb::SolveResponse = self.call("Solve", bridge_path!("Solve"), req).await?;
        solved_ref(resp)
    }

    /// Reads a file (or a byte range of it) from a solved ref.
    pub async fn read_file(
        &self,
        ref_id: &str,
        path: &str,
        range: Option<pb::FileRange>,
    ) -> Result<Vec<u8>, GatewayError> {
        self.need(cap::READ_FILE, "ReadFile")?;
        let req = pb::ReadFileRequest { r#ref: ref_id.to_string(), file_path: path.to_string(), range };
        let resp: pb::ReadFileResponse = self.call("ReadFile", bridge_path!("ReadFile"), req).await?;
        Ok(resp.data)
    }

    /// Lists the direct children of a directory in a solved ref, optionally filtered by an
    /// fsutil include pattern.
    pub async fn read_dir(
        &self,
        ref_id: &str,
        path: &str,
        include_pattern: Option<&str>,
    ) -> Result<Vec<pb::Stat>, GatewayError> {
        self.need(cap::READ_DIR, "ReadDir")?;
        let req = pb::ReadDirRequest {
            r#ref: ref_id.to_string(),
            dir_path: path.to_string(),
            include_pattern: include_pattern.unwrap_or_default().to_string(),
        };
        let resp: pb::ReadDirResponse = self.call("ReadDir", bridge_path!("ReadDir"), req).await?;
        Ok(resp.entries)
    }

    /// Stats (lstat) a path in a solved ref.
    pub async fn stat_file(&self, ref_id: &str, path: &str) -> Result<pb::Stat, GatewayError> {
        self.need(cap::STAT_FILE, "StatFile")?;
        let req = pb::StatFileRequest { r#ref: ref_id.to_string(), path: path.to_string() };
        let resp: pb::StatFileResponse = self.call("StatFile", bridge_path!("StatFile"), req).await?;
        resp.stat.ok_or_else(|| GatewayError::Protocol {
            method: "StatFile",
            detail: format!("no stat returned for {path:?}"),
        })
    }

    /// Resolves an image reference to its manifest digest and config.
    pub async fn resolve_image_config(&self, params: ResolveImageParams) -> Result<ResolvedImage, GatewayError> {
        self.need(cap::RESOLVE_IMAGE, "ResolveImageConfig")?;
        if params.resolve_mode != ResolveMode::Default {
            self.need(cap::RESOLVE_IMAGE_MODE, "ResolveImageConfig with a resolve mode")?;
        }
        let mut req = pb::ResolveImageConfigRequest {
            r#ref: params.reference,
            platform: params.platform,
            resolve_mode: params.resolve_mode.as_str().to_string(),
            log_name: params.log_name.unwrap_or_default(),
            ..Default::default()
        };
        if let Some((session_id, store_id)) = params.oci_layout {
            // BuildKit's resolver types: 0 registry, 1 OCI layout.
            req.resolver_type = 1;
            req.session_id = session_id;
            req.store_id = store_id;
        }
        let resp: pb::ResolveImageConfigResponse =
            self.call("ResolveImageConfig", bridge_path!("ResolveImageConfig"), req).await?;
        Ok(ResolvedImage {
            digest: resp.digest,
            config: resp.config,
            reference: Some(resp.r#ref).filter(|r| !r.is_empty()),
        })
    }

    /// The frontend inputs the client passed, as encoded `pb.Definition`s by name.
    pub async fn inputs(&self) -> Result<BTreeMap<String, Vec<u8>>, GatewayError> {
        self.need(cap::FRONTEND_INPUTS, "Inputs")?;
        let resp: pb::InputsResponse = self.call("Inputs", bridge_path!("Inputs"), pb::InputsRequest {}).await?;
        Ok(resp.definitions)
    }

    /// Forces a solved ref to be evaluated (cap `gateway.evaluate`, v0.11+).
    pub async fn evaluate(&self, ref_id: &str) -> Result<(), GatewayError> {
        self.need(cap::EVALUATE, "Evaluate")?;
        let req = pb::EvaluateRequest { r#ref: ref_id.to_string() };
        let _: pb::EvaluateResponse = self.call("Evaluate", bridge_path!("Evaluate"), req).await?;
        Ok(())
    }

    /// Sends a build warning. Only daemons known (from Ping) to have cap `gateway.warnings`
    /// are asked; otherwise this is a no-op. Returns whether the warning was sent.
    pub async fn warn(&self, warning: Warning) -> Result<bool, GatewayError> {
        if !self.caps.as_ref().is_some_and(|c| c.has_gateway(cap::WARNINGS)) {
            return Ok(false);
        }
        let req = pb::WarnRequest {
            digest: warning.vertex_digest,
            level: warning.level,
            short: warning.short.into_bytes(),
            detail: warning.detail.into_iter().map(String::into_bytes).collect(),
            url: warning.url,
            info: warning.source,
            ranges: warning.ranges,
        };
        let _: pb::WarnResponse = self.call("Warn", bridge_path!("Warn"), req).await?;
        Ok(true)
    }

    /// Hands the build result to BuildKit. Call once, then exit 0.
    pub async fn return_result(&self, result: FrontendResult) -> Result<(), GatewayError> {
        self.need(cap::RETURN, "Return")?;
        if matches!(result.refs, ResultRefs::Map(_)) {
            self.need(cap::RETURN_MAP, "returning per-platform results")?;
        }
        let deprecated_form = self.caps.as_ref().is_some_and(|c| !c.has_gateway(cap::PROTO_REF_ARRAY));
        let refs = match result.refs {
            ResultRefs::None => None,
            ResultRefs::Single(id) if deprecated_form => Some(pb::result::Refs::RefDeprecated(id)),
            ResultRefs::Single(id) => Some(pb::result::Refs::Ref(pb::Ref { id, def: Vec::new() })),
            ResultRefs::Map(m) if deprecated_form => {
                Some(pb::result::Refs::RefsDeprecated(pb::RefMapDeprecated { refs: m }))
            }
            ResultRefs::Map(m) => Some(pb::result::Refs::Refs(pb::RefMap {
                refs: m.into_iter().map(|(k, id)| (k, pb::Ref { id, def: Vec::new() })).collect(),
            })),
        };
        if !result.attestations.is_empty() {
            self.need(cap::ATTESTATIONS, "returning attestations")?;
        }
        let attestations =
            result.attestations.into_iter().map(|(k, attestation)| (k, pb::Attestations { attestation })).collect();
        let result = pb::Result { result: refs, metadata: result.metadata, attestations };
        let req = pb::ReturnRequest { result: Some(result), error: None };
        let _: pb::ReturnResponse = self.call("Return", bridge_path!("Return"), req).await?;
        Ok(())
    }

    /// Hands a build error to BuildKit, which shows it to the user. Call once, then exit 0.
    /// A status with code 0 (OK) is sent as Unknown, since BuildKit would drop it.
    pub async fn return_error(&self, mut status: pb::Status) -> Result<(), GatewayError> {
        self.need(cap::RETURN, "Return")?;
        if status.code == 0 {
            status.code = errors::code::UNKNOWN;
        }
        let req = pb::ReturnRequest { result: None, error: Some(status) };
        let _: pb::ReturnResponse = self.call("Return", bridge_path!("Return"), req).await?;
        Ok(())
    }

    /// Checks a gateway cap when caps are known (after Ping); without Ping, lets the daemon decide.
    fn need(&self, id: &str, what: &'static str) -> Result<(), GatewayError> {
        match &self.caps {
            Some(caps) => caps.require_gateway(id, what),
            None => Ok(()),
        }
    }

    async fn call<Req, Resp>(&self, method: &'static str, path: &'static str, req: Req) -> Result<Resp, GatewayError>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        // tonic reports its own encoding limit as a bare HTTP/2 reset; check it up front.
        let len = req.encoded_len();
        if len > transport::MAX_ENCODING_MESSAGE_SIZE {
            return Err(GatewayError::TooLarge {
                method,
                message: format!(
                    "request is {len} bytes, over decant's limit of {} bytes (BuildKit v0.8 accepts 4 MiB, v0.14+ 16 MiB)",
                    transport::MAX_ENCODING_MESSAGE_SIZE
                ),
            });
        }
        let mut grpc = self.grpc.clone();
        grpc.ready().await.map_err(|e| GatewayError::Closed { method, message: e.to_string() })?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let resp = grpc
            .unary(tonic::Request::new(req), PathAndQuery::from_static(path), codec)
            .await
            .map_err(|st| GatewayError::from_status(method, &st))?;
        Ok(resp.into_inner())
    }
}

fn solved_ref(resp: pb::SolveResponse) -> Result<SolvedRef, GatewayError> {
    let Some(result) = resp.result else {
        // Only the deprecated top-level ref (or nothing: an empty result).
        return Ok(SolvedRef { id: resp.r#ref, ..Default::default() });
    };
    let metadata = result.metadata;
    match result.result {
        Some(pb::result::Refs::Ref(r)) => Ok(SolvedRef { id: r.id, def: r.def, metadata }),
        Some(pb::result::Refs::RefDeprecated(id)) => Ok(SolvedRef { id, def: Vec::new(), metadata }),
        None => Ok(SolvedRef { id: resp.r#ref, def: Vec::new(), metadata }),
        Some(pb::result::Refs::Refs(_)) | Some(pb::result::Refs::RefsDeprecated(_)) => Err(GatewayError::Protocol {
            method: "Solve",
            detail: "expected a single ref, got a map of refs".to_string(),
        }),
    }
}
