# Container image of the openhumans server: the binary alone, running unprivileged.
# Build from the repository root with `docker build -t openhumans .` (or `podman build`);
# docs/deployment.md describes the settings it needs.

FROM docker.io/library/rust:1.90-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
    && install -m 0755 target/release/openhumans /usr/local/bin/openhumans

FROM docker.io/library/debian:bookworm-slim
# CA certificates let the server verify TLS to SMTP, S3 and webhook receivers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/openhumans --create-home openhumans
COPY --from=build /usr/local/bin/openhumans /usr/local/bin/openhumans
USER openhumans
ENV OPENHUMANS_BIND=0.0.0.0:8000 \
    OPENHUMANS_DATA_DIR=/var/lib/openhumans
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/openhumans"]
CMD ["serve"]
