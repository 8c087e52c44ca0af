//! SBOMs. With `--sbom=true` (opt `attest:sbom`) decant returns SBOM attestations of its own,
//! as the Dockerfile frontend does: per platform, the scanner image runs over the target's
//! filesystem, with the build context (`BUILDKIT_SBOM_SCAN_CONTEXT`) and other stages
//! (`BUILDKIT_SBOM_SCAN_STAGE`) as extras when the spec asks (the plan chooses them, see
//! [`crate::plan::Plan::sbom_targets`]). BuildKit then skips its own scan of the final image.
//! A daemon that cannot take a frontend's attestations gets a build warning saying what is
//! not scanned, never silence.

use std::collections::BTreeMap;

use super::client::cap;
use super::failure::BuildError;
use super::opts::SbomOpts;
use super::{pb, Caps, Client, FrontendOpts, FrontendResult, ResolveImageParams, SolveParams, Warning};
use crate::llb;
use crate::lower::sbom::{ScanTargets, Scanner, CORE_NAME};
use crate::plan::{Platform, SbomTargets};
use crate::sourcemap::LineRange;

/// `Attestation.metadata` key of the attestation's reason.
const REASON_KEY: &str = "reason";
/// The reason of an SBOM.
const REASON_SBOM: &str = "sbom";
/// `Attestation.metadata` key naming the scan's core source.
const SBOM_CORE_KEY: &str = "sbom-core";
/// The in-toto predicate type of an SPDX document.
pub(crate) const PREDICATE_SPDX: &str = "https://spdx.dev/Document";

/// What the build does about an SBOM the client asked for.
pub(crate) enum Sbom {
    /// None asked for.
    None,
    /// Asked for, but this daemon cannot take a frontend's attestations: a warning only.
    Unsupported,
    /// decant scans with this scanner.
    Scan(Box<Scanner>),
}

/// Reads `attest:sbom` and, when the daemon can take attestations, resolves the scanner image
/// for the build platform. A scanner that cannot be resolved, or that has no command, fails
/// the build.
pub(crate) async fn prepare(
    client: &Client,
    opts: &FrontendOpts,
    caps: &Caps,
    build_platform: &Platform,
) -> Result<Sbom, BuildError> {
    let Some(SbomOpts { generator, params }) = opts.sbom()? else { return Ok(Sbom::None) };
    if !caps.has_gateway(cap::ATTESTATIONS) {
        return Ok(Sbom::Unsupported);
    }
    let params_resolve = ResolveImageParams {
        reference: generator.to_string(),
        platform: Some(pb::Platform::from(build_platform)),
        resolve_mode: opts.image_resolve_mode()?,
        log_name: Some(format!("[internal] load metadata for {generator}")),
        ..Default::default()
    };
    let resolved = client
        .resolve_image_config(params_resolve)
        .await
        .map_err(|e| BuildError::Other(format!("cannot resolve the SBOM scanner {generator}: {e}")))?;
    let answer = super::sources::answer(&generator, &format!("SBOM scanner {generator}"), &resolved)?;
    let c = &answer.config.config;
    if c.entrypoint.iter().chain(c.cmd.iter()).all(Vec::is_empty) {
        return Err(BuildError::Other(format!("scanner {generator} does not have cmd")));
    }
    let reference = generator.resolved(answer.reference.as_ref(), answer.digest.as_ref());
    Ok(Sbom::Scan(Box::new(Scanner { reference, platform: build_platform.clone(), config: answer.config, params })))
}

/// Scans every platform's target at once and adds each SBOM to `result`, under the key
/// (platform id) it comes with.
pub(crate) async fn attest(
    client: &Client,
    scanner: &Scanner,
    targets: Vec<(String, ScanTargets)>,
    mut result: FrontendResult,
) -> Result<FrontendResult, BuildError> {
    let mut solves = tokio::task::JoinSet::new();
    for (id, scan) in targets {
        let state = scanner.scan(&id, &scan).map_err(|e| BuildError::Other(e.to_string()))?;
        let params = SolveParams { definition: llb::marshal_bytes(&state), ..Default::default() };
        let client = client.clone();
        solves.spawn(async move { (id, client.solve(params).await) });
    }
    let mut refs = BTreeMap::new();
    while let Some(joined) = solves.join_next().await {
        let (id, solved) = joined.map_err(|e| BuildError::Other(format!("an SBOM scan task failed: {e}")))?;
        refs.insert(id, solved?.id);
    }
    for (id, ref_id) in refs {
        result = result.with_attestation(id, attestation(ref_id));
    }
    Ok(result)
}

/// The attestation of a scan whose output is the ref `ref_id`: a bundle of SPDX documents.
fn attestation(ref_id: String) -> pb::Attestation {
    pb::Attestation {
        kind: pb::AttestationKind::Bundle as i32,
        metadata: BTreeMap::from([
            (REASON_KEY.to_string(), REASON_SBOM.as_bytes().to_vec()),
            (SBOM_CORE_KEY.to_string(), CORE_NAME.as_bytes().to_vec()),
        ]),
        r#ref: Some(pb::Ref { id: ref_id, def: Vec::new() }),
        in_toto_predicate_type: PREDICATE_SPDX.to_string(),
        ..Default::default()
    }
}

/// The warning for a build whose SBOM this daemon cannot take: what decant does not scan.
pub(crate) fn unsupported_warning(wanted: &SbomTargets) -> String {
    let mut what = vec!["the image".to_string()];
    if wanted.context {
        what.push("the build context".into());
    }
    what.extend(wanted.stages.iter().map(|s| format!("stage `{s}`")));
    let what = match what.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    format!(
        "this BuildKit cannot take a frontend's attestations (no capability `{}`): decant returns no SBOM, so {what} {} not scanned by decant",
        cap::ATTESTATIONS,
        if wanted.context || !wanted.stages.is_empty() { "are" } else { "is" }
    )
}

/// Sends the SBOM warning (daemons with `gateway.warnings`; on stderr for the others),
/// attached to the spec's load vertex at the spec's first line.
pub(crate) async fn warn_unsupported(client: &Client, wanted: &SbomTargets, spec: &crate::spec::Spec, vertex: &str) {
    let message = unsupported_warning(wanted);
    if !client.caps().is_some_and(|c| c.has_gateway(cap::WARNINGS)) {
        eprintln!("decant: {message}");
        return;
    }
    let warning = Warning {
        vertex_digest: vertex.to_string(),
        level: 1,
        short: format!("sbom: {message}"),
        detail: Vec::new(),
        url: crate::lint::rule_url("sbom"),
        source: Some(pb::SourceInfo {
            filename: spec.file.name.clone(),
            data: spec.file.text.as_bytes().to_vec(),
            language: "yaml".into(),
            ..Default::default()
        }),
        ranges: vec![LineRange::new((1, 1), (1, 1)).into()],
    };
    if let Err(e) = client.warn(warning).await {
        eprintln!("decant: sending a warning failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_names_what_is_not_scanned() {
        let w = unsupported_warning(&SbomTargets::default());
        assert!(w.contains("so the image is not scanned"), "{w}");
        assert!(w.contains("reference.attestations"), "{w}");
        let w = unsupported_warning(&SbomTargets { context: true, stages: vec!["deps".into(), "tools".into()] });
        assert!(w.contains("the image, the build context, stage `deps` and stage `tools` are not scanned"), "{w}");
    }

    #[test]
    fn an_sbom_attestation_is_a_bundle_of_spdx() {
        let a = attestation("r9".into());
        assert_eq!(a.kind, pb::AttestationKind::Bundle as i32);
        assert_eq!(a.metadata["reason"], b"sbom");
        assert_eq!(a.metadata["sbom-core"], b"sbom");
        assert_eq!(a.in_toto_predicate_type, "https://spdx.dev/Document");
        assert_eq!(a.r#ref.unwrap().id, "r9");
    }
}
