import type { WrappedTenantKey } from "../../lib/crypto/index.ts";
import type { SqlExecutor } from "../../platform/storage/port.ts";

type Row = { tenant_id: string; master_version: number; wrapped: string };

const toRecord = (r: Row): WrappedTenantKey => ({
  tenantId: r.tenant_id,
  masterVersion: r.master_version,
  wrapped: r.wrapped,
});

export const tenantKeysStore = {
  insert: (tx: SqlExecutor, rec: WrappedTenantKey, now: number) =>
    tx.run("INSERT INTO tenant_keys (tenant_id, master_version, wrapped, created_at) VALUES (?, ?, ?, ?)", [
      rec.tenantId,
      rec.masterVersion,
      rec.wrapped,
      now,
    ]),
  async get(db: SqlExecutor, tenantId: string): Promise<WrappedTenantKey | undefined> {
    const r = await db.get<Row>(
      "SELECT tenant_id, master_version, wrapped FROM tenant_keys WHERE tenant_id = ?",
      [tenantId],
    );
    return r ? toRecord(r) : undefined;
  },
  async all(db: SqlExecutor): Promise<WrappedTenantKey[]> {
    const rows = await db.all<Row>(
      "SELECT tenant_id, master_version, wrapped FROM tenant_keys ORDER BY tenant_id",
    );
    return rows.map(toRecord);
  },
  count: async (db: SqlExecutor) =>
    (await db.get<{ n: number }>("SELECT count(*) AS n FROM tenant_keys"))?.n ?? 0,
  /** Replaces a record only if it still holds what was read, so a concurrent rewrap cannot be lost. */
  replace: (tx: SqlExecutor, before: WrappedTenantKey, after: WrappedTenantKey, now: number) =>
    tx.run(
      "UPDATE tenant_keys SET master_version = ?, wrapped = ?, rewrapped_at = ? WHERE tenant_id = ? AND wrapped = ?",
      [after.masterVersion, after.wrapped, now, before.tenantId, before.wrapped],
    ),
  remove: (tx: SqlExecutor, tenantId: string) =>
    tx.run("DELETE FROM tenant_keys WHERE tenant_id = ?", [tenantId]),
};
