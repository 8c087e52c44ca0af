//! The daemon-free half of the pipeline as one call: spec text -> [`Plan`].

use crate::diag::Diagnostics;
use crate::plan::{self, BuildOptions, Plan};
use crate::spec;

/// Parses and resolves a spec for one build.
pub fn plan(name: &str, text: &str, opts: &BuildOptions) -> Result<Plan, Diagnostics> {
    let spec = spec::parse_spec(name, text)?;
    plan::resolve(&spec, opts)
}
