import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { errorCode, startServer, type TestServer } from "./harness.ts";

describe("tenants and keys", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("the instance admin creates, lists and reads tenants", async () => {
    const res = await s.request("POST", "/v1/tenants", { body: { name: "acme" } });
    assert.equal(res.status, 201);
    const t = res.body as { id: string; name: string };
    assert.match(t.id, /^tnt_[0-9A-Z]{26}$/);
    assert.equal(t.name, "acme");
    const list = await s.request("GET", "/v1/tenants");
    assert.ok((list.body as { items: { id: string }[] }).items.some((x) => x.id === t.id));
    const one = await s.request("GET", `/v1/tenants/${t.id}`);
    assert.equal((one.body as { name: string }).name, "acme");
  });

  test("a duplicate tenant name is a 409 conflict", async () => {
    await s.request("POST", "/v1/tenants", { body: { name: "dupe" } });
    const res = await s.request("POST", "/v1/tenants", { body: { name: "dupe" } });
    assert.equal(res.status, 409);
    assert.equal(errorCode(res), "CONFLICT");
  });

  test("tenant names are validated (no path characters)", async () => {
    for (const name of ["../evil", "", "a/b", "x".repeat(101)]) {
      const res = await s.request("POST", "/v1/tenants", { body: { name } });
      assert.equal(res.status, 422, name);
      assert.equal(errorCode(res), "VALIDATION_FAILED");
    }
  });

  test("a key is shown once; listings carry metadata only, never the key or its hash", async () => {
    const tenantId = await s.createTenant();
    const created = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
      body: { agent: "planner", scopes: ["memories:read"], namespaces: ["team"] },
    });
    assert.equal(created.status, 201);
    const k = created.body as { id: string; key: string; start: string; scopes: string[] };
    assert.match(k.key, /^hyk_[A-Za-z0-9_-]{43}$/);
    assert.equal(k.start, k.key.slice(0, 12));
    const list = await s.request("GET", `/v1/tenants/${tenantId}/keys`);
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(k.key), "listing must not contain the key");
    assert.ok(!/[0-9a-f]{64}/.test(list.text), "listing must not contain a hash");
    const item = (list.body as { items: Record<string, unknown>[] }).items[0];
    assert.equal(item?.id, k.id);
    assert.deepEqual(item?.namespaces, ["team"]);
    assert.equal("hash" in (item ?? {}), false);
  });

  test("a revoked key stops working at once and revocation is idempotent", async () => {
    const { tenantId, key, keyId } = await s.seedTenant();
    assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200);
    const rev = await s.request("DELETE", `/v1/tenants/${tenantId}/keys/${keyId}`);
    assert.equal(rev.status, 200);
    assert.ok((rev.body as { revoked_at: string | null }).revoked_at);
    const after = await s.request("GET", "/v1/memories", { key });
    assert.equal(after.status, 401);
    assert.equal(errorCode(after), "CREDENTIALS_REVOKED");
    assert.equal((await s.request("DELETE", `/v1/tenants/${tenantId}/keys/${keyId}`)).status, 200);
  });

  test("a key expires at its expiry time", async () => {
    const tenantId = await s.createTenant();
    const expiresAt = new Date(s.clock.now() + 3600_000).toISOString();
    const { key } = await s.createKey(tenantId, { expires_at: expiresAt });
    assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200);
    s.clock.advance(3600_000);
    const res = await s.request("GET", "/v1/memories", { key });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), "CREDENTIALS_EXPIRED");
    s.clock.advance(-3600_000);
  });

  test("an expiry in the past is refused", async () => {
    const tenantId = await s.createTenant();
    const res = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
      body: {
        agent: "a",
        scopes: ["memories:read"],
        expires_at: new Date(s.clock.now() - 1000).toISOString(),
      },
    });
    assert.equal(res.status, 422);
  });

  test("a tenant admin key manages its own tenant's keys but not another tenant's", async () => {
    const a = await s.createTenant();
    const b = await s.createTenant();
    const { key: adminA } = await s.createKey(a, { agent: "ops", scopes: ["tenant:admin"] });
    const made = await s.request("POST", `/v1/tenants/${a}/keys`, {
      key: adminA,
      body: { agent: "ops", scopes: ["tenant:admin"] },
    });
    assert.equal(made.status, 201);
    // It manages keys, but never mints rights it lacks (see test/key-grants.test.ts).
    const wider = await s.request("POST", `/v1/tenants/${a}/keys`, {
      key: adminA,
      body: { agent: "ops", scopes: ["memories:write"] },
    });
    assert.equal(wider.status, 403);
    assert.equal(errorCode(wider), "INSUFFICIENT_SCOPE");
    assert.equal((await s.request("GET", `/v1/tenants/${a}/keys`, { key: adminA })).status, 200);
    // Another tenant's path: reads look absent, writes are forbidden.
    const read = await s.request("GET", `/v1/tenants/${b}/keys`, { key: adminA });
    assert.equal(read.status, 404);
    const write = await s.request("POST", `/v1/tenants/${b}/keys`, {
      key: adminA,
      body: { agent: "x", scopes: ["memories:read"] },
    });
    assert.equal(write.status, 403);
    assert.equal(errorCode(write), "CROSS_TENANT_FORBIDDEN");
    const { id: bKey } = await s.createKey(b);
    assert.equal((await s.request("DELETE", `/v1/tenants/${a}/keys/${bKey}`, { key: adminA })).status, 404);
  });

  test("an agent key without tenant:admin cannot manage keys", async () => {
    const { tenantId, key } = await s.seedTenant();
    const res = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
      key,
      body: { agent: "x", scopes: ["memories:read"] },
    });
    assert.equal(res.status, 403);
    assert.equal(errorCode(res), "INSUFFICIENT_SCOPE");
  });

  test("an agent key cannot create or list tenants", async () => {
    const { key } = await s.seedTenant();
    assert.equal((await s.request("POST", "/v1/tenants", { key, body: { name: "nope" } })).status, 403);
    assert.equal((await s.request("GET", "/v1/tenants", { key })).status, 403);
  });

  test("key and tenant events are written to the audit trail", async () => {
    const { tenantId, keyId } = await s.seedTenant();
    const db = await s.hypha.storage.tenant(tenantId);
    const events = await db.all<{ action: string; target_ids: string }>(
      "SELECT action, target_ids FROM audit_events",
    );
    assert.ok(events.some((e) => e.action === "key.created" && e.target_ids.includes(keyId)));
    const control = await s.hypha.storage.control.all<{ action: string; tenant_id: string }>(
      "SELECT action, tenant_id FROM audit_events WHERE action = 'tenant.created' AND target_ids = ?",
      [JSON.stringify([tenantId])],
    );
    assert.equal(control.length, 1);
  });
});
