import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";
import { TEST_DATABASE_URL } from "./pg.ts";

// The tampering below edits the SQLite files and checkpoint files directly. The chain and anchor code
// is the same on PostgreSQL, where these cases are not run (tampering there needs the owner role).
const sqliteFiles = { skip: TEST_DATABASE_URL ? "tampers with the SQLite files directly" : false };

type Verify = {
  ok: boolean;
  first_bad_seq: number | null;
  reason: string | null;
  last_seq: number | null;
  anchored_seq: number | null;
};

/** Edits a database file the way an attacker with file access would: its own connection, triggers dropped. */
function tamper(path: string, sql: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec("DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;");
    db.exec(sql);
  } finally {
    db.close();
  }
}

const pick = (v: Verify) => ({ ok: v.ok, reason: v.reason, first_bad_seq: v.first_bad_seq });

describe("audit anchoring: a tenant chain's signed head is kept outside its vault", sqliteFiles, () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  /** A tenant whose chain holds a few events, forwarded, checkpointed and anchored. */
  async function chain() {
    const seeded = await s.seedTenant();
    const writes = async (n: number) => {
      for (let i = 0; i < n; i++) await s.storeMemory(seeded.key, { content: `anchored note ${i}` });
      await s.hypha.services.trail.flush();
    };
    await writes(3);
    const vaultDb = join(s.dataDir, "vaults", seeded.tenantId, "vault.db");
    const checkpoints = join(s.dataDir, "vaults", seeded.tenantId, "audit.checkpoints");
    const verify = async () =>
      (await s.request("GET", `/v1/audit/verify?tenant_id=${seeded.tenantId}`)).body as Verify;
    return { ...seeded, vaultDb, checkpoints, verify, writes };
  }

  test("an untouched chain verifies, anchored in the instance chain up to its head", async () => {
    const c = await chain();
    const v = await c.verify();
    assert.equal(v.ok, true);
    assert.ok((v.anchored_seq ?? 0) >= 4, `anchored_seq ${v.anchored_seq}`);
    const anchors = await s.request("GET", "/v1/audit/events?action=audit.anchored&limit=500");
    const items = (anchors.body as { items: { target_ids: string[]; actor: { type: string } }[] }).items;
    assert.ok(items.some((e) => e.target_ids[0] === c.tenantId && e.actor.type === "system"));
    assert.equal(((await s.request("GET", "/v1/audit/verify")).body as Verify).ok, true, "instance chain");
  });

  test("tamper: tail truncated and an older audit.checkpoints restored → TRUNCATED at the first lost seq", async () => {
    const c = await chain();
    const older = readFileSync(c.checkpoints, "utf8");
    const kept = (await c.verify()).last_seq ?? 0;
    await c.writes(3);
    tamper(c.vaultDb, `DELETE FROM audit_events WHERE seq > ${kept}`);
    writeFileSync(c.checkpoints, older);
    assert.deepEqual(pick(await c.verify()), { ok: false, reason: "TRUNCATED", first_bad_seq: kept + 1 });
  });

  test("tamper: tail truncated and audit.checkpoints deleted → TRUNCATED", async () => {
    const c = await chain();
    const last = (await c.verify()).last_seq ?? 0;
    await c.writes(2);
    tamper(c.vaultDb, `DELETE FROM audit_events WHERE seq > ${last}`);
    rmSync(c.checkpoints);
    assert.deepEqual(pick(await c.verify()), { ok: false, reason: "TRUNCATED", first_bad_seq: last + 1 });
  });

  test("tamper: tail truncated, grown again by the server, checkpoints restored → TRUNCATED, not HASH_MISMATCH", async () => {
    const c = await chain();
    const older = readFileSync(c.checkpoints, "utf8");
    const kept = (await c.verify()).last_seq ?? 0;
    await c.writes(4);
    tamper(c.vaultDb, `DELETE FROM audit_events WHERE seq > ${kept}`);
    writeFileSync(c.checkpoints, older);
    // The server keeps writing after the cut: the chain is internally valid again, and longer.
    await c.writes(6);
    const v = await c.verify();
    assert.equal(v.reason, "TRUNCATED");
    assert.equal(v.ok, false);
    assert.ok((v.first_bad_seq ?? 0) >= kept - 1 && (v.first_bad_seq ?? 0) <= kept + 1, `${v.first_bad_seq}`);
  });

  test("tamper: a chain with events but no anchor anywhere is reported (UNANCHORED)", async () => {
    const c = await chain();
    tamper(
      join(s.dataDir, "control.db"),
      `DELETE FROM audit_events WHERE action = 'audit.anchored' AND target_ids = '["${c.tenantId}"]'`,
    );
    rmSync(c.checkpoints);
    const v = await c.verify();
    assert.equal(v.ok, false);
    assert.equal(v.reason, "UNANCHORED");
    assert.equal(v.anchored_seq, null);
    const instance = (await s.request("GET", "/v1/audit/verify")).body as Verify;
    assert.equal(instance.ok, false, "the deleted anchors break the instance chain");
  });
});

describe("audit anchoring across a retention run of the instance chain", sqliteFiles, () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("dropping the instance chain's old events carries each tenant's newest anchor over, so a cut is still found", async () => {
    const { tenantId, key } = await s.seedTenant();
    await s.storeMemory(key, { content: "before retention" });
    await s.hypha.services.trail.flush();
    const verify = async () =>
      (await s.request("GET", `/v1/audit/verify?tenant_id=${tenantId}`)).body as Verify;
    const last = (await verify()).last_seq ?? 0;
    await s.hypha.services.trail.flush();
    s.clock.advance(86_400_000);
    const actor = { type: "instance_admin" as const, id: "instance_admin" };
    const run = await s.hypha.services.trail.applyRetention("instance", s.clock.now() - 1000, actor);
    assert.ok(run.dropped > 0, "the instance chain's old events (and the anchors among them) are gone");
    const after = await verify();
    assert.equal(after.ok, true, `still anchored after retention: ${after.reason}`);
    assert.ok((after.anchored_seq ?? 0) >= last);
    assert.equal(((await s.request("GET", "/v1/audit/verify")).body as Verify).ok, true, "instance chain");
    tamper(
      join(s.dataDir, "vaults", tenantId, "vault.db"),
      `DELETE FROM audit_events WHERE seq > ${last - 1}`,
    );
    rmSync(join(s.dataDir, "vaults", tenantId, "audit.checkpoints"));
    assert.equal((await verify()).reason, "TRUNCATED");
  });
});

describe("audit anchoring: the external sink (HYPHA_AUDIT_ANCHOR_FILE)", sqliteFiles, () => {
  let s: TestServer;
  let sinkDir: string;
  let sink: string;
  before(async () => {
    sinkDir = mkdtempSync(join(tmpdir(), "hypha-anchor-"));
    sink = join(sinkDir, "anchors.jsonl");
    s = await startServer({ auditAnchorFile: sink });
  });
  after(async () => {
    await s.close();
    rmSync(sinkDir, { recursive: true, force: true });
  });

  test("every chain's signed head goes to the sink, and verify reads it back", async () => {
    const { tenantId, key } = await s.seedTenant();
    await s.storeMemory(key, { content: "sunk" });
    await s.hypha.services.trail.flush();
    const lines = readFileSync(sink, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { tenantId: string });
    assert.ok(lines.some((l) => l.tenantId === tenantId));
    assert.ok(lines.some((l) => l.tenantId === "instance"));
    const v = (await s.request("GET", "/v1/audit/verify")).body as Verify;
    assert.equal(v.ok, true);
    assert.ok((v.anchored_seq ?? 0) >= 1);
  });

  test("tamper: the instance chain's tail truncated and instance.checkpoints restored is TRUNCATED against the sink", async () => {
    await s.createTenant();
    await s.hypha.services.trail.flush();
    const file = join(s.dataDir, "audit", "instance.checkpoints");
    const older = readFileSync(file, "utf8");
    const kept = ((await s.request("GET", "/v1/audit/verify")).body as Verify).last_seq ?? 0;
    for (let i = 0; i < 3; i++) await s.createTenant();
    await s.hypha.services.trail.flush();
    tamper(join(s.dataDir, "control.db"), `DELETE FROM audit_events WHERE seq > ${kept + 1}`);
    writeFileSync(file, older);
    const v = (await s.request("GET", "/v1/audit/verify")).body as Verify;
    assert.equal(v.ok, false);
    assert.equal(v.reason, "TRUNCATED");
  });
});
