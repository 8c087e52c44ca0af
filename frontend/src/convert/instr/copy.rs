//! COPY and ADD: local sources, stage and image sources, downloads, git repositories, unpacked
//! archives and inline files (heredocs).

use super::value::SPECIAL_PARAMS;
use super::Converter;
use crate::convert::parse::{Instruction, Word};
use crate::convert::yaml::{Entry, Node};
use crate::convert::NoteKind;
use crate::remote::{is_git, is_url};

impl Converter<'_> {
    pub(super) fn copy(&mut self, ins: &Instruction, comments: Vec<String>) {
        let add = ins.keyword == "ADD";
        let mut options: Vec<Entry> = Vec::new();
        let mut from = None;
        let mut exclude = Vec::new();
        let mut parents = false;
        let mut keep_git_dir = false;
        // `ADD --unpack`: whether archives are unpacked (default: local and stage sources yes,
        // downloads no).
        let mut unpack = None;
        let mut chmod = None;
        let mut chown = None;
        for f in &ins.flags {
            let v = f.value.clone().unwrap_or_default();
            match f.name.as_str() {
                // BuildKit refuses a `--from` that its word expansion would change (quotes and
                // escapes are gone from a flag's value by then: a `$` is left), before it builds.
                // ADD takes no `--from` (BuildKit: "unknown flag: --from"): left to the last arm.
                "from" if !add && v.contains('$') => self.fail(
                    f.loc,
                    "variable expansion is not supported for --from, define a new stage with FROM using ARG \
                     from global scope as a workaround"
                        .to_string(),
                ),
                // An empty one is none: dockerfile2llb's dispatchCopy copies from the context.
                "from" if !add && v.is_empty() => {}
                "from" if !add => {
                    let stage = self.stages.len() - 1;
                    from = Some(self.stage_ref(&v).unwrap_or_else(|| self.image_value(ins, &v, stage, "`from`")))
                }
                "chown" => chown = Some(self.value(ins, &v)),
                "chmod" => chmod = Some(self.arg_value(ins, &v, "`chmod`")),
                "link" => {
                    if self.flag_bool(f) {
                        options.push(Entry::new("link", Node::Bool(true)));
                    }
                }
                "exclude" => exclude.push(self.arg_value(ins, &v, "`exclude`")),
                "parents" => parents = self.flag_bool(f),
                "checksum" if add => options.push(Entry::str("checksum", self.arg_value(ins, &v, "`checksum`"))),
                "keep-git-dir" if add => keep_git_dir = self.flag_bool(f),
                "unpack" if add => unpack = Some(self.flag_bool(f)),
                other => self.note(f.loc, NoteKind::NotConverted, format!("{} --{other}: unknown flag", ins.keyword)),
            }
        }
        let words = self.words(ins);
        if words.len() < 2 {
            self.not_converted(ins, comments, "needs a source and a destination");
            return;
        }
        let dest = self.word_value(ins, &words[words.len() - 1]);
        let mut sources = Vec::new();
        let mut heredocs = Vec::new();
        for w in &words[..words.len() - 1] {
            match ins.heredocs.iter().find(|h| {
                w.text.starts_with("<<")
                    && w.text.trim_start_matches("<<-").trim_start_matches("<<").trim_matches(['"', '\'']) == h.name
            }) {
                Some(h) => heredocs.push(h.clone()),
                None => sources.push(self.word_value(ins, w)),
            }
        }
        let mut comments = Some(comments);
        // Inline files (COPY <<EOF dest).
        let many = heredocs.len() + sources.len() > 1 || dest.ends_with('/');
        for h in &heredocs {
            let path = if many { format!("{}/{}", dest.trim_end_matches('/'), h.name) } else { dest.clone() };
            // A file step's content is taken as written. So is a heredoc with a quoted delimiter;
            // an unquoted one Dockerfile expands: without a `$` to expand, that is only its
            // backslash escapes, done here; with one, the step expands its content too.
            let unescaped = if h.quoted { None } else { unescape_heredoc(&h.body) };
            let (content, expand) = match unescaped {
                Some(text) => (text, false),
                None if h.quoted => (h.body.clone(), false),
                None => (self.word_value(ins, &heredoc_word(&h.body)), true),
            };
            let mut e = vec![Entry::str("file", path), Entry::str("content", content)];
            if expand {
                e.push(Entry::new("expand", Node::Bool(true)));
            }
            if let Some(c) = &chmod {
                e.push(Entry::str("chmod", c.clone()));
            }
            if let Some(c) = &chown {
                e.push(Entry::str("chown", c.clone()));
            }
            self.push_step(comments.take().unwrap_or_default(), e);
        }
        if sources.is_empty() {
            return;
        }
        // As BuildKit refuses it when it builds (the `checksum` of one source).
        if options.iter().any(|e| e.key == "checksum") && (sources.len() + heredocs.len() != 1) {
            self.fail(ins.loc, "checksum can't be specified for multiple sources".to_string());
            return;
        }
        // In source order: a git repository is a step of its own; runs of other sources are one
        // step each, so that a later source still lands over an earlier one as in Dockerfile.
        // ADD unpacks a local or stage source that is an archive, whatever its name (BuildKit
        // looks at the content), and never a download: `unpack: true` on the local run.
        let shared = CopyRun {
            from: &from,
            dest: &dest,
            parents,
            chown: &chown,
            chmod: &chmod,
            exclude: &exclude,
            options: &options,
        };
        let mut run: Vec<String> = Vec::new();
        let mut run_unpacks = false;
        for s in sources {
            // A source made of args (`ADD ${URL} /x`) is told apart by what the args give, as
            // BuildKit tells it apart after expanding it; the step keeps the references.
            let resolved = if add && s.contains('$') { self.with_arg_defaults(&s) } else { None };
            let probe = resolved.as_deref().unwrap_or(&s);
            if add && from.is_none() && is_git(probe) {
                // The repository becomes a `from:`, which expands args only: a note names an
                // environment variable in it (BuildKit expands the stage's ENV there too).
                self.arg_value(ins, &s, "a copy's `from:` (the git repository)");
                self.copy_run(&mut comments, std::mem::take(&mut run), run_unpacks, &shared);
                let mut e = vec![Entry::str("copy", "."), Entry::str("from", s), Entry::str("to", dest.clone())];
                if keep_git_dir {
                    e.push(Entry::new("keep_git_dir", Node::Bool(true)));
                }
                self.copy_options(&mut e, &chown, &chmod, &exclude, &options);
                self.push_step(comments.take().unwrap_or_default(), e);
                continue;
            }
            let unpacks = add && unpack.unwrap_or(!is_url(probe));
            if unpacks && is_url(probe) {
                self.note(
                    ins.loc,
                    NoteKind::NeedsFeature,
                    format!(
                        "ADD --unpack of the download {s}: decant does not unpack downloads (`unpack: true` on a URL)"
                    ),
                );
            }
            if unpacks != run_unpacks && !run.is_empty() {
                self.copy_run(&mut comments, std::mem::take(&mut run), run_unpacks, &shared);
            }
            run_unpacks = unpacks;
            run.push(s);
        }
        self.copy_run(&mut comments, run, run_unpacks, &shared);
    }

    /// One copy step of `sources` (none: no step).
    fn copy_run(&mut self, comments: &mut Option<Vec<String>>, mut sources: Vec<String>, unpack: bool, c: &CopyRun) {
        if sources.is_empty() {
            return;
        }
        if c.from.is_some() {
            // Dockerfile reads `COPY --from=X rel` from X's root; decant reads a relative source
            // from the stage's or image's workdir: root it.
            for s in sources.iter_mut().filter(|s| !s.starts_with('/') && !s.starts_with('$')) {
                s.insert(0, '/');
            }
        }
        let src = if sources.len() == 1 { Node::Str(sources.remove(0)) } else { Node::Flow(sources) };
        let mut e = vec![Entry::new("copy", src)];
        if let Some(f) = c.from {
            e.push(Entry::str("from", f.clone()));
        }
        e.push(Entry::str("to", c.dest.to_string()));
        if c.parents {
            e.push(Entry::new("parents", Node::Bool(true)));
        }
        if unpack {
            e.push(Entry::new("unpack", Node::Bool(true)));
        }
        self.copy_options(&mut e, c.chown, c.chmod, c.exclude, c.options);
        self.push_step(comments.take().unwrap_or_default(), e);
    }

    fn copy_options(
        &self,
        e: &mut Vec<Entry>,
        chown: &Option<String>,
        chmod: &Option<String>,
        exclude: &[String],
        options: &[Entry],
    ) {
        if let Some(c) = chown {
            e.push(Entry::str("chown", c.clone()));
        }
        if let Some(c) = chmod {
            e.push(Entry::str("chmod", c.clone()));
        }
        if !exclude.is_empty() {
            e.push(Entry::new("exclude", Node::Flow(exclude.to_vec())));
        }
        e.extend(options.iter().cloned());
    }
}

/// What every copy step of one COPY or ADD shares.
struct CopyRun<'a> {
    from: &'a Option<String>,
    dest: &'a str,
    parents: bool,
    chown: &'a Option<String>,
    chmod: &'a Option<String>,
    exclude: &'a [String],
    options: &'a [Entry],
}

/// The content BuildKit writes for an unquoted `COPY <<EOF` heredoc that expands no variable:
/// each backslash escapes the next character (`\\` is `\`, `\$` is `$`, `\n` is `n`, a
/// backslash before a newline is dropped), whatever the `escape` directive. `None` when the
/// body has an unescaped `$`, which Dockerfile expands.
/// An unquoted heredoc's body as Dockerfile expands it (its lexer without quote processing): a
/// `\` escapes the next character, and an escaped `$` is literal; quotes are characters.
fn heredoc_word(body: &str) -> Word {
    let mut w = Word { text: String::with_capacity(body.len()), literal_dollars: Vec::new() };
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    if next == '$' {
                        w.literal_dollars.push(w.text.len());
                    }
                    w.text.push(next);
                }
            }
            c => w.text.push(c),
        }
    }
    w
}

fn unescape_heredoc(body: &str) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '$' if starts_reference(chars.peek().copied()) => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Whether a `$` followed by `next` is a reference in BuildKit's lexer: `${`, a name (letters,
/// digits, `_`) or a special parameter ([`SPECIAL_PARAMS`]). Any other `$`, as in `$(date)` or
/// at the end, is written as it is.
fn starts_reference(next: Option<char>) -> bool {
    next.is_some_and(|c| c == '{' || c == '_' || c.is_alphanumeric() || SPECIAL_PARAMS.contains(&c))
}
