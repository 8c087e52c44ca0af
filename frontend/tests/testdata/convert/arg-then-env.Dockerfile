# Reduced from tailscale's and ollama's Dockerfiles: `ENV X=$X` right after `ARG X` keeps the
# arg in the image; both have the arg's value, so it needs no note. An ENV with another value
# still gets one.
FROM alpine:3.20
ARG VERSION_LONG=""
ENV VERSION_LONG=$VERSION_LONG
ARG CGO_CFLAGS
ENV CGO_CFLAGS="${CGO_CFLAGS}"
ARG GOOS=linux
ENV GOOS=${GOOS}-musl
RUN echo "$VERSION_LONG $CGO_CFLAGS $GOOS"
