import type { SqlExecutor } from "../../platform/storage/port.ts";
import type { TenantRow } from "./tenants.schemas.ts";

export const tenantsStore = {
  insert: (tx: SqlExecutor, row: TenantRow) =>
    tx.run(
      "INSERT INTO tenants (id, name, status, encryption, storage, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      [row.id, row.name, row.status, row.encryption, row.storage, row.created_at],
    ),
  byId: (db: SqlExecutor, id: string) => db.get<TenantRow>("SELECT * FROM tenants WHERE id = ?", [id]),
  byName: (db: SqlExecutor, name: string) =>
    db.get<TenantRow>("SELECT * FROM tenants WHERE name = ?", [name]),
  list: (db: SqlExecutor, afterId: string, limit: number) =>
    db.all<TenantRow>("SELECT * FROM tenants WHERE id > ? ORDER BY id LIMIT ?", [afterId, limit]),
  ids: async (db: SqlExecutor, afterId: string, limit: number) =>
    (
      await db.all<{ id: string }>("SELECT id FROM tenants WHERE id > ? ORDER BY id LIMIT ?", [
        afterId,
        limit,
      ])
    ).map((r) => r.id),
  /** Key index rows go with it (ON DELETE CASCADE), and on PostgreSQL every tenant table's rows of it. */
  remove: (tx: SqlExecutor, id: string) => tx.run("DELETE FROM tenants WHERE id = ?", [id]),
};
