import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { consoleRequest, consoleSession } from "./console-helpers.ts";
import { startServer, type TestServer } from "./harness.ts";
import { login } from "./identity-helpers.ts";

describe("console pages over HTTP", () => {
  let s: TestServer;
  let tenantId: string;
  let key: string;

  before(async () => {
    s = await startServer();
    ({ tenantId, key } = await s.seedTenant());
  });
  after(() => s.close());

  test("GDPR erasure by creation range: the count first, then only that range is erased", async () => {
    await s.storeMemory(key, { content: "old note" });
    s.clock.advance(3_600_000);
    const inRange = [
      await s.storeMemory(key, { content: "new note one" }),
      await s.storeMemory(key, { content: "new note two" }),
    ];
    const dev = await consoleSession(s, tenantId, ["DEVELOPER"]);
    const from = new Date(s.clock.now() - 60_000).toISOString().slice(0, 16);
    const to = new Date(s.clock.now() + 60_000).toISOString().slice(0, 16);
    const count = await consoleRequest(s, "POST", "/console/memories/erase", {
      cookie: dev.cookie,
      form: { _csrf: dev.csrf, created_after: from, created_before: to },
    });
    assert.equal(count.status, 200, count.text);
    assert.match(count.text, /2 memories match a creation time from/);
    const list = await s.request("GET", "/v1/memories", { key });
    assert.equal((list.body as { items: unknown[] }).items.length, 3, "counting erased nothing");
    const erase = await consoleRequest(s, "POST", "/console/memories/erase", {
      cookie: dev.cookie,
      form: {
        _csrf: dev.csrf,
        created_after: new Date(`${from}Z`).toISOString(),
        created_before: new Date(`${to}Z`).toISOString(),
        confirm: "yes",
      },
    });
    assert.equal(erase.status, 200, erase.text);
    assert.match(erase.text, /Erased <strong>2<\/strong> memories/);
    const left = (await s.request("GET", "/v1/memories", { key })).body as {
      items: { id: string; content: string }[];
    };
    assert.deepEqual(
      left.items.map((m) => m.content),
      ["old note"],
    );
    for (const m of inRange)
      assert.equal((await s.request("GET", `/v1/memories/${m.id}`, { key })).status, 404);
  });

  test("an erasure form with neither an entity nor a full range is a 422 page, and erases nothing", async () => {
    const dev = await consoleSession(s, tenantId, ["DEVELOPER"]);
    const res = await consoleRequest(s, "POST", "/console/memories/erase", {
      cookie: dev.cookie,
      form: { _csrf: dev.csrf, created_after: "2026-01-01T00:00", confirm: "yes" },
    });
    assert.equal(res.status, 422);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    assert.match(res.text, /VALIDATION_FAILED/);
    assert.equal(
      ((await s.request("GET", "/v1/memories", { key })).body as { items: unknown[] }).items.length,
      1,
    );
  });

  test("every page answers with the strict CSP and no-store, and escapes stored content", async () => {
    await s.storeMemory(key, { content: `<script>alert("x")</script>` });
    const viewer = await consoleSession(s, tenantId, ["VIEWER"]);
    const res = await consoleRequest(s, "GET", "/console/memories", { cookie: viewer.cookie });
    assert.equal(res.status, 200);
    assert.ok(!res.text.includes("<script>alert"));
    assert.ok(res.text.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
  });

  test("the keys page offers a DEVELOPER only the scopes the role may grant, and Rotate only on keys it could have created", async () => {
    const dev = await consoleSession(s, tenantId, ["DEVELOPER"]);
    const devToken = ((await login(s, tenantId, dev.email)).body as { access_token: string }).access_token;
    const made = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
      key: devToken,
      body: { agent: "dev-reader", scopes: ["read"] },
    });
    assert.equal(made.status, 201, made.text);
    const readKey = made.body as { id: string };
    const adminKey = await s.createKey(tenantId, { agent: "dev-reader", scopes: ["admin"] });
    const othersKey = await s.createKey(tenantId, { agent: "reader", scopes: ["read"] });
    const page = await consoleRequest(s, "GET", "/console/agents", { cookie: dev.cookie });
    assert.equal(page.status, 200);
    const offered = [...page.text.matchAll(/name="scopes" value="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(offered, ["read", "write", "memories:read", "memories:write"]);
    assert.ok(!page.text.includes(`/console/agents/${adminKey.id}/rotate`), "no Rotate on an admin key");
    assert.ok(!page.text.includes(`/console/agents/${othersKey.id}/rotate`), "none under another's agent");
    // The admin key the instance admin made under the DEVELOPER's agent makes the name no longer theirs alone.
    assert.ok(!page.text.includes(`/console/agents/${readKey.id}/rotate`));
    const mine = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
      key: devToken,
      body: { agent: "dev-only", scopes: ["read"] },
    });
    const again = await consoleRequest(s, "GET", "/console/agents", { cookie: dev.cookie });
    assert.ok(again.text.includes(`/console/agents/${(mine.body as { id: string }).id}/rotate`));
    const forged = await consoleRequest(s, "POST", "/console/agents", {
      cookie: dev.cookie,
      form: { _csrf: dev.csrf, agent: "forged", scopes: "admin" },
    });
    assert.equal(forged.status, 403, "the form is not the control: the service refuses");
    const rotated = await consoleRequest(s, "POST", `/console/agents/${adminKey.id}/rotate`, {
      cookie: dev.cookie,
      form: { _csrf: dev.csrf, grace_seconds: "60" },
    });
    assert.equal(rotated.status, 403);
    assert.ok(!/hyk_[A-Za-z0-9_-]{20,}/.test(rotated.text), "no secret in the refusal");
    const admin = await consoleSession(s, tenantId, ["ADMIN"]);
    const adminPage = await consoleRequest(s, "GET", "/console/agents", { cookie: admin.cookie });
    const adminOffered = [...adminPage.text.matchAll(/name="scopes" value="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(adminOffered, [
      "read",
      "write",
      "admin",
      "memories:read",
      "memories:write",
      "audit:read",
    ]);
    assert.ok(adminPage.text.includes(`/console/agents/${adminKey.id}/rotate`));
  });
});
