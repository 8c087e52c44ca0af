//! ARG: the build's args and each stage's own values, the scope a stage declares, and an ARG
//! and an ENV of one name (which a Dockerfile reads as whichever came last).

use super::value::{mentions, rename_refs, Known};
use super::{ArgOut, Converter, Shadow, StageOut, BUILTIN_ARGS, PROXY_ARGS};
use crate::convert::parse::Instruction;
use crate::convert::NoteKind;

impl Converter<'_> {
    pub(super) fn arg(&mut self, ins: &Instruction, comments: Vec<String>, global: bool) {
        let words = self.words(ins);
        let mut attached = false;
        for w in words {
            let (name, default) = match w.text.split_once('=') {
                Some((n, _)) => {
                    let cut = n.len() + 1;
                    let val = w.slice(cut, w.text.len());
                    // Before the first FROM only the ARGs above and the built-in ones have
                    // values: any other name is unset, whatever the base image. In a stage, a
                    // name of no arg is the environment's: what an ENV of the stage (or of the
                    // stages it is built on) set, or nothing on scratch.
                    let args: Vec<String> = self.args.iter().map(|a| a.name.clone()).collect();
                    let (env, on_scratch) = if global { (Vec::new(), true) } else { self.env_chain() };
                    let known = |n: &str| {
                        if BUILTIN_ARGS.contains(&n) || args.iter().any(|k| k == n) {
                            return None;
                        }
                        match env.iter().find(|(k, _)| k == n) {
                            Some((_, v)) if !v.contains('$') => Some(Known::Value(v.clone())),
                            Some(_) => None,
                            None => on_scratch.then_some(Known::Unset),
                        }
                    };
                    (n.to_string(), Some(self.spec_value_known(ins, &val, Some("arg defaults"), &known)))
                }
                None => (w.text.clone(), None),
            };
            // Dockerfile keeps the SBOM scan args out of a stage's environment.
            let scan_arg = [crate::spec::SBOM_SCAN_CONTEXT, crate::spec::SBOM_SCAN_STAGE].contains(&name.as_str());
            let declared_in_stage = !global && self.stage().scope_args.contains(&name);
            if !global && !scan_arg {
                self.stage().scope_args.push(name.clone());
            }
            if BUILTIN_ARGS.contains(&name.as_str()) || PROXY_ARGS.contains(&name.as_str()) {
                if default.is_some() {
                    let why = if BUILTIN_ARGS.contains(&name.as_str()) {
                        format!(
                            "{name} has a default: Dockerfile uses the default instead of the build's platform \
                             (unless a --build-arg gives {name}); decant's built-in {name} is always the \
                             platform's and cannot be given a default"
                        )
                    } else {
                        format!("{name} has a default: decant's built-in {name} cannot be given a default")
                    };
                    self.not_converted(ins, Vec::new(), &why);
                }
                continue;
            }
            // A stage's SBOM scan arg is its own value, as decant reads it without a top-level
            // declaration (and, as in Dockerfiles, never in a run's environment).
            if scan_arg && !global && !self.args.iter().any(|a| a.name == name) {
                if let Some(d) = default {
                    // Declared again: the later default.
                    let args = &mut self.stage().args;
                    match args.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, v)) => *v = d,
                        None => args.push((name, d)),
                    }
                }
                continue;
            }
            let in_stage = match global {
                true => None,
                false => self.stage().args.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()),
            };
            if !global {
                let env = self.stage().env_values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
                if let Some(env) = env {
                    // `ENV X=..` then `ARG X`: a value after it sees the arg if it has one. A
                    // stage's own default from an earlier `ARG X=d` is not one in Dockerfile.
                    if default.is_none() && in_stage.is_some() {
                        self.note(
                            ins.loc,
                            NoteKind::Differs,
                            format!(
                                "ARG {name} after ENV {name}, without a default: Dockerfile's later values \
                                 see the build's {name} or else the ENV's, decant's see the stage's default"
                            ),
                        );
                    }
                    // Without a default the ENV's value is the fallback, written as the word of
                    // `${X-word}`: a `}` of its own would end the reference early.
                    let nests = env.matches('}').count() == env.matches("${").count();
                    if default.is_none() && !nests {
                        self.note(
                            ins.loc,
                            NoteKind::Differs,
                            format!(
                                "ARG {name} after ENV {name}: Dockerfile's later values see a {name} the build \
                                 gives, decant's the ENV's value (which has a `}}`, so it cannot be the fallback)"
                            ),
                        );
                    }
                    // (Then, as when the build gives none, the ENV's value.)
                    let shadow = match default.is_some() || nests {
                        true => Shadow::Arg { default: default.is_some(), env },
                        false => Shadow::Env(env),
                    };
                    self.set_shadow(&name, shadow);
                }
            }
            let top = match self.args.iter().position(|a| a.name == name) {
                Some(i) => i,
                None => {
                    // A default given in a stage is that stage's value, not the build's: other
                    // stages that declare the arg without one leave it unset.
                    let top_default = if global { default.clone() } else { None };
                    attached = true;
                    self.args.push(ArgOut {
                        comments: comments.clone(),
                        name: name.clone(),
                        default: top_default,
                        loc: ins.loc,
                        env: false,
                    });
                    self.args.len() - 1
                }
            };
            let Some(d) = default else { continue };
            let top_default = self.args[top].default.clone();
            match (global, in_stage) {
                (true, _) => match top_default {
                    None => self.args[top].default = Some(d),
                    // `ARG X=${X#a}` after `ARG X=...` (moby's chains): the previous value
                    // becomes an arg of its own that the new default reads.
                    Some(old)
                        if old != d
                            && mentions(&d, &name)
                            && !self.args[top + 1..]
                                .iter()
                                .any(|a| a.default.as_deref().is_some_and(|v| mentions(v, &name))) =>
                    {
                        let mut k = 1;
                        while self.args.iter().any(|a| a.name == format!("{name}_{k}")) {
                            k += 1;
                        }
                        let previous = format!("{name}_{k}");
                        self.args[top].name = previous.clone();
                        self.args.push(ArgOut {
                            comments: comments.clone(),
                            name: name.clone(),
                            default: Some(rename_refs(&d, &name, &previous)),
                            loc: ins.loc,
                            env: false,
                        });
                    }
                    Some(old) if old != d => {
                        let first = self.args[top].loc;
                        self.conflicting_defaults(ins, &name, &d, &old, first.line);
                    }
                    Some(_) => {}
                },
                // Declared again in this stage with another default: Dockerfile's uses before
                // this line see the first one, decant has one value per stage.
                (false, Some(v)) if v != d => {
                    let first = self.args[top].loc;
                    self.conflicting_defaults(ins, &name, &d, &v, first.line);
                }
                (false, Some(_)) => {}
                (false, None) if top_default.as_ref() == Some(&d) => {}
                (false, None) => {
                    // `ARG X` then, later in the stage, `ARG X=v`: Dockerfile's uses in between
                    // see the build's value, decant's stage value holds from the stage's start.
                    if declared_in_stage {
                        self.redeclared_with_default(ins, &name, &d, top_default.as_deref());
                    }
                    self.stage().args.push((name, d))
                }
            }
        }
        // The comments stay with the stage unless they went up with an arg it declared first.
        if !global && !attached && !comments.is_empty() {
            self.stage().pending.extend(comments);
        }
    }

    /// An arg whose default only stages gave, all the same one and every stage that declares
    /// it giving it: that default is the build's (the spec reads as the Dockerfile does), and no
    /// stage needs its own value.
    pub(super) fn hoist_stage_defaults(&mut self) {
        for a in self.args.iter_mut().filter(|a| a.default.is_none()) {
            let declaring: Vec<&StageOut> = self.stages.iter().filter(|st| st.scope_args.contains(&a.name)).collect();
            let values: Vec<Option<&String>> =
                declaring.iter().map(|st| st.args.iter().find(|(n, _)| *n == a.name).map(|(_, v)| v)).collect();
            let Some(Some(first)) = values.first() else { continue };
            if values.iter().all(|v| *v == Some(*first)) {
                a.default = Some((*first).clone());
                for st in self.stages.iter_mut() {
                    st.args.retain(|(n, _)| *n != a.name);
                }
            }
        }
    }

    fn conflicting_defaults(&mut self, ins: &Instruction, name: &str, d: &str, old: &str, first_line: usize) {
        self.note(
            ins.loc,
            NoteKind::Differs,
            format!(
                "ARG {name} has the default {d:?} here and {old:?} at line {first_line}: decant args have one \
                 default for the whole build and one value per stage (the first is kept)"
            ),
        );
    }

    fn redeclared_with_default(&mut self, ins: &Instruction, name: &str, d: &str, build: Option<&str>) {
        let before = match build {
            Some(v) => format!("the build's default {v:?}"),
            None => "no value".to_string(),
        };
        self.note(
            ins.loc,
            NoteKind::Differs,
            format!(
                "ARG {name} was declared earlier in this stage and gets the default {d:?} here: Dockerfile's \
                 uses in between see {before}, decant's stage value {d:?} holds from the stage's start"
            ),
        );
    }

    /// The environment an instruction of the current stage sees, as far as the Dockerfile says
    /// it: the last value of each name its `ENV`s and those of the stages it is built on set,
    /// and whether that chain starts from `scratch` (so that nothing else is set).
    fn env_chain(&self) -> (Vec<(String, String)>, bool) {
        let mut env: Vec<(String, String)> = Vec::new();
        let mut at = self.stages.last();
        for _ in 0..self.stages.len() {
            let Some(st) = at else { break };
            for (k, v) in &st.env_values {
                if env.iter().all(|(n, _)| n != k) {
                    env.push((k.clone(), v.clone()));
                }
            }
            if st.from == "scratch" {
                return (env, true);
            }
            at = self.stages.iter().find(|s| s.name == st.from);
        }
        (env, false)
    }

    pub(super) fn set_shadow(&mut self, name: &str, shadow: Shadow) {
        let st = self.stage();
        match st.shadow.iter_mut().find(|(n, _)| n == name) {
            Some((_, s)) => *s = shadow,
            None => st.shadow.push((name.to_string(), shadow)),
        }
    }
}
