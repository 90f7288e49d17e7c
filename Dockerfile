# syntax=docker/dockerfile:1
#
# driftfix server image: a release build in a Rust stage, then only the binary in a slim Debian runtime
# that runs as the unprivileged user `driftfix` (uid 10001).
#
#     docker build -t driftfix .
#     docker run --rm -v "$PWD/driftfix.toml:/etc/driftfix/driftfix.toml:ro" -p 8080:8080 driftfix
#     docker run --rm -v "$PWD/driftfix.toml:/etc/driftfix/driftfix.toml:ro" driftfix check-config /etc/driftfix/driftfix.toml
#
# Configuration: mount a driftfix.toml (start from driftfix.example.toml, shipped in the image under
# /usr/share/doc/driftfix/) and pass secrets as DRIFTFIX_* environment variables. The image holds no
# configuration of its own, so it cannot start with example credentials.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /build
# Only what the build reads: the manifest and lock file, the sources, and the files compiled into the
# binary (migrations, templates). benches/ is listed because Cargo.toml declares a [[bench]] target.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY benches ./benches
# The registry and target directories are BuildKit caches, so a source change rebuilds only driftfix.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked \
    && install -m 0755 target/release/driftfix /usr/local/bin/driftfix

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to PostgreSQL, GitHub, AWS and the SNS signing-certificate host.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 driftfix \
    && useradd --system --uid 10001 --gid driftfix --home-dir /var/lib/driftfix --shell /usr/sbin/nologin driftfix \
    && mkdir -p /var/lib/driftfix /etc/driftfix /usr/share/doc/driftfix \
    && chown driftfix:driftfix /var/lib/driftfix
COPY --from=builder /usr/local/bin/driftfix /usr/local/bin/driftfix
COPY driftfix.example.toml /usr/share/doc/driftfix/driftfix.example.toml
# The working directory is the state directory: the default database (sqlite://driftfix.db) lands here,
# so mount a volume on it when running with SQLite.
WORKDIR /var/lib/driftfix
# Numeric, so that orchestrators enforcing "run as non-root" can verify it.
USER 10001:10001
EXPOSE 8080
# No HEALTHCHECK: the slim image has no HTTP client. Probe GET /healthz (liveness) and /readyz
# (readiness) from the orchestrator instead.
STOPSIGNAL SIGTERM
ENTRYPOINT ["driftfix"]
CMD ["serve", "--config", "/etc/driftfix/driftfix.toml"]
