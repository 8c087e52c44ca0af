//! Error conversion in both directions:
//!
//! * [`GatewayError`]: a failed gateway call (transport, daemon status, missing capability),
//!   naming the method, with the daemon's status kept so it can be handed back through `Return`.
//! * Builders for the `google.rpc.Status` a frontend passes to `Return`: a spec error with a
//!   source snippet ([`spec_error`]), an unsupported subrequest ([`unsupported_subrequest`]),
//!   an unsupported frontend capability ([`unsupported_frontend_cap`]).
//!
//! BuildKit decodes typed details from `google.protobuf.Any` values whose type URL is
//! `github.com/moby/buildkit/errdefs.<Type>+json`, with a JSON body (Go `encoding/json` of the
//! Go proto structs). The JSON field names used here were checked against BuildKit's
//! `solver/errdefs` and `solver/pb` generated types at v0.8.3 and v0.32.2:
//! `errdefs.Source` = `{"info": pb.SourceInfo, "ranges": [pb.Range]}`;
//! `pb.SourceInfo` = `{"filename","data"(base64),"definition","language"(v0.12+)}`;
//! `pb.Range` = `{"start","end"}`; `pb.Position` = `{"line","character"}` (v0.8 spells them
//! `Line`/`Character`; Go's JSON decoder matches keys case-insensitively, and ignores unknown
//! keys such as `language` on old daemons).

use base64::Engine as _;
use prost::Message as _;

use super::pb;
use crate::sourcemap::LineRange;

/// gRPC status codes used when building a [`pb::Status`].
pub mod code {
    /// Unknown: the code BuildKit itself uses for ordinary build errors; it prints the bare message.
    pub const UNKNOWN: i32 = 2;
    /// InvalidArgument.
    pub const INVALID_ARGUMENT: i32 = 3;
    /// NotFound.
    pub const NOT_FOUND: i32 = 5;
    /// Unimplemented: used for unsupported frontend capabilities.
    pub const UNIMPLEMENTED: i32 = 12;
}

/// Type URL prefix of BuildKit's typed error details.
pub const ERRDEFS_URL_PREFIX: &str = "github.com/moby/buildkit/errdefs.";
/// Type URL of an error source (snippet) detail.
pub const SOURCE_TYPE_URL: &str = "github.com/moby/buildkit/errdefs.Source+json";
/// Type URL of an unsupported-subrequest detail.
pub const SUBREQUEST_TYPE_URL: &str = "github.com/moby/buildkit/errdefs.Subrequest+json";
/// Type URL of an unsupported-frontend-capability detail.
pub const FRONTEND_CAP_TYPE_URL: &str = "github.com/moby/buildkit/errdefs.FrontendCap+json";

/// A source file region an error points at; BuildKit prints it as a snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorSource {
    /// File name as shown to the user (e.g. `decant.yaml`).
    pub filename: String,
    /// Full file contents.
    pub data: Vec<u8>,
    /// Language, e.g. `yaml` (used by newer clients; empty = omitted).
    pub language: String,
    /// Ranges to mark; lines are 1-based (BuildKit prints nothing for line 0).
    pub ranges: Vec<pb::Range>,
}

impl ErrorSource {
    /// A YAML source with one range.
    pub fn yaml(filename: impl Into<String>, data: impl Into<Vec<u8>>, range: LineRange) -> ErrorSource {
        ErrorSource {
            filename: filename.into(),
            data: data.into(),
            language: "yaml".to_string(),
            ranges: vec![range.into()],
        }
    }

    /// The `errdefs.Source+json` detail for this source.
    pub fn to_any(&self) -> pb::Any {
        let mut info = serde_json::Map::new();
        info.insert("filename".into(), self.filename.clone().into());
        info.insert("data".into(), base64::engine::general_purpose::STANDARD.encode(&self.data).into());
        if !self.language.is_empty() {
            info.insert("language".into(), self.language.clone().into());
        }
        let ranges: Vec<serde_json::Value> = self.ranges.iter().map(range_json).collect();
        let value = serde_json::json!({ "info": info, "ranges": ranges });
        pb::Any { type_url: SOURCE_TYPE_URL.to_string(), value: value.to_string().into_bytes() }
    }
}

fn range_json(r: &pb::Range) -> serde_json::Value {
    let pos = |p: Option<pb::Position>| {
        let p = p.unwrap_or_default();
        serde_json::json!({ "line": p.line, "character": p.character })
    };
    serde_json::json!({ "start": pos(r.start), "end": pos(r.end) })
}

/// A plain error status (no details).
pub fn status(code: i32, message: impl Into<String>) -> pb::Status {
    pb::Status { code, message: message.into(), details: Vec::new() }
}

/// The status for an error in the user's spec: code Unknown, the message, and one
/// `errdefs.Source+json` detail per source so `docker build` prints the offending lines.
pub fn spec_error(message: impl Into<String>, sources: &[ErrorSource]) -> pb::Status {
    pb::Status {
        code: code::UNKNOWN,
        message: message.into(),
        details: sources.iter().map(ErrorSource::to_any).collect(),
    }
}

/// The status for an unsupported subrequest (`requestid`): message
/// `unsupported request <name>` (buildx matches this text) plus an `errdefs.Subrequest+json` detail.
pub fn unsupported_subrequest(name: &str) -> pb::Status {
    pb::Status {
        code: code::UNKNOWN,
        message: format!("unsupported request {name}"),
        details: vec![name_detail(SUBREQUEST_TYPE_URL, name)],
    }
}

/// The status for a frontend capability the client requires but decant lacks: code
/// Unimplemented, message `unsupported frontend capability <name>`, and an
/// `errdefs.FrontendCap+json` detail.
pub fn unsupported_frontend_cap(name: &str) -> pb::Status {
    pb::Status {
        code: code::UNIMPLEMENTED,
        message: format!("unsupported frontend capability {name}"),
        details: vec![name_detail(FRONTEND_CAP_TYPE_URL, name)],
    }
}

fn name_detail(type_url: &str, name: &str) -> pb::Any {
    pb::Any { type_url: type_url.to_string(), value: serde_json::json!({ "name": name }).to_string().into_bytes() }
}

/// A failed conversation with BuildKit. Every variant names the gateway method involved.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The stdio transport could not be set up.
    #[error("cannot connect to BuildKit over stdin/stdout: {0}")]
    Connect(String),
    /// The connection broke (BuildKit went away or the pipe closed).
    #[error("connection to BuildKit closed during {method}: {message}")]
    Closed {
        /// Gateway method.
        method: &'static str,
        /// Transport detail.
        message: String,
    },
    /// The daemon does not know the method (older BuildKit).
    #[error("BuildKit does not implement {method} (the daemon is too old for this feature): {message}")]
    Unimplemented {
        /// Gateway method.
        method: &'static str,
        /// Daemon message.
        message: String,
    },
    /// A message exceeded a size limit on either side.
    #[error("{method}: message too large for BuildKit ({message})")]
    TooLarge {
        /// Gateway method.
        method: &'static str,
        /// Detail.
        message: String,
    },
    /// The daemon answered with an error status (e.g. a failed solve).
    #[error("{method} failed: {message}")]
    Rpc {
        /// Gateway method.
        method: &'static str,
        /// The daemon's status, details included, ready to hand back through `Return`.
        status: pb::Status,
        /// Status message.
        message: String,
    },
    /// The daemon lacks a capability the call needs.
    #[error("BuildKit lacks capability {cap:?}, needed for {what}")]
    MissingCap {
        /// Capability id.
        cap: String,
        /// What needed it.
        what: &'static str,
    },
    /// The daemon's reply did not have the expected shape.
    #[error("{method}: unexpected reply from BuildKit: {detail}")]
    Protocol {
        /// Gateway method.
        method: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl GatewayError {
    /// Converts a tonic status from a call to `method` into a [`GatewayError`].
    pub fn from_status(method: &'static str, st: &tonic::Status) -> GatewayError {
        let message = st.message().to_string();
        match st.code() {
            tonic::Code::Unimplemented => GatewayError::Unimplemented { method, message },
            tonic::Code::Unavailable | tonic::Code::Cancelled => {
                GatewayError::Closed { method, message: describe_transport(st) }
            }
            tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
                if message.contains("message length too large") || message.contains("larger than max") =>
            {
                GatewayError::TooLarge { method, message }
            }
            tonic::Code::Unknown if is_transport_failure(st) => {
                GatewayError::Closed { method, message: describe_transport(st) }
            }
            code => {
                let details = if st.details().is_empty() {
                    Vec::new()
                } else {
                    // tonic exposes the encoded google.rpc.Status from grpc-status-details-bin.
                    pb::Status::decode(st.details()).map(|s| s.details).unwrap_or_default()
                };
                GatewayError::Rpc {
                    method,
                    status: pb::Status { code: code as i32, message: message.clone(), details },
                    message,
                }
            }
        }
    }

    /// The status to hand to `Return` for this error. A daemon error keeps its code, message
    /// and typed details (so BuildKit can still point at the failing vertex or source); any
    /// other error becomes code Unknown with this error's text.
    pub fn to_status(&self) -> pb::Status {
        match self {
            GatewayError::Rpc { status, .. } => status.clone(),
            other => status(code::UNKNOWN, other.to_string()),
        }
    }
}

/// True when a status came from the transport rather than from the daemon.
fn is_transport_failure(st: &tonic::Status) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(st);
    while let Some(e) = src {
        if e.is::<tonic::transport::Error>() || e.is::<std::io::Error>() {
            return true;
        }
        src = e.source();
    }
    false
}

fn describe_transport(st: &tonic::Status) -> String {
    let mut out = st.message().to_string();
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(st);
    while let Some(e) = src {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        src = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(any: &pb::Any) -> serde_json::Value {
        serde_json::from_slice(&any.value).expect("detail is JSON")
    }

    #[test]
    fn spec_error_carries_source_snippet() {
        let src = ErrorSource::yaml("decant.yaml", "stages:\n  a: 1\n", LineRange::new((2, 3), (2, 7)));
        let st = spec_error("stage a: expected a mapping", &[src]);
        assert_eq!(st.code, 2);
        assert_eq!(st.message, "stage a: expected a mapping");
        assert_eq!(st.details.len(), 1);
        assert_eq!(st.details[0].type_url, "github.com/moby/buildkit/errdefs.Source+json");
        let v = json(&st.details[0]);
        assert_eq!(
            v,
            serde_json::json!({
                "info": {
                    "filename": "decant.yaml",
                    "data": "c3RhZ2VzOgogIGE6IDEK",
                    "language": "yaml"
                },
                "ranges": [{
                    "start": {"line": 2, "character": 3},
                    "end": {"line": 2, "character": 7}
                }]
            })
        );
    }

    #[test]
    fn subrequest_and_cap_errors() {
        let st = unsupported_subrequest("frontend.lint");
        assert_eq!(st.message, "unsupported request frontend.lint");
        assert_eq!(st.code, code::UNKNOWN);
        assert_eq!(st.details[0].type_url, SUBREQUEST_TYPE_URL);
        assert_eq!(json(&st.details[0]), serde_json::json!({"name": "frontend.lint"}));

        let st = unsupported_frontend_cap("moby.buildkit.frontend.contexts");
        assert_eq!(st.code, 12);
        assert_eq!(st.message, "unsupported frontend capability moby.buildkit.frontend.contexts");
        assert_eq!(st.details[0].type_url, FRONTEND_CAP_TYPE_URL);
        assert_eq!(json(&st.details[0]), serde_json::json!({"name": "moby.buildkit.frontend.contexts"}));
    }

    #[test]
    fn status_mapping_names_the_method() {
        let e = GatewayError::from_status("Warn", &tonic::Status::unimplemented("unknown method Warn"));
        assert!(matches!(e, GatewayError::Unimplemented { method: "Warn", .. }));
        assert!(e.to_string().contains("Warn"), "{e}");

        let e = GatewayError::from_status("Solve", &tonic::Status::unknown("process did not complete"));
        match &e {
            GatewayError::Rpc { status, .. } => {
                assert_eq!(status.code, 2);
                assert_eq!(status.message, "process did not complete");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(e.to_status().message, "process did not complete");

        let e = GatewayError::from_status("Ping", &tonic::Status::unavailable("broken pipe"));
        assert!(matches!(e, GatewayError::Closed { method: "Ping", .. }));
    }

    #[test]
    fn rpc_error_keeps_typed_details() {
        let inner = spec_error("boom", &[ErrorSource::yaml("f", "x", LineRange::new((1, 1), (1, 2)))]);
        let st = tonic::Status::with_details(tonic::Code::Unknown, "boom", inner.encode_to_vec().into());
        let e = GatewayError::from_status("Solve", &st);
        assert_eq!(e.to_status(), inner);
    }
}
