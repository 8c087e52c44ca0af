# ADD sources made of args: told apart by what the args give (BuildKit expands the source before
# it tells a download or a git repository from a local path); the steps keep the references.
ARG TINI_VERSION=v0.19.0
ARG REPO=https://github.com/org/repo.git
FROM busybox:local
ARG TINI_VERSION
ARG TINI_URL=https://example.com/tini/${TINI_VERSION}/tini
ARG REPO
ARG REF=v1.2
ARG ARCHIVE=vendor.tar.gz
ADD ${TINI_URL} /tini
ADD ${REPO}#${REF} /src/repo
ADD ${ARCHIVE} /vendor/
