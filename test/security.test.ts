import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import {
  buildFixture,
  CONSOLE_SAMPLES,
  expectUnauthenticated,
  type Fixture,
  INSTANCE_CONSOLE_SAMPLES,
  rightfulKey,
  routeName,
  SAMPLES,
} from "./security-suite.ts";

const PUBLIC_ROUTES = new Set([
  "GET /healthz",
  "GET /health/live",
  "GET /health/ready",
  // The API reference: a public contract without data (HYPHA_DOCS_REQUIRE_AUTH asks for credentials).
  "GET /openapi.json",
  "GET /docs",
  // Sign-in routes: the way to obtain a credential (refresh and logout check their cookie and CSRF token).
  "POST /v1/auth/login",
  "POST /v1/auth/oidc",
  "POST /v1/auth/refresh",
  "POST /v1/auth/logout",
  // The console's sign-in page and form, sign-out (checks its CSRF token) and static assets.
  "GET /console/login",
  "POST /console/login",
  "POST /console/logout",
  "POST /console/login/passkey/options",
  "POST /console/login/passkey",
  "GET /console/login/oidc",
  "GET /console/login/oidc/callback",
  "GET /console/assets/:name",
  // The instance admin's console sign-in (exchanges the admin key once for a session) and sign-out.
  "GET /console/admin/login",
  "POST /console/admin/login",
  "POST /console/admin/logout",
]);
/** Routes without an API key whose handler authenticates each request by its webhook signature. */
const WEBHOOK_ROUTES = new Set(["POST /v1/ingest/:tenant_id/:connector_id"]);

describe("shared security suite, applied to every route", async () => {
  let s: TestServer;
  let f: Fixture;
  let revokedKey: string;
  let expiringKey: string;
  let readOnlyKey: string;
  let adminOnlyKey: string;

  before(async () => {
    s = await startServer({ bodyLimitBytes: 64 * 1024, egressAllow: ["127.0.0.1"] });
    f = await buildFixture(s);
    const revoked = await s.createKey(f.tenantId, {
      scopes: ["memories:read", "memories:write", "tenant:admin"],
    });
    await s.request("DELETE", `/v1/tenants/${f.tenantId}/keys/${revoked.id}`);
    revokedKey = revoked.key;
    expiringKey = (
      await s.createKey(f.tenantId, {
        scopes: ["memories:read", "memories:write", "tenant:admin"],
        expires_at: new Date(s.clock.now() + 60_000).toISOString(),
      })
    ).key;
    readOnlyKey = (await s.createKey(f.tenantId, { scopes: ["memories:read"] })).key;
    adminOnlyKey = f.adminKey;
  });
  after(() => s.close());

  const routes = () => s.hypha.app.routeTable;

  test("route table: every route declares an auth policy, and only the probes, sign-in and the API reference are public", () => {
    assert.ok(routes().length >= 17);
    for (const r of routes()) {
      assert.ok(r.auth, routeName(r));
      assert.equal("public" in r.auth, PUBLIC_ROUTES.has(routeName(r)), `${routeName(r)} public?`);
      assert.equal("webhook" in r.auth, WEBHOOK_ROUTES.has(routeName(r)), `${routeName(r)} webhook-signed?`);
    }
  });

  test("route table: every non-public route has a security-suite sample", () => {
    for (const r of routes()) {
      if (PUBLIC_ROUTES.has(routeName(r)) || WEBHOOK_ROUTES.has(routeName(r))) continue;
      // Cookie-session routes have their own samples (test/console-security.test.ts runs them).
      if ("accepts" in r.auth && r.auth.accepts.includes("session_cookie")) {
        assert.ok(CONSOLE_SAMPLES[routeName(r)], `no console security sample for ${routeName(r)}`);
        continue;
      }
      if ("accepts" in r.auth && r.auth.accepts.includes("admin_session")) {
        assert.ok(INSTANCE_CONSOLE_SAMPLES[routeName(r)], `no instance console sample for ${routeName(r)}`);
        continue;
      }
      assert.ok(SAMPLES[routeName(r)], `no security sample for ${routeName(r)}`);
    }
  });

  test("the rightful caller succeeds on every route (the samples are valid)", async () => {
    for (const r of routes()) {
      const sample = SAMPLES[routeName(r)];
      if (!sample) continue;
      const res = await s.request(r.method, sample.path(f), {
        key: rightfulKey(s, f, sample),
        body: sample.body?.(f),
        ...(sample.headers ? { headers: sample.headers } : {}),
      });
      const ok = sample.okStatus ? res.status === sample.okStatus : res.status >= 200 && res.status < 300;
      assert.ok(ok, `${routeName(r)} → ${res.status} ${res.text.slice(0, 200)}`);
      if (r.url.endsWith("/jwt/rotate")) f.userToken = await f.signIn();
    }
    // Put back what the samples consumed (the memory they deleted).
    f.memoryId = (await s.storeMemory(f.key, { content: "own memory again" })).id;
  });

  test("no credentials → 401 with WWW-Authenticate, on every route", async () => {
    for (const r of routes()) {
      const sample = SAMPLES[routeName(r)];
      if (!sample) continue;
      await expectUnauthenticated(s, r.method, sample.path(f), { key: null }, "UNAUTHENTICATED");
    }
  });

  test("malformed credentials → 401, on every route", async () => {
    const bad: Record<string, string>[] = [
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: "Bearer" },
      { authorization: "Bearer a b" },
      { authorization: `Bearer ${"x".repeat(2000)}` },
      { authorization: "Bearer hyk_<script>" },
      { "x-agent-key": "short" },
    ];
    for (const r of routes()) {
      const sample = SAMPLES[routeName(r)];
      if (!sample) continue;
      for (const headers of bad) {
        await expectUnauthenticated(
          s,
          r.method,
          sample.path(f),
          { key: null, headers },
          "INVALID_CREDENTIALS",
        );
      }
    }
  });

  test("unknown, revoked and expired keys → 401, on every route", async () => {
    s.clock.advance(120_000);
    try {
      for (const r of routes()) {
        const sample = SAMPLES[routeName(r)];
        if (!sample) continue;
        const path = sample.path(f);
        await expectUnauthenticated(
          s,
          r.method,
          path,
          { key: generateSecret(KEY_PREFIX.agent) },
          "INVALID_CREDENTIALS",
        );
        await expectUnauthenticated(
          s,
          r.method,
          path,
          { key: generateSecret(KEY_PREFIX.admin) },
          "INVALID_CREDENTIALS",
        );
        await expectUnauthenticated(s, r.method, path, { key: revokedKey }, "CREDENTIALS_REVOKED");
        await expectUnauthenticated(s, r.method, path, { key: expiringKey }, "CREDENTIALS_EXPIRED");
      }
    } finally {
      s.clock.advance(-120_000);
    }
  });

  test("insufficient scope or credential kind → 403, on every route", async () => {
    for (const r of routes()) {
      const sample = SAMPLES[routeName(r)];
      if (!sample) continue;
      const wrong =
        sample.agentScope === "any"
          ? []
          : sample.agentScope === null
            ? [f.key, adminOnlyKey]
            : sample.agentScope === "tenant:admin" || sample.agentScope === "audit:read"
              ? [f.key, readOnlyKey]
              : sample.agentScope === "credentials.use"
                ? [f.key, readOnlyKey, adminOnlyKey]
                : sample.agentScope === "memories:write"
                  ? [readOnlyKey, adminOnlyKey]
                  : [adminOnlyKey];
      for (const key of wrong) {
        const res = await s.request(r.method, sample.path(f), { key, body: sample.body?.(f) });
        assert.equal(
          res.status,
          403,
          `${routeName(r)} with a key lacking ${sample.agentScope}: ${res.text.slice(0, 200)}`,
        );
        assert.ok(["FORBIDDEN", "INSUFFICIENT_SCOPE"].includes(errorCode(res) ?? ""));
      }
    }
  });

  test("memory routes refuse the instance admin key (it owns no tenant data)", async () => {
    for (const r of routes()) {
      const sample = SAMPLES[routeName(r)];
      if (!sample || !r.url.startsWith("/v1/memories")) continue;
      const res = await s.request(r.method, sample.path(f), { key: s.adminKey, body: sample.body?.(f) });
      assert.equal(res.status, 403, routeName(r));
    }
  });

  test("another tenant's object or path: reads look absent (404), writes are refused, for every verb", async () => {
    let checked = 0;
    for (const r of routes()) {
      const sample = SAMPLES[routeName(r)];
      if (!sample?.crossTenant) continue;
      const res = await s.request(r.method, sample.crossTenant.path(f), {
        key: rightfulKey(s, f, sample),
        body: sample.body?.(f),
      });
      assert.equal(res.status, sample.crossTenant.status, `${routeName(r)}: ${res.text}`);
      checked++;
    }
    assert.ok(checked >= 8);
    // The other tenant's memory is untouched by all of it.
    const other = await s.createKey(f.otherTenantId);
    const still = await s.request("GET", `/v1/memories/${f.otherMemoryId}`, { key: other.key });
    assert.equal(still.status, 200);
    assert.equal((still.body as { version: number }).version, 1);
  });

  test("bulk delete aimed at another tenant's ids deletes nothing", async () => {
    const res = await s.request("DELETE", "/v1/memories", { key: f.key, body: { ids: [f.otherMemoryId] } });
    assert.deepEqual(res.body, { deleted: 0 });
  });

  test("path traversal in tenant ids and namespaces is refused and touches no file", async () => {
    // Beside the data directory: only the names a traversal below could produce are watched, so
    // other processes creating and removing their own temporary files meanwhile do not matter.
    const ESCAPES = new Set(["etc", "control", "control.db", "vaults", "x", "b", "abs"]);
    const outside = () =>
      readdirSync(dirname(s.dataDir))
        .filter((d) => ESCAPES.has(d))
        .sort();
    const before = outside();
    for (const path of [
      "/v1/tenants/..%2F..%2Fetc/keys",
      "/v1/tenants/../../etc/keys",
      "/v1/tenants/tnt_..%2Fcontrol/keys",
      `/v1/tenants/${encodeURIComponent("../vaults")}/keys`,
    ]) {
      const res = await s.request("GET", path);
      assert.ok(res.status === 404 || res.status === 422, `${path} → ${res.status}`);
    }
    for (const namespace of ["../x", "a/../../b", "/abs", "a//b", "A/B", "a\\b", "a/%2e%2e"]) {
      const res = await s.request("POST", "/v1/memories", { key: f.key, body: { namespace, content: "x" } });
      assert.equal(res.status, 422, namespace);
    }
    assert.deepEqual(outside(), before);
    for (const outside of ["etc", "vaults", "control"]) {
      assert.equal(existsSync(join(dirname(s.dataDir), outside)), false, outside);
    }
    assert.equal(existsSync(join(s.dataDir, "etc")), false);
    assert.deepEqual(
      readdirSync(join(s.dataDir, "vaults")).filter((d) => !d.startsWith("tnt_")),
      [],
    );
  });

  test("oversize, malformed and non-JSON bodies → 413, 400, 415 with stable codes, on every body route", async () => {
    for (const r of routes()) {
      const sample = SAMPLES[routeName(r)];
      if (!sample?.body) continue;
      const key = rightfulKey(s, f, sample);
      const path = sample.path(f);
      const big = await s.request(r.method, path, {
        key,
        rawBody: JSON.stringify({ content: "x".repeat(70_000) }),
      });
      assert.equal(big.status, 413, routeName(r));
      assert.equal(errorCode(big), "PAYLOAD_TOO_LARGE");
      const malformed = await s.request(r.method, path, { key, rawBody: '{"namespace": "a", ' });
      assert.equal(malformed.status, 400, routeName(r));
      assert.equal(errorCode(malformed), "MALFORMED_JSON");
      const text = await s.request(r.method, path, {
        key,
        rawBody: "hello",
        headers: { "content-type": "text/plain" },
      });
      assert.equal(text.status, 415, routeName(r));
      assert.equal(errorCode(text), "UNSUPPORTED_MEDIA_TYPE");
      const invalid = await s.request(r.method, path, { key, body: { unexpected: true } });
      assert.equal(invalid.status, 422, routeName(r));
      assert.equal(errorCode(invalid), "VALIDATION_FAILED");
    }
  });

  test("X-Agent-Key and X-Admin-Key are accepted as aliases of the bearer header", async () => {
    const a = await s.request("GET", "/v1/memories", { key: null, headers: { "x-agent-key": f.key } });
    assert.equal(a.status, 200);
    const b = await s.request("GET", "/v1/tenants", { key: null, headers: { "x-admin-key": s.adminKey } });
    assert.equal(b.status, 200);
  });

  test("every response carries a request id; a sane incoming X-Request-Id is echoed", async () => {
    const res = await s.request("GET", "/healthz", {
      key: null,
      headers: { "x-request-id": "trace-12345678" },
    });
    assert.equal(res.headers.get("x-request-id"), "trace-12345678");
    const bad = await s.request("GET", "/healthz", { key: null, headers: { "x-request-id": "<script>" } });
    assert.match(bad.headers.get("x-request-id") ?? "", /^req_/);
  });

  test("an unknown route is a 404 in the error envelope", async () => {
    const res = await s.request("GET", "/v1/nope");
    assert.equal(res.status, 404);
    assert.equal(errorCode(res), "NOT_FOUND");
  });

  test("denials are written to the audit trail of the caller's tenant", async () => {
    await s.request("POST", "/v1/memories", { key: readOnlyKey, body: { namespace: "a", content: "x" } });
    const db = await s.hypha.storage.tenant(f.tenantId);
    const rows = await db.all<{ outcome: string; details: string }>(
      "SELECT outcome, details FROM audit_events WHERE action = 'access.denied'",
    );
    assert.ok(rows.some((r) => r.outcome === "denied" && r.details.includes("INSUFFICIENT_SCOPE")));
  });

  test("a 429 from a used-up rate plan names its limit and is written as access.denied to the key's tenant trail", async () => {
    type Event = {
      actor: { type: string; id: string };
      outcome: string;
      request_id: string | null;
      details: Record<string, unknown> | null;
    };
    const tenantId = await s.createTenant();
    // The smallest rate plan a key may have is 60 a minute; the clock does not move meanwhile.
    const { key, id: keyId } = await s.createKey(tenantId, { rate_limit_per_minute: 60 });
    for (let i = 0; i < 60; i++) assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200);
    const limited = await s.request("GET", "/v1/memories", { key });
    assert.equal(limited.status, 429, limited.text);
    assert.equal(errorCode(limited), "RATE_LIMITED");
    const error = (limited.body as { error: { requestId: string; limit: unknown } }).error;
    assert.deepEqual(error.limit, { name: "key_rate_plan", limit: 60, window_seconds: 60 });

    const page = await s.request("GET", `/v1/audit/events?tenant_id=${tenantId}&action=access.denied`);
    assert.equal(page.status, 200, page.text);
    const denied = (page.body as { items: Event[] }).items;
    assert.equal(denied.length, 1, "the refused request, and none of the 60 allowed");
    assert.deepEqual(
      { actor: denied[0]?.actor, outcome: denied[0]?.outcome, request_id: denied[0]?.request_id },
      { actor: { type: "agent", id: keyId }, outcome: "denied", request_id: error.requestId },
    );
    assert.deepEqual(denied[0]?.details, { code: "RATE_LIMITED", method: "GET", route: "/v1/memories" });
    const verify = await s.request("GET", `/v1/audit/verify?tenant_id=${tenantId}`);
    assert.equal((verify.body as { ok: boolean }).ok, true, verify.text);
  });
});
