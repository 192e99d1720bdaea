import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { manualClock } from "../../lib/clock.ts";
import { createTenantCipher } from "../../lib/crypto/field-cipher.ts";
import { type Action, type Actor, installActions } from "../../platform/auth/actor.ts";
import { createMetrics } from "../../platform/http/metrics.ts";
import {
  type Database,
  runCommitted,
  type SqlExecutor,
  type Storage,
  type TransactionExecutor,
} from "../../platform/storage/port.ts";
import { positionalExecutor, TENANT_SCHEMA } from "../../platform/storage/postgres.ts";
import { JSON_COMPAT } from "../../platform/storage/postgres-ddl.ts";
import { type Embedder, encodeVector } from "./embedder.ts";
import { memoriesMigrations } from "./memories.migrations.ts";
import { memoriesActions } from "./memories.module.ts";
import { recallBody } from "./memories.schemas.ts";
import { createMemoriesService, vectorColumnFor } from "./memories.service.ts";
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

/** The application role's rights, as `migratePostgres` grants them (PGlite's own user is a superuser, which RLS does not bind). */
const APP_ROLE = `CREATE ROLE hypha_app NOSUPERUSER NOBYPASSRLS;
GRANT USAGE ON SCHEMA ${TENANT_SCHEMA} TO hypha_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${TENANT_SCHEMA} TO hypha_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${TENANT_SCHEMA} TO hypha_app;`;

/**
 * Migrates the tenant schema as `migratePostgres` does (search path, JSON helpers, each text in a
 * transaction, grants), then acts as the application role.
 */
async function openPglite(withExtension: boolean): Promise<PGlite> {
  const pg = withExtension ? new PGlite({ extensions: { vector } }) : new PGlite();
  await pg.exec(`CREATE SCHEMA ${TENANT_SCHEMA}; SET search_path = ${TENANT_SCHEMA};`);
  await pg.exec(JSON_COMPAT);
  for (const m of memoriesMigrations.tenant) {
    await pg.transaction(async (tx) => {
      await tx.exec(m.postgres ?? "");
    });
  }
  await pg.exec(APP_ROLE);
  await pg.exec("SET ROLE hypha_app");
  return pg;
}

/**
 * The store's statements on PGlite, as the PostgreSQL adapter runs them: `?` placeholders, each
 * statement or transaction with the tenant set (PGlite runs one at a time).
 */
function tenantDb(pg: PGlite, tenantId: string | null): Database {
  const on = (q: Transaction): SqlExecutor =>
    positionalExecutor(async (text, values) => {
      const r = await q.query(text, values);
      return { rows: r.rows, rowCount: r.affectedRows ?? 0 };
    });
  const transaction = async <T>(fn: (tx: TransactionExecutor) => Promise<T>): Promise<T> => {
    const committed: (() => void)[] = [];
    const result = await pg.transaction(async (t) => {
      if (tenantId !== null) await t.query("SELECT set_config('hypha.tenant_id', $1, true)", [tenantId]);
      return fn({ ...on(t), afterCommit: (f) => void committed.push(f) });
    });
    runCommitted(committed);
    return result;
  };
  return {
    dialect: "postgres",
    all: (sql, params) => transaction((e) => e.all(sql, params)),
    get: (sql, params) => transaction((e) => e.get(sql, params)),
    run: (sql, params) => transaction((e) => e.run(sql, params)),
    transaction,
    settled: async () => {},
    compact: async () => {},
  };
}

/** A Storage over one PGlite database, for the memories service. */
function pgliteStorage(pg: PGlite): Storage {
  const opened = new Map<string, Database>();
  return {
    control: tenantDb(pg, null),
    async tenant(tenantId) {
      const db = opened.get(tenantId) ?? tenantDb(pg, tenantId);
      opened.set(tenantId, db);
      return db;
    },
    openTenants: () => [...opened.keys()],
    eraseTenantRows: async () => {},
    dropTenant: async () => {},
    ready: async () => true,
    close: () => pg.close(),
  };
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
  db: Database,
  tenantId: string,
  codec: RowCodec,
  column: PgVector | null,
  i: number,
  v: Float32Array,
  extra: Parameters<typeof memoryRow>[2] = {},
  embedderId = EMBEDDER,
): Promise<number> {
  const row = memoryRow(i, `memory ${i}`, { tenant_id: tenantId, ...extra });
  return db.transaction(async (tx) => {
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
    const found = await memoriesStore.pgvectorColumn(plain());
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
    await db.transaction((tx) => memoriesStore.retire(tx, seqs.get("retired") ?? 0));
    await db.transaction((tx) => memoriesStore.hardDelete(tx, PLAIN, [memoryRow(401, "").id]));
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
    const r = await plain().get<{ v: string }>(
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
      const expected = await inProcess(db, v, { excludeQuarantined: true }, query, limit);
      const got = await memoriesStore.nearestVectors(
        db,
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
      plain(),
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
      plain(),
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
    const r = await plain().get<{ e: unknown; c: unknown }>(
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
    assert.deepEqual(await columnCount(db, "tnt_cleared"), { vectors: 3, columns: 3 });
    await db.transaction((tx) => memoriesStore.clearEmbeddings(tx, "tnt_cleared", 500));
    assert.deepEqual(await columnCount(db, "tnt_cleared"), { vectors: 0, columns: 0 });
  });

  test("an encrypted tenant's vectors are stored sealed and never written to the pgvector column", async () => {
    const codec = encryptingCodec(createTenantCipher(randomBytes(32), SEALED));
    assert.equal(vectorColumnFor(codec, column), null);
    const db = tenantDb(pg, SEALED);
    for (let i = 0; i < 5; i++) await storeWithVector(db, SEALED, codec, column, 700 + i, randomVector(i));
    assert.deepEqual(await columnCount(db, SEALED), { vectors: 5, columns: 0 });
    const query = randomVector(3);
    const got = await memoriesStore.nearestVectors(db, column, visibility(SEALED), {}, EMBEDDER, query, 10);
    assert.equal(got.length, 0, "SQL ranks nothing of an encrypted tenant");
  });

  test("a vector written without the column (an older gateway) clears it; the worker's fill copies it back", async () => {
    const db = tenantDb(pg, "tnt_upgrade");
    const seq = await storeWithVector(db, "tnt_upgrade", plainCodec, column, 800, randomVector(1));
    const row = memoryRow(800, "", { tenant_id: "tnt_upgrade" });
    const next = randomVector(2);
    await db.transaction((tx) =>
      memoriesStore.setEmbedding(tx, seq, EMBEDDER, plainCodec.sealVector(row, encodeVector(next))),
    );
    assert.deepEqual(await columnCount(db, "tnt_upgrade"), { vectors: 1, columns: 0 });
    assert.equal(
      await db.transaction((tx) =>
        memoriesStore.fillVectorColumn(tx, "tnt_upgrade", column, plainCodec, 0, 500),
      ),
      seq,
    );
    assert.equal(
      await db.transaction((tx) =>
        memoriesStore.fillVectorColumn(tx, "tnt_upgrade", column, plainCodec, seq, 500),
      ),
      null,
    );
    const r = await db.get<{ v: string }>("SELECT embedding_vector::text AS v FROM memories WHERE seq = ?", [
      seq,
    ]);
    assert.deepEqual(Float32Array.from(JSON.parse(r?.v ?? "[]") as number[]), next);
  });

  test("the migration can run again (after the extension is installed later) and changes nothing", async () => {
    const m = memoriesMigrations.tenant.find((x) => x.id === "memories.009");
    assert.ok(m?.postgres);
    await pg.exec(`RESET ROLE; ${m.postgres}; SET ROLE hypha_app;`);
    assert.deepEqual(await memoriesStore.pgvectorColumn(plain()), { schema: TENANT_SCHEMA });
    assert.deepEqual(await columnCount(tenantDb(pg, NEIGHBOUR), NEIGHBOUR), { vectors: 1, columns: 1 });
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
      assert.equal(await memoriesStore.pgvectorColumn(db), null);
      // Vectors are still stored (as BYTEA) and ranked by the in-process cache.
      const seq = await storeWithVector(db, PLAIN, plainCodec, null, 1, randomVector(1));
      const hits = await inProcess(db, visibility(PLAIN), {}, randomVector(1), 5);
      assert.deepEqual(
        hits.map((h) => h.seq),
        [seq],
      );
    } finally {
      await pg.close();
    }
  });
});

/** A bag-of-words embedder: each word adds 1 to a hashed dimension (deterministic, no network). */
function wordsEmbedder(): Embedder {
  const vectorOf = (text: string) => {
    const v = new Float32Array(32);
    for (const w of text.toLowerCase().match(/[a-z]+/g) ?? []) {
      let h = 7;
      for (const ch of w) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
      v[h % 32] = (v[h % 32] ?? 0) + 1;
    }
    return v;
  };
  return {
    enabled: true,
    name: "fake:words",
    id: "fake:words:32",
    embed: async (texts) => texts.map(vectorOf),
  };
}

const WORDS = "orchard harbour lantern meadow copper violet thunder saddle pepper glacier".split(" ");

/** The memories service on PGlite, with the pgvector extension or without; `sealed` tenants are encrypted. */
async function serviceOn(withExtension: boolean) {
  const pg = await openPglite(withExtension);
  const storage = pgliteStorage(pg);
  const codecs = new Map<string, RowCodec>([
    [PLAIN, plainCodec],
    [SEALED, encryptingCodec(createTenantCipher(Buffer.alloc(32, 7), SEALED))],
  ]);
  const service = createMemoriesService({
    storage,
    clock: manualClock(NOW),
    metrics: createMetrics(),
    maxContentBytes: 65_536,
    halfLifeDays: 30,
    exportRowsPerSecond: 10_000,
    audit: async () => {},
    vault: {
      codec: async (tenantId) => codecs.get(tenantId) ?? plainCodec,
      written: async () => {},
      removed: async () => {},
    },
    embedder: wordsEmbedder(),
    embeddingsPolicy: async () => "on",
  });
  // The same 60 memories in both tenants: three words each, so queries match some by words, some by vector only.
  for (const tenantId of [PLAIN, SEALED]) {
    const db = await storage.tenant(tenantId);
    const codec = codecs.get(tenantId) ?? plainCodec;
    await db.transaction(async (tx) => {
      for (let i = 0; i < 60; i++) {
        const content = [WORDS[i % 10], WORDS[(i * 3 + 1) % 10], WORDS[(i * 7 + 2) % 10]].join(" ");
        const sealed = codec.seal(
          memoryRow(i, content, { tenant_id: tenantId, created_at: NOW - i, updated_at: NOW - i }),
        );
        await memoriesStore.insert(tx, sealed.row, sealed.index);
      }
    });
  }
  return { pg, storage, service };
}

function agent(tenantId: string): Actor {
  return {
    type: "agent",
    id: "key_test",
    tenantId,
    agent: "a",
    scopes: [],
    capabilities: null,
    actions: new Set(["memories:recall"]) as ReadonlySet<Action>,
    namespaces: null,
    origin: { requestId: "req_test", ip: "127.0.0.1", userAgent: null },
  };
}

describe("the memories service on pgvector (PGlite)", () => {
  before(() => installActions(new Map(Object.entries(memoriesActions))));

  test("recall through pgvector answers what the in-process path answers, and encrypted tenants keep the process", async () => {
    const withExt = await serviceOn(true);
    const without = await serviceOn(false);
    try {
      assert.equal(await withExt.service.vectorPath(), "pgvector");
      assert.equal(await without.service.vectorPath(), "in-process");
      assert.equal(await withExt.service.embedPending([PLAIN, SEALED]), 120);
      assert.equal(await without.service.embedPending([PLAIN, SEALED]), 120);
      const plainDb = await withExt.storage.tenant(PLAIN);
      assert.deepEqual(await columnCount(plainDb, PLAIN), { vectors: 60, columns: 60 });
      assert.deepEqual(await columnCount(await withExt.storage.tenant(SEALED), SEALED), {
        vectors: 60,
        columns: 0,
      });
      for (const tenantId of [PLAIN, SEALED]) {
        for (const query of ["orchard lantern", "copper thunder glacier", "violet"]) {
          const input = recallBody.parse({ query, k: 10 });
          const a = await withExt.service.recall(agent(tenantId), input);
          const b = await without.service.recall(agent(tenantId), input);
          assert.ok(
            a.results.some((r) => r.why.fusion),
            "vectors took part",
          );
          assert.deepEqual(
            a.results.map((r) => [r.memory.id, r.why.fusion?.vector_rank ?? null]),
            b.results.map((r) => [r.memory.id, r.why.fusion?.vector_rank ?? null]),
            `${tenantId}: ${query}`,
          );
          for (const [i, r] of a.results.entries()) {
            const other = b.results[i]?.why.fusion?.similarity ?? null;
            assert.ok(Math.abs((r.why.fusion?.similarity ?? 0) - (other ?? 0)) < 1e-6);
          }
        }
      }
      // Vectors stored before the column existed (simulated: cleared by hand) are copied back by the worker.
      await plainDb.run("UPDATE memories SET embedding_vector = NULL WHERE tenant_id = ?", [PLAIN]);
      assert.equal(await withExt.service.embedPending([PLAIN]), 0, "nothing is embedded again");
      assert.deepEqual(await columnCount(plainDb, PLAIN), { vectors: 60, columns: 60 });
    } finally {
      await withExt.storage.close();
      await without.storage.close();
    }
  });
});
