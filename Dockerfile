# syntax=docker/dockerfile:1
# Multi-stage image. The build stage produces the same air-gapped bundle as `npm run bundle`
# (application, production node_modules, the pinned Node runtime); the runtime stage starts it
# through the bundle's own start script, `./hypha serve`, the one test/slow/bundle.slow.ts runs.

FROM node:24.21.0-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run --silent bundle \
 && mkdir /out \
 && tar -xzf build/hypha-*.tar.gz -C /out \
 && mv /out/hypha-* /out/hypha

FROM debian:bookworm-slim
# A system user with no shell; the data volume is the only writable path it needs.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin hypha \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
COPY --from=build --chown=root:root /out/hypha /opt/hypha
ENV HYPHA_DATA_DIR=/data \
    HYPHA_HOST=0.0.0.0 \
    HYPHA_PORT=7411 \
    HYPHA_SHUTDOWN_TIMEOUT_SECONDS=25
USER 10001:10001
WORKDIR /opt/hypha
VOLUME ["/data"]
EXPOSE 7411
# Readiness: store reachable, migrations applied, not shedding load (plain http; with TLS configured,
# point the probe at https or probe from the load balancer instead).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/opt/hypha/runtime/node", "-e", "fetch('http://127.0.0.1:'+(process.env.HYPHA_PORT||7411)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains in-flight requests within HYPHA_SHUTDOWN_TIMEOUT_SECONDS; keep the engine's stop
# timeout above it (compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/hypha/hypha"]
CMD ["serve"]
