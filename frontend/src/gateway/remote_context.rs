//! Remote main contexts: `docker buildx build https://github.com/org/repo.git#main`,
//! `... https://host/ctx.tar.gz`, `... - < ctx.tar` (and Docker 20.10's `docker build` with a
//! URL or a tarball body) send the opt `context=<url>` and no `context`/`dockerfile` locals.
//! As the Dockerfile frontend does (`dockerui` `DetectGitContext`, HTTP context), decant then
//! reads both the spec and the build context from that source:
//!
//! * a git URL (`#ref[:dir]` or `?ref=&subdir=`): the checkout, `.git` kept with the build arg
//!   `BUILDKIT_CONTEXT_KEEP_GIT_DIR=true` (or `?keep-git-dir=true`);
//! * any other `http(s)://` URL: downloaded; a tar archive (gzip, bzip2 and xz too) is unpacked
//!   and is the context; any other file is the spec itself.
//!
//! The result is handed on as the frontend inputs `context` and `dockerfile` (unless
//! `dockerfilekey` names a local for the spec), so the rest of the build treats it like a
//! context passed as an input: no `.dockerignore` applies.

use std::collections::BTreeMap;

use super::failure::BuildError;
use super::{Client, FrontendOpts, SolveParams};
use crate::llb::pb::Definition;
use crate::llb::{self, OpMeta, State};
use crate::remote::{GitSource, Remote};

/// The file an http(s) context is saved as, as in the Dockerfile frontend.
const HTTP_CONTEXT_FILE: &str = "context";

/// The remote context the options name, if any. `github.com/org/repo` without a scheme is a
/// repository here, as in the Dockerfile frontend (for contexts only).
pub(crate) fn detect(opts: &FrontendOpts) -> Result<Option<Remote>, BuildError> {
    let key = opts.context_key();
    let Some(value) = opts.get(key).filter(|v| !v.is_empty()) else { return Ok(None) };
    let bad = |e: String| BuildError::InvalidArgument(format!("the build context {value:?}: {e}"));
    if value.starts_with("github.com/") {
        // Fetched over https; named as written.
        let mut g = GitSource::parse(&format!("https://{value}")).map_err(bad)?;
        g.remote = g.remote.trim_start_matches("https://").to_string();
        return Ok(Some(Remote::Git(g)));
    }
    // Anything else (e.g. `input:context` from buildx) is not a remote context. An http(s) URL
    // is a tarball, or the spec itself.
    Remote::parse(value).transpose().map_err(bad)
}

/// `inputs` with the remote context (if the options name one) as the inputs `context` and
/// `dockerfile`.
pub(crate) async fn with_remote_context(
    client: &Client,
    opts: &FrontendOpts,
    mut inputs: BTreeMap<String, Definition>,
) -> Result<BTreeMap<String, Definition>, BuildError> {
    let Some(remote) = detect(opts)? else { return Ok(inputs) };
    let (context, spec_dir) = match remote {
        Remote::Git(g) => {
            let state = git_context(&g, opts)?;
            (state.clone(), state)
        }
        Remote::Http(url) => http_context(client, opts, &url).await?,
    };
    inputs.insert(opts.context_key().to_string(), llb::marshal(&context));
    if !opts.has_dockerfile_key() {
        inputs.insert(opts.dockerfile_key().to_string(), llb::marshal(&spec_dir));
    }
    Ok(inputs)
}

fn llb_error(e: llb::LlbError) -> BuildError {
    BuildError::InvalidArgument(format!("the build context: {e}"))
}

/// The checkout of a git context.
fn git_context(g: &GitSource, opts: &FrontendOpts) -> Result<State, BuildError> {
    let keep_arg = "build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR";
    let keep = match opts.get(keep_arg).filter(|v| !v.is_empty()) {
        None => false,
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
        Some(v) => {
            return Err(BuildError::InvalidArgument(format!(
                "invalid value for frontend option {keep_arg:?}: {v:?}: expected a boolean"
            )))
        }
    };
    llb::git(g, keep, OpMeta::named(format!("[internal] load git source {g}"))).map_err(llb_error)
}

/// An http(s) context: `(context, spec directory)`. The download is solved and its first
/// bytes read, to tell an archive (unpacked: the context and the spec's directory) from a
/// plain file (the spec itself, under the name the spec is read as).
async fn http_context(client: &Client, opts: &FrontendOpts, url: &str) -> Result<(State, State), BuildError> {
    let http_opts = llb::HttpOpts { filename: Some(HTTP_CONTEXT_FILE.into()), ..Default::default() };
    let download =
        llb::http(url, http_opts, OpMeta::named("[internal] load remote build context")).map_err(llb_error)?;
    let solved = client.solve(SolveParams { definition: llb::marshal_bytes(&download), ..Default::default() }).await?;
    let head = client
        .read_file(&solved.id, HTTP_CONTEXT_FILE, Some(super::pb::FileRange { offset: 0, length: 1024 }))
        .await
        .map_err(|e| BuildError::Other(format!("cannot read the downloaded build context {url}: {e}")))?;
    let from = |dest: &str, unpack: bool| llb::Copy {
        src: format!("/{HTTP_CONTEXT_FILE}"),
        dest: dest.to_string(),
        attempt_unpack: unpack,
        follow_symlink: true,
        create_dest_path: true,
        ..Default::default()
    };
    if is_archive(&head) {
        let unpacked = llb::FileChain::on(State::scratch())
            .copy(&download, from("/", true))
            .finish(None, OpMeta::named("[internal] unpack remote build context"));
        return Ok((unpacked.clone(), unpacked));
    }
    // A plain file is the spec: put it where the spec is read from.
    let name = opts.get("filename").filter(|f| !f.is_empty() && *f != ".").unwrap_or(super::opts::DEFAULT_FILENAME);
    let spec_dir = llb::FileChain::on(State::scratch())
        .copy(&download, from(&format!("/{}", name.trim_start_matches('/')), false))
        .finish(None, OpMeta::named(format!("[internal] load build definition from {url}")));
    Ok((download, spec_dir))
}

/// Whether the first bytes of a file are an archive BuildKit unpacks: gzip, bzip2, xz, or a
/// tar header with a valid checksum.
pub(crate) fn is_archive(head: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[&[0x1F, 0x8B, 0x08], &[0x42, 0x5A, 0x68], &[0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]];
    if MAGIC.iter().any(|m| head.starts_with(m)) {
        return true;
    }
    is_tar_header(head)
}

/// A 512-byte tar header whose checksum field matches its bytes (checksum field as spaces).
fn is_tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else { return false };
    if block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = &block[148..156];
    let text: String = field.iter().take_while(|b| **b != 0).map(|b| *b as char).collect();
    let Ok(want) = u32::from_str_radix(text.trim(), 8) else { return false };
    let sum: u32 =
        block.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u32::from(*b) }).sum();
    sum == want
}

/// A one-file tar archive header, as `tar` writes it.
#[cfg(test)]
pub(crate) fn tar_header(name: &str) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(b"00000000005\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> FrontendOpts {
        FrontendOpts::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn detects_git_and_http_contexts() {
        assert_eq!(detect(&opts(&[])).unwrap(), None);
        assert_eq!(detect(&opts(&[("context", "input:context")])).unwrap(), None);
        let Some(Remote::Git(g)) =
            detect(&opts(&[("context", "https://github.com/org/repo.git?ref=v1&subdir=app")])).unwrap()
        else {
            panic!("git")
        };
        assert_eq!((g.reference.as_deref(), g.subdir.as_deref()), (Some("v1"), Some("app")));
        let Some(Remote::Git(g)) = detect(&opts(&[("context", "github.com/org/repo#main")])).unwrap() else {
            panic!("git")
        };
        assert_eq!((g.remote.as_str(), g.reference.as_deref()), ("github.com/org/repo", Some("main")));
        assert_eq!(g.url, "https://github.com/org/repo", "fetched over https");
        assert_eq!(
            detect(&opts(&[("context", "http://build-context-abc123")])).unwrap(),
            Some(Remote::Http("http://build-context-abc123".into()))
        );
        // The opt named by `contextkey`.
        assert_eq!(
            detect(&opts(&[("contextkey", "src"), ("src", "https://h/ctx.tar.gz")])).unwrap(),
            Some(Remote::Http("https://h/ctx.tar.gz".into()))
        );
        assert!(detect(&opts(&[("context", "https://h/r.git?depth=1")])).is_err());
    }

    #[test]
    fn archives_by_their_first_bytes() {
        assert!(is_archive(&[0x1F, 0x8B, 0x08, 0]));
        assert!(is_archive(b"BZh91AY"));
        assert!(is_archive(&tar_header("decant.yaml")));
        let mut broken = tar_header("decant.yaml");
        broken[0] = b'X';
        assert!(!is_archive(&broken), "a bad checksum is no tar");
        assert!(!is_archive(b"# syntax=decant/frontend:dev\nstages: {}\n"));
        assert!(!is_archive(&[0u8; 1024]));
    }

    #[test]
    fn keep_git_dir_build_arg() {
        let g = GitSource::parse("https://github.com/org/repo.git#main").unwrap();
        let keep = |v: &str| {
            let s = git_context(&g, &opts(&[("build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", v)])).unwrap();
            let def = llb::marshal(&s);
            crate::llb::dump_json(&def).to_string().contains("git.keepgitdir")
        };
        assert!(keep("true") && keep("1"));
        assert!(!keep("false") && !keep(""));
        assert!(git_context(&g, &opts(&[("build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", "yes")])).is_err());
    }
}
