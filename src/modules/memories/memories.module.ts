import { type ActionRule, READERS, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
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
  "vault.exported",
  "vault.imported",
] as const;

export type MemoriesApi = MemoriesService & {
  /** One TTL sweep over every tenant, where this gateway holds the sweep lease; returns how many. */
  sweepAll(): Promise<number>;
};

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
  create(ctx) {
    const { config, storage, clock, logger } = ctx;
    const tenants = ctx.use("tenants");
    const grants = ctx.use("grants");
    const service = createMemoriesService({
      screen: ctx.use("governance").screen,
      activeGrants: grants.active,
      storage,
      clock,
      metrics: ctx.metrics,
      telemetry: ctx.telemetry,
      maxContentBytes: config.maxContentBytes,
      halfLifeDays: config.recallHalfLifeDays,
      audit: ctx.use("audit").append,
      vault: ctx.use("vault").vault,
      events: ctx.events,
    });
    // Several gateways may share one store: the sweep runs where the lease is held.
    const SWEEP_LEASE = "ttl-sweeper";
    const sweepAll = async () => {
      const ttl = config.sweepIntervalSeconds * 2000;
      if (!(await ctx.leases.acquire(SWEEP_LEASE, ctx.gatewayId, ctx.clock.now(), ttl))) return 0;
      return ctx.telemetry.span("worker.ttl_sweep", {}, async () => service.sweep(await tenants.allIds()));
    };
    let timer: NodeJS.Timeout | null = null;
    return {
      api: { ...service, sweepAll },
      routes: (app) => registerMemoryRoutes(app, service),
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
      ],
    };
  },
});
