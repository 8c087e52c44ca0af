//! [`BuildError`]: why a frontend run failed, and where in the spec when that is known. Every
//! phase of a run (reading the sources, planning, lowering and resolving, solving, the
//! result) and every subrequest fails with one; it becomes the `google.rpc.Status` handed to
//! `Return` in one place, `From<BuildError> for pb::Status`, which picks the gRPC code.

use super::errors::{self, code, ErrorSource, GatewayError};
use super::{pb, OptsError};
use crate::diag::Diagnostics;
use crate::sourcemap::LineRange;

/// A failed frontend run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A gateway call failed: the daemon's status (and its typed details) is handed back.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// Solving the spec's LLB failed: BuildKit's source map points at the spec line, which
    /// the message names too.
    #[error("{error}")]
    Solve {
        /// The failed call.
        error: GatewayError,
        /// The spec's file name.
        spec: String,
    },
    /// A frontend option is invalid.
    #[error(transparent)]
    Opts(#[from] OptsError),
    /// Something else the client passed (an input, a context, a value) cannot be used.
    #[error("{0}")]
    InvalidArgument(String),
    /// The spec has errors, each located (`file:line:column`, with its source range).
    #[error("{0}")]
    Spec(#[from] Diagnostics),
    /// No spec file could be read.
    #[error("cannot read the build spec ({candidates}): {detail}")]
    SpecNotFound {
        /// The names tried, joined with ` or `.
        candidates: String,
        /// Why the last one could not be read.
        detail: String,
    },
    /// This BuildKit lacks a capability the build needs.
    #[error("{0}")]
    Unimplemented(String),
    /// The client requires a frontend capability decant lacks (`frontend.caps`).
    #[error("unsupported frontend capability {0}")]
    FrontendCap(String),
    /// A subrequest (`requestid`) decant does not answer.
    #[error("unsupported request {0}")]
    Subrequest(String),
    /// Anything else: a task that failed, a reply that cannot be used.
    #[error("{0}")]
    Other(String),
}

impl From<BuildError> for pb::Status {
    fn from(e: BuildError) -> pb::Status {
        match e {
            BuildError::Gateway(e) => e.to_status(),
            BuildError::Solve { error, spec } => with_spec_location(error.to_status(), &spec),
            BuildError::Spec(d) => diagnostics_status(&d),
            BuildError::FrontendCap(name) => errors::unsupported_frontend_cap(&name),
            BuildError::Subrequest(name) => errors::unsupported_subrequest(&name),
            e @ (BuildError::Opts(_) | BuildError::InvalidArgument(_)) => {
                errors::status(code::INVALID_ARGUMENT, e.to_string())
            }
            e @ BuildError::SpecNotFound { .. } => errors::status(code::NOT_FOUND, e.to_string()),
            e @ BuildError::Unimplemented(_) => errors::status(code::UNIMPLEMENTED, e.to_string()),
            e @ BuildError::Other(_) => errors::status(code::UNKNOWN, e.to_string()),
        }
    }
}

/// A status for spec errors: every diagnostic as a `file:line:col` line, each with its source
/// range attached so BuildKit clients print the snippet.
fn diagnostics_status(d: &Diagnostics) -> pb::Status {
    let errors: Vec<_> = d.errors().collect();
    let message = errors.iter().map(|e| d.line_of(e)).collect::<Vec<_>>().join("\n");
    let sources: Vec<ErrorSource> = errors
        .iter()
        .filter_map(|e| {
            let range = LineRange::of(&d.file, e.span?);
            Some(ErrorSource::yaml(d.file.name.clone(), d.file.text.as_bytes().to_vec(), range))
        })
        .collect();
    errors::spec_error(message, &sources)
}

/// Prefixes a failed solve's message with the spec location BuildKit attached to it (from our
/// source map), for clients that print the frontend's message. Docker 20.10 prints BuildKit's
/// own error instead; there the vertex name (`... (decant.yaml:LINE)`) carries the line.
fn with_spec_location(mut status: pb::Status, spec_name: &str) -> pb::Status {
    let line = status.details.iter().find_map(|d| {
        if d.type_url != errors::SOURCE_TYPE_URL {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&d.value).ok()?;
        let range = v.get("ranges")?.get(0)?;
        let start = range.get("start").or_else(|| range.get("Start"))?;
        start.get("line").or_else(|| start.get("Line"))?.as_i64()
    });
    if let Some(line) = line {
        status.message = format!("{spec_name}:{line}: {}", status.message);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_solves_name_the_spec_line() {
        let detail = pb::Any {
            type_url: errors::SOURCE_TYPE_URL.into(),
            value: br#"{"info":{"filename":"decant.yaml"},"ranges":[{"start":{"Line":7,"Character":9},"end":{"Line":7,"Character":15}}]}"#.to_vec(),
        };
        let status = pb::Status { code: 2, message: "exit code: 3".into(), details: vec![detail] };
        assert_eq!(with_spec_location(status, "decant.yaml").message, "decant.yaml:7: exit code: 3");
    }

    #[test]
    fn each_kind_gets_its_code() {
        let st = |e: BuildError| pb::Status::from(e);
        assert_eq!(st(BuildError::InvalidArgument("x".into())).code, code::INVALID_ARGUMENT);
        let missing = st(BuildError::SpecNotFound { candidates: "a or b".into(), detail: "gone".into() });
        assert_eq!(
            (missing.code, missing.message.as_str()),
            (code::NOT_FOUND, "cannot read the build spec (a or b): gone")
        );
        assert_eq!(st(BuildError::Unimplemented("old".into())).code, code::UNIMPLEMENTED);
        assert_eq!(st(BuildError::Other("x".into())).code, code::UNKNOWN);
        assert_eq!(st(BuildError::FrontendCap("c".into())), errors::unsupported_frontend_cap("c"));
        assert_eq!(st(BuildError::Subrequest("r".into())), errors::unsupported_subrequest("r"));
    }
}
