//! Compile-time benchmark: spec text -> plan -> lower -> marshal -> encode, for generated specs
//! of 10, 100, 1,000 and 10,000 stages.
//!
//!     cargo bench -p decant --bench compile -- --warm-up-time 1 --measurement-time 3
//!
//! Each generated stage starts from an image or an earlier stage, runs a few commands, copies
//! from the context and from earlier stages; every stage is reachable from the last (each one
//! starts from or copies from its predecessor), so the whole graph is lowered and marshalled.
//! It runs with the binary's allocator (mimalloc), as the CLI and the frontend do.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use decant::plan::BuildOptions;
use decant::{compile, lower};

/// The allocator the `decant` binary uses (src/main.rs), so that the benchmark measures what the
/// CLI and the frontend image run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const IMAGES: &[&str] = &["alpine:3.20", "debian:12-slim", "golang:1.23-alpine", "rust:1.83-alpine", "busybox:1.36"];

/// A deterministic spec with `n` stages named s0..s{n-1}.
pub fn spec(n: usize) -> String {
    let mut s = String::from("# syntax=decant/frontend:dev\nargs:\n  VERSION: \"1.2.3\"\nstages:\n");
    for i in 0..n {
        let _ = writeln!(s, "  s{i}:");
        // Every third stage starts from an image; the others from their predecessor.
        if i == 0 || i % 3 == 0 {
            let _ = writeln!(s, "    from: {}", IMAGES[i % IMAGES.len()]);
        } else {
            let _ = writeln!(s, "    from: s{}", i - 1);
        }
        let _ = writeln!(s, "    workdir: /work/s{i}");
        if i % 2 == 0 {
            let _ = writeln!(s, "    env:\n      STAGE: s{i}\n      VERSION: ${{VERSION}}");
        }
        s.push_str("    steps:\n");
        let _ = writeln!(s, "      - copy: [src/{i}.txt, Makefile]\n        to: src/");
        let _ = writeln!(s, "      - run: make -C src stage-{i} VERSION=$VERSION");
        if i % 4 == 1 {
            let _ = writeln!(s, "        mounts:\n          - cache: /root/.cache\n            id: cache-{}", i % 7);
        }
        if i > 0 {
            // Chain: copy from the predecessor when not built on it.
            if i % 3 == 0 {
                let _ =
                    writeln!(s, "      - copy: /work/s{p}/out\n        from: s{p}\n        to: /deps/s{p}/", p = i - 1);
            }
            // And from a stage further back.
            let back = i - 1 - (i * 7919) % i.min(50);
            let _ = writeln!(s, "      - copy: /work/s{back}/out\n        from: s{back}\n        to: /deps/s{back}/\n        chmod: \"0755\"");
        }
        let _ = writeln!(s, "      - run: [\"/bin/sh\", \"-c\", \"ls /deps > out\"]");
        if i + 1 == n {
            s.push_str("    expose: [8080]\n    cmd: [/work/out]\n");
        }
    }
    s
}

/// The whole pipeline; returns the encoded definition.
pub fn compile_all(text: &str) -> Vec<u8> {
    let plan = compile::plan("decant.yaml", text, &BuildOptions::default()).expect("plan");
    let lowered = lower::lower(&plan, &lower::Inputs::default()).expect("lower");
    lowered.definition_bytes()
}

/// `DECANT_BENCH_PHASES=1 cargo bench -p decant --bench compile`: print the time of each
/// phase per size (to find the one that grows faster than linearly), then run criterion.
fn phases() {
    use decant::{plan, spec};
    use std::time::Instant;
    for n in [10usize, 100, 1_000, 2_000, 4_000, 10_000] {
        let text = spec(n);
        let t = Instant::now();
        let parsed = spec::parse_spec("decant.yaml", &text).unwrap();
        let t_parse = t.elapsed();
        let t = Instant::now();
        let p = plan::resolve(&parsed, &BuildOptions::default()).unwrap();
        let t_plan = t.elapsed();
        // The same without `order_needed` (all_stages keeps document order).
        let t = Instant::now();
        let _ = plan::resolve(&parsed, &BuildOptions { all_stages: true, ..Default::default() }).unwrap();
        let t_plan_all = t.elapsed();
        let t = Instant::now();
        let lowered = lower::lower(&p, &lower::Inputs::default()).unwrap();
        let t_lower = t.elapsed();
        // The bytes, as the CLI and the gateway write them (marshal and encode in one pass).
        let t = Instant::now();
        let bytes = lowered.definition_bytes();
        let t_marshal = t.elapsed();
        // The decoded Definition, for the code that inspects one (dump, tests).
        let t = Instant::now();
        let def = lowered.definition();
        let t_definition = t.elapsed();
        eprintln!(
            "n={n:>6} parse {t_parse:>10.2?}  plan {t_plan:>10.2?} (all_stages {t_plan_all:>10.2?})  lower {t_lower:>10.2?}  marshal+encode {t_marshal:>10.2?}  (as a pb::Definition {t_definition:>10.2?})  ({} ops, {} bytes)",
            def.def.len(),
            bytes.len()
        );
    }
}

/// `DECANT_BENCH_SPEC=<n>`: print the spec of `n` stages to stdout and exit (tests/bench/compile.sh
/// feeds it to the release CLI to measure time and peak RSS per size).
/// `DECANT_BENCH_ONCE=<n>`: compile the spec of `n` stages once, phase by phase, and exit: the run
/// to profile (`valgrind --tool=callgrind`), where criterion's repetitions would only add noise.
fn single_run_modes() {
    let size = |var: &str| std::env::var(var).ok().map(|v| v.parse::<usize>().expect("a number of stages"));
    if let Some(n) = size("DECANT_BENCH_SPEC") {
        print!("{}", spec(n));
        std::process::exit(0);
    }
    if let Some(n) = size("DECANT_BENCH_ONCE") {
        let text = spec(n);
        let parsed = decant::spec::parse_spec("decant.yaml", &text).unwrap();
        let p = decant::plan::resolve(&parsed, &BuildOptions::default()).unwrap();
        let lowered = lower::lower(&p, &lower::Inputs::default()).unwrap();
        let bytes = lowered.definition_bytes();
        eprintln!("n={n}: {} bytes", bytes.len());
        std::process::exit(0);
    }
}

fn bench(c: &mut Criterion) {
    single_run_modes();
    if std::env::var_os("DECANT_BENCH_PHASES").is_some() {
        phases();
    }
    let mut group = c.benchmark_group("compile");
    for n in [10usize, 100, 1_000, 10_000] {
        let text = spec(n);
        // Sanity: every stage is in the plan, and the result is deterministic.
        let plan =
            compile::plan("decant.yaml", &text, &BuildOptions::default()).unwrap_or_else(|d| panic!("{}", d.render()));
        assert_eq!(plan.stages.len(), n);
        assert_eq!(compile_all(&text), compile_all(&text));
        group.throughput(Throughput::Elements(n as u64));
        if n >= 1_000 {
            group.sample_size(10);
            group.warm_up_time(Duration::from_millis(500));
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| black_box(compile_all(black_box(text))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
