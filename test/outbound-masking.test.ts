import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";
import { call, errorOf, httpClient, ok } from "./mcp-helpers.ts";

// AWS's documented example credentials: an access key id and its 40-character secret.
const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const GH_TOKEN = `ghp_${"a1B2c3D4e5".repeat(4)}`;
const SECRETS = [KEY_ID, SECRET, GH_TOKEN, "hunter2hunter2"];

function leaked(text: string): string[] {
  return SECRETS.filter((secret) => text.includes(secret));
}

describe("outbound secrets policy on every read path", () => {
  let s: TestServer;
  let t: string;
  let key: string;
  let admin: string;
  let mcp: Client | undefined;
  let id: string;
  const setPolicy = (policy: unknown) =>
    s.request("PUT", `/v1/tenants/${t}/policy`, { key: admin, body: policy });

  before(async () => {
    s = await startServer();
    const seeded = await s.seedTenant();
    t = seeded.tenantId;
    key = seeded.key;
    admin = (await signedInUser(s, t, ["ADMIN"])).token;
    // Secrets may be stored (inbound `allow`), and must be masked on the way out (outbound `mask`).
    assert.equal(
      (await setPolicy({ guardrails: { inbound: { secrets: "allow" }, outbound: { secrets: "mask" } } }))
        .status,
      200,
    );
    const stored = await s.storeMemory(key, {
      content: `deploy credentials: aws_access_key_id=${KEY_ID} aws_secret_access_key=${SECRET}`,
      metadata: {
        aws_secret_access_key: SECRET,
        note: `token ${GH_TOKEN}`,
        password: "hunter2hunter2",
        list: ["plain", `github ${GH_TOKEN}`],
        region: "eu-west-1",
      },
    });
    id = stored.id;
    mcp = await httpClient(s.url, key);
  });
  after(async () => {
    await mcp?.close();
    await s?.close();
  });

  test("aws_secret_access_key=<40 characters> is masked in recall, like the AKIA id beside it", async () => {
    const res = await s.request("POST", "/v1/memories/recall", {
      key,
      body: { query: "deploy credentials" },
    });
    assert.equal(res.status, 200);
    const hit = (res.body as { results: { memory: { id: string; content: string } }[] }).results.find(
      (r) => r.memory.id === id,
    );
    assert.ok(hit, "the memory is recalled");
    assert.deepEqual(leaked(res.text), []);
    assert.match(hit.memory.content, /aws_secret_access_key=\[REDACTED:/);
  });

  test("MCP recall masks the same way", async () => {
    const out = await ok(mcp as Client, "memory_recall", { query: "deploy credentials" });
    assert.deepEqual(leaked(JSON.stringify(out)), []);
    assert.match(JSON.stringify(out), /REDACTED/);
  });

  test("secret values inside metadata are masked, in values and list items; other metadata is untouched", async () => {
    const res = await s.request("GET", `/v1/memories/${id}`, { key });
    assert.equal(res.status, 200);
    assert.deepEqual(leaked(res.text), []);
    const metadata = (res.body as { metadata: Record<string, unknown> }).metadata;
    assert.equal(metadata.region, "eu-west-1");
    assert.match(String(metadata.aws_secret_access_key), /^\[REDACTED:/);
    assert.match(String(metadata.note), /^token \[REDACTED:github_token\]$/);
    assert.deepEqual(metadata.list, ["plain", "github [REDACTED:github_token]"]);
  });

  test("get, list, history and export all follow the outbound policy (REST and MCP)", async () => {
    const reads = [
      await s.request("GET", `/v1/memories/${id}`, { key }),
      await s.request("GET", "/v1/memories?limit=50", { key }),
      await s.request("GET", `/v1/memories/${id}/history`, { key }),
      await s.request("GET", "/v1/memories/export", { key }),
    ];
    for (const r of reads) assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      reads.map((r) => leaked(r.text)),
      [[], [], [], []],
    );
    for (const r of reads) assert.match(r.text, /REDACTED/);
    for (const [tool, args] of [
      ["memory_get", { id }],
      ["memory_list", {}],
      ["memory_history", { id }],
    ] as const) {
      assert.deepEqual([tool, leaked(JSON.stringify(await ok(mcp as Client, tool, args)))], [tool, []]);
    }
  });

  test("with outbound secrets set to block, the memory is withheld from every read path", async () => {
    assert.equal(
      (await setPolicy({ guardrails: { inbound: { secrets: "allow" }, outbound: { secrets: "block" } } }))
        .status,
      200,
    );
    try {
      const get = await s.request("GET", `/v1/memories/${id}`, { key });
      assert.equal(get.status, 403);
      assert.equal(errorCode(get), "OUTBOUND_WITHHELD");
      const list = await s.request("GET", "/v1/memories?limit=50", { key });
      assert.ok(!list.text.includes(id));
      const history = await s.request("GET", `/v1/memories/${id}/history`, { key });
      assert.deepEqual((history.body as { versions: unknown[] }).versions, []);
      const exported = await s.request("GET", "/v1/memories/export", { key });
      assert.ok(!exported.text.includes(id));
      const recall = await s.request("POST", "/v1/memories/recall", {
        key,
        body: { query: "deploy credentials" },
      });
      assert.ok(!recall.text.includes(id));
      for (const r of [get, list, history, exported, recall]) assert.deepEqual(leaked(r.text), []);
      // MCP reads withhold it the same way: get is refused, list, history and recall leave it out.
      const client = mcp as Client;
      const mcpGet = await call(client, "memory_get", { id });
      assert.equal(mcpGet.isError, true);
      assert.equal(await errorOf(client, "memory_get", { id }), "OUTBOUND_WITHHELD");
      const mcpReads = {
        get: mcpGet,
        list: await call(client, "memory_list", {}),
        history: await call(client, "memory_history", { id }),
        recall: await call(client, "memory_recall", { query: "deploy credentials" }),
      };
      for (const tool of ["list", "history", "recall"] as const) {
        assert.equal(mcpReads[tool].isError ?? false, false, `${tool}: ${JSON.stringify(mcpReads[tool])}`);
        assert.ok(!JSON.stringify(mcpReads[tool]).includes(id), `MCP ${tool} returns the withheld memory`);
      }
      assert.deepEqual(
        Object.entries(mcpReads).map(([tool, r]) => [tool, leaked(JSON.stringify(r))]),
        [
          ["get", []],
          ["list", []],
          ["history", []],
          ["recall", []],
        ],
      );
    } finally {
      await setPolicy({ guardrails: { inbound: { secrets: "allow" }, outbound: { secrets: "mask" } } });
    }
  });

  test("with the default inbound policy, aws_secret_access_key=<40 characters> is refused at write", async () => {
    const other = await s.seedTenant();
    const res = await s.request("POST", "/v1/memories", {
      key: other.key,
      body: { namespace: "default", content: `aws_secret_access_key = "${SECRET}"` },
    });
    assert.equal(res.status, 422);
    assert.equal(errorCode(res), "GUARDRAIL_BLOCKED");
    assert.deepEqual(leaked(res.text), []);
  });

  test("a 422 does not echo an unknown field name verbatim: token-shaped names pass through the secret redaction", async () => {
    for (const field of [GH_TOKEN, KEY_ID]) {
      const res = await s.request("POST", "/v1/memories", {
        key,
        body: { namespace: "default", content: "fine", [field]: 1 },
      });
      assert.equal(res.status, 422);
      assert.equal(errorCode(res), "VALIDATION_FAILED");
      assert.deepEqual([field, res.text.includes(field)], [field, false]);
      assert.match(res.text, /REDACTED/);
    }
  });

  test("an MCP tool error does not echo a token-shaped argument name either", async () => {
    for (const tool of ["memory_store", "memory_recall"]) {
      const res = await call(mcp as Client, tool, {
        namespace: "default",
        content: "x",
        query: "x",
        [GH_TOKEN]: 1,
      });
      assert.equal(res.isError, true);
      const text = JSON.stringify(res);
      assert.deepEqual([tool, text.includes(GH_TOKEN)], [tool, false]);
      assert.match(text, /REDACTED:github_token/);
    }
  });
});
