import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { MIGRATIONS } from "../../src/app.ts";
import { newId } from "../../src/lib/ids.ts";
import { openSqliteDatabase, openSqliteStorage } from "../../src/platform/storage/sqlite.ts";
import { createTelemetry } from "../../src/platform/telemetry.ts";
import { runStorageConformance, withConformanceTables } from "./conformance.ts";
import { runStoreConformance } from "./stores.ts";

async function openFresh() {
  const dir = mkdtempSync(join(tmpdir(), "hypha-store-"));
  const storage = openSqliteStorage(dir, withConformanceTables(MIGRATIONS));
  await storage.init();
  return {
    storage,
    tenantIds: [newId("tenant"), newId("tenant")] as [string, string],
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
