#!/usr/bin/env bash
# The build context of a real repository: a `node_modules/` of many small files that the build
# never reads, and a spec that copies only `src/`. Measures, on the same private daemon (Docker
# 20.10, BuildKit v0.8), decant (through its frontend image) against the same build written as a
# Dockerfile (the built-in frontend):
#   - the first build (after `docker builder prune -af`): wall time and bytes of context sent;
#   - cached rebuilds, alternating decant and Dockerfile: median wall time and context bytes.
# The bytes are what BuildKit's progress prints as `transferring context: N`.
#   tests/bench/context.sh [RUNS (default 5)] [FILES (default 50000)]
# Knobs: DECANT_BENCH_SKIP_SETUP=1 uses the daemon and frontend image already up
# (tests/e2e/env.sh up) instead of setting them up; DECANT_FRONTEND_IMAGE picks the frontend image.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-5}"
files="${2:-50000}"
# shellcheck source=tests/e2e/env.sh
source tests/e2e/env.sh
work="$(mktemp -d)"
trap 'e2e_stop_daemon; rm -rf "$work"' EXIT
if [ "${DECANT_BENCH_SKIP_SETUP:-0}" = 1 ]; then
    e2e_daemon_alive || { echo "no daemon: run tests/e2e/env.sh up first" >&2; exit 1; }
else
    e2e_setup
fi

# The repository: $files files of 100 bytes in node_modules/ (100 per directory), three in src/.
mkdir -p "$work/src"
for f in a b c; do printf 'int %s(void) { return 1; }\n' "$f" >"$work/src/$f.c"; done
(
    cd "$work"
    per=100
    for d in $(seq 0 $(( (files + per - 1) / per - 1 ))); do
        mkdir -p "node_modules/pkg$d"
        for i in $(seq 0 $(( per - 1 ))); do
            [ $(( d * per + i )) -lt "$files" ] || break
            printf '%0100d' 0 >"node_modules/pkg$d/f$i.js"   # a builtin: no fork per file
        done
    done
)
cat >"$work/decant.yaml" <<EOF
# syntax=$DECANT_FRONTEND_IMAGE
stages:
  app:
    from: busybox:local
    workdir: /app
    steps:
      - copy: src/
        to: src/
    cmd: [ls, /app/src]
EOF
cat >"$work/Dockerfile" <<'EOF'
FROM busybox:local
WORKDIR /app
COPY src/ src/
CMD ["ls", "/app/src"]
EOF

# One build: prints "<milliseconds> <bytes of context sent>".
build() { # file tag
    local s e out bytes
    s=$(date +%s%N)
    out="$("$E2E_DOCKER" build --progress=plain -f "$work/$1" -t "$2" "$work" 2>&1)" || { echo "$out" >&2; return 1; }
    e=$(date +%s%N)
    bytes="$(printf '%s\n' "$out" | sed -n 's/.*transferring context: \([0-9.]*[kMG]\{0,1\}B\).*/\1/p' | tail -n1)"
    echo "$(( (e - s) / 1000000 )) $(to_bytes "${bytes:-0B}")"
}
# BuildKit's units (go-units HumanSize: decimal, 3 significant digits) back to bytes.
to_bytes() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    m = (u == "kB") ? 1e3 : (u == "MB") ? 1e6 : (u == "GB") ? 1e9 : 1; printf "%d", n * m }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

"$E2E_DOCKER" builder prune -af >/dev/null
read -r d_first_ms d_first_b < <(build decant.yaml decant-bench/ctx-decant)
"$E2E_DOCKER" builder prune -af >/dev/null
read -r f_first_ms f_first_b < <(build Dockerfile decant-bench/ctx-dockerfile)
# Both warm, then alternate.
build decant.yaml decant-bench/ctx-decant >/dev/null
: >"$work/d.txt"
: >"$work/f.txt"
for _ in $(seq "$runs"); do
    build decant.yaml decant-bench/ctx-decant >>"$work/d.txt"
    build Dockerfile decant-bench/ctx-dockerfile >>"$work/f.txt"
done
d_ms=$(cut -d' ' -f1 "$work/d.txt" | median)
f_ms=$(cut -d' ' -f1 "$work/f.txt" | median)
d_b=$(cut -d' ' -f2 "$work/d.txt" | median)
f_b=$(cut -d' ' -f2 "$work/f.txt" | median)
"$E2E_DOCKER" rmi -f decant-bench/ctx-decant decant-bench/ctx-dockerfile >/dev/null 2>&1 || true
echo "context of $files files in node_modules/, spec copies src/ (frontend $DECANT_FRONTEND_IMAGE)"
echo "first build:   decant ${d_first_ms} ms, ${d_first_b} B sent; Dockerfile ${f_first_ms} ms, ${f_first_b} B sent"
echo "cached rebuild, median of $runs alternating: decant ${d_ms} ms, ${d_b} B sent; Dockerfile ${f_ms} ms, ${f_b} B sent;" \
    "ratio $(awk -v a="$d_ms" -v b="$f_ms" 'BEGIN {printf "%.2f", a / b}')"
echo "decant runs (ms B):     $(tr '\n' ' ' <"$work/d.txt")"
echo "Dockerfile runs (ms B): $(tr '\n' ' ' <"$work/f.txt")"
