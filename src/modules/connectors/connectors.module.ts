import type { Clock } from "../../lib/clock.ts";
import { createEgressGuard, type EgressGuard, egressAllowList } from "../../lib/egress/egress-guard.ts";
import type { Logger } from "../../lib/logger.ts";
import type { EventBus } from "../../platform/events/bus.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import type { Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import { registerStreamRoutes } from "../stream/stream.routes.ts";
import type { TenantsService } from "../tenants/tenants.service.ts";
import { registerConnectorRoutes } from "./connectors.routes.ts";
import type { CipherOf } from "./connectors.sealing.ts";
import { createConnectorsService } from "./connectors.service.ts";
import { createDeadLettersService } from "./dead-letters.service.ts";
import {
  type Backoff,
  createDeliveryWorker,
  type IngestScreen,
  type MemoryWriterSource,
} from "./delivery-worker.ts";
import { createInboundVerifier } from "./inbound.ts";
import { registerIngestRoutes } from "./ingest.routes.ts";
import { createIngestService } from "./ingest.service.ts";
import { registerOutboundRoutes } from "./outbound.routes.ts";
import { createOutboundService, type OutboundPolicy } from "./outbound.service.ts";

/**
 * Connectors: signed webhook ingestion into a durable inbox, the worker that turns deliveries into
 * memories, dead letters and replay, connector health, outbound webhooks, and the live tenant stream.
 */
export function createConnectorsModule(deps: {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  tenants: TenantsService;
  events: EventBus;
  /** The keyed audit trail (`trail.append`): every connector event joins the tenant's chain. */
  audit: AuditSink;
  /** The tenant field cipher: connector and webhook secrets and raw payloads are sealed with it. */
  cipher: CipherOf;
  /** The memories service: deliveries become memories through its writer (sealed like REST writes). */
  memories: MemoryWriterSource;
  maxContentBytes: number;
  egressAllow: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  egress?: EgressGuard;
  backoff?: Backoff;
  outboundPolicy?: OutboundPolicy;
  /** The kill switch by tenant: the inbox worker and the outbound sender wait while it says false. */
  tenantAllowed?: (tenantId: string) => Promise<boolean>;
  /** Guardrails on delivered text before it becomes memories. */
  screen?: IngestScreen;
}) {
  const { storage, clock, logger, tenants, events, audit, cipher } = deps;
  const listTenants = async () =>
    (
      await storage.control.all<{ id: string }>("SELECT id FROM tenants WHERE status = 'active' ORDER BY id")
    ).map((r) => r.id);
  const egress =
    deps.egress ??
    createEgressGuard({
      allow: egressAllowList(deps.egressAllow),
      timeoutMs: 10_000,
      maxResponseBytes: 64 * 1024,
    });

  const connectors = createConnectorsService({ storage, clock, tenants, audit, cipher });
  const worker = createDeliveryWorker({
    storage,
    clock,
    events,
    logger,
    audit,
    cipher,
    memories: deps.memories,
    maxContentBytes: deps.maxContentBytes,
    listTenants,
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
    ...(deps.tenantAllowed ? { tenantAllowed: deps.tenantAllowed } : {}),
    ...(deps.screen ? { screen: deps.screen } : {}),
  });
  const ingest = createIngestService({
    storage,
    clock,
    connectors,
    verifier: createInboundVerifier({
      clock,
      fetchJwks: async (url, init) => {
        const r = await egress.fetch(url, { method: "GET", headers: { accept: "application/json" } });
        if (!r.ok) throw new Error(`JWKS fetch refused: ${r.reason}`);
        void init;
        return new Response(new Uint8Array(r.body), { status: r.status });
      },
    }),
    events,
    logger,
    env: deps.env ?? process.env,
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
    ...(deps.outboundPolicy ? { policy: deps.outboundPolicy } : {}),
    ...(deps.tenantAllowed ? { tenantAllowed: deps.tenantAllowed } : {}),
  });

  return {
    connectors,
    ingest,
    worker,
    deadLetters,
    outbound,
    registerRoutes(app: TypedApp) {
      registerIngestRoutes(app, ingest);
      registerConnectorRoutes(app, connectors, deadLetters);
      registerOutboundRoutes(app, outbound);
      registerStreamRoutes(app, { events, tenants });
    },
    start() {
      worker.start();
      outbound.start();
    },
    async stop() {
      await worker.stop();
      await outbound.stop();
    },
  };
}

export type ConnectorsModule = ReturnType<typeof createConnectorsModule>;
