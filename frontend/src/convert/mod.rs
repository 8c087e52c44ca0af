//! `decant convert`: a Dockerfile to a decant.yaml, and `decant eject`: a spec back to a
//! Dockerfile.
//!
//! [`parse`] reads the Dockerfile grammar; this module maps each instruction onto the spec (one
//! stage per `FROM`, one step per build instruction, config keys for the image config). Whatever
//! cannot be expressed is reported as a [`Note`] with its Dockerfile line and column, and written
//! as a YAML comment where the instruction was: nothing is dropped silently.

mod eject;
mod instr;
pub mod parse;
mod yaml;

use std::fmt;

pub use eject::eject;
pub use parse::{parse_dockerfile, Loc, ParseError};

/// Options of a conversion.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// The Dockerfile's name, for messages and the header comment.
    pub file_name: String,
    /// The frontend image the spec's `# syntax=` line names.
    pub syntax: String,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions { file_name: "Dockerfile".into(), syntax: "decant/frontend:dev".into() }
    }
}

/// What a conversion reports about one place in the Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub loc: Loc,
    pub kind: NoteKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Not converted: the spec has no equivalent (kept as a YAML comment).
    NotConverted,
    /// Converted to what the spec would say, but decant does not have that feature: `decant
    /// check` rejects the spec until it is rewritten (the message says what is missing).
    NeedsFeature,
    /// Converted, with a behaviour that differs from the Dockerfile's in the way described.
    Differs,
}

impl fmt::Display for NoteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoteKind::NotConverted => "not converted",
            NoteKind::NeedsFeature => "needs a decant feature",
            NoteKind::Differs => "differs",
        })
    }
}

/// A converted spec and the notes about it.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub yaml: String,
    pub notes: Vec<Note>,
}

impl Conversion {
    /// The notes, one per line: `Dockerfile:LINE:COLUMN: kind: message`.
    pub fn render_notes(&self, file_name: &str) -> String {
        self.notes.iter().map(|n| format!("{file_name}:{}: {}: {}\n", n.loc, n.kind, n.message)).collect()
    }
}

/// Converts a Dockerfile's text to a decant spec.
pub fn convert(text: &str, opts: &ConvertOptions) -> Result<Conversion, ParseError> {
    let df = parse_dockerfile(text)?;
    instr::Converter::new(&df, opts).run()
}
