//! Progress names for vertices: `[build 2/4] run: make`.

use std::fmt::Write as _;

use crate::plan::{CommandLine, Source, StepKind, Word};

/// Room left in a step name for the ` (file:line)` that [`super::Lowerer::meta`] appends, so
/// that appending does not move the name.
const SUFFIX_ROOM: usize = 48;

pub(crate) fn step_name(stage: &str, n: usize, total: usize, what: &str) -> String {
    let mut s = String::with_capacity(stage.len() + what.len() + 24 + SUFFIX_ROOM);
    s.push('[');
    s.push_str(stage);
    let _ = write!(s, " {n}/{total}] ");
    s.push_str(what);
    s
}

pub(crate) fn command(c: &CommandLine) -> String {
    match c {
        CommandLine::Shell(s) => s.clone(),
        CommandLine::Exec(args) => serde_json::to_string(args).unwrap_or_default(),
    }
}

/// Appends the text of `w` (its literal text, or the word as written).
fn push_word(out: &mut String, w: &Word) {
    match w.as_literal_str() {
        Some(t) => out.push_str(t),
        None => out.push_str(&w.text()),
    }
}

/// What a step does, in one line, as shown in progress output and image history.
pub(crate) fn describe(step: &StepKind) -> String {
    let mut out = String::with_capacity(64);
    match step {
        StepKind::Run(run) => {
            out.push_str("run: ");
            match &run.command {
                CommandLine::Shell(s) => out.push_str(s),
                c => out.push_str(&command(c)),
            }
        }
        StepKind::Copy(c) => {
            out.push_str("copy: ");
            match &c.from {
                Source::Context => {}
                Source::Stage { name } | Source::Named { name } => {
                    out.push_str("--from=");
                    out.push_str(name);
                    out.push(' ');
                }
                Source::Image { reference } => {
                    let _ = write!(out, "--from={reference} ");
                }
                Source::Scratch => out.push_str("--from=scratch "),
                Source::Git(g) => {
                    let _ = write!(out, "--from={g} ");
                }
            }
            for (i, s) in c.sources.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_word(&mut out, s);
            }
            out.push_str(" -> ");
            match &c.to {
                Some(to) => push_word(&mut out, to),
                None => out.push('.'),
            }
        }
        StepKind::Env { vars } => {
            out.push_str("env: ");
            for (i, (k, v)) in vars.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push('=');
                push_word(&mut out, v);
            }
        }
        StepKind::Workdir { path } => {
            out.push_str("workdir: ");
            push_word(&mut out, path);
        }
        StepKind::User { user } => {
            out.push_str("user: ");
            push_word(&mut out, user);
        }
        StepKind::File { path, .. } => {
            out.push_str("file: ");
            push_word(&mut out, path);
        }
    }
    out
}
