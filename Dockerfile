# syntax=docker/dockerfile:1
#
# The acs server image: docker build -t acs .
#
# Settings come from ACS_… environment variables (ACS_DATABASE__URL, ACS_CPE_AUTH__PASSWORD, …)
# or a TOML file mounted and passed with --config; see acs.example.toml.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build artifacts between builds (BuildKit); the binary
# is copied out of the cached target directory because a cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p acs-cli --locked \
    && cp target/release/acs /usr/local/bin/acs

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 acs \
    && useradd --system --uid 10001 --gid acs --home-dir /var/lib/acs --shell /usr/sbin/nologin acs \
    && install -d -o acs -g acs -m 0750 /var/lib/acs
COPY --from=builder /usr/local/bin/acs /usr/local/bin/acs

# The NBI listens on 127.0.0.1 by default, unreachable from outside a container: listen on all
# interfaces here and publish the port only where operators can reach it (see docker-compose.yml).
# ACS_DATA_DIR is read by `acs serve` and by every other command, so `docker exec … acs devices`
# finds the admin token in the volume without being told where it is.
ENV ACS_NBI__LISTEN=0.0.0.0:7557 \
    ACS_LOG__FORMAT=json \
    ACS_DATA_DIR=/var/lib/acs

USER acs
VOLUME ["/var/lib/acs"]
# 7547: CWMP (CPEs). 7557: NBI (operators).
EXPOSE 7547 7557
# No HEALTHCHECK: the slim image has no HTTP client. Orchestrators can probe GET /healthz on the
# NBI port themselves.
ENTRYPOINT ["acs"]
CMD ["serve"]
