import assert from "node:assert/strict";
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
};

export type Sample = {
  /** A valid request for this route, as the caller of `tenantId`. */
  path: (f: Fixture) => string;
  body?: (f: Fixture) => unknown;
  /** Which agent key is enough: null when only the instance admin (or a metrics token) may call. */
  agentScope: "any" | "memories:read" | "memories:write" | "tenant:admin" | null;
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
  "GET /openapi.json": { path: () => "/openapi.json", agentScope: "any" },
  "GET /docs": { path: () => "/docs", agentScope: "any" },
  "GET /metrics": { path: () => "/metrics", agentScope: null },
  "POST /v1/tenants": { path: () => "/v1/tenants", body: () => ({ name: `n${Math.random()}`.replace(".", "") }), agentScope: null },
  "GET /v1/tenants": { path: () => "/v1/tenants", agentScope: null },
  "GET /v1/tenants/:tenant_id": {
    path: (f) => `/v1/tenants/${f.tenantId}`,
    agentScope: "any",
    crossTenant: { path: (f) => `/v1/tenants/${f.otherTenantId}`, status: 404 },
  },
  "POST /v1/tenants/:tenant_id/keys": {
    path: (f) => `/v1/tenants/${f.tenantId}/keys`,
    body: () => ({ agent: "sec", scopes: ["memories:read"] }),
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
  "DELETE /v1/memories/:id": {
    path: (f) => `/v1/memories/${f.memoryId}`,
    agentScope: "memories:write",
    crossTenant: { path: (f) => `/v1/memories/${f.otherMemoryId}`, status: 404 },
  },
};

/** Export needs one approval in the fixture's tenants (and nothing else does), so approvals exist. */
const FIXTURE_POLICY = {
  tiers: { exportMemories: "critical", createKey: "low", revokeKey: "low", rotateKey: "low" },
  approvals: { critical: 1 },
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
  const { id: rotateKeyId } = await s.createKey(tenantId, { agent: "rotating" });
  const { key: adminKey } = await s.createKey(tenantId, { scopes: ["tenant:admin"] });
  const { key: otherKey, id: otherKeyId } = await s.createKey(otherTenantId);
  const memoryId = (await s.storeMemory(key, { content: "own memory" })).id;
  const userId = await s.createUser(tenantId, { roles: ["VIEWER"] });
  const otherUserId = await s.createUser(otherTenantId, { roles: ["VIEWER"] });
  await s.request("PUT", `/v1/tenants/${tenantId}/oidc`, { body: OIDC_SAMPLE });
  const grant = async (t: string) =>
    ((await s.request("POST", `/v1/tenants/${t}/grants`, { body: { grantee: "x", namespace: "y" } })).body as { id: string })
      .id;
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
  return {
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
  };
}

async function developer(s: TestServer, tenantId: string): Promise<() => Promise<string>> {
  const email = `dev-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const password = "correct horse battery staple";
  await s.createUser(tenantId, { email, password, roles: ["DEVELOPER"] });
  return async () => {
    const res = await s.request("POST", "/v1/auth/login", { key: null, body: { tenant_id: tenantId, email, password } });
    return (res.body as { access_token: string }).access_token;
  };
}

/** The credential that a sample's route accepts as its rightful caller. */
export function rightfulKey(s: TestServer, f: Fixture, sample: Sample): string {
  if (sample.caller === "user") return f.userToken;
  if (sample.agentScope === null) return s.adminKey;
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
