# One image holding every AssistChat binary. As shipped it runs the whole platform in one
# container (`assistchat`: core, the web edge and the channel edges):
#   docker build -t assistchat .
#   docker run -p 8080:8080 -v assistchat:/var/lib/assistchat assistchat
# docker-compose.yml runs the same image once per binary instead. platform/tests/compose.rs keeps
# this file in step with the binaries (listen addresses, volume, health check, user).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
      -p assistchat-core -p assistchat-edge-web -p assistchat-edge-telegram -p assistchat-edge-zoom -p assistchat \
 && mkdir /out \
 && cp target/release/assistchat-core target/release/assistchat-edge-web \
       target/release/assistchat-edge-telegram target/release/assistchat-edge-zoom target/release/assistchat /out/

FROM debian:bookworm-slim
# The servers run as an unprivileged user of their own, which owns the data directory; a fixed
# uid lets orchestrators check that it is not root (Kubernetes' runAsNonRoot).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /var/lib/assistchat --shell /usr/sbin/nologin assistchat \
 && mkdir -p /var/lib/assistchat && chown assistchat:assistchat /var/lib/assistchat && chmod 0750 /var/lib/assistchat
COPY --from=build /out/ /usr/local/bin/
# Inside the container every server listens on all interfaces (`docker run -p` decides what is
# reachable from outside): the web edge, core's gRPC for integrators, and the Telegram and Zoom
# webhook servers for a proxy of yours. The SQLite database (assistchat.db) and the generated
# secret key live in the data directory, which is the volume.
ENV ASSISTCHAT_DATA_DIR=/var/lib/assistchat \
    ASSISTCHAT_WEB_LISTEN=0.0.0.0:8080 \
    ASSISTCHAT_CORE_LISTEN=0.0.0.0:50051 \
    ASSISTCHAT_TELEGRAM_LISTEN=0.0.0.0:8090 \
    ASSISTCHAT_ZOOM_LISTEN=0.0.0.0:8091
VOLUME /var/lib/assistchat
EXPOSE 8080 50051 8090 8091
USER 10001:10001
WORKDIR /var/lib/assistchat
# Ready when the web edge's /readyz answers 200, which it does only while core answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["assistchat", "healthcheck"]
CMD ["assistchat"]
