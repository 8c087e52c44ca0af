//! Instructions to spec: one stage per `FROM`, one step per build instruction, stage keys for the
//! image config. Every instruction either becomes YAML or a [`Note`] (and a YAML comment).
//! ARG is in `arg.rs`, RUN in `run.rs`, COPY and ADD in `copy.rs`, value syntax (`$NAME`, `${NAME:-word}`) in
//! `value.rs`.

mod arg;
mod copy;
mod run;
mod value;

use super::parse::{one_word, split_words, Args, Dockerfile, Flag, Instruction, Loc, ParseError, Word};
use super::yaml::{comment, render, Entry, Item, Node};
use super::{Conversion, ConvertOptions, Note, NoteKind};
use value::{expand_known, mentions, replace_plain_refs, Lookup, Ref};

/// Names every Dockerfile build has without declaring them (the same set as the spec's).
pub(super) use crate::spec::BUILTIN_ARGS;
/// Proxy args: Dockerfile passes them to RUN without a declaration.
const PROXY_ARGS: [&str; 8] =
    ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"];

struct ArgOut {
    comments: Vec<String>,
    name: String,
    default: Option<String>,
    loc: Loc,
    /// `env: true`: every RUN of the Dockerfile has the arg in scope (see [`RunOut`]).
    env: bool,
}

/// A converted RUN: where its step is, and the args a Dockerfile hands it.
struct RunOut {
    stage: usize,
    step: usize,
    /// The ARGs declared in its stage before it.
    scope: Vec<String>,
    /// The args of `scope` named in the step's env (the command does not mention them).
    passed: Vec<String>,
    /// Names the step's env sets over an ENV of the same name (see [`Shadow::Arg`]): kept there
    /// whatever the arg's `env: true`, which the image's env would win over.
    overrides: Vec<String>,
}

/// Which came last of an ARG and an ENV of one name in a stage, for the values after it:
/// Dockerfile reads the last one, a spec reads the arg in its values and the env in its runs.
#[derive(Clone)]
enum Shadow {
    /// The ENV came last: values see its value, this spec expression.
    Env(String),
    /// The ARG came last: values and runs see the arg when it has a value; an ARG without a
    /// default has one only when the build gives it, else the ENV's value (`env`) shows.
    Arg { default: bool, env: String },
}

impl Shadow {
    /// The spec expression a plain `${name}` after it stands for, if not the arg itself.
    fn value(&self, name: &str) -> Option<String> {
        match self {
            Shadow::Env(expr) => Some(expr.clone()),
            Shadow::Arg { default: true, .. } => None,
            Shadow::Arg { default: false, env } => Some(format!("${{{name}-{env}}}")),
        }
    }
}

#[derive(Default)]
struct StageOut {
    comments: Vec<String>,
    name: String,
    /// The name as the Dockerfile wrote it (lower case), for `FROM`/`--from` references.
    df_name: Option<String>,
    /// The line of its `FROM`.
    line: usize,
    from: String,
    platform: Option<String>,
    shell: Option<Vec<String>>,
    /// A command (RUN, CMD, ...) was converted: a SHELL now cannot become the stage's `shell`.
    saw_command: bool,
    steps: Vec<Item>,
    cmd: Option<(Vec<String>, Node)>,
    entrypoint: Option<(Vec<String>, Node)>,
    expose: Vec<(Vec<String>, String)>,
    healthcheck: Option<(Vec<String>, Node)>,
    labels: Vec<(Vec<String>, String, String)>,
    volumes: Vec<(Vec<String>, String)>,
    stop_signal: Option<(Vec<String>, String)>,
    /// ONBUILD triggers, as written.
    onbuild: Vec<(Vec<String>, String)>,
    /// ARGs declared in this stage (they reach its runs as env).
    scope_args: Vec<String>,
    /// ARGs of this stage with another default than the spec's: the stage's `args:`.
    args: Vec<(String, String)>,
    /// Names this stage's ENVs set, with the spec expression of the last value of each.
    env_values: Vec<(String, String)>,
    /// Names that are both an ARG and an ENV of this stage: which came last.
    shadow: Vec<(String, Shadow)>,
    /// YAML comments for the next item (notes of instructions that made no item).
    pending: Vec<String>,
}

pub(super) struct Converter<'a> {
    df: &'a Dockerfile,
    opts: &'a ConvertOptions,
    notes: Vec<Note>,
    args: Vec<ArgOut>,
    stages: Vec<StageOut>,
    runs: Vec<RunOut>,
    /// Comments for the first stage or the end of the document.
    header: Vec<String>,
    /// Bare words (`set`, no tag) a `from` names that are no earlier stage: images, for the
    /// Dockerfile. (stage index, word.)
    bare_images: Vec<(usize, String)>,
    /// The first instruction BuildKit's parser refuses, found while converting.
    error: Option<ParseError>,
}

impl<'a> Converter<'a> {
    pub(super) fn new(df: &'a Dockerfile, opts: &'a ConvertOptions) -> Self {
        Converter {
            df,
            opts,
            notes: Vec::new(),
            args: Vec::new(),
            stages: Vec::new(),
            runs: Vec::new(),
            header: Vec::new(),
            bare_images: Vec::new(),
            error: None,
        }
    }

    /// Records an error (the first one is reported; the conversion then fails).
    fn fail(&mut self, loc: Loc, message: String) {
        self.error.get_or_insert(ParseError { loc, message });
    }

    pub(super) fn run(mut self) -> Result<Conversion, ParseError> {
        for d in &self.df.directives {
            match d.name.as_str() {
                "syntax" => self.header.push(format!("Dockerfile directive `syntax={}`: not needed", d.value)),
                "escape" => {}
                _ => self.note(
                    d.loc,
                    NoteKind::NotConverted,
                    format!("directive `# {}={}`: decant runs no Dockerfile build checks", d.name, d.value),
                ),
            }
        }
        let mut global_comments = Vec::new();
        for ins in &self.df.instructions {
            let comments = ins.comments.clone();
            if self.stages.is_empty() && ins.keyword != "FROM" {
                if ins.keyword == "ARG" {
                    self.arg(ins, comments, true);
                } else {
                    self.note(ins.loc, NoteKind::NotConverted, format!("{} before the first FROM", ins.keyword));
                    global_comments.extend(comments);
                }
                continue;
            }
            self.check_flags(ins);
            match ins.keyword.as_str() {
                "FROM" => {
                    let mut c = std::mem::take(&mut global_comments);
                    c.extend(comments);
                    self.from(ins, c);
                }
                "ARG" => self.arg(ins, comments, false),
                "RUN" => self.run_instr(ins, comments),
                "COPY" | "ADD" => self.copy(ins, comments),
                "ENV" => self.env(ins, comments),
                "WORKDIR" => {
                    let v = self.word_value(ins, &self.joined_words(ins));
                    self.push_step(comments, vec![Entry::str("workdir", v)]);
                }
                "USER" => {
                    let v = self.word_value(ins, &self.joined_words(ins));
                    self.push_step(comments, vec![Entry::str("user", v)]);
                }
                "CMD" | "ENTRYPOINT" => {
                    let node = self.command(ins);
                    let st = self.stage();
                    st.saw_command = true;
                    if ins.keyword == "CMD" {
                        st.cmd = Some((comments, node));
                    } else {
                        st.entrypoint = Some((comments, node));
                    }
                }
                "EXPOSE" => self.expose(ins, comments),
                "LABEL" => {
                    for (k, v) in self.pairs(ins) {
                        self.stage().labels.push((comments.clone(), k, v));
                    }
                }
                "VOLUME" => {
                    let vols: Vec<String> = match &ins.args {
                        Args::Json(v) => v.clone(),
                        Args::Shell(_) => self.words(ins).iter().map(|w| self.word_value(ins, w)).collect(),
                    };
                    for v in vols {
                        self.stage().volumes.push((comments.clone(), v));
                    }
                }
                "STOPSIGNAL" => {
                    let v = self.word_value(ins, &self.joined_words(ins));
                    self.stage().stop_signal = Some((comments, v));
                }
                "HEALTHCHECK" => self.healthcheck(ins, comments),
                "SHELL" => self.shell(ins, comments),
                "ONBUILD" => match &ins.args {
                    Args::Shell(trigger) if ins.heredocs.is_empty() && ins.flags.is_empty() => {
                        let trigger = trigger.trim().to_string();
                        self.stage().onbuild.push((comments, trigger));
                    }
                    _ => self.not_converted(
                        ins,
                        comments,
                        "an `onbuild` trigger is one instruction on one line, without a heredoc",
                    ),
                },
                "MAINTAINER" => self.not_converted(
                    ins,
                    comments,
                    "decant sets no image author: use a label such as org.opencontainers.image.authors",
                ),
                other => self.not_converted(ins, comments, &format!("unknown instruction {other}")),
            }
        }
        self.header.extend(global_comments);
        if self.stages.is_empty() {
            // As BuildKit: a Dockerfile without a stage builds nothing.
            self.fail(Loc { line: 1, column: 1 }, "the Dockerfile has no FROM: there is no stage to convert".into());
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(self.finish()),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------------------------

    fn note(&mut self, loc: Loc, kind: NoteKind, message: impl Into<String>) {
        self.notes.push(Note { loc, kind, message: message.into() });
    }

    fn stage(&mut self) -> &mut StageOut {
        self.stages.last_mut().expect("instructions after FROM have a stage")
    }

    /// An instruction with no equivalent: a note, and a YAML comment with its text.
    fn not_converted(&mut self, ins: &Instruction, comments: Vec<String>, why: &str) {
        self.note(ins.loc, NoteKind::NotConverted, format!("{}: {why}", ins.keyword));
        let text = instruction_text(ins);
        let st = self.stages.last_mut();
        let pending = match st {
            Some(s) => &mut s.pending,
            None => &mut self.header,
        };
        pending.extend(comments);
        pending.push(format!("NOT CONVERTED ({}:{}): {text}", self.opts.file_name, ins.loc));
        pending.push(format!("  {why}"));
    }

    fn push_step(&mut self, comments: Vec<String>, mut entries: Vec<Entry>) {
        let st = self.stage();
        let mut c = std::mem::take(&mut st.pending);
        c.extend(comments);
        entries[0].comments = c;
        st.steps.push(Item { comments: Vec::new(), value: Node::Map(entries) });
    }

    fn words(&self, ins: &Instruction) -> Vec<Word> {
        match &ins.args {
            Args::Shell(s) => split_words(s, self.df.escape),
            Args::Json(v) => v.iter().map(|s| Word { text: s.clone(), literal_dollars: Vec::new() }).collect(),
        }
    }

    /// The instruction's arguments as one word (`WORKDIR`, `USER`, `STOPSIGNAL`): whitespace
    /// between words kept as written, as BuildKit reads them.
    fn joined_words(&self, ins: &Instruction) -> Word {
        match &ins.args {
            Args::Shell(s) => one_word(s, self.df.escape),
            Args::Json(v) => Word { text: v.join(" "), literal_dollars: Vec::new() },
        }
    }

    fn is_arg(&self, name: &str) -> bool {
        BUILTIN_ARGS.contains(&name) || self.args.iter().any(|a| a.name == name)
    }

    /// A Dockerfile value (variables expanded at build time) as a spec value, for a field that
    /// decant expands as Dockerfile does (ENV, WORKDIR, USER, COPY paths and owner, LABEL,
    /// EXPOSE, VOLUME, STOPSIGNAL): `$X` and `${X}` become `${X}`, the `${X:-w}`, `${X:+w}`,
    /// `${X:?w}` forms (with or without the colon) are kept, and an escaped `$` before a name or
    /// `{` becomes `$$`. Names that are not args come from the stage's environment in both.
    fn word_value(&mut self, ins: &Instruction, w: &Word) -> String {
        self.spec_value(ins, w, None)
    }

    /// [`Self::word_value`] for a field where decant expands only args (`from`, `platform`,
    /// `chmod`, mount options, ...), named by `field` in the note about any other name.
    fn arg_value(&mut self, ins: &Instruction, s: &str, field: &str) -> String {
        self.arg_word(ins, &Word { text: s.to_string(), literal_dollars: Vec::new() }, field)
    }

    fn arg_word(&mut self, ins: &Instruction, w: &Word, field: &str) -> String {
        self.spec_value(ins, w, Some(field))
    }

    fn spec_value(&mut self, ins: &Instruction, w: &Word, args_only: Option<&str>) -> String {
        self.spec_value_known(ins, w, args_only, &|_| None)
    }

    /// [`Self::spec_value`], with the names `known` knows written as what they expand to.
    fn spec_value_known(&mut self, ins: &Instruction, w: &Word, args_only: Option<&str>, known: Lookup) -> String {
        let (value, refs) = expand_known(w, known);
        for r in refs {
            match (r, args_only) {
                (Ref::Name(name), Some(field)) if !self.is_arg(&name) => self.note(
                    ins.args_loc,
                    NoteKind::NeedsFeature,
                    format!(
                        "{} uses ${{{name}}}, which is not an arg: decant expands only args in {field}, not \
                         environment variables, and `decant check` rejects the name",
                        ins.keyword
                    ),
                ),
                // A global ARG that this stage does not declare is not in its scope in Dockerfile:
                // the name comes from the environment there; in decant an arg wins everywhere.
                (Ref::Name(name), None)
                    if self.is_arg(&name) && self.stages.last().is_some_and(|st| !st.scope_args.contains(&name)) =>
                {
                    self.note(
                        ins.args_loc,
                        NoteKind::Differs,
                        format!(
                            "{} uses ${{{name}}}, an ARG this stage does not declare: Dockerfile takes it from \
                             the environment (empty unless set), decant gives the arg's value (declare ARG {name} \
                             in the stage to have the same in both)",
                            ins.keyword
                        ),
                    )
                }
                (Ref::Name(_), _) => {}
                (Ref::Backslash, _) => self.note(
                    ins.args_loc,
                    NoteKind::Differs,
                    format!(
                        "{}: a `\\` before `$` is kept by Dockerfile here, but a decant value reads `\\$` as a \
                         literal `$` (decant has no way to write a `\\` before an expansion)",
                        ins.keyword
                    ),
                ),
                (Ref::Operator(expr), _) => self.note(
                    ins.args_loc,
                    NoteKind::NeedsFeature,
                    format!(
                        "{} uses `${{{expr}}}`: decant has the `-`, `+` and `?` forms (with or without `:`) \
                         and the pattern forms (`#`, `%`, `/`), not this one, and `decant check` rejects it",
                        ins.keyword
                    ),
                ),
            }
        }
        self.shadowed(ins, value, args_only)
    }

    /// `value` with each plain `${X}` of a name that is both an ARG and an ENV of the stage made
    /// to what Dockerfile reads there (see [`Shadow`]); a note where that cannot be written.
    fn shadowed(&mut self, ins: &Instruction, mut value: String, args_only: Option<&str>) -> String {
        let shadows = match self.stages.last() {
            Some(st) if !st.shadow.is_empty() => st.shadow.clone(),
            _ => return value,
        };
        for (name, shadow) in shadows {
            let Some(to) = shadow.value(&name) else { continue };
            if !mentions(&value, &name) {
                continue;
            }
            let (replaced, other_forms) = replace_plain_refs(&value, &name, &to);
            if other_forms || args_only.is_some() {
                let what = match shadow {
                    Shadow::Env(_) => format!("the ENV {name} that came after the ARG"),
                    Shadow::Arg { .. } => format!("the ARG {name}, or the ENV before it when the build gives none"),
                };
                self.note(
                    ins.args_loc,
                    NoteKind::Differs,
                    format!(
                        "{} uses ${{{name}}}, both an ARG and an ENV of this stage: Dockerfile reads {what}, decant \
                         the arg{}",
                        ins.keyword,
                        args_only.map(|f| format!(" (decant expands only args in {f})")).unwrap_or_default()
                    ),
                );
            }
            if args_only.is_none() {
                value = replaced;
            }
        }
        value
    }

    /// A spec value with its `${NAME}` references replaced by the args' values in the current
    /// stage (its own default, else the build's; an arg with neither is empty), as the spec
    /// gives them when nothing overrides them: what a Dockerfile's ADD source is at build time,
    /// to tell a download or a git repository from a local path. `None` when the value uses
    /// anything else (an operator, a name that is not an arg, a `$$`).
    fn with_arg_defaults(&self, v: &str) -> Option<String> {
        let mut out = v.to_string();
        // Defaults may name other args; a bounded number of rounds also ends a cycle.
        for _ in 0..8 {
            let Some(start) = out.find("${") else { break };
            let len = out[start..].find('}')?;
            let name = &out[start + 2..start + len];
            if !self.args.iter().any(|a| a.name == name) {
                return None;
            }
            let stage_value = self.stages.last().and_then(|st| st.args.iter().find(|(n, _)| n == name));
            let value = match stage_value {
                Some((_, v)) => v.clone(),
                None => self.args.iter().find(|a| a.name == name).and_then(|a| a.default.clone()).unwrap_or_default(),
            };
            out.replace_range(start..=start + len, &value);
        }
        (!out.contains('$')).then_some(out)
    }

    fn value(&mut self, ins: &Instruction, s: &str) -> String {
        self.word_value(ins, &Word { text: s.to_string(), literal_dollars: Vec::new() })
    }

    /// `KEY=value` pairs (ENV, LABEL), or the legacy `KEY value` form.
    fn pairs(&mut self, ins: &Instruction) -> Vec<(String, String)> {
        let words = self.words(ins);
        let mut out = Vec::new();
        if words.first().is_some_and(|w| !w.text.contains('=')) {
            // `KEY name value`: the value is all after the name and the whitespace that ends
            // it, as one word (its inner whitespace kept, tabs of continued lines included).
            let key = words[0].text.clone();
            let raw = match &ins.args {
                Args::Shell(s) => s.split_once(|c: char| c.is_whitespace()).map_or("", |(_, r)| r.trim_start()),
                Args::Json(_) => "",
            };
            let rest = one_word(raw, self.df.escape);
            let v = self.word_value(ins, &rest);
            out.push((key, v));
            return out;
        }
        for w in words {
            let Some((k, _)) = w.text.split_once('=') else {
                // `ENV A=1 B`: every word is `name=value` once the first one is.
                self.fail(ins.args_loc, format!("{}: `{}` has no `=`: write each as name=value", ins.keyword, w.text));
                continue;
            };
            let k = k.to_string();
            let cut = k.len() + 1;
            let val = w.slice(cut, w.text.len());
            let v = self.word_value(ins, &val);
            // A name given twice in one instruction: the last value, where the first was (as
            // the image's env keeps a name where it first had it).
            match out.iter_mut().find(|(n, _)| *n == k) {
                Some((_, last)) => *last = v,
                None => out.push((k, v)),
            }
        }
        out
    }

    /// A stage reference (`FROM x`, `--from=x`): the decant name of an earlier stage, by name or
    /// index; otherwise the value (an image or a named context).
    fn stage_ref(&self, s: &str) -> Option<String> {
        let lower = s.to_ascii_lowercase();
        if let Some(st) = self.stages.iter().find(|st| st.df_name.as_deref() == Some(lower.as_str())) {
            return Some(st.name.clone());
        }
        if let Ok(i) = s.parse::<usize>() {
            return self.stages.get(i).map(|st| st.name.clone());
        }
        None
    }

    /// The image (or named context) a `from` names that is no earlier stage (`FROM`, `--from`,
    /// a mount's `from=`) in stage `stage`.
    fn image_value(&mut self, ins: &Instruction, v: &str, stage: usize, field: &str) -> String {
        let value = self.arg_value(ins, v, field);
        self.note_bare_image(stage, &value);
        value
    }

    fn note_bare_image(&mut self, stage: usize, value: &str) {
        if !value.is_empty() && !value.contains([':', '/', '@', '$']) && !["scratch", "context"].contains(&value) {
            self.bare_images.push((stage, value.to_string()));
        }
    }

    /// A bare image name close to a stage's name is a typo of it for decant (`COPY --from=set`
    /// near a stage `test`), while the Dockerfile pulls the image: such a name gets its
    /// implied `:latest`, which decant reads as an image and matches named contexts by as well.
    fn tag_bare_images(&mut self) {
        let names: Vec<String> = self.stages.iter().map(|s| s.name.clone()).collect();
        for (stage, value) in std::mem::take(&mut self.bare_images) {
            let others = names.iter().enumerate().filter(|(i, _)| *i != stage).map(|(_, n)| n.as_str());
            if names.contains(&value) || crate::diag::did_you_mean(&value, others).is_none() {
                continue;
            }
            let tagged = format!("{value}:latest");
            let Some(st) = self.stages.get_mut(stage) else { continue };
            if st.from == value {
                st.from = tagged.clone();
            }
            for item in &mut st.steps {
                retag(&mut item.value, &value, &tagged);
            }
        }
    }

    /// A boolean flag's value (`--link`, `--link=true`, `--link=FALSE`); [`Self::check_flags`]
    /// has refused any other.
    fn flag_bool(&mut self, f: &Flag) -> bool {
        !f.value.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("false"))
    }

    /// Refuses, in BuildKit's words, what its flag parser refuses in the flags an instruction
    /// takes: a string flag without `=` (`COPY --from stage`), a boolean that is neither `true`
    /// nor `false`, a flag given twice (but those that repeat: `--exclude`, `--mount`,
    /// `--device`). Unknown flags are left to the instruction (a note).
    fn check_flags(&mut self, ins: &Instruction) {
        // BuildKit's flags per instruction: (name, is boolean, repeats).
        const STR: (bool, bool) = (false, false);
        const BOOL: (bool, bool) = (true, false);
        const MANY: (bool, bool) = (false, true);
        let table: &[(&str, (bool, bool))] = match ins.keyword.as_str() {
            "FROM" => &[("platform", STR)],
            "RUN" => &[("mount", MANY), ("device", MANY), ("network", STR), ("security", STR)],
            "COPY" => {
                &[("chown", STR), ("from", STR), ("chmod", STR), ("link", BOOL), ("exclude", MANY), ("parents", BOOL)]
            }
            "ADD" => &[
                ("chown", STR),
                ("chmod", STR),
                ("link", BOOL),
                ("keep-git-dir", BOOL),
                ("checksum", STR),
                ("unpack", BOOL),
                ("exclude", MANY),
            ],
            "HEALTHCHECK" => {
                &[("interval", STR), ("timeout", STR), ("start-period", STR), ("start-interval", STR), ("retries", STR)]
            }
            _ => return,
        };
        let mut seen: Vec<&str> = Vec::new();
        for f in &ins.flags {
            let Some(&(_, (boolean, repeats))) = table.iter().find(|(n, _)| *n == f.name) else { continue };
            let message = if !repeats && seen.contains(&f.name.as_str()) {
                format!("duplicate flag specified: --{}", f.name)
            } else {
                seen.push(&f.name);
                match (boolean, f.value.as_deref()) {
                    (false, None) | (true, Some("")) => format!("missing a value on flag: --{}", f.name),
                    (true, Some(v)) if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") => {
                        format!("expecting boolean value for flag --{}, not: {v}", f.name)
                    }
                    _ => continue,
                }
            };
            self.fail(f.loc, message);
            return;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Instructions
    // -----------------------------------------------------------------------------------------

    fn from(&mut self, ins: &Instruction, comments: Vec<String>) {
        let words = self.words(ins);
        let mut platform = None;
        for f in &ins.flags {
            match f.name.as_str() {
                "platform" => platform = Some(self.arg_value(ins, f.value.as_deref().unwrap_or(""), "`platform`")),
                _ => self.note(f.loc, NoteKind::NotConverted, format!("FROM --{}: unknown flag", f.name)),
            }
        }
        let index = self.stages.len();
        let image = words.first().map(|w| w.text.clone()).unwrap_or_default();
        let df_name = match words.as_slice() {
            [_, kw, name] if kw.text.eq_ignore_ascii_case("as") => Some(name.text.to_ascii_lowercase()),
            [_] => None,
            _ => {
                self.note(ins.args_loc, NoteKind::NotConverted, "FROM takes `image [AS name]`");
                None
            }
        };
        let name = match &df_name {
            Some(n) => {
                let mut clean = stage_name(n);
                // Another stage's name made the same (`d)x` and `d-x`) takes a number; the same
                // name again is the later stage's (see `rename_earlier_stage`).
                let taken = |c: &str| self.stages.iter().any(|st| st.name == c && st.df_name.as_ref() != Some(n));
                if taken(&clean) {
                    let mut k = 2;
                    while taken(&format!("{clean}-{k}")) {
                        k += 1;
                    }
                    clean = format!("{clean}-{k}");
                }
                if &clean != n {
                    self.note(
                        ins.loc,
                        NoteKind::Differs,
                        format!("stage `{n}` is named `{clean}`: decant stage names are a-z 0-9 - _ . starting with a letter, and not scratch or context"),
                    );
                }
                clean
            }
            None => format!("stage-{index}"),
        };
        let parent = self.stage_ref(&image).filter(|_| !image.chars().all(|c| c.is_ascii_digit()));
        if let Some(n) = &df_name {
            self.rename_earlier_stage(ins, n, &name);
        }
        let from = match &parent {
            Some(s) => s.clone(),
            None => self.image_value(ins, &image, index, "`from`"),
        };
        // A stage built on another keeps its ARGs in scope with their values, as Dockerfile's
        // state keeps them in its environment.
        let (scope_args, args) = parent
            .as_ref()
            .and_then(|p| self.stages.iter().find(|st| &st.name == p))
            .map(|st| (st.scope_args.clone(), st.args.clone()))
            .unwrap_or_default();
        // Comments left over from the previous stage move above this one.
        let mut c = self.stages.last_mut().map(|s| std::mem::take(&mut s.pending)).unwrap_or_default();
        c.extend(comments);
        self.stages.push(StageOut {
            comments: c,
            name,
            df_name,
            line: ins.loc.line,
            from,
            platform,
            scope_args,
            args,
            ..Default::default()
        });
    }

    /// A stage name the Dockerfile uses again (BuildKit lints it, and builds it): the later
    /// stage has it from here on (what `FROM`, `--from` and `--target` name after this line), so
    /// the earlier one, and what named it so far, take another name.
    fn rename_earlier_stage(&mut self, ins: &Instruction, df_name: &str, name: &str) {
        let Some(i) = self.stages.iter().position(|st| st.df_name.as_deref() == Some(df_name)) else { return };
        let old = self.stages[i].name.clone();
        let taken = |n: &str| n == name || self.stages.iter().any(|st| st.name == n);
        let mut k = 1;
        while taken(&format!("{old}-{k}")) {
            k += 1;
        }
        let new = format!("{old}-{k}");
        let line = self.stages[i].line;
        self.note(
            ins.loc,
            NoteKind::Differs,
            format!(
                "stage `{df_name}` is named again here: the stage of line {line} is `{new}` (a `COPY --from={df_name}` \
                 before this line reads it in decant, the stage of this line in Dockerfile)"
            ),
        );
        self.stages[i].df_name = None;
        for st in &mut self.stages {
            if st.from == old {
                st.from = new.clone();
            }
            if st.name == old {
                st.name = new.clone();
            }
            for item in &mut st.steps {
                retag(&mut item.value, &old, &new);
            }
        }
    }

    fn env(&mut self, ins: &Instruction, comments: Vec<String>) {
        let pairs = self.pairs(ins);
        for (k, v) in &pairs {
            let st = self.stage();
            match st.env_values.iter_mut().find(|(n, _)| n == k) {
                Some((_, last)) => last.clone_from(v),
                None => st.env_values.push((k.clone(), v.clone())),
            }
            // Of an ARG and an ENV of one name, the values after this see the ENV's.
            if st.scope_args.contains(k) {
                self.set_shadow(k, Shadow::Env(v.clone()));
            }
        }
        let entries = pairs.into_iter().map(|(k, v)| Entry::str(&k, v)).collect();
        self.push_step(comments, vec![Entry::new("env", Node::Map(entries))]);
    }

    fn expose(&mut self, ins: &Instruction, comments: Vec<String>) {
        for w in self.words(ins) {
            let v = self.word_value(ins, &w);
            self.stage().expose.push((comments.clone(), v));
        }
    }

    /// CMD, ENTRYPOINT, HEALTHCHECK CMD: a list (exec form) or a string (shell form).
    fn command(&mut self, ins: &Instruction) -> Node {
        match &ins.args {
            Args::Json(v) => Node::Flow(v.clone()),
            Args::Shell(s) => Node::Str(s.clone()),
        }
    }

    fn healthcheck(&mut self, ins: &Instruction, comments: Vec<String>) {
        let mut entries = Vec::new();
        let rest = match &ins.args {
            Args::Shell(s) => s.clone(),
            Args::Json(_) => String::new(),
        };
        let (kw, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest.as_str(), ""));
        match kw.to_ascii_uppercase().as_str() {
            "NONE" => entries.push(Entry::str("cmd", "none")),
            "CMD" => {
                let tail = tail.trim();
                let node = match serde_json::from_str::<Vec<String>>(tail) {
                    Ok(v) if tail.starts_with('[') => Node::Flow(v),
                    _ => Node::Str(tail.to_string()),
                };
                entries.push(Entry::new("cmd", node));
            }
            _ => {
                self.note(ins.args_loc, NoteKind::NotConverted, "HEALTHCHECK takes NONE or CMD ...");
                return;
            }
        }
        for f in &ins.flags {
            let key = match f.name.as_str() {
                "interval" => "interval",
                "timeout" => "timeout",
                "start-period" => "start_period",
                "retries" => "retries",
                "start-interval" => "start_interval",
                other => {
                    self.note(f.loc, NoteKind::NotConverted, format!("HEALTHCHECK --{other}: unknown flag"));
                    continue;
                }
            };
            let v = self.arg_value(ins, f.value.as_deref().unwrap_or(""), "healthcheck options");
            entries.push(Entry::str(key, v));
        }
        self.stage().healthcheck = Some((comments, Node::Map(entries)));
    }

    fn shell(&mut self, ins: &Instruction, comments: Vec<String>) {
        let Args::Json(v) = &ins.args else {
            self.note(ins.args_loc, NoteKind::NotConverted, "SHELL needs a JSON array, e.g. [\"/bin/bash\", \"-c\"]");
            return;
        };
        let loc = ins.loc;
        let st = self.stage();
        st.pending.extend(comments);
        if st.saw_command {
            // The stage's `shell` applies to all its commands: those written before this SHELL
            // keep the shell they ran with, in exec form.
            let previous = st.shell.clone();
            let before = previous.clone().unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            for item in &mut st.steps {
                if let Node::Map(entries) = &mut item.value {
                    if entries[0].key == "run" {
                        to_exec(&mut entries[0].value, &before);
                    }
                }
            }
            for (_, node) in [&mut st.cmd, &mut st.entrypoint].into_iter().flatten() {
                to_exec(node, &before);
            }
            if let Some((_, Node::Map(h))) = &mut st.healthcheck {
                if let Some(e) = h.iter_mut().find(|e| e.key == "cmd" && e.value != Node::Str("none".into())) {
                    to_exec(&mut e.value, &before);
                }
            }
            if previous.is_none() {
                self.note(
                    loc,
                    NoteKind::Differs,
                    "SHELL after the stage's first command: the commands before it are written in exec form with \
                     /bin/sh -c (assumed to be the base image's shell)",
                );
            }
        }
        self.stage().shell = Some(v.clone());
    }

    // -----------------------------------------------------------------------------------------
    // Output
    // -----------------------------------------------------------------------------------------

    /// An arg that every RUN has in scope, and that some RUN gets only through its step's env,
    /// is declared `env: true` instead: decant then hands it to every run, as the Dockerfile does.
    fn args_to_every_run(&mut self) {
        for a in &mut self.args {
            let name = &a.name;
            if [crate::spec::SBOM_SCAN_CONTEXT, crate::spec::SBOM_SCAN_STAGE].contains(&name.as_str()) {
                continue;
            }
            if !self.runs.iter().all(|r| r.scope.contains(name)) || !self.runs.iter().any(|r| r.passed.contains(name)) {
                continue;
            }
            a.env = true;
            for r in self.runs.iter().filter(|r| !r.overrides.contains(name)) {
                let Node::Map(step) = &mut self.stages[r.stage].steps[r.step].value else { continue };
                if let Some(i) = step.iter().position(|e| e.key == "env") {
                    if let Node::Map(env) = &mut step[i].value {
                        env.retain(|e| &e.key != name);
                        if env.is_empty() {
                            step.remove(i);
                        }
                    }
                }
            }
        }
    }

    fn finish(mut self) -> Conversion {
        self.tag_bare_images();
        self.hoist_stage_defaults();
        self.args_to_every_run();
        let mut doc = Vec::new();
        if !self.args.is_empty() {
            let entries = self
                .args
                .iter()
                .map(|a| Entry {
                    comments: a.comments.clone(),
                    key: a.name.clone(),
                    value: match (&a.default, a.env) {
                        (Some(d), false) => Node::Str(d.clone()),
                        // No default: the arg is unset unless a build gives it, as in Dockerfile.
                        (None, false) => Node::Null,
                        (d, true) => {
                            let mut m: Vec<Entry> = d.iter().map(|d| Entry::str("default", d.clone())).collect();
                            m.push(Entry::new("env", Node::Bool(true)));
                            Node::Map(m)
                        }
                    },
                })
                .collect();
            doc.push(Entry::new("args", Node::Map(entries)));
        }
        let mut trailing = Vec::new();
        let mut stages = Vec::new();
        let n = self.stages.len();
        for (i, st) in std::mem::take(&mut self.stages).into_iter().enumerate() {
            if i + 1 == n {
                trailing = st.pending.clone();
            }
            stages.push(stage_entry(st));
        }
        doc.push(Entry::new("stages", Node::Map(stages)));
        let mut out = comment(&format!("syntax={}", self.opts.syntax));
        out.push_str(&comment(&format!("Converted from {} by `decant convert`.", self.opts.file_name)));
        for c in &self.header {
            out.push_str(&comment(c));
        }
        out.push_str(&render(&doc));
        for c in &trailing {
            out.push_str(&comment(c));
        }
        self.notes.sort_by_key(|n| n.loc);
        Conversion { yaml: out, notes: self.notes }
    }
}

fn stage_entry(st: StageOut) -> Entry {
    let mut e = vec![Entry::str("from", st.from)];
    if let Some(p) = st.platform {
        e.push(Entry::str("platform", p));
    }
    if !st.args.is_empty() {
        e.push(Entry::new("args", Node::Map(st.args.into_iter().map(|(k, v)| Entry::str(&k, v)).collect())));
    }
    if let Some(s) = st.shell {
        // Dockerfile's SHELL expands no variables (PowerShell's `$ErrorActionPreference`):
        // every `$` is literal, which the spec writes `$$`.
        let s = s.into_iter().map(|w| w.replace('$', "$$")).collect();
        e.push(Entry::new("shell", Node::Flow(s)));
    }
    if !st.steps.is_empty() {
        e.push(Entry::new("steps", Node::List(st.steps)));
    }
    if let Some((c, n)) = st.entrypoint {
        e.push(Entry { comments: c, key: "entrypoint".into(), value: n });
    }
    if let Some((c, n)) = st.cmd {
        e.push(Entry { comments: c, key: "cmd".into(), value: n });
    }
    if !st.expose.is_empty() {
        let comments = st.expose.iter().flat_map(|(c, _)| c.clone()).collect::<Vec<_>>();
        let mut seen = Vec::new();
        let ports: Vec<String> = st
            .expose
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| !seen.contains(p) && (seen.push(p.clone()), true).1)
            .collect();
        e.push(Entry { comments: dedup(comments), key: "expose".into(), value: Node::Flow(ports) });
    }
    if let Some((c, n)) = st.healthcheck {
        e.push(Entry { comments: c, key: "healthcheck".into(), value: n });
    }
    if !st.labels.is_empty() {
        let comments = dedup(st.labels.iter().flat_map(|(c, _, _)| c.clone()).collect());
        let mut labels: Vec<Entry> = Vec::new();
        for (_, k, v) in st.labels {
            match labels.iter_mut().find(|l| l.key == k) {
                Some(l) => l.value = Node::Str(v),
                None => labels.push(Entry::str(&k, v)),
            }
        }
        e.push(Entry { comments, key: "labels".into(), value: Node::Map(labels) });
    }
    if !st.volumes.is_empty() {
        let comments = dedup(st.volumes.iter().flat_map(|(c, _)| c.clone()).collect());
        e.push(Entry {
            comments,
            key: "volumes".into(),
            value: Node::Flow(st.volumes.into_iter().map(|(_, v)| v).collect()),
        });
    }
    if let Some((c, s)) = st.stop_signal {
        e.push(Entry { comments: c, key: "stop_signal".into(), value: Node::Str(s) });
    }
    if !st.onbuild.is_empty() {
        let comments = dedup(st.onbuild.iter().flat_map(|(c, _)| c.clone()).collect());
        let triggers = st.onbuild.into_iter().map(|(_, t)| t).collect();
        e.push(Entry { comments, key: "onbuild".into(), value: Node::Flow(triggers) });
    }
    Entry { comments: st.comments, key: st.name, value: Node::Map(e) }
}

/// Every `from: old` in a step (a copy's, a mount's) as `from: new`.
fn retag(node: &mut Node, old: &str, new: &str) {
    match node {
        Node::Map(entries) => {
            for e in entries {
                match &mut e.value {
                    Node::Str(v) if e.key == "from" && v == old => *v = new.to_string(),
                    v => retag(v, old, new),
                }
            }
        }
        Node::List(items) => items.iter_mut().for_each(|i| retag(&mut i.value, old, new)),
        _ => {}
    }
}

/// A shell-form command (a string) as the exec form `shell + [command]`.
fn to_exec(node: &mut Node, shell: &[String]) {
    if let Node::Str(s) = node {
        let mut v = shell.to_vec();
        v.push(std::mem::take(s));
        *node = Node::Flow(v);
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    v.retain(|c| !seen.contains(c) && (seen.push(c.clone()), true).1);
    v
}

/// A decant stage name for a Dockerfile stage name.
fn stage_name(n: &str) -> String {
    let mut s: String = n
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c.to_ascii_lowercase() } else { '-' })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s = format!("stage-{s}");
    }
    if s == "scratch" || s == "context" {
        s.push_str("-stage");
    }
    s
}

/// The text of the word that opened the `i`th heredoc, as written in a RUN.
fn heredoc_word(ins: &Instruction, i: usize) -> String {
    let h = &ins.heredocs[i];
    let dash = if h.strip_tabs { "-" } else { "" };
    let Args::Shell(s) = &ins.args else { return String::new() };
    for q in ["", "\"", "'"] {
        let w = format!("<<{dash}{q}{}{q}", h.name);
        if s.trim() == w {
            return w;
        }
    }
    format!("<<{dash}{}", h.name)
}

/// The instruction as one line, for comments.
fn instruction_text(ins: &Instruction) -> String {
    let mut s = ins.keyword.clone();
    for f in &ins.flags {
        s.push_str(&format!(" --{}", f.name));
        if let Some(v) = &f.value {
            s.push('=');
            s.push_str(v);
        }
    }
    s.push(' ');
    s.push_str(&match &ins.args {
        Args::Shell(a) => a.clone(),
        Args::Json(v) => serde_json::to_string(v).unwrap_or_default(),
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names() {
        assert_eq!(stage_name("build"), "build");
        assert_eq!(stage_name("Build_Env"), "build_env");
        assert_eq!(stage_name("0x"), "stage-0x");
        assert_eq!(stage_name("context"), "context-stage");
    }
}
