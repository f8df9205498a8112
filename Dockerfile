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

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/loopguard /usr/local/bin/loopguard
COPY configs/loopguard.yaml /etc/loopguard/loopguard.yaml
# The CA is generated into /var/lib/loopguard/ca on first start (key 0600)
# unless LOOPGUARD_CA_CERT_FILE/LOOPGUARD_CA_KEY_FILE name a mounted one;
# held webhooks are spooled durably under /var/lib/loopguard/spool.
ENV LOOPGUARD_CA_DIR=/var/lib/loopguard/ca \
    LOOPGUARD_SPOOL_DIR=/var/lib/loopguard/spool \
    LOOPGUARD_LISTEN_OUTBOUND=0.0.0.0:8080 \
    LOOPGUARD_LISTEN_INBOUND=0.0.0.0:8081
VOLUME ["/var/lib/loopguard"]
# 8080 outbound proxy, 8081 inbound webhooks, 9090 admin (localhost by default:
# set LOOPGUARD_LISTEN_ADMIN=0.0.0.0:9090 and LOOPGUARD_ADMIN_TOKEN to expose it).
EXPOSE 8080 8081 9090
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/loopguard"]
CMD ["run", "--config", "/etc/loopguard/loopguard.yaml"]
