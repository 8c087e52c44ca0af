# The decant frontend image: one static binary in an otherwise empty image.
#
#   release (default): builds the binary from source in a Rust builder, cross-compiling on the build
#            machine's platform for each target platform (linux/amd64, linux/arm64), e.g.
#              docker buildx build --platform linux/amd64,linux/arm64 --target release -t IMAGE .
#   local:   the same final image around a binary built on the host, for machines that cannot pull
#            a Rust image (tests/e2e/env.sh does this):
#              RUSTFLAGS='-C target-feature=+crt-static' \
#                cargo build --release --target x86_64-unknown-linux-gnu -p decant
#              DOCKER_BUILDKIT=1 docker build --target local -t decant/frontend:dev .
#   noop:    `local` with an entrypoint that returns at once: the floor of tests/bench/run.
#
# No `# syntax=` line on purpose: it would make BuildKit pull a Dockerfile frontend image, which the
# offline machine building `local` cannot do. Only features of Docker 20.10's built-in frontend are used.

ARG RUST_IMAGE=rust:1-bookworm

# ---- release: builder -------------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS builder
ARG TARGETARCH
ARG BUILDARCH
WORKDIR /src
# A static glibc binary (crt-static), the same target `local` and the tests build. The allocator,
# mimalloc, is C: for a platform other than the build machine's, Debian's cross gcc compiles it
# and links the binary against that platform's static C library.
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) t=x86_64-unknown-linux-gnu; gnu=x86_64-linux-gnu; pkgs="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;; \
      arm64) t=aarch64-unknown-linux-gnu; gnu=aarch64-linux-gnu; pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;; \
      *) echo "unsupported TARGETARCH=$TARGETARCH" >&2; exit 1 ;; \
    esac; \
    if [ "$TARGETARCH" = "$BUILDARCH" ]; then cc=gcc; else \
      cc="$gnu-gcc"; \
      apt-get update; \
      apt-get install -y --no-install-recommends $pkgs; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    printf '%s %s\n' "$t" "$cc" > /rust-target; \
    rustup target add "$t"
COPY Cargo.toml Cargo.lock ./
COPY frontend ./frontend
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eu; read -r t cc < /rust-target; \
    T="$(echo "$t" | tr 'a-z-' 'A-Z_')"; \
    export "CARGO_TARGET_${T}_LINKER=$cc" "CC_$(echo "$t" | tr - _)=$cc"; \
    RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$t" -p decant; \
    cp "target/$t/release/decant" /decant

# ---- the image: shared by both targets ----------------------------------------------------------
FROM scratch AS base
LABEL moby.buildkit.frontend.network.none="true" \
      moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring" \
      org.opencontainers.image.title="decant" \
      org.opencontainers.image.description="BuildKit frontend for declarative multi-stage build specs (decant.yaml)" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/decant", "frontend"]

# ---- local: prebuilt host binary ---------------------------------------------------------------
FROM base AS local
COPY target/x86_64-unknown-linux-gnu/release/decant /decant

# ---- noop: the benchmark's floor (tests/bench/run), never a build's frontend --------------------
# The same binary, started as `decant frontend-noop`: it connects and returns an empty result at
# once, so a build through it costs what starting any frontend image costs.
FROM local AS noop
ENTRYPOINT ["/decant", "frontend-noop"]

# ---- release (last stage = default target) -----------------------------------------------------
FROM base AS release
COPY --from=builder /decant /decant
