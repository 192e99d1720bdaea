import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import type { Storage } from "../../platform/storage/port.ts";

const status = z.object({ status: z.enum(["ok"]) });
const dependency = z.enum(["ok", "unavailable", "not_configured"]);
const readiness = z.object({
  status: z.enum(["ok", "degraded"]),
  dependencies: z.object({ store: dependency, redis: dependency }),
});

/** Probes: the only routes that answer without credentials. They reveal nothing but up/ready. */
export function registerHealthRoutes(
  app: TypedApp,
  storage: Storage,
  overloaded: () => string | null = () => null,
  /** A Redis round trip, or null when no Redis is configured. */
  redisPing: (() => Promise<boolean>) | null = null,
): void {
  for (const [url, operationId] of [
    ["/healthz", "healthz"],
    ["/health/live", "healthLive"],
  ] as const) {
    app.route({
      method: "GET",
      url,
      config: { auth: { public: true }, admission: "exempt" },
      schema: { operationId, tags: ["health"], summary: "Liveness", security: [], response: { 200: status } },
      handler: async () => ({ status: "ok" as const }),
    });
  }
  app.route({
    method: "GET",
    url: "/health/ready",
    config: { auth: { public: true }, admission: "exempt" },
    schema: {
      operationId: "healthReady",
      tags: ["health"],
      summary:
        "Readiness: the store answers, every migration is applied, and the server is not shedding load; each dependency's state (Redis down is degraded, not unready: every gateway falls back the same way)",
      security: [],
      response: { 200: readiness },
    },
    handler: async () => {
      if (!(await storage.ready())) throw new AppError("UNAVAILABLE", "not ready (store)");
      // A load balancer routes away from a gateway that is refusing work.
      const overload = overloaded();
      if (overload) throw new AppError("OVERLOADED", `overloaded (${overload})`);
      const redis = redisPing === null ? "not_configured" : (await redisPing()) ? "ok" : "unavailable";
      return {
        status: redis === "unavailable" ? ("degraded" as const) : ("ok" as const),
        dependencies: { store: "ok" as const, redis },
      } as const;
    },
  });
}
