import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  createHyphaClient,
  type HyphaClient,
  HyphaError,
  listAllMemories,
  type Memory,
  parseRetryAfter,
} from "../src/client/index.ts";
import { startServer, type TestServer } from "./harness.ts";
import { NODE, ROOT } from "./mcp-helpers.ts";

const run = promisify(execFile);

async function rejectsWith(p: Promise<unknown>, code: string, status: number): Promise<HyphaError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HyphaError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** A local HTTP receiver answering from a script of responses, recording what it was sent. */
async function scripted(responses: { status: number; headers?: Record<string, string>; body: unknown }[]) {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const next = responses.shift() ?? {
      status: 500,
      body: { error: { code: "INTERNAL", message: "x", requestId: "r" } },
    };
    res.writeHead(next.status, { "content-type": "application/json", ...(next.headers ?? {}) });
    res.end(JSON.stringify(next.body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("typed client", () => {
  let s: TestServer;
  let admin: HyphaClient;
  before(async () => {
    s = await startServer();
    admin = createHyphaClient({ url: s.url, key: s.adminKey });
  });
  after(() => s.close());

  test("every operationId in /openapi.json has a client method, and every client method an operation", async () => {
    const doc = (await s.request("GET", "/openapi.json")).body as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const operations = Object.values(doc.paths)
      .flatMap((ops) => Object.values(ops).map((op) => op.operationId))
      .filter((id): id is string => typeof id === "string")
      .sort();
    assert.ok(operations.length >= 19);
    const methods = Object.keys(createHyphaClient({ url: s.url, key: "x" })).sort();
    assert.deepEqual(methods, operations);
  });

  test("tenants, keys and health round-trip through the client", async () => {
    assert.deepEqual(await admin.healthz(), { status: "ok" });
    assert.deepEqual(await admin.healthLive(), { status: "ok" });
    assert.deepEqual(await admin.healthReady(), {
      status: "ok",
      dependencies: { store: "ok", redis: "not_configured" },
    });
    const tenant = await admin.createTenant({ name: "client-tenant" });
    assert.equal((await admin.getTenant(tenant.id)).name, "client-tenant");
    assert.ok((await admin.listTenants({ limit: 200 })).items.some((t) => t.id === tenant.id));
    const created = await admin.createKey(tenant.id, { agent: "bot", scopes: ["memories:read"] });
    assert.match(created.key, /^hyk_/);
    const keys = await admin.listKeys(tenant.id);
    assert.deepEqual(
      keys.items.map((k) => k.id),
      [created.id],
    );
    assert.equal("key" in (keys.items[0] ?? {}), false, "a listing never carries the key");
    const revoked = await admin.revokeKey(tenant.id, created.id);
    assert.ok(revoked.revoked_at);
    const agent = createHyphaClient({ url: s.url, key: created.key });
    await rejectsWith(agent.listMemories(), "CREDENTIALS_REVOKED", 401);
  });

  test("memories: single and batch store, pages, patch, history, recall, namespaces, delete, bulk delete", async () => {
    const { key } = await s.seedTenant();
    const c = createHyphaClient({ url: s.url, key });
    const one = await c.storeMemory({
      namespace: "proj/a",
      content: "Invoices are due on the 5th",
      entities: ["billing"],
    });
    assert.match(one.id, /^mem_/);
    const batch = await c.storeMemory({
      memories: Array.from({ length: 5 }, (_, i) => ({ namespace: "proj/b", content: `batch item ${i}` })),
    });
    assert.equal(batch.memories.length, 5);

    const first = await c.listMemories({ limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.next_cursor);
    const all: Memory[] = [];
    for await (const m of listAllMemories(c, { limit: 2 })) all.push(m);
    assert.equal(all.length, 6);

    const patched = await c.updateMemory(one.id, { content: "Invoices are due on the 10th" });
    assert.equal(patched.version, 2);
    assert.deepEqual(
      (await c.memoryHistory(one.id)).versions.map((v) => v.version),
      [2, 1],
    );
    assert.equal((await c.getMemory(one.id)).content, "Invoices are due on the 10th");

    const recall = await c.recallMemories({ query: "when are invoices due?" });
    assert.equal(recall.results[0]?.memory.id, one.id);
    assert.match(recall.context, /10th/);

    assert.deepEqual((await c.listNamespaces()).items, [
      { namespace: "proj/a", count: 1 },
      { namespace: "proj/b", count: 5 },
    ]);

    assert.deepEqual(await c.deleteMemory(batch.memories[0]?.id ?? ""), { deleted: 1 });
    assert.deepEqual(await c.bulkDeleteMemories({ entity: "billing" }), { deleted: 1 });
    assert.equal((await c.listMemories()).items.length, 4);
  });

  test("export streams NDJSON as memories, with history and resume by cursor", async () => {
    const { key } = await s.seedTenant();
    const c = createHyphaClient({ url: s.url, key });
    const { memories } = await c.storeMemory({
      memories: Array.from({ length: 700 }, (_, i) => ({ namespace: "bulk", content: `exported ${i}` })),
    });
    await c.updateMemory(memories[0]?.id ?? "", { content: "exported 0, second version" });
    const seen: string[] = [];
    for await (const m of c.exportMemories()) seen.push(m.id);
    assert.deepEqual(seen, memories.map((m) => m.id).sort());
    const resumed: string[] = [];
    for await (const m of c.exportMemories({ cursor: seen[399] })) resumed.push(m.id);
    assert.deepEqual(resumed, seen.slice(400));
    let versions = 0;
    for await (const _ of c.exportMemories({ includeHistory: true })) versions++;
    assert.equal(versions, 701);
  });

  test("errors are HyphaError with the server's code, status, request id and details", async () => {
    const { key } = await s.seedTenant();
    const c = createHyphaClient({ url: s.url, key });
    const missing = await rejectsWith(c.getMemory("mem_01JZZZZZZZZZZZZZZZZZZZZZZZ"), "NOT_FOUND", 404);
    assert.match(missing.requestId ?? "", /^req_/);
    const invalid = await rejectsWith(
      c.storeMemory({ namespace: "../x", content: "x" }),
      "VALIDATION_FAILED",
      422,
    );
    assert.ok(invalid.details?.some((d) => d.path.includes("namespace")));
    await rejectsWith(c.listTenants(), "FORBIDDEN", 403);
    const nobody = createHyphaClient({ url: s.url, key: "hyk_not_a_real_key_at_all_000000" });
    await rejectsWith(nobody.listMemories(), "INVALID_CREDENTIALS", 401);
    const down = createHyphaClient({ url: "http://127.0.0.1:9", key });
    await rejectsWith(down.listMemories(), "NETWORK_ERROR", 0);
  });

  test("429 from the real rate limiter is retried after Retry-After, with the injected sleep", async () => {
    const tenantId = await s.createTenant();
    const { key } = await s.createKey(tenantId, { rate_limit_per_minute: 60 });
    const waits: number[] = [];
    const c = createHyphaClient({
      url: s.url,
      key,
      maxRetries: 5,
      maxRetryDelayMs: 120_000,
      sleep: async (ms) => {
        waits.push(ms);
        s.clock.advance(ms);
      },
    });
    for (let i = 0; i < 60; i++) await c.listMemories();
    const page = await c.listMemories();
    assert.deepEqual(page.items, []);
    assert.equal(waits.length, 1, "the call after the 60th waited once: Retry-After is exact");
    for (const ms of waits) assert.ok(ms >= 1000 && ms <= 120_000, `waited ${ms} ms as told`);
  });

  test("retries are bounded: after maxRetries the 429 is thrown with its Retry-After", async () => {
    const limited = { error: { code: "RATE_LIMITED", message: "slow down", requestId: "req_1" } };
    const r = await scripted(
      Array.from({ length: 4 }, () => ({ status: 429, headers: { "retry-after": "2" }, body: limited })),
    );
    try {
      const waits: number[] = [];
      const c = createHyphaClient({
        url: r.url,
        key: "k",
        maxRetries: 2,
        sleep: async (ms) => void waits.push(ms),
      });
      const err = await rejectsWith(c.listMemories(), "RATE_LIMITED", 429);
      assert.equal(err.retryAfterMs, 2000);
      assert.deepEqual(waits, [2000, 2000]);
      assert.equal(r.seen.length, 3);
    } finally {
      await r.close();
    }
  });

  test("503 is retried; a Retry-After longer than the cap is not waited for", async () => {
    const unavailable = { error: { code: "UNAVAILABLE", message: "not ready", requestId: "req_2" } };
    const r = await scripted([
      { status: 503, body: unavailable },
      { status: 503, headers: { "retry-after": "1" }, body: unavailable },
      { status: 200, body: { status: "ok" } },
      { status: 503, headers: { "retry-after": "3600" }, body: unavailable },
    ]);
    try {
      const waits: number[] = [];
      const c = createHyphaClient({ url: r.url, key: "k", sleep: async (ms) => void waits.push(ms) });
      assert.deepEqual(await c.healthReady(), { status: "ok" });
      assert.deepEqual(waits, [500, 1000], "backoff without Retry-After, then as told");
      const err = await rejectsWith(c.healthReady(), "UNAVAILABLE", 503);
      assert.equal(err.retryAfterMs, 3_600_000);
      assert.equal(waits.length, 2, "an hour is past the cap: no wait, no retry");
    } finally {
      await r.close();
    }
  });

  test("Retry-After is read as delta seconds or an HTTP date", () => {
    const now = Date.parse("2026-06-01T12:00:00Z");
    assert.equal(parseRetryAfter("7", now), 7000);
    assert.equal(parseRetryAfter("Mon, 01 Jun 2026 12:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Mon, 01 Jun 2026 11:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), null);
    assert.equal(parseRetryAfter(null, now), null);
  });

  test("the CLI's memory store, recall and export go through the client", async () => {
    const { key } = await s.seedTenant();
    const cli = (...args: string[]) =>
      run(NODE, ["bin/hypha.js", "memory", ...args, "--url", s.url, "--key", key], { cwd: ROOT });
    const stored = JSON.parse(
      (await cli("store", "Lunch is at noon", "--namespace", "office")).stdout,
    ) as Memory;
    assert.match(stored.id, /^mem_/);
    const recalled = JSON.parse((await cli("recall", "when is lunch")).stdout) as { context: string };
    assert.match(recalled.context, /noon/);
    const exported = (await cli("export")).stdout.trim().split("\n");
    assert.equal((JSON.parse(exported[0] ?? "{}") as Memory).id, stored.id);
    const failed = await cli("store", "x", "--namespace", "../bad").catch(
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal((failed as { code: number }).code, 1);
    assert.match((failed as { stderr: string }).stderr, /VALIDATION_FAILED/);
  });
});
