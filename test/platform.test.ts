import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";

describe("platform: probes, metrics, docs, rate limits, logs, failures", () => {
  let s: TestServer;
  const metricsToken = generateSecret(KEY_PREFIX.metrics);
  before(async () => {
    s = await startServer({ metricsToken, rateLimitPerMinute: 600 });
  });
  after(() => s.close());

  test("health probes answer without credentials", async () => {
    for (const path of ["/healthz", "/health/live"]) {
      const res = await s.request("GET", path, { key: null });
      assert.equal(res.status, 200, path);
      assert.deepEqual(res.body, { status: "ok" });
    }
    const ready = await s.request("GET", "/health/ready", { key: null });
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: "ok", dependencies: { store: "ok", redis: "not_configured" } });
  });

  test("readiness fails when the store does not answer", async () => {
    const other = await startServer();
    await other.hypha.storage.close();
    const res = await other.request("GET", "/health/ready", { key: null });
    assert.equal(res.status, 503);
    assert.equal(errorCode(res), "UNAVAILABLE");
    await other.hypha.app.close();
  });

  test("/metrics needs the admin key or the metrics token, and reports routes, memories and recalls", async () => {
    const { key } = await s.seedTenant();
    await s.storeMemory(key, { content: "metric me" });
    await s.request("POST", "/v1/memories/recall", { key, body: { query: "metric" } });
    assert.equal((await s.request("GET", "/metrics", { key: null })).status, 401);
    assert.equal((await s.request("GET", "/metrics", { key })).status, 403);
    const res = await s.request("GET", "/metrics", { key: metricsToken });
    assert.equal(res.status, 200);
    assert.match(
      res.text,
      /hypha_http_requests_total\{route="\/v1\/memories",method="POST",status="201"\} \d+/,
    );
    assert.match(
      res.text,
      /hypha_http_request_duration_seconds_bucket\{le="0\.005",route="\/v1\/memories\/recall"/,
    );
    assert.match(res.text, /hypha_memories_stored_total \d+/);
    assert.match(res.text, /hypha_memories_recalled_total [1-9]/);
    // Load shedding's state: the scrape itself is in flight (/metrics is admitted like any route; only probes are exempt).
    assert.match(res.text, /hypha_admission_in_flight [1-9]/);
    assert.match(res.text, /hypha_admission_waiting 0/);
    assert.match(res.text, /hypha_admission_oldest_seconds \d/);
    assert.match(res.text, /hypha_overload_refused_total \d+/);
    assert.equal((await s.request("GET", "/metrics")).status, 200, "the admin key works too");
  });

  test("metric labels use route templates, so cardinality stays bounded", async () => {
    const { key } = await s.seedTenant();
    for (let i = 0; i < 5; i++) {
      await s.request("GET", `/v1/memories/mem_0000000000000000000000000${i}`, { key });
      await s.request("GET", `/random/path/${i}`, { key });
    }
    const res = await s.request("GET", "/metrics", { key: metricsToken });
    assert.ok(!res.text.includes("mem_00000"), "no ids in labels");
    assert.ok(!res.text.includes("/random/path"), "no raw unmatched paths in labels");
    assert.match(res.text, /route="\/v1\/memories\/:id"/);
    assert.match(res.text, /route="unmatched"/);
  });

  test("OpenAPI 3 document and docs page list every route's operation", async () => {
    const res = await s.request("GET", "/openapi.json");
    assert.equal(res.status, 200);
    const doc = res.body as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    assert.match(doc.openapi, /^3\./);
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId));
    for (const op of [
      "createTenant",
      "createKey",
      "storeMemory",
      "recallMemories",
      "exportMemories",
      "bulkDeleteMemories",
    ]) {
      assert.ok(ops.includes(op), op);
    }
    const docs = await s.request("GET", "/docs");
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get("content-type") ?? "", /text\/html/);
    assert.ok(docs.text.includes("recallMemories"));
  });

  test("per-key rate limit: sliding window with RateLimit-* headers, 429 with Retry-After", async () => {
    const tenantId = await s.createTenant();
    // The smallest rate plan a key may have is 60 a minute.
    const { key } = await s.createKey(tenantId, { rate_limit_per_minute: 60 });
    const { key: other } = await s.createKey(tenantId, { rate_limit_per_minute: 60 });
    for (let i = 0; i < 60; i++) {
      const res = await s.request("GET", "/v1/memories", { key });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("ratelimit-limit"), "60");
      assert.equal(res.headers.get("ratelimit-remaining"), String(59 - i));
    }
    const limited = await s.request("GET", "/v1/memories", { key });
    assert.equal(limited.status, 429);
    assert.equal(errorCode(limited), "RATE_LIMITED");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal((await s.request("GET", "/v1/memories", { key: other })).status, 200, "limits are per key");
    // Half a minute into the next window, half of the previous window still counts: 60*0.5 + 0 → room for 30.
    s.clock.advance(60_000 - (s.clock.now() % 60_000) + 30_000);
    for (let i = 0; i < 30; i++) assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200);
    assert.equal((await s.request("GET", "/v1/memories", { key })).status, 429);
    s.clock.advance(120_000);
    assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200, "the window slides on");
  });

  test("the default limit is 600 requests a minute per key", async () => {
    const { key } = await s.seedTenant();
    const res = await s.request("GET", "/v1/memories", { key });
    assert.equal(res.headers.get("ratelimit-limit"), "600");
  });

  test("logs are JSON with request id and tenant id; keys, auth headers and content never appear", async () => {
    const { key, tenantId } = await s.seedTenant();
    const content = "the launch code is tangerine-falcon-42";
    const stored = await s.request("POST", "/v1/memories", {
      key,
      body: { namespace: "logs", content },
      headers: { "x-request-id": "trace-logs-0001" },
    });
    assert.equal(stored.status, 201);
    await s.request("GET", "/v1/memories", { key: null, headers: { "x-agent-key": key } });
    const lines = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = lines.find((l) => l.requestId === "trace-logs-0001" && l.msg === "request");
    assert.ok(mine, "a request line carries the request id");
    assert.equal(mine.tenantId, tenantId);
    const all = s.logs.join("\n");
    assert.ok(!all.includes(key), "no agent key");
    assert.ok(!all.includes(s.adminKey), "no admin key");
    assert.ok(!all.includes("tangerine-falcon"), "no memory content");
  });

  test("every log line carries the request id exactly once (raw JSON, not the parsed object)", async () => {
    const { key } = await s.seedTenant();
    const from = s.logs.length;
    await s.request("GET", "/v1/memories", { key, headers: { "x-request-id": "trace-once-0001" } });
    const raw = s.logs.slice(from).filter((l) => l.includes("trace-once-0001"));
    assert.ok(raw.length > 0, "the request was logged");
    for (const line of raw) assert.equal(line.split('"requestId"').length - 1, 1, line);
  });

  test("an unexpected failure is a generic 500 that leaks nothing, and nothing is half-written", async () => {
    const { key, tenantId } = await s.seedTenant();
    const before = await s.storeMemory(key, { content: "before the failure" });
    const db = await s.hypha.storage.tenant(tenantId);
    // Break the store under the server: the label table vanishes mid-flight.
    await s.asOwner(tenantId, "ALTER TABLE memory_labels RENAME TO memory_labels_gone");
    try {
      const res = await s.request("POST", "/v1/memories", {
        key,
        body: { namespace: "x", content: "half written?", tags: ["t"] },
      });
      assert.equal(res.status, 500);
      assert.equal(errorCode(res), "INTERNAL");
      assert.equal((res.body as { error: { message: string } }).error.message, "internal error");
      assert.ok(!res.text.includes("memory_labels"), "no SQL detail in the response");
    } finally {
      await s.asOwner(tenantId, "ALTER TABLE memory_labels_gone RENAME TO memory_labels");
    }
    // Content is sealed on this (default, encrypted) tenant: the ids show what was written.
    const rows = await db.all<{ id: string }>("SELECT id FROM memories");
    assert.deepEqual(
      rows.map((r) => r.id),
      [before.id],
    );
    assert.ok(
      s.logs.some((l) => l.includes('"level":50') && l.includes("memory_labels")),
      "logged in full",
    );
  });
});
