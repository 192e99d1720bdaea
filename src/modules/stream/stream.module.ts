import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { registerStreamRoutes } from "./stream.routes.ts";

export const streamActions = {
  // Tenant-wide event feed (ids of every memory written, private ones included): admins only.
  "stream:read": rule("admin", "stream.read"),
} as const satisfies Record<string, ActionRule>;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof streamActions, ActionRule> {}
}

/** The live tenant stream: Server-Sent Events over the event bus, resumable by `Last-Event-ID`. */
export const streamModule = defineModule({
  name: "stream",
  actions: streamActions,
  create(ctx) {
    const tenants = ctx.use("tenants");
    return {
      api: undefined,
      routes: (app) => registerStreamRoutes(app, { events: ctx.events, tenants }),
    };
  },
});

declare module "../../platform/module.ts" {
  interface ModuleApis {
    stream: undefined;
  }
}
