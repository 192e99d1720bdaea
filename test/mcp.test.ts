import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { call, errorOf, httpClient, ok, stdioClient } from "./mcp-helpers.ts";

type Memory = { id: string; version: number; content: string; namespace: string; agent: string };

const TOOLS = [
  "memory_forget",
  "memory_get",
  "memory_history",
  "memory_list",
  "memory_recall",
  "memory_store",
  "memory_update",
];

/** The gateway also offers the credential broker's `http_request` (tested in credentials.test.ts). */
const GATEWAY_TOOLS = ["http_request", ...TOOLS];

/** Calls every tool once, in a life-cycle order, and checks what each returns. */
async function exerciseEveryTool(client: Client, namespace: string, expected: readonly string[] = TOOLS) {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), expected);
  for (const tool of tools) {
    assert.ok((tool.description ?? "").length > 40, `${tool.name} tells a model when to use it`);
    assert.equal(tool.inputSchema.type, "object");
  }
  const store = tools.find((t) => t.name === "memory_store");
  assert.equal(
    (store?.inputSchema.properties?.content as { maxLength?: number } | undefined)?.maxLength,
    262_144,
    "the REST bounds are in the tool's schema",
  );

  const stored = await ok<Memory>(client, "memory_store", {
    namespace,
    content: "The staging database lives in Frankfurt",
    tags: ["infra"],
    importance: 0.9,
  });
  assert.match(stored.id, /^mem_/);
  assert.equal(stored.version, 1);

  assert.equal((await ok<Memory>(client, "memory_get", { id: stored.id })).content, stored.content);

  const listed = await ok<{ items: Memory[] }>(client, "memory_list", { namespace, limit: 10 });
  assert.deepEqual(
    listed.items.map((m) => m.id),
    [stored.id],
  );

  const recall = await call(client, "memory_recall", { query: "where is the staging database?" });
  assert.equal(recall.isError, undefined);
  assert.match(recall.content[0]?.text ?? "", /Frankfurt/);
  assert.match(recall.content[0]?.text ?? "", new RegExp(stored.id));
  const results = (recall.structuredContent as { results: { memory: Memory }[] }).results;
  assert.equal(results[0]?.memory.id, stored.id);

  const updated = await ok<Memory>(client, "memory_update", {
    id: stored.id,
    content: "The staging database moved to Dublin",
  });
  assert.equal(updated.version, 2);

  const history = await ok<{ versions: Memory[] }>(client, "memory_history", { id: stored.id });
  assert.deepEqual(
    history.versions.map((v) => v.version),
    [2, 1],
  );

  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === "hypha://namespaces"));
  assert.ok(resources.some((r) => r.uri === `hypha://namespaces/${encodeURIComponent(namespace)}`));
  const nsRead = await client.readResource({ uri: `hypha://namespaces/${encodeURIComponent(namespace)}` });
  const nsText = nsRead.contents[0] && "text" in nsRead.contents[0] ? nsRead.contents[0].text : "";
  assert.match(nsText, /Dublin/);

  assert.deepEqual(await ok(client, "memory_forget", { id: stored.id }), { deleted: 1 });
  assert.equal(await errorOf(client, "memory_get", { id: stored.id }), "NOT_FOUND");
  assert.equal(await errorOf(client, "memory_update", { id: stored.id, importance: 0.1 }), "NOT_FOUND");

  const invalid = await call(client, "memory_store", { namespace: "../etc", content: "x" });
  assert.equal(invalid.isError, true, "inputs are validated against the REST schema");
}

/** Another tenant's memory is absent for every tool, and a missing scope is refused with its code. */
async function exerciseDenials(rw: Client, readOnly: Client, otherMemoryId: string) {
  for (const tool of ["memory_get", "memory_history", "memory_forget"]) {
    assert.equal(await errorOf(rw, tool, { id: otherMemoryId }), "NOT_FOUND", tool);
  }
  assert.equal(await errorOf(rw, "memory_update", { id: otherMemoryId, content: "hijack" }), "NOT_FOUND");
  const recall = await ok<{ results: unknown[] }>(rw, "memory_recall", { query: "other tenant secret plan" });
  assert.equal(recall.results.length, 0);
  assert.equal(
    await errorOf(readOnly, "memory_store", { namespace: "a", content: "x" }),
    "INSUFFICIENT_SCOPE",
  );
  assert.equal(await errorOf(readOnly, "memory_forget", { id: otherMemoryId }), "INSUFFICIENT_SCOPE");
}

/** 50 stores at once through one client; every one must be persisted. */
async function concurrentStores(client: Client, namespace: string): Promise<string[]> {
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      ok<Memory>(client, "memory_store", { namespace, content: `concurrent memory number ${i}` }),
    ),
  );
  return results.map((m) => m.id);
}

describe("MCP over Streamable HTTP (/mcp on the gateway)", () => {
  let s: TestServer;
  let tenant: { tenantId: string; key: string };
  let otherMemoryId: string;
  let readOnlyKey: string;
  before(async () => {
    s = await startServer();
    tenant = await s.seedTenant();
    readOnlyKey = (await s.createKey(tenant.tenantId, { scopes: ["memories:read"] })).key;
    const other = await s.seedTenant();
    otherMemoryId = (await s.storeMemory(other.key, { content: "other tenant secret plan" })).id;
  });
  after(() => s.close());

  test("every tool works end to end with the SDK client", async () => {
    const client = await httpClient(s.url, tenant.key);
    try {
      await exerciseEveryTool(client, "mcp/http", GATEWAY_TOOLS);
    } finally {
      await client.close();
    }
  });

  test("tool calls run as the key's agent and are audited in its tenant like REST calls", async () => {
    const client = await httpClient(s.url, tenant.key);
    try {
      const m = await ok<Memory>(client, "memory_store", { namespace: "audit", content: "audited via MCP" });
      assert.equal(m.agent, "agent-1");
      const db = await s.hypha.storage.tenant(tenant.tenantId);
      const rows = await db.all<{ action: string; target_ids: string }>(
        "SELECT action, target_ids FROM audit_events WHERE action = 'memory.created'",
      );
      assert.ok(rows.some((r) => r.target_ids.includes(m.id)));
    } finally {
      await client.close();
    }
  });

  test("denied calls: another tenant's memory is NOT_FOUND, a missing scope is INSUFFICIENT_SCOPE (and audited)", async () => {
    const rw = await httpClient(s.url, tenant.key);
    const ro = await httpClient(s.url, readOnlyKey);
    try {
      await exerciseDenials(rw, ro, otherMemoryId);
      const db = await s.hypha.storage.tenant(tenant.tenantId);
      const denials = await db.all<{ details: string }>(
        "SELECT details FROM audit_events WHERE action = 'access.denied' AND details LIKE '%/mcp%'",
      );
      assert.ok(
        denials.some((d) => d.details.includes("INSUFFICIENT_SCOPE") && d.details.includes("memory_store")),
      );
    } finally {
      await rw.close();
      await ro.close();
    }
  });

  test("a key restricted to a namespace cannot store or read outside it through MCP", async () => {
    const { key } = await s.createKey(tenant.tenantId, { namespaces: ["team"] });
    await s.storeMemory(tenant.key, { namespace: "private", content: "private plan for the launch" });
    const client = await httpClient(s.url, key);
    try {
      assert.equal(
        await errorOf(client, "memory_store", { namespace: "private", content: "x" }),
        "NAMESPACE_FORBIDDEN",
      );
      await ok(client, "memory_store", { namespace: "team/notes", content: "team launch plan" });
      const recall = await ok<{ results: { memory: Memory }[] }>(client, "memory_recall", {
        query: "launch plan",
      });
      assert.deepEqual(
        recall.results.map((r) => r.memory.namespace),
        ["team/notes"],
      );
    } finally {
      await client.close();
    }
  });

  test("50 concurrent memory_store calls: none lost", async () => {
    const { key } = await s.seedTenant();
    const client = await httpClient(s.url, key);
    try {
      const ids = await concurrentStores(client, "burst");
      assert.equal(new Set(ids).size, 50);
      const list = await s.request("GET", "/v1/memories?namespace=burst&limit=200", { key });
      assert.deepEqual((list.body as { items: Memory[] }).items.map((m) => m.id).sort(), [...ids].sort());
    } finally {
      await client.close();
    }
  });

  test("MCP requests are charged to the key's rate limit, shared with REST", async () => {
    const tenantId = await s.createTenant();
    const { key } = await s.createKey(tenantId, { rate_limit_per_minute: 60 });
    const client = await httpClient(s.url, key);
    let refused: unknown = null;
    try {
      for (let i = 0; i < 62 && refused === null; i++) {
        await ok(client, "memory_list", {}).catch((err: unknown) => {
          refused = err;
        });
      }
    } finally {
      await client.close();
    }
    assert.match(String(refused), /429|RATE_LIMITED/);
    const rest = await s.request("GET", "/v1/memories", { key });
    assert.equal(rest.status, 429);
  });

  test("an MCP response carries the request id and the key's rate-limit headers, like REST", async () => {
    const res = await s.request("POST", "/mcp", {
      key: tenant.key,
      headers: { accept: "application/json, text/event-stream", "x-request-id": "trace-mcp-0001" },
      body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-request-id"), "trace-mcp-0001");
    assert.ok(res.headers.get("ratelimit-remaining"));
    assert.equal((res.body as { result: { tools: unknown[] } }).result.tools.length, GATEWAY_TOOLS.length);
  });

  test("JSON-RPC batches are refused (one rate-limited request carries one message)", async () => {
    const res = await s.request("POST", "/mcp", {
      key: tenant.key,
      headers: { accept: "application/json, text/event-stream" },
      body: [
        { jsonrpc: "2.0", id: 1, method: "tools/list" },
        { jsonrpc: "2.0", id: 2, method: "tools/list" },
      ],
    });
    assert.equal(res.status, 422);
    assert.equal(errorCode(res), "VALIDATION_FAILED");
  });

  test("the instance admin key cannot use MCP (it owns no tenant data)", async () => {
    const res = await s.request("POST", "/mcp", {
      headers: { accept: "application/json, text/event-stream" },
      body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
    });
    assert.equal(res.status, 403);
  });

  test("GET /mcp is 405 with Allow: POST (stateless: no server-initiated stream)", async () => {
    const res = await s.request("GET", "/mcp", { key: tenant.key });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    assert.ok(res.headers.get("x-request-id"));
  });
});

describe("MCP over stdio (hypha mcp)", () => {
  let s: TestServer;
  let tenant: { tenantId: string; key: string };
  let otherMemoryId: string;
  let readOnlyKey: string;
  before(async () => {
    s = await startServer();
    tenant = await s.seedTenant();
    readOnlyKey = (await s.createKey(tenant.tenantId, { scopes: ["memories:read"] })).key;
    const other = await s.seedTenant();
    otherMemoryId = (await s.storeMemory(other.key, { content: "other tenant secret plan" })).id;
  });
  after(() => s.close());

  test("bridge (--url --key): every tool works, and writes land in the gateway's tenant", async () => {
    const client = await stdioClient(["--url", s.url, "--key", tenant.key]);
    try {
      await exerciseEveryTool(client, "mcp/stdio");
      const kept = await ok<Memory>(client, "memory_store", {
        namespace: "bridge",
        content: "via the bridge",
      });
      const rest = await s.request("GET", `/v1/memories/${kept.id}`, { key: tenant.key });
      assert.equal(rest.status, 200);
    } finally {
      await client.close();
    }
  });

  test("bridge: denied calls carry the gateway's codes (NOT_FOUND, INSUFFICIENT_SCOPE)", async () => {
    const rw = await stdioClient(["--url", s.url, "--key", tenant.key]);
    const ro = await stdioClient(["--url", s.url, "--key", readOnlyKey]);
    try {
      await exerciseDenials(rw, ro, otherMemoryId);
    } finally {
      await rw.close();
      await ro.close();
    }
  });

  test("bridge: a revoked key is refused on every tool call", async () => {
    const spare = await s.createKey(tenant.tenantId);
    const client = await stdioClient(["--url", s.url, "--key", spare.key]);
    try {
      await ok(client, "memory_list", {});
      await s.request("DELETE", `/v1/tenants/${tenant.tenantId}/keys/${spare.id}`);
      assert.equal(await errorOf(client, "memory_list", {}), "CREDENTIALS_REVOKED");
    } finally {
      await client.close();
    }
  });

  test("bridge: 50 concurrent memory_store calls, none lost", async () => {
    const { key } = await s.seedTenant();
    const client = await stdioClient(["--url", s.url, "--key", key]);
    try {
      const ids = await concurrentStores(client, "burst");
      const list = await s.request("GET", "/v1/memories?namespace=burst&limit=200", { key });
      assert.deepEqual((list.body as { items: Memory[] }).items.map((m) => m.id).sort(), [...ids].sort());
    } finally {
      await client.close();
    }
  });

  test("embedded (--data): every tool works on a data directory with a local tenant and key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-mcp-embedded-"));
    try {
      const client = await stdioClient(["--data", dir]);
      try {
        await exerciseEveryTool(client, "local/notes");
        await ok(client, "memory_store", { namespace: "local/notes", content: "kept across restarts" });
      } finally {
        await client.close();
      }
      // A second start finds the same tenant and key: the memory is still there.
      const again = await stdioClient(["--data", dir]);
      try {
        const recall = await ok<{ results: { memory: Memory }[] }>(again, "memory_recall", {
          query: "restarts",
        });
        assert.equal(recall.results[0]?.memory.content, "kept across restarts");
        assert.equal(recall.results[0]?.memory.agent, "local-user");
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
