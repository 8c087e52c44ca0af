//! The BuildKit gateway conversation (LLB bridge gRPC over stdin/stdout).
//!
//! * [`pb`]: hand-written protobuf messages of the LLB bridge API (LLB definitions as bytes).
//! * [`transport`]: h2c over our own stdin/stdout (or any byte stream, for tests).
//! * [`client`]: the typed [`Client`] with capability checks.
//! * [`opts`]: [`FrontendOpts`], the options BuildKit passes in the environment.
//! * [`errors`]: [`GatewayError`] and the `google.rpc.Status` builders for `Return`.

pub mod client;
pub mod errors;
pub mod opts;
pub mod pb;
mod platform;
pub mod transport;

#[cfg(test)]
mod fake_bridge_tests;

pub use client::{
    Caps, Client, FrontendResult, ResolveImageParams, ResolvedImage, ResultRefs, SolveParams,
    SolvedRef, Warning,
};
pub use errors::{ErrorSource, GatewayError};
pub use opts::{FrontendOpts, NetworkMode, NoCache, OptsError, ResolveMode};
