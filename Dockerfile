# syntax=docker/dockerfile:1
#
# The kanri binary (dev, server, worker, migrate, bench) on a distroless base.
#
#   docker build -t kanri:local .
#   docker run --rm kanri:local --help
#
# Pure Go (the SQLite driver is modernc.org/sqlite), so CGO is off and the
# binary is static. A cold build compiles the embedded Temporal server too:
# about two minutes on two cores; the cache mounts make rebuilds quick.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/kanri ./cmd/kanri

# A static busybox for one job only: `busybox wget` as the container
# healthcheck in docker-compose.yml (Kubernetes probes need nothing in the
# image). The runtime image has no shell.
FROM busybox:1.37-musl AS busybox

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kanri /usr/local/bin/kanri
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
# kanri dev keeps its state in ./.kanri: the nonroot user's home.
WORKDIR /home/nonroot
USER nonroot:nonroot
# 8080: the API of kanri server (and kanri dev); 8081: health and metrics of
# kanri worker. Both need KANRI_HTTP=0.0.0.0:PORT in a container: the
# built-in default listens on 127.0.0.1 only.
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/kanri"]
CMD ["server"]
