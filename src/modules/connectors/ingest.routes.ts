import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import { idPattern } from "../../lib/ids.ts";
import { errorEnvelope } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import type { IngestService } from "./ingest.service.ts";

const TENANT_RE = idPattern("tenant");
const CONNECTOR_RE = idPattern("connector");

/**
 * `POST /v1/ingest/{tenant_id}/{connector_id}`: no API key, the signature is the credential. The
 * route lives in its own plugin scope whose only body parser keeps the raw bytes, because every
 * scheme signs the exact bytes sent. Unknown tenant, unknown connector, no secret and a bad
 * signature all get the same 401.
 */
export function registerIngestRoutes(app: TypedApp, ingest: IngestService): void {
  void app.register(async (plugin) => {
    const scope = plugin.withTypeProvider<ZodTypeProvider>();
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

    scope.route({
      method: "POST",
      url: "/v1/ingest/:tenant_id/:connector_id",
      config: { auth: { webhook: true, action: "connectors:ingest" } },
      schema: {
        operationId: "ingestWebhook",
        tags: ["connectors"],
        summary: "Receive a signed webhook delivery (authenticated by its signature, not an API key)",
        security: [],
        params: z.object({ tenant_id: z.string().max(64), connector_id: z.string().max(64) }),
        response: {
          200: z.union([z.object({ status: z.literal("duplicate") }), z.object({ challenge: z.string() })]),
          202: z.object({ status: z.literal("accepted"), id: z.string() }),
          400: errorEnvelope,
          401: errorEnvelope,
          413: errorEnvelope,
        },
      },
      handler: async (req, reply) => {
        const startedAt = process.hrtime.bigint();
        const { tenant_id: tenantId, connector_id: connectorId } = req.params;
        const rejected = new AppError("INVALID_CREDENTIALS", "webhook signature not accepted");
        if (!TENANT_RE.test(tenantId) || !CONNECTOR_RE.test(connectorId)) throw rejected;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const outcome = await ingest.ingest({ tenantId, connectorId, headers: req.headers, body, startedAt });
        switch (outcome.kind) {
          case "rejected":
            throw rejected;
          case "unidentified":
            throw new AppError("BAD_REQUEST", "the delivery carries no delivery id");
          case "challenge":
            return reply.status(200).send({ challenge: outcome.challenge });
          case "duplicate":
            return reply.status(200).send({ status: "duplicate" as const });
          case "accepted":
            return reply.status(202).send({ status: "accepted" as const, id: outcome.id });
        }
      },
    });
  });
}
