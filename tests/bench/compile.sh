#!/usr/bin/env bash
# Compile time and peak memory of the release CLI (`decant llb`: parse, plan, lower, marshal,
# encode, write) on the benchmark's generated specs (frontend/benches/compile.rs) of 10, 100,
# 1,000 and 10,000 stages. Prints one row per size: the median wall time of N runs (default 10)
# and the largest peak RSS among them (GNU time's %M).
#   tests/bench/compile.sh [N]
# For instruction counts per phase, profile one compile instead, on a build with symbols (the
# release profile strips them):
#   cargo build --release -p decant --bin decant --config profile.release.strip=false \
#     --config profile.release.debug=1 --target-dir target/profile
#   valgrind --tool=callgrind target/profile/release/decant llb spec.yaml >/dev/null
#   callgrind_annotate --inclusive=yes callgrind.out.*
# or the library alone, phase by phase: DECANT_BENCH_ONCE=1000 valgrind --tool=callgrind <bench
# binary built with CARGO_PROFILE_BENCH_STRIP=false CARGO_PROFILE_BENCH_DEBUG=1>.
# (valgrind hides SHA-NI, so op digests count as the software sha256 there.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n="${1:-10}"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install -y time" >&2; exit 1; }
# DECANT=<path of a release decant binary> skips the build.
if [ -z "${DECANT:-}" ]; then
    cargo build -q --release -p decant --bin decant
    target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    DECANT="$target/release/decant"
fi
decant="$DECANT"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%8s %12s %12s %14s\n' stages "spec bytes" "median ms" "peak RSS MB"
for stages in 10 100 1000 10000; do
    spec="$work/s$stages.yaml"
    DECANT_BENCH_SPEC="$stages" cargo bench -q -p decant --bench compile >"$spec"
    times=() rss=0
    for _ in $(seq "$n"); do
        s=$(date +%s%N)
        /usr/bin/time -f %M -o "$work/rss" "$decant" llb "$spec" >/dev/null
        e=$(date +%s%N)
        times+=($(((e - s) / 1000)))
        r=$(tail -1 "$work/rss")
        [ "$r" -gt "$rss" ] && rss=$r
    done
    ms=$(printf '%s\n' "${times[@]}" | median | awk '{printf "%.1f", $1 / 1000}')
    printf '%8s %12s %12s %14s\n' "$stages" "$(wc -c <"$spec")" "$ms" "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')"
done
