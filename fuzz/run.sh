#!/usr/bin/env bash
# Builds decant's fuzz targets and runs each for a bounded time; exits non-zero on a crash.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 30 s, every target)
#
# Stable toolchain: libFuzzer (from the libfuzzer-sys crate) with LLVM's coverage
# instrumentation (-Cpasses=sancov-module), but no sanitizer, since AddressSanitizer needs
# nightly's -Zsanitizer. decant is safe Rust: what the fuzzers look for is panics, aborts,
# stack overflows, timeouts (-timeout) and memory blow-ups (-rss_limit_mb). With cargo-fuzz
# and a nightly toolchain, `cd fuzz && cargo fuzz run bytes` works too.
#
# Corpora: fuzz/corpus/<target>/ (kept between runs, not committed), seeded from the tests'
# specs (examples/, frontend/tests/testdata/) and fuzz/seeds/<target>/. A crash leaves its input
# in fuzz/artifacts/<target>/ and is printed; replay it with
# fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-30}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(bytes spec opts dockerignore gateway_reply convert)

triple=x86_64-unknown-linux-gnu
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
cargo build --release --locked --target "$triple" --bins

# Seeds from the tests: every example and test spec for the spec-text target.
mkdir -p corpus/bytes
for f in ../examples/*/decant.yaml ../frontend/tests/testdata/*/*.yaml; do
    [ -f "$f" ] && cp "$f" "corpus/bytes/seed-$(echo "$f" | tr '/.' '__')"
done

# The convert target: the tests' Dockerfiles.
mkdir -p corpus/convert
for f in ../frontend/tests/testdata/convert/*.Dockerfile ../tests/corpus/*/Dockerfile; do
    [ -f "$f" ] && cp "$f" "corpus/convert/seed-$(echo "$f" | tr '/.' '__')"
done

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t" "seeds/$t"
    log="artifacts/$t/last-run.log"
    echo "== fuzz $t for ${secs}s"
    if "target/$triple/release/$t" "corpus/$t" "seeds/$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -max_len=8192 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1)
        echo "   ok: ${runs:-no summary}; corpus $(ls "corpus/$t" | wc -l) inputs"
    else
        echo "   CRASH in $t:"
        tail -n 40 "$log"
        failed+=("$t")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets that crashed: ${failed[*]}"
    exit 1
fi
