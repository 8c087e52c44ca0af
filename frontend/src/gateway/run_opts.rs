//! The client's settings for every run step (proxy build args, `shm-size`, `ulimit`,
//! `cgroup-parent`, `BUILDKIT_CACHE_MOUNT_NS`), checked against the daemon's capabilities.
//!
//! The Dockerfile frontend drops a resource option the daemon cannot apply; decant fails the
//! build instead, naming the option and the capability, so that a build never runs with
//! other limits than the ones asked for.

use super::client::cap;
use super::failure::BuildError;
use super::{Caps, FrontendOpts};
use crate::lower::RunOptions;

/// The run-step settings of this build.
pub(crate) fn run_options(opts: &FrontendOpts, caps: &Caps) -> Result<RunOptions, BuildError> {
    let mut run = RunOptions::from_build_args(&opts.build_args());
    run.shm_size = opts.shm_size()?;
    run.ulimits = opts.ulimits()?;
    run.cgroup_parent = opts.cgroup_parent().map(str::to_string);
    let wanted = [
        ("shm-size", run.shm_size.is_some(), cap::EXEC_MOUNT_TMPFS_SIZE),
        ("ulimit", !run.ulimits.is_empty(), cap::EXEC_META_ULIMIT),
        ("cgroup-parent", run.cgroup_parent.is_some(), cap::EXEC_META_CGROUP_PARENT),
    ];
    for (opt, given, cap) in wanted {
        if given && !caps.has_llb(cap) {
            return Err(BuildError::Unimplemented(format!(
                "the option {opt} needs LLB capability `{cap}` (BuildKit 0.10+), which this BuildKit lacks; \
                 upgrade BuildKit or build without {opt}"
            )));
        }
    }
    Ok(run)
}
