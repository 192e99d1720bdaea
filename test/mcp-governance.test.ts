import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";
import { call, errorOf, httpClient, ok } from "./mcp-helpers.ts";

describe("MCP tools follow the tenant's approval policy", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("a tool whose REST operation needs approval is refused with APPROVAL_REQUIRED and does nothing; others run", async () => {
    const { tenantId, key } = await s.seedTenant();
    const policy = await s.request("PUT", `/v1/tenants/${tenantId}/policy`, {
      body: { tiers: { storeMemory: "high" }, approvals: { high: 1 } },
    });
    assert.equal(policy.status, 200, policy.text);
    const client = await httpClient(s.url, key);
    try {
      assert.equal(
        await errorOf(client, "memory_store", { namespace: "gov", content: "needs a person first" }),
        "APPROVAL_REQUIRED",
      );
      const listed = await ok<{ items: unknown[] }>(client, "memory_list", {});
      assert.equal(listed.items.length, 0, "nothing was stored");
      // REST asks for the same approval: the MCP path is not a way around it.
      const rest = await s.request("POST", "/v1/memories", { key, body: { namespace: "gov", content: "x" } });
      assert.equal(rest.status, 202);
      // Recall stays low tier with no approval required.
      const recalled = await call(client, "memory_recall", { query: "anything" });
      assert.equal(recalled.isError ?? false, false);
    } finally {
      await client.close();
    }
  });
});
