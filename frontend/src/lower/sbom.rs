//! SBOM scans (`--sbom`), as the Dockerfile frontend runs them: the scanner image's command
//! over the target's filesystem, with the build context and other stages as extras when the
//! spec asks for them (`BUILDKIT_SBOM_SCAN_CONTEXT`, `BUILDKIT_SBOM_SCAN_STAGE`), writing its
//! SPDX documents to an output mount that becomes the attestation.

use std::collections::BTreeMap;

use crate::image::{ImageConfig, DEFAULT_PATH};
use crate::llb::{self, pb, Access, Exec, MountKind, MountSpec, OpMeta, State};
use crate::plan::{ImageRef, Platform};

/// The name of the scanned target among the scan's sources (`sbom.core` in the attestation).
pub const CORE_NAME: &str = "sbom";
/// Where the scanner writes its documents (`BUILDKIT_SCAN_DESTINATION`).
pub const OUT_DIR: &str = "/run/out/";
/// Where the target is mounted (`BUILDKIT_SCAN_SOURCE`).
pub const CORE_DIR: &str = "/run/src/core/sbom";
/// Where the extras are mounted, each as `sbom-<name>` (`BUILDKIT_SCAN_SOURCE_EXTRAS`).
pub const EXTRAS_DIR: &str = "/run/src/extras";

/// A scanner image, resolved.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// The image as its source op names it (pinned where the daemon gave a digest).
    pub reference: ImageRef,
    /// The platform it runs on (the build platform).
    pub platform: Platform,
    /// Its image config: command, environment and working directory.
    pub config: ImageConfig,
    /// `BUILDKIT_SCAN_<name>` parameters.
    pub params: BTreeMap<String, String>,
}

/// What one platform's scan reads: the target and the extras by name.
#[derive(Debug, Clone)]
pub struct ScanTargets {
    /// The target's filesystem.
    pub core: State,
    /// `context` and scanned stages by name.
    pub extras: BTreeMap<String, State>,
    /// A stage scanned (or the target) ignores the cache, and so does the scan.
    pub ignore_cache: bool,
}

/// A scan that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The scanner image has no entrypoint or command.
    #[error("scanner {0} does not have cmd")]
    NoCommand(String),
    #[error(transparent)]
    Llb(#[from] llb::LlbError),
}

impl Scanner {
    /// The scan of `targets` for the platform `id`: the state of its output mount, the
    /// attestation's filesystem.
    pub fn scan(&self, id: &str, targets: &ScanTargets) -> Result<State, ScanError> {
        let c = &self.config.config;
        let args: Vec<String> = c.entrypoint.iter().flatten().chain(c.cmd.iter().flatten()).cloned().collect();
        if args.is_empty() {
            return Err(ScanError::NoCommand(self.reference.to_string()));
        }
        let mut env = Env(c.env.clone());
        env.set("BUILDKIT_SCAN_DESTINATION", OUT_DIR);
        env.set("BUILDKIT_SCAN_SOURCE", CORE_DIR);
        if !targets.extras.is_empty() {
            env.set("BUILDKIT_SCAN_SOURCE_EXTRAS", EXTRAS_DIR);
        }
        for (k, v) in &self.params {
            env.set(&format!("BUILDKIT_SCAN_{k}"), v);
        }
        if !env.0.iter().any(|kv| kv.starts_with("PATH=")) {
            env.0.push(format!("PATH={DEFAULT_PATH}"));
        }
        let platform = pb::Platform::from(&self.platform);
        let image_opts = llb::ImageOpts { platform: Some(platform.clone()), resolve_mode: llb::ResolveMode::Default };
        let root = llb::image(&self.reference, image_opts, OpMeta::default())?;
        let bind = |dest: String, source: &State, access: Access| MountSpec {
            dest,
            kind: MountKind::Bind { source: source.clone(), selector: None, access },
        };
        let mut mounts = vec![MountSpec { dest: "/tmp".into(), kind: MountKind::Tmpfs { size: None } }];
        mounts.push(bind(CORE_DIR.into(), &targets.core, Access::ReadOnly));
        for (name, state) in &targets.extras {
            mounts.push(bind(format!("{EXTRAS_DIR}/{CORE_NAME}-{name}"), state, Access::ReadOnly));
        }
        mounts.push(bind(OUT_DIR.into(), &State::scratch(), Access::Output));
        let exec = Exec {
            root,
            args,
            env: env.0,
            cwd: c.working_dir.clone(),
            platform: Some(platform),
            mounts,
            ..Default::default()
        };
        let mut meta = OpMeta::named(format!("[{id}] generating sbom using {}", self.reference));
        meta.ignore_cache = targets.ignore_cache;
        let result = llb::exec(exec, meta)?;
        let out = result.mounts.last().cloned().flatten();
        out.ok_or_else(|| ScanError::Llb(llb::LlbError::InvalidMountDest(OUT_DIR.into())))
    }
}

/// An environment where a later value of a name replaces the earlier one at the end.
struct Env(Vec<String>);

impl Env {
    fn set(&mut self, name: &str, value: &str) {
        self.0.retain(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) != name);
        self.0.push(format!("{name}={value}"));
    }
}
