//! Progress names for vertices: `[build 2/4] run: make`.

use crate::plan::{CommandLine, Source, StepKind, Word};

pub(crate) fn step_name(stage: &str, n: usize, total: usize, what: &str) -> String {
    format!("[{stage} {n}/{total}] {what}")
}

pub(crate) fn command(c: &CommandLine) -> String {
    match c {
        CommandLine::Shell(s) => s.clone(),
        CommandLine::Exec(args) => serde_json::to_string(args).unwrap_or_default(),
    }
}

/// What a step does, in one line, as shown in progress output and image history.
pub(crate) fn describe(step: &StepKind) -> String {
    match step {
        StepKind::Run(run) => format!("run: {}", command(&run.command)),
        StepKind::Copy(c) => {
            let from = match &c.from {
                Source::Context => String::new(),
                Source::Stage { name } => format!("--from={name} "),
                Source::Image { reference } => format!("--from={reference} "),
                Source::Scratch => "--from=scratch ".into(),
                Source::Git(g) => format!("--from={g} "),
                Source::Named { name } => format!("--from={name} "),
            };
            let to = c.to.as_ref().map_or_else(|| ".".to_string(), Word::text);
            let sources: Vec<String> = c.sources.iter().map(Word::text).collect();
            format!("copy: {from}{} -> {to}", sources.join(" "))
        }
        StepKind::Env { vars } => {
            let kv: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={}", v.text())).collect();
            format!("env: {}", kv.join(" "))
        }
        StepKind::Workdir { path } => format!("workdir: {}", path.text()),
        StepKind::User { user } => format!("user: {}", user.text()),
        StepKind::File { path, .. } => format!("file: {}", path.text()),
    }
}
