//! A picture of a spec: stages, the images they start from, and the copies that link them.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::plan::{self, BuildOptions, Reader, Source};
use crate::spec::Spec;

/// Nodes and labelled edges between them.
pub struct StageGraph {
    stages: Vec<String>,
    images: BTreeSet<String>,
    /// Git repositories and downloaded URLs.
    remotes: BTreeSet<String>,
    /// Named contexts (`context:<name>` options) the spec reads.
    named: BTreeSet<String>,
    /// (from, to, label, is_base)
    edges: Vec<(String, String, String, bool)>,
}

impl StageGraph {
    /// The graph of every stage of a spec; stages that fail to resolve are drawn alone.
    pub fn from_spec(spec: &Spec) -> StageGraph {
        StageGraph::with_named_contexts(spec, Default::default())
    }

    /// Like [`StageGraph::from_spec`], with the names of the named contexts a build would get.
    pub fn with_named_contexts(spec: &Spec, named_contexts: BTreeSet<String>) -> StageGraph {
        let mut g = StageGraph {
            stages: Vec::new(),
            images: BTreeSet::new(),
            remotes: BTreeSet::new(),
            named: BTreeSet::new(),
            edges: Vec::new(),
        };
        let opts = BuildOptions { all_stages: true, named_contexts, ..Default::default() };
        let Ok(p) = plan::resolve(spec, &opts) else {
            g.stages = spec.stages.iter().map(|s| s.name.value.clone()).collect();
            return g;
        };
        for stage in &p.stages {
            g.stages.push(stage.name.clone());
            for (from, reader) in stage.sources() {
                let label = match reader {
                    Reader::Base => "from".to_string(),
                    Reader::Mount(_) => "mount".to_string(),
                    Reader::Copy(c) => {
                        let sources: Vec<String> = c.sources.iter().map(plan::Word::text).collect();
                        for url in sources.iter().filter(|s| plan::Copy::is_url(s)) {
                            g.remotes.insert(url.clone());
                            g.edges.push((url.clone(), stage.name.clone(), "download".into(), false));
                        }
                        let local: Vec<&str> =
                            sources.iter().filter(|s| !plan::Copy::is_url(s)).map(String::as_str).collect();
                        if local.is_empty() {
                            continue;
                        }
                        format!("copy {}", local.join(" "))
                    }
                };
                g.link(from, &stage.name, label, matches!(reader, Reader::Base));
            }
        }
        g
    }

    /// An edge from a source to stage `to` (solid for its base); nothing from `scratch`.
    fn link(&mut self, from: &Source, to: &str, label: String, base: bool) {
        let src = match from {
            Source::Context => "context".to_string(),
            Source::Stage { name } => name.clone(),
            Source::Image { reference } => {
                self.images.insert(reference.to_string());
                reference.to_string()
            }
            Source::Scratch => return,
            Source::Git(git) => {
                self.remotes.insert(git.to_string());
                git.to_string()
            }
            Source::Named { name } => {
                self.named.insert(name.clone());
                name.clone()
            }
        };
        self.edges.push((src, to.to_string(), label, base));
    }

    fn uses_context(&self) -> bool {
        self.edges.iter().any(|(f, ..)| f == "context")
    }

    /// Graphviz dot.
    pub fn dot(&self) -> String {
        let mut s = String::from("digraph decant {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
        for st in &self.stages {
            let _ = writeln!(s, "  {} [shape=box, style=rounded];", quote(st));
        }
        for img in &self.images {
            let _ = writeln!(s, "  {} [shape=cylinder];", quote(img));
        }
        for r in &self.remotes {
            let _ = writeln!(s, "  {} [shape=note];", quote(r));
        }
        for n in &self.named {
            let _ = writeln!(s, "  {} [shape=folder, style=dashed];", quote(n));
        }
        if self.uses_context() {
            let _ = writeln!(s, "  \"context\" [shape=folder];");
        }
        for (f, t, label, base) in &self.edges {
            let style = if *base { "solid" } else { "dashed" };
            let _ = writeln!(s, "  {} -> {} [label={}, style={style}];", quote(f), quote(t), quote(label));
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid flowchart.
    pub fn mermaid(&self) -> String {
        let id = |n: &str| -> String { n.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect() };
        let mut s = String::from("flowchart LR\n");
        for st in &self.stages {
            let _ = writeln!(s, "  s_{}[\"{}\"]", id(st), st);
        }
        for img in &self.images {
            let _ = writeln!(s, "  s_{}[(\"{}\")]", id(img), img);
        }
        for r in &self.remotes {
            let _ = writeln!(s, "  s_{}>\"{}\"]", id(r), r.replace('"', "'"));
        }
        for n in &self.named {
            let _ = writeln!(s, "  s_{}[/\"{}\"/]", id(n), n);
        }
        if self.uses_context() {
            s.push_str("  s_context[/\"context\"/]\n");
        }
        for (f, t, label, base) in &self.edges {
            let arrow = if *base { "-->" } else { "-.->" };
            let label = label.replace('"', "'");
            let _ = writeln!(s, "  s_{} {arrow}|\"{label}\"| s_{}", id(f), id(t));
        }
        s
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
