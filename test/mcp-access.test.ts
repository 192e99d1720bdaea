import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { errorOf, httpClient, ok } from "./mcp-helpers.ts";

type Memory = { id: string; content: string; agent: string; owner: string; access: string };

describe("per-memory access holds over MCP and for connector-written memories", () => {
  let s: TestServer;
  let tenantId: string;
  let keyA: string;
  let keyB: string;
  let a: Client;
  let b: Client;

  before(async () => {
    s = await startServer();
    tenantId = await s.createTenant();
    keyA = (await s.createKey(tenantId, { agent: "agent-a" })).key;
    keyB = (await s.createKey(tenantId, { agent: "agent-b" })).key;
    a = await httpClient(s.url, keyA);
    b = await httpClient(s.url, keyB);
  });
  after(async () => {
    await a.close();
    await b.close();
    await s.close();
  });

  test("a private memory of agent A is NOT_FOUND to agent B on every MCP tool, until A names B", async () => {
    const secret = await ok<Memory>(a, "memory_store", {
      namespace: "ops",
      content: "the break-glass runbook lives in vault 7",
      access: "private",
    });
    assert.equal(secret.access, "private");
    assert.equal(secret.owner, "agent-a");
    assert.equal((await ok<Memory>(a, "memory_get", { id: secret.id })).content, secret.content);

    assert.equal(await errorOf(b, "memory_get", { id: secret.id }), "NOT_FOUND");
    assert.equal(await errorOf(b, "memory_history", { id: secret.id }), "NOT_FOUND");
    assert.equal(await errorOf(b, "memory_update", { id: secret.id, importance: 0.1 }), "NOT_FOUND");
    assert.equal(await errorOf(b, "memory_forget", { id: secret.id }), "NOT_FOUND");
    const listed = await ok<{ items: Memory[] }>(b, "memory_list", { namespace: "ops" });
    assert.deepEqual(listed.items, []);
    const recalled = await ok<{ results: { memory: Memory }[] }>(b, "memory_recall", {
      query: "break-glass runbook vault",
    });
    assert.deepEqual(recalled.results, []);
    // Over REST the same: the transport does not change who may see what.
    assert.equal((await s.request("GET", `/v1/memories/${secret.id}`, { key: keyB })).status, 404);

    // Only the owner widens it; then B reads it over MCP.
    assert.equal(
      await errorOf(b, "memory_update", { id: secret.id, allowed_agents: ["agent-b"] }),
      "NOT_FOUND",
    );
    await ok(a, "memory_update", { id: secret.id, allowed_agents: ["agent-b"] });
    assert.equal((await ok<Memory>(b, "memory_get", { id: secret.id })).content, secret.content);
  });

  test("a memory written by a connector is shared, owned by connector:<id>, and no agent can change its access", async () => {
    const secret = "gh-secret-0123456789abcdef";
    const created = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: { name: "gh", config: { source: "github", secret, mapping: { namespace: "github" } } },
    });
    assert.equal(created.status, 201, created.text);
    const connector = created.body as { id: string; ingest_path: string };
    const body = JSON.stringify({
      action: "opened",
      issue: {
        number: 9,
        title: "Checkout times out",
        body: "d",
        user: { login: "o" },
        html_url: "https://x/9",
      },
      repository: { full_name: "acme/app" },
      sender: { login: "o" },
    });
    const res = await s.request("POST", connector.ingest_path, {
      key: null,
      rawBody: body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": "access-1",
        "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
      },
    });
    assert.equal(res.status, 202, res.text);
    assert.equal(await s.hypha.services.connectors.worker.drain(), 1);

    const listed = await ok<{ items: Memory[] }>(b, "memory_list", { namespace: "github" });
    assert.equal(listed.items.length, 1);
    const m = listed.items[0];
    assert.ok(m);
    assert.equal(m.access, "shared");
    assert.equal(m.owner, `connector:${connector.id}`);
    assert.equal(m.agent, "connector:gh");
    assert.equal(await errorOf(b, "memory_update", { id: m.id, access: "private" }), "FORBIDDEN");

    // No key can be named after a connector (or a person) to pose as the owner.
    const impostor = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
      body: { agent: `connector:${connector.id}`, scopes: ["write"] },
    });
    assert.equal(impostor.status, 422);
    assert.equal(errorCode(impostor), "VALIDATION_FAILED");
  });
});
