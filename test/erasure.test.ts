import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { consoleRequest, consoleSession } from "./console-helpers.ts";
import { startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";

type AuditRow = { actor_id: string; details: string; target_ids: string };

describe("GDPR erasure reaches every matching memory the eraser is entitled to, private ones included", () => {
  let s: TestServer;

  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  /** A tenant where the agent care-bot keeps a shared and a private memory (two versions) about `who`. */
  async function seeded(who: string, namespace = "care") {
    const t = await s.createTenant();
    const bot = (await s.createKey(t, { agent: "care-bot", scopes: ["write"] })).key;
    const shared = await s.storeMemory(bot, {
      namespace,
      content: `${who} prefers mornings`,
      entities: [who],
    });
    const priv = await s.storeMemory(bot, {
      namespace,
      content: `${who} medical note`,
      entities: [who],
      access: "private",
    });
    const patched = await s.request("PATCH", `/v1/memories/${priv.id}`, {
      key: bot,
      body: { content: `${who} medical note, updated` },
    });
    assert.equal(patched.status, 200);
    const other = await s.storeMemory(bot, { namespace, content: "dave likes chess", entities: ["dave"] });
    return { t, bot, shared: shared.id, priv: priv.id, other: other.id };
  }

  const lastErasure = async (t: string) => {
    const db = await s.hypha.storage.tenant(t);
    const row = await db.get<AuditRow>(
      "SELECT actor_id, details, target_ids FROM audit_events WHERE action = 'memory.bulk_deleted' ORDER BY seq DESC LIMIT 1",
    );
    return { ...row, details: JSON.parse(row?.details ?? "{}") as Record<string, unknown> };
  };
  const versionsOf = async (t: string, id: string) => {
    const db = await s.hypha.storage.tenant(t);
    return (await db.all("SELECT seq FROM memories WHERE id = ?", [id])).length;
  };

  test("an ADMIN's erasure by entity erases agents' private memories too, every version; count and audit say so", async () => {
    const f = await seeded("carol");
    const admin = await signedInUser(s, f.t, ["ADMIN"]);
    const del = await s.request("DELETE", "/v1/memories", { key: admin.token, body: { entity: "carol" } });
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.body, { deleted: 2 });
    assert.equal((await s.request("GET", `/v1/memories/${f.priv}`, { key: f.bot })).status, 404);
    assert.equal((await s.request("GET", `/v1/memories/${f.shared}`, { key: f.bot })).status, 404);
    assert.equal(await versionsOf(f.t, f.priv), 0, "no version of the private memory is left");
    const db = await s.hypha.storage.tenant(f.t);
    assert.equal(
      (
        await db.all("SELECT 1 FROM memory_labels l JOIN memories m ON m.seq = l.seq WHERE m.id = ?", [
          f.priv,
        ])
      ).length,
      0,
    );
    const recall = await s.request("POST", "/v1/memories/recall", { key: f.bot, body: { query: "medical" } });
    assert.ok(!recall.text.includes(f.priv));
    assert.equal((await s.request("GET", `/v1/memories/${f.other}`, { key: f.bot })).status, 200);
    const audit = await lastErasure(f.t);
    assert.equal(audit.actor_id, admin.userId);
    assert.deepEqual(
      [audit.details.count, audit.details.selector, audit.details.scope, audit.details.private],
      [2, "entity", "tenant", 1],
    );
    assert.ok(audit.target_ids?.includes(f.priv));
  });

  test("an ADMIN's erasure by creation range erases private memories in the range too", async () => {
    const t = await s.createTenant();
    const bot = (await s.createKey(t, { agent: "care-bot", scopes: ["write"] })).key;
    const early = await s.storeMemory(bot, { content: "before the range", access: "private" });
    s.clock.advance(60_000);
    const from = s.clock.now();
    const inRange = await s.storeMemory(bot, { content: "private in range", access: "private" });
    const sharedIn = await s.storeMemory(bot, { content: "shared in range" });
    s.clock.advance(60_000);
    const admin = await signedInUser(s, t, ["ADMIN"]);
    const del = await s.request("DELETE", "/v1/memories", {
      key: admin.token,
      body: {
        created_after: new Date(from - 1).toISOString(),
        created_before: new Date(from + 1000).toISOString(),
      },
    });
    assert.deepEqual(del.body, { deleted: 2 });
    assert.equal((await s.request("GET", `/v1/memories/${inRange.id}`, { key: bot })).status, 404);
    assert.equal((await s.request("GET", `/v1/memories/${sharedIn.id}`, { key: bot })).status, 404);
    assert.equal((await s.request("GET", `/v1/memories/${early.id}`, { key: bot })).status, 200);
    assert.equal((await lastErasure(t)).details.scope, "tenant");
  });

  test("an admin-scoped key erases tenant-wide within its namespaces; outside them nothing is touched", async () => {
    const f = await seeded("erin", "care");
    const elsewhere = await s.storeMemory(f.bot, {
      namespace: "billing",
      content: "erin private invoice",
      entities: ["erin"],
      access: "private",
    });
    const scoped = (await s.createKey(f.t, { agent: "dpo", scopes: ["admin"], namespaces: ["care"] })).key;
    const del = await s.request("DELETE", "/v1/memories", { key: scoped, body: { entity: "erin" } });
    assert.deepEqual(del.body, { deleted: 2 });
    assert.equal(await versionsOf(f.t, f.priv), 0);
    assert.equal((await s.request("GET", `/v1/memories/${elsewhere.id}`, { key: f.bot })).status, 200);
    const whole = (await s.createKey(f.t, { agent: "dpo-all", scopes: ["admin"] })).key;
    const rest = await s.request("DELETE", "/v1/memories", { key: whole, body: { entity: "erin" } });
    assert.deepEqual(rest.body, { deleted: 1 });
    assert.equal((await s.request("GET", `/v1/memories/${elsewhere.id}`, { key: f.bot })).status, 404);
  });

  test("callers not entitled to erase tenant-wide (a write key, a DEVELOPER, a tenant:admin key) erase only what they may change; the audit says so", async () => {
    const f = await seeded("frank");
    const writer = (await s.createKey(f.t, { agent: "other-bot", scopes: ["write"] })).key;
    const dev = await signedInUser(s, f.t, ["DEVELOPER"]);
    const tenantAdmin = await s.request("POST", `/v1/tenants/${f.t}/keys`, {
      body: { agent: "ops", scopes: ["tenant:admin"] },
    });
    const opsKey = (tenantAdmin.body as { key: string }).key;
    const refused = await s.request("DELETE", "/v1/memories", { key: opsKey, body: { entity: "frank" } });
    assert.equal(refused.status, 403, "tenant:admin does not cover memories");
    const byWriter = await s.request("DELETE", "/v1/memories", { key: writer, body: { entity: "frank" } });
    assert.deepEqual(byWriter.body, { deleted: 1 });
    assert.equal((await lastErasure(f.t)).details.scope, "caller");
    const byDev = await s.request("DELETE", "/v1/memories", { key: dev.token, body: { entity: "frank" } });
    assert.deepEqual(byDev.body, { deleted: 0 });
    assert.equal((await s.request("GET", `/v1/memories/${f.priv}`, { key: f.bot })).status, 200);
  });

  test("erasure by ids keeps the rules of a single delete: an ADMIN does not reach a private memory by id", async () => {
    const f = await seeded("gina");
    const admin = await signedInUser(s, f.t, ["ADMIN"]);
    const del = await s.request("DELETE", "/v1/memories", { key: admin.token, body: { ids: [f.priv] } });
    assert.deepEqual(del.body, { deleted: 0 });
    assert.equal((await s.request("GET", `/v1/memories/${f.priv}`, { key: f.bot })).status, 200);
  });

  test("the console's erase form, used by an ADMIN, counts and erases the private memory too; a DEVELOPER's count is what they may erase", async () => {
    const f = await seeded("hank");
    const person = await consoleSession(s, f.t, ["ADMIN"]);
    const page = await consoleRequest(s, "GET", "/console/memories", { cookie: person.cookie });
    assert.match(page.text, /agents’ private memories/);
    const preview = (who: { cookie: string; csrf: string }) =>
      consoleRequest(s, "POST", "/console/memories/erase", {
        cookie: who.cookie,
        form: { _csrf: who.csrf, entity: "hank" },
      });
    const asked = await preview(person);
    assert.equal(asked.status, 200, asked.text);
    assert.match(asked.text, /2 memories match the entity “hank” \(1 of them agents’ private memories\)/);
    const developer = await consoleSession(s, f.t, ["DEVELOPER"]);
    assert.match((await preview(developer)).text, /1 memory matches the entity “hank”\. Erase it/);
    assert.equal(await versionsOf(f.t, f.priv), 2, "a preview erases nothing");
    const erase = await consoleRequest(s, "POST", "/console/memories/erase", {
      cookie: person.cookie,
      form: { _csrf: person.csrf, entity: "hank", confirm: "yes" },
    });
    assert.equal(erase.status, 200, erase.text);
    assert.match(erase.text, /Erased <strong>2<\/strong> memories/);
    assert.equal(await versionsOf(f.t, f.priv), 0);
  });
});
