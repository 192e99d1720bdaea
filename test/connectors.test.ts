import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { signatureVector } from "./connector-helpers.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";

const vector = signatureVector;

const GITHUB_SECRET = "gh-secret-0123456789abcdef";
const hex = (secret: string, ...parts: string[]) => {
  const h = createHmac("sha256", secret);
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

describe("webhook ingestion through the route", () => {
  let s: TestServer;
  let tenantId: string;
  let readKey: string;

  before(async () => {
    s = await startServer({ maxContentBytes: 2048 });
    const seeded = await s.seedTenant();
    tenantId = seeded.tenantId;
    readKey = seeded.key;
  });
  after(() => s.close());

  async function connector(name: string, config: Record<string, unknown>) {
    const res = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, { body: { name, config } });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string; ingest_path: string; secret_configured: boolean };
  }

  const post = (path: string, body: string, headers: Record<string, string>) =>
    s.request("POST", path, {
      key: null,
      rawBody: body,
      headers: { "content-type": "application/json", ...headers },
    });

  const ghHeaders = (body: string, id: string, event = "issues", secret = GITHUB_SECRET) => ({
    "x-github-event": event,
    "x-github-delivery": id,
    "x-hub-signature-256": `sha256=${hex(secret, body)}`,
  });

  const issue = (n: number, title = `Issue ${n}`) =>
    JSON.stringify({
      action: "opened",
      issue: { number: n, title, body: "details", user: { login: "octo" }, html_url: `https://x/${n}` },
      repository: { full_name: "acme/app" },
      sender: { login: "octo" },
    });

  async function memories() {
    const res = await s.request("GET", "/v1/memories?limit=200", { key: readKey });
    return (res.body as { items: { content: string; metadata: Record<string, unknown> }[] }).items;
  }

  test("github: a valid delivery is acknowledged with 202 and becomes a memory after the worker runs", async () => {
    const c = await connector("gh", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "github" },
    });
    const body = issue(1, "Login page is broken");
    const res = await post(c.ingest_path, body, ghHeaders(body, "d-1"));
    assert.equal(res.status, 202, res.text);
    assert.equal((res.body as { status: string }).status, "accepted");
    assert.equal(await s.hypha.services.connectors.worker.drain(), 1);
    const stored = (await memories()).filter((m) => m.metadata.delivery_id === "d-1");
    assert.equal(stored.length, 1);
    assert.match(stored[0]?.content ?? "", /Login page is broken/);
  });

  test("github: the published vector verifies end to end (signature over the exact bytes)", async () => {
    const v = vector("github-x-hub-signature-256-docs");
    const c = await connector("gh-vector", {
      source: "github",
      secret: v.secret,
      mapping: { namespace: "github" },
    });
    const res = await post(c.ingest_path, v.body, {
      ...v.expected_header,
      "x-github-event": "ping",
      "x-github-delivery": "vector-1",
    });
    assert.equal(res.status, 202, res.text);
  });

  test("recent deliveries: newest first with outcome and reason, never the payload; another tenant's connector looks absent", async () => {
    const c = await connector("recent", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "recent" },
    });
    const secretWord = "payload-secret-word";
    const body = JSON.stringify({ zen: secretWord, hook_id: 9 });
    assert.equal((await post(c.ingest_path, body, ghHeaders(body, "recent-ping", "ping"))).status, 202);
    await s.hypha.services.connectors.worker.drain();
    const svc = s.hypha.services.connectors.connectors;
    const admin = {
      type: "instance_admin",
      id: "instance_admin",
      tenantId: null,
      origin: { requestId: "req_unit0002", ip: "127.0.0.1", userAgent: null },
    } as const;
    const { items } = await svc.deliveries(admin, tenantId, c.id, { limit: 10 });
    assert.equal(items.length, 1);
    assert.equal(items[0]?.delivery_id, "recent-ping");
    assert.equal(items[0]?.outcome, "ignored");
    const health = await svc.health(admin, tenantId, c.id);
    assert.deepEqual(Object.keys(health.outcomes.ignored), [items[0]?.reason]);
    assert.ok(!JSON.stringify(items).includes(secretWord));
    const other = await s.createTenant();
    await assert.rejects(svc.deliveries(admin, other, c.id, { limit: 10 }), { code: "NOT_FOUND" });
    const otherKey = await s.createKey(other, { agent: "x", scopes: ["tenant:admin"] });
    const verified = await s.hypha.apis.identity.verifyCredential(otherKey.key, admin.origin);
    assert.ok(verified.ok);
    await assert.rejects(svc.deliveries(verified.actor, tenantId, c.id, { limit: 10 }), {
      code: "NOT_FOUND",
    });
  });

  test("a wrong signature, an unknown connector and an unknown tenant all get the same 401", async () => {
    const c = await connector("gh-wrong", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "g" },
    });
    await s.hypha.services.connectors.worker.drain();
    const body = issue(2);
    const wrong = await post(c.ingest_path, body, ghHeaders(body, "d-2", "issues", "not-the-secret-at-all"));
    const unknownConnector = await post(
      `/v1/ingest/${tenantId}/con_01KAAAAAAAAAAAAAAAAAAAAAAA`,
      body,
      ghHeaders(body, "d-2"),
    );
    const unknownTenant = await post(
      `/v1/ingest/tnt_01KAAAAAAAAAAAAAAAAAAAAAAA/${c.id}`,
      body,
      ghHeaders(body, "d-2"),
    );
    const garbage = await post("/v1/ingest/..%2F..%2Fetc/x", body, ghHeaders(body, "d-2"));
    for (const res of [wrong, unknownConnector, unknownTenant, garbage]) {
      assert.equal(res.status, 401, res.text);
      assert.equal(errorCode(res), "INVALID_CREDENTIALS");
      assert.equal(
        (res.body as { error: { message: string } }).error.message,
        "webhook signature not accepted",
      );
    }
    assert.equal(await s.hypha.services.connectors.worker.drain(), 0);
  });

  test("a signature over re-serialised JSON does not verify (standard webhooks vector)", async () => {
    const v = vector("standard-webhooks-spec-vector");
    const c = await connector("std", {
      source: "standard",
      secret: v.secret,
      mapping: { namespace: "std", contentPointer: "/test" },
    });
    s.clock.set(Number(v.timestamp) * 1000);
    try {
      const reserialised = JSON.stringify(JSON.parse(v.body));
      assert.notEqual(reserialised, v.body);
      const bad = await post(c.ingest_path, reserialised, v.expected_header);
      assert.equal(bad.status, 401);
      const good = await post(c.ingest_path, v.body, v.expected_header);
      assert.equal(good.status, 202, good.text);
    } finally {
      s.clock.set(Date.parse("2026-06-01T12:00:00Z"));
    }
  });

  test("a stale timestamp is refused (slack vector from 2018), a fresh one accepted", async () => {
    const v = vector("slack-v0-signing-docs");
    const c = await connector("slack", {
      source: "slack",
      secret: v.secret,
      mapping: { namespace: "slack" },
    });
    const stale = await s.request("POST", c.ingest_path, {
      key: null,
      rawBody: v.body,
      headers: { "content-type": "application/x-www-form-urlencoded", ...v.expected_header },
    });
    assert.equal(stale.status, 401);
    const ts = String(Math.floor(s.clock.now() / 1000));
    const body = JSON.stringify({
      type: "event_callback",
      event_id: "Ev1",
      team_id: "T1",
      event: { type: "message", text: "deploy at 5", user: "U1", channel: "C1", ts: "1.0" },
    });
    const fresh = await post(c.ingest_path, body, {
      "x-slack-request-timestamp": ts,
      "x-slack-signature": `v0=${hex(v.secret, `v0:${ts}:`, body)}`,
    });
    assert.equal(fresh.status, 202, fresh.text);
  });

  test("a replayed delivery id is answered 200 duplicate and stored once", async () => {
    const c = await connector("stripe", {
      source: "stripe",
      secret: "whsec_stripe_test_0123456789",
      mapping: { namespace: "billing" },
    });
    const body = JSON.stringify({
      id: "evt_1",
      object: "event",
      type: "invoice.paid",
      data: { object: { object: "invoice", id: "in_1", amount_paid: 2000, currency: "usd" } },
    });
    const t = String(Math.floor(s.clock.now() / 1000));
    const headers = { "stripe-signature": `t=${t},v1=${hex("whsec_stripe_test_0123456789", `${t}.`, body)}` };
    const first = await post(c.ingest_path, body, headers);
    assert.equal(first.status, 202, first.text);
    const again = await post(c.ingest_path, body, headers);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { status: "duplicate" });
    await s.hypha.services.connectors.worker.drain();
    assert.equal((await memories()).filter((m) => m.metadata.delivery_id === "evt_1").length, 1);
  });

  test("no secret configured: the connector rejects every delivery (fail closed)", async () => {
    const c = await connector("nosecret", { source: "github", mapping: { namespace: "g" } });
    assert.equal(c.secret_configured, false);
    const body = issue(3);
    for (const headers of [ghHeaders(body, "d-3"), ghHeaders(body, "d-3", "issues", ""), {}]) {
      const res = await post(c.ingest_path, body, headers);
      assert.equal(res.status, 401);
    }
    const env = await connector("envsecret", {
      source: "github",
      secretEnv: "TEST_UNSET_WEBHOOK_SECRET",
      mapping: { namespace: "g" },
    });
    const res = await post(env.ingest_path, body, ghHeaders(body, "d-4"));
    assert.equal(res.status, 401);
  });

  test("secretEnv may not name a server setting (HYPHA_…): create and PATCH are refused 422 naming the field, nothing stored", async () => {
    for (const name of ["HYPHA_ADMIN_KEY", "HYPHA_DATABASE_URL"]) {
      const res = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
        body: {
          name: `env-${name.toLowerCase()}`,
          config: { source: "github", secretEnv: name, mapping: { namespace: "g" } },
        },
      });
      assert.equal(res.status, 422, res.text);
      assert.equal(errorCode(res), "VALIDATION_FAILED");
      assert.match(res.text, /body\.config\.secretEnv/);
    }
    const c = await connector("env-patch", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "g" },
    });
    const patched = await s.request("PATCH", `/v1/tenants/${tenantId}/connectors/${c.id}`, {
      body: { config: { source: "github", secretEnv: "HYPHA_ADMIN_KEY", mapping: { namespace: "g" } } },
    });
    assert.equal(patched.status, 422, patched.text);
    const list = (await s.request("GET", `/v1/tenants/${tenantId}/connectors`)).body as {
      items: { name: string; secret_env: string | null }[];
    };
    assert.ok(!list.items.some((i) => i.name.startsWith("env-hypha")), "no connector was created");
    assert.equal(
      list.items.find((i) => i.name === "env-patch")?.secret_env,
      null,
      "the PATCH changed nothing",
    );
  });

  test("the secret is never returned and never logged", async () => {
    const secret = "never-show-this-secret-0123456789";
    const c = await connector("secretive", { source: "github", secret, mapping: { namespace: "g" } });
    const get = await s.request("GET", `/v1/tenants/${tenantId}/connectors/${c.id}`);
    const list = await s.request("GET", `/v1/tenants/${tenantId}/connectors`);
    for (const res of [get, list]) assert.ok(!res.text.includes(secret));
    assert.equal((get.body as { secret_configured: boolean }).secret_configured, true);
    const body = issue(4);
    await post(c.ingest_path, body, ghHeaders(body, "d-5", "issues", "wrong-secret-wrong-secret"));
    assert.ok(!s.logs.join("").includes(secret));
  });

  test("a failing delivery retries with backoff, then lands in dead letters with error and raw payload; replay is idempotent and audited", async () => {
    const c = await connector("generic", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "big", maxContentChars: 8000 },
    });
    const worker = s.hypha.services.connectors.worker;
    const body = issue(5, "x".repeat(5000)); // larger than maxContentBytes (2048) once mapped
    assert.equal((await post(c.ingest_path, body, ghHeaders(body, "d-big"))).status, 202);
    assert.equal(await worker.drain(), 1); // attempt 1 fails
    assert.equal(await worker.drain(), 0); // not due yet: backoff
    for (const wait of [1000, 2000, 4000, 8000, 16000]) {
      s.clock.advance(wait);
      assert.equal(await worker.drain(), 1);
    }
    const dead = await s.request("GET", `/admin/webhooks/dead-letters/${tenantId}`);
    const items = (dead.body as { items: { id: string; error: string; payload: string; attempts: number }[] })
      .items;
    assert.equal(items.length, 1);
    assert.equal(items[0]?.attempts, 6);
    assert.match(items[0]?.error ?? "", /content is larger than 2048 bytes/);
    assert.equal(items[0]?.payload, body);
    const health = await s.request("GET", `/v1/tenants/${tenantId}/connectors/${c.id}/health`);
    assert.equal((health.body as { dead_letters_pending: number }).dead_letters_pending, 1);
    assert.deepEqual((health.body as { outcomes: unknown }).outcomes, {
      stored: 0,
      ignored: {},
      ignored_total: 0,
      dead: 1,
    });

    // Fix the mapping, then replay: the delivery becomes a memory; replaying again changes nothing.
    const fix = await s.request("PATCH", `/v1/tenants/${tenantId}/connectors/${c.id}`, {
      body: { config: { source: "github", mapping: { namespace: "big", maxContentChars: 500 } } },
    });
    assert.equal(fix.status, 200, fix.text);
    const id = items[0]?.id ?? "";
    const replay = await s.request("POST", `/admin/webhooks/replay/${tenantId}/${id}`);
    assert.deepEqual(replay.body, { id, status: "pending", replayed: true });
    const twice = await s.request("POST", `/admin/webhooks/replay/${tenantId}/${id}`);
    assert.deepEqual(twice.body, { id, status: "pending", replayed: false });
    assert.equal(await worker.drain(), 1);
    assert.equal((await memories()).filter((m) => m.metadata.delivery_id === "d-big").length, 1);
    const db = await s.hypha.storage.tenant(tenantId);
    const audited = await db.all("SELECT * FROM audit_events WHERE action = 'delivery.replayed'");
    assert.equal(audited.length, 1);
  });

  test("bulk replay puts every dead letter of a connector back in the inbox", async () => {
    const c = await connector("bulk", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "bulk" },
    });
    const worker = s.hypha.services.connectors.worker;
    for (const n of [1, 2]) {
      const body = issue(100 + n, "y".repeat(5000));
      assert.equal((await post(c.ingest_path, body, ghHeaders(body, `bulk-${n}`))).status, 202);
    }
    for (let i = 0; i < 6; i++) {
      await worker.drain();
      s.clock.advance(60_000);
    }
    const res = await s.request("POST", `/admin/webhooks/replay/${tenantId}`, {
      body: { connector_id: c.id },
    });
    assert.equal((res.body as { replayed: number }).replayed, 2);
    const left = await s.request("GET", `/admin/webhooks/dead-letters/${tenantId}?connector_id=${c.id}`);
    assert.equal((left.body as { items: unknown[] }).items.length, 0);
  });

  test("health shows last delivery, success rate, signature failures and pending dead letters", async () => {
    const c = await connector("healthy", {
      source: "github",
      secret: GITHUB_SECRET,
      mapping: { namespace: "h" },
    });
    const body = issue(7);
    await post(c.ingest_path, body, ghHeaders(body, "h-1"));
    await post(c.ingest_path, body, ghHeaders(body, "h-2", "issues", "bad-secret-bad-secret"));
    await s.hypha.services.connectors.worker.drain();
    const res = await s.request("GET", `/v1/tenants/${tenantId}/connectors/${c.id}/health`);
    const h = res.body as Record<string, unknown>;
    assert.equal(h.accepted, 1);
    assert.equal(h.signature_failures, 1);
    assert.equal(h.processed, 1);
    assert.equal(h.success_rate, 1);
    assert.equal(h.dead_letters_pending, 0);
    assert.equal(h.last_delivery_at, new Date(s.clock.now()).toISOString());
    assert.equal(typeof h.mean_ingest_latency_ms, "number");
  });
});

describe("connectorSecretEnvPrefix: the operator names which variables connectors may read", () => {
  let s: TestServer;
  let tenantId: string;
  before(async () => {
    s = await startServer({ connectorSecretEnvPrefix: "HOOKS_" });
    tenantId = await s.createTenant();
  });
  after(() => {
    delete process.env.HOOKS_TEST_GITHUB;
    return s.close();
  });

  test("a name outside the prefix is refused; one under it verifies deliveries with the variable's value", async () => {
    const create = (name: string, secretEnv: string) =>
      s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
        body: { name, config: { source: "github", secretEnv, mapping: { namespace: "g" } } },
      });
    const outside = await create("outside", "GITHUB_WEBHOOK_SECRET");
    assert.equal(outside.status, 422, outside.text);
    assert.match(outside.text, /HOOKS_/);
    process.env.HOOKS_TEST_GITHUB = GITHUB_SECRET;
    const inside = await create("inside", "HOOKS_TEST_GITHUB");
    assert.equal(inside.status, 201, inside.text);
    const body = JSON.stringify({ zen: "prefix" });
    const res = await s.request("POST", (inside.body as { ingest_path: string }).ingest_path, {
      key: null,
      rawBody: body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "ping",
        "x-github-delivery": "prefix-1",
        "x-hub-signature-256": `sha256=${hex(GITHUB_SECRET, body)}`,
      },
    });
    assert.equal(res.status, 202, res.text);
  });
});
