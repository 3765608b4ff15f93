# syntax=docker/dockerfile:1.7
# The callvault image: one binary, every target (`serve --target …`),
# `migrate`, `admin`, `audit`, `reconcile`. Built from a clean checkout:
#   docker build -t callvault:$(git describe --always) \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
# deploy/tests/test_image.py checks that every library the binary links is
# in the runtime base (deploy/image/distroless-cc-debian12.packages).

ARG RUST_VERSION=1.95

# Debian 12 (bookworm) like the runtime base: the binary links the glibc
# that the base ships.
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p callvault \
 && install -D -m 0555 target/release/callvault /out/callvault \
 && install -d -m 0700 -o 65532 -g 65532 /out/data

# distroless cc: glibc, libgcc_s, CA certificates; no shell, no package
# manager. `nonroot` runs as uid/gid 65532, which the chart also sets.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="callvault" \
      org.opencontainers.image.description="The multi-tenant call-recording vault" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/callvault/callvault" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /out/callvault /usr/local/bin/callvault
# Owned by the runtime user, so that a volume Docker creates there is too.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# In a container the server listens on every interface; the data
# directory is a volume (embedded mode) or scratch space (distributed).
ENV CALLVAULT_LISTEN=0.0.0.0:8080 \
    CALLVAULT_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/callvault"]
CMD ["serve"]
