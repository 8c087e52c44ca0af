//! File ops: a chain of mkdir / mkfile / rm / symlink / copy actions applied in order.

use super::pb;
use super::state::{cap, Caps, InputSet, OpMeta, State, Vertex};

/// A user or group, by numeric id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    /// Numeric id.
    Id(u32),
    /// Name, resolved against `/etc/passwd` / `/etc/group` of the action's base filesystem.
    Name(String),
}

impl UserSpec {
    fn parse(s: &str) -> Option<UserSpec> {
        if s.is_empty() {
            None
        } else if let Ok(id) = s.parse::<u32>() {
            Some(UserSpec::Id(id))
        } else {
            Some(UserSpec::Name(s.to_string()))
        }
    }

    fn to_pb(&self, base_input: i64) -> pb::UserOpt {
        let user = match self {
            UserSpec::Id(id) => pb::user_opt::User::ById(*id),
            UserSpec::Name(name) => {
                pb::user_opt::User::ByName(pb::NamedUserOpt { name: name.clone(), input: base_input })
            }
        };
        pb::UserOpt { user: Some(user) }
    }
}

/// Ownership to apply; `None` parts are left to BuildKit (root / unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chown {
    /// Owner.
    pub user: Option<UserSpec>,
    /// Group.
    pub group: Option<UserSpec>,
}

impl Chown {
    /// Parse `user[:group]`; numeric parts become ids, others names.
    /// Returns `None` for an empty string.
    pub fn parse(s: &str) -> Option<Chown> {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        let c = Chown { user: UserSpec::parse(u), group: g.and_then(UserSpec::parse) };
        (c.user.is_some() || c.group.is_some()).then_some(c)
    }

    fn to_pb(&self, base_input: i64) -> pb::ChownOpt {
        pb::ChownOpt {
            user: self.user.as_ref().map(|u| u.to_pb(base_input)),
            group: self.group.as_ref().map(|g| g.to_pb(base_input)),
        }
    }
}

/// Parameters of a copy action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copy {
    /// Source path inside the source state.
    pub src: String,
    /// Destination path inside the base state.
    pub dest: String,
    /// Ownership of the copied files.
    pub owner: Option<Chown>,
    /// Permission bits of the copied files; source modes are kept when `None`.
    pub mode: Option<u32>,
    /// A symbolic mode (`u+x`, `g-w,o=r`) applied to each file's own mode; wins over `mode`
    /// (BuildKit 0.17+; see [`MODE_STRING_CAP`]).
    pub mode_str: Option<String>,
    /// Resolve symlinks in `src`.
    pub follow_symlink: bool,
    /// When `src` is a directory, copy its contents rather than the directory itself.
    pub dir_copy_contents: bool,
    /// Unpack `src` when it is an archive (Docker `ADD` behaviour).
    pub attempt_unpack: bool,
    /// Create missing parent directories of `dest`.
    pub create_dest_path: bool,
    /// Allow wildcards in `src`.
    pub allow_wildcard: bool,
    /// Do not fail when a wildcard matches nothing.
    pub allow_empty_wildcard: bool,
    /// Only copy paths matching one of these (BuildKit v0.9+).
    pub include_patterns: Vec<String>,
    /// Skip paths matching any of these (BuildKit v0.9+).
    pub exclude_patterns: Vec<String>,
    /// Replace existing destination paths of a different type (BuildKit v0.14+).
    pub always_replace_existing_dest_paths: bool,
}

#[derive(Debug, Clone)]
enum Action {
    Mkdir { path: String, mode: u32, make_parents: bool, owner: Option<Chown> },
    Mkfile { path: String, mode: u32, data: Vec<u8>, owner: Option<Chown> },
    Rm { path: String, allow_not_found: bool, allow_wildcard: bool },
    Symlink { oldpath: String, newpath: String },
    Copy { src: State, spec: Copy },
}

/// Builder for one FileOp: actions on top of a base state, applied in sequence.
///
/// ```
/// use decant::llb::{local, marshal, Copy, FileChain, LocalOpts, OpMeta, State};
///
/// let ctx = local("context", LocalOpts::default(), OpMeta::default())?;
/// let app = FileChain::on(State::scratch())
///     .mkdir("/app", 0o755, true, None)
///     .copy(&ctx, Copy { src: "/".into(), dest: "/app".into(), ..Default::default() })
///     .finish(None, OpMeta::named("copy sources"));
/// assert_eq!(marshal(&app).def.len(), 3); // local, file, terminal
/// # Ok::<(), decant::llb::LlbError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileChain {
    base: State,
    actions: Vec<Action>,
}

/// The LLB capability named for a copy with a symbolic mode (`FileActionCopy.modeStr`). BuildKit
/// declares it but never registers it, so no daemon lists it in Ping and an op that asked for it
/// would fail cap validation (its own LLB client never sends it either); the daemons that apply
/// `modeStr` are those from v0.17, told by [`MODE_STRING_SINCE_CAP`].
pub const MODE_STRING_CAP: &str = "file.copy.modestring";

/// A capability that BuildKit registered in the release (v0.17) that added `modeStr`.
pub const MODE_STRING_SINCE_CAP: &str = "exec.validexitcode";

/// Permission bits only: higher bits have no meaning for chmod.
fn perm(mode: u32) -> i32 {
    (mode & 0o7777) as i32
}

impl FileChain {
    /// Start a chain on `base` (may be scratch).
    pub fn on(base: State) -> Self {
        FileChain { base, actions: Vec::new() }
    }

    /// Create a directory.
    pub fn mkdir(mut self, path: impl Into<String>, mode: u32, make_parents: bool, owner: Option<Chown>) -> Self {
        self.actions.push(Action::Mkdir { path: path.into(), mode, make_parents, owner });
        self
    }

    /// Create (or overwrite) a file with `data`.
    pub fn mkfile(
        mut self,
        path: impl Into<String>,
        mode: u32,
        data: impl Into<Vec<u8>>,
        owner: Option<Chown>,
    ) -> Self {
        self.actions.push(Action::Mkfile { path: path.into(), mode, data: data.into(), owner });
        self
    }

    /// Remove a path.
    pub fn rm(mut self, path: impl Into<String>, allow_not_found: bool, allow_wildcard: bool) -> Self {
        self.actions.push(Action::Rm { path: path.into(), allow_not_found, allow_wildcard });
        self
    }

    /// Create a symlink at `newpath` pointing to `oldpath` (BuildKit v0.19+).
    pub fn symlink(mut self, oldpath: impl Into<String>, newpath: impl Into<String>) -> Self {
        self.actions.push(Action::Symlink { oldpath: oldpath.into(), newpath: newpath.into() });
        self
    }

    /// Copy `spec.src` from `src` to `spec.dest` in the chain's current state.
    pub fn copy(mut self, src: &State, spec: Copy) -> Self {
        self.actions.push(Action::Copy { src: src.clone(), spec });
        self
    }

    /// Number of actions so far.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when no action was added.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Build the FileOp. A chain without actions returns the base unchanged (and drops
    /// `meta`). Only the last action is an output (output 0).
    pub fn finish(self, platform: Option<pb::Platform>, meta: OpMeta) -> State {
        if self.actions.is_empty() {
            return self.base;
        }
        // Pass 1: inputs, base first, then copy sources in order, deduplicated.
        let mut inputs = InputSet::default();
        let base_index = inputs.index_of(&self.base);
        let secondary: Vec<i64> = self
            .actions
            .iter()
            .map(|a| match a {
                Action::Copy { src, .. } => inputs.index_of(src),
                _ => -1,
            })
            .collect();
        let n_inputs = inputs.len();
        let last = self.actions.len() - 1;

        let mut caps = Caps::of(&[cap!("file.base")]);
        let mut actions = Vec::with_capacity(self.actions.len());
        for (k, (a, secondary_input)) in self.actions.into_iter().zip(secondary).enumerate() {
            let input = if k == 0 { base_index } else { n_inputs + k as i64 - 1 };
            // A user or group by name is looked up in the base's /etc/passwd and /etc/group, for
            // every action of the chain: BuildKit takes that index among the op's inputs only (an
            // earlier action's output there is "invalid input index"), as its LLB client sets it.
            let chown = |o: &Option<Chown>| o.as_ref().map(|c| c.to_pb(base_index));
            let action = match a {
                Action::Mkdir { path, mode, make_parents, owner } => {
                    pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                        path,
                        mode: perm(mode),
                        make_parents,
                        owner: chown(&owner),
                        timestamp: -1,
                    })
                }
                Action::Mkfile { path, mode, data, owner } => pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                    path,
                    mode: perm(mode),
                    data,
                    owner: chown(&owner),
                    timestamp: -1,
                }),
                Action::Rm { path, allow_not_found, allow_wildcard } => {
                    if allow_wildcard {
                        caps.insert(cap!("file.rm.wildcard"));
                    }
                    pb::file_action::Action::Rm(pb::FileActionRm { path, allow_not_found, allow_wildcard })
                }
                Action::Symlink { oldpath, newpath } => {
                    caps.insert(cap!("file.symlink.create"));
                    pb::file_action::Action::Symlink(pb::FileActionSymlink {
                        oldpath,
                        newpath,
                        owner: None,
                        timestamp: -1,
                    })
                }
                Action::Copy { spec, .. } => {
                    if !spec.include_patterns.is_empty() || !spec.exclude_patterns.is_empty() {
                        caps.insert(cap!("file.copy.includeexcludepatterns"));
                    }
                    if spec.always_replace_existing_dest_paths {
                        caps.insert(cap!("file.copy.alwaysreplaceexistingdestpaths"));
                    }
                    // As BuildKit's client: a mode string leaves `mode` at 0, and asks for no cap
                    // (see MODE_STRING_CAP).
                    let mode = match &spec.mode_str {
                        Some(_) => 0,
                        None => spec.mode.map_or(-1, perm),
                    };
                    pb::file_action::Action::Copy(pb::FileActionCopy {
                        src: spec.src,
                        dest: spec.dest,
                        owner: chown(&spec.owner),
                        mode,
                        follow_symlink: spec.follow_symlink,
                        dir_copy_contents: spec.dir_copy_contents,
                        attempt_unpack_docker_compatibility: spec.attempt_unpack,
                        create_dest_path: spec.create_dest_path,
                        allow_wildcard: spec.allow_wildcard,
                        allow_empty_wildcard: spec.allow_empty_wildcard,
                        timestamp: -1,
                        include_patterns: spec.include_patterns,
                        exclude_patterns: spec.exclude_patterns,
                        always_replace_existing_dest_paths: spec.always_replace_existing_dest_paths,
                        mode_str: spec.mode_str.unwrap_or_default(),
                        required_paths: Vec::new(),
                    })
                }
            };
            actions.push(pb::FileAction {
                input,
                secondary_input,
                output: if k == last { 0 } else { -1 },
                action: Some(action),
            });
        }
        let op = pb::Op { op: Some(pb::op::Op::File(pb::FileOp { actions })), platform, ..Default::default() };
        State::from_vertex(Vertex::new(op, inputs.outputs, meta, caps), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::source::{image, local, ImageOpts, LocalOpts};

    fn file_op(s: &State) -> (pb::Op, Vec<pb::FileAction>) {
        let op = s.output().unwrap().op();
        match op.op.clone() {
            Some(pb::op::Op::File(f)) => (op, f.actions),
            other => panic!("not file: {other:?}"),
        }
    }

    #[test]
    fn chain_indexes_and_outputs() {
        let base =
            image(&crate::reference::ImageRef::parse("alpine").unwrap(), ImageOpts::default(), OpMeta::default())
                .unwrap();
        let ctx = local("context", LocalOpts::default(), OpMeta::default()).unwrap();
        let s = FileChain::on(base.clone())
            .mkdir("/app", 0o755, true, Chown::parse("app:1000"))
            .copy(
                &ctx,
                Copy { src: "/src".into(), dest: "/app/".into(), owner: Chown::parse("app"), ..Default::default() },
            )
            .copy(
                &base,
                Copy { src: "/etc/os-release".into(), dest: "/app/os".into(), mode: Some(0o644), ..Default::default() },
            )
            .rm("/app/tmp", true, false)
            .finish(None, OpMeta::default());
        let (op, actions) = file_op(&s);
        // base and ctx; base used twice but deduplicated.
        assert_eq!(op.inputs.len(), 2);
        let idx: Vec<(i64, i64, i64)> = actions.iter().map(|a| (a.input, a.secondary_input, a.output)).collect();
        assert_eq!(idx, vec![(0, -1, -1), (2, 1, -1), (3, 0, -1), (4, -1, 0)]);
        match &actions[0].action {
            Some(pb::file_action::Action::Mkdir(m)) => {
                assert_eq!(m.mode, 0o755);
                assert_eq!(m.timestamp, -1);
                let owner = m.owner.as_ref().unwrap();
                assert_eq!(
                    owner.user.as_ref().unwrap().user,
                    Some(pb::user_opt::User::ByName(pb::NamedUserOpt { name: "app".into(), input: 0 }))
                );
                assert_eq!(owner.group.as_ref().unwrap().user, Some(pb::user_opt::User::ById(1000)));
            }
            other => panic!("{other:?}"),
        }
        match (&actions[1].action, &actions[2].action) {
            (Some(pb::file_action::Action::Copy(a)), Some(pb::file_action::Action::Copy(b))) => {
                assert_eq!((a.mode, a.timestamp), (-1, -1));
                // The second action's input is the first one's output (2); its owner by name
                // still points at the base (0).
                let owner = a.owner.as_ref().unwrap();
                assert_eq!(
                    owner.user.as_ref().unwrap().user,
                    Some(pb::user_opt::User::ByName(pb::NamedUserOpt { name: "app".into(), input: 0 }))
                );
                assert_eq!(b.mode, 0o644);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.output().unwrap().caps().iter().collect::<Vec<_>>(), vec!["file.base"]);
    }

    #[test]
    fn scratch_base_and_scratch_source() {
        let s = FileChain::on(State::scratch())
            .mkfile("/hello", 0o644, "hi\n", None)
            .copy(&State::scratch(), Copy { src: "/".into(), dest: "/x".into(), ..Default::default() })
            .finish(None, OpMeta::default());
        let (op, actions) = file_op(&s);
        assert!(op.inputs.is_empty());
        let idx: Vec<(i64, i64, i64)> = actions.iter().map(|a| (a.input, a.secondary_input, a.output)).collect();
        assert_eq!(idx, vec![(-1, -1, -1), (0, -1, 0)]);
    }

    #[test]
    fn empty_chain_is_identity_and_caps() {
        let base =
            image(&crate::reference::ImageRef::parse("alpine").unwrap(), ImageOpts::default(), OpMeta::default())
                .unwrap();
        assert_eq!(FileChain::on(base.clone()).finish(None, OpMeta::default()), base);
        let s = FileChain::on(base)
            .copy(
                &State::scratch(),
                Copy {
                    include_patterns: vec!["*.rs".into()],
                    always_replace_existing_dest_paths: true,
                    ..Default::default()
                },
            )
            .symlink("/a", "/b")
            .rm("/c*", false, true)
            .finish(None, OpMeta::default());
        let caps = s.output().unwrap().caps();
        for c in [
            "file.base",
            "file.copy.includeexcludepatterns",
            "file.copy.alwaysreplaceexistingdestpaths",
            "file.symlink.create",
            "file.rm.wildcard",
        ] {
            assert!(caps.contains(c), "missing {c}");
        }
    }

    #[test]
    fn chown_parse() {
        assert_eq!(Chown::parse(""), None);
        assert_eq!(Chown::parse("0"), Some(Chown { user: Some(UserSpec::Id(0)), group: None }));
        assert_eq!(
            Chown::parse("a:b"),
            Some(Chown { user: Some(UserSpec::Name("a".into())), group: Some(UserSpec::Name("b".into())) })
        );
        assert_eq!(Chown::parse(":5"), Some(Chown { user: None, group: Some(UserSpec::Id(5)) }));
    }
}
