# An ADD of a git repository whose URL names an ENV (from a real Dockerfile: luajit.git?branch=
# ${LUAJIT_VERSION}): the repository becomes a copy's `from:`, where the spec expands args only.
FROM alpine:3.20
ENV LUAJIT_VERSION=v2.1
ARG REF=v1.0
ADD --keep-git-dir https://luajit.org/git/luajit.git?branch=${LUAJIT_VERSION} /usr/src/luajit
ADD https://github.com/moby/buildkit.git#${REF} /src/buildkit
