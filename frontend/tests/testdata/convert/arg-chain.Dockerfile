# A global ARG declared again with a default that reads its previous value (moby/moby's DELVE_SUPPORTED).
ARG TARGETPLATFORM
ARG DS=${TARGETPLATFORM#linux/amd64}
ARG DS=${DS#linux/arm64}
ARG DS=${DS:+unsupported}
ARG DS=${DS:-supported}
FROM busybox:local AS d-supported
RUN echo yes > /r
FROM busybox:local AS d-unsupported
RUN echo no > /r
FROM d-${DS}
ARG DS
RUN echo $DS > /ds
