import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AppError } from "../src/lib/errors.ts";
import { createLogger } from "../src/lib/logger.ts";
import { type Action, type Actor, authorize, isAction } from "../src/platform/auth/actor.ts";
import { createMetrics } from "../src/platform/http/metrics.ts";
import { createRateLimiter } from "../src/platform/http/rate-limit.ts";
import { createHttpServer } from "../src/platform/http/server.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";
import { routeName } from "./security-suite.ts";

describe("one authorization chokepoint", () => {
  let s: TestServer;
  /** An HTTP server with no module on it, to see what registering a route refuses. */
  const bareServer = () =>
    createHttpServer({
      logger: createLogger("silent"),
      clock: s.clock,
      metrics: createMetrics(),
      rateLimiter: createRateLimiter(s.clock),
      verifyCredential: async () => ({ ok: false, code: "INVALID_CREDENTIALS" }),
      defaultRateLimitPerMinute: 600,
      bodyLimitBytes: 1024,
    });
  let t: string;
  before(async () => {
    s = await startServer();
    t = await s.createTenant();
  });
  after(() => s.close());

  test("route table: every non-public route declares a known action and the credential kinds it accepts", () => {
    for (const r of s.hypha.app.routeTable) {
      if ("public" in r.auth) continue;
      assert.ok(isAction(r.auth.action), `${routeName(r)} declares no action`);
      if ("webhook" in r.auth) continue; // authenticated by its signature, no credential kind
      assert.ok(r.auth.accepts.length > 0, `${routeName(r)} accepts no credential`);
    }
  });

  test("a signed webhook route must still name its action, or it refuses to register", async () => {
    const app = await bareServer();
    assert.throws(
      () =>
        app.route({
          method: "POST",
          url: "/v1/unnamed-hook",
          config: { auth: { webhook: true } as never },
          handler: async () => ({}),
        }),
      /declares no action/,
    );
    await app.close();
  });

  test("a route without an action refuses to register (default deny)", async () => {
    const app = await bareServer();
    assert.throws(
      () =>
        app.route({
          method: "GET",
          url: "/v1/no-action",
          config: { auth: { accepts: ["agent_key"] } as never },
          handler: async () => ({}),
        }),
      /declares no action/,
    );
    await app.close();
  });

  test("a route with no auth policy at all refuses to register (default deny)", async () => {
    const app = await bareServer();
    // No config, a config without `auth`, and `auth` left undefined.
    for (const [url, config] of [
      ["/v1/no-config", undefined],
      ["/v1/no-auth", {}],
      ["/v1/auth-undefined", { auth: undefined }],
    ] as const) {
      assert.throws(
        () =>
          app.route({
            method: "GET",
            url,
            ...(config === undefined ? {} : { config: config as never }),
            handler: async () => ({}),
          }),
        new RegExp(`GET ${url} declares no auth policy`),
      );
    }
    // A route that declares its policy registers on the same server, and only it is in the table.
    app.route({
      method: "GET",
      url: "/v1/declared",
      config: { auth: { accepts: ["agent_key"], action: "memories:read" } },
      handler: async () => ({}),
    });
    await app.ready();
    assert.deepEqual(
      app.routeTable.filter((r) => r.url.startsWith("/v1/")).map((r) => r.url),
      ["/v1/declared"],
    );
    assert.equal((await app.inject({ method: "GET", url: "/v1/no-config" })).statusCode, 404);
    await app.close();
  });

  test("an unknown action or an unknown caller denies; an error inside a check denies", () => {
    const agent: Actor = {
      type: "agent",
      id: "key_x",
      tenantId: t,
      agent: "a",
      scopes: ["admin"],
      capabilities: null,
      actions: new Set<Action>(["memories:read"]),
      namespaces: null,
      origin: { requestId: "r", ip: "127.0.0.1", userAgent: null },
    };
    assert.throws(
      () => authorize(agent, "nope" as Action),
      (e: unknown) => e instanceof AppError && e.status === 403,
    );
    assert.throws(
      () => authorize({ ...agent, type: "robot" } as unknown as Actor, "memories:read"),
      (e: unknown) => e instanceof AppError && e.status === 403,
    );
    const throwing = {
      ...agent,
      actions: {
        has() {
          throw new Error("broken");
        },
      },
    } as unknown as Actor;
    assert.throws(() => authorize(throwing, "memories:read"));
  });

  test("role × route table: each role is allowed and denied exactly as declared, on every route class", async () => {
    const tokens: Record<string, string> = {};
    for (const role of ["ADMIN", "AUDIT_ADMIN", "DEVELOPER", "VIEWER"]) {
      tokens[role] = (await signedInUser(s, t, [role])).token;
    }
    const adminKey = (await s.createKey(t, { scopes: ["admin"] })).key;
    const mem = await s.storeMemory(adminKey, { content: "role table" });
    const spareKey = async () => (await s.createKey(t, { agent: "spare" })).id;
    // A key a DEVELOPER made: one a DEVELOPER may rotate (not one under an agent another made).
    let developerAgents = 0;
    const developersKey = async () => {
      const res = await s.request("POST", `/v1/tenants/${t}/keys`, {
        key: tokens.DEVELOPER ?? "",
        body: { agent: `spare-dev-${++developerAgents}`, scopes: ["read"] },
      });
      assert.equal(res.status, 201, res.text);
      return (res.body as { id: string }).id;
    };
    const targetUser = await s.createUser(t, { roles: ["VIEWER"] });
    const connectorBody = (name: string) => ({
      name,
      config: { source: "github", secret: "s".repeat(16), mapping: { namespace: "role" } },
    });
    const spareConnector = async () => {
      const res = await s.request("POST", `/v1/tenants/${t}/connectors`, {
        key: adminKey,
        body: connectorBody(`spare-${Math.random().toString(36).slice(2, 10)}`),
      });
      assert.equal(res.status, 201, res.text);
      return (res.body as { id: string }).id;
    };
    type Case = {
      name: string;
      method: string;
      path: () => Promise<string> | string;
      /** The body, or the body each role sends. */
      body?: unknown;
      allowed: string[];
    };
    const P = (p: string) => () => p;
    const cases: Case[] = [
      {
        name: "read memories",
        method: "GET",
        path: P("/v1/memories"),
        allowed: ["ADMIN", "DEVELOPER", "VIEWER"],
      },
      {
        name: "recall",
        method: "POST",
        path: P("/v1/memories/recall"),
        body: { query: "role" },
        allowed: ["ADMIN", "DEVELOPER", "VIEWER"],
      },
      {
        name: "export",
        method: "GET",
        path: P("/v1/memories/export"),
        allowed: ["ADMIN", "DEVELOPER", "VIEWER"],
      },
      {
        name: "history",
        method: "GET",
        path: P(`/v1/memories/${mem.id}/history`),
        allowed: ["ADMIN", "DEVELOPER", "VIEWER"],
      },
      {
        name: "write memories",
        method: "POST",
        path: P("/v1/memories"),
        body: { namespace: "r", content: "x" },
        allowed: ["ADMIN", "DEVELOPER"],
      },
      {
        name: "update memories",
        method: "PATCH",
        path: P(`/v1/memories/${mem.id}`),
        body: { importance: 0.4 },
        allowed: ["ADMIN", "DEVELOPER"],
      },
      {
        name: "delete memories",
        method: "DELETE",
        path: P("/v1/memories"),
        body: { ids: [mem.id.replace(/.$/, "0")] },
        allowed: ["ADMIN", "DEVELOPER"],
      },
      { name: "list keys", method: "GET", path: P(`/v1/tenants/${t}/keys`), allowed: ["ADMIN", "DEVELOPER"] },
      {
        name: "create keys",
        method: "POST",
        path: P(`/v1/tenants/${t}/keys`),
        // Each role names its own agent: a DEVELOPER may not name an agent whose keys another made.
        body: (role: string) => ({ agent: `k-${role.toLowerCase()}`, scopes: ["read"] }),
        allowed: ["ADMIN", "DEVELOPER"],
      },
      {
        name: "revoke keys",
        method: "DELETE",
        path: async () => `/v1/tenants/${t}/keys/${await spareKey()}`,
        allowed: ["ADMIN", "DEVELOPER"],
      },
      {
        name: "rotate keys",
        method: "POST",
        path: async () => `/v1/tenants/${t}/keys/${await developersKey()}/rotate`,
        body: {},
        allowed: ["ADMIN", "DEVELOPER"],
      },
      { name: "list users", method: "GET", path: P(`/v1/tenants/${t}/users`), allowed: ["ADMIN"] },
      {
        name: "create users",
        method: "POST",
        path: P(`/v1/tenants/${t}/users`),
        body: { email: `r${Math.random()}@example.com`.replace("0.", ""), roles: ["VIEWER"] },
        allowed: ["ADMIN"],
      },
      {
        name: "update users",
        method: "PATCH",
        path: P(`/v1/tenants/${t}/users/${targetUser}`),
        body: { roles: ["VIEWER"] },
        allowed: ["ADMIN"],
      },
      { name: "grants", method: "GET", path: P(`/v1/tenants/${t}/grants`), allowed: ["ADMIN"] },
      {
        name: "oidc config",
        method: "PUT",
        path: P(`/v1/tenants/${t}/oidc`),
        body: {
          issuer: "https://idp.example.com",
          client_id: "c",
          role_mapping: { claim: "groups", map: {} },
        },
        allowed: ["ADMIN"],
      },
      {
        name: "read own tenant",
        method: "GET",
        path: P(`/v1/tenants/${t}`),
        allowed: ["ADMIN", "AUDIT_ADMIN", "DEVELOPER", "VIEWER"],
      },
      {
        name: "openapi",
        method: "GET",
        path: P("/openapi.json"),
        allowed: ["ADMIN", "AUDIT_ADMIN", "DEVELOPER", "VIEWER"],
      },
      {
        name: "list namespaces",
        method: "GET",
        path: P("/v1/namespaces"),
        allowed: ["ADMIN", "DEVELOPER", "VIEWER"],
      },
      {
        name: "create connectors",
        method: "POST",
        path: P(`/v1/tenants/${t}/connectors`),
        body: connectorBody("role-table"),
        allowed: ["ADMIN"],
      },
      { name: "list connectors", method: "GET", path: P(`/v1/tenants/${t}/connectors`), allowed: ["ADMIN"] },
      {
        name: "connector health",
        method: "GET",
        path: async () => `/v1/tenants/${t}/connectors/${await spareConnector()}/health`,
        allowed: ["ADMIN"],
      },
      {
        name: "update connectors",
        method: "PATCH",
        path: async () => `/v1/tenants/${t}/connectors/${await spareConnector()}`,
        body: { config: connectorBody("x").config },
        allowed: ["ADMIN"],
      },
      {
        name: "delete connectors",
        method: "DELETE",
        path: async () => `/v1/tenants/${t}/connectors/${await spareConnector()}`,
        allowed: ["ADMIN"],
      },
      {
        name: "dead letters",
        method: "GET",
        path: P(`/admin/webhooks/dead-letters/${t}`),
        allowed: ["ADMIN"],
      },
      {
        name: "replay dead letters",
        method: "POST",
        path: P(`/admin/webhooks/replay/${t}`),
        body: { limit: 10 },
        allowed: ["ADMIN"],
      },
      {
        name: "create outbound webhooks",
        method: "POST",
        path: P(`/v1/tenants/${t}/webhooks`),
        body: { url: "https://93.184.215.14/hook", events: ["memory.created"] },
        allowed: ["ADMIN"],
      },
      {
        name: "list outbound webhooks",
        method: "GET",
        path: P(`/v1/tenants/${t}/webhooks`),
        allowed: ["ADMIN"],
      },
      {
        name: "event stream",
        method: "GET",
        path: P(`/admin/stream/${t}?follow=false`),
        allowed: ["ADMIN"],
      },
      { name: "audit events", method: "GET", path: P("/v1/audit/events"), allowed: ["ADMIN", "AUDIT_ADMIN"] },
      {
        name: "audit verify",
        method: "GET",
        path: P("/v1/audit/verify"),
        allowed: ["ADMIN", "AUDIT_ADMIN"],
      },
      { name: "MCP (agent keys only)", method: "POST", path: P("/mcp"), body: {}, allowed: [] },
      { name: "list tenants (instance)", method: "GET", path: P("/v1/tenants"), allowed: [] },
      { name: "metrics (instance)", method: "GET", path: P("/metrics"), allowed: [] },
      { name: "delete tenant (instance)", method: "DELETE", path: P(`/v1/tenants/${t}`), allowed: [] },
    ];
    for (const c of cases) {
      for (const role of ["ADMIN", "AUDIT_ADMIN", "DEVELOPER", "VIEWER"]) {
        const path = await c.path();
        const body = typeof c.body === "function" ? (c.body as (role: string) => unknown)(role) : c.body;
        const res = await s.request(c.method, path, { key: tokens[role] ?? "", body });
        const allowed = c.allowed.includes(role);
        if (allowed)
          assert.ok(
            res.status < 300,
            `${role} should be allowed: ${c.name} → ${res.status} ${res.text.slice(0, 200)}`,
          );
        else assert.equal(res.status, 403, `${role} should be denied: ${c.name} → ${res.status}`);
      }
    }
    // The JWT rotation last: it ends every token above.
    const viewer = await s.request("POST", `/v1/tenants/${t}/jwt/rotate`, { key: tokens.VIEWER ?? "" });
    assert.equal(viewer.status, 403);
    assert.equal(
      (await s.request("POST", `/v1/tenants/${t}/jwt/rotate`, { key: tokens.ADMIN ?? "" })).status,
      200,
    );
  });
});

describe("API keys: scopes, capabilities, rate plans, rotation", () => {
  let s: TestServer;
  let t: string;
  before(async () => {
    s = await startServer();
    t = await s.createTenant();
  });
  after(() => s.close());

  const can = async (key: string, method: string, path: string, body?: unknown) =>
    (await s.request(method, path, { key, body })).status;

  test("coarse scopes nest: read reads, write reads and writes, admin also manages keys", async () => {
    const read = (await s.createKey(t, { scopes: ["read"] })).key;
    const write = (await s.createKey(t, { scopes: ["write"] })).key;
    const admin = (await s.createKey(t, { scopes: ["admin"] })).key;
    const body = { namespace: "a", content: "x" };
    assert.equal(await can(read, "GET", "/v1/memories"), 200);
    assert.equal(await can(read, "POST", "/v1/memories", body), 403);
    assert.equal(await can(write, "POST", "/v1/memories", body), 201);
    assert.equal(await can(write, "GET", "/v1/memories"), 200);
    assert.equal(await can(write, "GET", `/v1/tenants/${t}/keys`), 403);
    assert.equal(await can(admin, "GET", `/v1/tenants/${t}/keys`), 200);
    assert.equal(await can(admin, "POST", "/v1/memories", body), 201);
  });

  test("legacy scopes keep their meaning: memories:write does not read, tenant:admin does not touch memories", async () => {
    const w = (await s.createKey(t, { scopes: ["memories:write"] })).key;
    const a = (await s.createKey(t, { scopes: ["tenant:admin"] })).key;
    assert.equal(await can(w, "POST", "/v1/memories", { namespace: "a", content: "x" }), 201);
    assert.equal(await can(w, "GET", "/v1/memories"), 403);
    assert.equal(await can(a, "GET", "/v1/memories"), 403);
    assert.equal(await can(a, "GET", `/v1/tenants/${t}/users`), 200);
    // tenant:admin keeps managing what it managed before: connectors, webhooks, dead letters, the stream.
    assert.equal(await can(a, "GET", `/v1/tenants/${t}/connectors`), 200);
    assert.equal(await can(a, "GET", `/v1/tenants/${t}/webhooks`), 200);
    assert.equal(await can(a, "GET", `/admin/webhooks/dead-letters/${t}`), 200);
    assert.equal(await can(a, "GET", `/admin/stream/${t}?follow=false`), 200);
    const r = (await s.createKey(t, { scopes: ["memories:read"] })).key;
    assert.equal(await can(r, "GET", `/v1/tenants/${t}/connectors`), 403);
    assert.equal(await can(w, "GET", `/admin/stream/${t}?follow=false`), 403);
  });

  test("audit:read is a legacy alias for reading and verifying the own tenant's trail only; admin keys read it, read and tenant:admin keys do not", async () => {
    const auditor = (await s.createKey(t, { scopes: ["audit:read"] })).key;
    const admin = (await s.createKey(t, { scopes: ["admin"] })).key;
    const read = (await s.createKey(t, { scopes: ["read"] })).key;
    const tenantAdmin = (await s.createKey(t, { scopes: ["tenant:admin"] })).key;
    for (const key of [auditor, admin]) {
      assert.equal(await can(key, "GET", "/v1/audit/events"), 200);
      assert.equal(await can(key, "GET", "/v1/audit/verify"), 200);
    }
    for (const key of [read, tenantAdmin]) {
      assert.equal(await can(key, "GET", "/v1/audit/events"), 403);
      assert.equal(await can(key, "GET", "/v1/audit/verify"), 403);
    }
    assert.equal(await can(auditor, "GET", "/v1/memories"), 403, "audit:read reads no memories");
    assert.equal(await can(auditor, "GET", `/v1/tenants/${t}/keys`), 403, "nor keys");
    assert.equal(await can(auditor, "DELETE", `/v1/tenants/${t}`), 403, "tenant deletion is the instance's");
    const other = await s.createTenant();
    assert.equal(
      await can(auditor, "GET", `/v1/audit/events?tenant_id=${other}`),
      404,
      "another tenant's trail is absent",
    );
  });

  test("capabilities narrow a key on segment boundaries: memories.recall recalls but cannot list or write", async () => {
    const k = (
      await s.createKey(t, { scopes: ["admin"], capabilities: ["memories.recall", "egress.github.read"] })
    ).key;
    assert.equal(await can(k, "POST", "/v1/memories/recall", { query: "x" }), 200);
    assert.equal(await can(k, "GET", "/v1/memories"), 403);
    assert.equal(await can(k, "POST", "/v1/memories", { namespace: "a", content: "x" }), 403);
    assert.equal(await can(k, "GET", `/v1/tenants/${t}/keys`), 403);
    const wide = (await s.createKey(t, { scopes: ["read"], capabilities: ["memories"] })).key;
    assert.equal(await can(wide, "GET", "/v1/memories"), 200);
    assert.equal(
      await can(wide, "POST", "/v1/memories", { namespace: "a", content: "x" }),
      403,
      "capabilities never widen scopes",
    );
    const bad = await s.request("POST", `/v1/tenants/${t}/keys`, {
      body: { agent: "x", scopes: ["read"], capabilities: ["memories.re*"] },
    });
    assert.equal(bad.status, 422);
  });

  test("a rate plan is 60 to 600 requests a minute; the default is 600 and it is enforced per key", async () => {
    for (const n of [59, 601, 1]) {
      const res = await s.request("POST", `/v1/tenants/${t}/keys`, {
        body: { agent: "x", scopes: ["read"], rate_limit_per_minute: n },
      });
      assert.equal(res.status, 422, String(n));
    }
    const k = (await s.createKey(t, { scopes: ["read"], rate_limit_per_minute: 60 })).key;
    let last = 0;
    for (let i = 0; i < 61; i++) last = await can(k, "GET", `/v1/tenants/${t}`);
    assert.equal(last, 429);
    const d = (await s.createKey(t, { scopes: ["read"] })).key;
    const res = await s.request("GET", `/v1/tenants/${t}`, { key: d });
    assert.equal(res.headers.get("ratelimit-limit"), "600");
  });

  test("an agent key may not pose as a user author", async () => {
    const res = await s.request("POST", `/v1/tenants/${t}/keys`, {
      body: { agent: "user:usr_x", scopes: ["read"] },
    });
    assert.equal(res.status, 422);
  });

  test("rotation: old and new keys both work during the grace period, then only the new one", async () => {
    const old = await s.createKey(t, { scopes: ["read"], namespaces: ["team"], agent: "rotor" });
    const res = await s.request("POST", `/v1/tenants/${t}/keys/${old.id}/rotate`, {
      body: { grace_seconds: 600 },
    });
    assert.equal(res.status, 201, res.text);
    const next = res.body as {
      id: string;
      key: string;
      agent: string;
      namespaces: string[];
      scopes: string[];
    };
    assert.notEqual(next.key, old.key);
    assert.equal(next.agent, "rotor");
    assert.deepEqual(next.namespaces, ["team"]);
    assert.equal(await can(old.key, "GET", "/v1/memories"), 200);
    assert.equal(await can(next.key, "GET", "/v1/memories"), 200);
    s.clock.advance(600_000);
    const expired = await s.request("GET", "/v1/memories", { key: old.key });
    assert.equal(errorCode(expired), "CREDENTIALS_EXPIRED");
    assert.equal(await can(next.key, "GET", "/v1/memories"), 200);
    const again = await s.request("POST", `/v1/tenants/${t}/keys/${old.id}/rotate`, { body: {} });
    assert.equal(again.status, 409);
    const list = await s.request("GET", `/v1/tenants/${t}/keys`);
    const item = (list.body as { items: { id: string; rotated_to: string | null }[] }).items.find(
      (k) => k.id === old.id,
    );
    assert.equal(item?.rotated_to, next.id);
  });
});
