//! decant: a BuildKit frontend that compiles a declarative multi-stage build spec to LLB.
//!
//! The pipeline is one-way and visible in the module tree:
//! `spec` (YAML with source spans) -> `plan` (validated stage graph) -> `lower` (plan to LLB states)
//! -> `llb` (typed ops, digests, marshalling) -> `gateway` (the BuildKit conversation).

pub mod cli;
pub mod compile;
pub mod convert;
pub mod diag;
pub mod dockerignore;
pub mod gateway;
pub mod graph;
pub mod image;
pub mod limits;
pub mod lint;
pub mod llb;
pub mod lower;
pub mod plan;
pub mod reference;
pub mod remote;
pub mod sourcemap;
pub mod spec;
