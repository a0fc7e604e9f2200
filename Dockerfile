# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# pg_query_go needs cgo.
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/lakeflight ./cmd/lakeflight

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /data lakeflight
COPY --from=build /out/lakeflight /usr/local/bin/lakeflight
USER lakeflight
WORKDIR /data
EXPOSE 8815
ENTRYPOINT ["/usr/local/bin/lakeflight"]
# The demo in a container listens on all interfaces; put --users-file or
# --token in front of anything that is not a laptop.
CMD ["serve", "--demo", "--warehouse", "/data/demo", "--listen", "0.0.0.0:8815", "--allow-unauthenticated-remote"]
