//! Where a stage reads from: its base, and the `from:` of its copies and mounts. One type for
//! all of them ([`Source`]) and one walk over a stage's ([`Stage::sources`]); everything that
//! asks what a plan reads (dependencies, images, named contexts, context paths, the graph)
//! goes through that walk.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Copy, GitSource, ImageRef, Mount, Plan, Platform, Stage, StepKind};

/// Where a stage, a copy or a mount reads from. A stage's base is never the build context or
/// a git repository (the plan refuses both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The build context.
    Context,
    Stage {
        name: String,
    },
    Image {
        reference: ImageRef,
    },
    Scratch,
    /// A git repository (`from: https://host/repo.git#ref:dir`). Boxed: it is rare, and twice
    /// the size of the other kinds (every copy step and mount holds a source).
    Git(Box<GitSource>),
    /// A named context given with the build (`context:<name>`).
    Named {
        name: String,
    },
}

/// What reads a [`Source`] in a stage.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// The stage starts from it.
    Base,
    Copy(&'a Copy),
    Mount(&'a Mount),
}

impl Stage {
    /// Every source the stage reads, with what reads it: its base first, then its copies and
    /// mounts in step order.
    pub fn sources(&self) -> impl Iterator<Item = (&Source, Reader<'_>)> {
        let steps = self.steps.iter().flat_map(|step| {
            let (copy, mounts): (Option<&Copy>, &[Mount]) = match &step.kind {
                StepKind::Copy(c) => (Some(c), &[]),
                StepKind::Run(r) => (None, &r.mounts),
                _ => (None, &[]),
            };
            let copy = copy.map(|c| (&c.from, Reader::Copy(c)));
            copy.into_iter().chain(mounts.iter().filter_map(|m| Some((m.from()?, Reader::Mount(m)))))
        });
        std::iter::once((&self.base, Reader::Base)).chain(steps)
    }

    /// The stages this one reads, sorted, each once.
    pub(super) fn stages_read(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self
            .sources()
            .filter_map(|(s, _)| match s {
                Source::Stage { name } => Some(name),
                _ => None,
            })
            .collect();
        names.into_iter().cloned().collect()
    }
}

impl Plan {
    /// What `pick` takes from every source of the plan, with the platform of the stage that
    /// reads it, each once, sorted.
    fn read<T: Ord + Clone>(&self, pick: impl Fn(&Source) -> Option<&T>) -> BTreeSet<(T, Platform)> {
        let mut out = BTreeSet::new();
        for stage in &self.stages {
            for (source, _) in stage.sources() {
                if let Some(t) = pick(source) {
                    out.insert((t.clone(), stage.platform.clone()));
                }
            }
        }
        out
    }

    /// Where the spec names `image` first: a stage's `from:`, else the step that reads it.
    pub fn image_span(&self, image: &ImageRef) -> Option<crate::diag::Span> {
        let is = |s: Option<&Source>| matches!(s, Some(Source::Image { reference }) if reference == image);
        for stage in &self.stages {
            if is(Some(&stage.base)) {
                return Some(stage.from_span);
            }
            for step in &stage.steps {
                let reads = match &step.kind {
                    StepKind::Copy(c) => is(Some(&c.from)),
                    StepKind::Run(r) => r.mounts.iter().any(|m| is(m.from())),
                    _ => false,
                };
                if reads {
                    return Some(step.span);
                }
            }
        }
        None
    }

    /// Every image the plan reads (bases and copy/mount sources), each once, sorted.
    pub fn images(&self) -> BTreeSet<(ImageRef, Platform)> {
        self.read(|s| match s {
            Source::Image { reference } => Some(reference),
            _ => None,
        })
    }

    /// Every named context the plan reads, with the platform of the stage that reads it.
    pub fn named_contexts(&self) -> BTreeSet<(String, Platform)> {
        self.read(|s| match s {
            Source::Named { name } => Some(name),
            _ => None,
        })
    }
}
