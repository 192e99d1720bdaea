import { z } from "zod";
import { actorOf, authErrors, page, pageQuery } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import { createGrantBody, grantIdSchema, grantSchema } from "./grants.schemas.ts";
import type { GrantsService } from "./grants.service.ts";

const tenantParams = z.object({ tenant_id: tenantIdSchema });
const ACCEPTS = ["admin_key", "agent_key", "user_token"] as const;

export function registerGrantRoutes(app: TypedApp, grants: GrantsService): void {
  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/grants",
    config: { auth: { accepts: ACCEPTS, action: "grants:create" } },
    schema: {
      operationId: "createGrant",
      tags: ["grants"],
      summary: "Let agents of one namespace read another namespace (optionally some types, until an expiry)",
      params: tenantParams,
      body: createGrantBody,
      response: { 201: grantSchema, ...authErrors },
    },
    handler: async (req, reply) =>
      reply.status(201).send(await grants.create(actorOf(req), req.params.tenant_id, req.body)),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/grants",
    config: { auth: { accepts: ACCEPTS, action: "grants:read" } },
    schema: {
      operationId: "listGrants",
      tags: ["grants"],
      summary: "List a tenant's namespace grants",
      params: tenantParams,
      querystring: pageQuery,
      response: { 200: page(grantSchema), ...authErrors },
    },
    handler: async (req) =>
      grants.list(actorOf(req), req.params.tenant_id, { after: req.query.cursor, limit: req.query.limit }),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id/grants/:grant_id",
    config: { auth: { accepts: ACCEPTS, action: "grants:revoke" } },
    schema: {
      operationId: "revokeGrant",
      tags: ["grants"],
      summary: "Revoke a namespace grant at once",
      params: tenantParams.extend({ grant_id: grantIdSchema }),
      response: { 200: grantSchema, ...authErrors },
    },
    handler: async (req) => grants.revoke(actorOf(req), req.params.tenant_id, req.params.grant_id),
  });
}
