import { rmSync } from "node:fs";
import pg from "pg";
import { ConfigError } from "../../lib/config.ts";
import { AppError } from "../../lib/errors.ts";
import { safeJoin } from "../../lib/names.ts";
import type { Telemetry } from "../telemetry.ts";
import {
  type Database,
  type Migration,
  type MigrationSet,
  runCommitted,
  type SqlExecutor,
  type SqlValue,
  type Storage,
  type TransactionExecutor,
  type TransactionOptions,
} from "./port.ts";
import { JSON_COMPAT, ownedByTenant, tenantForeignKey } from "./postgres-ddl.ts";
import { TENANT_ID_RE } from "./sqlite.ts";

/**
 * The PostgreSQL store: one database, two schemas. `hypha_control` holds instance data (tenants,
 * key index, instance audit chain, wrapped data keys, freezes); `hypha_tenant` holds every tenant's
 * rows in shared tables carrying `tenant_id`, with row-level security enabled and forced. Each
 * tenant statement runs in a transaction that first sets `hypha.tenant_id` (SET LOCAL semantics), so
 * the stores' SQL runs unchanged and a query that forgets its tenant filter sees nothing of another
 * tenant. The server connects as an application role that owns no table and cannot bypass RLS;
 * migrations run as the owner role and grant the application role what it needs. Every tenant
 * table references `hypha_control.tenants` (ON DELETE CASCADE), so no tenant row outlives its
 * tenant, whichever gateway wrote it and whenever it committed.
 */

export const CONTROL_SCHEMA = "hypha_control";
export const TENANT_SCHEMA = "hypha_tenant";

/** Transactions of one tenant (or of the control schema) run one at a time, as in an embedded vault. */
const lockKey = (scope: string) => `hypha.tx.${scope}`;
const MIGRATION_LOCK = "hypha.migrate";

/** A parameter as the drivers take it. */
export type Bindable = string | number | null | Buffer;

function bind(params: readonly SqlValue[]): Bindable[] {
  return params.map((p) => {
    if (p === undefined || p === null) return null;
    if (typeof p === "boolean") return p ? 1 : 0;
    if (typeof p === "bigint") return p.toString();
    if (p instanceof Uint8Array) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    return p;
  });
}

const translated = new Map<string, string>();

/**
 * Rewrites `?` placeholders to `$1…$n`, leaving quoted strings, quoted identifiers, dollar-quoted
 * bodies and comments alone. Results are cached (statements are a small fixed set of shapes).
 */
export function toPositional(sql: string): string {
  const hit = translated.get(sql);
  if (hit !== undefined) return hit;
  let out = "";
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end === -1 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop;
      // a doubled quote inside a literal continues it
      while (sql[i] === c) {
        const next = sql.indexOf(c, i + 1);
        const s2 = next === -1 ? sql.length : next + 1;
        out += sql.slice(i, s2);
        i = s2;
      }
      continue;
    }
    if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === "$" && sql[i + 1] === "$") {
      const end = sql.indexOf("$$", i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === "?") {
      n++;
      out += `$${n}`;
      i++;
      continue;
    }
    out += c;
    i++;
  }
  if (translated.size < 5000) translated.set(sql, out);
  return out;
}

/** int8 and numeric come back as numbers (ids, counts and millisecond times all fit in 2^53). */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    // biome-ignore lint/suspicious/noExplicitAny: the driver's own parser table is untyped
    return (pg.types.getTypeParser as any)(oid, format);
  },
};

/** What a driver answers to one statement (node-postgres's result; PGlite's in the tests). */
export type PositionalResult = { rows: unknown[]; rowCount: number | null };

/**
 * An executor over a driver's `query(text, values)`: `?` placeholders become `$n` and parameters
 * are bound as the driver takes them (booleans 1/0, bigints as text, bytes as a Buffer).
 */
export function positionalExecutor(
  query: (text: string, values: Bindable[]) => Promise<PositionalResult>,
): SqlExecutor {
  const run = (sql: string, params: readonly SqlValue[] = []) => query(toPositional(sql), bind(params));
  return {
    dialect: "postgres",
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await run(sql, params)).rows as T[],
    get: async <T>(sql: string, params?: readonly SqlValue[]) =>
      (await run(sql, params)).rows[0] as T | undefined,
    run: async (sql, params) => ({ changes: (await run(sql, params)).rowCount ?? 0 }),
  };
}

/**
 * The statements of a transaction on `client`. `opening` is its `BEGIN` (with the tenant setting and
 * lock), written but not yet answered: the first statement goes out right behind it (the pools are
 * in pipeline mode), so opening a transaction costs no round trip of its own. A statement whose
 * opening failed is never answered as if it had run in the transaction: the opening's error is
 * thrown and the statement's result discarded.
 */
function executor(client: pg.PoolClient, opening: Promise<unknown>): SqlExecutor {
  return positionalExecutor(async (text, values) => {
    const [opened, result] = await Promise.allSettled([opening, client.query(text, values)]);
    if (opened.status === "rejected") throw opened.reason;
    if (result.status === "rejected") throw tenantGone(result.reason);
    return result.value;
  });
}

const FOREIGN_KEY_VIOLATION = "23503";

/**
 * A write refused by a tenant table's foreign key to `tenants`: the tenant was deleted (before this
 * statement, or while its transaction ran). It reads as absent, as everywhere else.
 */
function tenantGone(err: unknown): unknown {
  const e = err as { code?: string; table?: string; constraint?: string };
  return e.code === FOREIGN_KEY_VIOLATION &&
    e.table !== undefined &&
    e.constraint === tenantForeignKey(e.table)
    ? new AppError("NOT_FOUND", "tenant not found", { cause: err })
    : err;
}

/** Tenant tables that reference another tenant table: their rows go before the rows they reference. */
const ERASE_FIRST = ["approval_votes", "outbound_deliveries", "memory_labels"];
const eraseOrder = (tables: readonly string[]): string[] => [
  ...ERASE_FIRST.filter((t) => tables.includes(t)),
  ...tables.filter((t) => !ERASE_FIRST.includes(t)),
];

/** Statements that may run read-only (a WITH that writes fails there with this code, then runs again). */
const QUERY_RE = /^\s*(?:SELECT|WITH)\b/i;
const READ_ONLY_TRANSACTION = "25006";

/**
 * `BEGIN` plus the tenant setting, in one round trip (the id is checked against its strict shape).
 * A transaction that asks only to be logged commits without waiting for its WAL flush
 * (`synchronous_commit` off for it alone: the WAL writer flushes it moments later).
 */
function beginFor(tenantId: string | null, lock: boolean, readOnly = false, logged = false): string {
  if (tenantId !== null && !TENANT_ID_RE.test(tenantId)) throw new Error("invalid tenant id");
  const scope = tenantId ?? "control";
  const parts = [readOnly ? "BEGIN READ ONLY" : "BEGIN"];
  if (logged) parts.push("SET LOCAL synchronous_commit = off");
  if (tenantId !== null) parts.push(`SELECT set_config('hypha.tenant_id', '${tenantId}', true)`);
  if (lock) parts.push(`SELECT pg_advisory_xact_lock(hashtextextended('${lockKey(scope)}', 0))`);
  return parts.join("; ");
}

function database(
  pool: pg.Pool,
  tenantId: string | null,
  compact: () => Promise<void>,
  telemetry?: Telemetry,
): Database {
  const inTx = async <T>(
    lock: boolean,
    fn: (tx: TransactionExecutor) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> => {
    const client = await pool.connect();
    let broken = false;
    const opening = client.query(beginFor(tenantId, lock, false, options?.durability === "logged"));
    // Awaited by the first statement (or just below); a rejection is never left unhandled.
    opening.catch(() => {});
    try {
      const committed: (() => void)[] = [];
      const result = await fn({ ...executor(client, opening), afterCommit: (f) => void committed.push(f) });
      await opening;
      if (telemetry) await telemetry.span("db.commit", {}, () => client.query("COMMIT"));
      else await client.query("COMMIT");
      runCommitted(committed);
      return result;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  };
  // Transactions of this database wait their turn in the process before taking a connection (the
  // advisory lock orders them across gateways), so queued ones do not hold the pool.
  let tail: Promise<unknown> = Promise.resolve();
  const serialTx = <T>(
    fn: (tx: TransactionExecutor) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> => {
    const run = () => inTx(true, fn, options);
    const result = tail.then(run, run);
    tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };
  // Control statements need no tenant setting: they run on a pooled connection directly.
  if (tenantId === null) {
    return {
      ...positionalExecutor((text, values) => pool.query(text, values)),
      transaction: serialTx,
      settled: () => tail.then(() => undefined),
      compact,
    };
  }
  /**
   * One tenant statement outside a transaction of the caller's: still in its own transaction that
   * first sets the tenant, but `BEGIN` with the setting, the statement and `COMMIT` are written
   * together (pipeline mode), so the statement costs one round trip, not three. Should the opening
   * fail, the statement's result is discarded: it never counts without its tenant.
   */
  const once = async (text: string, values: Bindable[]): Promise<pg.QueryResult> => {
    if (QUERY_RE.test(text)) {
      try {
        return await read(text, values);
      } catch (err) {
        // A WITH that writes cannot run read-only: it runs as any other statement below.
        if ((err as { code?: string }).code !== READ_ONLY_TRANSACTION) throw err;
      }
    }
    const client = await pool.connect();
    let broken = false;
    try {
      const [opened, result, committed] = await Promise.allSettled([
        client.query(beginFor(tenantId, false)),
        client.query(text, values),
        client.query("COMMIT"),
      ]);
      if (opened.status === "rejected") {
        broken = true;
        throw opened.reason;
      }
      // A failed statement aborts its transaction; the COMMIT then ends it as a rollback.
      if (result.status === "rejected") throw tenantGone(result.reason);
      if (committed.status === "rejected") {
        broken = true;
        throw committed.reason;
      }
      return result.value;
    } finally {
      client.release(broken);
    }
  };
  /**
   * A query (SELECT or WITH) in a READ ONLY transaction: its rows are answered as soon as they
   * arrive, without waiting for the COMMIT written behind it (a read-only transaction has nothing
   * to commit; the connection goes back to the pool once it has ended).
   */
  const read = async (text: string, values: Bindable[]): Promise<pg.QueryResult> => {
    const client = await pool.connect();
    const opening = client.query(beginFor(tenantId, false, true));
    const result = client.query(text, values);
    const closing = client.query("COMMIT");
    void Promise.allSettled([opening, result, closing]).then(([opened, , closed]) =>
      client.release(opened.status === "rejected" || closed.status === "rejected"),
    );
    const [opened, rows] = await Promise.allSettled([opening, result]);
    if (opened.status === "rejected") throw opened.reason;
    if (rows.status === "rejected") throw rows.reason;
    return rows.value;
  };
  return {
    ...positionalExecutor(once),
    transaction: serialTx,
    settled: () => tail.then(() => undefined),
    compact,
  };
}

export type PostgresOptions = {
  /** The application role: owns no table, no BYPASSRLS. */
  url: string;
  /** The owner role that runs migrations and grants the application role; defaults to `url`. */
  migrationUrl?: string | undefined;
  /** The local directory of per-tenant files (forwarded audit lines, checkpoints), removed with the tenant. */
  dataDir?: string | undefined;
  /** Connections per pool (two pools: control and tenant). */
  poolSize?: number;
};

function poolFor(url: string, schema: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // Pipeline mode writes each query as it is issued, not once the previous one is answered: a
    // transaction's BEGIN goes out with its first statement (a transaction's statements still await
    // each other, so nothing else is ever in flight behind a statement that fails).
    pipeline: true,
    options: `-c search_path=${schema}`,
    types,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection dropped by the server must not crash the process; the next checkout reconnects.
  pool.on("error", () => {});
  return pool;
}

/** Where a connection failure points: the setting, never the password. */
function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code} ${e.message ?? ""}`.trim() : (e.message ?? String(err));
}

/**
 * Gives every tenant table its foreign key to `tenants` (`ownedByTenant`). It runs after the tenant
 * migrations, so a table that any migration adds gets it without declaring it, and a tenant table
 * without `tenant_id` stops the start. Rows of tenants already deleted (a write that raced a
 * deletion before the keys existed) are erased first, as the deletion would have erased them.
 */
async function ownTenantRows(client: pg.Client): Promise<void> {
  const tables = (
    await client.query<{ t: string; forced: boolean; keys: string[] }>(
      `SELECT c.relname AS t, c.relforcerowsecurity AS forced,
         array(SELECT k.conname::text FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f') AS keys
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname <> 'schema_migrations'`,
      [TENANT_SCHEMA],
    )
  ).rows;
  const missing = tables.filter((r) => !r.keys.includes(tenantForeignKey(r.t)));
  if (missing.length === 0) return;
  // Row-level security hides every row from the owner while no tenant is set: lifted for this
  // transaction only, so that rows of any deleted tenant are found.
  const forced = missing.filter((r) => r.forced).map((r) => r.t);
  await client.query("BEGIN");
  try {
    await client.query(`SET LOCAL search_path = ${TENANT_SCHEMA}`);
    for (const t of forced) await client.query(`ALTER TABLE ${t} NO FORCE ROW LEVEL SECURITY`);
    const order = eraseOrder(missing.map((r) => r.t));
    for (const t of order) {
      const orphans = await client.query<{ id: string }>(
        `SELECT DISTINCT tenant_id AS id FROM ${t} r
         WHERE NOT EXISTS (SELECT 1 FROM ${CONTROL_SCHEMA}.tenants WHERE id = r.tenant_id)`,
      );
      for (const { id } of orphans.rows) {
        // The append-only tables give up a tenant's rows only while that tenant is being erased.
        await client.query("SELECT set_config('hypha.erasing', $1, true)", [id]);
        await client.query(`DELETE FROM ${t} WHERE tenant_id = $1`, [id]);
      }
    }
    for (const t of forced) await client.query(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
    for (const t of order) await client.query(ownedByTenant(t));
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK");
    throw new Error(`tenant foreign keys failed: ${(err as Error).message}`);
  }
}

/**
 * Gives every tenant table without one an index led by `tenant_id`: the erase and the cascade of a
 * tenant's deletion, and every row-level-security filter, then find a tenant's rows without
 * scanning every tenant's. Like the foreign keys, it covers tables any migration adds.
 */
async function indexTenantRows(client: pg.Client): Promise<void> {
  const bare = (
    await client.query<{ t: string }>(
      `SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
         AND NOT EXISTS (
           SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
           WHERE i.indrelid = c.oid AND a.attname = 'tenant_id')`,
      [TENANT_SCHEMA],
    )
  ).rows;
  for (const { t } of bare)
    await client.query(
      `CREATE INDEX IF NOT EXISTS ${client.escapeIdentifier(`${t}_by_tenant`)} ON ${TENANT_SCHEMA}.${client.escapeIdentifier(t)} (tenant_id)`,
    );
}

/**
 * Applies the migrations not yet recorded in each schema, under a session advisory lock so that
 * several gateways starting together apply each one exactly once, gives every tenant table its
 * foreign key to `tenants` and an index led by `tenant_id`, then grants the application role.
 */
export async function migratePostgres(
  ownerUrl: string,
  migrations: MigrationSet,
  appRole: string | null,
): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl, types, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [MIGRATION_LOCK]);
    try {
      for (const [schema, list] of [
        [CONTROL_SCHEMA, migrations.control],
        [TENANT_SCHEMA, migrations.tenant],
      ] as const) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await client.query(`SET search_path = ${schema}`);
        await client.query(JSON_COMPAT);
        await client.query(
          "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        );
        const done = new Set(
          (await client.query<{ id: string }>("SELECT id FROM schema_migrations")).rows.map((r) => r.id),
        );
        for (const m of list as readonly Migration[]) {
          if (done.has(m.id)) continue;
          if (m.postgres === undefined) throw new Error(`migration ${m.id} has no PostgreSQL text`);
          await client.query("BEGIN");
          try {
            await client.query(m.postgres);
            await client.query("INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)", [
              m.id,
              Date.now(),
            ]);
            await client.query("COMMIT");
          } catch (err) {
            await client.query("ROLLBACK");
            throw new Error(`migration ${m.id} failed: ${(err as Error).message}`);
          }
        }
      }
      await ownTenantRows(client);
      await indexTenantRows(client);
      await client.query("RESET search_path");
      if (appRole !== null) {
        const role = client.escapeIdentifier(appRole);
        const owner = (await client.query<{ u: string }>("SELECT current_user AS u")).rows[0]?.u;
        if (owner !== appRole) {
          for (const schema of [CONTROL_SCHEMA, TENANT_SCHEMA]) {
            await client.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
            await client.query(
              `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`,
            );
            await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`);
          }
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [MIGRATION_LOCK]);
    }
  } finally {
    await client.end();
  }
}

/**
 * Opens the PostgreSQL store. `init()` checks the application role (not a superuser, no BYPASSRLS),
 * migrates as the owner and grants; it throws ConfigError with one line naming the setting.
 */
export function openPostgresStorage(
  opts: PostgresOptions,
  migrations: MigrationSet,
  /** Times every commit (stage `db.commit`). */
  telemetry?: Telemetry,
): Storage & { init(): Promise<void>; readonly owner: string | undefined } {
  const max = opts.poolSize ?? 10;
  const controlPool = poolFor(opts.url, CONTROL_SCHEMA, max);
  const tenantPool = poolFor(opts.url, TENANT_SCHEMA, max);
  const opened = new Map<string, Database>();
  const tenantTables = async (): Promise<string[]> =>
    (
      await controlPool.query<{ t: string }>(
        `SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relrowsecurity ORDER BY c.relname`,
        [TENANT_SCHEMA],
      )
    ).rows.map((r) => r.t);

  /**
   * After a GDPR delete: dead row versions stay in table pages until VACUUM makes their space
   * reusable (it does not zero them; later writes overwrite them). VACUUM needs the owner, so this
   * runs only when the owner's URL is configured; autovacuum covers the rest.
   */
  const compact = async () => {
    if (!opts.migrationUrl) return;
    const client = new pg.Client({ connectionString: opts.migrationUrl });
    await client.connect();
    try {
      for (const t of ["memories", "memory_labels", "recall_terms", "recall_log"]) {
        await client.query(`VACUUM ${TENANT_SCHEMA}.${t}`);
      }
    } finally {
      await client.end();
    }
  };

  const control = database(controlPool, null, compact, telemetry);

  /**
   * Deletes every row of the tenant in every tenant table, inside the given transaction. It first
   * takes the tenant's transaction lock: a tenant transaction still open ends first (its rows are
   * erased here), and one begun later waits for this transaction to end, then finds its tenant gone.
   * (No tenant transaction waits for a control transaction, so this wait cannot close a cycle.)
   * `hypha.erasing` stays set until the transaction ends: deleting the `tenants` row cascades to any
   * row of the tenant a single statement (which takes no lock) committed meanwhile, and the
   * append-only audit tables must let those go too.
   */
  const eraseRows = async (tx: SqlExecutor, tenantId: string) => {
    if (!TENANT_ID_RE.test(tenantId)) throw new Error("invalid tenant id");
    await tx.get(
      `SELECT set_config('hypha.tenant_id', ?, true), set_config('hypha.erasing', ?, true),
         pg_advisory_xact_lock(hashtextextended(?, 0))`,
      [tenantId, tenantId, lockKey(tenantId)],
    );
    // Every table is RLS-scoped to the tenant just set.
    for (const t of eraseOrder(await tenantTables())) {
      await tx.run(`DELETE FROM ${TENANT_SCHEMA}.${t} WHERE tenant_id = ?`, [tenantId]);
    }
    await tx.get("SELECT set_config('hypha.tenant_id', '', true)");
  };

  return {
    control,
    owner: opts.migrationUrl,
    async tenant(tenantId) {
      if (!TENANT_ID_RE.test(tenantId)) throw new Error("invalid tenant id");
      let db = opened.get(tenantId);
      if (!db) {
        db = database(tenantPool, tenantId, compact, telemetry);
        opened.set(tenantId, db);
      }
      return db;
    },
    openTenants: () => [...opened.keys()],
    eraseTenantRows: eraseRows,
    async dropTenant(tenantId) {
      await control.transaction((tx) => eraseRows(tx, tenantId));
      opened.delete(tenantId);
      if (opts.dataDir) rmSync(safeJoin(opts.dataDir, "vaults", tenantId), { recursive: true, force: true });
    },
    async init() {
      let role: { name: string; superuser: boolean; bypassrls: boolean } | undefined;
      try {
        role = (
          await controlPool.query<{ name: string; superuser: boolean; bypassrls: boolean }>(
            "SELECT rolname AS name, rolsuper AS superuser, rolbypassrls AS bypassrls FROM pg_roles WHERE rolname = current_user",
          )
        ).rows[0];
      } catch (err) {
        throw new ConfigError(
          `HYPHA_DATABASE_URL: cannot connect to PostgreSQL (${describe(err)}); check the host, port, database, role and password in the URL`,
        );
      }
      if (!role) throw new ConfigError("HYPHA_DATABASE_URL: the connecting role is not visible");
      if (role.superuser || role.bypassrls) {
        throw new ConfigError(
          `HYPHA_DATABASE_URL connects as ${role.name}, a ${role.superuser ? "superuser" : "BYPASSRLS role"} that row-level security does not bind; connect as an application role (NOSUPERUSER NOBYPASSRLS) and give the owner role in HYPHA_DATABASE_MIGRATION_URL`,
        );
      }
      try {
        await migratePostgres(opts.migrationUrl ?? opts.url, migrations, role.name);
      } catch (err) {
        throw new ConfigError(
          `${opts.migrationUrl ? "HYPHA_DATABASE_MIGRATION_URL" : "HYPHA_DATABASE_URL"}: migrations failed (${describe(err)}); the migration role must own the hypha schemas or be allowed to create them`,
        );
      }
    },
    async ready() {
      try {
        const applied = await control.all<{ id: string }>("SELECT id FROM schema_migrations");
        const ids = new Set(applied.map((r) => r.id));
        return migrations.control.every((m) => ids.has(m.id));
      } catch {
        return false;
      }
    },
    async close() {
      opened.clear();
      await Promise.all([controlPool.end(), tenantPool.end()]);
    },
  };
}
