import { createEgressGuard, egressAllowList } from "../../lib/egress/egress-guard.ts";
import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { tracedEgress } from "../../platform/telemetry.ts";
import { connectorsMigrations } from "./connectors.migrations.ts";
import { registerConnectorRoutes } from "./connectors.routes.ts";
import { createConnectorsService } from "./connectors.service.ts";
import { createDeadLettersService } from "./dead-letters.service.ts";
import { createDeliveryWorker } from "./delivery-worker.ts";
import { createInboundVerifier } from "./inbound.ts";
import { registerIngestRoutes } from "./ingest.routes.ts";
import { createIngestService } from "./ingest.service.ts";
import { registerOutboundRoutes } from "./outbound.routes.ts";
import { createOutboundService } from "./outbound.service.ts";

export const connectorsActions = {
  "connectors:read": rule("admin", "connectors.read"),
  "connectors:manage": rule("admin", "connectors.manage"),
  // Named by the signed ingest route for the route table; no key or token is accepted there.
  "connectors:ingest": rule("admin", "connectors.ingest"),
  "deadletters:manage": rule("admin", "connectors.deadletters.manage"),
  "webhooks:manage": rule("admin", "webhooks.manage"),
} as const satisfies Record<string, ActionRule>;

export const connectorsEvents = [
  "connector.created",
  "connector.updated",
  "connector.deleted",
  "delivery.processed",
  "delivery.dead_lettered",
  "delivery.replayed",
  "webhook.created",
  "webhook.deleted",
  "webhook.disabled",
  "connector.secret_rotated",
  "connector.secret_rotation_ended",
  "connector.secret_previous_expired",
] as const;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof connectorsActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof connectorsEvents)[number], true> {}
}
declare module "../../platform/events/bus.ts" {
  interface BusEventRegistry
    extends Record<
      | "ingest.accepted"
      | "ingest.rejected"
      | "ingest.processed"
      | "dead_letter.created"
      | "dead_letter.replayed"
      | "webhook.disabled",
      true
    > {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    connectors: ConnectorsApi;
  }
}

/**
 * Connectors: signed webhook ingestion into a durable inbox, the worker that turns deliveries into
 * memories, dead letters and replay, connector health, and outbound webhooks.
 */
export const connectorsModule = defineModule({
  name: "connectors",
  migrations: connectorsMigrations,
  actions: connectorsActions,
  events: connectorsEvents,
  suspicious: [
    "connector.created",
    "connector.updated",
    "connector.deleted",
    "webhook.created",
    "webhook.deleted",
    "webhook.disabled",
  ],
  create(ctx) {
    const { storage, clock, logger, events, config } = ctx;
    const tenants = ctx.use("tenants");
    const audit = ctx.use("audit").append;
    const cipher = ctx.use("tenantKeys").cipher;
    const governance = ctx.use("governance");
    // The kill switch by tenant: the inbox worker and the outbound sender wait while it says false.
    const tenantAllowed = (tenantId: string) => governance.service.tenantAllowed(tenantId);
    const listTenants = tenants.allIds;
    const egress = tracedEgress(
      ctx.telemetry,
      createEgressGuard({
        allow: egressAllowList(config.egressAllow),
        timeoutMs: 10_000,
        maxResponseBytes: 64 * 1024,
      }),
      "connectors",
    );

    const connectors = createConnectorsService({
      storage,
      clock,
      tenants,
      audit,
      cipher,
      secretEnvPrefix: config.connectorSecretEnvPrefix,
    });
    const worker = createDeliveryWorker({
      storage,
      clock,
      events,
      logger,
      audit,
      cipher,
      // Deliveries become memories through the memories service's writer (sealed like REST writes).
      memories: ctx.use("memories"),
      telemetry: ctx.telemetry,
      maxContentBytes: config.maxContentBytes,
      listTenants,
      tenantAllowed,
      // Guardrails on delivered text before it becomes memories.
      screen: (tenantId, text) => governance.screen.ingest(tenantId, text),
    });
    const ingest = createIngestService({
      storage,
      clock,
      connectors,
      verifier: createInboundVerifier({
        clock,
        fetchJwks: async (url) => {
          const r = await egress.fetch(url, { method: "GET", headers: { accept: "application/json" } });
          if (!r.ok) throw new Error(`JWKS fetch refused: ${r.reason}`);
          return new Response(new Uint8Array(r.body), { status: r.status });
        },
      }),
      events,
      logger,
      env: process.env,
      secretEnvPrefix: config.connectorSecretEnvPrefix,
      cipher,
      onAccepted: (tenantId) => worker.notify(tenantId),
    });
    const deadLetters = createDeadLettersService({
      storage,
      clock,
      tenants,
      events,
      audit,
      cipher,
      onRequeued: (tenantId) => worker.notify(tenantId),
    });
    const outbound = createOutboundService({
      storage,
      clock,
      tenants,
      events,
      egress,
      logger,
      audit,
      cipher,
      listTenants,
      tenantAllowed,
      telemetry: ctx.telemetry,
    });

    return {
      api: { connectors, ingest, worker, deadLetters, outbound },
      routes(app) {
        registerIngestRoutes(app, ingest);
        registerConnectorRoutes(app, connectors, deadLetters);
        registerOutboundRoutes(app, outbound);
      },
      workers: [
        { name: "connectors.inbox", start: () => worker.start(), stop: () => worker.stop() },
        { name: "connectors.outbound", start: () => outbound.start(), stop: () => outbound.stop() },
      ],
    };
  },
});

export type ConnectorsApi = {
  connectors: ReturnType<typeof createConnectorsService>;
  ingest: ReturnType<typeof createIngestService>;
  worker: ReturnType<typeof createDeliveryWorker>;
  deadLetters: ReturnType<typeof createDeadLettersService>;
  outbound: ReturnType<typeof createOutboundService>;
};
