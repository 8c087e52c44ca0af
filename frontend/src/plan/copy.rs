//! Resolving `copy` steps.

use serde::Serialize;

use super::Source;
use super::{values, Resolver, Word};
use crate::diag::Diagnostic;
use crate::reference::Digest;
use crate::remote;
use crate::spec;

/// A `copy` step.
#[derive(Debug, Clone, Serialize)]
pub struct Copy {
    /// Sources; one with a reference to the environment expands at build time (a path then).
    pub sources: Vec<Word>,
    pub from: Source,
    /// Destination as written (relative ones resolve against the workdir); `None` = the workdir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<Word>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<values::Mode>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    pub follow_symlinks: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub link: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parents: bool,
    /// Local tar archives are unpacked into the destination.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unpack: bool,
    /// Expected digest of the downloaded file (the one source is a URL). On a git `from:`, the
    /// `checksum:` option is the commit, kept in the [`remote::GitSource`] instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Digest>,
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
        if self.dockerfile_shaped_copy(c) {
            return None;
        }
        // A bad `from:` is reported, and the sources are still checked (against the context).
        let resolved = match &c.from {
            Some(f) => self.resolve_from(f, names, this),
            None => Some(Source::Context),
        };
        let from = resolved.clone().unwrap_or(Source::Context);
        // Each source with its place in the spec: one that fails to parse is reported and left
        // out, and the rest keep their own spans.
        let sources: Vec<(Word, &spec::Sp<String>)> = c
            .sources
            .iter()
            .filter_map(|s| {
                let w = self.word(s)?;
                // URLs as BuildKit recognises them: the scheme in lowercase.
                let w = match w.as_literal_str() {
                    Some(t) if remote::is_url(t) => Word::literal(remote::lowercase_scheme(t)),
                    _ => w,
                };
                Some((w, s))
            })
            .collect();
        let mut urls = 0;
        for (w, raw) in &sources {
            // Sources that refer to the environment are paths, checked when they expand.
            let Some(s) = w.as_literal_str() else { continue };
            if s.is_empty() {
                self.error(raw.span, "a copy source cannot be empty");
            } else if remote::is_git(s) {
                let d = Diagnostic::error(raw.span, format!("`{s}` is a git repository, not a file to copy"))
                    .label("a repository is read with `from:`")
                    .help(format!("write `copy: .` (or paths inside the repository) with `from: {s}`"));
                self.diags.push(d);
            } else if remote::is_url(s) {
                urls += 1;
                if let Err(msg) = remote::validate_url(s) {
                    self.error(raw.span, format!("invalid URL `{s}`: {msg}"));
                } else if from != Source::Context {
                    let d =
                        Diagnostic::error(raw.span, "a URL source is downloaded; it cannot be combined with `from:`")
                            .help("put the download in its own `copy` step");
                    self.diags.push(d);
                }
            } else if from == Source::Context && (s == ".." || s.starts_with("../")) {
                self.error(raw.span, format!("`{s}` is outside the build context"));
            } else if let Some((_, rest)) = s.split_once("/./").filter(|_| c.parents.as_ref().is_some_and(|p| p.value))
            {
                // The part after the pivot is what is kept: it must name something.
                if rest.split('/').all(|p| p.is_empty() || p == ".") {
                    let d = Diagnostic::error(raw.span, format!("`{s}` has nothing after its `/./` pivot"))
                        .help("with `parents: true`, `dir/./sub/file` keeps `sub/file` below the destination");
                    self.diags.push(d);
                } else if rest.split('/').any(|p| p == "..") {
                    self.error(raw.span, format!("`{s}` leaves its `/./` pivot with `..`"));
                }
            }
        }
        let mut from = from;
        let checksum = match (&c.checksum, &mut from) {
            (None, _) => None,
            // A git `from:`: the commit the checkout must be, as `ADD --checksum` of a git URL.
            (Some(raw), Source::Git(g)) => {
                match (self.parsed(raw, remote::commit_checksum), &g.checksum) {
                    (Some(sum), Some(q)) if *q != sum => self.diags.push(
                        Diagnostic::error(raw.span, format!("checksum mismatch: `{sum}` here, `{q}` in the git URL"))
                            .help("give the commit once, here or in the URL"),
                    ),
                    (Some(sum), _) => g.checksum = Some(sum),
                    (None, _) => {}
                }
                None
            }
            (Some(raw), _) => {
                let sum = self.parsed(raw, Digest::parse);
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
            if !matches!(from, Source::Git(_)) {
                self.error(k.span, "`keep_git_dir` needs `from:` a git repository URL");
            }
        }
        let unpack = c.unpack.as_ref().is_some_and(|u| u.value);
        if let Some(u) = c.unpack.as_ref().filter(|u| u.value) {
            if urls > 0 || matches!(from, Source::Git(_)) {
                self.diags.push(
                    Diagnostic::error(
                        u.span,
                        "`unpack` applies to archives in the context or a stage, not to downloads",
                    )
                    .help("download in one step, then unpack the file with a `run` step"),
                );
            }
        }
        let chown = c.chown.as_ref().and_then(|o| self.word(o));
        let link = c.link.as_ref().is_some_and(|l| l.value);
        if let (Some(o), Some(raw)) = (chown.as_ref().and_then(Word::as_literal), &c.chown) {
            // As a Dockerfile's `--chown`: an empty part beside the colon is the id 0.
            if o.is_empty() || o.split(':').count() > 2 {
                self.error(raw.span, format!("`{o}` is not an owner (user, user:group, uid or uid:gid)"));
            } else if link && o.split(':').any(|p| !p.is_empty() && p.parse::<u32>().is_err()) {
                self.diags.push(
                    Diagnostic::error(
                        raw.span,
                        format!("`link: true` copies into an empty layer, where the name in `{o}` cannot be looked up"),
                    )
                    .help("use numeric ids, e.g. `chown: \"1000:1000\"`"),
                );
            }
        }
        resolved?;
        Some(Copy {
            sources: sources.into_iter().map(|(w, _)| w).collect(),
            from,
            to: c.to.as_ref().and_then(|t| self.word(t)),
            chown,
            chmod: c.chmod.as_ref().and_then(|m| self.parsed(m, values::parse_chmod)),
            exclude: c.exclude.iter().filter_map(|e| self.text(e)).collect(),
            follow_symlinks: c.follow_symlinks.as_ref().is_none_or(|f| f.value),
            link,
            parents: c.parents.as_ref().is_some_and(|p| p.value),
            unpack,
            checksum,
            keep_git_dir,
        })
    }
}

impl Resolver {
    /// A copy written as a Dockerfile `COPY` line (`--from=build /out/app /bin/app`, `src/ /app/`):
    /// reports it with the spec shape to write instead. True when it reported one.
    fn dockerfile_shaped_copy(&mut self, c: &spec::Copy) -> bool {
        let Some(first) = c.sources.first() else { return false };
        let words: Vec<&str> = c.sources.iter().flat_map(|s| s.value.split_whitespace()).collect();
        if first.value.trim_start().starts_with("--") {
            let mut options = Vec::new();
            let mut paths = Vec::new();
            for w in &words {
                match w.strip_prefix("--") {
                    Some(flag) => {
                        let (name, value) = flag.split_once('=').unwrap_or((flag, "true"));
                        let key = match name {
                            "keep-git-dir" => "keep_git_dir".to_string(),
                            "chown" | "chmod" | "from" | "link" | "parents" | "exclude" | "checksum" => {
                                name.to_string()
                            }
                            other => {
                                options.push(format!("(`--{other}` has no equivalent)"));
                                continue;
                            }
                        };
                        options.push(format!("`{key}: {value}`"));
                    }
                    None => paths.push(*w),
                }
            }
            let help = spec_shape(&paths, &options);
            let d = Diagnostic::error(first.span, "this is Dockerfile `COPY` syntax, not a copy source")
                .label("flags and paths in one string")
                .help(help);
            self.diags.push(d);
            return true;
        }
        // The last word reads as a destination: an absolute path, `.`, or a directory.
        let dest_like = |w: &str| w.starts_with(['/', '.']) || w.ends_with('/');
        if !c.sources_list && c.to.is_none() && words.len() >= 2 && words.last().is_some_and(|w| dest_like(w)) {
            let help = format!(
                "{}; a file name with spaces goes in a list: `copy: [\"{}\"]`",
                spec_shape(&words, &[]),
                first.value
            );
            let d = Diagnostic::error(
                first.span,
                "a source and a destination in one string, as Dockerfile `COPY` has them",
            )
            .label("read as one file name with spaces")
            .help(help);
            self.diags.push(d);
            return true;
        }
        false
    }
}

/// `write `copy: a`, `to: b`, ...`: the spec form of Dockerfile `COPY` words (the last is the destination).
fn spec_shape(paths: &[&str], options: &[String]) -> String {
    let mut parts = Vec::new();
    match paths {
        [] => {}
        [one] => parts.push(format!("`copy: {one}`")),
        [sources @ .., dest] => {
            match sources {
                [one] => parts.push(format!("`copy: {one}`")),
                many => parts.push(format!("`copy: [{}]`", many.join(", "))),
            }
            parts.push(format!("`to: {dest}`"));
        }
    }
    parts.extend(options.iter().cloned());
    format!("write it as {}", parts.join(", "))
}
