# Git sources pinned to a commit, as moby's Dockerfile pins windows-container-utility: the
# query's `commit` (or `checksum`) stays in the URL; `--checksum` becomes the copy's `checksum:`.
FROM busybox:local AS base

FROM base AS containerutil-src
WORKDIR /usr/src/containerutil
ARG CONTAINERUTILITY_VERSION=aa1ba87e99b68e0113bd27ec26c60b88f9d4ccd9
ADD https://github.com/docker-archive/windows-container-utility.git?commit=${CONTAINERUTILITY_VERSION}&keep-git-dir=1 .

FROM base
ADD --checksum=8a7e5c1 https://github.com/moby/buildkit.git#v0.23.0 /src/buildkit
ADD --checksum=0123456789abcdef0123456789abcdef01234567 --keep-git-dir=true git@github.com:org/repo.git?commit=0123456789abcdef0123456789abcdef01234567 /src/repo
COPY --from=containerutil-src /usr/src/containerutil /containerutil
