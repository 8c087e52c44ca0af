# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG RUNTIME=busybox:local

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS TARGETARCH
ARG VERSION=dev
WORKDIR /src
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.mod,target=go.mod \
    go mod download
RUN --mount=type=cache,target=/root/.cache/go-build,id=gobuild-$TARGETARCH,sharing=locked \
    --mount=type=bind,target=. \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -ldflags "-X main.version=${VERSION}" -o /out/app ./cmd/app

FROM build AS test
RUN go test ./...

FROM ${RUNTIME}
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
