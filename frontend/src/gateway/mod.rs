//! The BuildKit gateway conversation (LLB bridge gRPC over stdin/stdout).
//!
//! * [`pb`]: hand-written protobuf messages of the LLB bridge API (LLB definitions as bytes).
//! * [`transport`]: h2c over our own stdin/stdout (or any byte stream, for tests).
//! * [`client`]: the typed [`Client`] with capability checks.
//! * [`opts`]: [`FrontendOpts`], the options BuildKit passes in the environment.
//! * [`errors`]: [`GatewayError`] and the `google.rpc.Status` builders for `Return`.
//! * [`failure`]: [`BuildError`], why a frontend run failed; it becomes the status for `Return`.
//!
//! A run of the frontend, in outline:
//!
//! ```no_run
//! # async fn run() -> Result<(), decant::gateway::GatewayError> {
//! use decant::gateway::{errors, Client, FrontendOpts, FrontendResult, SolveParams};
//! let opts = FrontendOpts::from_env(); // report an OptsError through return_error too
//! let mut client = Client::connect_stdio().await?; // from here on stdout is stderr
//! client.ping().await?;
//! let built = client.solve(SolveParams { definition: vec![], ..Default::default() }).await;
//! match built {
//!     Ok(r) => client.return_result(FrontendResult::single(r.id)).await?,
//!     Err(e) => client.return_error(e.to_status()).await?,
//! }
//! # let _ = (opts, errors::code::UNKNOWN);
//! # Ok(()) }
//! ```
//!
//! Call `Return` exactly once, then exit 0: BuildKit shows the returned error to the user,
//! while a non-zero exit only shows `exit code: 1`.

pub mod client;
pub mod errors;
pub mod failure;
pub mod frontend;
pub mod opts;
pub mod pb;
mod platform;
mod remote_context;
mod reproducible;
mod run_opts;
mod sbom;
pub mod sources;
mod spec_source;
mod subrequests;
pub mod timings;
pub mod transport;

#[cfg(test)]
mod fake_bridge_tests;

pub use client::{
    Caps, Client, FrontendResult, ResolveImageParams, ResolvedImage, ResultRefs, SolveParams, SolvedRef, Warning,
};
pub use errors::{ErrorSource, GatewayError};
pub use failure::BuildError;
pub use opts::{FrontendOpts, NetworkMode, NoCache, OptsError, ResolveMode};
