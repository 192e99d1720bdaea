import { defineModule } from "../../platform/module.ts";
import { registerHealthRoutes } from "./health.routes.ts";

declare module "../../platform/module.ts" {
  interface ModuleApis {
    health: undefined;
  }
}

/** Liveness and readiness probes: the only routes that answer without credentials. */
export const healthModule = defineModule({
  name: "health",
  create: (ctx) => ({
    api: undefined,
    routes: (app) =>
      registerHealthRoutes(
        app,
        ctx.storage,
        ctx.admission.overloaded,
        ctx.redis && (() => ctx.redis?.ping() ?? Promise.resolve(false)),
      ),
  }),
});
