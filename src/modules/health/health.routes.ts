import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import type { Storage } from "../../platform/storage/port.ts";

const status = z.object({ status: z.enum(["ok"]) });

/** Probes: the only routes that answer without credentials. They reveal nothing but up/ready. */
export function registerHealthRoutes(
  app: TypedApp,
  storage: Storage,
  overloaded: () => string | null = () => null,
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
        "Readiness: the store answers, every migration is applied, and the server is not shedding load",
      security: [],
      response: { 200: status },
    },
    handler: async () => {
      if (!(await storage.ready())) throw new AppError("UNAVAILABLE", "not ready");
      // A load balancer routes away from a gateway that is refusing work.
      const overload = overloaded();
      if (overload) throw new AppError("OVERLOADED", `overloaded (${overload})`);
      return { status: "ok" as const };
    },
  });
}
