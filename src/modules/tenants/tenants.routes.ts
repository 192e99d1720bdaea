import { z } from "zod";
import { actorOf, authErrors, page, pageQuery } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { createTenantBody, deletedTenantSchema, tenantIdSchema, tenantSchema } from "./tenants.schemas.ts";
import type { TenantsService } from "./tenants.service.ts";

export function registerTenantRoutes(app: TypedApp, tenants: TenantsService): void {
  app.route({
    method: "POST",
    url: "/v1/tenants",
    config: { auth: { accepts: ["admin_key"], action: "tenants:create" } },
    schema: {
      operationId: "createTenant",
      tags: ["tenants"],
      summary: "Create a tenant (instance admin)",
      body: createTenantBody,
      response: { 201: tenantSchema, ...authErrors, 409: authErrors[401] },
    },
    handler: async (req, reply) => reply.status(201).send(await tenants.create(actorOf(req), req.body)),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants",
    config: { auth: { accepts: ["admin_key"], action: "tenants:read" } },
    schema: {
      operationId: "listTenants",
      tags: ["tenants"],
      summary: "List tenants (instance admin)",
      querystring: pageQuery,
      response: { 200: page(tenantSchema), ...authErrors },
    },
    handler: async (req) => tenants.list(actorOf(req), { after: req.query.cursor, limit: req.query.limit }),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "tenant:read" } },
    schema: {
      operationId: "getTenant",
      tags: ["tenants"],
      summary: "Read a tenant",
      params: z.object({ tenant_id: tenantIdSchema }),
      response: { 200: tenantSchema, ...authErrors },
    },
    handler: async (req) => tenants.get(actorOf(req), req.params.tenant_id),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id",
    config: { auth: { accepts: ["admin_key"], action: "tenants:delete" } },
    schema: {
      operationId: "deleteTenant",
      tags: ["tenants"],
      summary: "Delete a tenant and crypto-shred its data (instance admin)",
      params: z.object({ tenant_id: tenantIdSchema }),
      response: { 200: deletedTenantSchema, ...authErrors },
    },
    handler: async (req) => tenants.remove(actorOf(req), req.params.tenant_id),
  });
}
