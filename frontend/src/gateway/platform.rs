//! Platform specifiers (`os/arch[/variant]`): parsing, normalisation and formatting, following
//! the conventions containerd's `platforms` package uses (so ids match BuildKit's).

use super::pb::Platform;

impl Platform {
    /// Builds a platform from its parts and normalises it.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.to_string(),
            ..Default::default()
        }
        .normalized()
    }

    /// Parses `os/arch[/variant]` (e.g. `linux/arm64/v8`) and normalises it.
    ///
    /// Errors are plain messages; callers wrap them with context.
    pub fn parse(spec: &str) -> Result<Platform, String> {
        let spec = spec.trim();
        let parts: Vec<&str> = spec.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(format!("{spec:?} is not of the form os/arch[/variant]"));
        }
        if let Some(bad) = parts.iter().find(|p| !is_component(p)) {
            return Err(format!("{spec:?} has an invalid component {bad:?}"));
        }
        let variant = parts.get(2).copied().unwrap_or("");
        Ok(Platform::new(parts[0], parts[1], variant))
    }

    /// Returns the normalised form: lower-case os and architecture, canonical architecture
    /// names (`x86_64` → `amd64`, `aarch64` → `arm64`), default variants dropped
    /// (`arm64/v8` → `arm64`, `amd64/v1` → `amd64`) or filled in (`arm` → `arm/v7`).
    pub fn normalized(&self) -> Platform {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self.variant.to_ascii_lowercase();
        let (architecture, variant) = match arch.as_str() {
            "i386" | "i486" | "i586" | "i686" | "386" => ("386".to_string(), String::new()),
            "x86_64" | "x86-64" | "amd64" => {
                let v = if variant == "v1" {
                    String::new()
                } else {
                    variant
                };
                ("amd64".to_string(), v)
            }
            "aarch64" | "arm64" => {
                let v = match variant.as_str() {
                    "8" | "v8" | "v8.0" => String::new(),
                    _ => variant,
                };
                ("arm64".to_string(), v)
            }
            "armhf" => ("arm".to_string(), "v7".to_string()),
            "armel" => ("arm".to_string(), "v6".to_string()),
            "arm" => {
                let v = match variant.as_str() {
                    "" | "7" => "v7".to_string(),
                    "5" | "6" | "8" => format!("v{variant}"),
                    _ => variant,
                };
                ("arm".to_string(), v)
            }
            _ => (arch, variant),
        };
        Platform {
            os,
            architecture,
            variant,
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
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

fn is_component(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().id(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().id(),
            "linux/arm64"
        );
        assert_eq!(Platform::parse("linux/x86_64").unwrap().id(), "linux/amd64");
        assert_eq!(Platform::parse("Linux/AMD64").unwrap().id(), "linux/amd64");
        assert_eq!(
            Platform::parse("linux/amd64/v1").unwrap().id(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/amd64/v3").unwrap().id(),
            "linux/amd64/v3"
        );
        assert_eq!(Platform::parse("linux/arm").unwrap().id(), "linux/arm/v7");
        assert_eq!(Platform::parse("linux/arm/6").unwrap().id(), "linux/arm/v6");
        assert_eq!(
            Platform::parse(" linux/riscv64 ").unwrap().id(),
            "linux/riscv64"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v8/x",
            "linux/am d64",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
