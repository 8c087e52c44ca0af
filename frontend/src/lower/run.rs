//! Lowering a `run` step: its process (command, environment, user, directory, container
//! settings) and its mounts, one function per kind of mount.

use std::borrow::Cow;

use super::config::{expand, set_env, set_envs, shell_command};
use super::steps::{join_path, non_empty};
use super::{Built, Lowerer};
use crate::diag::{Diagnostic, Span};
use crate::image::{ContainerConfig, ImageConfig};
use crate::llb::{self, pb, State};
use crate::plan::{CommandLine, Mount, Network, Run, Security, Sharing, Source, Stage, Step};

/// A run step's mounts as lowered: the mounts in order, the secrets given as environment
/// variables, and where its SSH sockets are.
#[derive(Default)]
struct RunMounts {
    specs: Vec<llb::MountSpec>,
    /// `(secret id, variable name, optional)`.
    secret_env: Vec<(String, String, bool)>,
    /// In mount order; the first is `SSH_AUTH_SOCK`.
    ssh_sockets: Vec<String>,
}

impl Lowerer<'_> {
    /// A run step: its command in a container over the stage's filesystem, with its mounts.
    pub(super) fn run(
        &mut self,
        stage: &Stage,
        step: &Step,
        run: &Run,
        name: String,
        built: &Built,
    ) -> Result<State, Diagnostic> {
        let config = &built.config.config;
        let mut env = self.run_env(stage, step.span, run, config)?;
        let cwd = match &run.workdir {
            Some(w) => join_path(&config.working_dir, &expand(w, &config.env, step.span)?),
            None => non_empty(&config.working_dir, "/"),
        };
        let user = match &run.user {
            Some(u) => expand(u, &config.env, step.span)?.into_owned(),
            None => config.user.clone(),
        };
        let mut mounts = self.mounts(stage, step.span, &run.mounts, &cwd)?;
        if let Some(socket) = mounts.ssh_sockets.first() {
            set_env(&mut env, "SSH_AUTH_SOCK", socket);
        }
        // The mounts decant adds come after the step's own, in this order.
        self.inputs.run.add_shm(&mut mounts.specs);
        let (args, script) = self.command(stage, step.span, &run.command, &built.config);
        mounts.specs.extend(script);
        let exec = llb::Exec {
            root: built.state.clone(),
            args,
            env,
            cwd,
            user,
            mounts: mounts.specs,
            secret_env: mounts.secret_env,
            ..self.container(run)
        };
        let meta = self.meta(stage, name, step.span);
        llb::exec(exec, meta).map(|r| r.root).map_err(|e| self.llb_error(step.span, e))
    }

    /// The command's arguments: exec form as written, shell form under the stage's shell. A
    /// script whose first line is a shebang runs under that interpreter, as a Dockerfile heredoc
    /// does: written to a file, mounted read-only (the mount returned), and run as the command.
    fn command(
        &self,
        stage: &Stage,
        span: Span,
        command: &CommandLine,
        image: &ImageConfig,
    ) -> (Vec<String>, Option<llb::MountSpec>) {
        match command {
            CommandLine::Exec(args) => (args.clone(), None),
            CommandLine::Shell(script) if script.starts_with("#!") => {
                let meta = self.meta(stage, format!("[{}] script", stage.name), span);
                let file = llb::FileChain::on(State::scratch())
                    .mkfile("/script", 0o755, script.as_bytes(), None)
                    .finish(Some(&self.platform), meta);
                let kind = llb::MountKind::Bind { source: file, selector: None, access: llb::Access::ReadOnly };
                (vec!["/dev/pipes/script".to_string()], Some(llb::MountSpec { dest: "/dev/pipes".into(), kind }))
            }
            CommandLine::Shell(cmd) => (shell_command(stage, image, cmd), None),
        }
    }

    /// The step's environment: the build args it sees, then the image's environment, then the
    /// step's own `env:` (expanded against the image's).
    fn run_env(
        &self,
        stage: &Stage,
        span: Span,
        run: &Run,
        config: &ContainerConfig,
    ) -> Result<Vec<String>, Diagnostic> {
        let mut env = self.build_args_seen(stage, &run.command);
        let run_env: Vec<(&str, Cow<str>)> = run
            .env
            .iter()
            .map(|(k, v)| Ok((k.as_str(), expand(v, &config.env, span)?)))
            .collect::<Result<_, Diagnostic>>()?;
        let image_env = config.env.iter().filter_map(|kv| kv.split_once('='));
        set_envs(&mut env, image_env.chain(run_env.iter().map(|(k, v)| (*k, v.as_ref()))));
        Ok(env)
    }

    /// The build args a command sees, as `K=V`: those it mentions (so changing another arg
    /// keeps its cache) and those marked `env: true`. They are not kept in the image, and the
    /// image's env wins over them.
    fn build_args_seen(&self, stage: &Stage, command: &CommandLine) -> Vec<String> {
        // (The variables the command mentions, looked up among the args: not every arg looked
        // for in the command.)
        let mut mentioned: Vec<&str> = match command {
            CommandLine::Shell(cmd) => crate::plan::mentioned_vars(cmd).collect(),
            CommandLine::Exec(args) => args.iter().flat_map(|a| crate::plan::mentioned_vars(a)).collect(),
        };
        mentioned.extend(self.plan.env_args.iter().map(String::as_str));
        mentioned.sort_unstable();
        mentioned.dedup();
        // The stage's own value, else the build's (built-in args such as TARGETARCH too); an arg
        // that has no value at all is not set, as Dockerfile's `ARG NAME` leaves it.
        mentioned
            .into_iter()
            .filter_map(|name| {
                stage
                    .args
                    .get_key_value(name)
                    .or_else(|| self.all_args.get_key_value(name).filter(|(k, _)| !self.plan.unset_args.contains(*k)))
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// The container around the process: network, security, host names, platform, and the
    /// build's run options (proxy, limits, cgroup). Everything else is left to the caller.
    fn container(&self, run: &Run) -> llb::Exec {
        let network = match run.network.or(self.inputs.network) {
            None | Some(Network::Default) => pb::NetMode::Unset,
            Some(Network::None) => pb::NetMode::None,
            Some(Network::Host) => pb::NetMode::Host,
        };
        let security = match run.security {
            Security::Sandbox => pb::SecurityMode::Sandbox,
            Security::Insecure => pb::SecurityMode::Insecure,
        };
        let run_opts = &self.inputs.run;
        llb::Exec {
            hostname: self.inputs.hostname.clone().unwrap_or_default(),
            extra_hosts: self.inputs.extra_hosts.clone(),
            network,
            security,
            platform: Some(self.platform.clone()),
            proxy_env: run_opts.proxy.clone(),
            ulimits: run_opts.ulimits.clone(),
            cgroup_parent: run_opts.cgroup_parent.clone().unwrap_or_default(),
            ..Default::default()
        }
    }

    /// The step's mounts, in order; relative targets start at `cwd`.
    fn mounts(&mut self, stage: &Stage, span: Span, mounts: &[Mount], cwd: &str) -> Result<RunMounts, Diagnostic> {
        let mut out = RunMounts::default();
        for m in mounts {
            match m {
                Mount::Bind { target, from, source, readwrite } => {
                    let kind = self.bind_mount(stage, span, from, source, *readwrite)?;
                    out.specs.push(llb::MountSpec { dest: join_path(cwd, target), kind });
                }
                Mount::Cache { target, id, sharing, from, source, mode, uid, gid, readonly } => {
                    let (source, selector) = match from {
                        Some(from) => (Some(self.source(stage, from, span)?.0), source.clone()),
                        None => self.cache_dir(stage, span, target, *mode, owner(*uid, *gid)).unzip(),
                    };
                    let kind = self.cache_mount(id, *sharing, source, selector, *readonly);
                    out.specs.push(llb::MountSpec { dest: join_path(cwd, target), kind });
                }
                Mount::Tmpfs { target, size } => {
                    out.specs.push(llb::MountSpec { dest: join_path(cwd, target), kind: tmpfs_mount(*size) });
                }
                Mount::Secret { id, target, env, required, mode, uid, gid } => {
                    if let Some(target) = target {
                        let kind = secret_mount(id, *required, *mode, *uid, *gid);
                        out.specs.push(llb::MountSpec { dest: join_path(cwd, target), kind });
                    }
                    if let Some(name) = env {
                        out.secret_env.push((id.clone(), name.clone(), !required));
                    }
                }
                Mount::Ssh { id, target, required, mode, uid, gid } => {
                    let dest = match target {
                        Some(t) => join_path(cwd, t),
                        None => crate::plan::ssh_default_target(out.ssh_sockets.len()),
                    };
                    out.ssh_sockets.push(dest.clone());
                    out.specs.push(llb::MountSpec { dest, kind: ssh_mount(id, *required, *mode, *uid, *gid) });
                }
            }
        }
        Ok(out)
    }

    /// A stage, image, context, ... mounted at the target (a sub-path `source` of it).
    fn bind_mount(
        &mut self,
        stage: &Stage,
        span: Span,
        from: &Source,
        source: &Option<String>,
        readwrite: bool,
    ) -> Result<llb::MountKind, Diagnostic> {
        let (state, _) = self.source(stage, from, span)?;
        // A writable one as a Dockerfile's `rw`: what the command writes there is dropped.
        let access = if readwrite { llb::Access::Writable } else { llb::Access::ReadOnly };
        Ok(llb::MountKind::Bind { source: state, selector: source.clone(), access })
    }

    /// A cache directory kept between builds, under its id in the build's cache namespace; it
    /// starts as `source` (its sub-path `selector`) when empty.
    fn cache_mount(
        &self,
        id: &str,
        sharing: Sharing,
        source: Option<State>,
        selector: Option<String>,
        readonly: bool,
    ) -> llb::MountKind {
        let sharing = match sharing {
            Sharing::Shared => pb::CacheSharingOpt::Shared,
            Sharing::Private => pb::CacheSharingOpt::Private,
            Sharing::Locked => pb::CacheSharingOpt::Locked,
        };
        llb::MountKind::Cache { id: self.inputs.run.cache_id(id), sharing, source, selector, readonly }
    }

    /// What a cache with an owner or mode starts as: that directory (`/cache` of a new
    /// layer). `None` for a cache with neither.
    fn cache_dir(
        &self,
        stage: &Stage,
        span: Span,
        target: &str,
        mode: Option<u32>,
        owner: Option<llb::Chown>,
    ) -> Option<(State, String)> {
        if mode.is_none() && owner.is_none() {
            return None;
        }
        let meta = self.meta(stage, format!("[{}] cache dir {target}", stage.name), span);
        let dir = llb::FileChain::on(State::scratch())
            .mkdir("/cache", mode.unwrap_or(0o755), true, owner)
            .finish(Some(&self.platform), meta);
        Some((dir, "/cache".into()))
    }
}

/// The owner a spec gives by id, if it gives one.
fn owner(uid: Option<u32>, gid: Option<u32>) -> Option<llb::Chown> {
    (uid.is_some() || gid.is_some())
        .then(|| llb::Chown { user: uid.map(llb::UserSpec::Id), group: gid.map(llb::UserSpec::Id) })
}

/// A tmpfs, of at most `size` bytes if given.
fn tmpfs_mount(size: Option<u64>) -> llb::MountKind {
    llb::MountKind::Tmpfs { size: size.map(|s| s as i64) }
}

/// A secret as a file: root's and readable by root only, unless the spec says otherwise.
fn secret_mount(id: &str, required: bool, mode: Option<u32>, uid: Option<u32>, gid: Option<u32>) -> llb::MountKind {
    let (uid, gid, mode) = (uid.unwrap_or(0), gid.unwrap_or(0), mode.unwrap_or(0o400));
    llb::MountKind::Secret { id: id.to_string(), uid, gid, mode, optional: !required }
}

/// An SSH agent socket: root's and usable by root only, unless the spec says otherwise.
fn ssh_mount(id: &str, required: bool, mode: Option<u32>, uid: Option<u32>, gid: Option<u32>) -> llb::MountKind {
    let (uid, gid, mode) = (uid.unwrap_or(0), gid.unwrap_or(0), mode.unwrap_or(0o600));
    llb::MountKind::Ssh { id: id.to_string(), uid, gid, mode, optional: !required }
}
