# One image holding every AssistChat binary; docker-compose.yml picks one per service.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
      -p assistchat-core -p assistchat-edge-web -p assistchat-edge-telegram -p assistchat-edge-zoom -p assistchat \
 && mkdir /out \
 && cp target/release/assistchat-core target/release/assistchat-edge-web \
       target/release/assistchat-edge-telegram target/release/assistchat-edge-zoom target/release/assistchat /out/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/assistchat --create-home assistchat
COPY --from=build /out/ /usr/local/bin/
USER assistchat
WORKDIR /var/lib/assistchat
ENV ASSISTCHAT_DATA_DIR=/var/lib/assistchat/data
CMD ["assistchat"]
