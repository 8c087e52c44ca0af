//! Exec ops: run a command over a root filesystem plus extra mounts.

use std::collections::BTreeSet;

use super::pb;
use super::state::{cap, Caps, InputSet, LlbError, OpMeta, State, Vertex};

/// A command to run. `Default` gives scratch root, no args (invalid until set), sandboxed
/// network and security.
#[derive(Debug, Clone, Default)]
pub struct Exec {
    /// Root filesystem, mounted read-write at `/`; its result is output 0.
    pub root: State,
    /// Command and arguments; must not be empty.
    pub args: Vec<String>,
    /// Environment, `K=V`.
    pub env: Vec<String>,
    /// Working directory; `/` when empty.
    pub cwd: String,
    /// `uid[:gid]` or user name; empty for the image default (root).
    pub user: String,
    /// Container hostname; empty for the default.
    pub hostname: String,
    /// Extra `/etc/hosts` entries `(host, ip)`.
    pub extra_hosts: Vec<(String, String)>,
    /// Network mode.
    pub network: pb::NetMode,
    /// Security mode.
    pub security: pb::SecurityMode,
    /// Platform to run on (`Op.platform`); daemon default when `None`.
    pub platform: Option<pb::Platform>,
    /// Mounts besides the root, in order.
    pub mounts: Vec<MountSpec>,
    /// Environment variables filled from secrets: `(secret id, env name, optional)`.
    pub secret_env: Vec<(String, String, bool)>,
    /// Proxy settings (`Meta.proxy_env`): BuildKit adds them to the process environment, and
    /// leaves them out of the cache key.
    pub proxy_env: Option<pb::ProxyEnv>,
    /// Resource limits `(name, soft, hard)` (cap `exec.meta.ulimit`, BuildKit 0.10+).
    pub ulimits: Vec<(String, i64, i64)>,
    /// Parent cgroup of the container (cap `exec.meta.cgroup.parent`, BuildKit 0.10+); empty
    /// for the daemon's default.
    pub cgroup_parent: String,
}

/// A mount of an exec, besides the root.
#[derive(Debug, Clone)]
pub struct MountSpec {
    /// Absolute mount point inside the container (not `/`).
    pub dest: String,
    /// What is mounted.
    pub kind: MountKind,
}

/// The kinds of mount.
#[derive(Debug, Clone)]
pub enum MountKind {
    /// A state. Writable bind mounts are outputs of the exec; readonly ones are not.
    Bind {
        /// The mounted filesystem (scratch mounts an empty directory).
        source: State,
        /// Sub-path of `source` to mount.
        selector: Option<String>,
        /// Mount read-only.
        readonly: bool,
    },
    /// A persistent cache directory shared between builds.
    Cache {
        /// Cache namespace.
        id: String,
        /// Concurrent-use policy.
        sharing: pb::CacheSharingOpt,
        /// Initial contents when the cache is empty.
        source: Option<State>,
        /// Sub-path of `source`.
        selector: Option<String>,
        /// Mounted read-only.
        readonly: bool,
    },
    /// A tmpfs.
    Tmpfs {
        /// Size limit in bytes (BuildKit v0.10+).
        size: Option<i64>,
    },
    /// A secret file.
    Secret {
        /// Secret id.
        id: String,
        /// File owner uid.
        uid: u32,
        /// File owner gid.
        gid: u32,
        /// File mode (BuildKit's usual default is `0o400`).
        mode: u32,
        /// Do not fail when the secret is missing.
        optional: bool,
    },
    /// An SSH agent socket.
    Ssh {
        /// SSH forward id (usually `default`).
        id: String,
        /// Socket owner uid.
        uid: u32,
        /// Socket owner gid.
        gid: u32,
        /// Socket mode (BuildKit's usual default is `0o600`).
        mode: u32,
        /// Do not fail when the client forwards no agent.
        optional: bool,
    },
}

/// The results of an exec.
#[derive(Debug, Clone)]
pub struct ExecResult {
    /// The root filesystem after the command (output 0).
    pub root: State,
    /// One entry per [`Exec::mounts`] entry: `Some` for writable bind mounts (the mount's
    /// content after the command), `None` for all other mounts.
    pub mounts: Vec<Option<State>>,
}

fn clean_dest(dest: &str) -> Result<String, LlbError> {
    let bad = || LlbError::InvalidMountDest(dest.to_string());
    if !dest.starts_with('/') || dest.contains('\0') {
        return Err(bad());
    }
    let trimmed = dest.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad());
    }
    Ok(trimmed.to_string())
}

fn opt_string(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// Build an exec op. Output 0 is the root; writable bind mounts get outputs 1, 2, ... in
/// mount order; cache, tmpfs, secret, SSH and readonly mounts produce no output.
pub fn exec(e: Exec, meta: OpMeta) -> Result<ExecResult, LlbError> {
    if e.args.is_empty() {
        return Err(LlbError::EmptyArgs);
    }
    let mut caps = Caps::of(&[cap!("exec.meta.base")]);
    let mut inputs = InputSet::default();
    let (mounts, outputs) = mounts(&e.root, &e.mounts, &mut inputs, &mut caps)?;
    let secretenv = secret_env(&e.secret_env, &mut caps)?;
    process_caps(&e, &mut caps);
    let (network, security, platform) = (e.network as i32, e.security as i32, e.platform.clone());
    let op = pb::Op {
        op: Some(pb::op::Op::Exec(pb::ExecOp { meta: Some(process(e)), mounts, network, security, secretenv })),
        platform,
        ..Default::default()
    };
    let vertex = Vertex::new(op, inputs.outputs, meta, caps);
    Ok(ExecResult {
        root: State::from_vertex(vertex.clone(), 0),
        mounts: outputs.into_iter().map(|o| o.map(|i| State::from_vertex(vertex.clone(), i))).collect(),
    })
}

/// The root mount and every other mount, with the output index of each user mount.
fn mounts(
    root: &State,
    specs: &[MountSpec],
    inputs: &mut InputSet,
    caps: &mut Caps,
) -> Result<(Vec<pb::Mount>, Vec<Option<i64>>), LlbError> {
    let mut mounts = Vec::with_capacity(specs.len() + 1);
    mounts.push(pb::Mount {
        input: inputs.index_of(root),
        dest: "/".to_string(),
        output: 0,
        mount_type: pb::MountType::Bind as i32,
        ..Default::default()
    });
    let mut outputs = Vec::with_capacity(specs.len());
    let mut seen = BTreeSet::new();
    let mut next_output = 1i64;
    for m in specs {
        let dest = clean_dest(&m.dest)?;
        if !seen.insert(dest.clone()) {
            return Err(LlbError::DuplicateMountDest(m.dest.clone()));
        }
        let mut pm = match &m.kind {
            MountKind::Bind { source, selector, readonly } => bind_mount(source, selector, *readonly, inputs, caps),
            MountKind::Cache { id, sharing, source, selector, readonly } => {
                cache_mount(id, *sharing, source.as_ref(), selector, *readonly, inputs, caps)
            }
            MountKind::Tmpfs { size } => tmpfs_mount(*size, caps)?,
            MountKind::Secret { id, uid, gid, mode, optional } => {
                caps.insert(cap!("exec.mount.secret"));
                let opt = pb::SecretOpt { id: id.clone(), uid: *uid, gid: *gid, mode: *mode, optional: *optional };
                mount(pb::MountType::Secret, pb::Mount { secret_opt: Some(opt), ..Default::default() })
            }
            MountKind::Ssh { id, uid, gid, mode, optional } => {
                caps.insert(cap!("exec.mount.ssh"));
                let opt = pb::SshOpt { id: id.clone(), uid: *uid, gid: *gid, mode: *mode, optional: *optional };
                mount(pb::MountType::Ssh, pb::Mount { ssh_opt: Some(opt), ..Default::default() })
            }
        };
        pm.dest = dest;
        if !pm.selector.is_empty() {
            caps.insert(cap!("exec.mount.selector"));
        }
        let writable = matches!(m.kind, MountKind::Bind { readonly: false, .. });
        outputs.push(writable.then(|| {
            pm.output = next_output;
            next_output += 1;
            pm.output
        }));
        mounts.push(pm);
    }
    Ok((mounts, outputs))
}

/// A mount of `kind` with no input and no output unless `fields` set them.
fn mount(kind: pb::MountType, fields: pb::Mount) -> pb::Mount {
    pb::Mount { mount_type: kind as i32, input: -1, output: -1, ..fields }
}

fn bind_mount(
    source: &State,
    selector: &Option<String>,
    readonly: bool,
    inputs: &mut InputSet,
    caps: &mut Caps,
) -> pb::Mount {
    caps.insert(cap!("exec.mount.bind"));
    let fields = pb::Mount { selector: opt_string(selector), readonly, ..Default::default() };
    pb::Mount { input: inputs.index_of(source), ..mount(pb::MountType::Bind, fields) }
}

fn cache_mount(
    id: &str,
    sharing: pb::CacheSharingOpt,
    source: Option<&State>,
    selector: &Option<String>,
    readonly: bool,
    inputs: &mut InputSet,
    caps: &mut Caps,
) -> pb::Mount {
    caps.extend([cap!("exec.mount.cache"), cap!("exec.mount.cache.sharing")]);
    let fields = pb::Mount {
        selector: opt_string(selector),
        readonly,
        cache_opt: Some(pb::CacheOpt { id: id.to_string(), sharing: sharing as i32 }),
        ..Default::default()
    };
    let pm = mount(pb::MountType::Cache, fields);
    match source {
        Some(src) => pb::Mount { input: inputs.index_of(src), ..pm },
        None => pm,
    }
}

fn tmpfs_mount(size: Option<i64>, caps: &mut Caps) -> Result<pb::Mount, LlbError> {
    caps.insert(cap!("exec.mount.tmpfs"));
    let size = match size {
        Some(size) if size < 0 => return Err(LlbError::Invalid { what: "tmpfs size", value: size.to_string() }),
        Some(size) if size > 0 => {
            caps.insert(cap!("exec.mount.tmpfs.size"));
            Some(pb::TmpfsOpt { size })
        }
        _ => None,
    };
    Ok(mount(pb::MountType::Tmpfs, pb::Mount { tmpfs_opt: size, ..Default::default() }))
}

/// Environment variables filled from secrets.
fn secret_env(vars: &[(String, String, bool)], caps: &mut Caps) -> Result<Vec<pb::SecretEnv>, LlbError> {
    let mut out = Vec::with_capacity(vars.len());
    for (id, name, optional) in vars {
        if name.is_empty() || name.contains('=') {
            return Err(LlbError::Invalid { what: "secret env name", value: name.clone() });
        }
        out.push(pb::SecretEnv { id: id.clone(), name: name.clone(), optional: *optional });
    }
    if !out.is_empty() {
        caps.insert(cap!("exec.secretenv"));
    }
    Ok(out)
}

/// The caps the process settings need.
fn process_caps(e: &Exec, caps: &mut Caps) {
    let needs = [
        (e.network != pb::NetMode::Unset, cap!("exec.meta.network")),
        (e.security != pb::SecurityMode::Sandbox, cap!("exec.meta.security")),
        (e.proxy_env.is_some(), cap!("exec.meta.proxyenv")),
        (!e.ulimits.is_empty(), cap!("exec.meta.ulimit")),
        (!e.cgroup_parent.is_empty(), cap!("exec.meta.cgroup.parent")),
    ];
    caps.extend(needs.into_iter().filter(|(needed, _)| *needed).map(|(_, cap)| cap));
}

/// The process: command, environment, directory, user and the rest of `Meta`.
fn process(e: Exec) -> pb::Meta {
    pb::Meta {
        args: e.args,
        env: e.env,
        cwd: if e.cwd.is_empty() { "/".to_string() } else { e.cwd },
        user: e.user,
        extra_hosts: e.extra_hosts.into_iter().map(|(host, ip)| pb::HostIp { host, ip }).collect(),
        hostname: e.hostname,
        proxy_env: e.proxy_env,
        ulimit: e.ulimits.into_iter().map(|(name, soft, hard)| pb::Ulimit { name, soft, hard }).collect(),
        cgroup_parent: e.cgroup_parent,
        // As BuildKit's own LLB client sets on every exec: from v0.12 the executor then also
        // removes the empty parent directories it created for a mount point (`/run/secrets` for
        // a secret at `/run/secrets/token`), so they do not end up in the layer. Older daemons
        // ignore the field.
        remove_mount_stubs_recursive: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::source::{image, ImageOpts};

    fn base() -> State {
        image(&crate::reference::ImageRef::parse("alpine:3.19").unwrap(), ImageOpts::default(), OpMeta::default())
            .unwrap()
    }

    fn exec_op(s: &State) -> (pb::Op, pb::ExecOp) {
        let op = s.output().unwrap().op();
        match op.op.clone() {
            Some(pb::op::Op::Exec(x)) => (op, x),
            other => panic!("not exec: {other:?}"),
        }
    }

    #[test]
    fn output_numbering_and_inputs() {
        let img = base();
        let other =
            image(&crate::reference::ImageRef::parse("busybox").unwrap(), ImageOpts::default(), OpMeta::default())
                .unwrap();
        let r = exec(
            Exec {
                root: img.clone(),
                args: vec!["sh".into(), "-c".into(), "true".into()],
                mounts: vec![
                    MountSpec {
                        dest: "/src".into(),
                        kind: MountKind::Bind { source: img.clone(), selector: None, readonly: true },
                    },
                    MountSpec {
                        dest: "/out".into(),
                        kind: MountKind::Bind { source: State::scratch(), selector: None, readonly: false },
                    },
                    MountSpec {
                        dest: "/root/.cache".into(),
                        kind: MountKind::Cache {
                            id: "c".into(),
                            sharing: pb::CacheSharingOpt::Locked,
                            source: None,
                            selector: None,
                            readonly: false,
                        },
                    },
                    MountSpec { dest: "/tmp".into(), kind: MountKind::Tmpfs { size: Some(1 << 20) } },
                    MountSpec {
                        dest: "/run/secrets/tok".into(),
                        kind: MountKind::Secret { id: "tok".into(), uid: 0, gid: 0, mode: 0o400, optional: false },
                    },
                    MountSpec {
                        dest: "/run/ssh".into(),
                        kind: MountKind::Ssh { id: "default".into(), uid: 0, gid: 0, mode: 0o600, optional: true },
                    },
                    MountSpec {
                        dest: "/other".into(),
                        kind: MountKind::Bind { source: other, selector: Some("/etc".into()), readonly: false },
                    },
                ],
                secret_env: vec![("tok".into(), "TOKEN".into(), false)],
                ..Default::default()
            },
            OpMeta::default(),
        )
        .unwrap();
        let (op, x) = exec_op(&r.root);
        // The image is used twice but is one input.
        assert_eq!(op.inputs.len(), 2);
        let io: Vec<(i64, i64)> = x.mounts.iter().map(|m| (m.input, m.output)).collect();
        assert_eq!(io, vec![(0, 0), (0, -1), (-1, 1), (-1, -1), (-1, -1), (-1, -1), (-1, -1), (1, 2)]);
        assert_eq!(x.mounts[0].dest, "/");
        assert_eq!(x.meta.as_ref().unwrap().cwd, "/");
        assert_eq!(r.mounts.len(), 7);
        let outs: Vec<Option<i64>> = r.mounts.iter().map(|m| m.as_ref().map(|s| s.output().unwrap().index())).collect();
        assert_eq!(outs, vec![None, Some(1), None, None, None, None, Some(2)]);
        assert_eq!(r.root.output().unwrap().index(), 0);
        let caps = r.root.output().unwrap().caps();
        for c in [
            "exec.meta.base",
            "exec.mount.bind",
            "exec.mount.cache",
            "exec.mount.cache.sharing",
            "exec.mount.tmpfs",
            "exec.mount.tmpfs.size",
            "exec.mount.secret",
            "exec.mount.ssh",
            "exec.mount.selector",
            "exec.secretenv",
        ] {
            assert!(caps.contains(c), "missing {c}");
        }
        assert!(!caps.contains("exec.meta.network"));
    }

    #[test]
    fn network_security_caps_and_platform() {
        let plat = pb::Platform { architecture: "arm64".into(), os: "linux".into(), ..Default::default() };
        let r = exec(
            Exec {
                root: base(),
                args: vec!["true".into()],
                network: pb::NetMode::None,
                security: pb::SecurityMode::Insecure,
                platform: Some(plat.clone()),
                extra_hosts: vec![("db".into(), "10.0.0.2".into())],
                ..Default::default()
            },
            OpMeta::default(),
        )
        .unwrap();
        let (op, x) = exec_op(&r.root);
        assert_eq!(op.platform, Some(plat));
        assert_eq!(x.network(), pb::NetMode::None);
        assert_eq!(x.meta.unwrap().extra_hosts[0].ip, "10.0.0.2");
        let caps = r.root.output().unwrap().caps();
        assert!(caps.contains("exec.meta.network") && caps.contains("exec.meta.security"));
    }

    #[test]
    fn proxy_ulimit_and_cgroup_parent_with_their_caps() {
        let plain =
            exec(Exec { root: base(), args: vec!["true".into()], ..Default::default() }, OpMeta::default()).unwrap();
        let caps = plain.root.output().unwrap().caps();
        for c in ["exec.meta.proxyenv", "exec.meta.ulimit", "exec.meta.cgroup.parent"] {
            assert!(!caps.contains(c), "{c} without the feature");
        }
        let proxy = pb::ProxyEnv { http_proxy: "http://p:3128".into(), ..Default::default() };
        let r = exec(
            Exec {
                root: base(),
                args: vec!["true".into()],
                proxy_env: Some(proxy.clone()),
                ulimits: vec![("nofile".into(), 1024, 2048)],
                cgroup_parent: "/decant".into(),
                ..Default::default()
            },
            OpMeta::default(),
        )
        .unwrap();
        let meta = exec_op(&r.root).1.meta.unwrap();
        assert_eq!(meta.proxy_env, Some(proxy));
        assert_eq!(meta.ulimit, vec![pb::Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 }]);
        assert_eq!(meta.cgroup_parent, "/decant");
        let caps = r.root.output().unwrap().caps();
        for c in ["exec.meta.proxyenv", "exec.meta.ulimit", "exec.meta.cgroup.parent"] {
            assert!(caps.contains(c), "missing {c}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        let e = |mounts: Vec<MountSpec>, args: Vec<String>| {
            exec(Exec { root: base(), args, mounts, ..Default::default() }, OpMeta::default())
        };
        assert_eq!(e(vec![], vec![]).unwrap_err(), LlbError::EmptyArgs);
        let tmp = |d: &str| MountSpec { dest: d.into(), kind: MountKind::Tmpfs { size: None } };
        let args = vec!["x".to_string()];
        assert!(e(vec![tmp("/")], args.clone()).is_err());
        assert!(e(vec![tmp("rel")], args.clone()).is_err());
        assert!(matches!(e(vec![tmp("/a"), tmp("/a/")], args.clone()), Err(LlbError::DuplicateMountDest(_))));
        assert!(e(vec![MountSpec { dest: "/t".into(), kind: MountKind::Tmpfs { size: Some(-1) } }], args).is_err());
    }

    #[test]
    fn scratch_root_uses_no_input() {
        let r = exec(Exec { args: vec!["x".into()], ..Default::default() }, OpMeta::default()).unwrap();
        let (op, x) = exec_op(&r.root);
        assert!(op.inputs.is_empty());
        assert_eq!((x.mounts[0].input, x.mounts[0].output), (-1, 0));
    }
}
