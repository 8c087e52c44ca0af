//! Named contexts (`context:<name>=<value>` options): what a value means, and the LLB source
//! for every kind that needs no daemon call. `docker-image://` values still need their config
//! resolved and `input:` values need the client's Definitions: the gateway does both.

use crate::image::ImageConfig;
use crate::llb::{self, pb, OpMeta, State};
use crate::plan::{ImageRef, Platform};
use crate::reference::Digest;
use crate::remote::{GitSource, Remote};

/// A named context as lowering uses it: a filesystem and, for images, their config.
#[derive(Debug, Clone)]
pub struct NamedContext {
    pub state: State,
    /// The image config a stage based on this context inherits (`None`: nothing).
    pub config: Option<ImageConfig>,
}

/// The value of a named context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValue {
    /// `docker-image://scratch`
    Scratch,
    /// `docker-image://<ref>`
    Image(ImageRef),
    /// `local:<name>`: a directory of the client session.
    Local(String),
    /// `input:<name>`: a Definition the client passed as a frontend input.
    Input(String),
    /// A git URL (`git://`, `git@`, `ssh://`, `https://...git`).
    Git(GitSource),
    /// Any other `http(s)://` URL: one file, saved as `/context`.
    Http(String),
    /// `oci-layout://<store>@<digest>` (BuildKit v0.11+).
    OciLayout { store: String, digest: Digest },
}

impl ContextValue {
    /// Parses a `context:<name>` value; the error says what is wrong with it.
    pub fn parse(value: &str) -> Result<ContextValue, String> {
        if let Some(r) = value.strip_prefix("docker-image://") {
            if r == "scratch" {
                return Ok(ContextValue::Scratch);
            }
            return ImageRef::parse(r)
                .map(ContextValue::Image)
                .map_err(|e| format!("invalid image reference `{r}`: {e}"));
        }
        if let Some(n) = value.strip_prefix("local:") {
            return non_empty(n, "local name").map(ContextValue::Local);
        }
        if let Some(n) = value.strip_prefix("input:") {
            return non_empty(n, "input name").map(ContextValue::Input);
        }
        if let Some(r) = value.strip_prefix("oci-layout://") {
            let (store, digest) = r
                .split_once('@')
                .ok_or_else(|| format!("`{value}` has no digest: expected oci-layout://<store>@sha256:<hex>"))?;
            let digest = Digest::parse(digest)?;
            let store = non_empty(store.split(':').next().unwrap_or(store), "oci-layout store")?;
            return Ok(ContextValue::OciLayout { store, digest });
        }
        match Remote::parse(value) {
            Some(Ok(Remote::Git(g))) => Ok(ContextValue::Git(g)),
            Some(Ok(Remote::Http(url))) => Ok(ContextValue::Http(url)),
            Some(Err(e)) => Err(e),
            None => Err(format!("unsupported context value `{value}`: expected docker-image://, local:, input:, oci-layout://, a git URL or an https URL")),
        }
    }
}

fn non_empty(s: &str, what: &str) -> Result<String, String> {
    if s.is_empty() {
        Err(format!("empty {what}"))
    } else {
        Ok(s.to_string())
    }
}

/// How to load a context's sources.
#[derive(Debug, Clone, Default)]
pub struct ContextOpts {
    /// The session of the client (for `local:` and `oci-layout://`).
    pub session_id: Option<String>,
    /// The manifest digest the image resolved to (pins `docker-image://` sources).
    pub digest: Option<Digest>,
    /// The reference BuildKit answered for the image, after source policies.
    pub reference: Option<ImageRef>,
    /// `image-resolve-mode` for image sources.
    pub resolve_mode: llb::ResolveMode,
    /// The paths the build reads from a `local:` context (see [`crate::plan::Plan::local_reads`]);
    /// empty: all of it.
    pub follow_paths: Vec<String>,
}

/// The `local.sharedkeyhint` of a local source: `base` (the Dockerfile frontend's hint for the
/// same directory) and a digest of the file set sent (its follow, include and exclude patterns).
///
/// BuildKit keeps one snapshot of a client directory per local name, hint and client, and syncs
/// it to the file set of each build. A build that sends another file set under the same hint
/// (a Dockerfile build of the same directory, or another decant target) would sync that
/// snapshot back and forth, re-sending files each time. With the file set in the hint, every
/// file set keeps a snapshot of its own, and a cached rebuild sends only file headers.
pub fn shared_key_hint(base: &str, opts: &llb::LocalOpts) -> String {
    use sha2::Digest as _;
    /// The JSON object hashed, its keys in the sorted order a JSON value's map writes them,
    /// serialized from the lists in place (a `serde_json::Value` copied every path).
    #[derive(serde::Serialize)]
    struct Set<'a> {
        exclude: &'a [String],
        follow: &'a [String],
        include: &'a [String],
    }
    let set = Set { exclude: &opts.exclude_patterns, follow: &opts.follow_paths, include: &opts.include_patterns };
    let digest = sha2::Sha256::digest(serde_json::to_vec(&set).unwrap_or_default());
    format!("{base}:decant-{}", &hex::encode(digest)[..16])
}

/// The state of a context value, for every kind but `input:` (which the gateway splices).
pub fn context_state(
    name: &str,
    value: &ContextValue,
    platform: &Platform,
    opts: &ContextOpts,
) -> Result<State, String> {
    let meta = |what: &str| OpMeta::named(format!("[context {name}] {what}"));
    let state = match value {
        ContextValue::Scratch => Ok(State::scratch()),
        ContextValue::Image(r) => {
            let pinned = r.resolved(opts.reference.as_ref(), opts.digest.as_ref());
            let o = llb::ImageOpts { platform: Some(pb::Platform::from(platform)), resolve_mode: opts.resolve_mode };
            llb::image(&pinned, o, meta(&r.to_string()))
        }
        ContextValue::Local(local) => {
            let mut o = llb::LocalOpts {
                session_id: opts.session_id.clone(),
                follow_paths: opts.follow_paths.clone(),
                ..Default::default()
            };
            o.shared_key_hint = Some(shared_key_hint(&format!("context:{name}"), &o));
            llb::local(local, o, meta("load from client"))
        }
        ContextValue::Git(g) => llb::git(g, false, meta(&g.to_string())),
        ContextValue::Http(url) => {
            let o = llb::HttpOpts { filename: Some("context".into()), ..Default::default() };
            llb::http(url, o, meta(url))
        }
        ContextValue::OciLayout { store, digest } => {
            // The identifier names the context, pinned by digest; the store holds the blobs.
            let dummy = ImageRef::parse(name).map(|r| r.name).unwrap_or_else(|_| "docker.io/library/context".into());
            let o = llb::OciLayoutOpts {
                session_id: opts.session_id.clone(),
                store_id: store.clone(),
                platform: Some(pb::Platform::from(platform)),
            };
            let reference = ImageRef { name: dummy, tag: None, digest: Some(digest.to_string()) };
            llb::oci_layout(&reference, o, meta("OCI load from client"))
        }
        ContextValue::Input(input) => return Err(format!("input `{input}` needs the client's frontend inputs")),
    };
    state.map_err(|e| e.to_string())
}

/// Named contexts without a daemon (`decant llb --build-context`, tests): every use in `plan`
/// gets the state of its value from `values` (by name), with no image config. `input:` values
/// cannot be loaded this way.
pub fn offline(
    plan: &crate::plan::Plan,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<(String, Platform), NamedContext>, String> {
    let mut out = std::collections::BTreeMap::new();
    let named = plan.named_contexts();
    // What the stages read of each named context, looked for only when there is one.
    let reads = if named.is_empty() { Default::default() } else { plan.local_reads() };
    for (name, platform) in named {
        let raw = values.get(&name).ok_or_else(|| format!("no value for named context `{name}`"))?;
        let value = ContextValue::parse(raw).map_err(|e| format!("context `{name}`: {e}"))?;
        let opts = ContextOpts { follow_paths: reads.named(&name).follow_paths(), ..Default::default() };
        let state = context_state(&name, &value, &platform, &opts).map_err(|e| format!("context `{name}`: {e}"))?;
        out.insert((name, platform), NamedContext { state, config: None });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_key_hint_hashes_the_sorted_json_object() {
        use sha2::Digest as _;
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let opts = llb::LocalOpts {
            follow_paths: l(&["src/a \"q\".c", "é/\\x", "*.go"]),
            include_patterns: l(&["\u{1}ctl"]),
            exclude_patterns: l(&[]),
            ..Default::default()
        };
        let set = serde_json::json!({
            "follow": opts.follow_paths,
            "include": opts.include_patterns,
            "exclude": opts.exclude_patterns,
        });
        let want = format!("ctx:decant-{}", &hex::encode(sha2::Sha256::digest(set.to_string()))[..16]);
        assert_eq!(shared_key_hint("ctx", &opts), want);
    }

    #[test]
    fn values() {
        let p = |v: &str| ContextValue::parse(v);
        assert_eq!(p("docker-image://scratch").unwrap(), ContextValue::Scratch);
        assert_eq!(
            p("docker-image://alpine:3.20").unwrap(),
            ContextValue::Image(ImageRef::parse("alpine:3.20").unwrap())
        );
        assert_eq!(p("local:src").unwrap(), ContextValue::Local("src".into()));
        assert_eq!(p("input:base").unwrap(), ContextValue::Input("base".into()));
        assert!(
            matches!(p("https://github.com/a/b.git#v1").unwrap(), ContextValue::Git(g) if g.reference.as_deref() == Some("v1"))
        );
        assert!(matches!(p("git@github.com:a/b.git").unwrap(), ContextValue::Git(_)));
        assert_eq!(p("https://example.com/x.tgz").unwrap(), ContextValue::Http("https://example.com/x.tgz".into()));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            p(&format!("oci-layout://store@{d}")).unwrap(),
            ContextValue::OciLayout { store: "store".into(), digest: Digest::parse(&d).unwrap() }
        );
        for bad in ["", "alpine", "docker-image://Bad", "local:", "input:", "oci-layout://store", "ftp://x", "https://"]
        {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
