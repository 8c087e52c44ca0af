//! What a build reads from the client's directories: the paths of the build context, and of each
//! named context, that its copies and mounts use. Only those paths need to be sent to BuildKit
//! (they become the local source's follow paths), as the Dockerfile frontend does for `COPY`,
//! `ADD` and `RUN --mount=type=bind`.

use std::collections::{BTreeMap, BTreeSet};

use super::{Mount, Plan, Reader, Source};

/// The paths a build reads from one directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LocalPaths {
    /// Nothing: the directory is not used.
    #[default]
    Nothing,
    /// These paths, relative to the directory's root, cleaned and sorted; globs stay globs.
    Paths(BTreeSet<String>),
    /// The whole directory (`copy: .`, a bind mount without `source`, a stage based on it).
    All,
}

impl LocalPaths {
    /// Adds a path as a copy or mount names it: relative or absolute, both from the root.
    fn add(&mut self, path: &str) {
        let Some(clean) = clean(path) else {
            *self = LocalPaths::All;
            return;
        };
        match self {
            LocalPaths::All => {}
            LocalPaths::Paths(set) => {
                set.insert(clean);
            }
            LocalPaths::Nothing => *self = LocalPaths::Paths(BTreeSet::from([clean])),
        }
    }

    /// The follow paths of the local source: only these are walked and sent. Empty for the
    /// whole directory (and for none).
    pub fn follow_paths(&self) -> Vec<String> {
        match self {
            LocalPaths::Paths(set) => set.iter().cloned().collect(),
            LocalPaths::Nothing | LocalPaths::All => Vec::new(),
        }
    }
}

/// `path` from the root, with `.`, `..` and repeated slashes folded, without a leading `/`;
/// `None` for the root itself.
fn clean(path: &str) -> Option<String> {
    // Most paths are clean already: no empty, `.` or `..` part.
    if !path.is_empty() && path.split('/').all(|p| !matches!(p, "" | "." | "..")) {
        return Some(path.to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// What a build reads from the build context and from each named context (by name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalReads {
    pub context: LocalPaths,
    pub named: BTreeMap<String, LocalPaths>,
}

impl LocalReads {
    /// What is read from named context `name`.
    pub fn named(&self, name: &str) -> &LocalPaths {
        self.named.get(name).unwrap_or(&LocalPaths::Nothing)
    }

    fn of(&mut self, from: &Source) -> Option<&mut LocalPaths> {
        match from {
            Source::Context => Some(&mut self.context),
            Source::Named { name } => Some(self.named.entry(name.clone()).or_default()),
            Source::Stage { .. } | Source::Image { .. } | Source::Scratch | Source::Git(_) => None,
        }
    }
}

impl Plan {
    /// Every path the planned stages read from the build context and from named contexts:
    /// `copy` sources (URLs excepted), the `source` of bind and cache mounts (all of it without
    /// one), and the whole of a named context a stage starts from. The plan holds only the
    /// target and the stages it needs, so `--target` narrows this too.
    pub fn local_reads(&self) -> LocalReads {
        let mut reads = LocalReads::default();
        for (from, reader) in self.stages.iter().flat_map(|s| s.sources()) {
            let Some(paths) = reads.of(from) else { continue };
            match reader {
                Reader::Base => *paths = LocalPaths::All,
                Reader::Copy(copy) => {
                    for src in &copy.sources {
                        match src.as_literal_str() {
                            Some(s) if super::Copy::is_url(s) => {}
                            Some(s) => paths.add(s),
                            // A path that expands from the stage's environment is only known
                            // at build time: the whole context.
                            None => paths.add("/"),
                        }
                    }
                }
                Reader::Mount(Mount::Bind { source, .. } | Mount::Cache { source, .. }) => {
                    paths.add(source.as_deref().unwrap_or("/"))
                }
                Reader::Mount(_) => {}
            }
        }
        reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_from_the_root() {
        assert_eq!(clean("src/"), Some("src".into()));
        assert_eq!(clean("/src/./a.c"), Some("src/a.c".into()));
        assert_eq!(clean("./src//*.c"), Some("src/*.c".into()));
        assert_eq!(clean("a/../b"), Some("b".into()));
        for root in [".", "./", "/", "", "a/..", "../.."] {
            assert_eq!(clean(root), None, "{root}");
        }
    }

    #[test]
    fn the_root_turns_the_filter_off() {
        let mut p = LocalPaths::default();
        assert!(p.follow_paths().is_empty());
        p.add("src/");
        p.add("go.mod");
        p.add("src");
        assert_eq!(p.follow_paths(), ["go.mod", "src"]);
        p.add("./");
        assert_eq!(p, LocalPaths::All);
        p.add("more");
        assert_eq!(p, LocalPaths::All);
        assert!(p.follow_paths().is_empty());
    }
}
