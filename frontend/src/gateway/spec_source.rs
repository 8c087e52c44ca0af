//! The spec file and the context's `.dockerignore`, read through the gateway: the local
//! source (or the client's input) that holds the spec is solved, and the first candidate
//! name that exists is read, with its own `<name>.dockerignore`.

use std::collections::BTreeMap;

use super::failure::BuildError;
use super::{Client, FrontendOpts, GatewayError, SolveParams, SolvedRef};
use crate::llb::{self, OpMeta};

/// Names tried, in order, when the client does not say which file to read.
const DEFAULT_FILENAMES: &[&str] = &["decant.yaml", "Dockerfile"];

/// The spec as read from the client.
pub(crate) struct SpecFile {
    pub name: String,
    pub text: String,
    /// `<name>.dockerignore` beside the spec, which wins over the context's `.dockerignore`.
    pub ignore: Option<String>,
    /// Digest of the vertex that loaded the spec (where warnings attach).
    pub vertex: String,
}

/// Solves the `dockerfile` local source (or the client's `dockerfile` input) and reads the spec.
pub(crate) async fn read_spec(
    client: &Client,
    opts: &FrontendOpts,
    inputs: &BTreeMap<String, crate::llb::pb::Definition>,
) -> Result<SpecFile, BuildError> {
    let source = SpecSource::new(opts, inputs)?;
    let solved = client.solve(source.solve_params()).await;
    source.read(client, solved).await
}

/// Where the spec is read from: the names to try and the definition that loads them.
pub(crate) struct SpecSource {
    candidates: Vec<String>,
    definition: crate::llb::pb::Definition,
}

impl SpecSource {
    /// The `dockerfile` local source (following every candidate name and its `.dockerignore`),
    /// or the client's `dockerfile` input when `inputs` has one.
    pub(crate) fn new(
        opts: &FrontendOpts,
        inputs: &BTreeMap<String, crate::llb::pb::Definition>,
    ) -> Result<Self, BuildError> {
        let explicit = opts.get("filename").filter(|f| !f.is_empty() && *f != ".");
        let candidates: Vec<String> = match explicit {
            Some(f) => vec![f.to_string()],
            None => DEFAULT_FILENAMES.iter().map(|s| s.to_string()).collect(),
        };
        let key = opts.dockerfile_key();
        // The client may pass the spec's directory as a frontend input instead of a local; with
        // `dockerfilekey` the spec comes from that local whatever the inputs hold (buildx sets it
        // for `dockerfile-inline` and stdin specs while the context input holds something else).
        if let Some(def) = inputs.get(key).filter(|_| !opts.has_dockerfile_key()) {
            return Ok(SpecSource { candidates, definition: def.clone() });
        }
        let mut follow: Vec<String> = Vec::new();
        for c in &candidates {
            follow.push(c.clone());
            follow.push(format!("{c}.dockerignore"));
        }
        let local = llb::local(
            key,
            llb::LocalOpts {
                session_id: Some(opts.session_id_for(key).to_string()).filter(|s| !s.is_empty()),
                follow_paths: follow,
                shared_key_hint: Some(key.to_string()),
                ..Default::default()
            },
            OpMeta::named(format!("[internal] load build definition from {}", candidates[0])),
        )
        .map_err(|e| BuildError::InvalidArgument(e.to_string()))?;
        Ok(SpecSource { candidates, definition: llb::marshal(&local) })
    }

    pub(crate) fn solve_params(&self) -> SolveParams {
        SolveParams { definition: llb::encode(&self.definition), ..Default::default() }
    }

    /// Reads the first candidate that exists from the solved source, with its `.dockerignore`
    /// (both at once).
    pub(crate) async fn read(
        &self,
        client: &Client,
        solved: Result<SolvedRef, GatewayError>,
    ) -> Result<SpecFile, BuildError> {
        // Warnings attach to the vertex that loaded the spec (the last op before the terminal one).
        let def = &self.definition.def;
        let vertex = def.len().checked_sub(2).map(|i| llb::digest_of(&def[i])).unwrap_or_default();
        let solved = solved?;
        let mut last_err = None;
        for name in &self.candidates {
            let ignore_name = format!("{name}.dockerignore");
            let (spec, ignore) = tokio::join!(
                client.read_file(&solved.id, name, None),
                client.read_file(&solved.id, &ignore_name, None)
            );
            match spec {
                Ok(bytes) => {
                    let text = crate::spec::decode_text(name, bytes)?;
                    let ignore = ignore.ok().map(|b| String::from_utf8_lossy(&b).into_owned());
                    return Ok(SpecFile { name: name.clone(), text, ignore, vertex });
                }
                Err(e) => last_err = Some(e),
            }
        }
        let detail = last_err.map(|e| e.to_string()).unwrap_or_default();
        Err(BuildError::SpecNotFound { candidates: self.candidates.join(" or "), detail })
    }
}

/// Solves the context's `.dockerignore` local source (lazily: nothing is sent before a read);
/// `None` when that fails.
pub(crate) async fn solve_dockerignore_source(client: &Client, opts: &FrontendOpts) -> Option<SolvedRef> {
    let ctx = opts.context_key();
    let local = llb::local(
        ctx,
        llb::LocalOpts {
            session_id: Some(opts.session_id_for(ctx).to_string()).filter(|s| !s.is_empty()),
            follow_paths: vec![".dockerignore".into()],
            shared_key_hint: Some(format!("{ctx}-.dockerignore")),
            ..Default::default()
        },
        OpMeta::named("[internal] load .dockerignore"),
    )
    .ok()?;
    client.solve(SolveParams { definition: llb::marshal_bytes(&local), ..Default::default() }).await.ok()
}

/// The context's `.dockerignore` patterns from its solved source (none when it has no such file).
pub(crate) async fn read_dockerignore(client: &Client, solved: &SolvedRef) -> Vec<String> {
    match client.read_file(&solved.id, ".dockerignore", None).await {
        Ok(bytes) => crate::dockerignore::parse(&String::from_utf8_lossy(&bytes)),
        Err(_) => Vec::new(),
    }
}
