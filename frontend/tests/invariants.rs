//! Properties of the compiler that must hold for every spec, not just the goldens.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{definition, op_digests, plan, target};
use decant::llb::{self, pb};
use decant::plan::BuildOptions;
use decant::{compile, lower};
use prost::Message;

// ---------------------------------------------------------------------------------------------
// A spec built from parts, so tests can reorder keys and swap values.

/// `key: value` where value is YAML text; multi-line values are indented relative to the key.
type Entry = (&'static str, String);

fn render_map(entries: &[Entry], indent: usize, first_prefix: &str) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for (i, (k, v)) in entries.iter().enumerate() {
        let lead = if i == 0 { first_prefix.to_string() } else { pad.clone() };
        if v.contains('\n') {
            out.push_str(&format!("{lead}{k}:\n"));
            for line in v.lines() {
                out.push_str(&format!("{pad}  {line}\n"));
            }
        } else {
            out.push_str(&format!("{lead}{k}: {v}\n"));
        }
    }
    out
}

struct StageParts {
    name: &'static str,
    keys: Vec<Entry>,
    steps: Vec<Vec<Entry>>,
}

fn render(stages: &[StageParts], order: &dyn Fn(usize) -> Vec<usize>) -> String {
    let mut out = String::from("# syntax=decant/frontend:dev\nargs:\n  VERSION: \"1.0\"\nstages:\n");
    for s in stages {
        out.push_str(&format!("  {}:\n", s.name));
        let mut keys: Vec<Entry> = order(s.keys.len()).into_iter().map(|i| s.keys[i].clone()).collect();
        if !s.steps.is_empty() {
            let mut text = String::new();
            for step in &s.steps {
                let step: Vec<Entry> = order(step.len()).into_iter().map(|i| step[i].clone()).collect();
                text.push_str(&render_map(&step, 2, "- "));
            }
            keys.insert(keys.len() / 2, ("steps", text));
        }
        out.push_str(&render_map(&keys, 4, "    "));
    }
    out
}

fn e(k: &'static str, v: &str) -> Entry {
    (k, v.to_string())
}

/// A two-stage spec using most keys, with `runtime` config that tests may replace.
fn parts(runtime_config: Vec<Entry>, build_config: Vec<Entry>) -> Vec<StageParts> {
    let mut build_keys = vec![
        e("from", "rust:1.83-alpine"),
        e("workdir", "/src"),
        e("env", "CARGO_TERM_COLOR: never\nRUSTFLAGS: -Ctarget-feature=+crt-static"),
        e("shell", "[/bin/sh, -eu, -c]"),
        e("description", "compile"),
    ];
    build_keys.extend(build_config);
    let build_steps = vec![
        vec![e("copy", "[Cargo.toml, Cargo.lock]"), e("chown", "1000:1000"), e("chmod", "\"0644\""), e("to", "./")],
        vec![
            e("run", "cargo build --release && cp target/release/app /app"),
            e("network", "none"),
            e("security", "sandbox"),
            e(
                "mounts",
                "- cache: /usr/local/cargo/registry\n  sharing: locked\n  id: registry\n- tmpfs: /tmp\n  size: 64m",
            ),
        ],
        vec![e("copy", "src/"), e("to", "src/"), e("exclude", "[\"**/*.bak\"]"), e("follow_symlinks", "false")],
        vec![e("run", "[\"/app\", \"--version\"]"), e("mounts", "- secret: token\n  env: TOKEN\n  required: \"true\"")],
    ];
    let mut runtime_keys = vec![e("from", "alpine:3.20"), e("workdir", "/srv"), e("env", "MODE: prod\n")];
    runtime_keys.extend(runtime_config);
    let runtime_steps = vec![
        vec![e("run", "apk -U add curl")],
        vec![e("copy", "/app"), e("from", "build"), e("to", "/usr/local/bin/app"), e("chmod", "\"0755\"")],
        vec![e("user", "nobody")],
        vec![e("run", "app --check")],
    ];
    vec![
        StageParts { name: "build", keys: build_keys, steps: build_steps },
        StageParts { name: "runtime", keys: runtime_keys, steps: runtime_steps },
    ]
}

fn in_order(n: usize) -> Vec<usize> {
    (0..n).collect()
}

fn default_runtime_config() -> Vec<Entry> {
    vec![
        e("cmd", "[app, serve]"),
        e("expose", "[8080]"),
        e("labels", "org.opencontainers.image.version: ${VERSION}\n"),
        e("healthcheck", "cmd: curl -f http://localhost:8080/\ninterval: 10s"),
        e("stop_signal", "SIGTERM"),
        e("user", "\"1000\""),
    ]
}

fn base_spec() -> String {
    render(&parts(default_runtime_config(), vec![]), &in_order)
}

// ---------------------------------------------------------------------------------------------
// (a) key order

#[test]
fn reordering_keys_keeps_every_op_digest() {
    let base = base_spec();
    let reference = definition(&base, &BuildOptions::default());
    type Order = Box<dyn Fn(usize) -> Vec<usize>>;
    let orders: Vec<(&str, Order)> = vec![
        ("reversed", Box::new(|n| (0..n).rev().collect())),
        ("rotated by 1", Box::new(|n| (0..n).map(|i| (i + 1) % n).collect())),
        ("rotated by 2", Box::new(|n| (0..n).map(|i| (i + 2) % n).collect())),
        (
            "odd positions first",
            Box::new(|n| (0..n).filter(|i| i % 2 == 1).chain((0..n).filter(|i| i % 2 == 0)).collect()),
        ),
    ];
    for (what, order) in &orders {
        let text = render(&parts(default_runtime_config(), vec![]), order.as_ref());
        assert_ne!(text, base, "{what}: the reordering must change the text");
        let def = definition(&text, &BuildOptions::default());
        assert_eq!(op_digests(&def), op_digests(&reference), "{what}: op digests changed; spec:\n{text}");
        // The terminal op points at the same result.
        assert_eq!(def.def.last(), reference.def.last(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// (b) runtime config does not reach the build graph

#[test]
fn runtime_config_changes_no_op_digest() {
    let base = base_spec();
    let build_ref = definition(&base, &target("build"));
    let full_ref = definition(&base, &BuildOptions::default());
    let config_ref = config_json(&base);
    let variants: Vec<(&str, Vec<Entry>)> = vec![
        ("no runtime config at all", vec![]),
        ("other cmd", vec![e("cmd", "app --serve --port 9090")]),
        ("entrypoint", vec![e("entrypoint", "[/usr/local/bin/app]"), e("cmd", "[serve]")]),
        ("other expose", vec![e("expose", "[\"9090/udp\", 22]")]),
        ("other labels", vec![e("labels", "a: b\nc: d")]),
        ("healthcheck disabled", vec![e("healthcheck", "cmd: none\n")]),
        (
            "healthcheck exec form",
            vec![e("healthcheck", "cmd: [app, health]\ntimeout: 1s\nretries: \"5\"\nstart_period: 2s")],
        ),
        ("stop_signal", vec![e("stop_signal", "SIGQUIT")]),
        ("volumes", vec![e("volumes", "[/data, /cache]")]),
        ("stage-level user", vec![e("user", "app:app")]),
    ];
    for (what, runtime) in variants {
        // The same change on both stages: `build` is only copied from, never a base.
        let text = render(&parts(runtime.clone(), runtime), &in_order);
        assert_ne!(config_json(&text), config_ref, "{what}: the variant must change the image config");
        // The ops themselves, in order (the source map holds the spec text, so it differs).
        let build = definition(&text, &target("build"));
        assert!(
            build.def == build_ref.def,
            "{what}: the build stage's ops changed:\n{:#?}\nvs\n{:#?}",
            ordered_digests(&build),
            ordered_digests(&build_ref)
        );
        assert_eq!(
            op_digests(&definition(&text, &BuildOptions::default())),
            op_digests(&full_ref),
            "{what}: an op digest changed"
        );
    }
}

fn ordered_digests(def: &pb::Definition) -> Vec<String> {
    def.def.iter().map(|b| llb::digest_of(b)).collect()
}

fn config_json(text: &str) -> Vec<u8> {
    let p = plan(text, &BuildOptions::default());
    lower::lower(&p, &lower::Inputs::default()).unwrap().config.to_json()
}

// ---------------------------------------------------------------------------------------------
// (c) determinism of the bytes

#[test]
fn hundred_compiles_give_one_byte_string() {
    let mut specs: Vec<String> = common::examples().into_iter().map(|(_, _, t)| t).collect();
    specs.push(base_spec());
    specs.push(independent_spec());
    for text in specs {
        let first = llb::encode(&definition(&text, &BuildOptions::default()));
        assert!(!first.is_empty());
        for i in 1..100 {
            let again = llb::encode(&definition(&text, &BuildOptions::default()));
            assert!(again == first, "compile {i} differs from the first:\n{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (d), (e) stage independence and target pruning

fn independent_spec() -> String {
    r#"# syntax=decant/frontend:dev
stages:
  a:
    from: alpine:3.20
    workdir: /a
    steps:
      - copy: a.txt
      - run: sha256sum a.txt > a.sum
  b:
    from: debian:12-slim
    workdir: /b
    steps:
      - copy: b.txt
      - run: md5sum b.txt > b.sum
      - run: cp b.sum b.copy
  final:
    from: busybox:1.36
    steps:
      - copy: /a/a.sum
        from: a
        to: /out/
      - copy: /b/b.sum
        from: b
        to: /out/
"#
    .to_string()
}

/// The decoded graph: digest -> (progress name, input digests), without the terminal op.
fn graph(def: &pb::Definition) -> BTreeMap<String, (String, Vec<String>)> {
    let n = def.def.len() - 1;
    def.def[..n]
        .iter()
        .map(|bytes| {
            let digest = llb::digest_of(bytes);
            let op = pb::Op::decode(bytes.as_slice()).expect("op decodes");
            let name = def.metadata[&digest].description.get("llb.customname").cloned().unwrap_or_default();
            (digest, (name, op.inputs.into_iter().map(|i| i.digest).collect()))
        })
        .collect()
}

fn ancestors(g: &BTreeMap<String, (String, Vec<String>)>, of: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = g[of].1.clone();
    while let Some(d) = todo.pop() {
        assert!(g.contains_key(&d), "input {d} is not an op of the definition");
        if seen.insert(d.clone()) {
            todo.extend(g[&d].1.iter().cloned());
        }
    }
    seen
}

fn ops_of<'g>(g: &'g BTreeMap<String, (String, Vec<String>)>, stage: &str) -> Vec<&'g String> {
    let prefix = format!("[{stage} ");
    g.iter().filter(|(_, (name, _))| name.starts_with(&prefix)).map(|(d, _)| d).collect()
}

#[test]
fn independent_stages_stay_independent() {
    let def = definition(&independent_spec(), &BuildOptions::default());
    let g = graph(&def);
    let (a, b, fin) = (ops_of(&g, "a"), ops_of(&g, "b"), ops_of(&g, "final"));
    // from + workdir + copy + run; from + workdir + copy + run + run; from + copy + copy.
    assert_eq!((a.len(), b.len(), fin.len()), (4, 5, 3), "{g:#?}");
    for x in &a {
        for y in &b {
            assert!(!ancestors(&g, y).contains(*x), "{} (a) is an ancestor of {} (b)", g[*x].0, g[*y].0);
            assert!(!ancestors(&g, x).contains(*y), "{} (b) is an ancestor of {} (a)", g[*y].0, g[*x].0);
        }
    }
    // ... and `final` really reads both: the last op of the definition has every a and b op above it.
    let last = &def.def.last().map(|t| pb::Op::decode(t.as_slice()).unwrap().inputs[0].digest.clone()).unwrap();
    let above = ancestors(&g, last);
    assert!(a.iter().chain(&b).all(|d| above.contains(*d)), "final does not depend on all of a and b");
}

#[test]
fn target_emits_only_its_stages() {
    for (t, own) in [("a", 4), ("b", 5)] {
        let p = plan(&independent_spec(), &target(t));
        assert_eq!(p.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), [t]);
        let def = definition(&independent_spec(), &target(t));
        let g = graph(&def);
        // The build context's local source is shared; every other op is the target's.
        let foreign: Vec<&String> = g
            .values()
            .map(|(n, _)| n)
            .filter(|n| !n.starts_with(&format!("[{t} ")) && !n.starts_with("[internal]"))
            .collect();
        assert!(foreign.is_empty(), "--target {t} emits ops of other stages: {foreign:?}");
        assert_eq!(ops_of(&g, t).len(), own);
    }
    // A stage with deps pulls in exactly its deps.
    let def = definition(&base_spec(), &target("runtime"));
    let names: BTreeSet<String> = graph(&def).values().map(|(n, _)| n.split(' ').next().unwrap().to_string()).collect();
    assert_eq!(names, BTreeSet::from(["[build".to_string(), "[internal]".to_string(), "[runtime".to_string()]));
}

// ---------------------------------------------------------------------------------------------
// (f) plan JSON is a function of the input

#[test]
fn same_plan_twice_gives_same_json() {
    let mut specs: Vec<String> = common::examples().into_iter().map(|(_, _, t)| t).collect();
    specs.push(base_spec());
    for text in specs {
        let one = serde_json::to_string_pretty(&plan(&text, &BuildOptions::default())).unwrap();
        let two = serde_json::to_string_pretty(&plan(&text, &BuildOptions::default())).unwrap();
        assert_eq!(one, two);
        let all = BuildOptions { all_stages: true, ..Default::default() };
        assert_eq!(
            serde_json::to_string(&plan(&text, &all)).unwrap(),
            serde_json::to_string(&plan(&text, &all)).unwrap()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (g) no input makes the compiler panic

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Compiles `text` all the way; Ok or Err are both fine, a panic is not.
fn compiles_without_panic(text: &str) -> Result<(), String> {
    let run = || {
        if let Ok(p) = compile::plan("fuzz.yaml", text, &BuildOptions::default()) {
            if let Ok(l) = lower::lower(&p, &lower::Inputs::default()) {
                let def = l.definition();
                let _ = llb::encode(&def);
                let _ = llb::dump_json(&def);
                let _ = l.config.to_json();
            }
        } else if let Err(d) = compile::plan("fuzz.yaml", text, &BuildOptions::default()) {
            let _ = d.render();
        }
    };
    catch_unwind(AssertUnwindSafe(run)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

const INTERESTING: &[u8] = b":-[]{}$\"'#&*!|>\n\t ,?%@`\\0~";

/// Applies 1-3 random edits. With `ascii_only`, inserted bytes are ASCII, so the result is
/// always ASCII text; otherwise a quarter of them are arbitrary bytes (which `from_utf8_lossy`
/// turns into U+FFFD, a 3-byte character).
fn mutate(rng: &mut Rng, text: &str, ascii_only: bool) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len().max(1));
        let byte = if rng.below(4) == 0 {
            rng.below(if ascii_only { 128 } else { 256 }) as u8
        } else {
            INTERESTING[rng.below(INTERESTING.len())]
        };
        match rng.below(5) {
            0 => bytes.insert(at, byte),
            1 if !bytes.is_empty() => {
                bytes.remove(at);
            }
            2 => {
                // Duplicate a slice (a line, a key, ...).
                let len = rng.below(40).min(bytes.len() - at);
                let piece = bytes[at..at + len].to_vec();
                let to = rng.below(bytes.len());
                bytes.splice(to..to, piece);
            }
            3 => {
                // Swap indentation: insert or remove spaces at a line start.
                if let Some(nl) = bytes[at..].iter().position(|&b| b == b'\n') {
                    bytes.splice(at + nl + 1..at + nl + 1, b"  ".iter().copied());
                }
            }
            _ if at < bytes.len() => bytes[at] = byte,
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn fuzz_specs() -> Vec<String> {
    let mut specs: Vec<String> = common::examples().into_iter().map(|(_, _, t)| t).collect();
    specs.push(base_spec());
    specs.push(independent_spec());
    specs
}

/// Runs every input, collecting panics; returns (runs, failure reports).
fn run_all(inputs: impl Iterator<Item = (String, String)>) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut runs = 0;
    // The panic hook is left alone: it is process-wide, and other tests run in parallel (one
    // replacing it would swallow their panic messages). A panic here prints through it, then
    // the assertion lists every failing input.
    for (what, text) in inputs {
        runs += 1;
        if let Err(msg) = compiles_without_panic(&text) {
            failures.push(format!("{what}:\n{text}\npanicked: {msg}"));
        }
    }
    (runs, failures)
}

fn assert_no_panics(runs: usize, mut failures: Vec<String>) {
    let total = failures.len();
    failures.truncate(3);
    assert!(failures.is_empty(), "{total} of {runs} inputs panicked; the first ones:\n{}", failures.join("\n-----\n"));
}

#[test]
fn truncated_specs_never_panic() {
    let specs = fuzz_specs();
    let inputs = specs.iter().flat_map(|text| {
        text.char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .map(move |cut| (format!("prefix of {cut} bytes"), text[..cut].to_string()))
    });
    let (runs, failures) = run_all(inputs);
    assert!(runs > 3000, "{runs}");
    assert_no_panics(runs, failures);
}

#[test]
fn mutated_ascii_specs_never_panic() {
    let specs = fuzz_specs();
    let mut rng = Rng(0x5eed_decafbad);
    let inputs: Vec<(String, String)> =
        (0..600).map(|i| (format!("mutation {i}"), mutate(&mut rng, &specs[i % specs.len()], true))).collect();
    let (runs, failures) = run_all(inputs.into_iter());
    assert_no_panics(runs, failures);
}

/// The same with arbitrary bytes (a YAML error at a multi-byte character once panicked the renderer).
#[test]
fn mutated_specs_with_any_bytes_never_panic() {
    let specs = fuzz_specs();
    let mut rng = Rng(0x5eed_decafbad);
    let inputs: Vec<(String, String)> =
        (0..600).map(|i| (format!("mutation {i}"), mutate(&mut rng, &specs[i % specs.len()], false))).collect();
    let (runs, failures) = run_all(inputs.into_iter());
    assert_no_panics(runs, failures);
}
