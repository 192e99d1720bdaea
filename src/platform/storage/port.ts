/**
 * The storage port. Feature stores speak SQL through these interfaces only, so one store runs on
 * the embedded SQLite adapter and on a PostgreSQL adapter alike. Placeholders are `?`; adapters
 * translate where their driver differs. Dialect-specific work (full-text search) branches on
 * `dialect` inside the feature's store, never outside it.
 */
export type SqlValue = string | number | bigint | null | Uint8Array | boolean;

export type Dialect = "sqlite" | "postgres";

export interface SqlExecutor {
  readonly dialect: Dialect;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

/** The executor a transaction hands to its function. */
export interface TransactionExecutor extends SqlExecutor {
  /**
   * Runs `fn` once this transaction has committed, never when it rolls back (e.g. publishing what it
   * changed). `fn` must not throw; an error from it is swallowed so it cannot undo a commit.
   */
  afterCommit(fn: () => void): void;
}

/** How soon a transaction's caller hears that it committed. */
export type TransactionOptions = {
  /**
   * `flushed` (the default): once the commit is on disk, so a power loss cannot take it back.
   * `logged`: once the commit is in the database's log — it survives the process, and it is flushed
   * to disk within a bounded window (SQLite: `LOGGED_FLUSH_MS`, shared by every such commit meanwhile;
   * PostgreSQL: its WAL writer's), but a power loss before that flush ends can take it back. For
   * records whose loss in that window costs less than the wait: the audit events of reads.
   */
  durability?: "flushed" | "logged";
};

export interface Database extends SqlExecutor {
  /**
   * Reads that never wait on the write lock (SQLite: a second connection in WAL mode, seeing the last
   * commit). Adapters without one leave it out; callers fall back to the database itself.
   */
  readonly read?: SqlExecutor;
  /**
   * Runs `fn` in one transaction: it commits when `fn` resolves and rolls back when it throws.
   * `fn` must use the `tx` it is given and must not make network calls or slow crypto.
   */
  transaction<T>(fn: (tx: TransactionExecutor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Resolves once every transaction this process has begun or queued on this database so far has ended. */
  settled(): Promise<void>;
  /** Adapter-specific maintenance after destructive work (checkpoints, vacuum of freed pages). */
  compact(): Promise<void>;
}

/** A schema change, named `<feature>.<nnn>`, with its SQL per dialect. */
export type Migration = { id: string; sqlite: string; postgres?: string };

export type MigrationSet = { control: readonly Migration[]; tenant: readonly Migration[] };

export interface Storage {
  /** Instance-wide data: tenants, credentials. */
  readonly control: Database;
  /** A tenant's own database (created and migrated on first use). */
  tenant(tenantId: string): Promise<Database>;
  /** Every tenant database opened so far (the sweeper walks these). */
  openTenants(): string[];
  /**
   * Deletes every row the tenant holds, inside the control transaction `tx` that deletes the tenant
   * and its wrapped data key, so all of it commits (or none). A no-op where a tenant's data is a
   * separate database (`dropTenant` removes it after commit). Where tenants share one, the tenant's
   * transactions still open end first, and any row of the tenant written later goes with its
   * `tenants` row or is refused (NOT_FOUND).
   */
  eraseTenantRows(tx: SqlExecutor, tenantId: string): Promise<void>;
  /** Removes a tenant's database and everything beside it. */
  dropTenant(tenantId: string): Promise<void>;
  /** True when the store answers and every known migration is applied. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** Runs a committed transaction's `afterCommit` callbacks; one that throws does not stop the rest. */
export function runCommitted(callbacks: readonly (() => void)[]): void {
  for (const f of callbacks) {
    try {
      f();
    } catch {
      // The transaction has committed: nothing a callback does may undo or fail it.
    }
  }
}
