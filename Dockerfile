# s3seal container image. Build: docker build -t s3seal .
# The build step is the same release build CI's toolchain runs (`cargo build --release --locked`).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin s3seal

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/s3seal --create-home s3seal
COPY --from=build /src/target/release/s3seal /usr/local/bin/s3seal
COPY config/ /etc/s3seal/examples/
USER s3seal
WORKDIR /var/lib/s3seal
EXPOSE 9000
# Listen on all interfaces inside the container; publish the port explicitly.
ENV S3SEAL_LOG=info
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:9000/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/s3seal"]
CMD ["serve", "--listen", "0.0.0.0:9000"]
