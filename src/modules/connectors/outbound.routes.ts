import type { Action } from "../../platform/auth/actor.ts";
import { actorOf, authErrors, page, pageQuery } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { tenantParams } from "./connectors.contracts.ts";
import {
  createdWebhookSchema,
  createWebhookBody,
  type OutboundService,
  webhookIdSchema,
  webhookSchema,
} from "./outbound.service.ts";

/** Tenant administration: the instance admin key, a tenant key with `admin`, or an ADMIN person. */
const tenantAdmin = (action: Action) =>
  ({ auth: { accepts: ["admin_key", "agent_key", "user_token"], action } }) as const;

export function registerOutboundRoutes(app: TypedApp, outbound: OutboundService): void {
  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/webhooks",
    config: tenantAdmin("webhooks:manage"),
    schema: {
      operationId: "createWebhook",
      tags: ["webhooks"],
      summary: "Subscribe a URL to events; the signing secret is in this response only",
      params: tenantParams,
      body: createWebhookBody,
      response: { 201: createdWebhookSchema, ...authErrors },
    },
    handler: async (req, reply) =>
      reply.status(201).send(await outbound.create(actorOf(req), req.params.tenant_id, req.body)),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/webhooks",
    config: tenantAdmin("webhooks:manage"),
    schema: {
      operationId: "listWebhooks",
      tags: ["webhooks"],
      summary: "List a tenant's outbound webhook subscriptions",
      params: tenantParams,
      querystring: pageQuery,
      response: { 200: page(webhookSchema), ...authErrors },
    },
    handler: async (req) =>
      outbound.list(actorOf(req), req.params.tenant_id, { after: req.query.cursor, limit: req.query.limit }),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id/webhooks/:webhook_id",
    config: tenantAdmin("webhooks:manage"),
    schema: {
      operationId: "deleteWebhook",
      tags: ["webhooks"],
      summary: "Remove a subscription and its queued deliveries",
      params: tenantParams.extend({ webhook_id: webhookIdSchema }),
      response: { 200: webhookSchema, ...authErrors },
    },
    handler: async (req) => outbound.remove(actorOf(req), req.params.tenant_id, req.params.webhook_id),
  });
}
