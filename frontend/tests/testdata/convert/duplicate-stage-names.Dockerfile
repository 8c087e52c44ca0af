# A stage name used twice (docker/buildx's Dockerfile does): BuildKit lints it and builds it; a
# FROM before the second reads the first, a --from or --target after it the second. The earlier
# stage gets another name.
FROM busybox:local AS rel
RUN echo first > /which
FROM rel AS mid
RUN cat /which > /mid-saw
FROM busybox:local AS rel
RUN echo second > /which
FROM busybox:local
COPY --from=rel /which /final-saw
COPY --from=mid /mid-saw /mid-saw
