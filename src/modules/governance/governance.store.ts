import type { SqlExecutor } from "../../platform/storage/port.ts";
import type { ApprovalRow, ApprovalStatus, FreezeRow } from "./governance.schemas.ts";

export const governanceStore = {
  // ---- tenant policy (tenant database) ----
  policy: (db: SqlExecutor) =>
    db.get<{ policy: string; version: number; updated_at: number }>(
      "SELECT policy, version, updated_at FROM tenant_policy WHERE id = 1",
    ),
  async putPolicy(tx: SqlExecutor, policy: string, now: number, by: string): Promise<number> {
    const r = await tx.get<{ version: number }>(
      `INSERT INTO tenant_policy (id, policy, version, updated_at, updated_by) VALUES (1, ?, 1, ?, ?)
       ON CONFLICT (${tx.dialect === "postgres" ? "tenant_id, id" : "id"}) DO UPDATE SET policy = excluded.policy, version = tenant_policy.version + 1,
         updated_at = excluded.updated_at, updated_by = excluded.updated_by
       RETURNING version`,
      [policy, now, by],
    );
    return r?.version ?? 1;
  },

  // ---- approvals (tenant database) ----
  insertApproval: (tx: SqlExecutor, r: ApprovalRow) =>
    tx.run(
      `INSERT INTO approvals (id, tenant_id, requester, key_id, agent, owner, operation, method, route, tier,
         payload_hash, required, approvals, status, version, created_at, expires_at, decided_at, consumed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.tenant_id,
        r.requester,
        r.key_id,
        r.agent,
        r.owner,
        r.operation,
        r.method,
        r.route,
        r.tier,
        r.payload_hash,
        r.required,
        r.approvals,
        r.status,
        r.version,
        r.created_at,
        r.expires_at,
        r.decided_at,
        r.consumed_at,
      ],
    ),
  approval: (db: SqlExecutor, tenantId: string, id: string) =>
    db.get<ApprovalRow>("SELECT * FROM approvals WHERE tenant_id = ? AND id = ?", [tenantId, id]),
  listApprovals: (
    db: SqlExecutor,
    tenantId: string,
    q: { status?: ApprovalStatus | undefined; keyId?: string | undefined; after: string; limit: number },
  ) =>
    db.all<ApprovalRow>(
      `SELECT * FROM approvals WHERE tenant_id = ? AND id > ?
         ${q.status ? "AND status = ?" : ""} ${q.keyId ? "AND key_id = ?" : ""}
       ORDER BY id LIMIT ?`,
      [tenantId, q.after, ...(q.status ? [q.status] : []), ...(q.keyId ? [q.keyId] : []), q.limit],
    ),
  /**
   * Compare-and-swap: moves an approval on only if nobody moved it since `version` was read.
   * Returns false when another decision (or vote) got there first.
   */
  async transition(
    tx: SqlExecutor,
    id: string,
    from: ApprovalStatus,
    version: number,
    set: { status: ApprovalStatus; approvals?: number; decidedAt?: number; consumedAt?: number },
  ): Promise<boolean> {
    const r = await tx.run(
      `UPDATE approvals SET status = ?, approvals = COALESCE(?, approvals), decided_at = COALESCE(?, decided_at),
         consumed_at = COALESCE(?, consumed_at), version = version + 1
       WHERE id = ? AND status = ? AND version = ?`,
      [set.status, set.approvals ?? null, set.decidedAt ?? null, set.consumedAt ?? null, id, from, version],
    );
    return r.changes === 1;
  },
  insertVote: (
    tx: SqlExecutor,
    approvalId: string,
    voter: string,
    decision: string,
    comment: string | null,
    at: number,
  ) =>
    tx.run(
      "INSERT INTO approval_votes (approval_id, voter, decision, comment, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      [approvalId, voter, decision, comment, at],
    ),
  pendingIds: (db: SqlExecutor, tenantId: string, match: { keyId?: string; agent?: string }) =>
    db.all<{ id: string; version: number }>(
      `SELECT id, version FROM approvals WHERE tenant_id = ? AND status = 'pending'
           ${match.keyId ? "AND key_id = ?" : ""} ${match.agent ? "AND agent = ?" : ""}`,
      [tenantId, ...(match.keyId ? [match.keyId] : []), ...(match.agent ? [match.agent] : [])],
    ),
  /**
   * Who made a key (created it, or rotated its predecessor into it), from the audit trail: the
   * caller of its first successful `key.created` / `key.rotated` event. A person, a key or the
   * instance admin; undefined when the trail no longer holds it.
   */
  keyMaker: (db: SqlExecutor, keyId: string) =>
    db.get<{ actor_type: string; actor_id: string }>(
      `SELECT actor_type, actor_id FROM audit_events
       WHERE action IN ('key.created', 'key.rotated') AND outcome = 'success'
         AND EXISTS (SELECT 1 FROM json_each(target_ids) j WHERE j.value = ?)
       ORDER BY seq LIMIT 1`,
      [keyId],
    ),

  // ---- pauses (tenant database) ----
  pause: (db: SqlExecutor, keyId: string) =>
    db.get<{ key_id: string; reason: string; paused_at: number }>(
      "SELECT * FROM agent_pauses WHERE key_id = ?",
      [keyId],
    ),
  insertPause: (tx: SqlExecutor, keyId: string, reason: string, at: number) =>
    tx.run("INSERT INTO agent_pauses (key_id, reason, paused_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [
      keyId,
      reason,
      at,
    ]),
  deletePause: (tx: SqlExecutor, keyId: string) =>
    tx.run("DELETE FROM agent_pauses WHERE key_id = ?", [keyId]),

  // ---- freezes (control database) ----
  upsertFreeze: (tx: SqlExecutor, r: FreezeRow) =>
    tx.run(
      `INSERT INTO agent_freezes (target, scope, tenant_id, agent, key_id, reason, set_by, set_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (target) DO UPDATE SET reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at`,
      [r.target, r.scope, r.tenant_id, r.agent, r.key_id, r.reason, r.set_by, r.set_at],
    ),
  deleteFreeze: (tx: SqlExecutor, target: string) =>
    tx.run("DELETE FROM agent_freezes WHERE target = ?", [target]),
  /** The freeze set on exactly this target (`key:<tenant>:<key>`, …), if any. */
  freezeOf: (db: SqlExecutor, target: string) =>
    db.get<FreezeRow>("SELECT * FROM agent_freezes WHERE target = ?", [target]),
  /** The freeze that stops this subject, if any (global, its tenant, its key or its agent name). */
  freezeFor: (db: SqlExecutor, tenantId: string, keyId: string | null, agent: string | null) =>
    db.get<FreezeRow>(
      `SELECT * FROM agent_freezes WHERE target IN ('global', ?, ?, ?) ORDER BY set_at LIMIT 1`,
      [
        `tenant:${tenantId}`,
        keyId ? `key:${tenantId}:${keyId}` : "-",
        agent ? `agent:${tenantId}:${agent}` : "-",
      ],
    ),
  listFreezes: (db: SqlExecutor, tenantId: string | null) =>
    tenantId === null
      ? db.all<FreezeRow>("SELECT * FROM agent_freezes ORDER BY set_at, target")
      : db.all<FreezeRow>(
          "SELECT * FROM agent_freezes WHERE scope = 'global' OR tenant_id = ? ORDER BY set_at, target",
          [tenantId],
        ),
};
