import type { IncomingMessage } from "node:http";
import type { FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import { idPattern } from "../../lib/ids.ts";
import { errorEnvelope } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { MAX_CONNECTOR_BODY_BYTES } from "./connectors.schemas.ts";
import type { IngestService } from "./ingest.service.ts";

const TENANT_RE = idPattern("tenant");
const CONNECTOR_RE = idPattern("connector");

const tooLarge = (limit: number) =>
  new AppError("PAYLOAD_TOO_LARGE", `request body too large for this connector (limit ${limit} bytes)`);

/** Reads a request body into one buffer, refusing it as soon as it passes `limit` bytes. */
async function readLimited(payload: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/**
 * `POST /v1/ingest/{tenant_id}/{connector_id}`: no API key, the signature is the credential. The
 * route lives in its own plugin scope whose only body parser keeps the raw bytes, because every
 * scheme signs the exact bytes sent. Unknown tenant, unknown connector, no secret and a bad
 * signature all get the same 401.
 *
 * The body limit is the connector's (`bodyLimitFor`: GitHub's 25 MB by default), looked up from the
 * path before a byte is read; every other route keeps the server's API body limit.
 */
export function registerIngestRoutes(app: TypedApp, ingest: IngestService): void {
  const apiBodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  void app.register(async (plugin) => {
    const scope = plugin.withTypeProvider<ZodTypeProvider>();
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", async (req: FastifyRequest, payload: IncomingMessage) => {
      const params = req.params as { tenant_id?: unknown; connector_id?: unknown };
      const tenantId = typeof params.tenant_id === "string" ? params.tenant_id : "";
      const connectorId = typeof params.connector_id === "string" ? params.connector_id : "";
      const limit =
        TENANT_RE.test(tenantId) && CONNECTOR_RE.test(connectorId)
          ? await ingest.bodyLimit(tenantId, connectorId, apiBodyLimit)
          : apiBodyLimit;
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
      return readLimited(payload, limit);
    });

    scope.route({
      method: "POST",
      url: "/v1/ingest/:tenant_id/:connector_id",
      config: { auth: { webhook: true, action: "connectors:ingest" } },
      // The parser above enforces each connector's own limit; this is only the ceiling.
      bodyLimit: MAX_CONNECTOR_BODY_BYTES,
      schema: {
        operationId: "ingestWebhook",
        tags: ["connectors"],
        summary: "Receive a signed webhook delivery (authenticated by its signature, not an API key)",
        security: [],
        params: z.object({ tenant_id: z.string().max(64), connector_id: z.string().max(64) }),
        response: {
          200: z.union([
            z.object({ status: z.literal("duplicate") }),
            z.object({ challenge: z.string() }),
            // Slack slash commands and interactions: an empty text/plain body.
            z.literal(""),
          ]),
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
            if (outcome.bare) return reply.status(200).type("text/plain; charset=utf-8").send("");
            return reply.status(202).send({ status: "accepted" as const, id: outcome.id });
        }
      },
    });
  });
}
