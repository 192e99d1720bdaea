import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { createTenantCipher } from "../../lib/crypto/field-cipher.ts";
import type { SqlExecutor, SqlValue } from "../../platform/storage/port.ts";
import { TENANT_SCHEMA, toPositional } from "../../platform/storage/postgres.ts";
import { JSON_COMPAT } from "../../platform/storage/postgres-ddl.ts";
import { encodeVector } from "./embedder.ts";
import { memoriesMigrations } from "./memories.migrations.ts";
import { vectorColumnFor } from "./memories.service.ts";
import { type Filters, memoriesStore, type PgVector, type Visibility } from "./memories.store.ts";
import { memoryRow } from "./memory-row.fixture.ts";
import { encryptingCodec, plainCodec, type RowCodec } from "./row-codec.ts";
import { createVectorIndex } from "./vector-index.ts";

/**
 * The pgvector path of hybrid recall on PGlite (PostgreSQL in WebAssembly) with the pgvector
 * extension: the real migration texts, the real store SQL. The PostgreSQL server of the test suite
 * has no pgvector, so this is where the SQL ranking is checked against the in-process one.
 */

const DIM = 16;
const EMBEDDER = "fake:concepts:16";
const OTHER_EMBEDDER = "fake:other:16";
const NARROW_EMBEDDER = "fake:narrow:8";
const PLAIN = "tnt_plain";
const NEIGHBOUR = "tnt_neighbour";
const SEALED = "tnt_sealed";
const NOW = 1_000_000;

/** A deterministic pseudo-random vector (xorshift), components in [-1, 1). */
function randomVector(seed: number, dim = DIM): Float32Array {
  let x = seed * 2654435761 + 1;
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = ((x >>> 0) / 2 ** 32) * 2 - 1;
  }
  return v;
}

/** Migrates the tenant schema as `migratePostgres` does: search path, JSON helpers, each text in a transaction. */
async function openPglite(withExtension: boolean): Promise<PGlite> {
  const pg = withExtension ? new PGlite({ extensions: { vector } }) : new PGlite();
  await pg.exec(`CREATE SCHEMA ${TENANT_SCHEMA}; SET search_path = ${TENANT_SCHEMA};`);
  await pg.exec(JSON_COMPAT);
  for (const m of memoriesMigrations.tenant) {
    await pg.transaction(async (tx) => {
      await tx.exec(m.postgres ?? "");
    });
  }
  return pg;
}

/** The store's statements on PGlite, as the PostgreSQL adapter runs them: `?` placeholders, the tenant set per transaction. */
function tenantDb(pg: PGlite, tenantId: string) {
  const on = (q: Transaction): SqlExecutor => {
    const query = (sql: string, params: readonly SqlValue[] = []) => q.query(toPositional(sql), [...params]);
    return {
      dialect: "postgres",
      all: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
      get: async <T>(sql: string, params?: readonly SqlValue[]) =>
        (await query(sql, params)).rows[0] as T | undefined,
      run: async (sql, params) => ({ changes: (await query(sql, params)).affectedRows ?? 0 }),
    };
  };
  const tx = <T>(fn: (e: SqlExecutor) => Promise<T>): Promise<T> =>
    pg.transaction(async (t) => {
      await t.query("SELECT set_config('hypha.tenant_id', $1, true)", [tenantId]);
      return fn(on(t));
    });
  const reader: SqlExecutor = {
    dialect: "postgres",
    all: (sql, params) => tx((e) => e.all(sql, params)),
    get: (sql, params) => tx((e) => e.get(sql, params)),
    run: (sql, params) => tx((e) => e.run(sql, params)),
  };
  return { tx, reader };
}

const visibility = (tenantId: string): Visibility => ({
  tenantId,
  now: NOW,
  namespaces: null,
  principal: "a",
  mode: "read",
  grants: [],
});

/**
 * Stores memory `i` of a tenant with a vector as the embedding worker does: sealed when the codec
 * encrypts, and in the pgvector column only where `vectorColumnFor` allows it.
 */
async function storeWithVector(
  db: ReturnType<typeof tenantDb>,
  tenantId: string,
  codec: RowCodec,
  column: PgVector | null,
  i: number,
  v: Float32Array,
  extra: Parameters<typeof memoryRow>[2] = {},
  embedderId = EMBEDDER,
): Promise<number> {
  const row = memoryRow(i, `memory ${i}`, { tenant_id: tenantId, ...extra });
  return db.tx(async (tx) => {
    const seq = await memoriesStore.insert(tx, row);
    const target = vectorColumnFor(codec, column);
    await memoriesStore.setEmbedding(
      tx,
      seq,
      embedderId,
      codec.sealVector(row, encodeVector(v)),
      target ? { column: target, vector: v } : null,
    );
    return seq;
  });
}

/** The in-process path as the service runs it: the cache's hits best first, checked against their rows. */
async function inProcess(reader: SqlExecutor, v: Visibility, f: Filters, query: Float32Array, limit: number) {
  const hits = await createVectorIndex().search(reader, v.tenantId, EMBEDDER, plainCodec, query);
  const all = hits.take(Number.MAX_SAFE_INTEGER);
  const visible = new Set(
    (
      await memoriesStore.visibleVectorCandidates(
        reader,
        v,
        f,
        EMBEDDER,
        all.map((h) => h.seq),
      )
    ).map((r) => Number(r.seq)),
  );
  return all.filter((h) => visible.has(h.seq)).slice(0, limit);
}

const columnCount = async (reader: SqlExecutor, tenantId: string) =>
  (await reader.get<{ vectors: number; columns: number }>(
    `SELECT count(embedding) AS vectors, count(embedding_vector) AS columns FROM memories WHERE tenant_id = ?`,
    [tenantId],
  )) ?? { vectors: -1, columns: -1 };

describe("pgvector on PGlite with the extension", () => {
  let pg: PGlite;
  let column: PgVector;
  const plain = () => tenantDb(pg, PLAIN);
  const seqs = new Map<string, number>();

  before(async () => {
    pg = await openPglite(true);
    const found = await memoriesStore.pgvectorColumn(plain().reader);
    assert.ok(found, "the migration adds the column and the store finds it");
    column = found;
    const db = plain();
    // 300 visible memories with vectors, and one of each kind the ranking must leave out.
    for (let i = 0; i < 300; i++)
      seqs.set(`v${i}`, await storeWithVector(db, PLAIN, plainCodec, column, i, randomVector(i)));
    const near = randomVector(1_000_000);
    seqs.set("retired", await storeWithVector(db, PLAIN, plainCodec, column, 400, near));
    seqs.set("erased", await storeWithVector(db, PLAIN, plainCodec, column, 401, near));
    seqs.set(
      "expired",
      await storeWithVector(db, PLAIN, plainCodec, column, 402, near, { expires_at: NOW - 1 }),
    );
    seqs.set(
      "private",
      await storeWithVector(db, PLAIN, plainCodec, column, 403, near, {
        access: "private",
        owner: "b",
        agent: "b",
      }),
    );
    seqs.set(
      "other-embedder",
      await storeWithVector(db, PLAIN, plainCodec, column, 404, near, {}, OTHER_EMBEDDER),
    );
    seqs.set(
      "narrow",
      await storeWithVector(db, PLAIN, plainCodec, column, 405, randomVector(7, 8), {}, NARROW_EMBEDDER),
    );
    seqs.set("zero", await storeWithVector(db, PLAIN, plainCodec, column, 406, new Float32Array(DIM)));
    seqs.set(
      "quarantined",
      await storeWithVector(db, PLAIN, plainCodec, column, 407, near, { quarantined: 1 }),
    );
    await db.tx((tx) => memoriesStore.retire(tx, seqs.get("retired") ?? 0));
    await db.tx((tx) => memoriesStore.hardDelete(tx, PLAIN, [memoryRow(401, "").id]));
    const neighbour = tenantDb(pg, NEIGHBOUR);
    seqs.set("neighbour", await storeWithVector(neighbour, NEIGHBOUR, plainCodec, column, 500, near));
  });
  after(async () => {
    await pg.close();
  });

  test("the migration finds the extension and the store detects the column in the tenant schema", async () => {
    assert.deepEqual(column, { schema: TENANT_SCHEMA });
    const ext = await pg.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'",
    );
    assert.equal(ext.rows[0]?.n, 1);
  });

  test("a plaintext tenant's stored vectors land in the pgvector column, exactly", async () => {
    const r = await plain().reader.get<{ v: string }>(
      "SELECT embedding_vector::text AS v FROM memories WHERE seq = ?",
      [seqs.get("v7") ?? 0],
    );
    assert.deepEqual(Float32Array.from(JSON.parse(r?.v ?? "[]") as number[]), randomVector(7));
  });

  test("SQL top-k equals the in-process ranking: same seqs, similarities within 1e-6", async () => {
    const db = plain();
    const v = visibility(PLAIN);
    for (const [seed, limit] of [
      [1_000_000, 40],
      [42, 300],
      [99, 5],
    ] as const) {
      const query = randomVector(seed);
      const expected = await inProcess(db.reader, v, { excludeQuarantined: true }, query, limit);
      const got = await memoriesStore.nearestVectors(
        db.reader,
        column,
        v,
        { excludeQuarantined: true },
        EMBEDDER,
        query,
        limit,
      );
      assert.ok(expected.length > 4, "the reference ranking is not trivially empty");
      assert.deepEqual(
        got.map((r) => Number(r.seq)),
        expected.map((h) => h.seq),
      );
      for (const [i, r] of got.entries()) {
        assert.ok(Math.abs(r.similarity - (expected[i]?.similarity ?? 0)) < 1e-6, `similarity of #${i}`);
        assert.ok(r.similarity > 0);
      }
    }
  });

  test("retired, erased, expired, private, quarantined, zero, other-embedder and other-tenant vectors are left out", async () => {
    const got = await memoriesStore.nearestVectors(
      plain().reader,
      column,
      visibility(PLAIN),
      { excludeQuarantined: true },
      EMBEDDER,
      randomVector(1_000_000),
      1000,
    );
    const ranked = new Set(got.map((r) => Number(r.seq)));
    for (const kind of [
      "retired",
      "erased",
      "expired",
      "private",
      "quarantined",
      "zero",
      "other-embedder",
      "narrow",
      "neighbour",
    ]) {
      assert.ok(!ranked.has(seqs.get(kind) ?? -1), `${kind} is not ranked`);
    }
    // The quarantined one is there when asked for, so the filter (not a missing vector) left it out.
    const all = await memoriesStore.nearestVectors(
      plain().reader,
      column,
      visibility(PLAIN),
      {},
      EMBEDDER,
      randomVector(1_000_000),
      1,
    );
    assert.equal(Number(all[0]?.seq), seqs.get("quarantined"));
  });

  test("dropping a vector (the memory retired) clears the pgvector column in the same statement", async () => {
    const r = await plain().reader.get<{ e: unknown; c: unknown }>(
      "SELECT embedding AS e, embedding_vector AS c FROM memories WHERE seq = ?",
      [seqs.get("retired") ?? 0],
    );
    assert.equal(r?.e, null);
    assert.equal(r?.c, null);
  });

  test("clearing a tenant's vectors (policy off) clears the column too", async () => {
    const db = tenantDb(pg, "tnt_cleared");
    const column2 = column;
    for (let i = 0; i < 3; i++)
      await storeWithVector(db, "tnt_cleared", plainCodec, column2, 600 + i, randomVector(i));
    assert.deepEqual(await columnCount(db.reader, "tnt_cleared"), { vectors: 3, columns: 3 });
    await db.tx((tx) => memoriesStore.clearEmbeddings(tx, "tnt_cleared", 500));
    assert.deepEqual(await columnCount(db.reader, "tnt_cleared"), { vectors: 0, columns: 0 });
  });

  test("an encrypted tenant's vectors are stored sealed and never written to the pgvector column", async () => {
    const codec = encryptingCodec(createTenantCipher(randomBytes(32), SEALED));
    assert.equal(vectorColumnFor(codec, column), null);
    const db = tenantDb(pg, SEALED);
    for (let i = 0; i < 5; i++) await storeWithVector(db, SEALED, codec, column, 700 + i, randomVector(i));
    assert.deepEqual(await columnCount(db.reader, SEALED), { vectors: 5, columns: 0 });
    const query = randomVector(3);
    const got = await memoriesStore.nearestVectors(
      db.reader,
      column,
      visibility(SEALED),
      {},
      EMBEDDER,
      query,
      10,
    );
    assert.equal(got.length, 0, "SQL ranks nothing of an encrypted tenant");
  });

  test("a vector written without the column (an older gateway) clears it; the worker's fill copies it back", async () => {
    const db = tenantDb(pg, "tnt_upgrade");
    const seq = await storeWithVector(db, "tnt_upgrade", plainCodec, column, 800, randomVector(1));
    const row = memoryRow(800, "", { tenant_id: "tnt_upgrade" });
    const next = randomVector(2);
    await db.tx((tx) =>
      memoriesStore.setEmbedding(tx, seq, EMBEDDER, plainCodec.sealVector(row, encodeVector(next))),
    );
    assert.deepEqual(await columnCount(db.reader, "tnt_upgrade"), { vectors: 1, columns: 0 });
    assert.equal(
      await db.tx((tx) => memoriesStore.fillVectorColumn(tx, "tnt_upgrade", column, plainCodec, 0, 500)),
      seq,
    );
    assert.equal(
      await db.tx((tx) => memoriesStore.fillVectorColumn(tx, "tnt_upgrade", column, plainCodec, seq, 500)),
      null,
    );
    const r = await db.reader.get<{ v: string }>(
      "SELECT embedding_vector::text AS v FROM memories WHERE seq = ?",
      [seq],
    );
    assert.deepEqual(Float32Array.from(JSON.parse(r?.v ?? "[]") as number[]), next);
  });

  test("the migration can run again (after the extension is installed later) and changes nothing", async () => {
    const m = memoriesMigrations.tenant.find((x) => x.id === "memories.009");
    assert.ok(m?.postgres);
    await pg.exec(m.postgres);
    assert.deepEqual(await memoriesStore.pgvectorColumn(plain().reader), { schema: TENANT_SCHEMA });
    assert.deepEqual(await columnCount(plain().reader, NEIGHBOUR), { vectors: 1, columns: 1 });
  });
});

describe("pgvector on PGlite without the extension", () => {
  test("the migration succeeds, no column is added and the store reports the in-process fallback", async () => {
    const pg = await openPglite(false);
    try {
      const db = tenantDb(pg, PLAIN);
      const applied = await pg.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'memories'::regclass AND attname = 'embedding_vector'",
      );
      assert.equal(applied.rows[0]?.n, 0);
      assert.equal(await memoriesStore.pgvectorColumn(db.reader), null);
      // Vectors are still stored (as BYTEA) and ranked by the in-process cache.
      const seq = await storeWithVector(db, PLAIN, plainCodec, null, 1, randomVector(1));
      const hits = await inProcess(db.reader, visibility(PLAIN), {}, randomVector(1), 5);
      assert.deepEqual(
        hits.map((h) => h.seq),
        [seq],
      );
    } finally {
      await pg.close();
    }
  });
});
