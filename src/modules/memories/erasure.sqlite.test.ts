import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { SqlExecutor, SqlValue } from "../../platform/storage/port.ts";
import { migrate, openSqliteDatabase } from "../../platform/storage/sqlite.ts";
import { memoriesMigrations } from "./memories.migrations.ts";
import { memoriesStore, type NewRow, type Visibility } from "./memories.store.ts";
import { memoryRow } from "./memory-row.fixture.ts";

const SECRET = "zanthoxylumerased";

const row = (i: number, content: string, entity: string): NewRow =>
  memoryRow(i, content, { entities: JSON.stringify([entity]), created_at: i, updated_at: i });

/**
 * A vault of `size` memories, five of which (spread from the oldest rows to the newest) name the
 * entity `erase-me`. Returns the pages the erasure of those five writes before its checkpoint.
 */
async function eraseFive(size: number): Promise<{ frames: number; leftovers: string[]; scans: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "hypha-erasure-"));
  const db = openSqliteDatabase(join(dir, "vault.db"));
  try {
    await migrate(db, memoriesMigrations.tenant);
    const targets = new Set([0, 1, 2, 3, 4].map((k) => Math.floor((k * (size - 1)) / 4)));
    for (let from = 0; from < size; from += 1000) {
      await db.transaction(async (tx) => {
        for (let i = from; i < Math.min(size, from + 1000); i++) {
          await memoriesStore.insert(
            tx,
            targets.has(i)
              ? row(i, `Erin's ${SECRET} prescription, refill ${i}`, "erase-me")
              : row(
                  i,
                  `note ${i} about the weekly sync and lunch with person ${i % 500}`,
                  `person-${i % 500}`,
                ),
          );
        }
      });
    }
    await db.compact();
    const vis: Visibility = {
      tenantId: "t",
      now: size,
      namespaces: null,
      principal: null,
      mode: "write",
      grants: [],
    };
    const statements = new Map<string, readonly SqlValue[]>();
    const erased = await db.transaction(async (tx) => {
      const noted = (sql: string, params: readonly SqlValue[] = []) => {
        statements.set(sql, params);
        return params;
      };
      const seen: SqlExecutor = {
        dialect: tx.dialect,
        all: (sql, params) => tx.all(sql, noted(sql, params)),
        get: (sql, params) => tx.get(sql, noted(sql, params)),
        run: (sql, params) => tx.run(sql, noted(sql, params)),
      };
      const ids = (await memoriesStore.idsForDelete(seen, vis, { entity: "erase-me" })).map((r) => r.id);
      return memoriesStore.hardDelete(seen, "t", ids);
    });
    assert.equal(erased, 5);
    // A WAL file: a 32-byte header (the page size at byte 8), then frames of a 24-byte header and a page.
    const log = readFileSync(join(dir, "vault.db-wal"));
    const frames = Math.round((log.length - 32) / (24 + log.readUInt32BE(8)));
    await db.compact();
    const leftovers = readdirSync(dir).filter((f) => readFileSync(join(dir, f)).includes(SECRET));
    // Every statement of the erasure (foreign-key cascades included) looks rows up through an index:
    // a plan step that scans a table reads the whole vault.
    const scans: string[] = [];
    for (const [sql, params] of statements) {
      for (const step of await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params)) {
        if (/^SCAN /.test(step.detail) && !step.detail.includes("VIRTUAL TABLE"))
          scans.push(`${step.detail}: ${sql}`);
      }
    }
    assert.ok(statements.size >= 5, "the erasure's statements were seen");
    return { frames, leftovers, scans };
  } finally {
    (db as unknown as { close(): void }).close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a GDPR erasure by entity scans no table and writes about as many pages in a vault of 10k memories as in one of 1k, and leaves the erased word in no file", async () => {
  const small = await eraseFive(1_000);
  const large = await eraseFive(10_000);
  assert.deepEqual(small.leftovers, []);
  assert.deepEqual(large.leftovers, []);
  assert.deepEqual(large.scans, []);
  // The pages an erasure dirties (and its checkpoint copies and syncs) are those of the rows,
  // labels, index entries and vocabulary of the memories erased; a deeper B-tree adds a few.
  assert.ok(
    large.frames <= small.frames * 1.5,
    `pages written: ${small.frames} at 1k memories, ${large.frames} at 10k`,
  );
});
