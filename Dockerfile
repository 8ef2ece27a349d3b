# syntax=docker/dockerfile:1
# Build: a static binary (no cgo), the same command CI runs in test.sh.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/ws-star/rendezvous/node.Version=${VERSION}" \
    -o /out/rendezvous ./cmd/rendezvous && mkdir -p /out/data

# Run: distroless static, non-root. The key and config live in /data.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rendezvous /usr/local/bin/rendezvous
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
VOLUME /data
ENV HOST=0.0.0.0 PORT=9090 RENDEZVOUS_IDENTITY=/data/identity.key
# WebSockets on TCP; WebRTC-direct and WebTransport on UDP.
EXPOSE 9090/tcp 9090/udp
# DISABLE_METRICS=true turns /metrics off (false or 0 keep it on).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/rendezvous", "health"]
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/rendezvous"]
