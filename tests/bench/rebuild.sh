#!/usr/bin/env bash
# Cached-rebuild time of examples/c-hello: decant (through its frontend image) against the same
# build written as a Dockerfile (Docker 20.10's built-in frontend), on the same private daemon.
# Reports the median of N (default 5) cached rebuilds of each, and their ratio.
#   tests/bench/rebuild.sh [N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n="${1:-5}"
# shellcheck source=tests/e2e/env.sh
source tests/e2e/env.sh
trap 'e2e_stop_daemon; rm -rf "$work"' EXIT
work="$(mktemp -d)"
e2e_setup
cp -r examples/c-hello/. "$work/"
cat >"$work/Dockerfile" <<'DOCKERFILE'
FROM debian-gcc:local AS build
WORKDIR /src
COPY hello.c ./
RUN mkdir -p /out && gcc -static -O2 -Wall -Werror -o /out/hello hello.c
RUN ["/out/hello", "--self-test"]

FROM busybox:local AS runtime
WORKDIR /app
ENV GREETING="hello from decant"
COPY --from=build --chmod=0755 /out/hello /app/hello
USER 65534:65534
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=1s --retries=3 CMD ["/app/hello", "--self-test"]
LABEL org.opencontainers.image.title=c-hello
CMD ["/app/hello"]
DOCKERFILE
# Docker 20.10's built-in frontend has no COPY --chmod: drop it there (the mode is 0755 anyway).
sed -i 's/--chmod=0755 //' "$work/Dockerfile"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_builds() { # file tag
    local f="$1" tag="$2" i s e
    "$E2E_DOCKER" build -q -f "$work/$f" -t "$tag" "$work" >/dev/null   # warm the cache
    for i in $(seq "$n"); do
        s=$(date +%s%N)
        "$E2E_DOCKER" build -q -f "$work/$f" -t "$tag" "$work" >/dev/null
        e=$(date +%s%N)
        echo $(( (e - s) / 1000000 ))
    done | median
}
d=$(time_builds decant.yaml decant-bench/decant)
f=$(time_builds Dockerfile decant-bench/dockerfile)
"$E2E_DOCKER" rmi -f decant-bench/decant decant-bench/dockerfile >/dev/null 2>&1 || true
echo "cached rebuild, median of $n: decant ${d} ms, Dockerfile ${f} ms, ratio $(awk -v a="$d" -v b="$f" 'BEGIN {printf "%.2f", a / b}')"
