import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { newId } from "../src/lib/ids.ts";
import { tenantPolicySchema } from "../src/modules/governance/governance.schemas.ts";
import type { Actor } from "../src/platform/auth/actor.ts";
import { startServer, type TestServer } from "./harness.ts";
import { call, errorOf, httpClient, ok, stdioClient } from "./mcp-helpers.ts";

type McpClient = Awaited<ReturnType<typeof httpClient>>;

/** A store the policy holds for approval is refused over MCP, and nothing was stored. */
async function assertStoreHeld(client: McpClient): Promise<void> {
  assert.equal(
    await errorOf(client, "memory_store", { namespace: "gov", content: "needs a person first" }),
    "APPROVAL_REQUIRED",
  );
  const listed = await ok<{ items: unknown[] }>(client, "memory_list", {});
  assert.equal(listed.items.length, 0, "nothing was stored");
}

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
      await assertStoreHeld(client);
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

  test("embedded (hypha mcp --data): a tool whose REST operation needs approval is refused with APPROVAL_REQUIRED and does nothing; others run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-mcp-approvals-"));
    try {
      // The operator sets the local tenant's policy on the data directory before the MCP server starts.
      const app = await createApp({ config: loadConfig({}, { dataDir: dir, logLevel: "silent", port: 0 }) });
      try {
        const admin: Actor = {
          type: "instance_admin",
          id: "instance_admin",
          tenantId: null,
          origin: { requestId: newId("request"), ip: "cli", userAgent: "test" },
        };
        const local = await app.services.tenants.create(admin, { name: "local" });
        await app.services.governance.putPolicy(
          admin,
          local.id,
          tenantPolicySchema.parse({ tiers: { storeMemory: "high" }, approvals: { high: 1 } }),
        );
      } finally {
        await app.close();
      }
      const client = await stdioClient(["--data", dir]);
      try {
        await assertStoreHeld(client);
        const recalled = await call(client, "memory_recall", { query: "anything" });
        assert.equal(recalled.isError ?? false, false, JSON.stringify(recalled));
      } finally {
        await client.close();
      }
      // Nothing reached the vault by another way either: no memory row, no pending approval.
      const check = await createApp({
        config: loadConfig({}, { dataDir: dir, logLevel: "silent", port: 0 }),
      });
      try {
        const tenant = await check.storage.control.get<{ id: string }>(
          "SELECT id FROM tenants WHERE name = 'local'",
        );
        assert.ok(tenant);
        const vault = await check.storage.tenant(tenant.id);
        assert.equal((await vault.all("SELECT id FROM memories")).length, 0);
        assert.equal((await vault.all("SELECT id FROM approvals")).length, 0);
      } finally {
        await check.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
