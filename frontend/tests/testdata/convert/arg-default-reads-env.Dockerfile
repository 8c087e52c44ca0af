# An ARG default in a stage that reads an ENV's value (keycloak's Dockerfile): the ENV set it to
# literal text, here or in a stage this one is built on, so it converts to that text; on scratch a
# name nothing sets is empty. A name the base image may set stays a note.
FROM busybox:local AS base
ENV VERSION 22.0.11
ENV EMPTY=
ARG DIST=https://example.com/download/$VERSION/app-${VERSION}.tgz
ARG E1=[${EMPTY:-dflt}][${EMPTY+set}][${VERSION:+on}]
LABEL dist=$DIST e1=$E1
FROM base AS child
ARG FROM_PARENT=v-${VERSION}
LABEL fp=$FROM_PARENT
FROM scratch AS bare
ENV A=1
ARG B=${A}-${NOTSET:-none}
LABEL b=$B
FROM busybox:local AS image-env
ARG P=${PATH}:/opt/bin
LABEL p=$P
