import { createHash } from "node:crypto";
import { newId } from "../../lib/ids.ts";
import { redactDeep } from "../../lib/secret-patterns.ts";
import type { SqlExecutor } from "../../platform/storage/port.ts";
import type { AuditEventInput } from "./audit.schemas.ts";

const GENESIS = "0".repeat(64);

function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
}

/**
 * Appends one event inside the caller's transaction, chained to the previous event's hash.
 * Details pass through the secret registry so no credential can be written into the trail.
 */
export async function appendAuditEvent(tx: SqlExecutor, event: AuditEventInput, now: number): Promise<void> {
  const prev = await tx.get<{ hash: string }>("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1");
  const prevHash = prev?.hash ?? GENESIS;
  const row = {
    id: newId("event", now),
    ts: now,
    tenantId: event.tenantId,
    actorType: event.actor.type,
    actorId: event.actor.id,
    action: event.action,
    targetIds: event.targetIds ?? [],
    outcome: event.outcome ?? "success",
    requestId: event.origin?.requestId ?? null,
    clientIp: event.origin?.ip ?? null,
    userAgent: event.origin?.userAgent ?? null,
    details: event.details ? redactDeep(event.details) : null,
    prevHash,
  };
  const hash = createHash("sha256").update(canonical(row)).digest("hex");
  await tx.run(
    `INSERT INTO audit_events (id, ts, tenant_id, actor_type, actor_id, action, target_ids, outcome,
       request_id, client_ip, user_agent, details, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      row.id,
      row.ts,
      row.tenantId,
      row.actorType,
      row.actorId,
      row.action,
      JSON.stringify(row.targetIds),
      row.outcome,
      row.requestId,
      row.clientIp,
      row.userAgent,
      row.details ? JSON.stringify(row.details) : null,
      prevHash,
      hash,
    ],
  );
}

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
  details: string | null;
};

export async function listAuditEvents(db: SqlExecutor, afterSeq = 0, limit = 100): Promise<AuditRow[]> {
  return db.all<AuditRow>("SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?", [afterSeq, limit]);
}
