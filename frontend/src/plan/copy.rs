//! Resolving `copy` steps.

use serde::Serialize;

use super::remote;
use super::steps::{CopyFrom, MountFrom};
use super::{values, Resolver};
use crate::diag::Diagnostic;
use crate::spec;

/// A `copy` step.
#[derive(Debug, Clone, Serialize)]
pub struct Copy {
    pub sources: Vec<String>,
    pub from: CopyFrom,
    /// Destination as written (relative ones resolve against the workdir); `None` = the workdir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    pub follow_symlinks: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub link: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parents: bool,
    /// Expected digest of the downloaded file (the one source is a URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Keep the `.git` directory of a git `from:`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_git_dir: bool,
}

impl Copy {
    /// Sources that are files to download (`http://`, `https://`).
    pub fn is_url(source: &str) -> bool {
        remote::is_url(source)
    }
}

impl Resolver {
    pub(crate) fn copy(&mut self, c: &spec::Copy, names: &[&str], this: &str) -> Option<Copy> {
        let from = match &c.from {
            Some(f) => self.resolve_from(f, names, this)?,
            None => MountFrom::Context,
        };
        // URLs as BuildKit recognises them: the scheme in lowercase.
        let sources: Vec<String> = c
            .sources
            .iter()
            .filter_map(|s| self.text(s))
            .map(|s| if remote::is_url(&s) { remote::lowercase_scheme(&s) } else { s })
            .collect();
        let mut urls = 0;
        for (s, raw) in sources.iter().zip(&c.sources) {
            if s.is_empty() {
                self.error(raw.span, "a copy source cannot be empty");
            } else if remote::is_url(s) {
                urls += 1;
                if let Err(msg) = remote::validate_url(s) {
                    self.error(raw.span, format!("invalid URL `{s}`: {msg}"));
                } else if from != MountFrom::Context {
                    let d =
                        Diagnostic::error(raw.span, "a URL source is downloaded; it cannot be combined with `from:`")
                            .help("put the download in its own `copy` step");
                    self.diags.push(d);
                }
            } else if from == MountFrom::Context && (s == ".." || s.starts_with("../")) {
                self.error(raw.span, format!("`{s}` is outside the build context"));
            }
        }
        let checksum = match &c.checksum {
            None => None,
            Some(raw) => {
                let sum = self.parsed(raw, remote::parse_checksum);
                if sum.is_some() && (urls != 1 || sources.len() != 1) {
                    let d = Diagnostic::error(
                        raw.span,
                        "`checksum` needs exactly one source, and it must be an http(s) URL",
                    )
                    .help("split the step: one `copy` per download");
                    self.diags.push(d);
                }
                sum
            }
        };
        let keep_git_dir = c.keep_git_dir.as_ref().is_some_and(|k| k.value);
        if let Some(k) = &c.keep_git_dir {
            if !matches!(from, MountFrom::Git(_)) {
                self.error(k.span, "`keep_git_dir` needs `from:` a git repository URL");
            }
        }
        let chown = c.chown.as_ref().and_then(|o| self.text(o));
        let link = c.link.as_ref().is_some_and(|l| l.value);
        if let (Some(o), Some(raw)) = (&chown, &c.chown) {
            if o.is_empty() || o.split(':').count() > 2 || o.split(':').any(str::is_empty) {
                self.error(raw.span, format!("`{o}` is not an owner (user, user:group, uid or uid:gid)"));
            } else if link && o.split(':').any(|p| p.parse::<u32>().is_err()) {
                self.diags.push(
                    Diagnostic::error(
                        raw.span,
                        format!("`link: true` copies into an empty layer, where the name in `{o}` cannot be looked up"),
                    )
                    .help("use numeric ids, e.g. `chown: \"1000:1000\"`"),
                );
            }
        }
        Some(Copy {
            sources,
            from,
            to: c.to.as_ref().and_then(|t| self.text(t)),
            chown,
            chmod: c.chmod.as_ref().and_then(|m| self.parsed(m, values::parse_mode)),
            exclude: c.exclude.iter().filter_map(|e| self.text(e)).collect(),
            follow_symlinks: c.follow_symlinks.as_ref().is_none_or(|f| f.value),
            link,
            parents: c.parents.as_ref().is_some_and(|p| p.value),
            checksum,
            keep_git_dir,
        })
    }
}
