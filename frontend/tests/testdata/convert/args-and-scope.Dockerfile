ARG BASE=busybox:local
ARG VERSION=1.0
FROM ${BASE} AS one
ARG VERSION
ARG NODE_ENV=production
ENV APP_VERSION=$VERSION
LABEL version="${VERSION}"
RUN yarn build
RUN echo "$VERSION"

FROM ${BASE} AS two
ARG NODE_ENV=development
RUN echo $VERSION $NODE_ENV
COPY --from=one /etc/hostname /one
