import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { type Res, startServer, type TestServer } from "./harness.ts";
import { TEST_DATABASE_URL } from "./pg.ts";

/**
 * What PostgreSQL holds of a tenant: ciphertext and blind tokens only for an encrypted tenant, and
 * after an erasure, no live row of the tenant in any table and no wrapped data key. Rows are read
 * as a superuser (row-level security does not bind it), the way a database administrator or a
 * stolen dump would see them.
 */
describe("PostgreSQL at rest and after erasure", {
  skip: TEST_DATABASE_URL ? false : "HYPHA_TEST_DATABASE_URL is not set",
}, () => {
  let s: TestServer;
  let dba: pg.Client;
  before(async () => {
    s = await startServer();
    const url = new URL(TEST_DATABASE_URL as string);
    url.pathname = `/${s.database?.name}`;
    dba = new pg.Client({ connectionString: url.toString() });
    await dba.connect();
  });
  after(async () => {
    await dba.end();
    await s.close();
  });

  async function tenant(body: Record<string, unknown> = {}) {
    const res = await s.request("POST", "/v1/tenants", {
      body: { name: `p${Math.random()}`.replace(".", ""), ...body },
    });
    assert.equal(res.status, 201, res.text);
    const t = res.body as { id: string };
    const { key } = await s.createKey(t.id);
    return { ...t, key };
  }

  /** Every live row of every hypha table, as text, with the tables it came from. */
  async function everyRow(): Promise<{ table: string; text: string }[]> {
    const tables = (
      await dba.query<{ s: string; t: string }>(
        "SELECT schemaname AS s, tablename AS t FROM pg_tables WHERE schemaname LIKE 'hypha_%'",
      )
    ).rows;
    const out: { table: string; text: string }[] = [];
    for (const { s: schema, t } of tables) {
      const rows = (await dba.query(`SELECT row_to_json(x)::text AS j FROM ${schema}.${t} x`)).rows;
      for (const r of rows) out.push({ table: `${schema}.${t}`, text: r.j as string });
    }
    return out;
  }

  test("an encrypted tenant's rows hold none of the stored plaintext; a plaintext tenant's do (the scan can fail)", async () => {
    const words = ["zymurgical", "quokkaphile", "marmaladeous", "tessellatrix", "obfuscandum"];
    const [w0, w1, w2, w3, w4] = words;
    const t = await tenant();
    const m = await s.storeMemory(t.key, {
      content: `The ${w0} plan is approved`,
      tags: [w1],
      entities: [w2],
      metadata: { project: w3 },
    });
    await s.request("PATCH", `/v1/memories/${m.id}`, {
      key: t.key,
      body: { content: `The ${w4} plan replaced it` },
    });
    const recall = await s.request("POST", "/v1/memories/recall", { key: t.key, body: { query: w4 } });
    assert.equal((recall.body as { results: { memory: { id: string } }[] }).results[0]?.memory.id, m.id);
    for (const row of await everyRow()) {
      for (const w of words) assert.equal(row.text.includes(w), false, `${w} found in ${row.table}`);
    }
    const plain = await tenant({ encryption: "none" });
    await s.storeMemory(plain.key, { content: `The ${w0} plan`, tags: [w1] });
    assert.ok(
      (await everyRow()).some((r) => r.table === "hypha_tenant.memories" && r.text.includes(w0 ?? "")),
    );
  });

  test("erasure: deleting a tenant leaves no live row of it in any table and no wrapped data key", async () => {
    const t = await tenant({ encryption: "none" });
    const other = await tenant({ encryption: "none" });
    await s.storeMemory(t.key, { content: "erase this plaintext record", tags: ["gone"] });
    await s.storeMemory(other.key, { content: "keep this other record" });
    await s.createUser(t.id, { email: "erase@example.com" });
    await s.request("POST", `/v1/tenants/${t.id}/connectors`, {
      body: {
        name: "gh",
        config: {
          source: "github",
          secret: "a-long-enough-webhook-secret-0123456789",
          mapping: { namespace: "gh" },
        },
      },
    });
    const before = await everyRow();
    assert.ok(before.some((r) => r.text.includes(t.id) && r.table === "hypha_tenant.memories"));
    assert.equal((await s.request("DELETE", `/v1/tenants/${t.id}`)).status, 200);
    await s.hypha.services.trail.flush();
    const rows = await everyRow();
    // The instance audit chain names the deletion (and earlier tenant events); nothing else does.
    const left = rows.filter((r) => r.text.includes(t.id) && r.table !== "hypha_control.audit_events");
    assert.deepEqual(left, []);
    assert.equal(
      rows.some((r) => r.text.includes("erase this plaintext record")),
      false,
    );
    assert.equal(
      rows.some((r) => r.text.includes("erase@example.com")),
      false,
    );
    assert.ok(
      rows.some((r) => r.text.includes("keep this other record")),
      "the other tenant is untouched",
    );
    const key = await dba.query("SELECT 1 FROM hypha_control.tenant_keys WHERE tenant_id = $1", [t.id]);
    assert.equal(key.rowCount, 0);
  });

  test("erasure: stores racing the tenant's deletion are stored or refused as absent (404 NOT_FOUND, or 401 once its keys are gone), never a 5xx, and leave no live row of it in any table", async () => {
    const t = await tenant({ encryption: "none" });
    await s.storeMemory(t.key, { content: "stored before the deletion" });
    const store = (i: number) =>
      s.request("POST", "/v1/memories", {
        key: t.key,
        body: { namespace: "default", content: `racing ${i}` },
      });
    // Stores keep arriving, one every millisecond, until the deletion has answered: some run before
    // it, some while it commits, some after.
    const stores: Promise<Res>[] = [];
    let done = false;
    const deleted = (async () => {
      await new Promise((r) => setTimeout(r, 10));
      return s.request("DELETE", `/v1/tenants/${t.id}`).finally(() => {
        done = true;
      });
    })();
    for (let i = 0; !done && i < 500; i++) {
      stores.push(store(i));
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal((await deleted).status, 200);
    const answers = await Promise.all(stores);
    for (const a of answers) {
      // Stored, or refused as absent: the tenant (404) or, once its keys are gone, the key (401).
      assert.ok([201, 401, 404].includes(a.status), `a store answered ${a.status} ${a.text}`);
      if (a.status === 404) assert.equal((a.body as { error: { code: string } }).error.code, "NOT_FOUND");
    }
    await s.hypha.services.trail.flush();
    const left = (await everyRow()).filter(
      (r) => r.text.includes(t.id) && r.table !== "hypha_control.audit_events",
    );
    assert.deepEqual(left, []);
    // The failures after the deletion may trip the key's error-rate pause: a deleted tenant has
    // nothing left to pause, and that is no failure of the detector.
    assert.deepEqual(
      s.logs.filter((l) => l.includes("anomaly detector failed")),
      [],
    );
  });
});
