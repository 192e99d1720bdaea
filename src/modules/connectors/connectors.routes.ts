import { z } from "zod";
import type { Action } from "../../platform/auth/actor.ts";
import { actorOf, authErrors, page, pageQuery } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import {
  bulkReplayBody,
  connectorIdSchema,
  connectorParams,
  connectorSchema,
  createConnectorBody,
  deadLetterSchema,
  deliveryIdSchema,
  healthSchema,
  replayResultSchema,
  rotateSecretBody,
  rotationResultSchema,
  tenantParams,
  updateConnectorBody,
} from "./connectors.contracts.ts";
import type { ConnectorsService } from "./connectors.service.ts";
import type { DeadLettersService } from "./dead-letters.service.ts";

/** Tenant administration: the instance admin key, a tenant key with `admin`, or an ADMIN person. */
const tenantAdmin = (action: Action) =>
  ({ auth: { accepts: ["admin_key", "agent_key", "user_token"], action } }) as const;

export function registerConnectorRoutes(
  app: TypedApp,
  connectors: ConnectorsService,
  deadLetters: DeadLettersService,
): void {
  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/connectors",
    config: tenantAdmin("connectors:manage"),
    schema: {
      operationId: "createConnector",
      tags: ["connectors"],
      summary: "Configure an inbound webhook connector (the secret is stored, never returned)",
      params: tenantParams,
      body: createConnectorBody,
      response: { 201: connectorSchema, ...authErrors },
    },
    handler: async (req, reply) =>
      reply.status(201).send(await connectors.create(actorOf(req), req.params.tenant_id, req.body)),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/connectors",
    config: tenantAdmin("connectors:read"),
    schema: {
      operationId: "listConnectors",
      tags: ["connectors"],
      summary: "List a tenant's connectors",
      params: tenantParams,
      querystring: pageQuery,
      response: { 200: page(connectorSchema), ...authErrors },
    },
    handler: async (req) =>
      connectors.list(actorOf(req), req.params.tenant_id, {
        after: req.query.cursor,
        limit: req.query.limit,
      }),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/connectors/:connector_id",
    config: tenantAdmin("connectors:read"),
    schema: {
      operationId: "getConnector",
      tags: ["connectors"],
      summary: "Read one connector",
      params: connectorParams,
      response: { 200: connectorSchema, ...authErrors },
    },
    handler: async (req) => connectors.get(actorOf(req), req.params.tenant_id, req.params.connector_id),
  });

  app.route({
    method: "PATCH",
    url: "/v1/tenants/:tenant_id/connectors/:connector_id",
    config: tenantAdmin("connectors:manage"),
    schema: {
      operationId: "updateConnector",
      tags: ["connectors"],
      summary: "Rename a connector or replace its config (omit the secret to keep the stored one)",
      params: connectorParams,
      body: updateConnectorBody,
      response: { 200: connectorSchema, ...authErrors },
    },
    handler: async (req) =>
      connectors.update(actorOf(req), req.params.tenant_id, req.params.connector_id, req.body),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/connectors/:connector_id/health",
    config: tenantAdmin("connectors:read"),
    schema: {
      operationId: "connectorHealth",
      tags: ["connectors"],
      summary: "Webhook health: last delivery, success rate, signature failures, dead letters pending",
      params: connectorParams,
      response: { 200: healthSchema, ...authErrors },
    },
    handler: async (req) => connectors.health(actorOf(req), req.params.tenant_id, req.params.connector_id),
  });

  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/connectors/:connector_id/secret/rotate",
    config: tenantAdmin("connectors:manage"),
    schema: {
      operationId: "rotateConnectorSecret",
      tags: ["connectors"],
      summary:
        "Roll the signing secret: the new one is current, the old one keeps verifying until the grace period ends",
      params: connectorParams,
      body: rotateSecretBody,
      response: { 200: rotationResultSchema, ...authErrors },
    },
    handler: async (req) =>
      connectors.rotateSecret(actorOf(req), req.params.tenant_id, req.params.connector_id, req.body),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id/connectors/:connector_id/secret/previous",
    config: tenantAdmin("connectors:manage"),
    schema: {
      operationId: "endConnectorSecretRotation",
      tags: ["connectors"],
      summary: "End a rotation now: the previous secret stops verifying",
      params: connectorParams,
      response: { 200: rotationResultSchema, ...authErrors },
    },
    handler: async (req) =>
      connectors.endRotation(actorOf(req), req.params.tenant_id, req.params.connector_id),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id/connectors/:connector_id",
    config: tenantAdmin("connectors:manage"),
    schema: {
      operationId: "deleteConnector",
      tags: ["connectors"],
      summary: "Delete a connector; its endpoint answers 401 from then on",
      params: connectorParams,
      response: { 200: connectorSchema, ...authErrors },
    },
    handler: async (req) => connectors.remove(actorOf(req), req.params.tenant_id, req.params.connector_id),
  });

  app.route({
    method: "GET",
    url: "/admin/webhooks/dead-letters/:tenant_id",
    config: tenantAdmin("deadletters:manage"),
    schema: {
      operationId: "listDeadLetters",
      tags: ["connectors"],
      summary: "Deliveries that failed every attempt, with the error and the raw payload",
      params: tenantParams,
      querystring: pageQuery.extend({ connector_id: connectorIdSchema.optional() }),
      response: { 200: page(deadLetterSchema), ...authErrors },
    },
    handler: async (req) =>
      deadLetters.list(actorOf(req), req.params.tenant_id, {
        after: req.query.cursor,
        limit: req.query.limit,
        connectorId: req.query.connector_id,
      }),
  });

  app.route({
    method: "POST",
    url: "/admin/webhooks/replay/:tenant_id/:event_id",
    config: tenantAdmin("deadletters:manage"),
    schema: {
      operationId: "replayDeadLetter",
      tags: ["connectors"],
      summary: "Put one dead letter back in the inbox (idempotent, audited)",
      params: tenantParams.extend({ event_id: deliveryIdSchema }),
      response: { 200: replayResultSchema, ...authErrors },
    },
    handler: async (req) => deadLetters.replay(actorOf(req), req.params.tenant_id, req.params.event_id),
  });

  app.route({
    method: "POST",
    url: "/admin/webhooks/replay/:tenant_id",
    config: tenantAdmin("deadletters:manage"),
    schema: {
      operationId: "replayDeadLetters",
      tags: ["connectors"],
      summary: "Put a tenant's dead letters (optionally one connector's) back in the inbox",
      params: tenantParams,
      body: bulkReplayBody,
      response: { 200: z.object({ replayed: z.number(), ids: z.array(z.string()) }), ...authErrors },
    },
    handler: async (req) =>
      deadLetters.replayAll(actorOf(req), req.params.tenant_id, {
        connectorId: req.body.connector_id,
        limit: req.body.limit,
      }),
  });
}
