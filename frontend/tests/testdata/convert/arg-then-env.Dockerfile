# Reduced from tailscale's and ollama's Dockerfiles: `ENV X=$X` right after `ARG X` keeps the
# arg in the image; both have the arg's value, so it needs no note.
FROM alpine:3.20
ARG VERSION_LONG=""
ENV VERSION_LONG=$VERSION_LONG
ARG CGO_CFLAGS
ENV CGO_CFLAGS="${CGO_CFLAGS}"
# An ENV with another value: the values after it see the ENV's value (the label is written
# with it), and so do runs.
ARG GOOS=linux
ENV GOOS=${GOOS}-musl
RUN echo "$VERSION_LONG $CGO_CFLAGS $GOOS"
LABEL os=$GOOS
# A form the spec cannot write over (a note).
LABEL os.default=${GOOS:-none}

# An ARG after the ENV of its name: values and runs after it see the arg when it has a value,
# the ENV's value otherwise (`${MODE-...}`), whatever the image's env says.
FROM alpine:3.20 AS arg-last
ENV MODE=release LEVEL=2
ARG MODE
ARG LEVEL=3
RUN echo "$MODE $LEVEL"
LABEL mode=$MODE level=$LEVEL
# The ENV's value has a `}` of its own: it cannot be the fallback word (a note).
ENV BRACE=a}b
ARG BRACE
RUN echo "$BRACE"
