# syntax=docker/dockerfile:1
# Multi-stage, static build; small non-root runtime image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# .ci/run runs this same command to keep it honest.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/loopguard ./cmd/loopguard

# The init image of transparent mode: loopguard next to iptables and
# nftables, run once as root with NET_ADMIN and NET_RAW to install the rules
# ("loopguard iptables install"); see configs/examples/transparent/.
#   docker build --target init -t loopguard:init .
FROM debian:bookworm-slim AS init
RUN apt-get update && apt-get install -y --no-install-recommends iptables nftables ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/loopguard /usr/local/bin/loopguard
ENTRYPOINT ["/usr/local/bin/loopguard"]
CMD ["iptables", "install"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/loopguard /usr/local/bin/loopguard
COPY configs/loopguard.yaml /etc/loopguard/loopguard.yaml
# The CA is generated into /var/lib/loopguard/ca on first start (key 0600)
# unless LOOPGUARD_CA_CERT_FILE/LOOPGUARD_CA_KEY_FILE name a mounted one; so
# is the deployment key (deployment.key, 0600) unless
# LOOPGUARD_DEPLOYMENT_KEY_FILE names a mounted one (replicas sharing a Redis
# must mount the same key). Held webhooks are spooled durably under
# /var/lib/loopguard/spool.
# The admin API stays on loopback: to expose it (probes, metrics), set
# LOOPGUARD_LISTEN_ADMIN=0.0.0.0:9090 together with LOOPGUARD_ADMIN_TOKEN or
# LOOPGUARD_ADMIN_TOKEN_FILE from a Secret; without a token loopguard refuses
# to start that way. Each listener bound beyond loopback is logged at start.
ENV LOOPGUARD_CA_DIR=/var/lib/loopguard/ca \
    LOOPGUARD_SPOOL_DIR=/var/lib/loopguard/spool \
    LOOPGUARD_LISTEN_OUTBOUND=0.0.0.0:8080 \
    LOOPGUARD_LISTEN_INBOUND=0.0.0.0:8081 \
    LOOPGUARD_LISTEN_ADMIN=127.0.0.1:9090
VOLUME ["/var/lib/loopguard"]
# 8080 outbound proxy, 8081 inbound webhooks, 9090 admin (loopback unless
# exposed with a token, above).
EXPOSE 8080 8081 9090
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/loopguard"]
CMD ["run", "--config", "/etc/loopguard/loopguard.yaml"]
