import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { tenantsMigrations } from "./tenants.migrations.ts";
import { registerTenantRoutes } from "./tenants.routes.ts";
import { createTenantsService, type TenantsService } from "./tenants.service.ts";

export const tenantsActions = {
  "tenants:create": rule("instance", "tenants.create"),
  "tenants:read": rule("instance", "tenants.read"),
  "tenants:delete": rule("instance", "tenants.delete"),
  "tenant:read": rule("any", "tenant.read", ["DEVELOPER", "VIEWER", "AUDIT_ADMIN"]),
} as const satisfies Record<string, ActionRule>;

export const tenantsEvents = ["tenant.created", "tenant.read", "tenant.listed", "tenant.deleted"] as const;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof tenantsActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof tenantsEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    tenants: TenantsService;
  }
}

/**
 * Tenants: creation wraps a data key in the same transaction; deletion crypto-shreds it, then every
 * module that subscribed (`onDeleted`) drops what it holds for the tenant.
 */
export const tenantsModule = defineModule({
  name: "tenants",
  migrations: tenantsMigrations,
  actions: tenantsActions,
  events: tenantsEvents,
  suspicious: ["tenant.deleted"],
  async create(ctx) {
    const tenantKeys = ctx.use("tenantKeys");
    const audit = ctx.use("audit");
    const tenants = createTenantsService({
      storage: ctx.storage,
      clock: ctx.clock,
      audit: audit.append,
      provisionKey: tenantKeys.provision,
      shredKey: tenantKeys.shred,
      // Every other gateway drops what it holds for the tenant too (data key, codecs, verifiers).
      announceDeleted: (tenantId) => ctx.invalidation.publish("tenant.deleted", tenantId),
    });
    tenants.onDeleted((tenantId) => {
      tenantKeys.forget(tenantId);
      audit.trail.forget(tenantId);
    });
    ctx.invalidation.subscribe("tenant.deleted", (tenantId) => {
      if (tenantId === null) return tenantKeys.forgetAll();
      tenants.forgetDeleted(tenantId).catch((err: unknown) => {
        ctx.logger.error({ err, tenantId }, "could not drop a deleted tenant's caches");
      });
    });
    // Tenants from before per-tenant keys get theirs now.
    for (const id of await tenants.allIds()) await tenantKeys.ensure(id);
    return { api: tenants, routes: (app) => registerTenantRoutes(app, tenants) };
  },
});
