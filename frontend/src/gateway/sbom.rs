//! SBOMs. With `--sbom=true` (opt `attest:sbom`) a frontend may return its own SBOM
//! attestations, as the Dockerfile frontend does (scanning the build context with
//! `BUILDKIT_SBOM_SCAN_CONTEXT` and other stages with `BUILDKIT_SBOM_SCAN_STAGE`). decant
//! returns none, so BuildKit scans the final image only. decant says so in a build warning
//! instead of leaving it silent.

use super::{pb, Client, FrontendOpts, Warning};
use crate::sourcemap::LineRange;

/// The build args that ask the Dockerfile frontend to scan more than the final image.
const SCAN_ARGS: &[&str] = &["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// The warning for this build, if it asks for an SBOM.
pub(crate) fn sbom_warning(opts: &FrontendOpts) -> Option<String> {
    opts.get("attest:sbom")?;
    let args = opts.build_args();
    let asked: Vec<&str> = SCAN_ARGS.iter().copied().filter(|a| args.get(*a).is_some_and(|v| !v.is_empty())).collect();
    let base = "decant returns no SBOM of its own: BuildKit scans only the final image";
    Some(if asked.is_empty() {
        format!("{base}, not the build context or other stages")
    } else {
        format!(
            "{base}; {} not supported by decant, so the build context and other stages are not scanned",
            asked.join(" and ")
        )
    })
}

/// Sends the SBOM warning (daemons with `gateway.warnings`, which all daemons with
/// attestations have), attached to the spec's load vertex at the spec's first line.
pub(crate) async fn warn_sbom(client: &Client, opts: &FrontendOpts, spec: &crate::spec::Spec, vertex: &str) {
    let Some(message) = sbom_warning(opts) else { return };
    if !client.caps().is_some_and(|c| c.has_gateway(super::client::cap::WARNINGS)) {
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

    fn opts(pairs: &[(&str, &str)]) -> FrontendOpts {
        FrontendOpts::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn warns_only_when_an_sbom_is_asked_for() {
        assert_eq!(sbom_warning(&opts(&[("build-arg:BUILDKIT_SBOM_SCAN_STAGE", "true")])), None);
        let w = sbom_warning(&opts(&[("attest:sbom", "")])).unwrap();
        assert!(w.contains("only the final image"), "{w}");
        let w = sbom_warning(&opts(&[
            ("attest:sbom", "generator=docker/buildkit-syft-scanner"),
            ("build-arg:BUILDKIT_SBOM_SCAN_CONTEXT", "true"),
            ("build-arg:BUILDKIT_SBOM_SCAN_STAGE", "true"),
        ]))
        .unwrap();
        assert!(w.contains("BUILDKIT_SBOM_SCAN_CONTEXT and BUILDKIT_SBOM_SCAN_STAGE not supported"), "{w}");
    }
}
