# A stage's ARG default is that stage's own: another stage that declares the ARG without one
# leaves it empty.
FROM busybox:local AS a
ARG V=1
RUN echo a$V > /a

FROM busybox:local AS b
ARG V
RUN echo "[$V]" > /b

# A stage built on another keeps its ARGs, with their values, for its runs.
FROM a AS child
RUN env | sort > /env

# One name as ARG and ENV, and an ARG declared again with another default: notes.
FROM busybox:local AS mixed
ARG VERSION=1.0
ENV VERSION=${VERSION}-r1
ARG G=1
ENV E=$G
ARG G=2
# An ARG without a value stays unset (not empty) unless the build gives it.
ARG NOVAL
RUN echo "${NOVAL-unset}" > /noval

# An ARG the stage does not declare: Dockerfile reads the environment there (a note).
FROM busybox:local AS undeclared
LABEL v=x$VERSION

# Declared without a default, used, then declared again with one: the uses in between see the
# build's value in a Dockerfile (a note).
FROM busybox:local AS later-default
ARG V
ENV W=w-$V
ARG V=2
