import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { loadMasterKeyring, unwrapTenantKey } from "../src/lib/crypto/index.ts";
import { newId } from "../src/lib/ids.ts";
import { fromMarkdown } from "../src/modules/vault/markdown.ts";
import type { Actor } from "../src/platform/auth/actor.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { TEST_DATABASE_URL } from "./pg.ts";

/** Cases that open the SQLite files themselves; their PostgreSQL counterparts are in postgres-at-rest.test.ts. */
const sqliteFiles = { skip: TEST_DATABASE_URL ? "reads the SQLite files directly" : false };

type Memory = {
  id: string;
  content: string;
  tags: string[];
  metadata: Record<string, unknown>;
  version: number;
};
type Recall = { results: { memory: Memory }[] };

const operator = (): Actor => ({
  type: "instance_admin",
  id: "instance_admin",
  tenantId: null,
  origin: { requestId: newId("request"), ip: "cli", userAgent: "test" },
});

function filesOf(dir: string): Buffer[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => readFileSync(join(d.parentPath, d.name)));
}

describe("encryption at rest", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  async function tenant(body: Record<string, unknown> = {}) {
    const res = await s.request("POST", "/v1/tenants", {
      body: { name: `e${Math.random()}`.replace(".", ""), ...body },
    });
    assert.equal(res.status, 201, res.text);
    const t = res.body as { id: string; encryption: string; storage: string };
    const { key } = await s.createKey(t.id);
    return { ...t, key };
  }

  test("tenants are encrypted by default; markdown storage needs encryption none", async () => {
    const t = await tenant();
    assert.equal(t.encryption, "aes-gcm");
    assert.equal(t.storage, "sqlite");
    const md = await tenant({ storage: "markdown" });
    assert.equal(md.encryption, "none");
    const bad = await s.request("POST", "/v1/tenants", {
      body: { name: "mdenc", storage: "markdown", encryption: "aes-gcm" },
    });
    assert.equal(bad.status, 422);
  });

  test(
    "the SQLite files of an encrypted tenant hold none of the stored plaintext: content, history, metadata, tags, entities",
    sqliteFiles,
    async () => {
      const words = [
        "zymurgical",
        "quokkaphile",
        "marmaladeous",
        "tessellatrix",
        "obfuscandum",
        "prestidigit",
      ];
      const [w0, w1, w2, w3, w4, w5] = words;
      const t = await tenant();
      const m = await s.storeMemory(t.key, {
        content: `The ${w0} plan is approved`,
        tags: [w1],
        entities: [w2],
        metadata: { project: w3, level: 7 },
      });
      await s.request("PATCH", `/v1/memories/${m.id}`, {
        key: t.key,
        body: { content: `The ${w4} plan replaced it` },
      });
      await s.storeMemory(t.key, { content: `A note about ${w5}`, metadata: { owner: w5 } });
      // Everything still reads back and is searchable.
      const r = (await s.request("POST", "/v1/memories/recall", { key: t.key, body: { query: w4 } }))
        .body as Recall;
      assert.equal(r.results[0]?.memory.id, m.id);
      assert.equal(r.results[0]?.memory.tags[0], w1);
      await s.hypha.services.trail.flush();
      const files = [
        ...filesOf(join(s.dataDir, "vaults", t.id)),
        readFileSync(join(s.dataDir, "control.db")),
      ];
      for (const bytes of files) {
        for (const w of words) assert.equal(bytes.includes(w), false, `${w} found in a file`);
      }
      // The same data in a plaintext tenant is found by the same scan (the scan can fail).
      const plain = await tenant({ encryption: "none" });
      await s.storeMemory(plain.key, { content: `The ${w0} plan`, tags: [w1] });
      const plainFiles = filesOf(join(s.dataDir, "vaults", plain.id));
      assert.ok(plainFiles.some((b) => b.includes(w0 ?? "")));
    },
  );

  test("search on an encrypted tenant: stemming, BM25 order, tag, entity and metadata filters match a plaintext tenant", async () => {
    const enc = await tenant();
    const plain = await tenant({ encryption: "none" });
    const docs = [
      { content: "Bob deployed the billing service on Friday", tags: ["ops"], metadata: { team: "core" } },
      {
        content: "Deployments of billing need two approvals",
        entities: ["finance"],
        metadata: { team: "pay" },
      },
      { content: "billing billing billing incident review", metadata: { team: "core", sev: 2 } },
      { content: "The cafeteria serves soup", tags: ["life"] },
    ];
    const ids: Record<string, string[]> = { enc: [], plain: [] };
    for (const d of docs) {
      ids.enc?.push((await s.storeMemory(enc.key, d)).id);
      ids.plain?.push((await s.storeMemory(plain.key, d)).id);
    }
    const order = async (key: string, body: Record<string, unknown>, which: "enc" | "plain") => {
      const res = (await s.request("POST", "/v1/memories/recall", { key, body })).body as Recall;
      return res.results.map((x) => ids[which]?.indexOf(x.memory.id));
    };
    for (const body of [
      { query: "billing deployed" },
      { query: "approvals" },
      { query: "billing", tags: ["ops"] },
      { query: "billing", entities: ["finance"] },
      { query: "billing", metadata: { team: "core" } },
      { query: "billing", metadata: { sev: 2 } },
    ]) {
      assert.deepEqual(
        await order(enc.key, body, "enc"),
        await order(plain.key, body, "plain"),
        JSON.stringify(body),
      );
    }
    assert.ok((await order(enc.key, { query: "deploying" }, "enc")).includes(0), "stemmed in JS");
    // What a blind index gives up: prefixes do not match.
    assert.deepEqual(await order(enc.key, { query: "deplo" }, "enc"), []);
    const byTag = (await s.request("GET", "/v1/memories?tag=life", { key: enc.key })).body as {
      items: Memory[];
    };
    assert.equal(byTag.items.length, 1);
    const del = await s.request("DELETE", "/v1/memories", { key: enc.key, body: { entity: "finance" } });
    assert.deepEqual(del.body, { deleted: 1 });
  });

  test(
    "a ciphertext swapped into another row, version or tenant fails to decrypt (500) and leaks nothing",
    sqliteFiles,
    async () => {
      const t = await tenant();
      const a = await s.storeMemory(t.key, { content: "alpha secret payload" });
      const b = await s.storeMemory(t.key, { content: "bravo" });
      const other = await tenant();
      const c = await s.storeMemory(other.key, { content: "charlie" });
      const vault = (id: string) => join(s.dataDir, "vaults", id, "vault.db");
      const stolen = (() => {
        const db = new DatabaseSync(vault(t.id));
        const row = db.prepare("SELECT content FROM memories WHERE id = ?").get(a.id) as { content: string };
        db.prepare("UPDATE memories SET content = ? WHERE id = ?").run(row.content, b.id);
        db.close();
        return row.content;
      })();
      assert.match(stolen, /^v1\.1\./, "stored as a versioned ciphertext");
      const res = await s.request("GET", `/v1/memories/${b.id}`, { key: t.key });
      assert.equal(res.status, 500);
      assert.equal(errorCode(res), "INTERNAL");
      assert.ok(!res.text.includes("alpha"));
      const db2 = new DatabaseSync(vault(other.id));
      db2.prepare("UPDATE memories SET content = ? WHERE id = ?").run(stolen, c.id);
      db2.close();
      const cross = await s.request("GET", `/v1/memories/${c.id}`, { key: other.key });
      assert.equal(cross.status, 500);
      assert.ok(!cross.text.includes("alpha"));
      // Rows left alone still read.
      assert.equal(
        ((await s.request("GET", `/v1/memories/${a.id}`, { key: t.key })).body as Memory).content,
        "alpha secret payload",
      );
    },
  );

  test("rotate-master re-wraps every tenant key while reads go on; old versions can be retired", async () => {
    const t = await tenant();
    const m = await s.storeMemory(t.key, { content: "survives rotation" });
    const report = await s.hypha.services.rotateMaster(operator(), { retire: false });
    assert.equal(report.active_version, 2);
    assert.ok(report.rewrapped >= 2);
    assert.equal(report.failed.length, 0);
    // Cached keys keep serving; a cold cache unwraps under the new version.
    assert.equal((await s.request("GET", `/v1/memories/${m.id}`, { key: t.key })).status, 200);
    s.hypha.services.tenantKeys.forget(t.id);
    assert.equal(
      ((await s.request("GET", `/v1/memories/${m.id}`, { key: t.key })).body as Memory).content,
      "survives rotation",
    );
    const retired = await s.hypha.services.rotateMaster(operator(), { retire: true });
    assert.deepEqual(retired.retired_versions, [1, 2]);
    const versions = s.hypha.storage.control.all<{ v: number }>(
      "SELECT DISTINCT master_version AS v FROM tenant_keys",
    );
    assert.deepEqual(
      (await versions).map((r) => r.v),
      [3],
    );
    s.hypha.services.tenantKeys.forget(t.id);
    assert.equal((await s.request("GET", `/v1/memories/${m.id}`, { key: t.key })).status, 200);
    const events = (await s.request("GET", "/v1/audit/events?action=keys.master_rotated")).body as {
      items: unknown[];
    };
    assert.equal(events.items.length, 2);
  });

  test(
    "deleting a tenant crypto-shreds it: key, vault and credentials gone; a backup of its files cannot be decrypted",
    sqliteFiles,
    async () => {
      const t = await tenant();
      await s.storeMemory(t.key, { content: "shred this record" });
      const backup = mkdtempSync(join(tmpdir(), "hypha-backup-"));
      const vault = (await s.hypha.storage.tenant(t.id)) as unknown as { compact(): Promise<void> };
      await vault.compact();
      copyFileSync(join(s.dataDir, "vaults", t.id, "vault.db"), join(backup, "vault.db"));
      const res = await s.request("DELETE", `/v1/tenants/${t.id}`);
      assert.equal(res.status, 200);
      assert.equal(existsSync(join(s.dataDir, "vaults", t.id)), false);
      assert.equal(
        (await s.hypha.storage.control.all("SELECT 1 FROM tenant_keys WHERE tenant_id = ?", [t.id])).length,
        0,
      );
      assert.equal((await s.request("GET", "/v1/memories", { key: t.key })).status, 401);
      assert.equal((await s.request("GET", `/v1/tenants/${t.id}`)).status, 404);
      assert.equal((await s.request("DELETE", `/v1/tenants/${t.id}`)).status, 404);
      // The backup holds only ciphertext, and no key for it exists any more.
      const bytes = readFileSync(join(backup, "vault.db"));
      assert.equal(bytes.includes("shred this record"), false);
      await assert.rejects(s.hypha.services.tenantKeys.cipher(t.id), /not found/);
      const deleted = (await s.request("GET", "/v1/audit/events?action=tenant.deleted")).body as {
        items: { target_ids: string[] }[];
      };
      assert.ok(deleted.items.some((e) => e.target_ids.includes(t.id)));
      rmSync(backup, { recursive: true, force: true });
    },
  );

  test(
    "a control.db backup from before the deletion stops unwrapping once the master key is rotated and retired",
    sqliteFiles,
    async () => {
      const t = await tenant();
      await s.hypha.storage.control.compact();
      copyFileSync(join(s.dataDir, "control.db"), join(s.dataDir, "control.backup.db"));
      await s.request("DELETE", `/v1/tenants/${t.id}`);
      const old = new DatabaseSync(join(s.dataDir, "control.backup.db"));
      const rec = old
        .prepare("SELECT master_version, wrapped FROM tenant_keys WHERE tenant_id = ?")
        .get(t.id) as {
        master_version: number;
        wrapped: string;
      };
      old.close();
      const record = { tenantId: t.id, masterVersion: rec.master_version, wrapped: rec.wrapped };
      const ring = () => {
        const r = loadMasterKeyring({ dataDir: s.dataDir, env: {}, allowGenerate: false });
        assert.ok(r.ok);
        return r.ring;
      };
      assert.equal(unwrapTenantKey(ring(), record).ok, true, "before rotation the backup still unwraps");
      await s.hypha.services.rotateMaster(operator(), { retire: true });
      const after = unwrapTenantKey(ring(), record);
      assert.equal(after.ok, false);
    },
  );

  test("a wrong or missing master key stops the start over existing data", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "hypha-mk-"));
    const cfg = (extra: Record<string, unknown> = {}) =>
      loadConfig({}, { dataDir, adminKey: s.adminKey, logLevel: "silent", ...extra });
    const first = await createApp({ config: cfg() });
    await first.services.tenants.create(operator(), { name: "mk" });
    await first.close();
    const wrong = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)).toString("base64");
    await assert.rejects(createApp({ config: cfg({ masterKey: wrong }) }), /does not unwrap/);
    await assert.rejects(createApp({ config: cfg({ masterKey: "aaaa" }) }), /WEAK|MALFORMED/);
    rmSync(join(dataDir, "secrets", "master.key"));
    await assert.rejects(createApp({ config: cfg() }), /MISSING/);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("markdown tenants keep every current memory as a markdown file in step with writes and deletes", async () => {
    const t = await tenant({ storage: "markdown" });
    const dir = join(s.dataDir, "vaults", t.id, "memories");
    const m = await s.storeMemory(t.key, {
      content: "first text\nwith two lines",
      tags: ["a"],
      metadata: { k: 1 },
    });
    await s.request("PATCH", `/v1/memories/${m.id}`, { key: t.key, body: { content: "second text" } });
    const parsed = fromMarkdown(readFileSync(join(dir, `${m.id}.md`), "utf8"));
    assert.ok(parsed.ok);
    const got = (await s.request("GET", `/v1/memories/${m.id}`, { key: t.key })).body as Memory;
    assert.deepEqual(parsed.memory, got);
    const gone = await s.storeMemory(t.key, { content: "to delete", entities: ["x"] });
    assert.ok(existsSync(join(dir, `${gone.id}.md`)));
    await s.request("DELETE", "/v1/memories", { key: t.key, body: { entity: "x" } });
    assert.equal(existsSync(join(dir, `${gone.id}.md`)), false);
    assert.deepEqual(readdirSync(dir), [`${m.id}.md`]);
  });

  test("a markdown tenant's files follow its commits in order, and a deleted tenant's pending files never outlive its folder", async () => {
    const t = await tenant({ storage: "markdown" });
    const dir = join(s.dataDir, "vaults", t.id, "memories");
    // The folder is made with the tenant (on PostgreSQL there is no vault file to make it first).
    assert.deepEqual(readdirSync(dir), []);
    const m = await s.storeMemory(t.key, { content: "version one" });
    // Updates sent together commit one after another; the file holds the last committed version.
    const updates = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        s.request("PATCH", `/v1/memories/${m.id}`, { key: t.key, body: { content: `version ${i + 2}` } }),
      ),
    );
    for (const u of updates) assert.equal(u.status, 200);
    const got = (await s.request("GET", `/v1/memories/${m.id}`, { key: t.key })).body as Memory;
    assert.equal(got.version, 13);
    const parsed = fromMarkdown(readFileSync(join(dir, `${m.id}.md`), "utf8"));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.memory, got);
    // A tenant deleted while a batch's files are being written: none of them outlives its folder.
    const batch = s.request("POST", "/v1/memories", {
      key: t.key,
      body: {
        memories: Array.from({ length: 40 }, (_, i) => ({
          namespace: "default",
          content: `batch memory ${i}`,
        })),
      },
    });
    await new Promise((r) => setTimeout(r, 5));
    const [stored, deleted] = await Promise.all([batch, s.request("DELETE", `/v1/tenants/${t.id}`, {})]);
    assert.equal(deleted.status, 200);
    assert.ok(stored.status < 500, `the batch answered ${stored.status}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(existsSync(join(s.dataDir, "vaults", t.id)), false);
  });

  test("vault export writes the markdown layout for an encrypted tenant and import reads it back unchanged", async () => {
    const src = await tenant();
    await s.storeMemory(src.key, {
      content: "exported one",
      tags: ["t1"],
      metadata: { a: "b" },
      importance: 0.9,
    });
    await s.storeMemory(src.key, { content: "exported two\n---\nnot front matter", entities: ["e"] });
    const out1 = mkdtempSync(join(tmpdir(), "hypha-md-"));
    const out2 = mkdtempSync(join(tmpdir(), "hypha-md-"));
    const files = s.hypha.services.vaultFiles;
    assert.equal((await files.exportTo(operator(), src.id, out1)).exported, 2);
    const dst = await tenant();
    const imported = await files.importFrom(operator(), dst.id, out1);
    assert.deepEqual(imported, { imported: 2, skipped: 0, errors: [] });
    await files.exportTo(operator(), dst.id, out2);
    const names = readdirSync(out1).sort();
    assert.deepEqual(readdirSync(out2).sort(), names);
    for (const n of names)
      assert.equal(readFileSync(join(out2, n), "utf8"), readFileSync(join(out1, n), "utf8"));
    const r = (await s.request("POST", "/v1/memories/recall", { key: dst.key, body: { query: "exported" } }))
      .body as Recall;
    assert.equal(r.results.length, 2, "imported memories are indexed");
    assert.deepEqual(await files.importFrom(operator(), dst.id, out1), {
      imported: 0,
      skipped: 2,
      errors: [],
    });
    rmSync(out1, { recursive: true, force: true });
    rmSync(out2, { recursive: true, force: true });
  });
});
