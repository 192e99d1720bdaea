import type { SqlExecutor } from "../../platform/storage/port.ts";
import type { ReplayStore } from "./replay.ts";

export type ConnectorRow = {
  id: string;
  tenant_id: string;
  name: string;
  source: string;
  /** The parsed config without its inline secret, as JSON. */
  config: string;
  /** The inline signing secret, sealed with the tenant cipher (`connectors.sealing.ts`); never leaves the service. */
  secret: string | null;
  created_at: number;
  updated_at: number;
  /** During a rotation: the secret being replaced, sealed like `secret` (field `previous_secret`). */
  previous_secret?: string | null;
  /** When the previous secret stops verifying (epoch ms). */
  previous_secret_expires_at?: number | null;
  rotated_at?: number | null;
};

export type OutcomeKind = "stored" | "ignored" | "dead";
export type OutcomeRow = { outcome: OutcomeKind; reason: string; count: number; last_at: number };

export type DeliveryStatus = "pending" | "done" | "ignored" | "dead";

export type DeliveryRow = {
  id: string;
  tenant_id: string;
  connector_id: string;
  delivery_id: string;
  status: DeliveryStatus;
  headers: string;
  /** The raw payload, sealed with the tenant cipher (record = this row's id, field `payload`). */
  body: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  memory_ids: string | null;
  received_at: number;
  processed_at: number | null;
  dead_at: number | null;
};

export type HealthRow = {
  connector_id: string;
  last_delivery_at: number | null;
  last_rejected_at: number | null;
  accepted: number;
  duplicates: number;
  signature_failures: number;
  processed: number;
  failures: number;
  latency_ms_total: number;
  latency_samples: number;
  previous_secret_verified: number;
};

export type HealthDelta = Partial<
  Pick<
    HealthRow,
    | "accepted"
    | "duplicates"
    | "signature_failures"
    | "processed"
    | "failures"
    | "latency_samples"
    | "previous_secret_verified"
  >
> & { latency_ms?: number; last_delivery_at?: number; last_rejected_at?: number };

/** How long a claimed delivery stays with the gateway that claimed it (PostgreSQL). */
export const CLAIM_LEASE_MS = 5 * 60_000;

export const connectorsStore = {
  insert: (tx: SqlExecutor, r: ConnectorRow) =>
    tx.run(
      `INSERT INTO connectors (id, tenant_id, name, source, config, secret, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.id, r.tenant_id, r.name, r.source, r.config, r.secret, r.created_at, r.updated_at],
    ),
  update: (tx: SqlExecutor, r: ConnectorRow) =>
    tx.run(
      "UPDATE connectors SET name = ?, source = ?, config = ?, secret = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
      [r.name, r.source, r.config, r.secret, r.updated_at, r.tenant_id, r.id],
    ),
  byId: (db: SqlExecutor, tenantId: string, id: string) =>
    db.get<ConnectorRow>("SELECT * FROM connectors WHERE tenant_id = ? AND id = ?", [tenantId, id]),
  byName: (db: SqlExecutor, tenantId: string, name: string) =>
    db.get<ConnectorRow>("SELECT * FROM connectors WHERE tenant_id = ? AND name = ?", [tenantId, name]),
  list: (db: SqlExecutor, tenantId: string, afterId: string, limit: number) =>
    db.all<ConnectorRow>("SELECT * FROM connectors WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", [
      tenantId,
      afterId,
      limit,
    ]),
  remove: async (tx: SqlExecutor, tenantId: string, id: string) => {
    await tx.run("DELETE FROM connector_health WHERE connector_id = ?", [id]);
    await tx.run("DELETE FROM connector_outcomes WHERE connector_id = ?", [id]);
    await tx.run("DELETE FROM webhook_replay WHERE connector_id = ?", [id]);
    return tx.run("DELETE FROM connectors WHERE tenant_id = ? AND id = ?", [tenantId, id]);
  },

  health: (db: SqlExecutor, connectorId: string) =>
    db.get<HealthRow>("SELECT * FROM connector_health WHERE connector_id = ?", [connectorId]),
  /** Adds counters to a connector's health row, creating it on first use. */
  bumpHealth: (db: SqlExecutor, connectorId: string, d: HealthDelta) =>
    db.run(
      `INSERT INTO connector_health (connector_id, last_delivery_at, last_rejected_at, accepted, duplicates,
         signature_failures, processed, failures, latency_ms_total, latency_samples, previous_secret_verified)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (connector_id) DO UPDATE SET
         last_delivery_at = COALESCE(excluded.last_delivery_at, connector_health.last_delivery_at),
         last_rejected_at = COALESCE(excluded.last_rejected_at, connector_health.last_rejected_at),
         accepted = connector_health.accepted + excluded.accepted,
         duplicates = connector_health.duplicates + excluded.duplicates,
         signature_failures = connector_health.signature_failures + excluded.signature_failures,
         processed = connector_health.processed + excluded.processed,
         failures = connector_health.failures + excluded.failures,
         latency_ms_total = connector_health.latency_ms_total + excluded.latency_ms_total,
         latency_samples = connector_health.latency_samples + excluded.latency_samples,
         previous_secret_verified = connector_health.previous_secret_verified + excluded.previous_secret_verified`,
      [
        connectorId,
        d.last_delivery_at ?? null,
        d.last_rejected_at ?? null,
        d.accepted ?? 0,
        d.duplicates ?? 0,
        d.signature_failures ?? 0,
        d.processed ?? 0,
        d.failures ?? 0,
        d.latency_ms ?? 0,
        d.latency_ms === undefined ? 0 : 1,
        d.previous_secret_verified ?? 0,
      ],
    ),
  /** Counts one delivery's outcome under its reason (`memories`, `event_unsupported`, ...). */
  bumpOutcome: (db: SqlExecutor, connectorId: string, outcome: OutcomeKind, reason: string, at: number) =>
    db.run(
      `INSERT INTO connector_outcomes (connector_id, outcome, reason, count, last_at) VALUES (?, ?, ?, 1, ?)
       ON CONFLICT (connector_id, outcome, reason) DO UPDATE SET count = connector_outcomes.count + 1, last_at = excluded.last_at`,
      [connectorId, outcome, reason, at],
    ),
  outcomes: (db: SqlExecutor, connectorId: string) =>
    db.all<OutcomeRow>(
      "SELECT outcome, reason, count, last_at FROM connector_outcomes WHERE connector_id = ? ORDER BY outcome, reason",
      [connectorId],
    ),
  /** Starts a rotation: the new secret becomes current, the old one verifies until `expiresAt`. */
  setRotation: (
    tx: SqlExecutor,
    tenantId: string,
    id: string,
    r: { secret: string; previous: string | null; expiresAt: number | null; at: number },
  ) =>
    tx.run(
      `UPDATE connectors SET secret = ?, previous_secret = ?, previous_secret_expires_at = ?, rotated_at = ?,
         updated_at = ? WHERE tenant_id = ? AND id = ?`,
      [r.secret, r.previous, r.expiresAt, r.at, r.at, tenantId, id],
    ),
  /** Ends a rotation's grace period; false when there was none (or it already ended). */
  clearPrevious: (tx: SqlExecutor, tenantId: string, id: string, at: number) =>
    tx
      .run(
        `UPDATE connectors SET previous_secret = NULL, previous_secret_expires_at = NULL, updated_at = ?
         WHERE tenant_id = ? AND id = ? AND previous_secret IS NOT NULL`,
        [at, tenantId, id],
      )
      .then((r) => r.changes === 1),
  countDeliveries: (db: SqlExecutor, connectorId: string, status: DeliveryStatus) =>
    db
      .get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE connector_id = ? AND status = ?",
        [connectorId, status],
      )
      .then((r) => r?.n ?? 0),

  insertDelivery: (tx: SqlExecutor, r: DeliveryRow) =>
    tx
      .run(
        `INSERT INTO webhook_deliveries (id, tenant_id, connector_id, delivery_id, status, headers, body, attempts,
         next_attempt_at, last_error, memory_ids, received_at, processed_at, dead_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (connector_id, delivery_id) DO NOTHING`,
        [
          r.id,
          r.tenant_id,
          r.connector_id,
          r.delivery_id,
          r.status,
          r.headers,
          r.body,
          r.attempts,
          r.next_attempt_at,
          r.last_error,
          r.memory_ids,
          r.received_at,
          r.processed_at,
          r.dead_at,
        ],
      )
      .then((res) => res.changes === 1),
  deliveryById: (db: SqlExecutor, tenantId: string, id: string) =>
    db.get<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE tenant_id = ? AND id = ?", [tenantId, id]),
  /**
   * Due deliveries. On PostgreSQL several gateways poll one inbox, so each due row is claimed: rows
   * another gateway is claiming are skipped (FOR UPDATE SKIP LOCKED) and a claimed row is not due
   * again for CLAIM_LEASE_MS, by when it is finished or rescheduled (or its gateway died and another
   * takes it). Finishing stays a compare-and-swap on `pending`, so a delivery is processed once.
   */
  due: async (db: SqlExecutor, now: number, limit: number): Promise<DeliveryRow[]> => {
    if (db.dialect !== "postgres") {
      return db.all<DeliveryRow>(
        "SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        [now, limit],
      );
    }
    const rows = await db.all<DeliveryRow>(
      `UPDATE webhook_deliveries SET next_attempt_at = ?
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now + CLAIM_LEASE_MS, now, limit],
    );
    return rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || (a.id < b.id ? -1 : 1));
  },
  nextDueAt: (db: SqlExecutor) =>
    db
      .get<{ at: number | null }>(
        "SELECT MIN(next_attempt_at) AS at FROM webhook_deliveries WHERE status = 'pending'",
      )
      .then((r) => r?.at ?? null),
  /** Moves a pending delivery to a final state; false when another run already did. */
  finish: (
    tx: SqlExecutor,
    id: string,
    status: "done" | "ignored",
    memoryIds: readonly string[],
    note: string | null,
    at: number,
  ) =>
    tx
      .run(
        `UPDATE webhook_deliveries SET status = ?, memory_ids = ?, last_error = ?, processed_at = ?,
           attempts = attempts + 1 WHERE id = ? AND status = 'pending'`,
        [status, JSON.stringify(memoryIds), note, at, id],
      )
      .then((r) => r.changes === 1),
  retryLater: (tx: SqlExecutor, id: string, error: string, nextAt: number) =>
    tx.run(
      "UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'",
      [error, nextAt, id],
    ),
  deadLetter: (tx: SqlExecutor, id: string, error: string, at: number) =>
    tx
      .run(
        "UPDATE webhook_deliveries SET status = 'dead', attempts = attempts + 1, last_error = ?, dead_at = ? WHERE id = ? AND status = 'pending'",
        [error, at, id],
      )
      .then((r) => r.changes === 1),
  /** Puts a dead letter back in the inbox; false when it is not (or no longer) dead. */
  requeue: (tx: SqlExecutor, tenantId: string, id: string, at: number) =>
    tx
      .run(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, dead_at = NULL WHERE tenant_id = ? AND id = ? AND status = 'dead'",
        [at, tenantId, id],
      )
      .then((r) => r.changes === 1),
  /** A connector's newest deliveries, without their headers or payload. */
  recentDeliveries: (db: SqlExecutor, tenantId: string, connectorId: string, limit: number) =>
    db.all<Omit<DeliveryRow, "headers" | "body">>(
      `SELECT id, tenant_id, connector_id, delivery_id, status, attempts, next_attempt_at, last_error, memory_ids,
         received_at, processed_at, dead_at
       FROM webhook_deliveries WHERE tenant_id = ? AND connector_id = ? ORDER BY received_at DESC, id DESC LIMIT ?`,
      [tenantId, connectorId, limit],
    ),
  deadLetters: (db: SqlExecutor, tenantId: string, afterId: string, limit: number, connectorId?: string) =>
    connectorId === undefined
      ? db.all<DeliveryRow>(
          "SELECT * FROM webhook_deliveries WHERE tenant_id = ? AND status = 'dead' AND id > ? ORDER BY id LIMIT ?",
          [tenantId, afterId, limit],
        )
      : db.all<DeliveryRow>(
          "SELECT * FROM webhook_deliveries WHERE tenant_id = ? AND status = 'dead' AND connector_id = ? AND id > ? ORDER BY id LIMIT ?",
          [tenantId, connectorId, afterId, limit],
        ),
};

/**
 * The replay store on the tenant vault, bound to the transaction that also writes the inbox row: the
 * id is remembered exactly when the delivery is kept, so a crash cannot leave one without the other.
 */
export function sqlReplayStore(tx: SqlExecutor, now: number): ReplayStore {
  return {
    async seen(_tenantId, connectorId, deliveryId, expiresAtMs) {
      const r = await tx.run(
        `INSERT INTO webhook_replay (connector_id, delivery_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (connector_id, delivery_id) DO UPDATE SET expires_at = excluded.expires_at
         WHERE webhook_replay.expires_at <= ?`,
        [connectorId, deliveryId, expiresAtMs, now],
      );
      return r.changes === 0;
    },
  };
}
