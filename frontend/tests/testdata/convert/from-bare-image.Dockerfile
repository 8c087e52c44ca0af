# Reduced from docker/compose's Dockerfile: `--from=set` names no stage, so the Dockerfile pulls
# the image `set`; decant would read the bare word, this close to the stage `test`, as a typo.
FROM alpine:3.20 AS base
FROM base AS test
RUN --mount=from=bsae,source=/etc,target=/x ls /x
FROM base AS license-set
RUN mkdir /out
FROM scratch AS license-update
COPY --from=set /out /
COPY --from=busybox /bin/busybox /bin/
