import type { SqlExecutor } from "../../platform/storage/port.ts";
import type { KeyRow } from "./keys.schemas.ts";

export const keysStore = {
  insert: (tx: SqlExecutor, r: KeyRow) =>
    tx.run(
      `INSERT INTO api_keys (id, tenant_id, agent, name, hash, start, scopes, capabilities, namespaces,
         rate_limit_per_minute, created_at, expires_at, revoked_at, last_used_at, rotated_to, made_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.tenant_id,
        r.agent,
        r.name,
        r.hash,
        r.start,
        r.scopes,
        r.capabilities,
        r.namespaces,
        r.rate_limit_per_minute,
        r.created_at,
        r.expires_at,
        r.revoked_at,
        r.last_used_at,
        r.rotated_to,
        r.made_by,
      ],
    ),
  byId: (db: SqlExecutor, tenantId: string, id: string) =>
    db.get<KeyRow>("SELECT * FROM api_keys WHERE tenant_id = ? AND id = ?", [tenantId, id]),
  /** Every key ever made under an agent name (revoked and expired ones too): who made each. */
  makersOfAgent: (db: SqlExecutor, tenantId: string, agent: string) =>
    db.all<{ id: string; made_by: string | null }>(
      "SELECT id, made_by FROM api_keys WHERE tenant_id = ? AND agent = ?",
      [tenantId, agent],
    ),
  byHash: (db: SqlExecutor, tenantId: string, hash: string) =>
    db.get<KeyRow>("SELECT * FROM api_keys WHERE tenant_id = ? AND hash = ?", [tenantId, hash]),
  list: (db: SqlExecutor, tenantId: string, afterId: string, limit: number) =>
    db.all<KeyRow>("SELECT * FROM api_keys WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", [
      tenantId,
      afterId,
      limit,
    ]),
  revoke: (tx: SqlExecutor, tenantId: string, id: string, at: number) =>
    tx.run("UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL", [
      at,
      tenantId,
      id,
    ]),
  /** Marks a key replaced and makes it expire at the end of its grace period. */
  markRotated: (tx: SqlExecutor, tenantId: string, id: string, to: string, expiresAt: number) =>
    tx.run(
      `UPDATE api_keys SET rotated_to = ?, expires_at = CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END
       WHERE tenant_id = ? AND id = ?`,
      [to, expiresAt, expiresAt, tenantId, id],
    ),
  touch: (db: SqlExecutor, tenantId: string, id: string, at: number) =>
    db.run("UPDATE api_keys SET last_used_at = ? WHERE tenant_id = ? AND id = ?", [at, tenantId, id]),

  // control database
  indexInsert: (tx: SqlExecutor, hash: string, tenantId: string, keyId: string) =>
    tx.run("INSERT INTO key_index (hash, tenant_id, key_id) VALUES (?, ?, ?)", [hash, tenantId, keyId]),
  indexLookup: (db: SqlExecutor, hash: string) =>
    db.get<{ tenant_id: string; key_id: string }>("SELECT tenant_id, key_id FROM key_index WHERE hash = ?", [
      hash,
    ]),
};
