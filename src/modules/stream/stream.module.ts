import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { createStandingCheck, registerStandingHook, STANDING_CHECK_MS } from "./standing.ts";
import { registerStreamRoutes } from "./stream.routes.ts";

export const streamActions = {
  // Tenant-wide event feed (ids of every memory written, private ones included): admins only.
  "stream:read": rule("admin", "stream.read"),
} as const satisfies Record<string, ActionRule>;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof streamActions, ActionRule> {}
}

/**
 * The live tenant stream: Server-Sent Events over the event bus, resumable by `Last-Event-ID`. Long
 * answers (this stream, NDJSON exports) end once their caller is frozen, paused or revoked.
 */
export const streamModule = defineModule({
  name: "stream",
  actions: streamActions,
  create(ctx) {
    const tenants = ctx.use("tenants");
    const governance = ctx.use("governance").service;
    const standing = createStandingCheck({
      verifyCredential: ctx.use("identity").verifyCredential,
      checkAgentAllowed: (subject) => governance.checkAgentAllowed(subject),
    });
    return {
      api: undefined,
      hooks: (app) => registerStandingHook(app, standing, STANDING_CHECK_MS),
      routes: (app) =>
        registerStreamRoutes(app, {
          events: ctx.events,
          tenants,
          standing,
          standingCheckMs: STANDING_CHECK_MS,
        }),
    };
  },
});

declare module "../../platform/module.ts" {
  interface ModuleApis {
    stream: undefined;
  }
}
