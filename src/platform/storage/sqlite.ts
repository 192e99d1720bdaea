import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { AppError } from "../../lib/errors.ts";
import { safeJoin } from "../../lib/names.ts";
import type { Telemetry } from "../telemetry.ts";
import { type FileSync, fileSync } from "./file-sync.ts";
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
import { type Checkpoints, createCheckpoints } from "./sqlite-checkpoints.ts";

type TxJob = {
  fn: (tx: TransactionExecutor) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Answered once committed to the log, without waiting for its flush (`durability: "logged"`). */
  logged: boolean;
};

/**
 * A group takes at most this many transactions, and stops taking new ones once it has run this
 * long: every caller in a group waits for its commit, so a group that kept growing behind a few
 * heavy transactions (batches) would hold the first caller for all of them.
 */
const MAX_GROUP = 64;
const GROUP_MS = 25;

/**
 * A group whose transactions all asked only to be logged is flushed to disk within this long, by
 * one flush shared with every such group meanwhile (and sooner, by the next write's own flush), as
 * PostgreSQL's WAL writer flushes asynchronous commits. A read's audit event then costs no flush of
 * its own.
 */
export const LOGGED_FLUSH_MS = 200;

/**
 * With a checkpoint thread, a database written to is checkpointed a while after its first commit
 * since the last checkpoint. The wait adapts so that one checkpoint copies about as many pages as
 * SQLite's own threshold (1,000): halved when the last one found more in the log, doubled when it
 * found fewer, between a quarter of a second and eight seconds. Pages rewritten within one wait
 * are copied once, so a longer wait under light load writes less.
 */
const CHECKPOINT_PAGES = 1000;
const CHECKPOINT_WAIT_MS = { min: 250, start: 1000, max: 8000 };

type Bindable = string | number | bigint | null | Uint8Array;

function bind(params: readonly SqlValue[]): Bindable[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p === undefined ? null : p));
}

/**
 * A node:sqlite database behind the async port. node:sqlite is synchronous, so a transaction that
 * awaits could let another request's statement run inside it; a per-database queue serialises
 * transactions and keeps other statements out while one is open.
 */
export function openSqliteDatabase(
  path: string,
  telemetry?: Telemetry,
  /** Where checkpoints run (a worker thread); without it SQLite runs them on the committing thread. */
  checkpoints?: Checkpoints,
): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const created = path !== ":memory:" && !existsSync(path);
  const db = new DatabaseSync(path);
  if (created) chmodSync(path, 0o600);
  db.exec("PRAGMA journal_mode = WAL");
  // SQLite does not flush the log at each commit (NORMAL); the commit's caller waits for `walSync`
  // instead, which flushes it on the thread pool, so a commit never holds the event loop for the disk.
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA busy_timeout = 5000");
  // Freed pages are zeroed so deleted content does not linger in the file.
  db.exec("PRAGMA secure_delete = ON");
  // Statement journals and sort spills stay in memory: they are rewritten on every write otherwise.
  db.exec("PRAGMA temp_store = MEMORY");
  const offThread = checkpoints && path !== ":memory:" ? checkpoints : null;
  /**
   * The write-ahead log flushed to disk before a write is acknowledged: a commit in WAL mode is
   * durable once its frames are on disk, and commits that end while a flush runs share the next.
   */
  const walSync: FileSync | null = path === ":memory:" ? null : fileSync(`${path}-wal`);
  const durable = async (): Promise<void> => {
    if (!walSync) return;
    try {
      await walSync.sync();
    } catch (err) {
      throw new Error(`the write-ahead log could not be flushed to disk: ${(err as Error).message}`);
    }
  };
  /** A flush pending for commits that asked only to be logged (see LOGGED_FLUSH_MS). */
  let loggedFlush: ReturnType<typeof setTimeout> | null = null;
  const flushed = (): Promise<void> => {
    // A flush that starts now covers every commit so far, the logged ones waiting for theirs too.
    if (loggedFlush) {
      clearTimeout(loggedFlush);
      loggedFlush = null;
    }
    return telemetry ? telemetry.span("db.flush", {}, durable) : durable();
  };
  const flushLoggedSoon = (): void => {
    if (loggedFlush || !walSync) return;
    loggedFlush = setTimeout(() => {
      loggedFlush = null;
      // Nobody waits for it: a failure shows again at the next write's own flush.
      flushed().catch(() => undefined);
    }, LOGGED_FLUSH_MS);
    loggedFlush.unref();
  };
  // The serving connection never checkpoints: the checkpoint thread does, after commits.
  if (offThread) db.exec("PRAGMA wal_autocheckpoint = 0");

  const cache = new Map<string, StatementSync>();
  const prepare = (sql: string): StatementSync => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };

  const direct: SqlExecutor = {
    dialect: "sqlite",
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => prepare(sql).all(...bind(params)) as T[],
    get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      prepare(sql).get(...bind(params)) as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []) => {
      const r = prepare(sql).run(...bind(params));
      return { changes: Number(r.changes) };
    },
  };

  let tail: Promise<void> = Promise.resolve();
  let busy = false;
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = async () => {
      busy = true;
      try {
        return await fn();
      } finally {
        busy = false;
      }
    };
    const result = tail.then(run, run);
    tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };
  const guarded =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      busy ? exclusive(() => op(...args)) : op(...args);

  // Reads that must not wait on writers use a second, read-only connection: in WAL mode it sees the
  // last committed state while a transaction is open on the first. Opened on first use.
  let readDb: DatabaseSync | null = null;
  let closed = false;
  const readCache = new Map<string, StatementSync>();
  const prepareRead = (sql: string): StatementSync => {
    if (closed) throw new Error("database is closed");
    if (!readDb) {
      readDb = new DatabaseSync(path);
      readDb.exec("PRAGMA busy_timeout = 5000");
      readDb.exec("PRAGMA query_only = 1");
      readDb.exec("PRAGMA temp_store = MEMORY");
    }
    let stmt = readCache.get(sql);
    if (!stmt) {
      stmt = readDb.prepare(sql);
      readCache.set(sql, stmt);
    }
    return stmt;
  };
  const read: SqlExecutor | undefined =
    path === ":memory:"
      ? undefined
      : {
          dialect: "sqlite",
          all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
            prepareRead(sql).all(...bind(params)) as T[],
          get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
            prepareRead(sql).get(...bind(params)) as T | undefined,
          run: async () => {
            throw new Error("the read connection does not write");
          },
        };

  // Checkpoints on the checkpoint thread: one a moment after the first commit since the last, so
  // the log stays short without the serving thread ever copying it. A failed one is retried with
  // the next commit; the log is only longer meanwhile.
  let checkpointDue: NodeJS.Timeout | null = null;
  /** The passive checkpoint running on the worker, if any. */
  let checkpointing: Promise<void> | null = null;
  let compacting = false;
  let dirty = false;
  let checkpointWait = CHECKPOINT_WAIT_MS.start;
  const checkpointLater = (): void => {
    if (!offThread || closed || checkpointDue || checkpointing) return;
    dirty = false;
    checkpointDue = setTimeout(() => {
      checkpointDue = null;
      if (closed) return;
      // A truncating checkpoint is under way on this thread: this one would only wait for it.
      if (compacting) {
        dirty = true;
        return;
      }
      checkpointing = offThread
        .run(path, "PASSIVE")
        .then(
          (outcome) => {
            if (!outcome) return;
            checkpointWait =
              outcome.log > CHECKPOINT_PAGES
                ? Math.max(CHECKPOINT_WAIT_MS.min, checkpointWait / 2)
                : Math.min(CHECKPOINT_WAIT_MS.max, checkpointWait * 2);
          },
          () => undefined,
        )
        .finally(() => {
          checkpointing = null;
          if (dirty) checkpointLater();
        });
    }, checkpointWait);
    checkpointDue.unref();
  };
  const written = (): void => {
    if (!offThread) return;
    dirty = true;
    checkpointLater();
  };

  // Group commit: transactions that arrive while another holds the write lock wait together and then
  // run one after the other inside a single BEGIN ... COMMIT, each in its own savepoint. One commit
  // writes the pages they share (B-tree interiors, the audit chain's head, index vocabulary) once
  // instead of once per transaction. Each caller still learns its outcome only after the commit and
  // the flush of the log that holds it: nothing is acknowledged before it is durable (but what asked
  // only to be logged, which hears of it at the commit while the flush runs), and a transaction that
  // throws rolls back to its savepoint without touching the others.
  let open: TxJob[] | null = null;
  /** When the open group began to run (null: it is still waiting for the lock). */
  let openSince: number | null = null;
  const joinable = (group: TxJob[]): boolean =>
    group.length < MAX_GROUP && (openSince === null || performance.now() - openSince <= GROUP_MS);
  /** Groups committed whose callers wait for their flush. */
  const flushing = new Set<Promise<void>>();
  /** Until every group committed so far has been answered. */
  const answeredAll = async (): Promise<void> => {
    await tail;
    await Promise.all([...flushing]);
  };
  const commitGroup = async (group: TxJob[]): Promise<void> => {
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (err) {
      if (open === group) open = null;
      for (const job of group) job.reject(err);
      return;
    }
    const done: { job: TxJob; result: unknown; committed: (() => void)[] }[] = [];
    const failed: { job: TxJob; err: unknown }[] = [];
    let next = 0;
    if (open === group) openSince = performance.now();
    try {
      while (next < group.length) {
        const job = group[next++] as TxJob;
        const committed: (() => void)[] = [];
        db.exec("SAVEPOINT tx");
        try {
          const result = await job.fn({ ...direct, afterCommit: (f) => void committed.push(f) });
          db.exec("RELEASE tx");
          done.push({ job, result, committed });
        } catch (err) {
          failed.push({ job, err });
          // A statement error can end the whole transaction (SQLite rolls back on I/O or full-disk
          // errors): then the group's earlier work is gone too, and their callers are told so.
          if (!db.isTransaction) throw err;
          db.exec("ROLLBACK TO tx");
          db.exec("RELEASE tx");
        }
      }
      // Whatever arrives from here on waits for the next group.
      if (open === group) open = null;
      if (telemetry) telemetry.span("db.commit", { transactions: done.length }, () => db.exec("COMMIT"));
      else db.exec("COMMIT");
      written();
    } catch (err) {
      if (open === group) open = null;
      if (db.isTransaction) db.exec("ROLLBACK");
      for (const d of done) d.job.reject(err);
      for (const f of failed) f.job.reject(f.err);
      // Those not begun yet get a transaction of their own.
      const rest = group.slice(next);
      if (rest.length > 0) void exclusive(() => commitGroup(rest));
      return;
    }
    for (const f of failed) f.job.reject(f.err);
    const answer = (ds: typeof done) => {
      for (const d of ds) {
        runCommitted(d.committed);
        d.job.resolve(d.result);
      }
    };
    if (done.length === 0) return;
    // What asked only to be logged is answered now; a group of those only is flushed within the window.
    answer(done.filter((d) => d.job.logged));
    const waiting = done.filter((d) => !d.job.logged);
    if (waiting.length === 0) {
      flushLoggedSoon();
      return;
    }
    // The next group runs while this one's log is flushed (the write lock is free once the commit is
    // in the log); this group's other callers hear of it only once the flush has ended.
    const answered = flushed().then(
      () => answer(waiting),
      (err: unknown) => {
        for (const d of waiting) d.job.reject(err);
      },
    );
    flushing.add(answered);
    void answered.finally(() => flushing.delete(answered));
  };

  return {
    dialect: "sqlite",
    ...(read ? { read } : {}),
    all: guarded(direct.all),
    get: guarded(direct.get),
    run: guarded(async (sql: string, params?: readonly SqlValue[]) => {
      const r = await direct.run(sql, params);
      written();
      if (r.changes > 0) await flushed();
      return r;
    }),
    transaction: <T>(fn: (tx: TransactionExecutor) => Promise<T>, options?: TransactionOptions) =>
      new Promise<T>((resolve, reject) => {
        const job: TxJob = {
          fn,
          resolve: resolve as (v: unknown) => void,
          reject,
          logged: options?.durability === "logged",
        };
        if (open && joinable(open)) {
          open.push(job);
          return;
        }
        // Past its size or its time, the open group runs what it has taken; this one starts the next.
        const group: TxJob[] = [job];
        open = group;
        openSince = null;
        void exclusive(() => commitGroup(group));
      }),
    settled: answeredAll,
    // The whole log copied into the file and truncated (after a GDPR delete, so no erased text stays
    // in an old frame), while no transaction of this process runs. It runs here, not on the
    // checkpoint thread: a truncating checkpoint must wait until no reader uses the log, and here no
    // reader can start while it runs, where on the worker every recall meanwhile would make it wait
    // (with the tenant's writes held behind it). A passive checkpoint still running there ends first.
    compact: () =>
      exclusive(async () => {
        compacting = true;
        try {
          await checkpointing;
          const truncate = () => db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
          if (telemetry) telemetry.span("db.compact", {}, truncate);
          else truncate();
        } finally {
          compacting = false;
          if (dirty) checkpointLater();
        }
      }),
    // Not part of the port: used by the storage to close handles.
    ...({
      // After the transactions already queued (one may be between two of its statements, waiting
      // for a turn of the event loop): closing under it would leave its caller unanswered.
      close: () =>
        exclusive(async () => {
          if (closed) return;
          closed = true;
          if (checkpointDue) clearTimeout(checkpointDue);
          if (loggedFlush) {
            clearTimeout(loggedFlush);
            loggedFlush = null;
            await flushed().catch(() => undefined);
          }
          // The checkpoint thread lets go first, so this connection is the last one and SQLite
          // checkpoints and removes the log as it closes.
          await offThread?.forget(path);
          await Promise.all([...flushing]);
          await walSync?.close();
          readDb?.close();
          readDb = null;
          readCache.clear();
          db.close();
        }),
      exec: (sql: string) => db.exec(sql),
    } as object),
  } as Database;
}

type ClosableDb = Database & { close(): Promise<void>; exec(sql: string): void };

/** Applies the migrations not yet recorded, each in its own transaction, in order. */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<void> {
  await db.run(
    "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  const done = new Set((await db.all<{ id: string }>("SELECT id FROM schema_migrations")).map((r) => r.id));
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    await db.transaction(async (tx) => {
      for (const statement of splitStatements(m.sqlite)) await tx.run(statement);
      await tx.run("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)", [m.id, Date.now()]);
    });
  }
}

/** Splits a migration script on `;` at line ends, keeping trigger bodies (BEGIN ... END;) whole. */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let current = "";
  let depth = 0;
  for (const line of script.split("\n")) {
    const trimmed = line.trim();
    if (/\bBEGIN\s*$/i.test(trimmed)) depth++;
    current += `${line}\n`;
    if (/^END;?$/i.test(trimmed)) depth = Math.max(0, depth - 1);
    if (depth === 0 && trimmed.endsWith(";")) {
      if (current.trim()) out.push(current.trim());
      current = "";
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export const TENANT_ID_RE = /^tnt_[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * The embedded store: `control.db` for instance data and one `vaults/<tenant_id>/vault.db` per tenant.
 */
export function openSqliteStorage(
  dataDir: string,
  migrations: MigrationSet,
  /** Times every commit (stage `db.commit`). */
  telemetry?: Telemetry,
): Storage & { init(): Promise<void> } {
  const checkpoints = createCheckpoints();
  const control = openSqliteDatabase(safeJoin(dataDir, "control.db"), telemetry, checkpoints) as ClosableDb;
  const tenants = new Map<string, Promise<ClosableDb>>();

  const vaultPath = (tenantId: string) => {
    if (!TENANT_ID_RE.test(tenantId)) throw new Error("invalid tenant id");
    return safeJoin(dataDir, "vaults", tenantId);
  };

  // Vaults dropped by this process: a request still finishing for a deleted tenant must not create
  // its folder and file again (tenant ids are never reused).
  const dropped = new Set<string>();
  const tenant = (tenantId: string): Promise<Database> => {
    if (dropped.has(tenantId)) return Promise.reject(new AppError("NOT_FOUND", "tenant not found"));
    let pending = tenants.get(tenantId);
    if (!pending) {
      const dir = vaultPath(tenantId);
      pending = (async () => {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const db = openSqliteDatabase(safeJoin(dir, "vault.db"), telemetry, checkpoints) as ClosableDb;
        await migrate(db, migrations.tenant);
        return db;
      })();
      pending.catch(() => tenants.delete(tenantId));
      tenants.set(tenantId, pending);
    }
    return pending;
  };

  return {
    control,
    tenant,
    openTenants: () => [...tenants.keys()],
    // Each vault is its own file, removed whole by dropTenant after the control transaction commits.
    eraseTenantRows: async () => {},
    async init() {
      await migrate(control, migrations.control);
    },
    async dropTenant(tenantId) {
      const dir = vaultPath(tenantId);
      dropped.add(tenantId);
      const pending = tenants.get(tenantId);
      tenants.delete(tenantId);
      if (pending) await (await pending).close();
      rmSync(dir, { recursive: true, force: true });
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
      for (const pending of tenants.values()) {
        try {
          await (await pending).close();
        } catch {
          // a vault that failed to open has nothing to close
        }
      }
      tenants.clear();
      await control.close();
      await checkpoints.close();
    },
  };
}
