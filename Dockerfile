# syntax=docker/dockerfile:1
# Needs BuildKit (the default builder in current Docker) for the cache mounts.
#   docker build -t oncology-registry .
#   docker run -p 8080:8080 -v onc-data:/data \
#     -e JWT_SECRET=... -e ADMIN_USERNAME=admin -e ADMIN_PASSWORD=... oncology-registry

# ---- build ---------------------------------------------------------------------
# Full (not slim) image: it already has gcc/make for the C parts of aws-lc-rs
# and the bundled SQLite, so nothing is installed here.
FROM rust:1.95-bookworm AS builder
WORKDIR /src

# The whole workspace (root package + migration/) is copied at once: with cache
# mounts for the registry and target/, a source change recompiles only our crates,
# which is what a dependency-only layer would buy, without the fragile dummy
# main.rs trick that breaks on workspace members.
# .cargo/config.toml comes along: the bundled SQLite is built with its options.
COPY . .

# target/ lives in a cache mount, which is not part of the image: copy the binary
# out of it in the same RUN. sharing=locked keeps parallel builds from
# corrupting the shared cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin oncology-registry \
 && install -m 0755 target/release/oncology-registry /usr/local/bin/oncology-registry

# ---- runtime -------------------------------------------------------------------
# Same Debian release as the builder, so the binary's glibc matches.
FROM debian:bookworm-slim

# ca-certificates: TLS to PostgreSQL or other services. curl: the HEALTHCHECK
# below (the binary has no probe subcommand). Versions are not pinned: bookworm
# drops superseded versions on security updates, which would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# Fixed, non-root ids so a mounted volume's ownership is predictable.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin app \
 && mkdir -p /data \
 && chown app:app /data

COPY --from=builder /usr/local/bin/oncology-registry /usr/local/bin/oncology-registry

WORKDIR /data
# Declared after the chown: a new named volume is initialised from the image's
# /data, so it starts out owned by uid 10001.
VOLUME /data

# Defaults for a single-container SQLite deployment; override DATABASE_URL with a
# postgres:// URL for PostgreSQL. JWT_SECRET (and the bootstrap ADMIN_USERNAME /
# ADMIN_PASSWORD) are deliberately not set here: secrets come from the runtime.
# The result store (results inbox and report files) sits on the volume too, unless RESULTS_DIR
# names an s3:// bucket.
ENV DATABASE_URL="sqlite:///data/oncology-registry.db?mode=rwc" \
    BIND_ADDR="0.0.0.0:8080" \
    RESULTS_DIR="/data/results"

USER 10001:10001
EXPOSE 8080

# Liveness only (no database round trip), so a slow database does not get the
# container restarted. The port is fixed: change it here if BIND_ADDR changes.
# Shell form on purpose: `|| exit 1` maps curl's many exit codes to the 1 Docker
# expects for "unhealthy".
# hadolint ignore=DL3025
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1

ENTRYPOINT ["/usr/local/bin/oncology-registry"]
CMD ["serve"]
