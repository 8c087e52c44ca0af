# An image for others to build on: its triggers run in their builds.
FROM busybox:local
WORKDIR /app
# Their sources, then their build.
ONBUILD COPY --chown=1000:1000 . /app/src
ONBUILD RUN --mount=type=cache,target=/root/.cache \
    make -C /app/src PREFIX="$HOME"
onbuild env MODE=release
ONBUILD RUN <<EOT
echo heredoc
EOT
CMD ["/app/src/run"]
