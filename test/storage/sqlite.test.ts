import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { MIGRATIONS } from "../../src/app.ts";
import { newId } from "../../src/lib/ids.ts";
import { LOGGED_FLUSH_MS, openSqliteDatabase, openSqliteStorage } from "../../src/platform/storage/sqlite.ts";
import { createTelemetry } from "../../src/platform/telemetry.ts";
import { addTenants, runStorageConformance, withConformanceTables } from "./conformance.ts";
import { runStoreConformance } from "./stores.ts";

async function openFresh() {
  const dir = mkdtempSync(join(tmpdir(), "hypha-store-"));
  const storage = openSqliteStorage(dir, withConformanceTables(MIGRATIONS));
  await storage.init();
  const tenantIds: [string, string] = [newId("tenant"), newId("tenant")];
  await addTenants(storage, tenantIds);
  return {
    storage,
    tenantIds,
    async cleanup() {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("storage port conformance: embedded SQLite", () => {
  runStorageConformance("sqlite", openFresh);
  runStoreConformance("sqlite", openFresh);
});

describe("embedded SQLite: group commit", () => {
  test("transactions that queue behind one another share a commit; a lone one commits at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-group-"));
    const commits: number[] = [];
    let stages = 0;
    const telemetry = createTelemetry((stage) => {
      if (stage === "db.commit") stages++;
    });
    const db = openSqliteDatabase(join(dir, "g.db"), telemetry);
    try {
      await db.run("CREATE TABLE g (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
      await db.transaction((tx) => tx.run("INSERT INTO g (v) VALUES ('alone')"));
      commits.push(stages);
      // The first holds the write lock across a turn of the event loop; the 30 that arrive meanwhile
      // wait together and then commit once.
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const first = db.transaction(async (tx) => {
        await tx.run("INSERT INTO g (v) VALUES ('first')");
        await gate;
      });
      const rest = Array.from({ length: 30 }, (_, i) =>
        db.transaction((tx) => tx.run("INSERT INTO g (v) VALUES (?)", [`queued${i}`])),
      );
      await new Promise((r) => setImmediate(r));
      release();
      await Promise.all([first, ...rest]);
      commits.push(stages);
      assert.equal(commits[0], 1, "a transaction with nobody waiting commits on its own");
      assert.ok((commits[1] ?? 0) - 1 <= 2, `31 transactions took ${(commits[1] ?? 0) - 1} commits`);
      assert.equal((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM g"))?.n, 32);
    } finally {
      (db as unknown as { close(): void }).close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("embedded SQLite: durable acknowledgement", () => {
  test("a write is answered only after its log is flushed to disk, off the event loop; a group shares one flush", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-flush-"));
    const events: string[] = [];
    const telemetry = createTelemetry((stage) => {
      if (stage === "db.commit" || stage === "db.flush") events.push(stage);
    });
    const db = openSqliteDatabase(join(dir, "f.db"), telemetry);
    try {
      await db.run("CREATE TABLE f (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
      events.length = 0;
      await db.transaction((tx) => tx.run("INSERT INTO f (v) VALUES ('one')"));
      assert.deepEqual(events, ["db.commit", "db.flush"], "the commit, then its flush, then the answer");
      // The flush runs on the thread pool, so the event loop turns before the write is answered: a
      // callback queued now runs first (with the flush on the serving thread, or none, the answer
      // would come in the same turn).
      events.length = 0;
      let turned = false;
      setImmediate(() => {
        turned = true;
      });
      const write = db.transaction((tx) => tx.run("INSERT INTO f (v) VALUES ('two')"));
      // Thirty more queue behind it and commit together.
      const rest = Array.from({ length: 30 }, (_, i) =>
        db.transaction((tx) => tx.run("INSERT INTO f (v) VALUES (?)", [`q${i}`])),
      );
      await write;
      assert.equal(turned, true, "the loop turned while the log was flushed");
      await Promise.all(rest);
      assert.ok(events.filter((e) => e === "db.flush").length <= 2, events.join(", "));
      assert.equal(events.at(-1), "db.flush", "every answer came after a flush");
      // A write outside a transaction is flushed too; a statement that changes nothing is not.
      events.length = 0;
      await db.run("UPDATE f SET v = 'x' WHERE id = 1");
      await db.run("UPDATE f SET v = 'x' WHERE id = -1");
      assert.deepEqual(events, ["db.flush"]);
      assert.equal((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM f"))?.n, 32);
    } finally {
      await (db as unknown as { close(): Promise<void> }).close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("embedded SQLite: a transaction that asks only to be logged", () => {
  test("is answered at its commit; its flush comes within LOGGED_FLUSH_MS, one for every such commit meanwhile, or with the next write's; others in its group still wait for the flush", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-logged-"));
    const events: string[] = [];
    const telemetry = createTelemetry((stage) => {
      if (stage === "db.commit" || stage === "db.flush") events.push(stage);
    });
    const db = openSqliteDatabase(join(dir, "l.db"), telemetry);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const logRead = () =>
      db.transaction((tx) => tx.run("INSERT INTO l (v) VALUES ('read event')"), { durability: "logged" });
    try {
      await db.run("CREATE TABLE l (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
      events.length = 0;
      const t0 = performance.now();
      await logRead();
      assert.deepEqual(events, ["db.commit"], "answered once committed, before any flush");
      assert.equal((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM l"))?.n, 1, "visible at once");
      for (let i = 0; i < 9; i++) await logRead();
      await db.settled();
      assert.equal(events.filter((e) => e === "db.flush").length, 0, "ten read events, no flush yet");
      while (!events.includes("db.flush") && performance.now() - t0 < 5_000) await sleep(10);
      assert.ok(performance.now() - t0 >= LOGGED_FLUSH_MS - 5, "not flushed before its window");
      await sleep(LOGGED_FLUSH_MS * 2);
      assert.deepEqual(
        events.filter((e) => e === "db.flush"),
        ["db.flush"],
        "one flush for the ten commits, without another write",
      );

      // A write's own flush covers the logged commits before it: no second flush follows.
      events.length = 0;
      await logRead();
      await db.transaction((tx) => tx.run("INSERT INTO l (v) VALUES ('write')"));
      await sleep(LOGGED_FLUSH_MS * 2);
      assert.deepEqual(events, ["db.commit", "db.commit", "db.flush"]);

      // In one group: the logged one is answered at the commit, the default one after the flush.
      events.length = 0;
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const first = db.transaction(async (tx) => {
        await tx.run("INSERT INTO l (v) VALUES ('first')");
        await gate;
      });
      const heard: string[] = [];
      const logged = db
        .transaction((tx) => tx.run("INSERT INTO l (v) VALUES ('logged')"), { durability: "logged" })
        .then(() => heard.push(`logged after ${events.join(" ") || "nothing"}`));
      const flushed = db
        .transaction((tx) => tx.run("INSERT INTO l (v) VALUES ('flushed')"))
        .then(() => heard.push(`flushed after ${events.join(" ") || "nothing"}`));
      await new Promise((r) => setImmediate(r));
      release();
      await Promise.all([first, logged, flushed]);
      assert.deepEqual(heard, ["logged after db.commit", "flushed after db.commit db.flush"]);
      assert.equal((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM l"))?.n, 15);
    } finally {
      await (db as unknown as { close(): Promise<void> }).close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("closing the database flushes a logged commit still waiting for its flush", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-logged-close-"));
    const events: string[] = [];
    const telemetry = createTelemetry((stage) => {
      if (stage === "db.flush") events.push(stage);
    });
    const db = openSqliteDatabase(join(dir, "l.db"), telemetry);
    try {
      await db.run("CREATE TABLE l (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
      events.length = 0;
      await db.transaction((tx) => tx.run("INSERT INTO l (v) VALUES ('read event')"), {
        durability: "logged",
      });
      assert.deepEqual(events, []);
      await (db as unknown as { close(): Promise<void> }).close();
      assert.deepEqual(events, ["db.flush"], "flushed at close, not left to the timer");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("embedded SQLite: group commit has a time limit", () => {
  test("a group that has run past its time takes no more transactions: a later one commits in the next group", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-group-"));
    let commits = 0;
    const telemetry = createTelemetry((stage) => {
      if (stage === "db.commit") commits++;
    });
    const db = openSqliteDatabase(join(dir, "g.db"), telemetry);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      await db.run("CREATE TABLE g (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
      // A heavy transaction holds its group for 80 ms; one arriving 50 ms in would otherwise join
      // it and wait for all of it.
      const heavy = db.transaction(async (tx) => {
        await tx.run("INSERT INTO g (v) VALUES ('heavy')");
        await sleep(80);
      });
      await sleep(50);
      const late = db.transaction((tx) => tx.run("INSERT INTO g (v) VALUES ('late')"));
      await Promise.all([heavy, late]);
      assert.equal(commits, 2, "the late transaction started a group of its own");
      assert.equal((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM g"))?.n, 2);
    } finally {
      await (db as unknown as { close(): Promise<void> }).close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("embedded SQLite: checkpoints on their own thread", () => {
  const walBytes = (path: string) => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

  test("the serving connection never checkpoints; the checkpoint thread copies the log into the file, and compact empties it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-ckpt-"));
    const storage = openSqliteStorage(dir, withConformanceTables(MIGRATIONS));
    try {
      await storage.init();
      const tenantId = newId("tenant");
      const db = await storage.tenant(tenantId);
      const path = join(dir, "vaults", tenantId, "vault.db");
      assert.equal(
        (await db.get<{ wal_autocheckpoint: number }>("PRAGMA wal_autocheckpoint"))?.wal_autocheckpoint,
        0,
      );
      await db.run("CREATE TABLE ck (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
      const before = statSync(path).size;
      // About 2,000 pages through the log, more than SQLite's own threshold for a checkpoint.
      for (let i = 0; i < 40; i++)
        await db.transaction(async (tx) => {
          for (let j = 0; j < 50; j++) await tx.run("INSERT INTO ck (v) VALUES (?)", [Buffer.alloc(3000, i)]);
        });
      // Only another connection can have copied the pages into the database file.
      const deadline = Date.now() + 20_000;
      while (statSync(path).size <= before + 4_000_000 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      assert.ok(statSync(path).size > before + 4_000_000, "the log was checkpointed into the database file");
      assert.ok(walBytes(path) > 0);
      await db.compact();
      assert.equal(walBytes(path), 0, "compact truncates the log");
      assert.equal((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM ck"))?.n, 2000);
      // A dropped tenant's file is not created again by a checkpoint that was due.
      await db.run("INSERT INTO ck (v) VALUES (x'00')");
      await storage.dropTenant(tenantId);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(existsSync(join(dir, "vaults", tenantId)), false);
      await storage.close();
      // Closed: the checkpoint thread let go first, so the serving connection was the last one and
      // SQLite checkpointed and removed the control database's log.
      assert.equal(existsSync(join(dir, "control.db-wal")), false);
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("embedded SQLite: dropping a vault under a transaction", () => {
  test("a transaction between two statements when its vault is dropped is answered, and the vault is removed after it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-drop-"));
    const storage = openSqliteStorage(dir, withConformanceTables(MIGRATIONS));
    try {
      await storage.init();
      const tenantId = newId("tenant");
      const db = await storage.tenant(tenantId);
      await db.run("CREATE TABLE d (id INTEGER PRIMARY KEY)");
      let release: () => void = () => undefined;
      const paused = new Promise<void>((r) => {
        release = r;
      });
      const tx = db.transaction(async (t) => {
        await t.run("INSERT INTO d (id) VALUES (1)");
        // Another request's turn of the event loop, as a large batch takes between its slices.
        await paused;
        await t.run("INSERT INTO d (id) VALUES (2)");
        return "done";
      });
      await new Promise((r) => setImmediate(r));
      const dropped = storage.dropTenant(tenantId);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(existsSync(join(dir, "vaults", tenantId)), "the vault stays while the transaction runs");
      release();
      assert.equal(await tx, "done");
      await dropped;
      assert.equal(existsSync(join(dir, "vaults", tenantId)), false);
      // A transaction that arrives after the drop is refused, never left waiting.
      await assert.rejects(db.transaction((t) => t.run("INSERT INTO d (id) VALUES (3)")));
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
