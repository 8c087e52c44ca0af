//! Platform specifiers (`os/arch[/variant]`): parsing, normalisation and formatting, following
//! the conventions containerd's `platforms` package uses (so ids match BuildKit's).

use super::pb::Platform;
use crate::plan;

impl Platform {
    /// Builds a platform from its parts and normalises it.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform {
        Platform::from(&plan::Platform::normalize(os, architecture, variant))
    }

    /// Parses `os/arch[/variant]` (e.g. `linux/arm64/v8`) and normalises it, with the plan's
    /// rules ([`plan::Platform::parse`]), so ids agree everywhere.
    pub fn parse(spec: &str) -> Result<Platform, String> {
        plan::Platform::parse(spec).map(|p| Platform::from(&p))
    }

    /// The normalised form (see [`plan::Platform::normalize`]); OS version and features kept.
    pub fn normalized(&self) -> Platform {
        Platform {
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
            ..Platform::new(&self.os, &self.architecture, &self.variant)
        }
    }

    /// The platform id BuildKit uses as a key, e.g. `linux/amd64` or `linux/arm/v7`.
    pub fn id(&self) -> String {
        if self.variant.is_empty() {
            format!("{}/{}", self.os, self.architecture)
        } else {
            format!("{}/{}/{}", self.os, self.architecture, self.variant)
        }
    }
}

impl From<&Platform> for plan::Platform {
    /// Normalised on the way.
    fn from(p: &Platform) -> plan::Platform {
        plan::Platform::normalize(&p.os, &p.architecture, &p.variant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().id(), "linux/arm64");
        assert_eq!(Platform::parse("linux/aarch64").unwrap().id(), "linux/arm64");
        assert_eq!(Platform::parse("linux/x86_64").unwrap().id(), "linux/amd64");
        assert_eq!(Platform::parse("Linux/AMD64").unwrap().id(), "linux/amd64");
        assert_eq!(Platform::parse("linux/amd64/v1").unwrap().id(), "linux/amd64");
        assert_eq!(Platform::parse("linux/amd64/v3").unwrap().id(), "linux/amd64/v3");
        assert_eq!(Platform::parse("linux/arm").unwrap().id(), "linux/arm/v7");
        assert_eq!(Platform::parse("linux/arm/6").unwrap().id(), "linux/arm/v6");
        assert_eq!(Platform::parse(" linux/riscv64 ").unwrap().id(), "linux/riscv64");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "linux", "linux/", "/amd64", "linux/amd64/v8/x", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
