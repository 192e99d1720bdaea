import assert from "node:assert/strict";
import { get } from "node:http";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";

/**
 * Opens a live stream (a request that stays in flight until aborted) and waits for its preamble.
 * Streams an earlier test aborted release their slots when the server sees the socket close, so a
 * 503 here is retried for a moment.
 */
async function holdStream(s: TestServer, tenantId: string, key: string): Promise<() => void> {
  let ctrl = new AbortController();
  let res: Response | undefined;
  for (let i = 0; i < 200; i++) {
    ctrl = new AbortController();
    res = await fetch(`${s.url}/admin/stream/${tenantId}`, {
      headers: { authorization: `Bearer ${key}` },
      signal: ctrl.signal,
    });
    if (res.status !== 503) break;
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(res);
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  return () => ctrl.abort();
}

describe("load shedding: overload is refused fast with 503, not queued", () => {
  let s: TestServer;
  let a: { tenantId: string; key: string };
  let b: { tenantId: string; key: string };

  before(async () => {
    // Small bounds so a handful of held streams reach them.
    s = await startServer({ maxInFlight: 4, maxInFlightPerTenant: 2 });
    const ta = await s.createTenant();
    const tb = await s.createTenant();
    a = { tenantId: ta, key: (await s.createKey(ta, { scopes: ["admin"] })).key };
    b = { tenantId: tb, key: (await s.createKey(tb, { scopes: ["admin"] })).key };
  });
  after(() => s.close());

  test("a tenant at its bound gets 503 OVERLOADED with Retry-After; another tenant is still served; nothing is written", async () => {
    const closeA1 = await holdStream(s, a.tenantId, a.key);
    const closeA2 = await holdStream(s, a.tenantId, a.key);
    try {
      const refused = await s.request("POST", "/v1/memories", {
        key: a.key,
        body: { namespace: "notes", content: "refused write" },
      });
      assert.equal(refused.status, 503);
      assert.equal((refused.body as { error: { code: string } }).error.code, "OVERLOADED");
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
      const other = await s.request("POST", "/v1/memories", {
        key: b.key,
        body: { namespace: "notes", content: "served write" },
      });
      assert.equal(other.status, 201, "one tenant's load does not starve another");
    } finally {
      closeA1();
      closeA2();
    }
    // The refused write was never half-done: once slots free, only what was acknowledged exists.
    await waitFor(async () => (await s.request("GET", "/v1/memories", { key: a.key })).status === 200);
    const list = await s.request("GET", "/v1/memories", { key: a.key });
    assert.equal((list.body as { items: unknown[] }).items.length, 0);
  });

  test("at the process bound every new request is refused, readiness says overloaded, and both recover when load drops", async () => {
    const closers = [
      await holdStream(s, a.tenantId, a.key),
      await holdStream(s, a.tenantId, a.key),
      await holdStream(s, b.tenantId, b.key),
      await holdStream(s, b.tenantId, b.key),
    ];
    try {
      const refused = await s.request("GET", "/v1/memories", { key: b.key });
      assert.equal(refused.status, 503);
      assert.equal((refused.body as { error: { code: string } }).error.code, "OVERLOADED");
      const ready = await s.request("GET", "/health/ready", { key: null });
      assert.equal(ready.status, 503, "a load balancer is told to route away");
      assert.equal(
        (await s.request("GET", "/health/live", { key: null })).status,
        200,
        "probes are never shed",
      );
    } finally {
      for (const close of closers) close();
    }
    await waitFor(async () => (await s.request("GET", "/health/ready", { key: null })).status === 200);
    assert.equal((await s.request("GET", "/v1/memories", { key: b.key })).status, 200);
  });

  test("refusals for overload do not count as the agent's errors: a shed agent is not paused", async () => {
    const agent = (await s.createKey(a.tenantId, { scopes: ["write"] })).key;
    const closeA1 = await holdStream(s, a.tenantId, a.key);
    const closeA2 = await holdStream(s, a.tenantId, a.key);
    try {
      // More than the error-rate detector's minimum sample, every one refused.
      for (let i = 0; i < 25; i++)
        assert.equal((await s.request("GET", "/v1/memories", { key: agent })).status, 503);
    } finally {
      closeA1();
      closeA2();
    }
    await waitFor(async () => (await s.request("GET", "/v1/memories", { key: agent })).status !== 503);
    assert.equal((await s.request("GET", "/v1/memories", { key: agent })).status, 200, "not paused (423)");
  });

  test("an overload refusal is not audited as a denial (shedding adds no writes)", async () => {
    const db = await s.hypha.storage.tenant(a.tenantId);
    const before = await db.get<{ n: number }>("SELECT count(*) AS n FROM audit_events");
    const closeA1 = await holdStream(s, a.tenantId, a.key);
    const closeA2 = await holdStream(s, a.tenantId, a.key);
    try {
      assert.equal((await s.request("GET", "/v1/memories", { key: a.key })).status, 503);
    } finally {
      closeA1();
      closeA2();
    }
    const afterCount = await db.get<{ n: number }>("SELECT count(*) AS n FROM audit_events");
    assert.equal(afterCount?.n, before?.n);
  });
});

describe("load shedding: exports are bounded, one per tenant", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ maxExportsInFlight: 2 });
  });
  after(() => s.close());

  test("a second export of the same tenant while one streams is 503 OVERLOADED; another tenant's is served; then it is admitted again", async () => {
    const a = await s.seedTenant();
    const b = await s.seedTenant();
    // Enough memories that the first export is still streaming while the client does not read.
    for (let i = 0; i < 6; i++) {
      const memories = Array.from({ length: 500 }, (_, j) => ({
        namespace: "notes",
        content: `Export padding ${i * 500 + j}: the harbour walk, the bakery on the corner and the ferry times`,
      }));
      assert.equal((await s.request("POST", "/v1/memories", { key: a.key, body: { memories } })).status, 201);
    }
    // node:http, whose destroy closes the socket at once (the server then ends the export).
    const first = await new Promise<{ status: number; close(): void }>((resolve, reject) => {
      const req = get(
        `${s.url}/v1/memories/export`,
        { headers: { authorization: `Bearer ${a.key}` } },
        (res) => {
          res.once("data", () => {
            res.pause();
            resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
          });
        },
      );
      req.once("error", reject);
    });
    assert.equal(first.status, 200);
    try {
      const second = await s.request("GET", "/v1/memories/export", { key: a.key });
      assert.equal(second.status, 503);
      assert.equal((second.body as { error: { code: string } }).error.code, "OVERLOADED");
      assert.ok(Number(second.headers.get("retry-after")) >= 1);
      assert.equal((await s.request("GET", "/v1/memories/export", { key: b.key })).status, 200);
      assert.equal(
        (await s.request("GET", "/v1/memories", { key: a.key })).status,
        200,
        "other requests pass",
      );
    } finally {
      first.close();
    }
    await waitFor(async () => (await s.request("GET", "/v1/memories/export", { key: a.key })).status === 200);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail("condition not reached");
}
