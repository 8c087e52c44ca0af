//! Exec ops: run a command over a root filesystem plus extra mounts.

use std::collections::BTreeSet;

use prost::Message;

use super::state::{cap, Caps, InputSet, LlbError, OpMeta, Output, State, Vertex};
use super::{pb, wire};

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
    /// A state.
    Bind {
        /// The mounted filesystem (scratch mounts an empty directory).
        source: State,
        /// Sub-path of `source` to mount.
        selector: Option<String>,
        /// Read-only, writable, or writable with its content after the command an output.
        access: Access,
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

/// How a bind mount may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read-only.
    ReadOnly,
    /// Writable, and what the command writes there is dropped with the container: the mount is
    /// no output (cap `exec.mount.bind.readwrite-nooutput`), as a Dockerfile's `rw` bind mount.
    /// BuildKit then caches the step by the content of what is mounted, as for a read-only one.
    Writable,
    /// Writable, and its content after the command is an output of the exec.
    Output,
}

/// The results of an exec.
#[derive(Debug, Clone)]
pub struct ExecResult {
    /// The root filesystem after the command (output 0).
    pub root: State,
    /// One entry per [`Exec::mounts`] entry: `Some` for bind mounts with [`Access::Output`]
    /// (the mount's content after the command), `None` for all other mounts.
    pub mounts: Vec<Option<State>>,
}

/// `dest` without its trailing slashes; an error unless it is absolute and not `/`.
fn clean_dest(dest: &str) -> Result<&str, LlbError> {
    let bad = || LlbError::InvalidMountDest(dest.to_string());
    if !dest.starts_with('/') || dest.contains('\0') {
        return Err(bad());
    }
    let trimmed = dest.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad());
    }
    Ok(trimmed)
}

/// Build an exec op. Output 0 is the root; bind mounts with [`Access::Output`] get outputs 1,
/// 2, ... in mount order; other mounts produce no output.
///
/// The op is written straight to its bytes from `e` (no prost message in between).
pub fn exec(e: Exec, meta: OpMeta) -> Result<ExecResult, LlbError> {
    if e.args.is_empty() {
        return Err(LlbError::EmptyArgs);
    }
    let mut caps = Caps::of(&[cap!("exec.meta.base")]);
    let mut inputs = InputSet::default();
    let root_input = inputs.index_of(&e.root);
    let mounts = mounts(&e.mounts, &mut inputs, &mut caps)?;
    secret_env_caps(&e.secret_env, &mut caps)?;
    process_caps(&e, &mut caps);
    let size = exec_size(&e);
    let body = |b: &mut Vec<u8>, _: &[Output]| write_exec(b, &e, root_input, &mounts);
    let vertex = Vertex::write(inputs.outputs, e.platform.as_ref(), 2, size, body, meta, caps);
    Ok(ExecResult {
        root: State::from_vertex(vertex.clone(), 0),
        mounts: mounts.iter().map(|m| (m.output >= 0).then(|| State::from_vertex(vertex.clone(), m.output))).collect(),
    })
}

/// What the op says of a mount besides its kind: where it is, its input and its output (-1
/// for none).
struct Placed<'a> {
    dest: &'a str,
    input: i64,
    output: i64,
}

/// Every mount besides the root, checked, with its input (added to `inputs` in mount order)
/// and its output, and the caps each needs.
fn mounts<'a>(specs: &'a [MountSpec], inputs: &mut InputSet, caps: &mut Caps) -> Result<Vec<Placed<'a>>, LlbError> {
    let mut placed = Vec::with_capacity(specs.len());
    let mut seen = BTreeSet::new();
    let mut next_output = 1i64;
    for m in specs {
        let dest = clean_dest(&m.dest)?;
        if !seen.insert(dest) {
            return Err(LlbError::DuplicateMountDest(m.dest.clone()));
        }
        let (input, selector) = match &m.kind {
            MountKind::Bind { source, selector, access } => {
                caps.insert(cap!("exec.mount.bind"));
                if *access == Access::Writable {
                    caps.insert(cap!("exec.mount.bind.readwrite-nooutput"));
                }
                (inputs.index_of(source), selector)
            }
            MountKind::Cache { source, selector, .. } => {
                caps.extend([cap!("exec.mount.cache"), cap!("exec.mount.cache.sharing")]);
                (source.as_ref().map_or(-1, |s| inputs.index_of(s)), selector)
            }
            MountKind::Tmpfs { size } => {
                caps.insert(cap!("exec.mount.tmpfs"));
                match *size {
                    Some(size) if size < 0 => {
                        return Err(LlbError::Invalid { what: "tmpfs size", value: size.to_string() })
                    }
                    Some(size) if size > 0 => caps.insert(cap!("exec.mount.tmpfs.size")),
                    _ => {}
                }
                (-1, &None)
            }
            MountKind::Secret { .. } => {
                caps.insert(cap!("exec.mount.secret"));
                (-1, &None)
            }
            MountKind::Ssh { .. } => {
                caps.insert(cap!("exec.mount.ssh"));
                (-1, &None)
            }
        };
        if selector.as_ref().is_some_and(|s| !s.is_empty()) {
            caps.insert(cap!("exec.mount.selector"));
        }
        let output = match m.kind {
            MountKind::Bind { access: Access::Output, .. } => {
                next_output += 1;
                next_output - 1
            }
            _ => -1,
        };
        placed.push(Placed { dest, input, output });
    }
    Ok(placed)
}

/// Checks the environment variables filled from secrets.
fn secret_env_caps(vars: &[(String, String, bool)], caps: &mut Caps) -> Result<(), LlbError> {
    for (_, name, _) in vars {
        if name.is_empty() || name.contains('=') {
            return Err(LlbError::Invalid { what: "secret env name", value: name.clone() });
        }
    }
    if !vars.is_empty() {
        caps.insert(cap!("exec.secretenv"));
    }
    Ok(())
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

/// About the encoded size of the ExecOp of `e` (an upper bound for the usual ones).
fn exec_size(e: &Exec) -> usize {
    let strings = |v: &[String]| v.iter().map(|s| s.len() + 3).sum::<usize>();
    let mounts = e.mounts.iter().map(|m| m.dest.len() + 64).sum::<usize>();
    64 + strings(&e.args) + strings(&e.env) + e.cwd.len() + e.user.len() + e.hostname.len() + mounts
}

/// The ExecOp's fields (`pb::ExecOp`, in field order).
fn write_exec(b: &mut Vec<u8>, e: &Exec, root_input: i64, mounts: &[Placed]) {
    // meta (1)
    let meta_size = exec_size(e);
    wire::message_sized(b, 1, meta_size, |b| write_process(b, e));
    // mounts (2): the root, then the others.
    wire::message(b, 2, |b| {
        wire::int(b, 1, root_input);
        wire::string(b, 3, b"/");
    });
    for (spec, placed) in e.mounts.iter().zip(mounts) {
        wire::message(b, 2, |b| write_mount(b, spec, placed));
    }
    // network (3), security (4)
    wire::int(b, 3, e.network as i64);
    wire::int(b, 4, e.security as i64);
    // secretenv (5)
    for (id, name, optional) in &e.secret_env {
        wire::message(b, 5, |b| {
            wire::string(b, 1, id.as_bytes());
            wire::string(b, 2, name.as_bytes());
            wire::boolean(b, 3, *optional);
        });
    }
}

/// The process (`pb::Meta`): command, environment, directory, user and the rest.
fn write_process(b: &mut Vec<u8>, e: &Exec) {
    wire::strings(b, 1, &e.args);
    wire::strings(b, 2, &e.env);
    wire::string(b, 3, if e.cwd.is_empty() { b"/" } else { e.cwd.as_bytes() });
    wire::string(b, 4, e.user.as_bytes());
    if let Some(p) = &e.proxy_env {
        wire::message(b, 5, |b| p.encode_raw(b));
    }
    for (host, ip) in &e.extra_hosts {
        wire::message(b, 6, |b| {
            wire::string(b, 1, host.as_bytes());
            wire::string(b, 2, ip.as_bytes());
        });
    }
    wire::string(b, 7, e.hostname.as_bytes());
    for (name, soft, hard) in &e.ulimits {
        wire::message(b, 9, |b| {
            wire::string(b, 1, name.as_bytes());
            wire::int(b, 2, *soft);
            wire::int(b, 3, *hard);
        });
    }
    wire::string(b, 10, e.cgroup_parent.as_bytes());
    // removeMountStubsRecursive (11), as BuildKit's own LLB client sets it on every exec: from
    // v0.12 the executor then also removes the empty parent directories it created for a mount
    // point (`/run/secrets` for a secret at `/run/secrets/token`), so they do not end up in the
    // layer. Older daemons ignore the field.
    wire::boolean(b, 11, true);
}

/// One mount besides the root (`pb::Mount`, in field order).
fn write_mount(b: &mut Vec<u8>, spec: &MountSpec, placed: &Placed) {
    let (selector, readonly, kind) = match &spec.kind {
        MountKind::Bind { selector, access, .. } => {
            (selector.as_deref(), *access == Access::ReadOnly, pb::MountType::Bind)
        }
        MountKind::Cache { selector, readonly, .. } => (selector.as_deref(), *readonly, pb::MountType::Cache),
        MountKind::Tmpfs { .. } => (None, false, pb::MountType::Tmpfs),
        MountKind::Secret { .. } => (None, false, pb::MountType::Secret),
        MountKind::Ssh { .. } => (None, false, pb::MountType::Ssh),
    };
    wire::int(b, 1, placed.input);
    wire::string(b, 2, selector.unwrap_or_default().as_bytes());
    wire::string(b, 3, placed.dest.as_bytes());
    wire::int(b, 4, placed.output);
    wire::boolean(b, 5, readonly);
    wire::int(b, 6, kind as i64);
    match &spec.kind {
        // tmpfsOpt (19), only with a size.
        MountKind::Tmpfs { size: Some(size) } if *size > 0 => wire::message(b, 19, |b| wire::int(b, 1, *size)),
        // cacheOpt (20)
        MountKind::Cache { id, sharing, .. } => wire::message(b, 20, |b| {
            wire::string(b, 1, id.as_bytes());
            wire::int(b, 2, *sharing as i64);
        }),
        // secretOpt (21), SSHOpt (22): the same fields.
        MountKind::Secret { id, uid, gid, mode, optional } | MountKind::Ssh { id, uid, gid, mode, optional } => {
            let tag = if matches!(spec.kind, MountKind::Secret { .. }) { 21 } else { 22 };
            wire::message(b, tag, |b| {
                wire::string(b, 1, id.as_bytes());
                wire::uint(b, 2, *uid);
                wire::uint(b, 3, *gid);
                wire::uint(b, 4, *mode);
                wire::boolean(b, 5, *optional);
            });
        }
        _ => {}
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
                        kind: MountKind::Bind { source: img.clone(), selector: None, access: Access::ReadOnly },
                    },
                    MountSpec {
                        dest: "/out".into(),
                        kind: MountKind::Bind { source: State::scratch(), selector: None, access: Access::Output },
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
                        kind: MountKind::Bind { source: other, selector: Some("/etc".into()), access: Access::Output },
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

    /// The bytes written straight from `Exec` are prost's encoding of the op they decode to:
    /// every field in its place, none at its default.
    #[test]
    fn bytes_are_prost_encoding_of_the_op() {
        let other =
            image(&crate::reference::ImageRef::parse("busybox").unwrap(), ImageOpts::default(), OpMeta::default())
                .unwrap();
        let cache = |source: Option<State>, selector: Option<&str>| MountKind::Cache {
            id: "c".into(),
            sharing: pb::CacheSharingOpt::Private,
            source,
            selector: selector.map(Into::into),
            readonly: true,
        };
        let mount = |dest: &str, kind| MountSpec { dest: dest.into(), kind };
        let full = Exec {
            root: base(),
            args: vec!["sh".into(), String::new(), "-c".into()],
            env: vec!["A=1".into(), String::new()],
            cwd: "/w".into(),
            user: "1000:1000".into(),
            hostname: "h".into(),
            extra_hosts: vec![("db".into(), "10.0.0.2".into()), (String::new(), String::new())],
            network: pb::NetMode::Host,
            security: pb::SecurityMode::Insecure,
            platform: Some(pb::Platform {
                architecture: "arm".into(),
                os: "linux".into(),
                variant: "v7".into(),
                ..Default::default()
            }),
            mounts: vec![
                mount(
                    "/a",
                    MountKind::Bind { source: other.clone(), selector: Some("/etc".into()), access: Access::Output },
                ),
                mount(
                    "/b/",
                    MountKind::Bind {
                        source: State::scratch(),
                        selector: Some(String::new()),
                        access: Access::ReadOnly,
                    },
                ),
                mount("/c", cache(Some(other), Some("/x"))),
                mount("/d", cache(None, None)),
                mount("/e", MountKind::Tmpfs { size: Some(0) }),
                mount("/f", MountKind::Tmpfs { size: Some(1 << 40) }),
                mount("/g", MountKind::Secret { id: "s".into(), uid: 1, gid: 2, mode: 0o400, optional: true }),
                mount("/h", MountKind::Ssh { id: String::new(), uid: 0, gid: 0, mode: 0, optional: false }),
            ],
            secret_env: vec![("s".into(), "S".into(), true), ("t".into(), "T".into(), false)],
            proxy_env: Some(pb::ProxyEnv { no_proxy: "x".into(), ..Default::default() }),
            ulimits: vec![("nofile".into(), -1, 0), ("core".into(), 0, 1 << 40)],
            cgroup_parent: "/p".into(),
        };
        let long = Exec { args: vec!["x".repeat(20_000)], ..full.clone() };
        let plain = Exec { args: vec!["true".into()], ..Default::default() };
        for e in [full, long, plain] {
            let r = exec(e, OpMeta::default()).unwrap();
            let bytes = r.root.output().unwrap().op_bytes();
            assert_eq!(pb::Op::decode(bytes).unwrap().encode_to_vec(), bytes);
        }
    }

    #[test]
    fn scratch_root_uses_no_input() {
        let r = exec(Exec { args: vec!["x".into()], ..Default::default() }, OpMeta::default()).unwrap();
        let (op, x) = exec_op(&r.root);
        assert!(op.inputs.is_empty());
        assert_eq!((x.mounts[0].input, x.mounts[0].output), (-1, 0));
    }
}
