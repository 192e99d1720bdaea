import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { grantsMigrations } from "./grants.migrations.ts";
import { registerGrantRoutes } from "./grants.routes.ts";
import { createGrantsService, type GrantsService } from "./grants.service.ts";

export const grantsActions = {
  "grants:create": rule("admin", "grants.create"),
  "grants:read": rule("admin", "grants.read"),
  "grants:revoke": rule("admin", "grants.revoke"),
} as const satisfies Record<string, ActionRule>;

export const grantsEvents = ["grant.created", "grant.revoked"] as const;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof grantsActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof grantsEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    grants: GrantsService;
  }
}

/** Cross-namespace read grants inside a tenant. */
export const grantsModule = defineModule({
  name: "grants",
  migrations: grantsMigrations,
  actions: grantsActions,
  events: grantsEvents,
  suspicious: ["grant.created", "grant.revoked"],
  create(ctx) {
    const grants = createGrantsService({
      storage: ctx.storage,
      clock: ctx.clock,
      tenants: ctx.use("tenants"),
      audit: ctx.use("audit").append,
    });
    return { api: grants, routes: (app) => registerGrantRoutes(app, grants) };
  },
});
