import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createHyphaClient } from "../src/client/index.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { errorOf, httpClient, ok } from "./mcp-helpers.ts";

type Verify = { ok: boolean; count: number | null; first_bad_seq: number | null; reason: string | null };
type AuditItem = {
  action: string;
  actor: { type: string; id: string };
  details: Record<string, unknown> | null;
};

const SECRET = "gh-connector-secret-7f3a9c1e5b2d4f60";

const sign = (secret: string, body: string) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

const issue = (n: number, title: string, body = "details") =>
  JSON.stringify({
    action: "opened",
    issue: { number: n, title, body, user: { login: "octo" }, html_url: `https://x/${n}` },
    repository: { full_name: "acme/app" },
    sender: { login: "octo" },
  });

/** Every file under a directory (databases, WAL, journals, forwarded audit lines, markdown mirrors). */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => ({ path: join(d.parentPath, d.name), bytes: readFileSync(join(d.parentPath, d.name)) }));
}

/** The files of `dir` whose bytes contain `needle` (UTF-8), byte by byte. */
function filesHolding(dir: string, needle: string): string[] {
  const bytes = Buffer.from(needle, "utf8");
  return filesUnder(dir)
    .filter((f) => f.bytes.includes(bytes))
    .map((f) => f.path);
}

describe("connectors and MCP under the keyed audit trail and encryption at rest", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ maxContentBytes: 2048 });
  });
  after(() => s.close());

  async function tenant(body: Record<string, unknown> = {}) {
    const res = await s.request("POST", "/v1/tenants", {
      body: { name: `c${Math.random()}`.replace(".", ""), ...body },
    });
    assert.equal(res.status, 201, res.text);
    const id = (res.body as { id: string }).id;
    const { key } = await s.createKey(id);
    return { id, key, vault: join(s.dataDir, "vaults", id) };
  }

  async function connector(tenantId: string, name: string, mapping: Record<string, unknown> = {}) {
    const res = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: { name, config: { source: "github", secret: SECRET, mapping: { namespace: "gh", ...mapping } } },
    });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string; ingest_path: string };
  }

  const deliver = (path: string, body: string, deliveryId: string, secret = SECRET) =>
    s.request("POST", path, {
      key: null,
      rawBody: body,
      headers: {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": deliveryId,
        "x-hub-signature-256": sign(secret, body),
      },
    });

  /** Runs the worker until the delivery has failed every attempt and is a dead letter. */
  async function untilDead() {
    const worker = s.hypha.services.connectors.worker;
    for (let i = 0; i < 6; i++) {
      await worker.drain();
      s.clock.advance(60_000);
    }
  }

  test("the tenant's chain verifies after ingestion, a dead letter and its replay, webhooks and MCP tool calls", async () => {
    const t = await tenant();
    const { key: auditKey } = await s.createKey(t.id, { agent: "auditor", scopes: ["audit:read"] });
    const { key: readOnly } = await s.createKey(t.id, { agent: "reader", scopes: ["memories:read"] });
    const c = await connector(t.id, "gh", { maxContentChars: 8000 });
    const worker = s.hypha.services.connectors.worker;

    // A bad signature is a failed authentication: folded per address into the instance chain.
    s.clock.advance(60_000);
    const forged = issue(0, "forged");
    assert.equal((await deliver(c.ingest_path, forged, "chain-0", "not-the-secret-0123456789")).status, 401);
    const failures = (await s.request("GET", "/v1/audit/events?action=auth.failed&limit=50")).body as {
      items: AuditItem[];
    };
    assert.ok(failures.items.some((e) => e.details?.route === "/v1/ingest/:tenant_id/:connector_id"));

    const good = issue(1, "Checkout button misaligned");
    assert.equal((await deliver(c.ingest_path, good, "chain-1")).status, 202);
    assert.equal(await worker.drain(), 1);
    const big = issue(2, "x".repeat(5000)); // maps to more than maxContentBytes: fails every attempt
    assert.equal((await deliver(c.ingest_path, big, "chain-2")).status, 202);
    await untilDead();
    const dead = (await s.request("GET", `/admin/webhooks/dead-letters/${t.id}`)).body as {
      items: { id: string }[];
    };
    assert.equal(dead.items.length, 1);
    const fix = await s.request("PATCH", `/v1/tenants/${t.id}/connectors/${c.id}`, {
      body: { config: { source: "github", mapping: { namespace: "gh", maxContentChars: 500 } } },
    });
    assert.equal(fix.status, 200, fix.text);
    const replay = await s.request("POST", `/admin/webhooks/replay/${t.id}/${dead.items[0]?.id}`);
    assert.equal((replay.body as { replayed: boolean }).replayed, true);
    assert.equal(await worker.drain(), 1);

    const hook = await s.request("POST", `/v1/tenants/${t.id}/webhooks`, {
      body: { url: "https://93.184.215.14/hook", events: ["memory.created"] },
    });
    assert.equal(hook.status, 201, hook.text);
    const hookId = (hook.body as { id: string }).id;
    assert.equal((await s.request("DELETE", `/v1/tenants/${t.id}/webhooks/${hookId}`)).status, 200);

    const rw = await httpClient(s.url, t.key);
    const ro = await httpClient(s.url, readOnly);
    try {
      const stored = await ok<{ id: string }>(rw, "memory_store", {
        namespace: "notes",
        content: "The deploy window is Thursday",
      });
      await ok(rw, "memory_recall", { query: "deploy window" });
      await ok(rw, "memory_get", { id: stored.id });
      assert.equal(
        await errorOf(ro, "memory_store", { namespace: "notes", content: "x" }),
        "INSUFFICIENT_SCOPE",
      );
    } finally {
      await rw.close();
      await ro.close();
    }

    const byAdmin = (await s.request("GET", `/v1/audit/verify?tenant_id=${t.id}`)).body as Verify;
    assert.deepEqual(
      { ok: byAdmin.ok, first_bad_seq: byAdmin.first_bad_seq, reason: byAdmin.reason },
      { ok: true, first_bad_seq: null, reason: null },
    );
    const byAgent = (await s.request("GET", "/v1/audit/verify", { key: auditKey })).body as Verify;
    assert.equal(byAgent.ok, true);
    assert.equal(((await s.request("GET", "/v1/audit/verify")).body as Verify).ok, true, "instance chain");

    const page = (await s.request("GET", `/v1/audit/events?tenant_id=${t.id}&limit=500`)).body as {
      items: AuditItem[];
    };
    const actions = new Set(page.items.map((e) => e.action));
    for (const action of [
      "connector.created",
      "connector.updated",
      "delivery.processed",
      "delivery.dead_lettered",
      "delivery.replayed",
      "webhook.created",
      "webhook.deleted",
      "memory.created",
      "memory.recalled",
      "memory.read",
      "access.denied",
    ]) {
      assert.ok(actions.has(action), `${action} is in the chain`);
    }
    assert.ok(
      page.items.some((e) => e.action === "delivery.processed" && e.actor.type === "connector"),
      "the worker's events name the connector",
    );
    assert.ok(
      page.items.some((e) => e.action === "access.denied" && e.details?.tool === "memory_store"),
      "the MCP denial is in the chain",
    );
    // The keyed chain covers the events written by connectors: editing one is found at its seq.
    const db = await s.hypha.storage.tenant(t.id);
    const row = await db.get<{ seq: number }>(
      "SELECT seq FROM audit_events WHERE action = 'delivery.processed' ORDER BY seq LIMIT 1",
    );
    assert.ok(row);
    await s.tamper(t.id, `UPDATE audit_events SET details = '{"memories":0}' WHERE seq = ${row.seq}`);
    const tampered = (await s.request("GET", `/v1/audit/verify?tenant_id=${t.id}`)).body as Verify;
    assert.equal(tampered.ok, false);
    assert.equal(tampered.first_bad_seq, row.seq);
  });

  test("a delivery to an encrypted tenant leaves no plaintext in its vault files, and recall still finds it", async () => {
    const words = ["xylophonic", "quarkbeamer", "zanzibarite"];
    const t = await tenant();
    const c = await connector(t.id, "gh");
    const body = issue(7, `The ${words[0]} ${words[1]} regression`, `Reported by ${words[2]} users`);
    assert.equal((await deliver(c.ingest_path, body, "enc-1")).status, 202);
    assert.equal(await s.hypha.services.connectors.worker.drain(), 1);

    const recall = await s.request("POST", "/v1/memories/recall", { key: t.key, body: { query: words[1] } });
    assert.equal(recall.status, 200, recall.text);
    const results = (recall.body as { results: { memory: { content: string; namespace: string } }[] })
      .results;
    assert.equal(results.length, 1);
    assert.ok(results[0]?.memory.content.includes(`${words[0]} ${words[1]}`));
    assert.equal(results[0]?.memory.namespace, "gh");

    // The forwarded audit lines are among the files scanned: forward them first.
    await s.hypha.services.trail.flush();
    assert.ok(existsSync(t.vault));
    for (const word of words) assert.deepEqual(filesHolding(t.vault, word), [], `"${word}" is not on disk`);
    assert.deepEqual(filesHolding(t.vault, body.slice(0, 40)), [], "the raw payload is not on disk");

    // The same delivery to a plaintext markdown tenant is found on disk, in its markdown mirror: the
    // scan above can fail, and worker writes follow the tenant's storage choice like REST writes.
    const md = await tenant({ storage: "markdown" });
    const mdc = await connector(md.id, "gh");
    assert.equal((await deliver(mdc.ingest_path, body, "enc-1")).status, 202);
    assert.equal(await s.hypha.services.connectors.worker.drain(), 1);
    const mirrored = filesHolding(join(md.vault, "memories"), words[1] ?? "");
    assert.equal(mirrored.length, 1);
    assert.match(mirrored[0] ?? "", /\.md$/);
  });

  for (const encryption of ["aes-gcm", "none"] as const) {
    test(`connector and webhook secrets and dead-letter payloads are sealed on disk (tenant encryption ${encryption}), never returned or logged`, async () => {
      const t = await tenant({ encryption });
      const c = await connector(t.id, "gh");
      const hook = await s.request("POST", `/v1/tenants/${t.id}/webhooks`, {
        body: { url: "https://93.184.215.14/hook", events: ["memory.created"] },
      });
      assert.equal(hook.status, 201, hook.text);
      const hookSecret = (hook.body as { secret: string }).secret;
      assert.match(hookSecret, /^whsec_/);
      const marker = `dlq${encryption.replace("-", "")}payloadmarker`;
      const big = issue(9, `${marker} ${"y".repeat(5000)}`);
      assert.equal((await deliver(c.ingest_path, big, `dead-${encryption}`)).status, 202);
      await untilDead();

      // The operator still reads the dead letter's payload through the API.
      const dead = await s.request("GET", `/admin/webhooks/dead-letters/${t.id}`);
      const items = (dead.body as { items: { payload: string }[] }).items;
      assert.equal(items.length, 1);
      assert.equal(items[0]?.payload, big);

      // The forwarded audit lines are among the files scanned: forward them first.
      await s.hypha.services.trail.flush();
      for (const secret of [SECRET, hookSecret, marker]) {
        assert.deepEqual(filesHolding(t.vault, secret), [], `${secret.slice(0, 8)}… is sealed on disk`);
      }
      const connectorsView = await s.request("GET", `/v1/tenants/${t.id}/connectors`);
      const hooksView = await s.request("GET", `/v1/tenants/${t.id}/webhooks`);
      for (const res of [connectorsView, hooksView]) {
        assert.ok(!res.text.includes(SECRET) && !res.text.includes(hookSecret));
      }
      const logs = s.logs.join("");
      assert.ok(!logs.includes(SECRET) && !logs.includes(hookSecret), "no secret in the logs");
    });
  }

  test("a sealed secret copied to another connector does not open there: its deliveries are refused", async () => {
    const t = await tenant();
    const a = await connector(t.id, "a");
    const b = await s.request("POST", `/v1/tenants/${t.id}/connectors`, {
      body: {
        name: "b",
        config: { source: "github", secret: "another-secret-0123456789", mapping: { namespace: "gh" } },
      },
    });
    assert.equal(b.status, 201, b.text);
    const bId = (b.body as { id: string }).id;
    const db = await s.hypha.storage.tenant(t.id);
    await db.run("UPDATE connectors SET secret = (SELECT secret FROM connectors WHERE id = ?) WHERE id = ?", [
      a.id,
      bId,
    ]);
    const body = issue(11, "moved secret");
    const res = await deliver(`/v1/ingest/${t.id}/${bId}`, body, "moved-1");
    assert.notEqual(res.status, 202);
    assert.equal(errorCode(res), "INTERNAL");
    assert.ok(!res.text.includes(SECRET));
    const queued = await db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE connector_id = ?",
      [bId],
    );
    assert.equal(queued?.n, 0);
    // The connector that owns the secret still verifies with it.
    assert.equal((await deliver(a.ingest_path, body, "moved-2")).status, 202);
  });

  test("deleting a tenant with deliveries still pending leaves no vault behind: the worker skips it", async () => {
    const t = await tenant();
    const c = await connector(t.id, "gh");
    const body = issue(31, "pending at deletion");
    assert.equal((await deliver(c.ingest_path, body, "gone-1")).status, 202);
    assert.equal((await s.request("DELETE", `/v1/tenants/${t.id}`)).status, 200);
    assert.equal(existsSync(t.vault), false);
    await s.hypha.services.connectors.worker.tick();
    await s.hypha.services.connectors.outbound.tick();
    assert.equal(existsSync(t.vault), false, "the vault is not recreated");
  });

  test("the typed client drives connectors, ingestion, dead letters, webhooks, the stream, the audit trail and tenant deletion", async () => {
    const admin = createHyphaClient({ url: s.url, key: s.adminKey });
    const t = await tenant();
    const created = await admin.createConnector(t.id, {
      name: "client-gh",
      config: { source: "github", secret: SECRET, mapping: { namespace: "gh" } },
    });
    assert.equal(created.secret_configured, true);
    assert.equal((await admin.getConnector(t.id, created.id)).name, "client-gh");
    assert.equal((await admin.updateConnector(t.id, created.id, { name: "client-gh2" })).name, "client-gh2");
    assert.ok((await admin.listConnectors(t.id)).items.some((c) => c.id === created.id));

    const body = issue(21, "Client-sent delivery");
    const headers = {
      "x-github-event": "issues",
      "x-github-delivery": "client-1",
      "x-hub-signature-256": sign(SECRET, body),
    };
    const accepted = await admin.ingestWebhook(t.id, created.id, { body, headers });
    assert.ok("status" in accepted && accepted.status === "accepted");
    const again = await admin.ingestWebhook(t.id, created.id, { body, headers });
    assert.deepEqual(again, { status: "duplicate" });
    await s.hypha.services.connectors.worker.drain();
    assert.equal((await admin.connectorHealth(t.id, created.id)).processed, 1);

    const big = issue(22, "z".repeat(5000));
    await admin.ingestWebhook(t.id, created.id, {
      body: big,
      headers: { ...headers, "x-github-delivery": "client-2", "x-hub-signature-256": sign(SECRET, big) },
    });
    await untilDead();
    const dead = await admin.listDeadLetters(t.id, { connectorId: created.id });
    assert.equal(dead.items.length, 1);
    assert.equal(dead.items[0]?.payload, big);
    assert.deepEqual(await admin.replayDeadLetter(t.id, dead.items[0]?.id ?? ""), {
      id: dead.items[0]?.id,
      status: "pending",
      replayed: true,
    });
    assert.deepEqual(await admin.replayDeadLetters(t.id, { connector_id: created.id }), {
      replayed: 0,
      ids: [],
    });

    const hook = await admin.createWebhook(t.id, {
      url: "https://93.184.215.14/hook",
      events: ["memory.created"],
    });
    assert.match(hook.secret, /^whsec_/);
    assert.ok((await admin.listWebhooks(t.id)).items.every((w) => !("secret" in w)));
    assert.equal((await admin.deleteWebhook(t.id, hook.id)).id, hook.id);

    const events = [];
    for await (const e of admin.streamTenantEvents(t.id, { follow: false })) events.push(e);
    assert.ok(events.some((e) => e.event === "ingest.accepted" && e.data.connector_id === created.id));

    const audit = await admin.listAuditEvents({ tenant_id: t.id, action: "delivery.*", limit: 50 });
    assert.ok(audit.items.some((e) => e.action === "delivery.replayed"));
    assert.equal((await admin.verifyAuditChain({ tenantId: t.id })).ok, true);
    assert.equal((await admin.deleteConnector(t.id, created.id)).id, created.id);

    assert.deepEqual(await admin.deleteTenant(t.id), { id: t.id, deleted: true });
    assert.equal((await admin.verifyAuditChain()).ok, true, "the instance chain records the deletion");
  });
});
