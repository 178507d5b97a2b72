# The msgmig command in a small image: build with the same toolchain and lockfile as CI, run as
# an unprivileged user. One image, three roles: `msgmig scan | transform | load`.
# librdkafka is built in with TLS (OpenSSL), SASL PLAIN/SCRAM and zstd (rdkafka features).
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config cmake \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p msgmig \
    && strip target/release/msgmig

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 msgmig
COPY --from=build /src/target/release/msgmig /usr/local/bin/msgmig
# msgmig writes nothing here unless told to (the embedded SQLite default, export --output-dir).
WORKDIR /var/lib/msgmig
RUN chown msgmig /var/lib/msgmig
USER msgmig
ENTRYPOINT ["msgmig"]
CMD ["--help"]
