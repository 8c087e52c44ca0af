//! Lowering each kind of step (a `run` step in `run.rs`), and the path helpers they share.

use std::borrow::Cow;

use super::config::{expand, push_history, set_envs};
use super::{Built, Lowerer};
use crate::diag::Diagnostic;
use crate::llb::{self, State};
use crate::plan::values::Mode;
use crate::plan::{Copy, Source, Stage, Step, StepKind};

impl Lowerer<'_> {
    pub(super) fn step(
        &mut self,
        stage: &Stage,
        step: &Step,
        name: String,
        history: String,
        built: &mut Built,
    ) -> Result<(), Diagnostic> {
        match &step.kind {
            StepKind::Env { vars } => {
                // Every value expands against the environment before this step, as in one ENV.
                let env = &built.config.config.env;
                let values: Vec<Cow<str>> =
                    vars.iter().map(|(_, v)| expand(v, env, step.span)).collect::<Result<_, _>>()?;
                let pairs = vars.iter().zip(&values).map(|((k, _), v)| (k.as_str(), v.as_ref()));
                set_envs(&mut built.config.config.env, pairs);
                push_history(&mut built.config, history, true);
            }
            StepKind::User { user } => {
                built.config.config.user = expand(user, &built.config.config.env, step.span)?.into_owned();
                push_history(&mut built.config, history, true);
            }
            StepKind::Workdir { path } => {
                let path = expand(path, &built.config.config.env, step.span)?;
                let dir = join_path(&built.config.config.working_dir, &path);
                // The config keeps an absolute path as written (`/app/` stays `/app/`), a relative
                // one joined and cleaned, as Dockerfile's WORKDIR does; the ops use the clean one.
                built.config.config.working_dir = if path.starts_with('/') { path.into_owned() } else { dir.clone() };
                if built.config.config.working_dir == "/" {
                    // As Dockerfile's `WORKDIR /`: nothing to make, no layer.
                    push_history(&mut built.config, history, true);
                    return Ok(());
                }
                let meta = self.meta(stage, name, step.span);
                // As Dockerfile's WORKDIR: the directories it makes belong to the image's user
                // at that point (by name through the base's /etc/passwd), so that the user's
                // later steps can write there.
                let owner = llb::Chown::parse(&built.config.config.user);
                built.state = llb::FileChain::on(built.state.clone())
                    .mkdir(dir, 0o755, true, owner)
                    .finish(Some(&self.platform), meta);
                push_history(&mut built.config, history, false);
            }
            StepKind::File { path, content, expanded, mode, chown } => {
                let env = &built.config.config.env;
                let expanded = expanded.as_ref().map(|w| expand(w, env, step.span)).transpose()?;
                let content = expanded.as_deref().unwrap_or(content);
                let path = join_path(&built.config.config.working_dir, &expand(path, env, step.span)?);
                let owner = match chown {
                    Some(o) => llb::Chown::parse(&expand(o, env, step.span)?),
                    None => None,
                };
                let file = path.rsplit_once('/').map_or(path.as_str(), |(_, f)| f);
                let platform = Some(&self.platform);
                // As Dockerfile's `COPY <<EOF path`: the file is made (0644) in an empty layer, then
                // copied in with its mode and owner, which the parent directories the copy makes
                // get too.
                let (mode, mode_str) = match mode {
                    None => (None, None),
                    Some(Mode::Octal(m)) => (Some(*m), None),
                    Some(Mode::Symbolic(s)) => (None, Some(self.mode_string(step, s)?)),
                };
                let meta = self.meta(stage, format!("{name}: content"), step.span);
                let made = llb::FileChain::on(State::scratch())
                    .mkfile(format!("/{file}"), 0o644, content.as_bytes(), None)
                    .finish(platform, meta);
                let copy = llb::Copy {
                    src: format!("/{file}"),
                    dest: path.clone(),
                    owner,
                    mode,
                    mode_str,
                    create_dest_path: true,
                    ..Default::default()
                };
                built.state = llb::FileChain::on(built.state.clone())
                    .copy(&made, copy)
                    .finish(platform, self.meta(stage, name, step.span));
                push_history(&mut built.config, history, false);
            }
            StepKind::Run(run) => {
                built.state = self.run(stage, step, run, name, built)?;
                push_history(&mut built.config, history, false);
            }
            StepKind::Copy(copy) => {
                built.state = self.copy(stage, step, copy, name, built)?;
                push_history(&mut built.config, history, false);
            }
        }
        Ok(())
    }

    fn copy(
        &mut self,
        stage: &Stage,
        step: &Step,
        copy: &Copy,
        name: String,
        built: &Built,
    ) -> Result<State, Diagnostic> {
        let env = &built.config.config.env;
        let sources: Vec<String> =
            copy.sources.iter().map(|s| expand(s, env, step.span).map(Cow::into_owned)).collect::<Result<_, _>>()?;
        let to = copy.to.as_ref().map(|t| expand(t, env, step.span)).transpose()?;
        let chown = copy.chown.as_ref().map(|o| expand(o, env, step.span)).transpose()?;
        let (src_state, src_dir) = self.copy_source(stage, step, copy, &sources)?;
        let (mode, mode_str) = match &copy.chmod {
            Some(Mode::Octal(m)) => (Some(*m), None),
            Some(Mode::Symbolic(s)) => (None, Some(self.mode_string(step, s)?)),
            None => (None, None),
        };
        // What every copy of the step shares.
        let into = llb::Copy {
            dest: copy_dest(&built.config.config.working_dir, to.as_deref(), &sources),
            owner: chown.as_deref().and_then(llb::Chown::parse),
            mode,
            mode_str,
            create_dest_path: true,
            ..Default::default()
        };
        let action = |src: String, include_patterns: Vec<String>| llb::Copy {
            src,
            follow_symlink: copy.follow_symlinks,
            dir_copy_contents: true,
            allow_wildcard: true,
            // As Dockerfile COPY: a pattern may match nothing (`yarn.lock*`); a plain path must exist.
            allow_empty_wildcard: true,
            attempt_unpack: copy.unpack,
            include_patterns,
            exclude_patterns: copy.exclude.clone(),
            ..into.clone()
        };
        // With `link`, the files go into an empty layer merged on top (where BuildKit can).
        let link = copy.link && self.inputs.features.merge_op;
        let base = if link { State::scratch() } else { built.state.clone() };
        let mut chain = llb::FileChain::on(base);
        // Sources in order; with `parents`, the local paths go in one copy at the end.
        let mut kept_paths: Vec<&String> = Vec::new();
        for src in &sources {
            if Copy::is_url(src) {
                let (download, file) = self.download(stage, step, copy, src)?;
                let from_download = llb::Copy { src: format!("/{file}"), follow_symlink: true, ..into.clone() };
                chain = chain.copy(&download, from_download);
            } else if copy.parents {
                kept_paths.push(src);
            } else {
                chain = chain.copy(&src_state, action(join_path(&src_dir, src), Vec::new()));
            }
        }
        for (root, patterns) in parents_groups(&src_dir, &kept_paths) {
            chain = chain.copy(&src_state, action(root, patterns));
        }
        let link_name = link.then(|| format!("{name}: link"));
        let meta = self.meta(stage, name, step.span);
        let copied = chain.finish(Some(&self.platform), meta);
        let Some(link_name) = link_name else {
            return Ok(copied);
        };
        let meta = self.meta(stage, link_name, step.span);
        Ok(llb::merge(vec![built.state.clone(), copied], meta))
    }
}

/// Where a copy puts its sources: `to` against the workdir, else the workdir; a directory
/// (trailing `/`) for several sources or a pattern.
fn copy_dest(workdir: &str, to: Option<&str>, sources: &[String]) -> String {
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    let mut dest = match to {
        Some(to) => join_path_keep_slash(workdir, to),
        None => format!("{}/", workdir.trim_end_matches('/')),
    };
    let many = sources.len() > 1 || sources.iter().any(|s| has_wildcard(s));
    if many && !dest.ends_with('/') {
        dest.push('/');
    }
    dest
}

/// The copies of `parents: true`: one per root, in the order of the sources, each keeping only
/// the named paths (their parents come along). Relative sources keep their path below the
/// source's directory; once one source is absolute, all keep their path from `/`. A source with
/// a `/./` pivot (`src/./app/x.txt`) keeps only the part after it, below its own root (`src`),
/// as Dockerfile's `COPY --parents` does.
fn parents_groups(src_dir: &str, kept_paths: &[&String]) -> Vec<(String, Vec<String>)> {
    let pivot = |s: &str| s.split_once("/./").map(|(root, rest)| (root.to_string(), rest.to_string()));
    let absolute = kept_paths.iter().any(|s| s.starts_with('/') && pivot(s).is_none());
    let (root, base) = if absolute { ("/".to_string(), src_dir) } else { (src_dir.to_string(), "/") };
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for s in kept_paths {
        let (root, pattern) = match pivot(s) {
            Some((parent, rest)) => (join_path(src_dir, &parent), join_path("/", &rest)),
            None => (root.clone(), join_path(base, s)),
        };
        let pattern = pattern.trim_start_matches('/').to_string();
        match groups.iter_mut().find(|(r, _)| *r == root) {
            Some((_, patterns)) => patterns.push(pattern),
            None => groups.push((root, vec![pattern])),
        }
    }
    groups
}

impl Lowerer<'_> {
    /// What a copy reads from, and the directory its relative sources start at.
    fn copy_source(
        &mut self,
        stage: &Stage,
        step: &Step,
        copy: &Copy,
        sources: &[String],
    ) -> Result<(State, String), Diagnostic> {
        Ok(match &copy.from {
            Source::Git(g) if copy.keep_git_dir => (self.git_state(stage, g, true, step.span)?, "/".into()),
            // Only URL sources: nothing is read from the context.
            Source::Context if sources.iter().all(|s| Copy::is_url(s)) => (State::scratch(), "/".into()),
            from => self.source(stage, from, step.span)?,
        })
    }

    /// A symbolic `chmod`, where the daemon can apply one.
    fn mode_string(&self, step: &Step, mode: &str) -> Result<String, Diagnostic> {
        if self.inputs.features.copy_mode_string {
            return Ok(mode.to_string());
        }
        let msg = format!("`chmod: {mode}`: a symbolic mode needs BuildKit 0.17 or later, and this daemon is older");
        Err(Diagnostic::error(step.span, msg).help("write the mode in octal, e.g. `chmod: \"0755\"`"))
    }

    /// An http(s) source: the file saved under its URL's last path component, as Dockerfile
    /// `ADD <url>` does (archives are not unpacked).
    fn download(&self, stage: &Stage, step: &Step, copy: &Copy, url: &str) -> Result<(State, String), Diagnostic> {
        let file = crate::remote::url_filename(url);
        let meta = self.meta(stage, format!("[{}] download {url}", stage.name), step.span);
        let opts =
            llb::HttpOpts { checksum: copy.checksum.clone(), filename: Some(file.clone()), ..Default::default() };
        let state = llb::http(url, opts, meta).map_err(|e| self.llb_error(step.span, e))?;
        Ok((state, file))
    }
}

pub(super) fn non_empty(s: &str, default: &str) -> String {
    if s.is_empty() {
        default.into()
    } else {
        s.into()
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `path` resolved against `dir`, cleaned (`.` and `..` folded), absolute.
pub(crate) fn join_path(dir: &str, path: &str) -> String {
    // Built in place: each component is pushed as `/name`, and `..` cuts the last one off.
    fn push(out: &mut String, path: &str) {
        for p in path.split('/') {
            match p {
                "" | "." => {}
                ".." => out.truncate(out.rfind('/').unwrap_or(0)),
                p => {
                    out.push('/');
                    out.push_str(p);
                }
            }
        }
    }
    let mut out = String::with_capacity(dir.len() + path.len() + 2);
    if !path.starts_with('/') {
        push(&mut out, dir);
    }
    push(&mut out, path);
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Like [`join_path`], keeping a trailing `/` (which makes the destination a directory).
pub(crate) fn join_path_keep_slash(dir: &str, path: &str) -> String {
    let mut p = join_path(dir, path);
    if (path.ends_with('/') || path.ends_with("/.") || path == ".") && !p.ends_with('/') {
        p.push('/');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(join_path("/src", "a/b"), "/src/a/b");
        assert_eq!(join_path("/src", "/x/../y"), "/y");
        assert_eq!(join_path("", "."), "/");
        assert_eq!(join_path("/a/b", "../../.."), "/");
        assert_eq!(join_path("/a/b", "../c/./d/"), "/a/c/d");
        assert_eq!(join_path("rel//dir/", "x"), "/rel/dir/x");
        assert_eq!(join_path("/w", ""), "/w");
        assert_eq!(join_path("/w", "/"), "/");
        assert_eq!(join_path("/w", "../../x/.."), "/");
        assert_eq!(join_path_keep_slash("/w", "out/"), "/w/out/");
        assert_eq!(join_path_keep_slash("/w", "."), "/w/");
        assert_eq!(join_path_keep_slash("/w", "f"), "/w/f");
    }
}
