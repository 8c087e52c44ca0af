//! File ops: a chain of mkdir / mkfile / rm / symlink / copy actions applied in order.

use super::state::{cap, Caps, InputSet, OpMeta, Output, State, Vertex};
use super::{pb, wire};

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

    /// The `UserOpt` fields: by name (looked up in the op's input `base_input`) or by id.
    fn write(&self, b: &mut Vec<u8>, base_input: i64) {
        match self {
            UserSpec::Name(name) => wire::message(b, 1, |b| {
                wire::string(b, 1, name.as_bytes());
                wire::int(b, 2, base_input);
            }),
            UserSpec::Id(id) => wire::varint_always(b, 2, u64::from(*id)),
        }
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
    /// Returns `None` for an empty string. As BuildKit's LLB client writes a Dockerfile's
    /// `--chown`, an empty part beside the colon is the id 0: `:staff` is root with that group,
    /// `app:` is app with the group 0 (not app's own), `:` is `0:0`.
    pub fn parse(s: &str) -> Option<Chown> {
        let part = |p: &str| UserSpec::parse(p).unwrap_or(UserSpec::Id(0));
        if s.is_empty() {
            return None;
        }
        Some(match s.split_once(':') {
            Some((u, g)) => Chown { user: Some(part(u)), group: Some(part(g)) },
            None => Chown { user: UserSpec::parse(s), group: None },
        })
    }

    /// The `ChownOpt` fields: user (1), group (2).
    fn write(&self, b: &mut Vec<u8>, base_input: i64) {
        for (tag, part) in [(1, &self.user), (2, &self.group)] {
            if let Some(u) = part {
                wire::message(b, tag, |b| u.write(b, base_input));
            }
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
    ///
    /// The op is written straight to its bytes from the actions (no prost message in between).
    pub fn finish(self, platform: Option<&pb::Platform>, meta: OpMeta) -> State {
        if self.actions.is_empty() {
            return self.base;
        }
        // Inputs: base first, then copy sources in order, deduplicated.
        let mut inputs = InputSet::default();
        let base_index = inputs.index_of(&self.base);
        let mut caps = Caps::of(&[cap!("file.base")]);
        let mut size = 0;
        for a in &self.actions {
            if let Action::Copy { src, .. } = a {
                inputs.index_of(src);
            }
            size += a.caps_and_size(&mut caps);
        }
        let n_inputs = inputs.len();
        let body = |b: &mut Vec<u8>, inputs: &[Output]| {
            let last = self.actions.len() - 1;
            for (k, a) in self.actions.iter().enumerate() {
                let input = if k == 0 { base_index } else { n_inputs + k as i64 - 1 };
                // A copy's source, found again among the inputs (a few at most).
                let secondary = match a {
                    Action::Copy { src, .. } => InputSet::position(inputs, src),
                    _ => -1,
                };
                let output = if k == last { 0 } else { -1 };
                // actions (2)
                wire::message_sized(b, 2, a.size(), |b| a.write(b, input, secondary, output, base_index));
            }
        };
        State::from_vertex(Vertex::write(inputs.outputs, platform, 4, size, body, meta, caps), 0)
    }
}

impl Action {
    /// Adds the caps the action needs; returns about its encoded size.
    fn caps_and_size(&self, caps: &mut Caps) -> usize {
        match self {
            Action::Rm { allow_wildcard: true, .. } => caps.insert(cap!("file.rm.wildcard")),
            Action::Symlink { .. } => caps.insert(cap!("file.symlink.create")),
            Action::Copy { spec, .. } => {
                if !spec.include_patterns.is_empty() || !spec.exclude_patterns.is_empty() {
                    caps.insert(cap!("file.copy.includeexcludepatterns"));
                }
                if spec.always_replace_existing_dest_paths {
                    caps.insert(cap!("file.copy.alwaysreplaceexistingdestpaths"));
                }
            }
            _ => {}
        }
        self.size() + 4
    }

    /// About the encoded size of the action.
    fn size(&self) -> usize {
        let strings = |v: &[String]| v.iter().map(|s| s.len() + 3).sum::<usize>();
        64 + match self {
            Action::Mkdir { path, .. } | Action::Rm { path, .. } => path.len(),
            Action::Mkfile { path, data, .. } => path.len() + data.len() + 5,
            Action::Symlink { oldpath, newpath } => oldpath.len() + newpath.len(),
            Action::Copy { spec, .. } => {
                spec.src.len()
                    + spec.dest.len()
                    + strings(&spec.include_patterns)
                    + strings(&spec.exclude_patterns)
                    + spec.mode_str.as_ref().map_or(0, |m| m.len() + 2)
            }
        }
    }

    /// The `FileAction` fields: its input, secondary input and output, then the action (the
    /// `oneof action` member). A user or group by name is looked up in the base's /etc/passwd
    /// and /etc/group, for every action of the chain: BuildKit takes that index among the op's
    /// inputs only (an earlier action's output there is "invalid input index"), as its LLB
    /// client sets it.
    fn write(&self, b: &mut Vec<u8>, input: i64, secondary: i64, output: i64, base_index: i64) {
        wire::int(b, 1, input);
        wire::int(b, 2, secondary);
        wire::int(b, 3, output);
        let owner = |b: &mut Vec<u8>, tag: u32, o: &Option<Chown>| {
            if let Some(c) = o {
                wire::message(b, tag, |b| c.write(b, base_index));
            }
        };
        // No timestamp: -1.
        const UNSET: i64 = -1;
        match self {
            // copy (4)
            Action::Copy { spec, .. } => {
                wire::message_sized(b, 4, self.size(), |b| {
                    wire::string(b, 1, spec.src.as_bytes());
                    wire::string(b, 2, spec.dest.as_bytes());
                    owner(b, 3, &spec.owner);
                    // As BuildKit's client: a mode string leaves `mode` at 0, and asks for no cap
                    // (see MODE_STRING_CAP).
                    let mode = match &spec.mode_str {
                        Some(_) => 0,
                        None => spec.mode.map_or(-1, perm),
                    };
                    wire::int(b, 4, i64::from(mode));
                    wire::boolean(b, 5, spec.follow_symlink);
                    wire::boolean(b, 6, spec.dir_copy_contents);
                    wire::boolean(b, 7, spec.attempt_unpack);
                    wire::boolean(b, 8, spec.create_dest_path);
                    wire::boolean(b, 9, spec.allow_wildcard);
                    wire::boolean(b, 10, spec.allow_empty_wildcard);
                    wire::int(b, 11, UNSET);
                    wire::strings(b, 12, &spec.include_patterns);
                    wire::strings(b, 13, &spec.exclude_patterns);
                    wire::boolean(b, 14, spec.always_replace_existing_dest_paths);
                    wire::string(b, 15, spec.mode_str.as_deref().unwrap_or_default().as_bytes());
                });
            }
            // mkfile (5)
            Action::Mkfile { path, mode, data, owner: o } => {
                wire::message_sized(b, 5, self.size(), |b| {
                    wire::string(b, 1, path.as_bytes());
                    wire::int(b, 2, i64::from(perm(*mode)));
                    wire::string(b, 3, data);
                    owner(b, 4, o);
                    wire::int(b, 5, UNSET);
                });
            }
            // mkdir (6)
            Action::Mkdir { path, mode, make_parents, owner: o } => wire::message(b, 6, |b| {
                wire::string(b, 1, path.as_bytes());
                wire::int(b, 2, i64::from(perm(*mode)));
                wire::boolean(b, 3, *make_parents);
                owner(b, 4, o);
                wire::int(b, 5, UNSET);
            }),
            // rm (7)
            Action::Rm { path, allow_not_found, allow_wildcard } => wire::message(b, 7, |b| {
                wire::string(b, 1, path.as_bytes());
                wire::boolean(b, 2, *allow_not_found);
                wire::boolean(b, 3, *allow_wildcard);
            }),
            // symlink (8)
            Action::Symlink { oldpath, newpath } => wire::message(b, 8, |b| {
                wire::string(b, 1, oldpath.as_bytes());
                wire::string(b, 2, newpath.as_bytes());
                wire::int(b, 4, UNSET);
            }),
        };
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

    fn alpine_and_context() -> (State, State) {
        let alpine =
            image(&crate::reference::ImageRef::parse("alpine").unwrap(), ImageOpts::default(), OpMeta::default());
        (alpine.unwrap(), local("context", LocalOpts::default(), OpMeta::default()).unwrap())
    }

    #[test]
    fn chain_indexes_and_outputs() {
        let (base, ctx) = alpine_and_context();
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

    /// The bytes written straight from the actions are prost's encoding of the op they decode
    /// to: every field in its place, none at its default.
    #[test]
    fn bytes_are_prost_encoding_of_the_op() {
        use prost::Message;
        let (base, ctx) = alpine_and_context();
        let every = Copy {
            src: "/s".into(),
            dest: "/d/".into(),
            owner: Chown::parse("0:g"),
            mode: Some(0o10755),
            mode_str: None,
            follow_symlink: true,
            dir_copy_contents: true,
            attempt_unpack: true,
            create_dest_path: true,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            include_patterns: vec!["*.rs".into(), String::new()],
            exclude_patterns: vec!["target".into()],
            always_replace_existing_dest_paths: true,
        };
        let plat = pb::Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
        let chains = [
            FileChain::on(base.clone())
                .mkdir("/app", 0o40755, true, Chown::parse("app:1000"))
                .mkdir("", 0, false, None)
                .mkfile("/f", 0o644, "x".repeat(300), Chown::parse(":0"))
                .mkfile("/empty", 0, "", None)
                .copy(&ctx, every.clone())
                .copy(&base, Copy { mode_str: Some("u+x".into()), ..every })
                .copy(&State::scratch(), Copy::default())
                .rm("/r*", true, true)
                .rm("", false, false)
                .symlink("/a", "/b")
                .symlink("", ""),
            FileChain::on(State::scratch()).mkfile("/big", 0o755, vec![7u8; 70_000], None),
        ];
        for chain in chains {
            let s = chain.finish(Some(&plat), OpMeta::default());
            let bytes = s.output().unwrap().op_bytes();
            assert_eq!(pb::Op::decode(bytes).unwrap().encode_to_vec(), bytes);
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
        assert_eq!(Chown::parse(":5"), Some(Chown { user: Some(UserSpec::Id(0)), group: Some(UserSpec::Id(5)) }));
        assert_eq!(
            Chown::parse("app:"),
            Some(Chown { user: Some(UserSpec::Name("app".into())), group: Some(UserSpec::Id(0)) })
        );
        assert_eq!(Chown::parse(":"), Some(Chown { user: Some(UserSpec::Id(0)), group: Some(UserSpec::Id(0)) }));
    }
}
