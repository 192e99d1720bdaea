import type { SqlExecutor, SqlValue } from "../../platform/storage/port.ts";
import type { AuditEvent } from "./chain.ts";

/** A stored event; any column may have been tampered with, so everything is read as it is. */
export type AuditRow = {
  seq: number;
  id: string;
  ts: number;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string;
  action: string;
  target_ids: string;
  outcome: string;
  request_id: string | null;
  client_ip: string | null;
  user_agent: string | null;
  details: string | null;
  prev_hash: string | null;
  hash: string | null;
};

export type AuditFilters = {
  since?: number | undefined;
  until?: number | undefined;
  actorId?: string | undefined;
  /** Exact action, or a prefix when it ends in ".*". */
  action?: string | undefined;
  outcome?: string | undefined;
  suspicious?: { actions: readonly string[] } | undefined;
};

function filterClause(f: AuditFilters): { sql: string; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  if (f.since !== undefined) {
    parts.push("ts >= ?");
    params.push(f.since);
  }
  if (f.until !== undefined) {
    parts.push("ts < ?");
    params.push(f.until);
  }
  if (f.actorId !== undefined) {
    parts.push("actor_id = ?");
    params.push(f.actorId);
  }
  if (f.action !== undefined) {
    if (f.action.endsWith(".*")) {
      parts.push("substr(action, 1, ?) = ?");
      const prefix = f.action.slice(0, -1);
      params.push(prefix.length, prefix);
    } else {
      parts.push("action = ?");
      params.push(f.action);
    }
  }
  if (f.outcome !== undefined) {
    parts.push("outcome = ?");
    params.push(f.outcome);
  }
  if (f.suspicious) {
    const ors = ["outcome <> 'success'"];
    if (f.suspicious.actions.length) {
      ors.push(`action IN (${f.suspicious.actions.map(() => "?").join(", ")})`);
      params.push(...f.suspicious.actions);
    }
    parts.push(`(${ors.join(" OR ")})`);
  }
  return { sql: parts.length ? parts.join(" AND ") : "TRUE", params };
}

export const auditStore = {
  head: (tx: SqlExecutor) =>
    tx.get<{ seq: number; hash: string }>("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"),

  /** The newest retention anchor (a signed checkpoint, JSON), if retention ever ran. */
  latestAnchor: async (db: SqlExecutor) =>
    (await db.get<{ anchor: string }>("SELECT anchor FROM audit_retention ORDER BY through_seq DESC LIMIT 1"))
      ?.anchor,

  insert: (tx: SqlExecutor, id: string, e: AuditEvent, tsMs: number) =>
    tx.run(
      `INSERT INTO audit_events (seq, id, ts, tenant_id, actor_type, actor_id, action, target_ids, outcome,
         request_id, client_ip, user_agent, details, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        e.seq,
        id,
        tsMs,
        e.tenantId,
        e.actorType,
        e.actorId,
        e.action,
        JSON.stringify(e.targetIds),
        e.outcome,
        e.requestId,
        e.clientIp,
        e.userAgent,
        e.details === undefined ? null : JSON.stringify(e.details),
        e.prevHash,
        e.hash,
      ],
    ),

  /** The details of every `audit.anchored` event naming `chainId` (instance chain), oldest first. */
  anchorsFor: async (db: SqlExecutor, chainId: string) =>
    (
      await db.all<{ details: string | null }>(
        "SELECT details FROM audit_events WHERE action = 'audit.anchored' AND target_ids = ? ORDER BY seq",
        [JSON.stringify([chainId])],
      )
    ).flatMap((r) => (r.details === null ? [] : [r.details])),

  /** Every `audit.anchored` event of the instance chain (its seq, target and details). */
  allAnchors: (db: SqlExecutor) =>
    db.all<{ seq: number; target_ids: string; details: string | null }>(
      "SELECT seq, target_ids, details FROM audit_events WHERE action = 'audit.anchored' ORDER BY seq",
    ),

  /** Events after `seq`, oldest first (verification, forwarding). */
  after: (db: SqlExecutor, seq: number, limit: number) =>
    db.all<AuditRow>("SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit]),

  /** Newest first, before the cursor seq. */
  page(db: SqlExecutor, f: AuditFilters, beforeSeq: number | undefined, limit: number) {
    const fil = filterClause(f);
    return db.all<AuditRow>(
      `SELECT * FROM audit_events WHERE ${fil.sql} ${beforeSeq !== undefined ? "AND seq < ?" : ""}
       ORDER BY seq DESC LIMIT ?`,
      [...fil.params, ...(beforeSeq !== undefined ? [beforeSeq] : []), limit],
    );
  },

  /** Records the anchor first: the delete trigger lets through only rows at or below it. */
  async dropThrough(tx: SqlExecutor, throughSeq: number, anchor: string, now: number): Promise<number> {
    const n = await tx.get<{ n: number }>("SELECT count(*) AS n FROM audit_events WHERE seq <= ?", [
      throughSeq,
    ]);
    await tx.run(
      "INSERT INTO audit_retention (through_seq, anchor, dropped, created_at) VALUES (?, ?, ?, ?)",
      [throughSeq, anchor, n?.n ?? 0, now],
    );
    const r = await tx.run("DELETE FROM audit_events WHERE seq <= ?", [throughSeq]);
    return r.changes;
  },
};
