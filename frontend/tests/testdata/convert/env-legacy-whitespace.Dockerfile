# Reduced from docker-library/postgres's Alpine Dockerfiles: the value of `ENV key value` is all
# after the key, its whitespace kept as written (the tabs of continued lines too), as in BuildKit.
FROM alpine:3.22
ENV DOCKER_PG_LLVM_DEPS \
		llvm19-dev \
		clang19
ENV GREETING  "hello   world"  and  more
LABEL description Two  spaces
WORKDIR /srv/my  app
RUN echo "$DOCKER_PG_LLVM_DEPS"
