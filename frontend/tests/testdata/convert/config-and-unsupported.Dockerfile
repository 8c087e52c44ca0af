FROM busybox:local AS Base
MAINTAINER Jane Doe <jane@example.com>
LABEL org.opencontainers.image.title="demo app" \
      org.opencontainers.image.version=1.0
LABEL version=2
RUN echo before-shell
SHELL ["/bin/sh", "-eu", "-c"]
RUN echo after-shell
ONBUILD COPY . /app
EXPOSE 80 443/tcp 53/udp 8000-8010
VOLUME ["/data", "/logs"]
VOLUME /cache
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s --retries=4 --start-interval=1s \
  CMD wget -q -O- http://localhost/health || exit 1
USER nobody:nogroup
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo ${HOME:+home is set}

FROM base AS child
HEALTHCHECK NONE
CMD --serve
FOOBAR something
