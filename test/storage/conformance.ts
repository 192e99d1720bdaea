import assert from "node:assert/strict";
import { test } from "node:test";
import type { Database, Storage } from "../../src/platform/storage/port.ts";

/**
 * The storage port's contract. Every adapter (the embedded SQLite one today, PostgreSQL next) runs
 * this same suite: `runStorageConformance("sqlite", open)`.
 */
export function runStorageConformance(
  name: string,
  open: () => Promise<{ storage: Storage; tenantIds: [string, string]; cleanup(): Promise<void> }>,
) {
  const withStorage = (title: string, fn: (s: Storage, tenants: [string, string]) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const { storage, tenantIds, cleanup } = await open();
      try {
        await fn(storage, tenantIds);
      } finally {
        await cleanup();
      }
    });

  const scratch = async (db: Database) => {
    await db.run("CREATE TABLE IF NOT EXISTS conformance (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    await db.run("DELETE FROM conformance");
  };

  withStorage("a transaction commits when its function resolves", async (s, [t]) => {
    const db = await s.tenant(t);
    await scratch(db);
    await db.transaction(async (tx) => {
      await tx.run("INSERT INTO conformance (v) VALUES (?)", ["a"]);
      await tx.run("INSERT INTO conformance (v) VALUES (?)", ["b"]);
    });
    assert.deepEqual(
      (await db.all<{ v: string }>("SELECT v FROM conformance ORDER BY id")).map((r) => r.v),
      ["a", "b"],
    );
  });

  withStorage("a transaction rolls back everything when its function throws", async (s, [t]) => {
    const db = await s.tenant(t);
    await scratch(db);
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.run("INSERT INTO conformance (v) VALUES (?)", ["a"]);
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal((await db.all("SELECT * FROM conformance")).length, 0);
  });

  withStorage("concurrent transactions do not interleave (no lost updates)", async (s, [t]) => {
    const db = await s.tenant(t);
    await scratch(db);
    await db.run("INSERT INTO conformance (id, v) VALUES (1, '0')");
    await Promise.all(
      Array.from({ length: 50 }, () =>
        db.transaction(async (tx) => {
          const row = await tx.get<{ v: string }>("SELECT v FROM conformance WHERE id = 1");
          await new Promise((r) => setImmediate(r));
          await tx.run("UPDATE conformance SET v = ? WHERE id = 1", [String(Number(row?.v) + 1)]);
        }),
      ),
    );
    assert.equal((await db.get<{ v: string }>("SELECT v FROM conformance WHERE id = 1"))?.v, "50");
  });

  withStorage("a statement outside a transaction never sees another's uncommitted writes", async (s, [t]) => {
    const db = await s.tenant(t);
    await scratch(db);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const pending = db.transaction(async (tx) => {
      await tx.run("INSERT INTO conformance (v) VALUES ('uncommitted')");
      await gate;
      throw new Error("rolled back");
    });
    const read = db.all("SELECT * FROM conformance");
    release();
    await assert.rejects(pending);
    assert.equal((await read).length, 0);
  });

  withStorage("values round-trip: text, integers, reals, null, bytes, booleans as 0/1", async (s, [t]) => {
    const db = await s.tenant(t);
    await db.run("CREATE TABLE IF NOT EXISTS kinds (a TEXT, b INTEGER, c REAL, d TEXT, e BLOB, f INTEGER)");
    await db.run("INSERT INTO kinds VALUES (?, ?, ?, ?, ?, ?)", [
      "x",
      42,
      0.5,
      null,
      new Uint8Array([1, 2, 3]),
      true,
    ]);
    const row = await db.get<{ a: string; b: number; c: number; d: null; e: Uint8Array; f: number }>(
      "SELECT * FROM kinds",
    );
    assert.equal(row?.a, "x");
    assert.equal(Number(row?.b), 42);
    assert.equal(row?.c, 0.5);
    assert.equal(row?.d, null);
    assert.deepEqual([...(row?.e ?? [])], [1, 2, 3]);
    assert.equal(Number(row?.f), 1);
  });

  withStorage("tenant databases are separate: one tenant's rows are not in another's", async (s, [a, b]) => {
    const da = await s.tenant(a);
    const dbb = await s.tenant(b);
    await scratch(da);
    await scratch(dbb);
    await da.run("INSERT INTO conformance (v) VALUES ('only-a')");
    assert.equal((await dbb.all("SELECT * FROM conformance WHERE v = 'only-a'")).length, 0);
  });

  withStorage("every migration is applied once and readiness reports it", async (s, [t]) => {
    assert.equal(await s.ready(), true);
    const db = await s.tenant(t);
    const ids = (await db.all<{ id: string }>("SELECT id FROM schema_migrations")).map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.includes("memories.001"));
  });

  withStorage("dropping a tenant removes its data", async (s, [t]) => {
    const db = await s.tenant(t);
    await scratch(db);
    await db.run("INSERT INTO conformance (v) VALUES ('gone')");
    await s.dropTenant(t);
    const fresh = await s.tenant(t);
    assert.equal((await fresh.all("SELECT name FROM sqlite_master WHERE name = 'conformance'")).length, 0);
  });
}
