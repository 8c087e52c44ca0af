//! Source ops: container images, local directories, git repositories, HTTP files.

use std::collections::BTreeMap;

use super::pb;
use super::state::{cap, Caps, LlbError, OpMeta, State, Vertex};
use crate::reference::{Digest, ImageRef};
use crate::remote::GitSource;

/// Image resolve mode (attr `image.resolvemode`; also the gateway's `image-resolve-mode` option
/// and ResolveImageConfig's `ResolveMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResolveMode {
    /// Use the local image if present, else pull.
    #[default]
    Default,
    /// Always check the registry.
    Pull,
    /// Only use local images.
    Local,
}

impl ResolveMode {
    /// Wire spelling: `default`, `pull` or `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveMode::Default => "default",
            ResolveMode::Pull => "pull",
            ResolveMode::Local => "local",
        }
    }
}

/// Options of an image source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageOpts {
    /// Platform to pull; goes to `Op.platform` (daemon default when `None`).
    pub platform: Option<pb::Platform>,
    /// The resolve mode; the default mode is not written (no attr, no cap).
    pub resolve_mode: ResolveMode,
}

/// Options of a local-directory source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalOpts {
    /// Session that exposes the directory (attr `local.session`).
    pub session_id: Option<String>,
    /// Only transfer paths matching these patterns (attr `local.includepattern`).
    pub include_patterns: Vec<String>,
    /// Do not transfer paths matching these patterns (attr `local.excludepatterns`).
    pub exclude_patterns: Vec<String>,
    /// Only walk and send these paths (globs allowed), resolving the symlinks on the way, as
    /// extra include patterns (attr `local.followpaths`). Empty: no such filter.
    pub follow_paths: Vec<String>,
    /// Cache key for the transferred directory (attr `local.sharedkeyhint`).
    pub shared_key_hint: Option<String>,
    /// `none` or `metadata` (attr `local.differ`).
    pub differ: Option<String>,
}

/// Options of an HTTP source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpOpts {
    /// Expected digest of the content (attr `http.checksum`).
    pub checksum: Option<Digest>,
    /// File name to save the download as (attr `http.filename`).
    pub filename: Option<String>,
    /// Permission bits of the file (attr `http.perm`, octal).
    pub perm: Option<u32>,
    /// Owner uid (attr `http.uid`).
    pub uid: Option<u32>,
    /// Owner gid (attr `http.gid`).
    pub gid: Option<u32>,
}

fn source_state(
    identifier: String,
    attrs: BTreeMap<String, String>,
    platform: Option<pb::Platform>,
    caps: Caps,
    meta: OpMeta,
) -> State {
    let op =
        pb::Op { op: Some(pb::op::Op::Source(pb::SourceOp { identifier, attrs })), platform, ..Default::default() };
    State::from_vertex(Vertex::new(op, Vec::new(), meta, caps), 0)
}

/// A container image, `docker-image://<reference>`, from a validated, fully qualified
/// reference (`docker.io/library/alpine:3.20`, optionally pinned `@sha256:...`).
pub fn image(reference: &ImageRef, opts: ImageOpts, meta: OpMeta) -> Result<State, LlbError> {
    let mut attrs = BTreeMap::new();
    let mut caps = Caps::of(&[cap!("source.image")]);
    if opts.resolve_mode != ResolveMode::Default {
        attrs.insert("image.resolvemode".to_string(), opts.resolve_mode.as_str().to_string());
        caps.insert(cap!("source.image.resolvemode"));
    }
    Ok(source_state(format!("docker-image://{reference}"), attrs, opts.platform, caps, meta))
}

fn json_list(items: &[String]) -> String {
    // Serialized in place: a list of strings cannot fail to serialize.
    serde_json::to_string(items).unwrap_or_default()
}

/// A directory exposed by the client session, `local://<name>`. No platform is set.
pub fn local(name: &str, opts: LocalOpts, meta: OpMeta) -> Result<State, LlbError> {
    if name.is_empty() {
        return Err(LlbError::EmptySource("local name"));
    }
    let mut attrs = BTreeMap::new();
    let mut caps = Caps::of(&[cap!("source.local")]);
    if let Some(s) = opts.session_id {
        attrs.insert("local.session".to_string(), s);
        caps.insert(cap!("source.local.sessionid"));
    }
    if !opts.include_patterns.is_empty() {
        attrs.insert("local.includepattern".to_string(), json_list(&opts.include_patterns));
        caps.insert(cap!("source.local.includepatterns"));
    }
    if !opts.exclude_patterns.is_empty() {
        attrs.insert("local.excludepatterns".to_string(), json_list(&opts.exclude_patterns));
        caps.insert(cap!("source.local.excludepatterns"));
    }
    if !opts.follow_paths.is_empty() {
        attrs.insert("local.followpaths".to_string(), json_list(&opts.follow_paths));
        caps.insert(cap!("source.local.followpaths"));
    }
    if let Some(h) = opts.shared_key_hint {
        attrs.insert("local.sharedkeyhint".to_string(), h);
        caps.insert(cap!("source.local.sharedkeyhint"));
    }
    if let Some(d) = opts.differ {
        if !matches!(d.as_str(), "none" | "metadata") {
            return Err(LlbError::Invalid { what: "local differ", value: d });
        }
        // Sent without a cap: daemons that predate it ignore the attr.
        attrs.insert("local.differ".to_string(), d);
    }
    Ok(source_state(format!("local://{name}"), attrs, None, caps, meta))
}

/// The LLB cap of a git source pinned to a commit (attr `git.checksum`; BuildKit 0.23+).
pub const GIT_CHECKSUM_CAP: &str = "source.git.checksum";

/// A git repository, `git://<host>/<path>[#<ref>[:<subdir>]]`, with the URL fetched in
/// `git.fullurl`. `.git` is kept when the source asks for it or `keep_git_dir` is set. A
/// checksum goes to `git.checksum` (cap `source.git.checksum`), apart from the identifier:
/// the daemon checks the commit it resolves the ref (or the default branch) to against it.
pub fn git(source: &GitSource, keep_git_dir: bool, meta: OpMeta) -> Result<State, LlbError> {
    let mut id = format!("git://{}{}", source.host, source.path);
    if source.reference.is_some() || source.subdir.is_some() {
        id.push('#');
        id.push_str(source.reference.as_deref().unwrap_or_default());
    }
    let mut caps = Caps::of(&[cap!("source.git"), cap!("source.git.fullurl")]);
    if let Some(s) = &source.subdir {
        id.push(':');
        id.push_str(s);
        caps.insert(cap!("source.git.subdir"));
    }
    let mut attrs = BTreeMap::new();
    attrs.insert("git.fullurl".to_string(), source.url.clone());
    if keep_git_dir || source.keep_git_dir {
        attrs.insert("git.keepgitdir".to_string(), "true".to_string());
        caps.insert(cap!("source.git.keepgitdir"));
    }
    if let Some(sum) = &source.checksum {
        attrs.insert("git.checksum".to_string(), sum.clone());
        caps.insert(cap!("source.git.checksum"));
    }
    Ok(source_state(id, attrs, None, caps, meta))
}

/// A file downloaded over HTTP(S); the identifier is the URL itself.
pub fn http(url: &str, opts: HttpOpts, meta: OpMeta) -> Result<State, LlbError> {
    if url.is_empty() {
        return Err(LlbError::EmptySource("http url"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(LlbError::Invalid { what: "http url", value: url.to_string() });
    }
    let mut attrs = BTreeMap::new();
    let mut caps = Caps::of(&[cap!("source.http")]);
    if let Some(c) = opts.checksum {
        attrs.insert("http.checksum".to_string(), c.to_string());
        caps.insert(cap!("source.http.checksum"));
    }
    if let Some(f) = opts.filename {
        attrs.insert("http.filename".to_string(), f);
    }
    if let Some(p) = opts.perm {
        attrs.insert("http.perm".to_string(), format!("{:04o}", p & 0o7777));
        caps.insert(cap!("source.http.perm"));
    }
    if let Some(u) = opts.uid {
        attrs.insert("http.uid".to_string(), u.to_string());
        caps.insert(cap!("soruce.http.uidgid"));
    }
    if let Some(g) = opts.gid {
        attrs.insert("http.gid".to_string(), g.to_string());
        caps.insert(cap!("soruce.http.uidgid"));
    }
    Ok(source_state(url.to_string(), attrs, None, caps, meta))
}

/// Options of an OCI layout source (BuildKit v0.11+, cap `source.ocilayout`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OciLayoutOpts {
    /// Session that serves the layout store (attr `oci.session`).
    pub session_id: Option<String>,
    /// Store id in that session (attr `oci.store`).
    pub store_id: String,
    /// Platform to take from the layout; goes to `Op.platform`.
    pub platform: Option<pb::Platform>,
}

/// An image from an OCI layout the client exposes, `oci-layout://<name>@<digest>`. The
/// reference must carry a digest.
pub fn oci_layout(reference: &ImageRef, opts: OciLayoutOpts, meta: OpMeta) -> Result<State, LlbError> {
    if reference.digest.is_none() {
        return Err(LlbError::Invalid {
            what: "oci-layout reference (a digest is required)",
            value: reference.to_string(),
        });
    }
    if opts.store_id.is_empty() {
        return Err(LlbError::EmptySource("oci-layout store id"));
    }
    let mut attrs = BTreeMap::new();
    attrs.insert("oci.store".to_string(), opts.store_id);
    if let Some(s) = opts.session_id {
        attrs.insert("oci.session".to_string(), s);
    }
    Ok(source_state(
        format!("oci-layout://{reference}"),
        attrs,
        opts.platform,
        Caps::of(&[cap!("source.ocilayout")]),
        meta,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_of(s: &State) -> (pb::SourceOp, Option<pb::Platform>) {
        let op = s.output().unwrap().op();
        match op.op {
            Some(pb::op::Op::Source(src)) => (src, op.platform),
            other => panic!("not a source: {other:?}"),
        }
    }

    #[test]
    fn image_source_shape() {
        let plat = pb::Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
        let s = image(
            &crate::reference::ImageRef::parse("alpine:3.19").unwrap(),
            ImageOpts { platform: Some(plat.clone()), resolve_mode: ResolveMode::Pull },
            OpMeta::default(),
        )
        .unwrap();
        let (src, platform) = source_of(&s);
        assert_eq!(src.identifier, "docker-image://docker.io/library/alpine:3.19");
        assert_eq!(src.attrs.get("image.resolvemode").map(String::as_str), Some("pull"));
        assert_eq!(platform, Some(plat));
        let caps = s.output().unwrap().caps();
        assert!(caps.contains("source.image") && caps.contains("source.image.resolvemode"));
        let s =
            image(&crate::reference::ImageRef::parse("x").unwrap(), ImageOpts::default(), OpMeta::default()).unwrap();
        let (src, _) = source_of(&s);
        assert!(src.attrs.is_empty(), "the default mode is not written");
    }

    #[test]
    fn local_source_attrs() {
        let s = local(
            "context",
            LocalOpts {
                session_id: Some("sess".into()),
                include_patterns: vec!["src".into()],
                exclude_patterns: vec!["target".into(), "*.tmp".into()],
                follow_paths: vec![],
                shared_key_hint: Some("context".into()),
                differ: None,
            },
            OpMeta::default(),
        )
        .unwrap();
        let (src, platform) = source_of(&s);
        assert_eq!(src.identifier, "local://context");
        assert!(platform.is_none());
        assert_eq!(src.attrs["local.session"], "sess");
        assert_eq!(src.attrs["local.includepattern"], r#"["src"]"#);
        assert_eq!(src.attrs["local.excludepatterns"], r#"["target","*.tmp"]"#);
        assert!(!src.attrs.contains_key("local.followpaths"));
        assert_eq!(src.attrs["local.sharedkeyhint"], "context");
        let caps = s.output().unwrap().caps();
        for c in [
            "source.local",
            "source.local.sessionid",
            "source.local.includepatterns",
            "source.local.excludepatterns",
            "source.local.sharedkeyhint",
        ] {
            assert!(caps.contains(c), "missing {c}");
        }
        assert!(!caps.contains("source.local.followpaths"));
        assert!(local("", LocalOpts::default(), OpMeta::default()).is_err());
    }

    #[test]
    fn git_identifiers() {
        let id = |url: &str| {
            let s = git(&GitSource::parse(url).unwrap(), false, OpMeta::default()).unwrap();
            let (src, _) = source_of(&s);
            (src.identifier, src.attrs["git.fullurl"].clone())
        };
        assert_eq!(
            id("https://github.com/moby/buildkit.git#v0.8.3"),
            ("git://github.com/moby/buildkit.git#v0.8.3".into(), "https://github.com/moby/buildkit.git".into())
        );
        assert_eq!(
            id("ssh://git@h:2222//org/./repo?keep-git-dir=1"),
            ("git://h:2222/org/repo".into(), "ssh://git@h:2222//org/./repo".into())
        );
        assert_eq!(id("git@github.com:moby/buildkit.git#main:docs").0, "git://github.com/moby/buildkit.git#main:docs");
        assert_eq!(id("git://h/x#:sub").0, "git://h/x#:sub");
        let caps = |url: &str, keep: bool| {
            *git(&GitSource::parse(url).unwrap(), keep, OpMeta::default()).unwrap().output().unwrap().caps()
        };
        let c = caps("https://h/x.git#main:a", true);
        assert!(c.contains("source.git.keepgitdir") && c.contains("source.git.subdir"));
        assert!(caps("https://h/x.git?keep-git-dir=true", false).contains("source.git.keepgitdir"));
        assert!(!caps("https://h/x.git", false).contains("source.git.keepgitdir"));
        assert!(!caps("https://h/x.git", false).contains("source.git.checksum"));
        // A pin is an attr and a cap; the identifier keeps the ref (none: the default branch).
        let pinned =
            git(&GitSource::parse("https://h/x.git?commit=abc123").unwrap(), false, OpMeta::default()).unwrap();
        let (src, _) = source_of(&pinned);
        assert_eq!((src.identifier.as_str(), src.attrs["git.checksum"].as_str()), ("git://h/x.git", "abc123"));
        assert!(pinned.output().unwrap().caps().contains("source.git.checksum"));
        assert_eq!(id("https://h/x.git?ref=v1&checksum=abc123").0, "git://h/x.git#v1");
    }

    #[test]
    fn http_attrs() {
        let s = http(
            "https://example.com/f.tgz",
            HttpOpts {
                checksum: Some(Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap()),
                filename: Some("f.tgz".into()),
                perm: Some(0o644),
                uid: Some(1000),
                gid: None,
            },
            OpMeta::default(),
        )
        .unwrap();
        let (src, platform) = source_of(&s);
        assert!(platform.is_none());
        assert_eq!(src.identifier, "https://example.com/f.tgz");
        assert_eq!(src.attrs["http.perm"], "0644");
        assert_eq!(src.attrs["http.uid"], "1000");
        assert!(!src.attrs.contains_key("http.gid"));
        let caps = s.output().unwrap().caps();
        for c in ["source.http", "source.http.checksum", "source.http.perm", "soruce.http.uidgid"] {
            assert!(caps.contains(c), "missing {c}");
        }
        assert!(http("ftp://x", HttpOpts::default(), OpMeta::default()).is_err());
    }
}
