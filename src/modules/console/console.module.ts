import { defineModule } from "../../platform/module.ts";
import { registerConsoleRoutes } from "./console.routes.ts";
import { consoleCookies } from "./console.session.ts";

declare module "../../platform/module.ts" {
  interface ModuleApis {
    console: Record<string, never>;
  }
}

/**
 * The operator console at `/console`: server-rendered pages over the same services as the API,
 * called with the signed-in person as the actor (so roles, tenant checks and audit are the API's).
 * It adds no action, audit event or table of its own.
 */
export const consoleModule = defineModule({
  name: "console",
  create(ctx) {
    const identity = ctx.use("identity");
    const governance = ctx.use("governance").service;
    const deps = {
      auth: identity.auth,
      governance,
      audit: ctx.use("audit").service,
      keys: ctx.use("keys"),
      memories: ctx.use("memories"),
      connectors: ctx.use("connectors"),
      policy: governance,
      users: identity.users,
      cookies: consoleCookies(ctx.config.consoleInsecureHttp),
      allowedOrigins: ctx.config.allowedOrigins,
    };
    return { api: {}, routes: (app) => registerConsoleRoutes(app, deps) };
  },
});
