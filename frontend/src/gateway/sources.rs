//! Where files come from, on the gateway side: the frontend caps a client requires, the
//! client's frontend inputs (spec file, build context, `input:` contexts), and named contexts
//! (`context:<name>` options) turned into LLB states with their image configs.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use super::failure::BuildError;
use super::{pb, Client, FrontendOpts, ResolveImageParams, ResolveMode, ResolvedImage};
use crate::image::ImageConfig;
use crate::llb::pb::Definition;
use crate::llb::{self, State};
use crate::lower::contexts::{context_state, ContextOpts};
use crate::lower::{ContextValue, NamedContext};
use crate::plan::{Plan, Platform};
use crate::reference::{Digest, ImageRef};

/// The frontend capabilities decant implements; the frontend image's
/// `moby.buildkit.frontend.caps` label lists exactly these.
pub const IMPLEMENTED_FRONTEND_CAPS: &[&str] = &[
    "moby.buildkit.frontend.inputs",
    "moby.buildkit.frontend.subrequests",
    "moby.buildkit.frontend.contexts",
    "moby.buildkit.frontend.gitquerystring",
];

/// Fails on the first capability the client requires (`frontend.caps`) that decant lacks,
/// unless the client marked it `+forward`.
pub fn check_frontend_caps(opts: &FrontendOpts) -> Result<(), BuildError> {
    for cap in opts.frontend_caps() {
        if cap.suffix != "forward" && !IMPLEMENTED_FRONTEND_CAPS.contains(&cap.name.as_str()) {
            return Err(BuildError::FrontendCap(cap.name.clone()));
        }
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> BuildError {
    BuildError::InvalidArgument(message.into())
}

/// The client's frontend inputs, decoded (empty when the daemon lacks `frontend.inputs`).
pub async fn inputs(client: &Client) -> Result<BTreeMap<String, Definition>, BuildError> {
    if !client.caps().is_some_and(|c| c.has_gateway(super::client::cap::FRONTEND_INPUTS)) {
        return Ok(BTreeMap::new());
    }
    decode_inputs(client.inputs().await?)
}

/// Decodes the `Inputs` reply: definitions by name.
pub fn decode_inputs(raw: BTreeMap<String, Vec<u8>>) -> Result<BTreeMap<String, Definition>, BuildError> {
    raw.into_iter()
        .map(|(name, bytes)| {
            llb::decode_definition(&bytes)
                .map(|d| (name.clone(), d))
                .map_err(|e| invalid(format!("frontend input `{name}` is not a valid LLB definition: {e}")))
        })
        .collect()
}

/// The build context passed as a frontend input (`context`, or the `contextkey` name).
pub fn context_input(opts: &FrontendOpts, inputs: &BTreeMap<String, Definition>) -> Result<Option<State>, BuildError> {
    let key = opts.context_key();
    match inputs.get(key) {
        None => Ok(None),
        Some(def) => State::from_definition(def).map(Some).map_err(|e| invalid(format!("frontend input `{key}`: {e}"))),
    }
}

/// The names of the named contexts given (platform suffixes dropped).
pub fn named_context_names(opts: &FrontendOpts) -> Result<BTreeSet<String>, BuildError> {
    let all = opts.named_contexts()?;
    Ok(all.into_iter().map(|c| c.name).collect())
}

/// The value of named context `name` for `platform`: `context:<name>::<platform>` wins over
/// `context:<name>`.
fn value_for(opts: &FrontendOpts, name: &str, platform: &Platform) -> Result<Option<String>, BuildError> {
    let all = opts.named_contexts()?;
    let mut generic = None;
    for c in all.into_iter().filter(|c| c.name == name) {
        match &c.platform {
            Some(p) if p.id() == platform.id() => return Ok(Some(c.value)),
            Some(_) => {}
            None => generic = Some(c.value),
        }
    }
    Ok(generic)
}

/// The image config in `input-metadata:<input>` (`{"containerimage.config": <base64>}`).
fn input_config(opts: &FrontendOpts, input: &str) -> Result<Option<ImageConfig>, BuildError> {
    let Some(raw) = opts.get(&format!("input-metadata:{input}")) else { return Ok(None) };
    let bad = |why: String| invalid(format!("input-metadata:{input}: {why}"));
    let map: BTreeMap<String, String> =
        serde_json::from_str(raw).map_err(|e| bad(format!("not a JSON map of base64 values: {e}")))?;
    let Some(b64) = map.get("containerimage.config") else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| bad(format!("containerimage.config is not base64: {e}")))?;
    ImageConfig::from_json(&bytes)
        .map(Some)
        .map_err(|e| bad(format!("containerimage.config is not an image config: {e}")))
}

/// What BuildKit answered when resolving the image `requested`, read once for every caller.
pub(crate) struct Answer {
    /// The image config.
    pub config: ImageConfig,
    /// The manifest digest to pin to: only a well-formed one (an engine resolving a local-only
    /// image sends none).
    pub digest: Option<Digest>,
    /// The reference BuildKit answered (v0.12+; a source policy may have rewritten it).
    pub reference: Option<ImageRef>,
}

/// Reads `resolved`, the answer for `requested`; `what` names the image in errors (`image
/// alpine:3.20`, `SBOM scanner ...`).
pub(crate) fn answer(requested: &ImageRef, what: &str, resolved: &ResolvedImage) -> Result<Answer, BuildError> {
    let config = ImageConfig::from_json(&resolved.config)
        .map_err(|e| BuildError::Other(format!("the config of {what} is not valid JSON: {e}")))?;
    let reference = match resolved.reference.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => Some(ImageRef::parse(text).map_err(|e| {
            BuildError::Other(format!(
                "BuildKit resolved image {requested} to {text:?}, which is not an image reference: {e}"
            ))
        })?),
    };
    Ok(Answer { config, digest: Digest::parse(&resolved.digest).ok(), reference })
}

/// Loads every named context the plan reads.
pub async fn named_contexts(
    client: &Client,
    opts: &FrontendOpts,
    plan: &Plan,
    inputs: &BTreeMap<String, Definition>,
    resolve_mode: ResolveMode,
) -> Result<BTreeMap<(String, Platform), NamedContext>, BuildError> {
    let mut out = BTreeMap::new();
    let named = plan.named_contexts();
    // What the stages read of each named context, looked for only when there is one.
    let reads = if named.is_empty() { Default::default() } else { plan.local_reads() };
    for (name, platform) in named {
        let raw = value_for(opts, &name, &platform)?
            .ok_or_else(|| invalid(format!("named context `{name}` has no value for platform {}", platform.id())))?;
        let value = ContextValue::parse(&raw).map_err(|e| invalid(format!("context:{name}: {e}")))?;
        let mut copts = ContextOpts {
            session_id: Some(opts.session_id().to_string()).filter(|s| !s.is_empty()),
            resolve_mode,
            ..Default::default()
        };
        let (state, config) = match &value {
            ContextValue::Input(input) => {
                let def = inputs
                    .get(input)
                    .ok_or_else(|| invalid(format!("context:{name}: the client passed no frontend input `{input}`")))?;
                let state = State::from_definition(def)
                    .map_err(|e| invalid(format!("context:{name}: input `{input}`: {e}")))?;
                (state, input_config(opts, input)?)
            }
            ContextValue::Image(reference) => {
                let params = ResolveImageParams {
                    reference: reference.to_string(),
                    platform: Some(pb::Platform::from(&platform)),
                    resolve_mode,
                    log_name: Some(format!("[context {name}] load metadata for {reference}")),
                    ..Default::default()
                };
                let resolved = client.resolve_image_config(params).await?;
                let answer = answer(reference, &format!("image {reference} (context {name})"), &resolved)?;
                (copts.reference, copts.digest) = (answer.reference, answer.digest);
                let state = context_state(&name, &value, &platform, &copts)
                    .map_err(|e| invalid(format!("context:{name}: {e}")))?;
                (state, Some(answer.config))
            }
            // As the Dockerfile frontend: the image's config comes from the client's store, under
            // the context's name pinned by digest.
            ContextValue::OciLayout { store, digest } => {
                let state = context_state(&name, &value, &platform, &copts)
                    .map_err(|e| invalid(format!("context:{name}: {e}")))?;
                let dummy =
                    ImageRef::parse(&name).map(|r| r.name).unwrap_or_else(|_| "docker.io/library/context".into());
                let reference = ImageRef { name: dummy, tag: None, digest: Some(digest.to_string()) };
                let params = ResolveImageParams {
                    reference: reference.to_string(),
                    platform: Some(pb::Platform::from(&platform)),
                    log_name: Some(format!("[context {name}] load metadata for {reference}")),
                    oci_layout: Some((opts.session_id().to_string(), store.clone())),
                    ..Default::default()
                };
                let resolved = client.resolve_image_config(params).await?;
                let answer = answer(&reference, &format!("OCI layout image (context {name})"), &resolved)?;
                (state, Some(answer.config))
            }
            ContextValue::Local(local) => {
                copts.session_id = Some(opts.session_id_for(local).to_string()).filter(|s| !s.is_empty());
                copts.follow_paths = reads.named(&name).follow_paths();
                (
                    context_state(&name, &value, &platform, &copts)
                        .map_err(|e| invalid(format!("context:{name}: {e}")))?,
                    None,
                )
            }
            _ => (
                context_state(&name, &value, &platform, &copts).map_err(|e| invalid(format!("context:{name}: {e}")))?,
                None,
            ),
        };
        out.insert((name, platform), NamedContext { state, config });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::errors::{code, FRONTEND_CAP_TYPE_URL};

    fn opts(pairs: &[&str]) -> FrontendOpts {
        FrontendOpts::from_map(
            pairs
                .iter()
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect(),
        )
    }

    #[test]
    fn required_caps() {
        assert!(check_frontend_caps(&opts(&[])).is_ok());
        assert!(check_frontend_caps(&opts(&[
            "frontend.caps=moby.buildkit.frontend.contexts,moby.buildkit.frontend.inputs"
        ]))
        .is_ok());
        assert!(check_frontend_caps(&opts(&["frontend.caps=moby.buildkit.frontend.gitquerystring+forward"])).is_ok());
        assert!(check_frontend_caps(&opts(&[
            "frontend.caps=moby.buildkit.frontend.subrequests,moby.buildkit.frontend.gitquerystring",
        ]))
        .is_ok());
        let err = check_frontend_caps(&opts(&[
            "frontend.caps=moby.buildkit.frontend.subrequests,moby.buildkit.frontend.nosuch",
        ]))
        .unwrap_err();
        let err = pb::Status::from(err);
        assert_eq!(err.code, code::UNIMPLEMENTED);
        assert_eq!(err.message, "unsupported frontend capability moby.buildkit.frontend.nosuch");
        assert_eq!(err.details[0].type_url, FRONTEND_CAP_TYPE_URL);
    }

    /// The root Dockerfile's label lists exactly the caps implemented.
    #[test]
    fn dockerfile_label_lists_implemented_caps() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Dockerfile");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find("moby.buildkit.frontend.caps=\"").expect("label present")
            + "moby.buildkit.frontend.caps=\"".len();
        let value = &text[start..start + text[start..].find('"').unwrap()];
        let mut label: Vec<&str> = value.split(',').collect();
        let mut ours = IMPLEMENTED_FRONTEND_CAPS.to_vec();
        label.sort();
        ours.sort();
        assert_eq!(label, ours);
    }

    #[test]
    fn platform_specific_value_wins() {
        let o = opts(&[
            "context:base=docker-image://alpine:3.20",
            "context:base::linux/arm64=docker-image://arm64v8/alpine:3.20",
        ]);
        let arm = Platform::parse("linux/arm64").unwrap();
        let amd = Platform::parse("linux/amd64").unwrap();
        assert_eq!(value_for(&o, "base", &arm).unwrap().as_deref(), Some("docker-image://arm64v8/alpine:3.20"));
        assert_eq!(value_for(&o, "base", &amd).unwrap().as_deref(), Some("docker-image://alpine:3.20"));
        assert_eq!(named_context_names(&o).unwrap(), BTreeSet::from(["base".to_string()]));
    }

    #[test]
    fn input_metadata_config() {
        let cfg = base64::engine::general_purpose::STANDARD
            .encode(br#"{"os":"linux","architecture":"amd64","config":{"Env":["A=1"],"WorkingDir":"/w"}}"#);
        let o = opts(&[&format!(r#"input-metadata:base={{"containerimage.config":"{cfg}"}}"#)]);
        let c = input_config(&o, "base").unwrap().unwrap();
        assert_eq!(c.config.working_dir, "/w");
        assert_eq!(c.config.env, vec!["A=1".to_string()]);
        assert!(input_config(&o, "other").unwrap().is_none());
        assert!(input_config(&opts(&["input-metadata:x=nope"]), "x").is_err());
    }
}
