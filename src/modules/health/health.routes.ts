import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import type { Storage } from "../../platform/storage/port.ts";

const status = z.object({ status: z.enum(["ok"]) });

/** Probes: the only routes that answer without credentials. They reveal nothing but up/ready. */
export function registerHealthRoutes(app: TypedApp, storage: Storage): void {
  for (const [url, operationId] of [
    ["/healthz", "healthz"],
    ["/health/live", "healthLive"],
  ] as const) {
    app.route({
      method: "GET",
      url,
      config: { auth: { public: true } },
      schema: { operationId, tags: ["health"], summary: "Liveness", security: [], response: { 200: status } },
      handler: async () => ({ status: "ok" as const }),
    });
  }
  app.route({
    method: "GET",
    url: "/health/ready",
    config: { auth: { public: true } },
    schema: {
      operationId: "healthReady",
      tags: ["health"],
      summary: "Readiness: the store answers and every migration is applied",
      security: [],
      response: { 200: status },
    },
    handler: async () => {
      if (!(await storage.ready())) throw new AppError("UNAVAILABLE", "not ready");
      return { status: "ok" as const };
    },
  });
}
