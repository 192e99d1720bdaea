import { createEgressGuard, egressAllowList } from "../../lib/egress/egress-guard.ts";
import { createThreadCalls } from "../../lib/thread-calls.ts";
import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { tracedEgress } from "../../platform/telemetry.ts";
import type { Detection, DetectRequest } from "../guardrails/guardrails.ts";
import { createGuardrails, guardrailPolicySchema, loadNameModels } from "../guardrails/index.ts";
import { createLlmJudge, guardedJudgeTransport } from "../guardrails/judge.ts";
import { governanceToBus } from "./governance.events.ts";
import { governanceMigrations } from "./governance.migrations.ts";
import { registerGovernanceHooks, registerGovernanceRoutes } from "./governance.routes.ts";
import {
  createGovernanceService,
  type GovernanceEvent,
  type GovernanceService,
} from "./governance.service.ts";
import { createMemoryScreen, type MemoryScreen } from "./memory-screen.ts";

export const governanceActions = {
  "approvals:decide": rule("write", "approvals.decide", ["DEVELOPER"]),
  // Any key may see the approvals it asked for (the service narrows agents to their own).
  "approvals:read": rule("any", "approvals.read", ["DEVELOPER", "VIEWER", "AUDIT_ADMIN"]),
  "policy:read": rule("admin", "tenant.policy.read", ["DEVELOPER", "AUDIT_ADMIN"]),
  "policy:write": rule("admin", "tenant.policy.write"),
  "governance:override": rule("admin", "governance.override"),
  "keys:resume": rule("admin", "keys.resume", ["DEVELOPER"]),
} as const satisfies Record<string, ActionRule>;

export const governanceEvents = [
  "policy.updated",
  "approval.requested",
  "approval.voted",
  "approval.decided",
  "approval.consumed",
  "approval.cancelled",
  "override.set",
  "override.lifted",
  "agent.paused",
  "agent.resumed",
  "anomaly.recall_volume",
  "guardrail.flagged",
  "guardrail.blocked",
] as const;

export type GovernanceApi = {
  service: GovernanceService;
  /** Guardrails on memory writes, recall and ingestion, by the tenant's policy. */
  screen: MemoryScreen;
  /** Subscribes to governance events (approval.*, agent.*, anomaly.*); returns an unsubscribe. */
  onEvent(listener: (event: GovernanceEvent) => void): () => void;
  /**
   * Loads the guardrails' person-name models (about a second) on this thread and on the detector
   * thread, so the first screened request does not wait for them. `hypha serve` calls it before it
   * listens; otherwise they load on first use.
   */
  warm(): Promise<void>;
};

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof governanceActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof governanceEvents)[number], true> {}
}
declare module "../../platform/events/bus.ts" {
  interface BusEventRegistry
    extends Record<
      | "approval.requested"
      | "approval.decided"
      | "killswitch.changed"
      | "agent.paused"
      | "agent.resumed"
      | "anomaly.recall_volume",
      true
    > {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    governance: GovernanceApi;
  }
}

/**
 * Governance: tenant policy and risk tiers, approvals, the kill switch, anomaly detection and the
 * guardrail screen. Its hooks gate every tenant caller's request (approvals) and watch agent traffic.
 */
export const governanceModule = defineModule({
  name: "governance",
  migrations: governanceMigrations,
  actions: governanceActions,
  events: governanceEvents,
  suspicious: [
    "policy.updated",
    "override.set",
    "override.lifted",
    "agent.paused",
    "agent.resumed",
    "anomaly.recall_volume",
    "guardrail.blocked",
  ],
  create(ctx) {
    const { config, storage, clock, logger, events } = ctx;
    const tenants = ctx.use("tenants");
    const keys = ctx.use("keys");
    const audit = ctx.use("audit").append;
    // Governance announces through these listeners; the event bus is one of them.
    const listeners = new Set<(event: GovernanceEvent) => void>();
    const toBus = governanceToBus({ events, allTenantIds: tenants.allIds });
    listeners.add((event) => {
      toBus(event).catch((err) => logger.error({ err, type: event.type }, "governance event not published"));
    });
    const service = createGovernanceService({
      storage,
      clock,
      tenants,
      rateLimiter: ctx.rateLimiter,
      invalidation: ctx.invalidation,
      allTenantIds: tenants.allIds,
      audit,
      keyExists: keys.exists,
      keyMadeBy: keys.madeBy,
      publish: (event) => {
        for (const listener of listeners) listener(event);
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
            tracedEgress(
              ctx.telemetry,
              createEgressGuard({
                allow: egressAllowList(config.egressAllow),
                timeoutMs: config.judgeTimeoutMs,
                maxResponseBytes: 64 * 1024,
              }),
              "judge",
            ),
          ),
        )
      : undefined;
    // Batch writes' texts are screened on a thread of their own (detect.worker.ts), started on first use.
    const detector = createThreadCalls<DetectRequest, Detection[]>(
      new URL("../guardrails/detect.worker.ts", import.meta.url),
      "guardrail detector",
    );
    const screen = createMemoryScreen({
      guardrails: createGuardrails({ clock, detectMany: detector.call, ...(judge ? { judge } : {}) }),
      policyFor: (tenantId) => service.policyFor(tenantId),
      recordRecallVolume: (actor, bytes) => service.recordRecallVolume(actor, bytes),
      storage,
      clock,
      audit,
    });
    return {
      api: {
        service,
        screen,
        onEvent(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        async warm() {
          const thread = detector.call({
            direction: "inbound",
            texts: [],
            policy: guardrailPolicySchema.parse({}),
          });
          loadNameModels();
          await thread;
        },
      },
      close: () => detector.close(),
      hooks: (app) => registerGovernanceHooks(app, service),
      routes: (app) => registerGovernanceRoutes(app, service),
    };
  },
});
