//! The daemon-free half of the pipeline as one call: spec text -> [`Plan`].

use crate::diag::Diagnostics;
use crate::plan::{self, BuildOptions, Plan};
use crate::spec::{self, Spec};

/// Parses and resolves a spec for one build. Shape errors and resolution errors are reported
/// together, so one run shows every problem.
pub fn plan(name: &str, text: &str, opts: &BuildOptions) -> Result<Plan, Diagnostics> {
    let (spec, diags) = spec::parse_spec_partial(name, text);
    plan_parsed(spec.as_ref(), &diags, opts)
}

/// Like [`plan`], for a spec parsed once ([`spec::parse_spec_partial`]) and built several times
/// (one build per platform).
pub fn plan_parsed(spec: Option<&Spec>, parse_errors: &Diagnostics, opts: &BuildOptions) -> Result<Plan, Diagnostics> {
    let mut diags = parse_errors.clone();
    let Some(spec) = spec else { return Err(diags) };
    match plan::resolve(spec, opts) {
        Ok(plan) if diags.items.is_empty() => Ok(plan),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.merge(more);
            Err(diags)
        }
    }
}
