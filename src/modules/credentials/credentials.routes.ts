import { z } from "zod";
import type { Action } from "../../platform/auth/actor.ts";
import { actorOf, authErrors, errorEnvelope, page, pageQuery } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { APPROVAL_HEADER } from "../governance/governance.routes.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import {
  createCredentialBody,
  credentialNameSchema,
  credentialSchema,
  oauthCallbackBody,
  oauthStartResponse,
  proxyRequestBody,
  proxyResponseSchema,
  rotateCredentialBody,
} from "./credentials.schemas.ts";
import type { CredentialsService } from "./credentials.service.ts";

const tenantParams = z.object({ tenant_id: tenantIdSchema });
const credentialParams = tenantParams.extend({ name: credentialNameSchema });
const APPROVAL_ID_RE = /^apr_[0-9A-HJKMNP-TV-Z]{26}$/;

const tenantRoute = (action: Action) =>
  ({ auth: { accepts: ["admin_key", "agent_key", "user_token"], action } }) as const;
const proxyErrors = {
  ...authErrors,
  409: errorEnvelope,
  502: errorEnvelope,
  503: errorEnvelope,
  504: errorEnvelope,
};

export function registerCredentialRoutes(app: TypedApp, credentials: CredentialsService): void {
  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/credentials",
    config: tenantRoute("credentials:manage"),
    schema: {
      operationId: "createCredential",
      tags: ["credentials"],
      summary: "Store a third-party credential, sealed at once; it is never returned",
      params: tenantParams,
      body: createCredentialBody,
      response: { 201: credentialSchema, ...authErrors, 409: errorEnvelope, 503: errorEnvelope },
    },
    handler: async (req, reply) =>
      reply.status(201).send(await credentials.create(actorOf(req), req.params.tenant_id, req.body)),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/credentials",
    config: tenantRoute("credentials:read"),
    schema: {
      operationId: "listCredentials",
      tags: ["credentials"],
      summary: "List a tenant's credentials (metadata only)",
      params: tenantParams,
      querystring: pageQuery,
      response: { 200: page(credentialSchema), ...authErrors },
    },
    handler: async (req) =>
      credentials.list(actorOf(req), req.params.tenant_id, {
        after: req.query.cursor,
        limit: req.query.limit,
      }),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/credentials/:name",
    config: tenantRoute("credentials:read"),
    schema: {
      operationId: "getCredential",
      tags: ["credentials"],
      summary: "One credential's metadata (never its secret)",
      params: credentialParams,
      response: { 200: credentialSchema, ...authErrors },
    },
    handler: async (req) => credentials.get(actorOf(req), req.params.tenant_id, req.params.name),
  });

  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/credentials/:name/rotate",
    config: tenantRoute("credentials:manage"),
    schema: {
      operationId: "rotateCredential",
      tags: ["credentials"],
      summary: "Replace a static credential's secret (sealed at once)",
      params: credentialParams,
      body: rotateCredentialBody,
      response: { 200: credentialSchema, ...authErrors, 409: errorEnvelope, 503: errorEnvelope },
    },
    handler: async (req) =>
      credentials.rotate(actorOf(req), req.params.tenant_id, req.params.name, req.body.secret),
  });

  app.route({
    method: "DELETE",
    url: "/v1/tenants/:tenant_id/credentials/:name",
    config: tenantRoute("credentials:manage"),
    schema: {
      operationId: "deleteCredential",
      tags: ["credentials"],
      summary: "Delete a credential (an OAuth credential's tokens are revoked at the provider)",
      params: credentialParams,
      response: { 200: credentialSchema, ...authErrors },
    },
    handler: async (req) => credentials.remove(actorOf(req), req.params.tenant_id, req.params.name),
  });

  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/credentials/:name/oauth/start",
    config: tenantRoute("credentials:connect"),
    schema: {
      operationId: "startCredentialOAuth",
      tags: ["credentials"],
      summary: "Start an OAuth 2.0 grant (authorization code + PKCE); open authorize_url in a browser",
      params: credentialParams,
      response: { 200: oauthStartResponse, ...authErrors, 409: errorEnvelope },
    },
    handler: async (req) => credentials.startOAuth(actorOf(req), req.params.tenant_id, req.params.name),
  });

  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/credentials/:name/oauth/callback",
    config: tenantRoute("credentials:connect"),
    schema: {
      operationId: "completeCredentialOAuth",
      tags: ["credentials"],
      summary: "Finish a grant with the code and state the provider redirected with",
      params: credentialParams,
      body: oauthCallbackBody,
      response: { 200: credentialSchema, ...proxyErrors, 400: errorEnvelope },
    },
    handler: async (req) =>
      credentials.completeOAuth(actorOf(req), req.params.tenant_id, req.params.name, req.body),
  });

  app.route({
    method: "POST",
    url: "/v1/proxy/http",
    config: { auth: { accepts: ["agent_key", "user_token"], action: "credentials:use" } },
    schema: {
      operationId: "proxyHttp",
      tags: ["credentials"],
      summary: "Make an HTTP call with a credential the caller never sees",
      body: proxyRequestBody,
      response: {
        200: proxyResponseSchema,
        202: z.object({ status: z.literal("approval_required"), approval: z.unknown() }),
        ...proxyErrors,
      },
    },
    handler: async (req, reply) => {
      const header = req.headers[APPROVAL_HEADER];
      const approvalId = typeof header === "string" && APPROVAL_ID_RE.test(header) ? header : undefined;
      const out = await credentials.use(actorOf(req), req.body, {
        mode: "admit",
        approvalId,
        route: "/v1/proxy/http",
      });
      if (!out.done) return reply.status(202).send({ status: "approval_required", approval: out.approval });
      return out.response;
    },
  });
}
