//! Remote sources: HTTP(S) files as `copy` sources and git repositories as `from:` (and as
//! contexts). Syntax only: nothing here touches the network. Shared vocabulary, as
//! [`crate::reference`] is: the plan parses git URLs into [`GitSource`]s, and LLB git sources
//! take only those.

use serde::Serialize;

/// A git repository and what to check out of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GitSource {
    /// The remote as written, without the `?query` and `#fragment` (shown in progress names).
    pub remote: String,
    /// The URL fetched (LLB's `git.fullurl`).
    #[serde(skip)]
    pub url: String,
    /// The remote's host (with its port), without the user.
    #[serde(skip)]
    pub host: String,
    /// The repository's path from `/`, with empty and `.` components dropped.
    #[serde(skip)]
    pub path: String,
    /// Branch, tag or commit (`#ref`); the remote's default branch when `None`.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Only this directory of the repository (`#ref:dir`; BuildKit v0.9+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
    /// Keep `.git` (`?keep-git-dir=true`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_git_dir: bool,
    /// The commit the checkout must be (`?checksum=` or `?commit=`, or a copy's `checksum:`):
    /// lowercase hex, the full sha or a prefix of it (LLB's `git.checksum`, BuildKit v0.23+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl std::fmt::Display for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.remote)?;
        if self.reference.is_some() || self.subdir.is_some() {
            write!(f, "#{}", self.reference.as_deref().unwrap_or(""))?;
        }
        if let Some(s) = &self.subdir {
            write!(f, ":{s}")?;
        }
        Ok(())
    }
}

/// A remote source: a git repository or a file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Git(GitSource),
    /// An http(s) URL, checked.
    Http(String),
}

impl Remote {
    /// The remote `s` is written as: `None` when it is neither a git repository ([`is_git`]) nor
    /// an http(s) URL; an error says what is wrong with one that is.
    pub fn parse(s: &str) -> Option<Result<Remote, String>> {
        if is_git(s) {
            return Some(GitSource::parse(s).map(Remote::Git));
        }
        is_url(s).then(|| validate_url(s).map(|()| Remote::Http(s.to_string())))
    }
}

/// An `http://` or `https://` URL (a file to download when it is a `copy` source).
pub fn is_url(s: &str) -> bool {
    let scheme = |p: &str| s.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p));
    scheme("http://") || scheme("https://")
}

/// Written as a git repository, by Dockerfile's rules: `git://`, `ssh://`, `git@host:path`,
/// or an http(s) URL whose path ends in `.git`.
pub fn is_git(s: &str) -> bool {
    if s.starts_with("git://") || s.starts_with("ssh://") || s.starts_with("git@") {
        return true;
    }
    is_url(s) && s.split(['#', '?']).next().unwrap_or("").trim_end_matches('/').ends_with(".git")
}

fn bad_char(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_whitespace() || c.is_control())
}

impl GitSource {
    /// Parses a git source `remote[?query][#ref[:subdir]]`; the error says what is wrong. The
    /// query takes BuildKit's keys `ref`, `tag`, `branch`, `subdir`, `keep-git-dir` and
    /// `checksum` (or its alias `commit`).
    pub fn parse(s: &str) -> Result<GitSource, String> {
        if let Some(c) = bad_char(s) {
            return Err(format!("a git URL cannot contain {c:?}"));
        }
        let (remote, fragment) = match s.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (s, None),
        };
        let (remote, query) = match remote.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (remote, None),
        };
        let (host, path) = if let Some((scheme, rest)) = remote.split_once("://") {
            if !matches!(scheme, "git" | "ssh" | "http" | "https") {
                return Err(format!("`{scheme}://` is not a git transport (https, ssh, git)"));
            }
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            (authority.rsplit_once('@').map_or(authority, |(_, h)| h), path)
        } else if let Some((user_host, path)) = remote.split_once(':').filter(|(u, _)| !u.contains('/')) {
            (user_host.rsplit_once('@').map_or(user_host, |(_, h)| h), path)
        } else {
            return Err(
                "expected `https://host/repo.git`, `ssh://host/repo`, `git://host/repo` or `git@host:repo`".into()
            );
        };
        if host.is_empty() {
            return Err("the git URL has no host".into());
        }
        let path: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        if path.is_empty() {
            return Err("the git URL has no repository path".into());
        }
        let (host, path) = (host.to_string(), format!("/{}", path.join("/")));
        let (reference, subdir) = match fragment {
            None => (None, None),
            Some(f) => {
                let (r, d) = match f.split_once(':') {
                    Some((r, d)) => (r, Some(d)),
                    None => (f, None),
                };
                if f.is_empty() {
                    return Err("empty `#` fragment: give a branch, tag or commit after `#`".into());
                }
                let d = d.map(|d| d.trim_matches('/')).filter(|d| !d.is_empty() && *d != ".");
                if let Some(d) = d {
                    if d.split('/').any(|c| c == "..") {
                        return Err(format!("the subdirectory `{d}` leaves the repository"));
                    }
                }
                (Some(r.to_string()).filter(|r| !r.is_empty()), d.map(str::to_string))
            }
        };
        let (remote, url) = (remote.to_string(), remote.to_string());
        let mut git = GitSource { remote, url, host, path, reference, subdir, keep_git_dir: false, checksum: None };
        if let Some(q) = query {
            apply_git_query(&mut git, q)?;
        }
        Ok(git)
    }
}

/// The git query keys decant takes.
const QUERY_KEYS: &str = "ref, tag, branch, subdir, keep-git-dir, checksum, commit";

/// Checks a commit a git checkout must be (`?commit=`, a copy's `checksum:`): lowercase hex, the
/// full sha (40, or 64 for a sha256 repository) or a prefix of it, as BuildKit compares it.
pub fn commit_checksum(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not a commit id: expected a hex commit sha (or a prefix of one)"));
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("`{s}` has uppercase letters: commit ids are lowercase hex, as git prints them"));
    }
    Ok(s.to_string())
}

/// Applies a git URL's query (`?ref=v1&subdir=app`), with BuildKit's rules: every key once,
/// `tag`/`branch` become `refs/tags/...`/`refs/heads/...`, and a query value that contradicts
/// the `#fragment` is an error.
fn apply_git_query(git: &mut GitSource, query: &str) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    let (mut tag, mut branch) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        let value = percent_decode(raw)?;
        if !seen.insert(key.clone()) {
            return Err(format!("the query key `{key}` is given twice"));
        }
        if value.is_empty() && key != "keep-git-dir" {
            return Err(format!("the query key `{key}` has no value"));
        }
        let set = |slot: &mut Option<String>, what: &str, v: String| match slot {
            Some(old) if *old != v => Err(format!("{what} conflicts: `{old}` in the fragment, `{v}` in the query")),
            _ => {
                *slot = Some(v);
                Ok(())
            }
        };
        match key.as_str() {
            "ref" => set(&mut git.reference, "ref", value)?,
            "subdir" => {
                let d = value.trim_matches('/').to_string();
                if d.split('/').any(|c| c == "..") {
                    return Err(format!("the subdirectory `{d}` leaves the repository"));
                }
                if !d.is_empty() && d != "." {
                    set(&mut git.subdir, "subdir", d)?;
                }
            }
            "tag" => tag = Some(value),
            "branch" => branch = Some(value),
            "keep-git-dir" => {
                git.keep_git_dir = match value.as_str() {
                    "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                    v => return Err(format!("keep-git-dir=`{v}` is not a boolean")),
                }
            }
            "checksum" | "commit" => {
                let sum = commit_checksum(&value)?;
                match &git.checksum {
                    Some(old) if *old != sum => {
                        return Err(format!("checksum conflicts: `{old}` and {key} `{sum}` in the query"))
                    }
                    _ => git.checksum = Some(sum),
                }
            }
            "submodules" | "mtime" | "fetch-by-commit" => {
                return Err(format!("the git query key `{key}` is not supported by decant (use {QUERY_KEYS})"))
            }
            other => return Err(format!("unknown git query key `{other}` ({QUERY_KEYS})")),
        }
    }
    if tag.is_some() && branch.is_some() {
        return Err("`tag` and `branch` cannot both be given".into());
    }
    if let Some(t) = tag {
        let full = if t.starts_with("refs/tags/") { t } else { format!("refs/tags/{t}") };
        match &git.reference {
            Some(old) if *old != full => return Err(format!("ref conflicts: `{old}` and tag `{full}`")),
            _ => git.reference = Some(full),
        }
    }
    if let Some(b) = branch {
        let full = if b.starts_with("refs/heads/") { b } else { format!("refs/heads/{b}") };
        match &git.reference {
            Some(old) if *old != full => return Err(format!("ref conflicts: `{old}` and branch `{full}`")),
            _ => git.reference = Some(full),
        }
    }
    Ok(())
}

/// Decodes `%XX` escapes and `+` (as Go's `url.ParseQuery` does).
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.ok_or_else(|| format!("bad `%` escape in the query `{s}`"))?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("the query `{s}` is not UTF-8"))
}

/// An http(s) URL with its scheme in lowercase (`HTTPS://h/x` is `https://h/x`), as BuildKit
/// recognises it.
pub fn lowercase_scheme(s: &str) -> String {
    match s.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
        None => s.to_string(),
    }
}

/// Checks an http(s) URL to download.
pub fn validate_url(s: &str) -> Result<(), String> {
    if let Some(c) = bad_char(s) {
        return Err(format!("a URL cannot contain {c:?} (percent-encode it)"));
    }
    let rest = s.split_once("://").map(|(_, r)| r).unwrap_or("");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host_only, port) = match host.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, rest)) => (h, rest.strip_prefix(':')),
            None => return Err("unclosed `[` in the URL's host".into()),
        },
        None => match host.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        },
    };
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            return Err(format!("`{p}` is not a port number"));
        }
    }
    if host_only.is_empty() {
        return Err("the URL has no host".into());
    }
    Ok(())
}

/// The file name a download is saved as: the URL path's last component (`__unnamed__` when
/// the path has none, as Dockerfile `ADD` does).
pub fn url_filename(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
    match path.rsplit('/').find(|c| !c.is_empty()) {
        Some(name) if name != "." && name != ".." => name.to_string(),
        _ => "__unnamed__".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls_with_a_query() {
        let g = GitSource::parse("https://github.com/org/repo.git?ref=v1&subdir=app").unwrap();
        assert_eq!(
            (g.remote.as_str(), g.reference.as_deref(), g.subdir.as_deref()),
            ("https://github.com/org/repo.git", Some("v1"), Some("app"))
        );
        assert!(!g.keep_git_dir);
        assert!(is_git("https://github.com/org/repo.git?ref=v1&subdir=app"));
        let g = GitSource::parse("https://github.com/org/repo.git?tag=v1.2&keep-git-dir=true").unwrap();
        assert_eq!(g.reference.as_deref(), Some("refs/tags/v1.2"));
        assert!(g.keep_git_dir);
        let g = GitSource::parse("git@github.com:org/repo.git?branch=main&subdir=a%20b/c").unwrap();
        assert_eq!((g.reference.as_deref(), g.subdir.as_deref()), (Some("refs/heads/main"), Some("a b/c")));
        // The fragment and the query may say the same thing, never different things.
        assert_eq!(GitSource::parse("https://h/r.git?ref=v1#v1").unwrap().reference.as_deref(), Some("v1"));
        for (bad, why) in [
            ("https://h/r.git?ref=v1#v2", "conflicts"),
            ("https://h/r.git?ref=v1&ref=v1", "twice"),
            ("https://h/r.git?subdir=", "no value"),
            ("https://h/r.git?tag=a&branch=b", "both"),
            ("https://h/r.git?subdir=../x", "leaves"),
            ("https://h/r.git?keep-git-dir=maybe", "boolean"),
            ("https://h/r.git?depth=1", "unknown git query key `depth`"),
            ("https://h/r.git?submodules=false", "not supported"),
            ("https://h/r.git?commit=", "no value"),
            ("https://h/r.git?commit=abc&commit=abc", "twice"),
            ("https://h/r.git?commit=abc&checksum=abd", "checksum conflicts"),
            ("https://h/r.git?checksum=v1.2", "not a commit id"),
            ("https://h/r.git?commit=ABC", "lowercase"),
            ("https://h/r.git?ref=%zz", "escape"),
        ] {
            let e = GitSource::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    /// `checksum` and `commit` are one key under two names (BuildKit's dfgitutil): the commit the
    /// checkout must be, alone (the default branch's head must match) or with a ref.
    #[test]
    fn git_urls_pinned_to_a_commit() {
        let sha = "b2b4c2e54c2a7d1c1a9a6e6a1e0b4f9b1c7a3d5e";
        let g = GitSource::parse(&format!("https://github.com/org/u.git?commit={sha}&keep-git-dir=1")).unwrap();
        assert_eq!((g.reference.as_deref(), g.checksum.as_deref(), g.keep_git_dir), (None, Some(sha), true));
        let g = GitSource::parse("https://h/r.git?checksum=b2b4c2e&tag=v1#refs/tags/v1:docs").unwrap();
        assert_eq!(g.checksum.as_deref(), Some("b2b4c2e"));
        assert_eq!((g.reference.as_deref(), g.subdir.as_deref()), (Some("refs/tags/v1"), Some("docs")));
        // Both names with one value are one pin.
        let g = GitSource::parse("git@h:r.git?commit=abc&checksum=abc").unwrap();
        assert_eq!(g.checksum.as_deref(), Some("abc"));
        assert_eq!(g.to_string(), "git@h:r.git", "not part of the name");
        assert!(commit_checksum(&"a".repeat(64)).is_ok());
        assert!(commit_checksum(&"a".repeat(65)).is_err());
    }

    #[test]
    fn git_detection_follows_dockerfile_rules() {
        for yes in [
            "https://github.com/a/b.git",
            "https://github.com/a/b.git#v1",
            "git://h/x",
            "git@github.com:a/b.git",
            "ssh://git@h/x",
        ] {
            assert!(is_git(yes), "{yes}");
        }
        for no in ["https://example.com/file.tgz", "alpine:3.20", "github.com/a/b", "build"] {
            assert!(!is_git(no), "{no}");
        }
    }

    #[test]
    fn git_fragments() {
        let g = GitSource::parse("https://github.com/a/b.git#v1.2:docs/api/").unwrap();
        assert_eq!(g.remote, "https://github.com/a/b.git");
        assert_eq!(g.reference.as_deref(), Some("v1.2"));
        assert_eq!(g.subdir.as_deref(), Some("docs/api"));
        assert_eq!(g.to_string(), "https://github.com/a/b.git#v1.2:docs/api");
        assert_eq!((g.host.as_str(), g.path.as_str()), ("github.com", "/a/b.git"));
        let g = GitSource::parse("git@github.com:a/b.git").unwrap();
        assert_eq!((g.reference, g.subdir), (None, None));
        let g = GitSource::parse("git://h/x#:sub").unwrap();
        assert_eq!((g.reference, g.subdir.as_deref()), (None, Some("sub")));
        for bad in [
            "https:///x.git",
            "https://h/.git#",
            "git@h:",
            "ftp://h/x.git",
            "https://h/a b.git",
            "git://h/.",
            "git@h:./",
            "git@h/x:y",
            "git://h/x#main:../up",
            "nohost",
        ] {
            assert!(GitSource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_and_file_names() {
        assert!(validate_url("https://example.com/a/b.tgz?x=1").is_ok());
        assert!(validate_url("http://127.0.0.1:8080/f").is_ok());
        assert!(validate_url("https://user@[::1]:99/f").is_ok());
        for bad in ["https://", "https:///f", "https://h:port/f", "https://h/a b"] {
            assert!(validate_url(bad).is_err(), "{bad}");
        }
        assert_eq!(url_filename("https://example.com/a/b.tgz?x=1#f"), "b.tgz");
        assert_eq!(url_filename("https://example.com/dir/"), "dir");
        assert_eq!(url_filename("https://example.com"), "__unnamed__");
        assert_eq!(lowercase_scheme("HTTPS://EXAMPLE.COM/X.tgz"), "https://EXAMPLE.COM/X.tgz");
    }
}
