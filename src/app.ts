import { randomUUID } from "node:crypto";
import type { DestinationStream } from "pino";
import { type Clock, systemClock } from "./lib/clock.ts";
import type { Config } from "./lib/config.ts";
import { createEgressGuard, egressAllowList } from "./lib/egress/egress-guard.ts";
import { createLogger, type Logger } from "./lib/logger.ts";
import { constantTimeEqual } from "./lib/secrets.ts";
import { auditMigrations } from "./modules/audit/audit.migrations.ts";
import { registerAuditRoutes } from "./modules/audit/audit.routes.ts";
import { createAuditService } from "./modules/audit/audit.service.ts";
import { createAuditTrail, createAuthFailureAudit } from "./modules/audit/audit.trail.ts";
import { loadCheckpointKey } from "./modules/audit/checkpoint-key.ts";
import { connectorsMigrations } from "./modules/connectors/connectors.migrations.ts";
import { createConnectorsModule } from "./modules/connectors/connectors.module.ts";
import { governanceToBus } from "./modules/governance/governance.events.ts";
import { governanceMigrations } from "./modules/governance/governance.migrations.ts";
import { registerGovernanceHooks, registerGovernanceRoutes } from "./modules/governance/governance.routes.ts";
import { createGovernanceService, type GovernanceEvent } from "./modules/governance/governance.service.ts";
import { createMemoryScreen } from "./modules/governance/memory-screen.ts";
import { grantsMigrations } from "./modules/grants/grants.migrations.ts";
import { registerGrantRoutes } from "./modules/grants/grants.routes.ts";
import { createGrantsService } from "./modules/grants/grants.service.ts";
import { createGuardrails } from "./modules/guardrails/index.ts";
import { createLlmJudge, guardedJudgeTransport } from "./modules/guardrails/judge.ts";
import { registerHealthRoutes } from "./modules/health/health.routes.ts";
import { registerAuthRoutes } from "./modules/identity/auth.routes.ts";
import { createAuthService } from "./modules/identity/auth.service.ts";
import { identityMigrations } from "./modules/identity/identity.migrations.ts";
import { createLoginThrottle } from "./modules/identity/login-throttle.ts";
import { oidcFetch } from "./modules/identity/oidc-fetch.ts";
import { registerUserRoutes } from "./modules/identity/users.routes.ts";
import { createUsersService } from "./modules/identity/users.service.ts";
import { keysMigrations } from "./modules/keys/keys.migrations.ts";
import { registerKeyRoutes } from "./modules/keys/keys.routes.ts";
import { createKeysService } from "./modules/keys/keys.service.ts";
import { keysStore } from "./modules/keys/keys.store.ts";
import { registerMcpRoutes } from "./modules/mcp/mcp.routes.ts";
import { memoriesMigrations } from "./modules/memories/memories.migrations.ts";
import { registerMemoryRoutes } from "./modules/memories/memories.routes.ts";
import { createMemoriesService } from "./modules/memories/memories.service.ts";
import { tenantKeysMigrations } from "./modules/tenant-keys/tenant-keys.migrations.ts";
import { INSTANCE_CHAIN, openTenantKeys } from "./modules/tenant-keys/tenant-keys.service.ts";
import { tenantsMigrations } from "./modules/tenants/tenants.migrations.ts";
import { registerTenantRoutes } from "./modules/tenants/tenants.routes.ts";
import { createTenantsService } from "./modules/tenants/tenants.service.ts";
import { createVaultFiles } from "./modules/vault/vault.files.ts";
import { createVault } from "./modules/vault/vault.ts";
import type { Actor } from "./platform/auth/actor.ts";
import { loadAdminKey, prepareDataDir } from "./platform/bootstrap.ts";
import { createEventBus } from "./platform/events/bus.ts";
import { registerPlatformRoutes } from "./platform/http/docs.routes.ts";
import { createMetrics } from "./platform/http/metrics.ts";
import { createRateLimiter } from "./platform/http/rate-limit.ts";
import { type CredentialVerifier, createHttpServer } from "./platform/http/server.ts";
import { createLeases, leasesMigrations } from "./platform/leases.ts";
import type { MigrationSet } from "./platform/storage/port.ts";
import { openPostgresStorage } from "./platform/storage/postgres.ts";
import { openSqliteStorage } from "./platform/storage/sqlite.ts";

/** A person's access token: a compact JWS (people's tokens are JWTs, keys are `hy?_` strings). */
const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Every module's migrations, in dependency order. */
export const MIGRATIONS: MigrationSet = {
  control: [
    ...tenantsMigrations.control,
    ...keysMigrations.control,
    ...auditMigrations.control,
    ...tenantKeysMigrations.control,
    ...governanceMigrations.control,
    ...leasesMigrations,
  ],
  tenant: [
    ...keysMigrations.tenant,
    ...memoriesMigrations.tenant,
    ...auditMigrations.tenant,
    ...identityMigrations.tenant,
    ...grantsMigrations.tenant,
    ...connectorsMigrations.tenant,
    ...governanceMigrations.tenant,
  ],
};

export type AppOptions = {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  logDestination?: DestinationStream;
};

/**
 * The composition root: opens the store, builds each module with the dependencies it names, and
 * mounts their routes on the HTTP chokepoint. Nothing else wires modules together.
 */
export async function createApp(opts: AppOptions) {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config.logLevel, opts.logDestination);
  const { secretsDir } = prepareDataDir(config.dataDir);
  const adminKey = loadAdminKey(secretsDir, config.adminKey);
  const storage = config.databaseUrl
    ? openPostgresStorage(
        { url: config.databaseUrl, migrationUrl: config.databaseMigrationUrl, dataDir: config.dataDir },
        MIGRATIONS,
      )
    : openSqliteStorage(config.dataDir, MIGRATIONS);
  try {
    await storage.init();
  } catch (err) {
    await storage.close();
    throw err;
  }

  const tenantKeys = await openTenantKeys({
    storage,
    clock,
    source: { dataDir: config.dataDir, masterKey: config.masterKey, masterKeyFile: config.masterKeyFile },
  });
  await tenantKeys.ensure(INSTANCE_CHAIN);
  // Cached before any control transaction needs it (it must not read the control database inside one).
  await tenantKeys.auditKey(INSTANCE_CHAIN);
  for (const { id } of await storage.control.all<{ id: string }>("SELECT id FROM tenants")) {
    await tenantKeys.ensure(id);
  }
  const trail = createAuditTrail({
    storage,
    clock,
    logger,
    dataDir: config.dataDir,
    auditKey: tenantKeys.auditKey,
    checkpointKey: loadCheckpointKey(secretsDir),
  });
  const authFailures = createAuthFailureAudit({ append: trail.append, storage, clock });

  const metrics = createMetrics();
  const events = createEventBus({
    clock,
    onListenerError: (err, event) => logger.error({ err, type: event.type }, "event listener failed"),
  });
  const vault = createVault({
    dataDir: config.dataDir,
    cipher: tenantKeys.cipher,
    modes: async (tenantId) => {
      const row = await tenants.requireActive(tenantId);
      return { encryption: row.encryption, storage: row.storage };
    },
  });
  const tenants = createTenantsService({
    storage,
    clock,
    audit: trail.append,
    provisionKey: tenantKeys.provision,
    shredKey: tenantKeys.shred,
    afterDelete: async (tenantId) => {
      tenantKeys.forget(tenantId);
      vault.forget(tenantId);
      trail.forget(tenantId);
      auth.forget(tenantId);
    },
    onCreated: (tenantId) => auth.initTenant(tenantId),
  });
  const auth = createAuthService({
    storage,
    clock,
    tenants,
    audit: trail.append,
    cipher: tenantKeys.cipher,
    issuer: config.tokenIssuer,
    throttle: createLoginThrottle(clock, {
      maxFailures: config.loginMaxFailures,
      windowMs: config.loginFailureWindowSeconds * 1000,
      lockMs: config.loginLockSeconds * 1000,
      maxPerAddress: config.loginMaxPerAddress,
    }),
    oidcFetch: oidcFetch({ allowLocal: config.oidcAllowInsecureLocal }),
    oidcAllowLoopbackHttp: config.oidcAllowInsecureLocal,
  });
  const users = createUsersService({ storage, clock, tenants, audit: trail.append });
  const keys = createKeysService({ storage, clock, tenants, audit: trail.append });
  const grants = createGrantsService({ storage, clock, tenants, audit: trail.append });
  async function allTenantIds(): Promise<string[]> {
    const ids: string[] = [];
    let after = "";
    for (;;) {
      const page = await storage.control.all<{ id: string }>(
        "SELECT id FROM tenants WHERE id > ? ORDER BY id LIMIT 500",
        [after],
      );
      if (page.length === 0) break;
      ids.push(...page.map((r) => r.id));
      after = page.at(-1)?.id ?? after;
    }
    return ids;
  }
  // Governance announces through these listeners; the event bus is one of them (below).
  const governanceListeners = new Set<(event: GovernanceEvent) => void>();
  const toBus = governanceToBus({ events, allTenantIds });
  governanceListeners.add((event) => {
    toBus(event).catch((err) => logger.error({ err, type: event.type }, "governance event not published"));
  });
  const rateLimiter = createRateLimiter(clock);
  const governance = createGovernanceService({
    storage,
    clock,
    tenants,
    rateLimiter,
    allTenantIds,
    audit: trail.append,
    keyExists: async (tenantId, keyId) =>
      (await keysStore.byId(await storage.tenant(tenantId), tenantId, keyId)) !== undefined,
    publish: (event) => {
      for (const listener of governanceListeners) listener(event);
    },
  });
  // The optional LLM judge leaves through the egress guard like every outbound request.
  const judge = config.judgeUrl
    ? createLlmJudge(
        {
          baseUrl: config.judgeUrl,
          model: config.judgeModel ?? "",
          timeoutMs: config.judgeTimeoutMs,
          ...(config.judgeApiKey ? { apiKey: config.judgeApiKey } : {}),
        },
        guardedJudgeTransport(
          createEgressGuard({
            allow: egressAllowList(config.egressAllow),
            timeoutMs: config.judgeTimeoutMs,
            maxResponseBytes: 64 * 1024,
          }),
        ),
      )
    : undefined;
  const screen = createMemoryScreen({
    guardrails: createGuardrails({ clock, ...(judge ? { judge } : {}) }),
    policyFor: (tenantId) => governance.policyFor(tenantId),
    storage,
    clock,
    audit: trail.append,
  });
  const memories = createMemoriesService({
    screen,
    activeGrants: (tenantId, now) => grants.active(tenantId, now),
    storage,
    clock,
    metrics,
    maxContentBytes: config.maxContentBytes,
    halfLifeDays: config.recallHalfLifeDays,
    audit: trail.append,
    vault,
    events,
  });
  const connectors = createConnectorsModule({
    storage,
    clock,
    logger,
    tenants,
    events,
    audit: trail.append,
    cipher: tenantKeys.cipher,
    memories,
    maxContentBytes: config.maxContentBytes,
    egressAllow: config.egressAllow,
    tenantAllowed: (tenantId) => governance.tenantAllowed(tenantId),
    screen: (tenantId, text) => screen.ingest(tenantId, text),
  });
  const audit = createAuditService({ trail, clock, requireTenant: tenants.requireActive });
  const vaultFiles = createVaultFiles({ memories, requireTenant: tenants.requireActive });
  const rotateMaster = (actor: Actor, opts: { retire: boolean }) =>
    tenantKeys.rotateMaster(actor, opts, trail.append);

  const verifyCredential: CredentialVerifier = async (secret, origin) => {
    if (adminKey.verify(secret)) {
      const actor: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin };
      return { ok: true, kind: "admin_key", actor, rateLimitPerMinute: null };
    }
    if (config.metricsToken && constantTimeEqual(secret, config.metricsToken)) {
      const actor: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin };
      return { ok: true, kind: "metrics_token", actor, rateLimitPerMinute: null };
    }
    if (JWT_SHAPE.test(secret)) return auth.verifyUserToken(secret, origin);
    return keys.verify(secret, origin);
  };

  const app = await createHttpServer({
    logger,
    clock,
    metrics,
    rateLimiter,
    agentGate: (actor) => governance.gateAgent(actor),
    verifyCredential,
    defaultRateLimitPerMinute: config.rateLimitPerMinute,
    bodyLimitBytes: config.bodyLimitBytes,
    allowedHosts: config.allowedHosts,
    trustedProxies: config.trustedProxies,
    onDenied: async (req, err) => {
      const actor = req.actor;
      if (err.status === 401) {
        await authFailures.record(req.origin, err.code, req.routeOptions.url ?? "unmatched");
        return;
      }
      const event = {
        actor: actor ?? { type: "anonymous" as const, id: "anonymous" },
        action: "access.denied" as const,
        outcome: "denied" as const,
        origin: req.origin,
        details: { code: err.code, method: req.method, route: req.routeOptions.url ?? "unmatched" },
      };
      if (actor && actor.tenantId !== null) {
        const tenantId = actor.tenantId;
        const db = await storage.tenant(tenantId);
        await db.transaction((tx) => trail.append(tx, { ...event, tenantId }, clock.now()));
      } else {
        await storage.control.transaction((tx) =>
          trail.append(tx, { ...event, tenantId: null }, clock.now()),
        );
      }
    },
  });

  registerGovernanceHooks(app, governance);
  registerHealthRoutes(app, storage);
  registerPlatformRoutes(app, metrics.registry);
  registerTenantRoutes(app, tenants);
  registerKeyRoutes(app, keys);
  registerUserRoutes(app, users);
  registerGrantRoutes(app, grants);
  registerAuthRoutes(app, auth, { allowedOrigins: config.allowedOrigins });
  registerMemoryRoutes(app, memories);
  registerAuditRoutes(app, audit);
  registerMcpRoutes(app, {
    memories,
    storage,
    clock,
    audit: trail.append,
    gate: async (actor, tool) => {
      if (actor.type === "agent")
        await governance.refuseIfApprovalRequired(actor, tool.operation, tool.action);
    },
  });
  connectors.registerRoutes(app);
  registerGovernanceRoutes(app, governance);

  // Several gateways may share one database: the sweeper runs where it holds the lease.
  const leases = createLeases(storage.control);
  const gatewayId = `gw-${randomUUID()}`;
  const SWEEP_LEASE = "ttl-sweeper";
  const sweeper = {
    async runOnce(): Promise<number> {
      const ttl = config.sweepIntervalSeconds * 2000;
      if (!(await leases.acquire(SWEEP_LEASE, gatewayId, clock.now(), ttl))) return 0;
      return memories.sweep(await allTenantIds());
    },
  };
  let timer: NodeJS.Timeout | null = null;

  return {
    app,
    storage,
    logger,
    services: {
      tenants,
      keys,
      memories,
      users,
      auth,
      grants,
      audit,
      tenantKeys,
      trail,
      vaultFiles,
      rotateMaster,
      connectors,
      governance,
      screen,
    },
    events,
    /** Subscribes to governance events (approval.*, agent.*, anomaly.*); returns an unsubscribe. */
    onGovernanceEvent(listener: (event: GovernanceEvent) => void): () => void {
      governanceListeners.add(listener);
      return () => governanceListeners.delete(listener);
    },
    sweeper,
    /** The admin key, when this start generated it (print once). */
    generatedAdminKey: adminKey.generated,
    startSweeper() {
      timer = setInterval(() => {
        sweeper.runOnce().catch((err) => logger.error({ err }, "ttl sweep failed"));
      }, config.sweepIntervalSeconds * 1000);
      timer.unref();
    },
    /** Starts the webhook inbox worker and the outbound webhook sender (recovering pending work). */
    startWorkers() {
      connectors.start();
    },
    async close() {
      if (timer) clearInterval(timer);
      await leases.release(SWEEP_LEASE, gatewayId).catch(() => undefined);
      await connectors.stop();
      await app.close();
      await authFailures.flush();
      await trail.flush();
      await storage.close();
    },
  };
}

export type HyphaApp = Awaited<ReturnType<typeof createApp>>;
