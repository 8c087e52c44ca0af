//! YAML text -> [`Spec`], collecting every shape error with its span.
//!
//! The YAML loader (`load.rs`) gives a node tree with positions (`tree.rs`); this walks it by hand
//! rather than through serde, so that one pass reports *all* unknown keys and wrong types, each
//! with a did-you-mean, instead of stopping at the first.

use std::fmt;
use std::sync::Arc;

use marked_yaml::LoadError;

use super::tree::{Mapping as MarkedMappingNode, Mark, Node, Scalar as MarkedScalarNode, Sequence};
use super::*;
use crate::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::limits;

// The keys accepted at each place come from the one description of the shape (`schema.rs`),
// which the JSON schema is derived from too.
use super::schema as shape;
const TOP_KEYS: &[&str] = shape::Spec::KEYS;
const ARG_KEYS: &[&str] = shape::ArgDetail::KEYS;
const STAGE_KEYS: &[&str] = shape::Stage::KEYS;
const HEALTHCHECK_KEYS: &[&str] = shape::Healthcheck::KEYS;
const STEP_KINDS: &[&str] = shape::Step::KINDS;
const MOUNT_KINDS: &[&str] = shape::Mount::KINDS;

/// What a value is, in the messages about it: text or `format_args!`, formatted only when a
/// message is (not on the way to a spec).
trait What: fmt::Display + std::marker::Copy {}
impl<T: fmt::Display + std::marker::Copy> What for T {}

/// Parses `text` (the contents of the file called `name`) into a [`Spec`].
pub fn parse_spec(name: &str, text: &str) -> Result<Spec, Diagnostics> {
    match parse_spec_partial(name, text) {
        (Some(spec), d) if d.items.is_empty() => Ok(spec),
        (_, d) => Err(d),
    }
}

/// Like [`parse_spec`], but keeps what could be read next to the errors, so that later phases
/// can report their own errors too (`None` when the YAML itself is broken).
pub fn parse_spec_partial(name: &str, text: &str) -> (Option<Spec>, Diagnostics) {
    // A byte order mark is not part of the text (BuildKit drops it too).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(too_long) = limits::check_size(name, text) {
        return (None, too_long);
    }
    let file = SourceFile::new(name, text);
    let mut d = Decoder { file: file.clone(), diags: Vec::new() };
    let syntax = d.syntax_line();
    if let Some(at) = super::text::first_nul(text) {
        let diag = Diagnostic::error(Span { start: at, end: at + 1 }, "a spec cannot contain a NUL character")
            .label("NUL character");
        return (None, Diagnostics::new(file, vec![diag]));
    }
    let (root, nul) = match super::load::load(&file) {
        super::load::Loaded::Tree(root, uses, nul) => {
            let file = file.with_aliases(uses);
            d.file = file;
            (root, nul)
        }
        super::load::Loaded::Yaml(e) => {
            let diag = d.load_error(e);
            return (None, Diagnostics::new(file, vec![diag]));
        }
        super::load::Loaded::Located(diag, uses) => {
            return (None, Diagnostics::new(file.with_aliases(uses), vec![diag]))
        }
        super::load::Loaded::TooDeep(line, column) => {
            let start = file.offset(line, column);
            let end = start + file.text[start..].chars().next().map_or(0, char::len_utf8);
            let diag = Diagnostic::error(
                Span { start, end },
                format!("the spec nests lists and mappings more than {} deep", super::depth::MAX_NESTING),
            )
            .label("too deep");
            return (None, Diagnostics::new(file, vec![diag]));
        }
    };
    let file = d.file.clone();
    let over = limits::check_tree(&file, &root);
    if !over.is_empty() {
        return (None, Diagnostics::new(file, over));
    }
    if nul {
        d.refuse_nul(&root);
    }
    let spec = d.spec(root, syntax);
    (Some(spec), Diagnostics::new(file, d.diags))
}

/// A mapping read key by key, against the keys its place is described with (`schema.rs`).
/// In debug builds (the tests), [`Fields::done`] checks that the decoder asked for every
/// described key: a key added to the description cannot be accepted and then silently ignored.
struct Fields<'m> {
    map: std::cell::RefCell<&'m mut MarkedMappingNode>,
    #[cfg(debug_assertions)]
    described: &'static [&'static str],
    #[cfg(debug_assertions)]
    asked: std::cell::RefCell<Vec<String>>,
}

impl<'m> Fields<'m> {
    /// `described`: the place's keys; `read` the ones its caller reads without [`Fields::get`]
    /// (the step kind's own key).
    #[cfg_attr(not(debug_assertions), allow(unused_variables))]
    fn new(map: &'m mut MarkedMappingNode, described: &'static [&'static str], read: &[&str]) -> Self {
        Fields {
            map: std::cell::RefCell::new(map),
            #[cfg(debug_assertions)]
            described,
            #[cfg(debug_assertions)]
            asked: std::cell::RefCell::new(read.iter().map(|k| k.to_string()).collect()),
        }
    }

    /// The value of `key`, moved out of the mapping (each key is asked for once).
    fn get(&self, key: &str) -> Option<Node> {
        #[cfg(debug_assertions)]
        {
            let mut asked = self.asked.borrow_mut();
            debug_assert!(!asked.iter().any(|a| a == key), "`{key}` asked for twice");
            asked.push(key.to_string());
        }
        self.map.borrow_mut().entries.iter_mut().find(|(k, _)| k.value == key).map(|(_, v)| v.take())
    }

    fn contains_key(&self, key: &str) -> bool {
        self.map.borrow().contains_key(key)
    }

    /// The place is read (not on early returns after an error).
    fn done(self) {
        #[cfg(debug_assertions)]
        {
            let asked = self.asked.borrow();
            let unread = self.described.iter().find(|k| !asked.iter().any(|a| a == *k));
            let key = unread.copied().unwrap_or_default();
            debug_assert!(unread.is_none(), "`{key}` is described (schema.rs) but the decoder never reads it");
        }
    }
}

struct Decoder {
    file: Arc<SourceFile>,
    diags: Vec<Diagnostic>,
}

impl Decoder {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, message));
    }

    fn syntax_line(&self) -> Option<Sp<String>> {
        super::directives::directive(&self.file.text, "syntax")
    }

    fn load_error(&self, e: LoadError) -> Diagnostic {
        let (marker, message) = match &e {
            LoadError::TopLevelMustBeMapping(m) => {
                (*m, "the top level of a spec must be a mapping (args:, stages:)".to_string())
            }
            LoadError::TopLevelMustBeSequence(m) => (*m, "the top level must be a sequence".to_string()),
            LoadError::UnexpectedAnchor(m) => (*m, "unexpected YAML anchor".to_string()),
            LoadError::MappingKeyMustBeScalar(m) => (*m, "mapping keys must be plain strings".to_string()),
            LoadError::UnexpectedTag(m) => (*m, "YAML tags (`!name`) are not supported".to_string()),
            LoadError::ScanError(m, err) => (*m, format!("invalid YAML: {}", err.info())),
            LoadError::DuplicateKey(inner) => {
                let key = &inner.key;
                let first = inner
                    .prev_key
                    .span()
                    .start()
                    .map(|p| format!(" (first defined on line {})", p.line()))
                    .unwrap_or_default();
                let start = key.span().start().map(|m| (m.line(), self.file.offset(m.line(), m.column())));
                let span = start.map_or_else(Span::default, |(l, start)| self.scalar_span_at(l, start, key.as_str()));
                return Diagnostic::error(span, format!("duplicate key `{}`{first}", key.as_str()));
            }
        };
        let start = self.file.offset(marker.line(), marker.column());
        let end = start + self.file.text[start..].chars().next().map_or(0, char::len_utf8);
        Diagnostic::error(Span { start, end }, message)
    }

    fn scalar_span(&self, s: &MarkedScalarNode) -> Span {
        self.scalar_span_at(s.start.line(), s.start.offset(), s.as_str())
    }

    /// The span of a scalar that starts at byte `start` of line `line` and has the value `value`.
    fn scalar_span_at(&self, line: usize, start: usize, value: &str) -> Span {
        let line = self.file.rest_of_line_on(line, start);
        let len = match line.chars().next() {
            Some(q @ ('"' | '\'')) => quoted_len(line, q),
            Some('|' | '>') => line.trim_end().len(),
            _ if line.starts_with(value) => value.len(),
            _ => line.trim_end().len(),
        };
        Span { start, end: start + len }
    }

    fn node_span(&self, node: &Node) -> Span {
        match node {
            Node::Scalar(s) => self.scalar_span(s),
            _ => {
                let start = node.start().map(Mark::offset).unwrap_or_default();
                let end = node.end().map(Mark::offset).unwrap_or(start);
                // Block collections end where the next thing starts: trim back to real text.
                let end = start + self.file.text[start..end.max(start)].trim_end().len();
                Span { start, end: end.max(start) }
            }
        }
    }

    fn key_span(&self, key: &MarkedScalarNode) -> Span {
        self.scalar_span(key)
    }

    /// The span from a mapping entry's key to the end of its value.
    fn entry_span(&self, key: &MarkedScalarNode, value: &Node) -> Span {
        let k = self.key_span(key);
        let v = self.node_span(value);
        Span { start: k.start, end: v.end.max(k.end) }
    }

    fn type_name(node: &Node) -> &'static str {
        match node {
            Node::Scalar(_) => "a string",
            Node::Mapping(_) => "a mapping",
            Node::Sequence(_) => "a list",
        }
    }

    fn expect_mapping(&mut self, node: Node, what: impl What) -> Option<MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            Node::Scalar(s) if is_null(&s) => None,
            other => {
                let span = self.node_span(&other);
                self.error(span, format!("{what} must be a mapping, found {}", Self::type_name(&other)));
                None
            }
        }
    }

    /// A scalar's value, moved out of the tree.
    fn string(&mut self, node: Node, what: impl What) -> Option<Sp<String>> {
        match node {
            Node::Scalar(s) => {
                let span = self.scalar_span(&s);
                Some(Sp::new(s.value, span))
            }
            other => {
                let span = self.node_span(&other);
                self.error(span, format!("{what} must be a string, found {}", Self::type_name(&other)));
                None
            }
        }
    }

    fn boolean(&mut self, node: Node, what: impl What) -> Option<Sp<bool>> {
        let s = self.string(node, what)?;
        match s.value.as_str() {
            "true" | "True" | "TRUE" | "yes" => Some(Sp::new(true, s.span)),
            "false" | "False" | "FALSE" | "no" => Some(Sp::new(false, s.span)),
            _ => {
                self.error(s.span, format!("{what} must be true or false, found `{}`", s.value));
                None
            }
        }
    }

    /// A string or a list of strings.
    fn strings(&mut self, node: Node, what: impl What) -> Vec<Sp<String>> {
        match node {
            Node::Sequence(Sequence { items, .. }) => items.into_iter().filter_map(|n| self.string(n, what)).collect(),
            Node::Scalar(s) if is_null(&s) => Vec::new(),
            other => self.string(other, what).into_iter().collect(),
        }
    }

    /// A list of strings (a single string is not accepted where order or arity matters).
    fn string_list(&mut self, node: Node, what: impl What) -> Option<Vec<Sp<String>>> {
        match node {
            Node::Sequence(Sequence { items, .. }) => {
                Some(items.into_iter().filter_map(|n| self.string(n, what)).collect())
            }
            other => {
                let span = self.node_span(&other);
                self.error(span, format!("{what} must be a list of strings, found {}", Self::type_name(&other)));
                None
            }
        }
    }

    fn key_values(&mut self, node: Node, what: impl What) -> Vec<KeyValue> {
        let Some(map) = self.expect_mapping(node, what) else { return Vec::new() };
        map.entries
            .into_iter()
            .filter_map(|(k, v)| {
                let span = self.key_span(&k);
                let key = Sp::new(k.value, span);
                let value = match v {
                    Node::Scalar(s) if is_null(&s) => Sp::new(String::new(), self.scalar_span(&s)),
                    _ => self.string(v, format_args!("the value of `{}` in {what}", key.value))?,
                };
                Some(KeyValue { key, value })
            })
            .collect()
    }

    fn command(&mut self, node: Node, what: impl What) -> Option<Command> {
        let span = self.node_span(&node);
        match node {
            Node::Scalar(s) => Some(Command::Shell(Sp::new(s.value, span))),
            Node::Sequence(Sequence { items, .. }) => {
                let args = items.into_iter().filter_map(|n| self.string(n, what)).collect();
                Some(Command::Exec(args, span))
            }
            Node::Mapping(_) => {
                self.error(
                    span,
                    format!("{what} must be a string (shell form) or a list (exec form), found a mapping"),
                );
                None
            }
        }
    }

    /// Reports keys of `map` not in `allowed` (keys starting with `x-` are extensions).
    /// Reports the keys of `map` its place (`what`) does not describe, and reads it through
    /// [`Fields`] (`read`: the keys the caller reads itself).
    fn fields<'m>(
        &mut self,
        map: &'m mut MarkedMappingNode,
        described: &'static [&'static str],
        what: &str,
        read: &[&str],
    ) -> Fields<'m> {
        self.check_keys(map, described, what);
        Fields::new(map, described, read)
    }

    fn check_keys(&mut self, map: &MarkedMappingNode, allowed: &[&str], what: &str) {
        for key in map.keys() {
            let k = key.as_str();
            if allowed.contains(&k) || k.starts_with("x-") {
                continue;
            }
            let span = self.key_span(key);
            let diag = Diagnostic::error(span, format!("unknown key `{k}` in {what}")).label("unknown key");
            let diag = match synonym(k, allowed) {
                Some(near) => diag.help(format!("did you mean `{near}`?")),
                None => diag.suggest(k, allowed.iter().copied()),
            };
            self.diags.push(diag);
        }
    }

    /// Reports keys and values with a NUL character. Extensions (`x-` keys) are not looked
    /// into. The depth is bounded already.
    fn refuse_nul(&mut self, node: &Node) {
        let nul = |d: &mut Self, s: &MarkedScalarNode| {
            // The span only for a value with a NUL (a span costs a look at the line).
            if s.as_str().contains('\0') {
                d.diags.extend(super::nul_in_value(&d.file, d.scalar_span(s), s.as_str()));
            }
        };
        match node {
            Node::Scalar(s) => nul(self, s),
            Node::Sequence(Sequence { items, .. }) => items.iter().for_each(|n| self.refuse_nul(n)),
            Node::Mapping(m) => {
                for (k, v) in m.iter().filter(|(k, _)| !k.as_str().starts_with("x-")) {
                    nul(self, k);
                    self.refuse_nul(v);
                }
            }
        }
    }

    fn spec(&mut self, root: Node, syntax: Option<Sp<String>>) -> Spec {
        let mut spec = Spec { file: self.file.clone(), syntax, args: Vec::new(), stages: Vec::new() };
        let null = matches!(&root, Node::Scalar(s) if is_null(s));
        // Where `stages:` would go: at the first key of the spec (`args:`, say), beside it; in
        // `{}`, or a file of comments, at `{}`, or else the start of the file.
        let no_stages_at = match &root {
            Node::Mapping(top) => match top.keys().next() {
                Some(k) => self.key_span(k),
                None => Some(self.node_span(&root)).filter(|s| s.end > s.start).unwrap_or_default(),
            },
            _ => Span::default(),
        };
        let Some(mut top) = self.expect_mapping(root, "the spec") else {
            if null {
                // Nothing but comments: still say what is missing, on the first line.
                self.no_stages(Span::default());
            }
            return spec;
        };
        let fields = self.fields(&mut top, TOP_KEYS, "the spec", &[]);
        if let Some(args) = fields.get("args") {
            spec.args = self.args(args);
        }
        match fields.get("stages") {
            Some(stages) => {
                let span = self.node_span(&stages);
                if let Some(map) = self.expect_mapping(stages, "`stages`") {
                    spec.stages.reserve_exact(map.len());
                    for (name, body) in map.entries {
                        spec.stages.push(self.stage(name, body));
                    }
                }
                if spec.stages.is_empty() {
                    self.error(span, "`stages` is empty: a spec needs at least one stage");
                }
            }
            None => self.no_stages(no_stages_at),
        }
        fields.done();
        spec
    }

    fn no_stages(&mut self, span: Span) {
        let diag = Diagnostic::error(span, "the spec has no `stages`")
            .help("add `stages:` with at least one stage, e.g. `stages: { app: { from: alpine:3.20 } }`");
        self.diags.push(diag);
    }

    fn args(&mut self, node: Node) -> Vec<ArgDecl> {
        let Some(map) = self.expect_mapping(node, "`args`") else { return Vec::new() };
        let mut out = Vec::with_capacity(map.len());
        for (k, v) in map.entries {
            let span = self.key_span(&k);
            let name = Sp::new(k.value, span);
            let (default, description, env) = match v {
                Node::Scalar(s) if is_null(&s) => (None, None, None),
                Node::Scalar(s) => {
                    let span = self.scalar_span(&s);
                    (Some(Sp::new(s.value, span)), None, None)
                }
                Node::Mapping(mut m) => {
                    let f = self.fields(&mut m, ARG_KEYS, &format!("arg `{}`", name.value), &[]);
                    let default = f.get("default").and_then(|n| self.string(n, "an arg default"));
                    let description = f.get("description").and_then(|n| self.string(n, "a description"));
                    let env = f.get("env").and_then(|n| self.boolean(n, "an arg's `env`"));
                    f.done();
                    (default, description, env)
                }
                v @ Node::Sequence(_) => {
                    let span = self.node_span(&v);
                    self.error(
                        span,
                        format!("arg `{}` must be a default value or a mapping with `default`", name.value),
                    );
                    (None, None, None)
                }
            };
            out.push(ArgDecl { name, default, description, env });
        }
        out
    }

    fn stage(&mut self, name: MarkedScalarNode, body: Node) -> Stage {
        let span = self.key_span(&name);
        let name = Sp::new(name.value, span);
        let mut stage = Stage {
            name,
            from: None,
            platform: None,
            description: None,
            args: Vec::new(),
            workdir: None,
            env: Vec::new(),
            user: None,
            shell: None,
            steps: Vec::new(),
            cmd: None,
            entrypoint: None,
            expose: Vec::new(),
            healthcheck: None,
            labels: Vec::new(),
            volumes: Vec::new(),
            stop_signal: None,
            onbuild: Vec::new(),
        };
        let what = format!("stage `{}`", stage.name.value);
        let Some(mut map) = self.expect_mapping(body, &what) else {
            let span = stage.name.span;
            self.error(span, format!("{what} is empty: it needs at least `from:`"));
            return stage;
        };
        self.check_keys(&map, STAGE_KEYS, &what);
        for (key, value) in map.entries.iter_mut() {
            let value = value.take();
            match key.as_str() {
                "from" => stage.from = self.string(value, "`from`"),
                "platform" => stage.platform = self.string(value, "`platform`"),
                "description" => stage.description = self.string(value, "`description`"),
                "args" => stage.args = self.key_values(value, "a stage's `args`"),
                "workdir" => stage.workdir = self.string(value, "`workdir`"),
                "env" => stage.env = self.key_values(value, "`env`"),
                "user" => stage.user = self.string(value, "`user`"),
                "shell" => stage.shell = self.string_list(value, "`shell`"),
                "steps" => stage.steps = self.steps(value),
                "cmd" => stage.cmd = self.command(value, "`cmd`"),
                "entrypoint" => stage.entrypoint = self.command(value, "`entrypoint`"),
                "expose" => stage.expose = self.strings(value, "a port in `expose`"),
                "healthcheck" => stage.healthcheck = self.healthcheck(key, value),
                "labels" => stage.labels = self.key_values(value, "`labels`"),
                "volumes" => stage.volumes = self.strings(value, "a path in `volumes`"),
                "stop_signal" => stage.stop_signal = self.string(value, "`stop_signal`"),
                "onbuild" => stage.onbuild = self.strings(value, "a trigger in `onbuild`"),
                // Unknown keys were reported above; a described key must have its arm here.
                k => debug_assert!(!STAGE_KEYS.contains(&k), "stage key `{k}` is described but not decoded"),
            }
        }
        // A typo of `from` was reported as an unknown key with a suggestion already (an `x-`
        // extension key is no typo: it is not reported).
        let typo = || {
            map.keys().any(|k| {
                !STAGE_KEYS.contains(&k.as_str())
                    && !k.as_str().starts_with("x-")
                    && crate::diag::did_you_mean(k.as_str(), STAGE_KEYS.iter().copied()) == Some("from")
            })
        };
        if stage.from.is_none() && !map.contains_key("from") && !typo() {
            let span = stage.name.span;
            let diag = Diagnostic::error(span, format!("{what} has no `from`"))
                .help("set `from:` to an image (e.g. `alpine:3.20`), `scratch`, or another stage's name");
            self.diags.push(diag);
        }
        stage
    }

    fn healthcheck(&mut self, key: &MarkedScalarNode, node: Node) -> Option<Healthcheck> {
        let span = self.entry_span(key, &node);
        let mut map = self.expect_mapping(node, "`healthcheck`")?;
        let f = self.fields(&mut map, HEALTHCHECK_KEYS, "`healthcheck`", &[]);
        let cmd = match f.get("cmd") {
            Some(n) => self.command(n, "`healthcheck.cmd`"),
            None => {
                self.error(
                    self.key_span(key),
                    "`healthcheck` needs `cmd` (or `cmd: none` to disable the base image's check)",
                );
                None
            }
        };
        let get = |d: &mut Self, k: &str| f.get(k).and_then(|n| d.string(n, format_args!("`healthcheck.{k}`")));
        let healthcheck = Healthcheck {
            span,
            cmd,
            interval: get(self, "interval"),
            timeout: get(self, "timeout"),
            start_period: get(self, "start_period"),
            start_interval: get(self, "start_interval"),
            retries: get(self, "retries"),
        };
        f.done();
        Some(healthcheck)
    }

    fn steps(&mut self, node: Node) -> Vec<Step> {
        let items = match node {
            Node::Sequence(Sequence { items, .. }) => items,
            Node::Scalar(s) if is_null(&s) => return Vec::new(),
            other => {
                let span = self.node_span(&other);
                self.error(span, format!("`steps` must be a list, found {}", Self::type_name(&other)));
                return Vec::new();
            }
        };
        // At its final size, as `filter_map` would not.
        let mut steps = Vec::with_capacity(items.len());
        steps.extend(items.into_iter().filter_map(|item| self.step(item)));
        steps
    }

    fn step(&mut self, node: Node) -> Option<Step> {
        let span = self.node_span(&node);
        let mut map = match node {
            Node::Mapping(map) => map,
            other => {
                let diag = Diagnostic::error(
                    span,
                    format!(
                        "a step must be a mapping like `run: ...` or `copy: ...`, found {}",
                        Self::type_name(&other)
                    ),
                );
                self.diags.push(diag);
                return None;
            }
        };
        // `run` and `copy` take options named like the other kinds (`env`, `workdir`, `user`):
        // when one of them is present, it is the kind.
        let primary = first_two(map.keys().filter(|k| matches!(k.as_str(), "run" | "copy" | "file")));
        let kinds = match primary {
            (None, _) => first_two(map.keys().filter(|k| STEP_KINDS.contains(&k.as_str()))),
            some => some,
        };
        let key = match kinds {
            (Some(one), None) => one,
            (None, _) => {
                // No kind key: every key is unknown; suggest the nearest kind for each.
                self.check_keys(&map, STEP_KINDS, "a step");
                if map.keys().all(|k| k.as_str().starts_with("x-")) {
                    self.error(span, format!("a step needs one of {}", ticked(STEP_KINDS)));
                }
                return None;
            }
            (Some(first), Some(second)) => {
                let s = self.key_span(second);
                let diag = Diagnostic::error(
                    s,
                    format!("a step has one kind; this one has both `{}` and `{}`", first.as_str(), second.as_str()),
                )
                .help("split them into two steps");
                self.diags.push(diag);
                return None;
            }
        };
        let key_span = self.key_span(key);
        let kind_key = STEP_KINDS.iter().copied().find(|k| *k == key.as_str())?;
        // The kind's value, moved out (keys are unique: the first entry with the key is it).
        let value = map.entries.iter_mut().find(|(k, _)| k.as_str() == kind_key).map(|(_, v)| v.take())?;
        let kind = match kind_key {
            "run" => {
                let f = self.fields(&mut map, shape::RunStep::KEYS, "a `run` step", &["run"]);
                let command = self.command(value, "`run`")?;
                let get = |d: &mut Self, k: &str| f.get(k).and_then(|n| d.string(n, format_args!("`{k}`")));
                let run = Run {
                    command,
                    env: f.get("env").map(|n| self.key_values(n, "`env`")).unwrap_or_default(),
                    workdir: get(self, "workdir"),
                    user: get(self, "user"),
                    network: get(self, "network"),
                    security: get(self, "security"),
                    mounts: f.get("mounts").map(|n| self.mounts(n)).unwrap_or_default(),
                };
                f.done();
                StepKind::Run(run)
            }
            "copy" => {
                let f = self.fields(&mut map, shape::CopyStep::KEYS, "a `copy` step", &["copy"]);
                if let Node::Mapping(inner) = &value {
                    self.copy_mapping(key_span, inner);
                    return None;
                }
                let sources_list = matches!(value, Node::Sequence(_));
                let sources = self.strings(value, "a `copy` source");
                if sources.is_empty() {
                    self.error(key_span, "`copy` needs at least one source");
                }
                let get = |d: &mut Self, k: &str| f.get(k).and_then(|n| d.string(n, format_args!("`{k}`")));
                let copy = Copy {
                    sources,
                    sources_list,
                    from: get(self, "from"),
                    to: get(self, "to"),
                    chown: get(self, "chown"),
                    chmod: get(self, "chmod"),
                    exclude: f.get("exclude").map(|n| self.strings(n, "an `exclude` pattern")).unwrap_or_default(),
                    follow_symlinks: f.get("follow_symlinks").and_then(|n| self.boolean(n, "`follow_symlinks`")),
                    link: f.get("link").and_then(|n| self.boolean(n, "`link`")),
                    parents: f.get("parents").and_then(|n| self.boolean(n, "`parents`")),
                    unpack: f.get("unpack").and_then(|n| self.boolean(n, "`unpack`")),
                    checksum: get(self, "checksum"),
                    keep_git_dir: f.get("keep_git_dir").and_then(|n| self.boolean(n, "`keep_git_dir`")),
                };
                f.done();
                StepKind::Copy(copy)
            }
            "file" => {
                let f = self.fields(&mut map, shape::FileStep::KEYS, "a `file` step", &["file"]);
                let get = |d: &mut Self, k: &str| f.get(k).and_then(|n| d.string(n, format_args!("`{k}`")));
                let content = get(self, "content");
                if content.is_none() && !f.contains_key("content") {
                    self.error(key_span, "a `file` step needs `content:` (use `content: \"\"` for an empty file)");
                }
                let expand = f.get("expand").and_then(|n| self.boolean(n.clone(), "`expand`"));
                let file = File {
                    path: self.string(value, "`file`")?,
                    content,
                    chmod: get(self, "chmod"),
                    chown: get(self, "chown"),
                    expand,
                };
                f.done();
                StepKind::File(file)
            }
            other => {
                self.check_keys(&map, &[other], &format!("a `{other}` step"));
                match other {
                    "env" => StepKind::Env(self.key_values(value, "`env`")),
                    "workdir" => StepKind::Workdir(self.string(value, "`workdir`")?),
                    _ => StepKind::User(self.string(value, "`user`")?),
                }
            }
        };
        Some(Step { span, key_span, kind })
    }

    /// `copy: { from: ..., src: [...], to: ... }`: one error that shows the step's shape.
    fn copy_mapping(&mut self, key_span: Span, inner: &MarkedMappingNode) {
        let scalar = |n: &Node| match n {
            Node::Scalar(s) => Some(s.as_str().to_string()),
            Node::Sequence(Sequence { items, .. }) => {
                let v: Vec<String> =
                    items.iter().filter_map(|i| i.as_scalar().map(|s| s.as_str().to_string())).collect();
                Some(format!("[{}]", v.join(", ")))
            }
            Node::Mapping(_) => None,
        };
        let mut sources = None;
        let mut options = Vec::new();
        for (k, v) in inner.iter() {
            let name = k.as_str();
            let as_key = synonym(name, shape::CopyStep::KEYS).unwrap_or(name);
            match (as_key, scalar(v)) {
                ("copy", Some(v)) => sources = Some(v),
                (key, Some(v)) => options.push(format!("`{key}: {v}`")),
                (key, None) => options.push(format!("`{key}: ...`")),
            }
        }
        let mut help = format!("write `- copy: {}`", sources.as_deref().unwrap_or("<sources>"));
        if !options.is_empty() {
            help.push_str(&format!(" with {} beside it, at the same indent as `copy`", options.join(", ")));
        }
        let d = Diagnostic::error(key_span, "`copy` takes the sources; its options are keys of the step, beside it")
            .label("found a mapping")
            .help(help);
        self.diags.push(d);
    }

    /// A mount written `type: cache` + `target: /x` (as Compose and `--mount` do): one error
    /// that shows decant's shape.
    fn mount_with_type(&mut self, span: Span, map: &MarkedMappingNode) {
        let text = |k: &str| map.get_node(k).and_then(|n| n.as_scalar()).map(|s| s.as_str().to_string());
        let kind = text("type").unwrap_or_default();
        let target_keys = ["target", "destination", "dst", "dest"];
        let target = target_keys.iter().find_map(|k| text(k));
        let mut shape = if !MOUNT_KINDS.contains(&kind.as_str()) {
            format!("one of {} with its target", ticked(MOUNT_KINDS))
        } else if matches!(kind.as_str(), "secret" | "ssh") {
            let id = text("id").unwrap_or_else(|| if kind == "ssh" { "default".into() } else { "<id>".into() });
            match &target {
                Some(t) => format!("`- {kind}: {id}` with `target: {t}`"),
                None => format!("`- {kind}: {id}`"),
            }
        } else {
            format!("`- {kind}: {}`", target.as_deref().unwrap_or("<target>"))
        };
        let rest: Vec<String> = map
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                *k != "type" && !target_keys.contains(k) && !(matches!(kind.as_str(), "secret" | "ssh") && *k == "id")
            })
            .map(|k| format!("`{k}`"))
            .collect();
        if !rest.is_empty() {
            shape.push_str(&format!(", and {} beside it", rest.join(", ")));
        }
        let d = Diagnostic::error(span, "a mount is written with its kind as the key, not with `type:`")
            .help(format!("write {shape}"));
        self.diags.push(d);
    }

    fn mounts(&mut self, node: Node) -> Vec<Mount> {
        let items = match node {
            Node::Sequence(Sequence { items, .. }) => items,
            other => {
                let span = self.node_span(&other);
                self.error(span, format!("`mounts` must be a list, found {}", Self::type_name(&other)));
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let span = self.node_span(&item);
            let Some(mut map) = self.expect_mapping(item, "a mount") else { continue };
            let kinds = first_two(map.keys().filter_map(|k| MOUNT_KINDS.iter().copied().find(|m| *m == k.as_str())));
            if kinds.0.is_none() && map.contains_key("type") {
                self.mount_with_type(span, &map);
                continue;
            }
            let (Some(kind), None) = kinds else {
                let diag = Diagnostic::error(span, format!("a mount needs exactly one of {}", ticked(MOUNT_KINDS)));
                self.diags.push(diag);
                continue;
            };
            let value = map.entries.iter_mut().find(|(k, _)| k.as_str() == kind).map(|(_, v)| v.take());
            let Some(value) = value.and_then(|n| self.string(n, "a mount")) else { continue };
            if let Some(kind) = self.mount_options(map, kind, value) {
                out.push(Mount { span, kind });
            }
        }
        out
    }

    /// The options of a mount of the kind `kind`, by the kind's keys. An unknown option is
    /// reported (`x-` keys too: mounts have no extensions) and drops the mount; an option that
    /// is not a string is reported and left out.
    fn mount_options(&mut self, map: MarkedMappingNode, kind: &str, value: Sp<String>) -> Option<MountKind> {
        let at = MOUNT_KINDS.iter().position(|k| *k == kind)?;
        let allowed = &shape::Mount::KEYS_OF[at][1..];
        let mut options: [Option<Sp<String>>; super::MOUNT_OPTIONS_MAX] = Default::default();
        let mut ok = true;
        for (k, v) in map.entries.into_iter().filter(|(k, _)| k.as_str() != kind) {
            let Some(v) = self.string(v, format_args!("mount option `{}`", k.as_str())) else { continue };
            match allowed.iter().position(|a| *a == k.as_str()) {
                Some(i) => options[i] = Some(v),
                None => {
                    let d = Diagnostic::error(
                        self.key_span(&k),
                        format!("unknown option `{}` for a {kind} mount", k.as_str()),
                    )
                    .suggest(k.as_str(), allowed.iter().copied());
                    self.diags.push(d);
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        MountKind::from_options(kind, value, options)
    }
}

/// What users of Dockerfiles, Compose files and other tools write for a key (lower case).
const SYNONYMS: &[(&str, &str)] = &[
    ("dest", "to"),
    ("destination", "to"),
    ("dst", "to"),
    ("target", "to"),
    ("src", "copy"),
    ("source", "copy"),
    ("sources", "copy"),
    ("add", "copy"),
    ("command", "run"),
    ("cmd", "run"),
    ("working_dir", "workdir"),
    ("workingdir", "workdir"),
    ("cwd", "workdir"),
    ("environment", "env"),
    ("ports", "expose"),
    ("label", "labels"),
    ("volume", "volumes"),
    ("stopsignal", "stop_signal"),
    ("on_build", "onbuild"),
    ("triggers", "onbuild"),
    ("image", "from"),
    ("mount", "mounts"),
    ("arg", "args"),
];

/// The allowed key that `key` is another name for, if any.
fn synonym(key: &str, allowed: &[&str]) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    SYNONYMS.iter().find(|(k, v)| *k == lower && allowed.contains(v)).map(|(_, v)| *v)
}

/// The first two items of `items`, if there are so many.
fn first_two<T>(mut items: impl Iterator<Item = T>) -> (Option<T>, Option<T>) {
    let first = items.next();
    (first, items.next())
}

/// `a`, `b`, `c`: keys as a message lists them.
fn ticked(keys: &[&str]) -> String {
    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// An empty value (`key:`), `~` or `null`.
fn is_null(s: &MarkedScalarNode) -> bool {
    s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL")
}

/// The length in bytes of a quoted scalar at the start of `line`, quotes included.
fn quoted_len(line: &str, quote: char) -> usize {
    let mut chars = line.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().map(|&(_, c)| c) == Some('\'') {
                chars.next();
                continue;
            }
            return i + 1;
        }
    }
    line.trim_end().len()
}
