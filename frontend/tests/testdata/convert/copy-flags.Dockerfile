FROM busybox:local AS assets
RUN mkdir -p /out && echo x > /out/a.txt

FROM busybox:local
WORKDIR /app
COPY --link --chown=1000:1000 --chmod=0640 config/ ./config/
COPY --exclude=*.md --exclude=tests docs/ /docs/
COPY --parents src/a/x.txt src/./b/y.txt /data/
COPY --from=0 /out/a.txt ./
COPY --chmod=u+x run.sh /usr/local/bin/
COPY yarn.lock* package.json ./
# A relative source from a stage or an image is read from its root, as Dockerfile reads it.
COPY --from=assets out/a.txt etc/os-release ./rooted/
