//! Arg names a spec has without declaring them, as a Dockerfile build does: read by the plan,
//! and by `decant convert` and `decant eject`, which write them.

/// Args every build has, as in Dockerfiles, for cross-compiling.
pub const BUILTIN_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// `BUILDKIT_SBOM_SCAN_CONTEXT`: with an SBOM asked for, scan the build context too.
pub const SBOM_SCAN_CONTEXT: &str = "BUILDKIT_SBOM_SCAN_CONTEXT";
/// `BUILDKIT_SBOM_SCAN_STAGE`: with an SBOM asked for, scan this stage too.
pub const SBOM_SCAN_STAGE: &str = "BUILDKIT_SBOM_SCAN_STAGE";
