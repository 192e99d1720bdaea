import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { keysMigrations } from "./keys.migrations.ts";
import { registerKeyRoutes } from "./keys.routes.ts";
import { createKeysService, type KeysService } from "./keys.service.ts";

export const keysActions = {
  "keys:create": rule("admin", "keys.create", ["DEVELOPER"]),
  "keys:read": rule("admin", "keys.read", ["DEVELOPER"]),
  "keys:revoke": rule("admin", "keys.revoke", ["DEVELOPER"]),
  "keys:rotate": rule("admin", "keys.rotate", ["DEVELOPER"]),
  /**
   * Making or rotating a key under an agent name whose keys another person made (such a key reads
   * that agent's private memories): ADMIN only. Keys are held to their own agent name instead.
   */
  "keys:any_agent": rule("admin", "agents.any"),
} as const satisfies Record<string, ActionRule>;

export const keysEvents = ["key.created", "key.revoked", "key.rotated", "key.listed"] as const;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof keysActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof keysEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    keys: KeysService;
  }
}

/** Agent keys: stored as SHA-256 hashes only, shown once, scoped, expiring, revocable. */
export const keysModule = defineModule({
  name: "keys",
  migrations: keysMigrations,
  actions: keysActions,
  events: keysEvents,
  suspicious: ["key.created", "key.revoked", "key.rotated"],
  create(ctx) {
    const keys = createKeysService({
      storage: ctx.storage,
      clock: ctx.clock,
      tenants: ctx.use("tenants"),
      audit: ctx.use("audit").append,
      // Governance is built after keys and owns pauses; asked per rotation, once every module is built.
      keyHold: (tenantId, keyId) => ctx.use("governance").service.keyHold(tenantId, keyId),
    });
    return { api: keys, routes: (app) => registerKeyRoutes(app, keys) };
  },
});
