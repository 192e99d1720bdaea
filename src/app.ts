import { randomUUID } from "node:crypto";
import type { DestinationStream } from "pino";
import { type Clock, systemClock } from "./lib/clock.ts";
import type { Config } from "./lib/config.ts";
import { createLogger, type Logger } from "./lib/logger.ts";
import { auditModule } from "./modules/audit/audit.module.ts";
import { connectorsModule } from "./modules/connectors/connectors.module.ts";
import { consoleModule } from "./modules/console/console.module.ts";
import { credentialsModule } from "./modules/credentials/credentials.module.ts";
import { governanceModule } from "./modules/governance/governance.module.ts";
import type { GovernanceEvent } from "./modules/governance/governance.service.ts";
import { grantsModule } from "./modules/grants/grants.module.ts";
import { healthModule } from "./modules/health/health.module.ts";
import { identityModule } from "./modules/identity/identity.module.ts";
import { keysModule } from "./modules/keys/keys.module.ts";
import { mcpModule } from "./modules/mcp/mcp.module.ts";
import { memoriesModule } from "./modules/memories/memories.module.ts";
import { streamModule } from "./modules/stream/stream.module.ts";
import { tenantKeysModule } from "./modules/tenant-keys/tenant-keys.module.ts";
import { tenantsModule } from "./modules/tenants/tenants.module.ts";
import { vaultModule } from "./modules/vault/vault.module.ts";
import { loadAdminKey, prepareDataDir } from "./platform/bootstrap.ts";
import { type BusEvent, createEventBus } from "./platform/events/bus.ts";
import { createRedisEventBus } from "./platform/events/redis-bus.ts";
import { createAdmission } from "./platform/http/admission.ts";
import { registerPlatformRoutes } from "./platform/http/docs.routes.ts";
import { createMetrics } from "./platform/http/metrics.ts";
import { createRateLimiter, createSharedRateLimiter } from "./platform/http/rate-limit.ts";
import { createHttpServer } from "./platform/http/server.ts";
import { createLeases, leasesMigrations } from "./platform/leases.ts";
import { composeModules, type HyphaModule, installVocabulary, type ModuleApis } from "./platform/module.ts";
import { createLocalInvalidation, createRedisInvalidation } from "./platform/shared/invalidation.ts";
import { connectRedis } from "./platform/shared/redis.ts";
import type { MigrationSet } from "./platform/storage/port.ts";
import { openPostgresStorage } from "./platform/storage/postgres.ts";
import { openSqliteStorage } from "./platform/storage/sqlite.ts";
import { createTelemetry, flushTracing, startTracing, traceFields } from "./platform/telemetry.ts";

/**
 * The product: every module in dependency order (a module may use the APIs of those before it).
 * Migrations, the action vocabulary, audit event types, hooks, routes and workers all come from here.
 */
export const MODULES: readonly HyphaModule[] = [
  tenantKeysModule,
  auditModule,
  tenantsModule,
  keysModule,
  identityModule,
  grantsModule,
  governanceModule,
  vaultModule,
  memoriesModule,
  connectorsModule,
  streamModule,
  mcpModule,
  credentialsModule,
  consoleModule,
  healthModule,
];

/** How often a closing server closes the connections that went idle since it began closing. */
const IDLE_SWEEP_MS = 100;

/** The platform's own migrations, then every module's, in list order. */
export const MIGRATIONS: MigrationSet = withPlatform(installVocabulary(MODULES).migrations);

function withPlatform(modules: MigrationSet): MigrationSet {
  return { control: [...leasesMigrations, ...modules.control], tenant: modules.tenant };
}

export type AppOptions = {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  logDestination?: DestinationStream;
  /** PEM certificate chain and key read from `tlsCertFile` / `tlsKeyFile` (see `readTlsFiles`). */
  tls?: { cert: string; key: string };
};

/**
 * The composition root: prepares the platform (data directory, store, clock, logs, metrics, event
 * bus, rate limiter), builds the module list, and mounts it on the HTTP chokepoint.
 */
export async function createApp(opts: AppOptions) {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  // Tracing first (when OTEL_EXPORTER_OTLP_ENDPOINT asks for it), so log lines can carry trace ids.
  await startTracing();
  const logger = opts.logger ?? createLogger(config.logLevel, opts.logDestination, traceFields);
  const { secretsDir } = prepareDataDir(config.dataDir);
  const adminKey = loadAdminKey(secretsDir, config.adminKey);
  const vocabulary = installVocabulary(MODULES);
  const migrations = withPlatform(vocabulary.migrations);
  const metrics = createMetrics({
    perTenant: config.metricsPerTenant,
    tenantLimit: config.metricsTenantLimit,
  });
  const telemetry = createTelemetry(metrics.stage);
  // PostgreSQL when a database URL is set (several gateways may share it), else the embedded store.
  const storage = config.databaseUrl
    ? openPostgresStorage(
        {
          url: config.databaseUrl,
          migrationUrl: config.databaseMigrationUrl,
          dataDir: config.dataDir,
          poolSize: config.databasePoolSize,
        },
        migrations,
        telemetry,
      )
    : openSqliteStorage(config.dataDir, migrations, telemetry);
  try {
    await storage.init();
  } catch (err) {
    await storage.close();
    throw err;
  }

  // With HYPHA_REDIS_URL every gateway shares limits, events and invalidation through Redis; a
  // Redis that is down at start is not fatal (each part falls back, see docs/architecture.md).
  const redis = config.redisUrl ? connectRedis(config.redisUrl, config.redisPrefix, logger) : null;
  const onListenerError = (err: unknown, event: BusEvent) =>
    logger.error({ err, type: event.type }, "event listener failed");
  const events = redis
    ? createRedisEventBus({ redis, clock, logger, onListenerError })
    : createEventBus({ clock, onListenerError });
  const rateLimiter = redis ? createSharedRateLimiter(redis, clock, logger) : createRateLimiter(clock);
  const invalidation = redis ? createRedisInvalidation(redis, logger) : createLocalInvalidation(logger);
  const admission = createAdmission({
    maxInFlight: config.maxInFlight,
    maxInFlightPerTenant: config.maxInFlightPerTenant,
    maxQueueMs: config.overloadQueueMs,
    maxHeavyInFlight: config.maxExportsInFlight,
    maxEventLoopDelayMs: config.overloadEventLoopDelayMs,
  });
  metrics.watchAdmission(admission.stats);
  const platform = {
    gatewayId: `gw-${randomUUID()}`,
    leases: createLeases(storage.control),
    config,
    secretsDir,
    adminKey,
    clock,
    logger,
    storage,
    metrics,
    telemetry,
    events,
    rateLimiter,
    redis,
    invalidation,
    admission,
  };
  let modules: Awaited<ReturnType<typeof composeModules>>;
  try {
    modules = await composeModules(platform, MODULES, vocabulary);
  } catch (err) {
    admission.close();
    await storage.close();
    await redis?.close();
    throw err;
  }
  const apis = modules.apis as ModuleApis;
  const { identity, governance, audit } = apis;

  const app = await createHttpServer({
    logger,
    clock,
    metrics,
    telemetry,
    rateLimiter,
    admission,
    agentGate: (actor) => governance.service.gateAgent(actor),
    verifyCredential: identity.verifyCredential,
    sessionCookie: apis.console.sessionCookie,
    adminSession: apis.console.adminSession,
    defaultRateLimitPerMinute: config.rateLimitPerMinute,
    bodyLimitBytes: config.bodyLimitBytes,
    allowedHosts: config.allowedHosts,
    trustedProxies: config.trustedProxies,
    ...(opts.tls ? { tls: { ...opts.tls, hstsMaxAgeSeconds: config.hstsMaxAgeSeconds } } : {}),
    onDenied: async (req, err) => {
      const route = req.routeOptions.url ?? "unmatched";
      if (err.status === 401) return audit.recordAuthFailure(req.origin, err.code, route);
      return audit.recordDenial(req.actor, req.origin, { code: err.code, method: req.method, route });
    },
  });
  registerPlatformRoutes(app, metrics.registry, { docsRequireAuth: config.docsRequireAuth });
  modules.mount(app);

  return {
    app,
    storage,
    logger,
    events,
    apis,
    /** The services, by name (the CLI and tests drive them directly). */
    services: {
      tenants: apis.tenants,
      keys: apis.keys,
      memories: apis.memories,
      users: identity.users,
      auth: identity.auth,
      grants: apis.grants,
      audit: audit.service,
      trail: audit.trail,
      tenantKeys: apis.tenantKeys,
      rotateMaster: apis.tenantKeys.rotateMaster,
      vaultFiles: apis.vault.files,
      connectors: apis.connectors,
      governance: governance.service,
      screen: governance.screen,
      credentials: apis.credentials,
    },
    /** Subscribes to governance events (approval.*, agent.*, anomaly.*); returns an unsubscribe. */
    onGovernanceEvent(listener: (event: GovernanceEvent) => void): () => void {
      return governance.onEvent(listener);
    },
    sweeper: { runOnce: () => apis.memories.sweepAll() },
    /** The admin key, when this start generated it (print once, after `persistAdminKey`). */
    generatedAdminKey: adminKey.generated,
    /** Stores the admin key's hash if none is stored yet; `serve` calls it once the port is bound. */
    persistAdminKey: () => adminKey.persist(),
    /** Starts every module's workers (TTL sweeper, inbox worker, outbound sender, ...). */
    startWorkers() {
      modules.startWorkers();
    },
    async close() {
      // Closing closes the connections idle at that moment; one still answering a request goes idle
      // when its answer is sent, and keep-alive would then hold it (and the drain) until the client
      // lets go. Such connections are closed as they go idle.
      const idle = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
      try {
        await app.close();
      } finally {
        clearInterval(idle);
      }
      admission.close();
      await modules.close();
      await events.close?.();
      await storage.close();
      await redis?.close();
      await flushTracing();
    },
  };
}

export type HyphaApp = Awaited<ReturnType<typeof createApp>>;
