# What decant still lacks or does differently: each line gets a note.
FROM busybox:local AS base
ARG SUFFIX=.txt
# An environment variable where decant expands only args.
COPY --chmod=$MODE a.txt /a.txt
RUN --mount=type=cache,target=$HOME/.cache true
# A built-in arg the stage does not declare: empty in the Dockerfile.
RUN echo $TARGETARCH
# Dockerfile expands an unquoted heredoc; so does a file step with `expand: true`.
COPY <<EOF /etc/suffix
suffix=$SUFFIX
EOF
# A platform arg with a default: Dockerfile keeps the default, whatever the platform.
ARG TARGETARCH=amd64
