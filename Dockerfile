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
WORKDIR /src
# musl targets are self-contained (crt objects and libc.a ship with rust-std), so rust-lld links
# them for any architecture without a cross C toolchain. The crate graph has no C code.
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-musl ;; \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported TARGETARCH=$TARGETARCH" >&2; exit 1 ;; \
    esac > /rust-target \
 && rustup target add "$(cat /rust-target)"
COPY Cargo.toml Cargo.lock ./
COPY frontend ./frontend
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    set -eu; t="$(cat /rust-target)"; \
    RUSTFLAGS='-C linker=rust-lld -C linker-flavor=ld.lld -C target-feature=+crt-static' \
      cargo build --release --locked --target "$t" -p decant; \
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
