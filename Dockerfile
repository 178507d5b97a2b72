# The msgmig command in a small image: build with the same toolchain and lockfile as CI, run as
# an unprivileged user. One image, three roles: `msgmig scan | transform | load`.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p msgmig

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 msgmig
COPY --from=build /src/target/release/msgmig /usr/local/bin/msgmig
USER msgmig
ENTRYPOINT ["msgmig"]
CMD ["--help"]
