import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";

type Verify = { ok: boolean; first_bad_seq: number | null; reason: string | null; last_seq: number | null };
type Event = {
  seq: number;
  action: string;
  outcome: string;
  actor: { type: string; id: string };
  tenant_id: string | null;
  client_ip: string | null;
  details: Record<string, unknown> | null;
  hash: string;
};
type Page = { items: Event[]; next_cursor: string | null };

const run = promisify(execFile);

describe("audit trail", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  /** A tenant whose chain holds at least 8 events, forwarded and checkpointed. */
  async function chain() {
    const seeded = await s.seedTenant();
    for (let i = 0; i < 3; i++) {
      const m = await s.storeMemory(seeded.key, { content: `chained note ${i}` });
      await s.request("GET", `/v1/memories/${m.id}`, { key: seeded.key });
    }
    await s.hypha.services.trail.flush();
    const vaultDb = join(s.dataDir, "vaults", seeded.tenantId, "vault.db");
    const verify = async () =>
      (await s.request("GET", `/v1/audit/verify?tenant_id=${seeded.tenantId}`)).body as Verify;
    return { ...seeded, vaultDb, verify };
  }

  test("an untouched chain verifies, through the route and with every event counted", async () => {
    const c = await chain();
    const v = await c.verify();
    assert.equal(v.ok, true);
    assert.ok((v.last_seq ?? 0) >= 7);
  });

  test("tamper: a modified event is found at its seq (HASH_MISMATCH), even with a recomputed plain hash", async () => {
    const c = await chain();
    await s.tamper(
      c.tenantId,
      "UPDATE audit_events SET outcome = 'denied', action = 'memory.deleted' WHERE seq = 4",
    );
    assert.deepEqual((({ ok, first_bad_seq, reason }) => ({ ok, first_bad_seq, reason }))(await c.verify()), {
      ok: false,
      first_bad_seq: 4,
      reason: "HASH_MISMATCH",
    });
  });

  test("tamper: an event deleted in the middle is found at the missing seq (SEQUENCE_GAP)", async () => {
    const c = await chain();
    await s.tamper(c.tenantId, "DELETE FROM audit_events WHERE seq = 3");
    const v = await c.verify();
    assert.equal(v.first_bad_seq, 3);
    assert.equal(v.reason, "SEQUENCE_GAP");
  });

  test("tamper: reordered events are found at the first displaced seq", async () => {
    const c = await chain();
    await s.tamper(
      c.tenantId,
      `UPDATE audit_events SET seq = -1 WHERE seq = 3;
       UPDATE audit_events SET seq = 3 WHERE seq = 4;
       UPDATE audit_events SET seq = 4 WHERE seq = -1;`,
    );
    const v = await c.verify();
    assert.equal(v.ok, false);
    assert.equal(v.first_bad_seq, 3);
    assert.equal(v.reason, "PREV_HASH_MISMATCH");
  });

  test("tamper: a truncated tail is found against the signed checkpoint kept beside the vault (TRUNCATED)", async () => {
    const c = await chain();
    const before = await c.verify();
    const last = before.last_seq ?? 0;
    assert.ok(existsSync(join(s.dataDir, "vaults", c.tenantId, "audit.checkpoints")));
    await s.tamper(c.tenantId, `DELETE FROM audit_events WHERE seq >= ${last - 1}`);
    const v = await c.verify();
    assert.equal(v.reason, "TRUNCATED");
    assert.equal(v.first_bad_seq, last - 1);
  });

  test("tamper: an emptied hash is found at its seq (NULL_HASH)", async () => {
    const c = await chain();
    // The column is NOT NULL, so an editor can empty it; a missing value is refused the same way.
    await s.tamper(c.tenantId, "UPDATE audit_events SET hash = '' WHERE seq = 5");
    const v = await c.verify();
    assert.equal(v.first_bad_seq, 5);
    assert.equal(v.reason, "NULL_HASH");
  });

  test("tamper: a forged checkpoint line is refused (CHECKPOINT_INVALID)", async () => {
    const c = await chain();
    const file = join(s.dataDir, "vaults", c.tenantId, "audit.checkpoints");
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const cp = JSON.parse(lines.at(-1) ?? "{}") as { seq: number };
    writeFileSync(file, `${lines.join("\n")}\n${JSON.stringify({ ...cp, seq: cp.seq + 5 })}\n`);
    const v = await c.verify();
    assert.equal(v.reason, "CHECKPOINT_INVALID");
  });

  test("tamper: the instance chain in control.db is verified the same way", async () => {
    await s.createTenant();
    await s.hypha.services.trail.flush();
    const ok = (await s.request("GET", "/v1/audit/verify")).body as Verify;
    assert.equal(ok.ok, true);
    await s.tamper(null, "UPDATE audit_events SET actor_id = 'someone_else' WHERE seq = 2");
    const bad = (await s.request("GET", "/v1/audit/verify")).body as Verify;
    assert.deepEqual([bad.ok, bad.first_bad_seq, bad.reason], [false, 2, "HASH_MISMATCH"]);
  });

  test("the store refuses updates and deletes of events; no route edits or deletes them", async () => {
    const c = await chain();
    const db = await s.hypha.storage.tenant(c.tenantId);
    await assert.rejects(db.run("UPDATE audit_events SET outcome = 'x' WHERE seq = 1"), /append-only/);
    await assert.rejects(db.run("DELETE FROM audit_events WHERE seq = 1"), /append-only/);
    const auditRoutes = s.hypha.app.routeTable.filter((r) => r.url.startsWith("/v1/audit"));
    assert.deepEqual([...new Set(auditRoutes.map((r) => r.method))], ["GET"]);
  });

  test("retention drops old events only through the audited operation, and the chain still verifies from its anchor", async () => {
    const c = await chain();
    const cutoff = s.clock.now() + 1;
    s.clock.advance(86_400_000);
    await s.storeMemory(c.key, { content: "kept after retention" });
    const res = await s.hypha.services.trail.applyRetention(c.tenantId, cutoff, {
      type: "system",
      id: "test",
    });
    assert.ok(res.dropped >= 7);
    const db = await s.hypha.storage.tenant(c.tenantId);
    const left = await db.all<{ seq: number; action: string }>(
      "SELECT seq, action FROM audit_events ORDER BY seq",
    );
    assert.equal(left[0]?.seq, (res.through_seq ?? 0) + 1);
    assert.ok(left.some((e) => e.action === "audit.retention_applied"));
    const v = await c.verify();
    assert.equal(v.ok, true, JSON.stringify(v));
    await assert.rejects(db.run("DELETE FROM audit_retention"), /append-only/);
    // Still append-only above the anchor.
    await assert.rejects(db.run(`DELETE FROM audit_events WHERE seq = ${left[0]?.seq}`), /append-only/);
    // Deleting the first kept event behind the trail's back is found right after the anchor.
    await s.tamper(c.tenantId, `DELETE FROM audit_events WHERE seq = ${left[0]?.seq}`);
    const bad = await c.verify();
    assert.deepEqual([bad.first_bad_seq, bad.reason], [left[0]?.seq, "SEQUENCE_GAP"]);
  });

  test("retention refuses to drop anything from a tampered chain", async () => {
    const c = await chain();
    await s.tamper(c.tenantId, "UPDATE audit_events SET outcome = 'denied' WHERE seq = 2");
    s.clock.advance(86_400_000);
    await assert.rejects(
      s.hypha.services.trail.applyRetention(c.tenantId, s.clock.now(), { type: "system", id: "test" }),
      /seq 2/,
    );
  });

  test("query: filters, the suspicious view and a seq cursor; agent keys need audit:read and see their tenant only", async () => {
    const { tenantId, key } = await s.seedTenant();
    const reader = await s.createKey(tenantId, { agent: "auditor", scopes: ["audit:read"] });
    const readOnly = await s.createKey(tenantId, { scopes: ["memories:read"] });
    await s.storeMemory(key, { content: "query me" });
    await s.request("POST", "/v1/memories", { key: readOnly.key, body: { namespace: "a", content: "x" } });
    const all = (await s.request("GET", "/v1/audit/events?limit=2", { key: reader.key })).body as Page;
    assert.equal(all.items.length, 2);
    assert.ok(all.items[0] && all.items[1] && all.items[0].seq > all.items[1].seq, "newest first");
    const next = (
      await s.request("GET", `/v1/audit/events?limit=2&cursor=${all.next_cursor}`, { key: reader.key })
    ).body as Page;
    assert.ok(next.items.every((e) => e.seq < (all.items[1]?.seq ?? 0)));
    const suspicious = (await s.request("GET", "/v1/audit/events?suspicious=true", { key: reader.key }))
      .body as Page;
    assert.ok(suspicious.items.some((e) => e.action === "access.denied" && e.outcome === "denied"));
    assert.ok(suspicious.items.some((e) => e.action === "key.created"));
    assert.ok(suspicious.items.every((e) => !["memory.created", "memory.read"].includes(e.action)));
    const created = (
      await s.request("GET", "/v1/audit/events?action=memory.*&outcome=success", { key: reader.key })
    ).body as Page;
    assert.deepEqual([...new Set(created.items.map((e) => e.action))], ["memory.created"]);
    const byActor = (await s.request("GET", `/v1/audit/events?actor=${readOnly.id}`, { key: reader.key }))
      .body as Page;
    assert.ok(byActor.items.length >= 1 && byActor.items.every((e) => e.actor.id === readOnly.id));
    const window = (
      await s.request("GET", `/v1/audit/events?since=${new Date(s.clock.now() + 1).toISOString()}`, {
        key: reader.key,
      })
    ).body as Page;
    assert.ok(window.items.every((e) => e.action === "audit.read"));
    // Without audit:read: refused. Another tenant's trail: absent.
    const denied = await s.request("GET", "/v1/audit/events", { key });
    assert.equal(denied.status, 403);
    assert.equal(errorCode(denied), "INSUFFICIENT_SCOPE");
    const other = await s.createTenant();
    assert.equal(
      (await s.request("GET", `/v1/audit/events?tenant_id=${other}`, { key: reader.key })).status,
      404,
    );
    // The instance admin reads any tenant's trail.
    const admin = (await s.request("GET", `/v1/audit/events?tenant_id=${tenantId}`)).body as Page;
    assert.ok(admin.items.length > 0);
  });

  test("failed authentications are audited in the instance chain, folded per address and minute", async () => {
    s.clock.advance(120_000);
    const since = new Date(s.clock.now()).toISOString();
    for (let i = 0; i < 25; i++) {
      const res = await s.request("GET", "/v1/memories", { key: generateSecret(KEY_PREFIX.agent) });
      assert.equal(res.status, 401);
    }
    const q = `/v1/audit/events?action=auth.failed&since=${encodeURIComponent(since)}`;
    const first = (await s.request("GET", q)).body as Page;
    assert.equal(first.items.length, 1, "25 failures in one minute are one event");
    assert.equal(first.items[0]?.client_ip, "127.0.0.1");
    assert.equal(first.items[0]?.outcome, "denied");
    s.clock.advance(60_000);
    await s.request("GET", "/v1/memories", { key: generateSecret(KEY_PREFIX.agent) });
    const second = (await s.request("GET", q)).body as Page;
    assert.equal(second.items.length, 3);
    const summary = second.items.find((e) => e.details?.aggregated === true);
    assert.equal(summary?.details?.count, 24);
  });

  test("forwarding: each tenant event becomes one JSON line in vaults/<id>/audit.jsonl, and a rotated file is reopened", async () => {
    const { tenantId, key } = await s.seedTenant();
    await s.storeMemory(key, { content: "forward me" });
    await s.hypha.services.trail.flush();
    const file = join(s.dataDir, "vaults", tenantId, "audit.jsonl");
    const db = await s.hypha.storage.tenant(tenantId);
    const seqs = (await db.all<{ seq: number }>("SELECT seq FROM audit_events ORDER BY seq")).map(
      (r) => r.seq,
    );
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Event);
    assert.deepEqual(
      lines.map((l) => l.seq),
      seqs,
    );
    assert.ok(!readFileSync(file, "utf8").includes("forward me"), "no content is forwarded");
    renameSync(file, `${file}.1`);
    await s.storeMemory(key, { content: "after rotation" });
    await s.hypha.services.trail.flush();
    const rotated = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Event);
    assert.deepEqual(
      rotated.map((l) => l.action),
      ["memory.created"],
    );
  });

  test("CLI: hypha audit verify exits 1 and names the first bad seq; hypha audit --suspicious lists denials", async () => {
    const c = await chain();
    const cli = (args: string[]) =>
      run(process.execPath, ["bin/hypha.js", ...args, "--data", s.dataDir], {
        env: {
          ...process.env,
          HYPHA_ADMIN_KEY: s.adminKey,
          ...(s.database
            ? { HYPHA_DATABASE_URL: s.database.url, HYPHA_DATABASE_MIGRATION_URL: s.database.migrationUrl }
            : {}),
        },
      });
    const good = await cli(["audit", "verify", "--tenant", c.tenantId]);
    assert.equal((JSON.parse(good.stdout) as Verify).ok, true);
    const listed = await cli(["audit", "--suspicious", "--since", "3650d", "--tenant", c.tenantId]);
    assert.ok((JSON.parse(listed.stdout) as Page).items.some((e) => e.action === "key.created"));
    await s.tamper(c.tenantId, "UPDATE audit_events SET target_ids = '[]' WHERE seq = 6");
    const bad = await cli(["audit", "verify", "--tenant", c.tenantId]).then(
      () => assert.fail("verify must exit non-zero"),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(bad.code, 1);
    assert.deepEqual(
      (({ first_bad_seq, reason }) => ({ first_bad_seq, reason }))(JSON.parse(bad.stdout) as Verify),
      {
        first_bad_seq: 6,
        reason: "HASH_MISMATCH",
      },
    );
  });
});
