//! The BuildKit gateway conversation (LLB bridge gRPC over stdin/stdout).
pub mod frontend;
