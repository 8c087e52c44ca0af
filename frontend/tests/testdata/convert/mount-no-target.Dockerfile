# A bind or tmpfs mount without a target is at the workdir (BuildKit joins the workdir and the
# empty target), as in buildkit's vendored go-csvvalue Dockerfile: the spec says `.`.
FROM golang:1.22-alpine
WORKDIR /src
RUN --mount=type=bind go build .
RUN --mount=type=bind,rw go test ./...
RUN --mount=type=tmpfs touch x
