# The pattern forms of variable expansion (Dockerfile 1.7), as moby/moby's Dockerfile uses them:
# they convert as written, without a note.
FROM busybox:local AS base
ARG TARGETPLATFORM
ARG TARGETVARIANT
ARG VERSION=v1.2.3
ARG VERSION_PREFIX=v
ENV VERSION_NUMBER=${VERSION#v} \
    PLATFORM_SUFFIX=${TARGETPLATFORM#linux/amd64} \
    OS=${TARGETPLATFORM%%/*} \
    MINOR=${VERSION%.*} \
    DASHED=${VERSION//./-} \
    FIRST=${VERSION/./_} \
    VARIANT=${TARGETVARIANT:+-${TARGETVARIANT}}
# An environment variable, and an arg in a pattern.
ENV FIRST_PATH=${PATH%%:*} TRIMMED=${VERSION#$VERSION_PREFIX}
WORKDIR /src/${VERSION#v}
COPY a.txt /opt/${VERSION%%.*}/
RUN echo "${VERSION#v}"
