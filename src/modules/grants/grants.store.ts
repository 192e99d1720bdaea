import type { SqlExecutor } from "../../platform/storage/port.ts";
import type { GrantRow } from "./grants.schemas.ts";

export const grantsStore = {
  insert: (tx: SqlExecutor, r: GrantRow) =>
    tx.run(
      `INSERT INTO namespace_grants (id, tenant_id, grantee_namespace, source_namespace, types, created_at, expires_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.tenant_id,
        r.grantee_namespace,
        r.source_namespace,
        r.types,
        r.created_at,
        r.expires_at,
        r.revoked_at,
      ],
    ),
  byId: (db: SqlExecutor, tenantId: string, id: string) =>
    db.get<GrantRow>("SELECT * FROM namespace_grants WHERE tenant_id = ? AND id = ?", [tenantId, id]),
  list: (db: SqlExecutor, tenantId: string, afterId: string, limit: number) =>
    db.all<GrantRow>("SELECT * FROM namespace_grants WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", [
      tenantId,
      afterId,
      limit,
    ]),
  active: (db: SqlExecutor, tenantId: string, now: number) =>
    db.all<GrantRow>(
      `SELECT * FROM namespace_grants WHERE tenant_id = ? AND revoked_at IS NULL
         AND (expires_at IS NULL OR expires_at > ?) ORDER BY id LIMIT 500`,
      [tenantId, now],
    ),
  revoke: (tx: SqlExecutor, tenantId: string, id: string, at: number) =>
    tx.run(
      "UPDATE namespace_grants SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
      [at, tenantId, id],
    ),
};
