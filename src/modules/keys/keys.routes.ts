import { z } from "zod";
import { actorOf, authErrors, page, pageQuery } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import { createdKeySchema, createKeyBody, keyIdSchema, keySchema, rotateKeyBody } from "./keys.schemas.ts";
import type { KeysService } from "./keys.service.ts";

const tenantParams = z.object({ tenant_id: tenantIdSchema });

export function registerKeyRoutes(app: TypedApp, keys: KeysService): void {
  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/keys",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "keys:create" } },
    schema: {
      operationId: "createKey",
      tags: ["keys"],
      summary: "Create an API key; the full key is in this response only",
      params: tenantParams,
      body: createKeyBody,
      response: { 201: createdKeySchema, ...authErrors },
    },
    handler: async (req, reply) =>
      reply.status(201).send(await keys.create(actorOf(req), req.params.tenant_id, req.body)),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/keys",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "keys:read" } },
    schema: {
      operationId: "listKeys",
      tags: ["keys"],
      summary: "List a tenant's keys (metadata only)",
      params: tenantParams,
      querystring: pageQuery,
      response: { 200: page(keySchema), ...authErrors },
    },
    handler: async (req) =>
      keys.list(actorOf(req), req.params.tenant_id, { after: req.query.cursor, limit: req.query.limit }),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id/keys/:key_id",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "keys:revoke" } },
    schema: {
      operationId: "revokeKey",
      tags: ["keys"],
      summary: "Revoke a key at once",
      params: tenantParams.extend({ key_id: keyIdSchema }),
      response: { 200: keySchema, ...authErrors },
    },
    handler: async (req) => keys.revoke(actorOf(req), req.params.tenant_id, req.params.key_id),
  });

  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/keys/:key_id/rotate",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "keys:rotate" } },
    schema: {
      operationId: "rotateKey",
      tags: ["keys"],
      summary:
        "Replace a key; the old one keeps working for grace_seconds. The new key is in this response only",
      params: tenantParams.extend({ key_id: keyIdSchema }),
      body: rotateKeyBody,
      response: { 201: createdKeySchema, ...authErrors, 409: authErrors[401] },
    },
    handler: async (req, reply) =>
      reply
        .status(201)
        .send(
          await keys.rotate(actorOf(req), req.params.tenant_id, req.params.key_id, req.body.grace_seconds),
        ),
  });
}
