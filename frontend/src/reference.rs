//! Image references: validation and normalisation to the fully qualified form BuildKit wants
//! (`alpine:3.20` -> `docker.io/library/alpine:3.20`); and content digests. Shared vocabulary:
//! the plan validates references and digests with it, and LLB sources take only values it made.

use std::fmt;

/// A validated, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct ImageRef {
    /// `docker.io/library/alpine`
    pub name: String,
    /// `3.20`; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// `sha256:...`
    pub digest: Option<String>,
}

impl From<ImageRef> for String {
    fn from(r: ImageRef) -> String {
        r.to_string()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// A content digest BuildKit can verify: `sha256:<64 hex>`, `sha384:<96>` or `sha512:<128>`,
/// lowercase. A download's `checksum:`, a manifest digest an image is pinned to, an OCI layout's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<Digest, String> {
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(format!("`{s}` is not a digest: expected `sha256:<64 hex digits>`"));
        };
        let len = match alg {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            other => return Err(format!("`{other}` is not a supported digest algorithm (sha256, sha384, sha512)")),
        };
        if hex.len() != len || !hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            return Err(format!(
                "`{s}` is not a valid {alg} digest: expected {len} lowercase hex digits after `{alg}:`"
            ));
        }
        Ok(Digest(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ImageRef {
    /// The same image pinned to `digest` (the tag is kept for readability, as BuildKit does).
    pub fn pinned(&self, digest: &Digest) -> ImageRef {
        ImageRef { digest: Some(digest.to_string()), ..self.clone() }
    }

    /// What an image source names after BuildKit resolved `self`: the reference BuildKit
    /// answered (`ResolveImageConfig`'s `Ref`, which a source policy may have rewritten; `None`
    /// from daemons before v0.12), pinned to the resolved manifest `digest` unless it names a
    /// digest already.
    pub fn resolved(&self, answered: Option<&ImageRef>, digest: Option<&Digest>) -> ImageRef {
        let base = answered.unwrap_or(self);
        match digest {
            Some(d) if base.digest.is_none() => base.pinned(d),
            _ => base.clone(),
        }
    }

    /// The short form Docker shows (`alpine:3.20`, `org/app`), `:latest` dropped: how the
    /// Dockerfile frontend names an image when it looks for a named context.
    pub fn familiar(&self) -> String {
        let name =
            self.name.strip_prefix("docker.io/").map(|n| n.strip_prefix("library/").unwrap_or(n)).unwrap_or(&self.name);
        let mut s = name.to_string();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s.strip_suffix(":latest").map(str::to_string).unwrap_or(s)
    }

    /// Parses and normalises a reference; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        if s.is_empty() {
            return Err("an image reference cannot be empty".into());
        }
        if s.chars().any(char::is_whitespace) {
            return Err("an image reference cannot contain spaces".into());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                validate_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before that is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let (n, t) = rest.split_at(last_slash + i);
                (n, Some(t[1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag {
            validate_tag(tag)?;
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let domain = if parts.len() > 1 && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
        {
            let d = parts.remove(0);
            validate_domain(d)?;
            if d == "index.docker.io" {
                "docker.io".to_string()
            } else {
                d.to_string()
            }
        } else {
            "docker.io".to_string()
        };
        for p in &parts {
            validate_component(p)?;
        }
        if domain == "docker.io" && parts.len() == 1 {
            parts.insert(0, "library");
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        Ok(ImageRef { name: format!("{domain}/{}", parts.join("/")), tag, digest })
    }
}

fn validate_component(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("a path component of the image name is empty".into());
    }
    if let Some(c) = p.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c))) {
        return Err(format!("`{c}` cannot appear in an image name (`{p}`)"));
    }
    if p.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("image names must be lowercase: `{}`, not `{p}`", p.to_ascii_lowercase()));
    }
    let ok_chars = p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    let ends_ok =
        p.starts_with(|c: char| c.is_ascii_alphanumeric()) && p.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok_chars || !ends_ok {
        return Err(format!(
            "`{p}` is not a valid image name component (lowercase letters, digits, and . _ - between them)"
        ));
    }
    Ok(())
}

fn validate_domain(d: &str) -> Result<(), String> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return Err(format!("`{port}` is not a valid registry port"));
        }
    }
    if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c)) {
        return Err(format!("`{d}` is not a valid registry host"));
    }
    Ok(())
}

fn validate_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("`{t}` is not a valid tag (letters, digits, . _ -; at most 128)"))
    }
}

fn validate_digest(d: &str) -> Result<(), String> {
    match d.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) =>
        {
            Ok(())
        }
        Some((alg, hex)) if !alg.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) => Ok(()),
        _ => Err(format!("`{d}` is not a valid digest (expected sha256:<64 hex digits>)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_prefers_the_answered_reference() {
        let asked = ImageRef::parse("alpine:3.20").unwrap();
        let d = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        let mirror = ImageRef::parse("mirror.example.com/alpine:3.20").unwrap();
        assert_eq!(asked.resolved(None, Some(&d)).to_string(), format!("docker.io/library/alpine:3.20@{d}"));
        assert_eq!(asked.resolved(Some(&mirror), Some(&d)).to_string(), format!("mirror.example.com/alpine:3.20@{d}"));
        assert_eq!(asked.resolved(Some(&mirror), None), mirror);
        // A policy that pins a digest itself keeps it.
        let pinned = mirror.pinned(&Digest::parse(&format!("sha256:{}", "b".repeat(64))).unwrap());
        assert_eq!(asked.resolved(Some(&pinned), Some(&d)), pinned);
    }

    fn norm(s: &str) -> String {
        ImageRef::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises() {
        assert_eq!(norm("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(norm("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(norm("crystallang/crystal:latest"), "docker.io/crystallang/crystal:latest");
        assert_eq!(norm("ghcr.io/a/b/c:v1"), "ghcr.io/a/b/c:v1");
        assert_eq!(norm("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(norm("index.docker.io/library/alpine:3"), "docker.io/library/alpine:3");
        assert_eq!(norm("org/app"), "docker.io/org/app:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(norm(&format!("alpine@{d}")), format!("docker.io/library/alpine@{d}"));
        assert_eq!(norm(&format!("alpine:3@{d}")), format!("docker.io/library/alpine:3@{d}"));
    }

    #[test]
    fn familiar_names() {
        let f = |s: &str| ImageRef::parse(s).unwrap().familiar();
        assert_eq!(f("alpine"), "alpine");
        assert_eq!(f("docker.io/library/alpine:3.20"), "alpine:3.20");
        assert_eq!(f("org/app:latest"), "org/app");
        assert_eq!(f("ghcr.io/a/b:v1"), "ghcr.io/a/b:v1");
    }

    #[test]
    fn digests() {
        let ok = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(Digest::parse(&ok).unwrap().as_str(), ok);
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_ok());
        for bad in [
            "abc",
            "md5:0123",
            "sha256:abc",
            &format!("sha256:{}", "AB".repeat(32)),
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects() {
        for bad in
            ["", "Alpine", "alpine:", "alpine:-x", "a b", "alpine@sha256:xyz", "-a", "a//b", "/x", "host:99999/x"]
        {
            assert!(ImageRef::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
