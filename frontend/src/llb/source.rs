//! Source ops: container images, local directories, git repositories, HTTP files.

use std::collections::{BTreeMap, BTreeSet};

use super::pb;
use super::state::{LlbError, OpMeta, State, Vertex};
use crate::reference::{Digest, ImageRef};

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

/// Options of a git source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitOpts {
    /// Keep the `.git` directory (attr `git.keepgitdir`).
    pub keep_git_dir: bool,
    /// Only check out this sub-directory (BuildKit v0.9+).
    pub subdir: Option<String>,
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
    caps: BTreeSet<&'static str>,
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
    let mut caps = BTreeSet::from(["source.image"]);
    if opts.resolve_mode != ResolveMode::Default {
        attrs.insert("image.resolvemode".to_string(), opts.resolve_mode.as_str().to_string());
        caps.insert("source.image.resolvemode");
    }
    Ok(source_state(format!("docker-image://{reference}"), attrs, opts.platform, caps, meta))
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// A directory exposed by the client session, `local://<name>`. No platform is set.
pub fn local(name: &str, opts: LocalOpts, meta: OpMeta) -> Result<State, LlbError> {
    if name.is_empty() {
        return Err(LlbError::EmptySource("local name"));
    }
    let mut attrs = BTreeMap::new();
    let mut caps = BTreeSet::from(["source.local"]);
    if let Some(s) = opts.session_id {
        attrs.insert("local.session".to_string(), s);
        caps.insert("source.local.sessionid");
    }
    if !opts.include_patterns.is_empty() {
        attrs.insert("local.includepattern".to_string(), json_list(&opts.include_patterns));
        caps.insert("source.local.includepatterns");
    }
    if !opts.exclude_patterns.is_empty() {
        attrs.insert("local.excludepatterns".to_string(), json_list(&opts.exclude_patterns));
        caps.insert("source.local.excludepatterns");
    }
    if !opts.follow_paths.is_empty() {
        attrs.insert("local.followpaths".to_string(), json_list(&opts.follow_paths));
        caps.insert("source.local.followpaths");
    }
    if let Some(h) = opts.shared_key_hint {
        attrs.insert("local.sharedkeyhint".to_string(), h);
        caps.insert("source.local.sharedkeyhint");
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

/// Split a git remote into `(host, path)`; `None` when it cannot be parsed.
fn parse_git_remote(remote: &str) -> Option<(String, String)> {
    let (host_part, path) = if let Some((_scheme, rest)) = remote.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (host.to_string(), path.to_string())
    } else if let Some((userhost, path)) = remote.split_once(':') {
        // scp-like `user@host:path`.
        if userhost.contains('/') {
            return None;
        }
        let host = userhost.rsplit_once('@').map_or(userhost, |(_, h)| h);
        (host.to_string(), path.to_string())
    } else {
        // Bare `host/path`: treated as https.
        let (host, path) = remote.split_once('/')?;
        (host.to_string(), path.to_string())
    };
    let path = path.split('#').next().unwrap_or_default();
    let cleaned: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if host_part.is_empty() || cleaned.is_empty() {
        return None;
    }
    Some((host_part, format!("/{}", cleaned.join("/"))))
}

/// A git repository, `git://<host>/<path>[#<ref>[:<subdir>]]` with the real remote in
/// `git.fullurl`. A remote without a scheme (`github.com/org/repo`) is fetched over https.
pub fn git(remote_url: &str, reference: Option<&str>, opts: GitOpts, meta: OpMeta) -> Result<State, LlbError> {
    if remote_url.is_empty() {
        return Err(LlbError::EmptySource("git remote"));
    }
    let has_scheme = remote_url.contains("://");
    let scp_like = !has_scheme && remote_url.split_once(':').is_some_and(|(a, _)| !a.contains('/') && a.contains('@'));
    let full_url = if has_scheme || scp_like { remote_url.to_string() } else { format!("https://{remote_url}") };
    let (host, path) = parse_git_remote(&full_url)
        .ok_or_else(|| LlbError::Invalid { what: "git remote", value: remote_url.to_string() })?;
    let mut id = format!("git://{host}{path}");
    let reference = reference.filter(|r| !r.is_empty());
    let subdir = opts.subdir.filter(|s| !s.is_empty() && s != "/" && s != ".");
    if reference.is_some() || subdir.is_some() {
        id.push('#');
        id.push_str(reference.unwrap_or_default());
    }
    let mut caps = BTreeSet::from(["source.git", "source.git.fullurl"]);
    if let Some(s) = &subdir {
        id.push(':');
        id.push_str(s);
        caps.insert("source.git.subdir");
    }
    let mut attrs = BTreeMap::new();
    attrs.insert("git.fullurl".to_string(), full_url);
    if opts.keep_git_dir {
        attrs.insert("git.keepgitdir".to_string(), "true".to_string());
        caps.insert("source.git.keepgitdir");
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
    let mut caps = BTreeSet::from(["source.http"]);
    if let Some(c) = opts.checksum {
        attrs.insert("http.checksum".to_string(), c.to_string());
        caps.insert("source.http.checksum");
    }
    if let Some(f) = opts.filename {
        attrs.insert("http.filename".to_string(), f);
    }
    if let Some(p) = opts.perm {
        attrs.insert("http.perm".to_string(), format!("{:04o}", p & 0o7777));
        caps.insert("source.http.perm");
    }
    if let Some(u) = opts.uid {
        attrs.insert("http.uid".to_string(), u.to_string());
        caps.insert("soruce.http.uidgid");
    }
    if let Some(g) = opts.gid {
        attrs.insert("http.gid".to_string(), g.to_string());
        caps.insert("soruce.http.uidgid");
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
        BTreeSet::from(["source.ocilayout"]),
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
        let id = |url: &str, r: Option<&str>, sub: Option<&str>| {
            let s =
                git(url, r, GitOpts { keep_git_dir: false, subdir: sub.map(Into::into) }, OpMeta::default()).unwrap();
            let (src, _) = source_of(&s);
            (src.identifier, src.attrs["git.fullurl"].clone())
        };
        assert_eq!(
            id("https://github.com/moby/buildkit.git", Some("v0.8.3"), None),
            ("git://github.com/moby/buildkit.git#v0.8.3".into(), "https://github.com/moby/buildkit.git".into())
        );
        assert_eq!(
            id("github.com/moby/buildkit", None, None),
            ("git://github.com/moby/buildkit".into(), "https://github.com/moby/buildkit".into())
        );
        assert_eq!(
            id("git@github.com:moby/buildkit.git", Some("main"), Some("docs")).0,
            "git://github.com/moby/buildkit.git#main:docs"
        );
        let s = git("https://h/x", None, GitOpts { keep_git_dir: true, subdir: Some("a".into()) }, OpMeta::default())
            .unwrap();
        let caps = s.output().unwrap().caps();
        assert!(caps.contains("source.git.keepgitdir") && caps.contains("source.git.subdir"));
        assert!(git("", None, GitOpts::default(), OpMeta::default()).is_err());
        assert!(git("nohost", None, GitOpts::default(), OpMeta::default()).is_err());
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
