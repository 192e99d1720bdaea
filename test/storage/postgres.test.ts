import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createSecretKey, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { MIGRATIONS } from "../../src/app.ts";
import { manualClock } from "../../src/lib/clock.ts";
import { ConfigError } from "../../src/lib/config.ts";
import { newId } from "../../src/lib/ids.ts";
import { createLogger } from "../../src/lib/logger.ts";
import { createAuditTrail } from "../../src/modules/audit/audit.trail.ts";
import { memoriesStore } from "../../src/modules/memories/memories.store.ts";
import { memoryRow } from "../../src/modules/memories/memory-row.fixture.ts";
import {
  migratePostgres,
  openPostgresStorage,
  positionalExecutor,
  toPositional,
} from "../../src/platform/storage/postgres.ts";
import { APP_ROLE, freshDatabase, TEST_DATABASE_URL } from "../pg.ts";
import {
  addTenants,
  deleteTenant,
  rowsOf,
  runStorageConformance,
  withConformanceTables,
} from "./conformance.ts";
import { runStoreConformance } from "./stores.ts";

const skip = TEST_DATABASE_URL ? false : "HYPHA_TEST_DATABASE_URL is not set";

async function openFresh() {
  const db = await freshDatabase();
  const storage = openPostgresStorage(
    { url: db.url, migrationUrl: db.migrationUrl, poolSize: 4 },
    withConformanceTables(MIGRATIONS),
  );
  await storage.init();
  const tenantIds: [string, string] = [newId("tenant"), newId("tenant")];
  await addTenants(storage, tenantIds);
  return {
    db,
    storage,
    tenantIds,
    async cleanup() {
      await storage.close();
      await db.drop();
    },
  };
}

/** Runs `fn` on a fresh database with a client of its own, as the application role or the owner. */
async function withClient(
  as: "url" | "migrationUrl",
  fn: (fresh: Awaited<ReturnType<typeof openFresh>>, client: pg.Client) => Promise<void>,
): Promise<void> {
  const fresh = await openFresh();
  const client = new pg.Client({ connectionString: fresh.db[as] });
  await client.connect();
  try {
    await fn(fresh, client);
  } finally {
    await client.end();
    await fresh.cleanup();
  }
}

/** A row of the append-only audit table, which gives up a tenant's rows only while it is erased. */
const AUDIT_ROW = `INSERT INTO audit_events (seq, id, ts, actor_type, actor_id, action, target_ids, outcome, prev_hash, hash)
  VALUES (1, ?, 1, 'agent', 'agent-1', 'memory.created', '[]', 'success', 'p', 'h')`;

/** The tenant schema's foreign keys to the control schema's tenants. */
const TENANT_KEYS = `SELECT conrelid::regclass::text AS t, conname AS k FROM pg_constraint
  WHERE contype = 'f' AND confrelid = 'hypha_control.tenants'::regclass
    AND connamespace = 'hypha_tenant'::regnamespace ORDER BY 1, 2`;

test("placeholders become positional outside literals, identifiers and comments", () => {
  assert.equal(
    toPositional(`SELECT '?', "a?" FROM t WHERE a = ? AND b = 'it''s ?' -- ?\n AND c = ?`),
    `SELECT '?', "a?" FROM t WHERE a = $1 AND b = 'it''s ?' -- ?\n AND c = $2`,
  );
});

test("hypha serve with an unreachable HYPHA_DATABASE_URL stops with one hypha: line naming it", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-test-pg-cli-"));
  try {
    const child = spawnSync(process.execPath, ["bin/hypha.js", "serve"], {
      env: {
        ...process.env,
        HYPHA_DATA_DIR: dataDir,
        HYPHA_DATABASE_URL: "postgres://hypha@127.0.0.1:1/hypha",
      },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(child.status, 2);
    const lines = child.stderr.trim().split("\n");
    assert.equal(lines.length, 1, child.stderr);
    assert.match(lines[0] ?? "", /^hypha: HYPHA_DATABASE_URL: cannot connect to PostgreSQL .*check the host/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/**
 * The conformance cases are tenant-scoped, so they share one fresh database (a database per case
 * costs seconds); each case gets tenant ids of its own.
 */
let shared: Promise<Awaited<ReturnType<typeof openFresh>>> | null = null;
async function openShared() {
  shared ??= openFresh();
  const { storage } = await shared;
  const tenantIds: [string, string] = [newId("tenant"), newId("tenant")];
  await addTenants(storage, tenantIds);
  return {
    storage,
    tenantIds,
    async cleanup() {},
  };
}

describe("storage port conformance: PostgreSQL", { skip }, () => {
  after(async () => {
    if (shared) await (await shared).cleanup();
  });
  runStorageConformance("postgres", openShared);
  runStoreConformance("postgres", openShared);

  test("RLS: a tenant-less query as the application role returns nothing and writes nothing", async () => {
    const { storage, tenantIds, db, cleanup } = await openFresh();
    try {
      const [a] = tenantIds;
      const vault = await storage.tenant(a);
      await vault.transaction(async (tx) => {
        await tx.run("INSERT INTO conformance (v) VALUES ('tenant a row')");
        await memoriesStore.insert(
          tx,
          memoryRow(1, "secret", {
            id: newId("memory"),
            tenant_id: a,
            namespace: "default",
            type: "fact",
            agent: "agent-1",
            owner: "agent-1",
          }),
        );
      });
      const app = new pg.Client({ connectionString: db.url });
      await app.connect();
      try {
        await app.query("SET search_path = hypha_tenant");
        assert.equal((await app.query("SELECT current_user AS u")).rows[0].u, APP_ROLE);
        for (const table of ["memories", "recall_terms", "recall_log", "conformance"]) {
          assert.equal((await app.query(`SELECT * FROM ${table}`)).rowCount, 0, table);
        }
        // Another tenant set: still nothing of tenant a.
        await app.query("BEGIN");
        await app.query("SELECT set_config('hypha.tenant_id', $1, true)", [tenantIds[1]]);
        assert.equal((await app.query("SELECT * FROM memories")).rowCount, 0);
        await assert.rejects(
          app.query("INSERT INTO conformance (tenant_id, v) VALUES ($1, 'forged')", [a]),
          /row-level security/,
        );
        await app.query("ROLLBACK");
        // The application role owns nothing and bypasses nothing.
        const owned = await app.query(
          "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'hypha_%' AND tableowner = current_user",
        );
        assert.equal(owned.rows[0].n, 0);
        const role = await app.query(
          "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        );
        assert.deepEqual(role.rows[0], { rolsuper: false, rolbypassrls: false });
      } finally {
        await app.end();
      }
      // Set to the tenant, the same rows are there.
      assert.equal((await vault.all("SELECT * FROM conformance")).length, 1);
    } finally {
      await cleanup();
    }
  });

  test("pgvector: memories.009 applies with or without the extension, and the column is used exactly when it was added", async () => {
    const { storage } = await openShared();
    const installed = await storage.control.get<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'",
    );
    const applied = await storage.control.get<{ n: number }>(
      "SELECT count(*)::int AS n FROM hypha_tenant.schema_migrations WHERE id = 'memories.009'",
    );
    assert.equal(applied?.n, 1);
    const column = await memoriesStore.pgvectorColumn(storage.control);
    // This suite's server has no pgvector (PGlite covers the pgvector path): the fallback is used.
    assert.equal(column !== null, installed?.n === 1);
  });

  test("a transaction asked only to be logged commits without waiting for its WAL flush (synchronous_commit off for it alone)", async () => {
    const { storage, tenantIds } = await openShared();
    const db = await storage.tenant(tenantIds[0]);
    const setting = (durability?: "logged") =>
      db.transaction(
        async (tx) =>
          (await tx.get<{ synchronous_commit: string }>("SHOW synchronous_commit"))?.synchronous_commit,
        durability ? { durability } : undefined,
      );
    assert.equal(await setting("logged"), "off");
    assert.equal(
      await setting(),
      "on",
      "the default still waits for the flush, and the setting did not leak",
    );
  });

  test("RLS: every tenant table has row-level security enabled and forced", async () => {
    const { db, cleanup } = await openFresh();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const rows = (
        await c.query(
          `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'hypha_tenant' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'`,
        )
      ).rows as { relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }[];
      assert.ok(rows.length >= 20, `${rows.length} tenant tables`);
      for (const r of rows) assert.ok(r.relrowsecurity && r.relforcerowsecurity, r.relname);
    } finally {
      await c.end();
      await cleanup();
    }
  });

  test("tenant foreign keys: every table of the tenant schema (from the catalog, tables added by any later migration included) references tenants(id) ON DELETE CASCADE, and has an index led by tenant_id", async () => {
    const { storage } = await openShared();
    const tables = await storage.control.all<{ name: string; owned: boolean; indexed: boolean }>(
      `SELECT c.relname AS name, EXISTS (
         SELECT 1 FROM pg_constraint k
         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
         WHERE k.conrelid = c.oid AND k.contype = 'f' AND cardinality(k.conkey) = 1 AND a.attname = 'tenant_id'
           AND k.confrelid = 'hypha_control.tenants'::regclass AND k.confdeltype = 'c') AS owned,
       EXISTS (
         SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = c.oid AND a.attname = 'tenant_id') AS indexed
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'hypha_tenant' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'`,
    );
    assert.ok(tables.length >= 20, `${tables.length} tenant tables`);
    // The suite's own tables come from a migration that declares no key: the migrator adds it.
    assert.ok(tables.some((t) => t.name === "conformance"));
    assert.deepEqual(
      tables.filter((t) => !t.owned).map((t) => t.name),
      [],
    );
    // Deleting a tenant (its erase, then the cascade) and every row-level-security filter find the
    // tenant's rows by index, never by scanning every tenant's rows.
    assert.deepEqual(
      tables.filter((t) => !t.indexed).map((t) => t.name),
      [],
    );
  });

  test("a write holding its tenant's row while the tenant is deleted (no transaction lock, as a single statement takes none): the deletion waits for its commit, then every row it wrote goes with the tenant", () =>
    withClient("url", async ({ storage, tenantIds }, writer) => {
      const [t, other] = tenantIds;
      await (await storage.tenant(other)).run("INSERT INTO conformance (v) VALUES ('another tenant')");
      await writer.query("SET search_path = hypha_tenant");
      // READ COMMITTED, the server's default: the deletion sees rows committed while it waited.
      await writer.query("BEGIN");
      await writer.query("SELECT set_config('hypha.tenant_id', $1, true)", [t]);
      const tx = positionalExecutor((text, values) => writer.query(text, values));
      await tx.run("INSERT INTO conformance (v) VALUES ('racing')");
      const racing = memoryRow(1, "racing memory", { id: newId("memory"), tenant_id: t, tags: '["racing"]' });
      await memoriesStore.insert(tx, racing);
      await tx.run(AUDIT_ROW, [newId("event")]);
      const spread = await tx.get<Record<string, number>>(
        `SELECT (SELECT count(*) FROM memory_labels) AS labels, (SELECT count(*) FROM recall_terms) AS terms,
           (SELECT count(*) FROM recall_stats) AS totals`,
      );
      assert.ok(
        Object.values(spread ?? {}).every((n) => n > 0),
        "the write spans the index tables too",
      );
      let settled = false;
      const deleting = deleteTenant(storage, t).finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(settled, false, "the deletion waits for the write holding the tenant's row");
      await writer.query("COMMIT");
      await deleting;
      assert.deepEqual(await rowsOf(storage, t), {});
      assert.deepEqual(await rowsOf(storage, other), { conformance: 1 });
      // Afterwards the database itself refuses a row of the deleted tenant.
      await writer.query("BEGIN");
      await writer.query("SELECT set_config('hypha.tenant_id', $1, true)", [t]);
      await assert.rejects(writer.query("INSERT INTO conformance (v) VALUES ('late')"), {
        code: "23503",
        constraint: "conformance_tenant_fk",
      });
      await writer.query("ROLLBACK");
    }));

  test("upgrade: rows that outlived their deleted tenant before the foreign keys existed are erased when the migrator adds them; other tenants' rows stay", () =>
    withClient("migrationUrl", async ({ storage, db, tenantIds }, owner) => {
      const [gone, kept] = tenantIds;
      for (const t of tenantIds) {
        const vault = await storage.tenant(t);
        await vault.run("INSERT INTO conformance (v) VALUES ('row')");
        await vault.run(AUDIT_ROW, [newId("event")]);
      }
      // The schema as it was before: no tenant keys, so a deleted tenant's rows could stay behind.
      const keys = await owner.query<{ t: string; k: string }>(TENANT_KEYS);
      for (const { t, k } of keys.rows) await owner.query(`ALTER TABLE ${t} DROP CONSTRAINT ${k}`);
      await owner.query("DELETE FROM hypha_control.tenants WHERE id = $1", [gone]);
      assert.deepEqual(await rowsOf(storage, gone), { audit_events: 1, conformance: 1 });
      await migratePostgres(db.migrationUrl, withConformanceTables(MIGRATIONS), APP_ROLE);
      assert.deepEqual(await rowsOf(storage, gone), {});
      assert.deepEqual(await rowsOf(storage, kept), { audit_events: 1, conformance: 1 });
      assert.deepEqual((await owner.query(TENANT_KEYS)).rows, keys.rows);
      const forced = await owner.query(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'hypha_tenant' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
           AND NOT c.relforcerowsecurity`,
      );
      assert.equal(forced.rows[0].n, 0, "row-level security is forced again on every tenant table");
    }));

  test("migrations: several gateways starting together apply each migration exactly once", async () => {
    const db = await freshDatabase();
    try {
      await Promise.all(
        Array.from({ length: 4 }, () => migratePostgres(db.migrationUrl, MIGRATIONS, APP_ROLE)),
      );
      const c = new pg.Client({ connectionString: db.migrationUrl });
      await c.connect();
      try {
        for (const [schema, list] of [
          ["hypha_control", MIGRATIONS.control],
          ["hypha_tenant", MIGRATIONS.tenant],
        ] as const) {
          const ids = (await c.query(`SELECT id FROM ${schema}.schema_migrations`)).rows.map((r) => r.id);
          assert.equal(ids.length, list.length);
          assert.deepEqual(new Set(ids), new Set(list.map((m) => m.id)));
        }
      } finally {
        await c.end();
      }
    } finally {
      await db.drop();
    }
  });

  test("audit: concurrent appends from separate pools (two gateways) never fork the chain", async () => {
    const db = await freshDatabase();
    const dirs = [
      mkdtempSync(join(tmpdir(), "hypha-test-gw-")),
      mkdtempSync(join(tmpdir(), "hypha-test-gw-")),
    ];
    const gateways = dirs.map(() =>
      openPostgresStorage({ url: db.url, migrationUrl: db.migrationUrl, poolSize: 4 }, MIGRATIONS),
    );
    try {
      for (const g of gateways) await g.init();
      const auditKey = createSecretKey(randomBytes(32));
      const checkpointKey = createSecretKey(randomBytes(32));
      const clock = manualClock(Date.parse("2026-06-01T12:00:00Z"));
      const trails = gateways.map((storage, i) =>
        createAuditTrail({
          storage,
          clock,
          logger: createLogger("silent"),
          dataDir: dirs[i] as string,
          auditKey: async () => auditKey,
          checkpointKey,
        }),
      );
      const tenantId = newId("tenant");
      await addTenants(gateways[0] as (typeof gateways)[number], [tenantId]);
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const storage = gateways[i % 2] as (typeof gateways)[number];
          const trail = trails[i % 2] as (typeof trails)[number];
          const vault = await storage.tenant(tenantId);
          await vault.transaction((tx) =>
            trail.append(
              tx,
              { tenantId, actor: { type: "agent", id: `agent-${i}` }, action: "memory.created" },
              clock.now(),
            ),
          );
        }),
      );
      for (const t of trails) await t.flush();
      const result = await trails[0]?.verify(tenantId);
      assert.equal(result?.ok, true, JSON.stringify(result));
      assert.equal(result?.last_seq, 40);
    } finally {
      for (const g of gateways) await g.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await db.drop();
    }
  });

  test("start-up: an unreachable URL or a superuser role is one line naming HYPHA_DATABASE_URL", async () => {
    const down = openPostgresStorage({ url: "postgres://nobody@127.0.0.1:1/none" }, MIGRATIONS);
    await assert.rejects(down.init(), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^HYPHA_DATABASE_URL: cannot connect/);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
    await down.close();
    const superuser = openPostgresStorage({ url: TEST_DATABASE_URL as string }, MIGRATIONS);
    await assert.rejects(superuser.init(), /HYPHA_DATABASE_URL connects as .* superuser/);
    await superuser.close();
  });

  test("start-up: a BYPASSRLS role that is not superuser is refused with one line naming HYPHA_DATABASE_URL, and nothing is migrated", async () => {
    const role = `hypha_t_bypass_${randomBytes(4).toString("hex")}`;
    const db = await freshDatabase();
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER BYPASSRLS NOCREATEROLE`);
      const flags = await admin.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1",
        [role],
      );
      assert.deepEqual(flags.rows, [{ rolsuper: false, rolbypassrls: true }]);
      const url = new URL(db.url);
      url.username = role;
      // Even with a proper owner role for the migrations, the application role itself is refused.
      const storage = openPostgresStorage({ url: url.toString(), migrationUrl: db.migrationUrl }, MIGRATIONS);
      try {
        await assert.rejects(storage.init(), (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, new RegExp(`^HYPHA_DATABASE_URL connects as ${role}, a BYPASSRLS role`));
          assert.ok(!err.message.includes("\n"));
          return true;
        });
      } finally {
        await storage.close();
      }
      const owner = new pg.Client({ connectionString: db.migrationUrl });
      await owner.connect();
      try {
        const schemas = await owner.query(
          "SELECT nspname FROM pg_namespace WHERE nspname IN ('hypha_control', 'hypha_tenant')",
        );
        assert.deepEqual(schemas.rows, [], "the start stopped before any migration");
      } finally {
        await owner.end();
      }
    } finally {
      await db.drop();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });
});
