# syntax=docker/dockerfile:1
# The dictamesh image: one binary on distroless (glibc), run as uid/gid 1000 with
# a read-only root filesystem (only /tmp needs to be writable). The subcommand picks
# the role:
#   docker run --rm -p 8080:8080 IMAGE subgraph compat-products
#   docker run --rm -p 8080:8080 -v ./mesh:/etc/dictamesh:ro IMAGE \
#     router --supergraph /etc/dictamesh/supergraph.yaml --config /etc/dictamesh/router.yaml
# Build: docker build -t dictamesh:dev .  (BuildKit; caches cargo's registry and target)

# The oldest toolchain the locked dependencies accept (async-graphql, uuid: 1.89).
# Bookworm, like the runtime's debian12, so the binary links against the same glibc.
ARG RUST_VERSION=1.89

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p dictamesh-cli \
    && install -D -m 0555 target/release/dictamesh /out/dictamesh

# glibc, libgcc and CA certificates; no shell, no package manager. The image runs as
# uid 1000 (not the base's 65532) to match the Helm chart's securityContext.
# Pin by digest in your own builds (gcr.io/distroless/cc-debian12:nonroot@sha256:...).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/dictamesh /usr/local/bin/dictamesh
USER 1000:1000
WORKDIR /
ENV HOME=/tmp \
    TMPDIR=/tmp \
    DICTAMESH_LISTEN=0.0.0.0:8080 \
    DICTAMESH_LOG_FORMAT=json
EXPOSE 8080
LABEL org.opencontainers.image.title="dictamesh" \
      org.opencontainers.image.description="DictaMesh: Apollo Federation v2 router, catalog and subgraphs for data meshes" \
      org.opencontainers.image.source="https://github.com/dictamesh/dictamesh" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/local/bin/dictamesh"]
CMD ["--help"]
