import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { auditMigrations } from "./audit.migrations.ts";
import { registerAuditRoutes } from "./audit.routes.ts";
import { type AuditService, createAuditService } from "./audit.service.ts";
import { type AuditSink, type AuditTrail, createAuditTrail, createAuthFailureAudit } from "./audit.trail.ts";
import { loadCheckpointKey } from "./checkpoint-key.ts";
import { createDenialAudit, type DenialAudit } from "./denials.ts";

export const auditActions = {
  // The trail names every actor and memory id of the tenant (private ones included): admin level.
  "audit:read": rule("admin", "audit.read", ["AUDIT_ADMIN"]),
  "audit:verify": rule("admin", "audit.verify", ["AUDIT_ADMIN"]),
} as const satisfies Record<string, ActionRule>;

export const auditEvents = [
  "audit.read",
  "audit.verified",
  "audit.retention_applied",
  "audit.anchored",
  "access.denied",
] as const;

export type AuditApi = {
  /** Appends an event inside the caller's transaction (the keyed, per-tenant chain). */
  append: AuditSink;
  trail: AuditTrail;
  service: AuditService;
  /** Records a refused request in the caller's chain. */
  recordDenial: DenialAudit;
  /** Records a failed authentication in the instance chain (folded per address and minute). */
  recordAuthFailure(
    origin: { requestId: string; ip: string; userAgent: string | null },
    code: string,
    route: string,
  ): Promise<void>;
};

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof auditActions, ActionRule> {}
}
declare module "./audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof auditEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    audit: AuditApi;
  }
}

/** The keyed, tamper-evident trail: every module appends to it inside its own transactions. */
export const auditModule = defineModule({
  name: "audit",
  migrations: auditMigrations,
  actions: auditActions,
  events: auditEvents,
  suspicious: ["access.denied", "audit.retention_applied"],
  create(ctx) {
    const { storage, clock, logger, config } = ctx;
    const tenantKeys = ctx.use("tenantKeys");
    const trail = createAuditTrail({
      storage,
      clock,
      logger,
      dataDir: config.dataDir,
      auditKey: tenantKeys.auditKey,
      checkpointKey: loadCheckpointKey(ctx.secretsDir),
      anchorFile: config.auditAnchorFile,
    });
    const authFailures = createAuthFailureAudit({ append: trail.append, storage, clock });
    const service = createAuditService({
      trail,
      clock,
      suspicious: ctx.vocabulary.suspicious,
      requireTenant: (tenantId) => ctx.use("tenants").requireActive(tenantId),
    });
    return {
      api: {
        append: trail.append,
        trail,
        service,
        recordDenial: createDenialAudit({ append: trail.append, storage, clock }),
        recordAuthFailure: authFailures.record,
      },
      routes: (app) => registerAuditRoutes(app, service),
      async close() {
        await authFailures.flush();
        await trail.flush();
      },
    };
  },
});
