//! RUN: the command (shell form, exec form, heredocs), its mounts, network and security, and
//! the args a Dockerfile would hand it.

use super::value::mentions;
use super::{heredoc_word, Converter, RunOut, Shadow, BUILTIN_ARGS};
use crate::convert::parse::{Args, Flag, Instruction};
use crate::convert::yaml::{Entry, Item, Node};
use crate::convert::NoteKind;

impl Converter<'_> {
    pub(super) fn run_instr(&mut self, ins: &Instruction, comments: Vec<String>) {
        let mut options: Vec<Entry> = Vec::new();
        let mut mounts = Vec::new();
        for f in &ins.flags {
            let v = f.value.clone().unwrap_or_default();
            match f.name.as_str() {
                "mount" => {
                    if let Some(m) = self.mount(ins, f, &v) {
                        mounts.push(Item { comments: Vec::new(), value: Node::Map(m) });
                    }
                }
                "network" => options.push(Entry::str("network", v)),
                "security" => options.push(Entry::str("security", v)),
                other => self.note(f.loc, NoteKind::NotConverted, format!("RUN --{other}: unknown flag")),
            }
        }
        let command = self.run_command(ins);
        let text = match &command {
            Node::Str(s) => s.clone(),
            Node::Flow(v) => v.join(" "),
            _ => String::new(),
        };
        // Dockerfile hands every ARG of the stage to RUN as env; decant hands a run the args its
        // command names, so the others are named in the step's env (or, when every RUN has the
        // arg in scope, declared `env: true`: see `args_to_every_run`).
        let st = self.stages.last().expect("stage");
        let mut env = Vec::new();
        for a in &st.scope_args {
            if !mentions(&text, a) && !env.iter().any(|e: &Entry| &e.key == a) {
                env.push(Entry::str(a, format!("${{{a}}}")));
            }
        }
        let passed = env.iter().map(|e| e.key.clone()).collect();
        // An ARG declared after an ENV of its name: Dockerfile's RUN sees the arg (when it has a
        // value), a spec's run the image's env, unless the step's env says otherwise.
        let mut overrides = Vec::new();
        for (name, shadow) in &st.shadow {
            if let Shadow::Arg { .. } = shadow {
                let value = shadow.value(name).unwrap_or_else(|| format!("${{{name}}}"));
                env.retain(|e| &e.key != name);
                env.push(Entry::str(name, value));
                overrides.push(name.clone());
            }
        }
        let unscoped: Vec<String> = self
            .args
            .iter()
            .map(|a| a.name.as_str())
            .chain(BUILTIN_ARGS.iter().copied())
            .filter(|a| mentions(&text, a) && !st.scope_args.iter().any(|s| s == a))
            .map(str::to_string)
            .collect();
        for a in unscoped {
            self.note(
                ins.loc,
                NoteKind::Differs,
                format!("RUN mentions ${a}, an ARG this stage does not declare: Dockerfile leaves it unset, decant passes the arg's value"),
            );
        }
        let mut entries = vec![Entry::new("run", command)];
        if !env.is_empty() {
            entries.push(Entry::new("env", Node::Map(env)));
        }
        entries.extend(options);
        if !mounts.is_empty() {
            entries.push(Entry::new("mounts", Node::List(mounts)));
        }
        let stage = self.stages.len() - 1;
        let st = self.stage();
        st.saw_command = true;
        let (step, scope) = (st.steps.len(), st.scope_args.clone());
        self.runs.push(RunOut { stage, step, scope, passed, overrides });
        self.push_step(comments, entries);
    }

    /// A RUN's command: exec form as a list; shell form as written (a multi-line layout is kept
    /// when the shell reads it the same), heredocs as scripts.
    fn run_command(&mut self, ins: &Instruction) -> Node {
        let script = match &ins.args {
            Args::Json(v) => return Node::Flow(v.clone()),
            Args::Shell(s) => {
                if ins.heredocs.len() == 1 && s.trim() == heredoc_word(ins, 0) {
                    // A script with a shebang runs under its interpreter in both.
                    ins.heredocs[0].body.clone()
                } else if !ins.heredocs.is_empty() {
                    // The shell reads the heredocs itself.
                    let mut out = s.clone();
                    out.push('\n');
                    for h in &ins.heredocs {
                        out.push_str(&h.body);
                        out.push_str(&h.name);
                        out.push('\n');
                    }
                    out
                } else {
                    self.layout(ins).unwrap_or_else(|| s.clone())
                }
            }
        };
        Node::Str(script)
    }

    /// The RUN's lines as written, when sh reads them as the Dockerfile does: backslash
    /// continuations outside single quotes, the command starting on the first line, and a
    /// POSIX shell (PowerShell or cmd, as a SHELL sets, reads `\` at a line end as written).
    fn layout(&self, ins: &Instruction) -> Option<String> {
        let first = ins.args_loc.line.checked_sub(ins.loc.line)?;
        if ins.raw_lines.len() < first + 2 || self.df.escape != '\\' {
            return None;
        }
        // The stage's SHELL, or that of the stage it is built on.
        let mut st = self.stages.last();
        for _ in 0..self.stages.len() {
            match st {
                Some(s) if s.shell.is_none() => st = self.stages.iter().find(|p| p.name == s.from),
                _ => break,
            }
        }
        if st.and_then(|s| s.shell.as_deref()).is_some_and(|sh| !is_posix_shell(sh)) {
            return None;
        }
        // Raw line 0 starts at the keyword; later lines at column 1.
        let skip = if first == 0 { ins.args_loc.column - ins.loc.column } else { ins.args_loc.column - 1 };
        let mut out = String::new();
        let mut single_quotes = 0;
        for (i, l) in ins.raw_lines.iter().enumerate().skip(first) {
            let l = if i == first { l.chars().skip(skip).collect::<String>() } else { l.clone() };
            let l = l.trim_end();
            single_quotes += l.matches('\'').count();
            if i + 1 < ins.raw_lines.len() && single_quotes % 2 == 1 {
                return None;
            }
            out.push_str(l);
            if i + 1 < ins.raw_lines.len() {
                out.push('\n');
            }
        }
        Some(out)
    }

    fn mount(&mut self, ins: &Instruction, f: &Flag, spec: &str) -> Option<Vec<Entry>> {
        let mut kind = "bind".to_string();
        let mut target = None;
        let mut opts: Vec<(String, String)> = Vec::new();
        let mut readonly = None;
        let mut id = None;
        for field in spec.split(',') {
            let (k, v) = match field.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string()),
                None => (field.trim().to_ascii_lowercase(), "true".to_string()),
            };
            match k.as_str() {
                "type" => kind = v,
                "target" | "dst" | "destination" => target = Some(v),
                "id" => id = Some(v),
                "ro" | "readonly" => readonly = Some(v != "false"),
                "rw" | "readwrite" => readonly = Some(v == "false"),
                "source" | "src" => opts.push(("source".into(), v)),
                // An empty one is none: the mount reads the context, as in BuildKit.
                "from" if v.is_empty() => {}
                // As BuildKit's parser refuses it: a `$` anywhere but last.
                "from" if v.find('$').is_some_and(|i| i + 1 < v.len()) => {
                    self.fail(f.loc, "'from' doesn't support variable expansion, define alias stage instead".into());
                }
                "from" => {
                    let from = match self.stage_ref(&v) {
                        Some(s) => s,
                        None => {
                            self.note_bare_image(self.stages.len() - 1, &v);
                            v
                        }
                    };
                    opts.push(("from".into(), from));
                }
                "sharing" | "mode" | "uid" | "gid" | "size" | "env" | "required" => opts.push((k, v)),
                _ => self.note(f.loc, NoteKind::NotConverted, format!("--mount option `{k}`: not known")),
            }
        }
        let kind = kind.to_ascii_lowercase();
        // What BuildKit's parser refuses for the kind, refused here too; an option it takes and
        // ignores for the kind, left out with a note; a secret's `source` is its id.
        let allowed: &[&str] = match kind.as_str() {
            "cache" => &["sharing", "from", "source", "mode", "uid", "gid"],
            "secret" => &["env", "required", "mode", "uid", "gid"],
            "ssh" => &["required", "mode", "uid", "gid"],
            "tmpfs" => &["size"],
            _ => &["from", "source"],
        };
        let mut kept = Vec::new();
        for (k, v) in opts {
            let refused = match k.as_str() {
                "mode" | "uid" | "gid" if ["bind", "tmpfs"].contains(&kind.as_str()) => {
                    Some(format!("{k} not allowed for \"{kind}\" type mounts"))
                }
                "sharing" if kind != "cache" => Some(format!("invalid cache sharing set for {kind} mount")),
                "size" if kind != "tmpfs" => Some(format!("unexpected key 'size' for mount type '{kind}'")),
                "required" if !["secret", "ssh"].contains(&kind.as_str()) => {
                    Some(format!("unexpected key 'required' for mount type '{kind}'"))
                }
                "from" if kind == "secret" => Some("secret mount should not have a from".to_string()),
                "source" if kind == "secret" && id.is_some() => Some("both source and id can't be set".to_string()),
                _ => None,
            };
            match refused {
                Some(why) => self.fail(f.loc, why),
                None if k == "source" && kind == "secret" => id = Some(v),
                None if allowed.contains(&k.as_str()) => kept.push((k, v)),
                None => self.note(
                    f.loc,
                    NoteKind::NotConverted,
                    format!("--mount option `{k}` on a {kind} mount: it means nothing there, left out"),
                ),
            }
        }
        // An option given twice: the last value, as BuildKit's parser keeps it.
        let mut opts: Vec<(String, String)> = Vec::new();
        for (k, v) in kept {
            match opts.iter_mut().find(|(n, _)| *n == k) {
                Some((_, last)) => *last = v,
                None => opts.push((k, v)),
            }
        }
        for (_, v) in opts.iter_mut() {
            *v = self.arg_value(ins, v, "mount options");
        }
        // A relative or empty target resolves against the workdir in both; a bind or tmpfs mount
        // without one says `.` (BuildKit joins the workdir and the empty target).
        let target = target.map(|t| self.arg_value(ins, &t, "mount options"));
        let here = || target.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| ".".to_string());
        let id = id.map(|t| self.arg_value(ins, &t, "mount options"));
        let mut entries = Vec::new();
        match kind.as_str() {
            "cache" => {
                entries.push(Entry::str("cache", target.unwrap_or_default()));
                if let Some(id) = id {
                    entries.push(Entry::str("id", id));
                }
                if readonly == Some(true) {
                    entries.push(Entry::new("readonly", Node::Bool(true)));
                }
            }
            "bind" => {
                entries.push(Entry::str("bind", here()));
                if readonly == Some(false) {
                    entries.push(Entry::new("readwrite", Node::Bool(true)));
                }
            }
            "tmpfs" => entries.push(Entry::str("tmpfs", here())),
            "secret" | "ssh" => {
                let id = id.or_else(|| {
                    if kind == "ssh" {
                        Some("default".into())
                    } else {
                        target.as_ref().map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
                    }
                });
                let Some(id) = id else {
                    self.note(f.loc, NoteKind::NotConverted, "--mount=type=secret needs an id or a target");
                    return None;
                };
                entries.push(Entry::str(&kind, id));
                if let Some(t) = target {
                    entries.push(Entry::str("target", t));
                }
            }
            other => {
                self.note(f.loc, NoteKind::NotConverted, format!("--mount type `{other}`: not known"));
                return None;
            }
        }
        for (k, v) in opts {
            entries.push(Entry::str(&k, v));
        }
        Some(entries)
    }
}

/// Whether a SHELL is a POSIX shell (`/bin/bash -o pipefail -c`, `/usr/bin/env sh -c`), which
/// reads a backslash at a line end as a continuation.
fn is_posix_shell(shell: &[String]) -> bool {
    let name = |s: &str| s.rsplit(['/', '\\']).next().unwrap_or(s).trim_end_matches(".exe").to_ascii_lowercase();
    let mut words = shell.iter().map(|s| name(s));
    let first = match words.next() {
        Some(w) if w == "env" => words.next().unwrap_or_default(),
        Some(w) => w,
        None => return false,
    };
    ["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"].contains(&first.as_str())
}
