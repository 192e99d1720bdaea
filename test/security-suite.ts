import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { RouteRecord } from "../src/platform/http/server.ts";
import { errorCode, type TestServer } from "./harness.ts";

/** Ids the samples point at: the caller's own objects and another tenant's. */
export type Fixture = {
  tenantId: string;
  otherTenantId: string;
  memoryId: string;
  otherMemoryId: string;
  /** A key of `tenantId` that no request authenticates with (the revoke sample spends it). */
  keyId: string;
  /** A key of `tenantId` that the rotate sample replaces. */
  rotateKeyId: string;
  otherKeyId: string;
  /** A user of `tenantId`, and one of the other tenant. */
  userId: string;
  otherUserId: string;
  /** A namespace grant of `tenantId`, and one of the other tenant. */
  grantId: string;
  otherGrantId: string;
  /** Read-write agent key of `tenantId`. */
  key: string;
  /** tenant:admin key of `tenantId`. */
  adminKey: string;
  /** A DEVELOPER's access token in `tenantId`, and a new sign-in (after the JWT rotation sample). */
  userToken: string;
  signIn: () => Promise<string>;
  /** Pending approvals the `key` asked for (one to approve, one to reject), and one of the other tenant. */
  approvalId: string;
  rejectApprovalId: string;
  otherApprovalId: string;
  /** audit:read key of `tenantId`. */
  auditKey: string;
  /** A tenant that exists only to be deleted by the tenant-delete sample. */
  spareTenantId: string;
  /** A connector of `tenantId` and one of the other tenant. */
  connectorId: string;
  otherConnectorId: string;
  /** A dead-letter-shaped delivery id (no such delivery needs to exist for the shared cases). */
  deliveryId: string;
  /** An outbound webhook of `tenantId` (the delete sample spends it) and one of the other tenant. */
  webhookId: string;
  otherWebhookId: string;
  /** A key holding `credentials.use`, and a local receiver the fixture's credential is bound to. */
  credentialKey: string;
  receiverUrl: string;
};

export type Sample = {
  /** A valid request for this route, as the caller of `tenantId`. */
  path: (f: Fixture) => string;
  body?: (f: Fixture) => unknown;
  /** Which agent key is enough: null when only the instance admin (or a metrics token) may call. */
  agentScope:
    | "any"
    | "memories:read"
    | "memories:write"
    | "tenant:admin"
    | "audit:read"
    | "credentials.use"
    | null;
  /** Extra headers the rightful request needs (e.g. the Accept header MCP requires). */
  headers?: Record<string, string>;
  /** The rightful caller's status when it is not a 2xx (a 405 that names the allowed method). */
  okStatus?: number;
  /** The rightful caller is a person (a DEVELOPER's token) rather than a key. */
  caller?: "user";
  /** Same request aimed at the other tenant's object or path, and the status it must get. */
  crossTenant?: { path: (f: Fixture) => string; status: 403 | 404 };
};

/**
 * One entry per route. The route-table test fails when a route has no entry here, so every new
 * route gets the shared security cases.
 */
export const SAMPLES: Record<string, Sample> = {
  "GET /metrics": { path: () => "/metrics", agentScope: null },
  "POST /v1/tenants": {
    path: () => "/v1/tenants",
    body: () => ({ name: `n${Math.random()}`.replace(".", "") }),
    agentScope: null,
  },
  "GET /v1/tenants": { path: () => "/v1/tenants", agentScope: null },
  "GET /v1/tenants/:tenant_id": {
    path: (f) => `/v1/tenants/${f.tenantId}`,
    agentScope: "any",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}`, status: 404 },
  },
  "DELETE /v1/tenants/:tenant_id": { path: (f) => `/v1/tenants/${f.spareTenantId}`, agentScope: null },
  "GET /v1/audit/events": {
    path: () => "/v1/audit/events?suspicious=true",
    agentScope: "audit:read",
    crossTenant: { path: (f) => `/v1/audit/events?tenant_id=${f.otherTenantId}`, status: 404 },
  },
  "GET /v1/audit/verify": {
    path: () => "/v1/audit/verify",
    agentScope: "audit:read",
    crossTenant: { path: (f) => `/v1/audit/verify?tenant_id=${f.otherTenantId}`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/keys": {
    path: (f) => `/v1/tenants/${f.tenantId}/keys`,
    // A key makes keys of its own agent with no more than its own rights (test/key-grants.test.ts).
    body: () => ({ agent: "tenant-admin", scopes: ["tenant:admin"] }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/keys`, status: 403 },
  },
  "GET /v1/tenants/:tenant_id/keys": {
    path: (f) => `/v1/tenants/${f.tenantId}/keys`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/keys`, status: 404 },
  },
  "DELETE /v1/tenants/:tenant_id/keys/:key_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/keys/${f.keyId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/keys/${f.otherKeyId}`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/keys/:key_id/rotate": {
    path: (f) => `/v1/tenants/${f.tenantId}/keys/${f.rotateKeyId}/rotate`,
    body: () => ({ grace_seconds: 60 }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/keys/${f.otherKeyId}/rotate`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/users": {
    path: (f) => `/v1/tenants/${f.tenantId}/users`,
    body: () => ({ email: `u${Math.random().toString(36).slice(2)}@example.com`, roles: ["VIEWER"] }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/users`, status: 403 },
  },
  "GET /v1/tenants/:tenant_id/users": {
    path: (f) => `/v1/tenants/${f.tenantId}/users`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/users`, status: 404 },
  },
  "GET /v1/tenants/:tenant_id/users/:user_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/users/${f.userId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/users/${f.otherUserId}`, status: 404 },
  },
  "PATCH /v1/tenants/:tenant_id/users/:user_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/users/${f.userId}`,
    body: () => ({ roles: ["VIEWER", "DEVELOPER"] }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/users/${f.otherUserId}`, status: 404 },
  },
  "DELETE /v1/tenants/:tenant_id/users/:user_id/sessions": {
    path: (f) => `/v1/tenants/${f.tenantId}/users/${f.userId}/sessions`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/users/${f.otherUserId}/sessions`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/jwt/rotate": {
    path: (f) => `/v1/tenants/${f.tenantId}/jwt/rotate`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/jwt/rotate`, status: 403 },
  },
  "GET /v1/tenants/:tenant_id/oidc": {
    path: (f) => `/v1/tenants/${f.tenantId}/oidc`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/oidc`, status: 404 },
  },
  "PUT /v1/tenants/:tenant_id/oidc": {
    path: (f) => `/v1/tenants/${f.tenantId}/oidc`,
    body: () => OIDC_SAMPLE,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/oidc`, status: 403 },
  },
  "POST /v1/tenants/:tenant_id/grants": {
    path: (f) => `/v1/tenants/${f.tenantId}/grants`,
    body: () => ({ grantee: "team-a", namespace: "team-b" }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/grants`, status: 403 },
  },
  "GET /v1/tenants/:tenant_id/grants": {
    path: (f) => `/v1/tenants/${f.tenantId}/grants`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/grants`, status: 404 },
  },
  "DELETE /v1/tenants/:tenant_id/grants/:grant_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/grants/${f.grantId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/grants/${f.otherGrantId}`, status: 404 },
  },
  "GET /v1/tenants/:tenant_id/policy": { path: (f) => `/v1/tenants/${f.tenantId}/policy`, agentScope: null },
  "PUT /v1/tenants/:tenant_id/policy": {
    path: (f) => `/v1/tenants/${f.tenantId}/policy`,
    body: () => FIXTURE_POLICY,
    agentScope: null,
  },
  "GET /v1/approvals": { path: () => "/v1/approvals", agentScope: "any" },
  "GET /v1/approvals/:id": {
    path: (f) => `/v1/approvals/${f.approvalId}`,
    agentScope: "any",
    crossTenant: { path: (f) => `/v1/approvals/${f.otherApprovalId}`, status: 404 },
  },
  "POST /v1/approvals/:id/approve": {
    path: (f) => `/v1/approvals/${f.approvalId}/approve`,
    agentScope: null,
    caller: "user",
    crossTenant: { path: (f) => `/v1/approvals/${f.otherApprovalId}/approve`, status: 404 },
  },
  "POST /v1/approvals/:id/reject": {
    path: (f) => `/v1/approvals/${f.rejectApprovalId}/reject`,
    agentScope: null,
    caller: "user",
    crossTenant: { path: (f) => `/v1/approvals/${f.otherApprovalId}/reject`, status: 404 },
  },
  "GET /admin/override": { path: () => "/admin/override", agentScope: null },
  "PUT /admin/override": {
    path: () => "/admin/override",
    body: (f) => ({ scope: "agent", tenant_id: f.tenantId, agent: "nobody", frozen: false, reason: "suite" }),
    agentScope: null,
  },
  "POST /v1/tenants/:tenant_id/keys/:key_id/resume": {
    path: (f) => `/v1/tenants/${f.tenantId}/keys/${f.keyId}/resume`,
    agentScope: null,
  },
  "POST /v1/memories": {
    path: () => "/v1/memories",
    body: () => ({ namespace: "sec", content: "security suite" }),
    agentScope: "memories:write",
  },
  "GET /v1/memories": { path: () => "/v1/memories", agentScope: "memories:read" },
  "DELETE /v1/memories": {
    path: () => "/v1/memories",
    body: (f) => ({ ids: [f.otherMemoryId] }),
    agentScope: "memories:write",
  },
  "POST /v1/memories/recall": {
    path: () => "/v1/memories/recall",
    body: () => ({ query: "security" }),
    agentScope: "memories:read",
  },
  "GET /v1/namespaces": { path: () => "/v1/namespaces", agentScope: "memories:read" },
  "GET /v1/memories/embeddings/status": {
    path: () => "/v1/memories/embeddings/status",
    agentScope: "memories:read",
  },
  "GET /v1/memories/export": { path: () => "/v1/memories/export", agentScope: "memories:read" },
  "GET /v1/memories/:id": {
    path: (f) => `/v1/memories/${f.memoryId}`,
    agentScope: "memories:read",
    crossTenant: { path: (f) => `/v1/memories/${f.otherMemoryId}`, status: 404 },
  },
  "PATCH /v1/memories/:id": {
    path: (f) => `/v1/memories/${f.memoryId}`,
    body: () => ({ importance: 0.9 }),
    agentScope: "memories:write",
    crossTenant: { path: (f) => `/v1/memories/${f.otherMemoryId}`, status: 404 },
  },
  "GET /v1/memories/:id/history": {
    path: (f) => `/v1/memories/${f.memoryId}/history`,
    agentScope: "memories:read",
    crossTenant: { path: (f) => `/v1/memories/${f.otherMemoryId}/history`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/connectors": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors`,
    body: () => ({
      name: `sec-${Math.random().toString(36).slice(2, 8)}`,
      config: { source: "github", secret: "s".repeat(16), mapping: { namespace: "sec" } },
    }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/connectors`, status: 403 },
  },
  "GET /v1/tenants/:tenant_id/connectors": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/connectors`, status: 404 },
  },
  "GET /v1/tenants/:tenant_id/connectors/:connector_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.connectorId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.otherConnectorId}`, status: 404 },
  },
  "PATCH /v1/tenants/:tenant_id/connectors/:connector_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.connectorId}`,
    body: () => ({ name: `renamed-${Math.random().toString(36).slice(2, 8)}` }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.otherConnectorId}`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/connectors/:connector_id/secret/rotate": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.connectorId}/secret/rotate`,
    body: () => ({ secret: `rotated-${Math.random().toString(36).slice(2, 14)}`, grace_seconds: 3600 }),
    agentScope: "tenant:admin",
    crossTenant: {
      path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.otherConnectorId}/secret/rotate`,
      status: 404,
    },
  },
  // Runs after the rotate sample (route order), so a rotation is in progress to end.
  "DELETE /v1/tenants/:tenant_id/connectors/:connector_id/secret/previous": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.connectorId}/secret/previous`,
    agentScope: "tenant:admin",
    crossTenant: {
      path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.otherConnectorId}/secret/previous`,
      status: 404,
    },
  },
  "DELETE /v1/tenants/:tenant_id/connectors/:connector_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.connectorId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.otherConnectorId}`, status: 404 },
  },
  "GET /v1/tenants/:tenant_id/connectors/:connector_id/health": {
    path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.connectorId}/health`,
    agentScope: "tenant:admin",
    crossTenant: {
      path: (f) => `/v1/tenants/${f.tenantId}/connectors/${f.otherConnectorId}/health`,
      status: 404,
    },
  },
  "GET /admin/webhooks/dead-letters/:tenant_id": {
    path: (f) => `/admin/webhooks/dead-letters/${f.tenantId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/admin/webhooks/dead-letters/${f.otherTenantId}`, status: 404 },
  },
  "POST /admin/webhooks/replay/:tenant_id/:event_id": {
    path: (f) => `/admin/webhooks/replay/${f.tenantId}/${f.deliveryId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/admin/webhooks/replay/${f.otherTenantId}/${f.deliveryId}`, status: 403 },
  },
  "POST /admin/webhooks/replay/:tenant_id": {
    path: (f) => `/admin/webhooks/replay/${f.tenantId}`,
    body: () => ({ limit: 10 }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/admin/webhooks/replay/${f.otherTenantId}`, status: 403 },
  },
  "POST /v1/tenants/:tenant_id/webhooks": {
    path: (f) => `/v1/tenants/${f.tenantId}/webhooks`,
    body: () => ({ url: "https://93.184.215.14/hook", events: ["memory.created"] }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/webhooks`, status: 403 },
  },
  "GET /v1/tenants/:tenant_id/webhooks": {
    path: (f) => `/v1/tenants/${f.tenantId}/webhooks`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/webhooks`, status: 404 },
  },
  "DELETE /v1/tenants/:tenant_id/webhooks/:webhook_id": {
    path: (f) => `/v1/tenants/${f.tenantId}/webhooks/${f.webhookId}`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.tenantId}/webhooks/${f.otherWebhookId}`, status: 404 },
  },
  "GET /admin/stream/:tenant_id": {
    path: (f) => `/admin/stream/${f.tenantId}?follow=false`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/admin/stream/${f.otherTenantId}?follow=false`, status: 404 },
  },
  "DELETE /v1/memories/:id": {
    path: (f) => `/v1/memories/${f.memoryId}`,
    agentScope: "memories:write",
    crossTenant: { path: (f) => `/v1/memories/${f.otherMemoryId}`, status: 404 },
  },
  "POST /mcp": {
    path: () => "/mcp",
    body: () => ({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "sec", version: "1" } },
    }),
    headers: { accept: "application/json, text/event-stream" },
    agentScope: "any",
  },
  "GET /mcp": { path: () => "/mcp", agentScope: "any", okStatus: 405 },
  "POST /v1/tenants/:tenant_id/credentials": {
    path: (f) => `/v1/tenants/${f.tenantId}/credentials`,
    body: () => ({
      name: `c-${Math.random().toString(36).slice(2, 10)}`,
      service: "svc",
      allowed_hosts: ["api.example.com"],
      injection: { type: "bearer" },
      secret: "sample-credential-value-0123456789",
    }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/credentials`, status: 403 },
  },
  "GET /v1/tenants/:tenant_id/credentials": {
    path: (f) => `/v1/tenants/${f.tenantId}/credentials`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/credentials`, status: 404 },
  },
  "GET /v1/tenants/:tenant_id/credentials/:name": {
    path: (f) => `/v1/tenants/${f.tenantId}/credentials/local`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/credentials/local`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/credentials/:name/rotate": {
    path: (f) => `/v1/tenants/${f.tenantId}/credentials/local`.concat("/rotate"),
    body: () => ({ secret: "rotated-credential-value-0123456789" }),
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/credentials/local/rotate`, status: 403 },
  },
  "DELETE /v1/tenants/:tenant_id/credentials/:name": {
    path: (f) => `/v1/tenants/${f.tenantId}/credentials/spare`,
    agentScope: "tenant:admin",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}/credentials/local`, status: 403 },
  },
  "POST /v1/tenants/:tenant_id/credentials/:name/oauth/start": {
    path: (f) => `/v1/tenants/${f.tenantId}/credentials/oauth-app/oauth/start`,
    agentScope: "tenant:admin",
    crossTenant: {
      path: (f) => `/v1/tenants/${f.otherTenantId}/credentials/oauth-app/oauth/start`,
      status: 403,
    },
  },
  "POST /v1/tenants/:tenant_id/credentials/:name/oauth/callback": {
    path: (f) => `/v1/tenants/${f.tenantId}/credentials/oauth-app/oauth/callback`,
    body: () => ({ code: "code", state: "forged.state" }),
    agentScope: "tenant:admin",
    // The rightful caller with a state it never received: refused as such.
    okStatus: 400,
    crossTenant: {
      path: (f) => `/v1/tenants/${f.otherTenantId}/credentials/oauth-app/oauth/callback`,
      status: 403,
    },
  },
  "POST /v1/proxy/http": {
    path: () => "/v1/proxy/http",
    body: (f) => ({ credential: "local", method: "GET", url: `${f.receiverUrl}/sample` }),
    agentScope: "credentials.use",
  },
};

/** What the console samples point at: the signed-in person's own objects and another tenant's. */
export type ConsoleFixture = {
  approvalId: string;
  rejectApprovalId: string;
  otherApprovalId: string;
  keyId: string;
  revokeKeyId: string;
  rotateKeyId: string;
  otherKeyId: string;
  memoryId: string;
  otherMemoryId: string;
  /** A delivery of the person's tenant (not dead: replaying it changes nothing) and of the other. */
  deliveryId: string;
  otherDeliveryId: string;
  userId: string;
  otherUserId: string;
  /** The tenant policy the fixture runs under, as the policy form submits it. */
  policy: string;
};

export type ConsoleSample = {
  path: (f: ConsoleFixture) => string;
  /** Form fields of a state-changing request (the CSRF field is added by the suite). */
  form?: (f: ConsoleFixture) => Record<string, string>;
  /** A role that is enough (roles hold exactly as in the API: the action's rule decides). */
  role: "VIEWER" | "DEVELOPER" | "ADMIN" | "AUDIT_ADMIN";
  /** The rightful person's status when it is not a success (past every check, refused by the input). */
  okStatus?: number;
  crossTenant?: { path: (f: ConsoleFixture) => string; status: 404 };
};

/**
 * One entry per console route (cookie-session routes). The console security test fails when a
 * console route has no entry here, and runs the session cases on each: no session, expired session,
 * a bearer credential instead of the cookie, every role that lacks the action, another tenant's
 * objects, the kill switch, and the CSRF token.
 */
export const CONSOLE_SAMPLES: Record<string, ConsoleSample> = {
  "GET /console": { path: () => "/console", role: "VIEWER" },
  "GET /console/overview/live": { path: () => "/console/overview/live", role: "VIEWER" },
  "GET /console/approvals": { path: () => "/console/approvals", role: "VIEWER" },
  "POST /console/approvals/:id/approve": {
    path: (f) => `/console/approvals/${f.approvalId}/approve`,
    form: () => ({}),
    role: "DEVELOPER",
    crossTenant: { path: (f) => `/console/approvals/${f.otherApprovalId}/approve`, status: 404 },
  },
  "POST /console/approvals/:id/reject": {
    path: (f) => `/console/approvals/${f.rejectApprovalId}/reject`,
    form: () => ({}),
    role: "DEVELOPER",
    crossTenant: { path: (f) => `/console/approvals/${f.otherApprovalId}/reject`, status: 404 },
  },
  "GET /console/killswitch": { path: () => "/console/killswitch", role: "ADMIN" },
  "POST /console/killswitch": {
    path: () => "/console/killswitch",
    form: () => ({ scope: "agent", agent: "nobody", frozen: "false", reason: "suite", confirm: "yes" }),
    role: "ADMIN",
  },
  "POST /console/keys/:key_id/resume": {
    path: (f) => `/console/keys/${f.keyId}/resume`,
    form: () => ({}),
    role: "DEVELOPER",
    crossTenant: { path: (f) => `/console/keys/${f.otherKeyId}/resume`, status: 404 },
  },
  "GET /console/agents": { path: () => "/console/agents", role: "DEVELOPER" },
  "POST /console/agents": {
    path: () => "/console/agents",
    form: () => ({ agent: "console-sec", scopes: "read" }),
    role: "DEVELOPER",
  },
  "POST /console/agents/:key_id/revoke": {
    path: (f) => `/console/agents/${f.revokeKeyId}/revoke`,
    form: () => ({}),
    role: "DEVELOPER",
    crossTenant: { path: (f) => `/console/agents/${f.otherKeyId}/revoke`, status: 404 },
  },
  "POST /console/agents/:key_id/rotate": {
    path: (f) => `/console/agents/${f.rotateKeyId}/rotate`,
    form: () => ({ grace_seconds: "60" }),
    role: "DEVELOPER",
    crossTenant: { path: (f) => `/console/agents/${f.otherKeyId}/rotate`, status: 404 },
  },
  "GET /console/audit": { path: () => "/console/audit?suspicious=true", role: "AUDIT_ADMIN" },
  "GET /console/audit/verify": { path: () => "/console/audit/verify", role: "AUDIT_ADMIN" },
  "GET /console/audit/export": { path: () => "/console/audit/export", role: "AUDIT_ADMIN" },
  "GET /console/memories": { path: () => "/console/memories", role: "VIEWER" },
  "GET /console/memories/:id": {
    path: (f) => `/console/memories/${f.memoryId}`,
    role: "VIEWER",
    crossTenant: { path: (f) => `/console/memories/${f.otherMemoryId}`, status: 404 },
  },
  "GET /console/connectors": { path: () => "/console/connectors", role: "ADMIN" },
  "POST /console/connectors/dead-letters/:id/replay": {
    path: (f) => `/console/connectors/dead-letters/${f.deliveryId}/replay`,
    form: () => ({}),
    role: "ADMIN",
    crossTenant: { path: (f) => `/console/connectors/dead-letters/${f.otherDeliveryId}/replay`, status: 404 },
  },
  "POST /console/connectors/dead-letters/replay": {
    path: () => "/console/connectors/dead-letters/replay",
    form: () => ({}),
    role: "ADMIN",
  },
  "GET /console/policy": { path: () => "/console/policy", role: "DEVELOPER" },
  "POST /console/policy": {
    path: () => "/console/policy",
    form: (f) => ({ policy: f.policy }),
    role: "ADMIN",
  },
  "GET /console/people": { path: () => "/console/people", role: "ADMIN" },
  "POST /console/people": {
    path: () => "/console/people",
    form: () => ({ email: `p${Math.random().toString(36).slice(2, 10)}@example.com`, roles: "VIEWER" }),
    role: "ADMIN",
  },
  "POST /console/people/:user_id": {
    path: (f) => `/console/people/${f.userId}`,
    form: () => ({ roles: "VIEWER" }),
    role: "ADMIN",
    crossTenant: { path: (f) => `/console/people/${f.otherUserId}`, status: 404 },
  },
  "POST /console/people/:user_id/sessions/end": {
    path: (f) => `/console/people/${f.userId}/sessions/end`,
    form: () => ({}),
    role: "ADMIN",
    crossTenant: { path: (f) => `/console/people/${f.otherUserId}/sessions/end`, status: 404 },
  },
  "POST /console/people/:user_id/passkeys/remove": {
    path: (f) => `/console/people/${f.userId}/passkeys/remove`,
    form: () => ({}),
    role: "ADMIN",
    crossTenant: { path: (f) => `/console/people/${f.otherUserId}/passkeys/remove`, status: 404 },
  },
  "GET /console/passkeys": { path: () => "/console/passkeys", role: "VIEWER" },
  "POST /console/passkeys/options": {
    path: () => "/console/passkeys/options",
    form: () => ({}),
    role: "VIEWER",
  },
  // A real credential needs an authenticator (console-browser.test.ts registers one in Chromium).
  "POST /console/passkeys": {
    path: () => "/console/passkeys",
    form: () => ({ credential: "{}" }),
    role: "VIEWER",
    okStatus: 422,
  },
  "POST /console/passkeys/:id/remove": {
    path: () => "/console/passkeys/bm8tc3VjaC1wYXNza2V5/remove",
    form: () => ({}),
    role: "VIEWER",
    okStatus: 404,
  },
  "POST /console/memories/erase": {
    path: () => "/console/memories/erase",
    form: () => ({ entity: "nobody-at-all" }),
    role: "DEVELOPER",
  },
};

/** What the instance-admin console samples point at. */
export type InstanceConsoleFixture = { tenantId: string };

export type InstanceConsoleSample = {
  path: (f: InstanceConsoleFixture) => string;
  /** Form fields of a state-changing request (the CSRF field is added by the suite). */
  form?: () => Record<string, string>;
};

/**
 * One entry per instance-admin console route (`admin_session` routes). The console security test
 * fails when such a route has no entry here, and runs on each: no session, expired session, a bearer
 * admin key instead of the session, a person's session (403), the CSRF token, the global kill switch.
 * The forms stop at their confirmation step, so running them changes nothing.
 */
export const INSTANCE_CONSOLE_SAMPLES: Record<string, InstanceConsoleSample> = {
  "GET /console/admin": { path: () => "/console/admin" },
  "GET /console/admin/killswitch": { path: () => "/console/admin/killswitch" },
  "POST /console/admin/killswitch": {
    path: () => "/console/admin/killswitch",
    form: () => ({ frozen: "true", reason: "suite" }),
  },
  "GET /console/admin/tenants": { path: () => "/console/admin/tenants" },
  "POST /console/admin/tenants": {
    path: () => "/console/admin/tenants",
    form: () => ({ name: `suite ${Math.random().toString(36).slice(2, 10)}` }),
  },
  "POST /console/admin/tenants/:tenant_id/delete": {
    path: (f) => `/console/admin/tenants/${f.tenantId}/delete`,
    form: () => ({}),
  },
};

/** Export needs one approval in the fixture's tenants (and nothing else does), so approvals exist. */
const FIXTURE_POLICY = {
  tiers: { exportMemories: "critical", createKey: "low", revokeKey: "low", rotateKey: "low" },
  approvals: { critical: 1 },
  // The shared cases fire many refused requests with one key on purpose: anomaly enforcement (on by
  // default, proved in governance-anomaly-guardrails.test.ts) is off for the fixture's tenants.
  anomaly: { enforce: false },
};

const OIDC_SAMPLE = {
  issuer: "https://idp.example.com",
  client_id: "hypha",
  role_mapping: { claim: "groups", map: { engineers: "DEVELOPER" } },
};

export const routeName = (r: Pick<RouteRecord, "method" | "url">) => `${r.method} ${r.url}`;

/** Builds two tenants with keys and a memory each. */
export async function buildFixture(s: TestServer): Promise<Fixture> {
  const tenantId = await s.createTenant();
  const otherTenantId = await s.createTenant();
  const { key } = await s.createKey(tenantId);
  const { id: keyId } = await s.createKey(tenantId, { agent: "spare" });
  // Rotated by the tenant:admin key and by a DEVELOPER: a key both could have created.
  const { id: rotateKeyId } = await s.createKey(tenantId, {
    agent: "tenant-admin",
    scopes: ["tenant:admin"],
    capabilities: ["keys"],
  });
  const { key: adminKey } = await s.createKey(tenantId, { agent: "tenant-admin", scopes: ["tenant:admin"] });
  const { key: auditKey } = await s.createKey(tenantId, { agent: "auditor", scopes: ["audit:read"] });
  const spareTenantId = await s.createTenant();
  const { key: otherKey, id: otherKeyId } = await s.createKey(otherTenantId);
  const memoryId = (await s.storeMemory(key, { content: "own memory" })).id;
  const userId = await s.createUser(tenantId, { roles: ["VIEWER"] });
  const otherUserId = await s.createUser(otherTenantId, { roles: ["VIEWER"] });
  await s.request("PUT", `/v1/tenants/${tenantId}/oidc`, { body: OIDC_SAMPLE });
  const grant = async (t: string) =>
    (
      (await s.request("POST", `/v1/tenants/${t}/grants`, { body: { grantee: "x", namespace: "y" } }))
        .body as { id: string }
    ).id;
  const grantId = await grant(tenantId);
  const otherGrantId = await grant(otherTenantId);
  const otherMemoryId = (await s.storeMemory(otherKey, { content: "other tenant memory" })).id;
  const signIn = await developer(s, tenantId);
  const userToken = await signIn();
  const pending = async (t: string, k: string) => {
    await s.request("PUT", `/v1/tenants/${t}/policy`, { body: FIXTURE_POLICY });
    const res = await s.request("GET", "/v1/memories/export", { key: k });
    return (res.body as { approval: { id: string } }).approval.id;
  };
  const approvalId = await pending(tenantId, key);
  const rejectApprovalId = await pending(tenantId, key);
  const otherApprovalId = await pending(otherTenantId, otherKey);
  const connector = () => ({
    name: `c-${Math.random().toString(36).slice(2, 8)}`,
    config: { source: "github", secret: "s".repeat(16), mapping: { namespace: "sec" } },
  });
  const made = async (path: string, body: unknown) => {
    const res = await s.request("POST", path, { body });
    if (res.status !== 201) throw new Error(`fixture ${path}: ${res.status} ${res.text}`);
    return (res.body as { id: string }).id;
  };
  const connectorId = await made(`/v1/tenants/${tenantId}/connectors`, connector());
  const otherConnectorId = await made(`/v1/tenants/${otherTenantId}/connectors`, connector());
  const hook = { url: "https://93.184.215.14/hook", events: ["memory.created"] };
  const webhookId = await made(`/v1/tenants/${tenantId}/webhooks`, hook);
  const otherWebhookId = await made(`/v1/tenants/${otherTenantId}/webhooks`, hook);
  // One signed delivery, so the replay sample has a real (not dead) delivery to point at.
  const body = JSON.stringify({ zen: "fixture" });
  const ingest = await fetch(`${s.url}/v1/ingest/${tenantId}/${connectorId}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "ping",
      "x-github-delivery": `fixture-${connectorId}`,
      "x-hub-signature-256": `sha256=${createHmac("sha256", "s".repeat(16)).update(body).digest("hex")}`,
    },
    body,
  });
  const deliveryId = ((await ingest.json()) as { id: string }).id;
  // A local receiver for the proxy sample (the security server allows 127.0.0.1 egress).
  const receiver = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiver.unref();
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const { key: credentialKey } = await s.createKey(tenantId, {
    agent: "broker-user",
    scopes: ["write"],
    capabilities: ["credentials.use"],
  });
  for (const [t, name] of [
    [tenantId, "local"],
    [tenantId, "spare"],
    [otherTenantId, "local"],
  ] as const) {
    await made(`/v1/tenants/${t}/credentials`, {
      name,
      service: "svc",
      allowed_hosts: ["http://127.0.0.1:*"],
      injection: { type: "bearer" },
      secret: `fixture-credential-${name}-0123456789`,
    });
  }
  for (const t of [tenantId, otherTenantId]) {
    await made(`/v1/tenants/${t}/credentials`, {
      name: "oauth-app",
      service: "idp",
      allowed_hosts: ["api.idp.example.com"],
      injection: { type: "bearer" },
      oauth: {
        authorize_url: "https://idp.example.com/authorize",
        token_url: "https://idp.example.com/token",
        client_id: "hypha",
        redirect_uri: "https://hypha.example.com/oauth/callback",
      },
    });
  }
  return {
    credentialKey,
    receiverUrl,
    tenantId,
    otherTenantId,
    memoryId,
    otherMemoryId,
    keyId,
    rotateKeyId,
    otherKeyId,
    userId,
    otherUserId,
    grantId,
    otherGrantId,
    key,
    adminKey,
    userToken,
    signIn,
    approvalId,
    rejectApprovalId,
    otherApprovalId,
    auditKey,
    spareTenantId,
    connectorId,
    otherConnectorId,
    deliveryId,
    webhookId,
    otherWebhookId,
  };
}

async function developer(s: TestServer, tenantId: string): Promise<() => Promise<string>> {
  const email = `dev-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const password = "correct horse battery staple";
  await s.createUser(tenantId, { email, password, roles: ["DEVELOPER"] });
  return async () => {
    const res = await s.request("POST", "/v1/auth/login", {
      key: null,
      body: { tenant_id: tenantId, email, password },
    });
    return (res.body as { access_token: string }).access_token;
  };
}

/** The credential that a sample's route accepts as its rightful caller. */
export function rightfulKey(s: TestServer, f: Fixture, sample: Sample): string {
  if (sample.caller === "user") return f.userToken;
  if (sample.agentScope === null) return s.adminKey;
  if (sample.agentScope === "audit:read") return f.auditKey;
  if (sample.agentScope === "credentials.use") return f.credentialKey;
  return sample.agentScope === "tenant:admin" ? f.adminKey : f.key;
}

export async function expectUnauthenticated(
  s: TestServer,
  method: string,
  path: string,
  req: { key?: string | null; headers?: Record<string, string> },
  code: string,
) {
  const res = await s.request(method, path, { ...req, body: method === "GET" ? undefined : {} });
  assert.equal(res.status, 401, `${method} ${path}: ${res.text}`);
  assert.equal(errorCode(res), code, `${method} ${path}`);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="hypha"/);
  assert.ok((res.body as { error: { requestId: string } }).error.requestId);
}
