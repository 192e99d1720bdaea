import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { errorCode, startServer } from "./harness.ts";

describe("API reference access (/docs, /openapi.json)", () => {
  test("by default both open without credentials, in a browser as with curl", async () => {
    const s = await startServer();
    try {
      const doc = await s.request("GET", "/openapi.json", { key: null });
      assert.equal(doc.status, 200);
      assert.match((doc.body as { openapi: string }).openapi, /^3\./);
      const page = await s.request("GET", "/docs", { key: null });
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      assert.ok(page.text.includes("recallMemories"));
      const metrics = await s.request("GET", "/metrics", { key: null });
      assert.equal(metrics.status, 401, "metrics still need credentials");
    } finally {
      await s.close();
    }
  });

  test("with docsRequireAuth (HYPHA_DOCS_REQUIRE_AUTH=true) both answer 401 without credentials and 200 with a key", async () => {
    const s = await startServer({ docsRequireAuth: "true" });
    try {
      for (const path of ["/openapi.json", "/docs"]) {
        const anonymous = await s.request("GET", path, { key: null });
        assert.equal(anonymous.status, 401, path);
        assert.equal(errorCode(anonymous), "UNAUTHENTICATED");
        assert.ok(anonymous.headers.get("www-authenticate"));
        const seeded = await s.seedTenant();
        assert.equal((await s.request("GET", path, { key: seeded.key })).status, 200, path);
      }
    } finally {
      await s.close();
    }
  });
});
