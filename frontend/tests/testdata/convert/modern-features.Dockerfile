# Constructs that convert as they are, without notes: the spec passes `decant check`.
ARG TOOL_VERSION=1.2

FROM --platform=$BUILDPLATFORM busybox:local AS build
ARG TARGETARCH
ARG TOOL_VERSION
# The base image's PATH, extended; operators on environment variables.
ENV PATH=/opt/tool/bin:$PATH
ENV TOOL_HOME=${TOOL_HOME:-/opt/tool} LOCALE=${LANG:+localised} NAME=${USER-nobody}
WORKDIR $TOOL_HOME
RUN --mount=type=cache,target=cache,ro \
    --mount=type=bind,target=src \
    echo "tool $TOOL_VERSION for $TARGETARCH" > info.txt
RUN <<'EOF'
#!/bin/sh
echo "$TOOL_VERSION" > version.txt
EOF
COPY --chmod=0755 --chown=1000:1000 <<'SCRIPT' /opt/tool/bin/tool
#!/bin/sh
echo "tool ${TOOL_VERSION}"
SCRIPT
COPY package.json yarn.lock* ./

# On the build platform too, like its base stage.
FROM build AS test
ARG TOOL_VERSION
RUN test -f info.txt

FROM busybox:local
COPY --from=build /opt/tool/ /opt/tool/
EXPOSE 8000-8010/tcp 9000
HEALTHCHECK --interval=30s --start-period=20s --start-interval=2s CMD ["/opt/tool/bin/tool"]
CMD ["/opt/tool/bin/tool"]
