import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { MIGRATIONS } from "../../src/app.ts";
import { newId } from "../../src/lib/ids.ts";
import { openSqliteStorage } from "../../src/platform/storage/sqlite.ts";
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
