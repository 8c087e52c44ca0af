//! The frontend run: BuildKit started us; read the spec, compile it, solve, return.

use std::process::ExitCode;

/// Runs the frontend conversation on stdin/stdout.
pub fn main() -> ExitCode {
    eprintln!("decant: the frontend mode is not wired up yet");
    ExitCode::FAILURE
}
