import type { SqlExecutor } from "../../platform/storage/port.ts";
import { CLAIM_LEASE_MS } from "./connectors.store.ts";

/** The outbound webhooks' rows: subscriptions and their queued deliveries, in the tenant's vault. */
export type WebhookRow = {
  id: string;
  tenant_id: string;
  url: string;
  events: string;
  /** The signing secret, sealed with the tenant cipher (record = the webhook id). */
  secret: string;
  status: "active" | "disabled";
  consecutive_failures: number;
  created_at: number;
  disabled_at: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_error: string | null;
};

export type OutboundRow = {
  id: string;
  webhook_id: string;
  event_type: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
};

export const outboundStore = {
  byId: (db: SqlExecutor, tenantId: string, id: string) =>
    db.get<WebhookRow>("SELECT * FROM outbound_webhooks WHERE tenant_id = ? AND id = ?", [tenantId, id]),
  list: (db: SqlExecutor, tenantId: string, after: string, limit: number) =>
    db.all<WebhookRow>("SELECT * FROM outbound_webhooks WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?", [
      tenantId,
      after,
      limit,
    ]),
  active: (db: SqlExecutor, tenantId: string) =>
    db.all<WebhookRow>("SELECT * FROM outbound_webhooks WHERE tenant_id = ? AND status = 'active'", [
      tenantId,
    ]),
  /**
   * Due deliveries. On PostgreSQL several gateways send, so due rows are claimed (skipping rows
   * another gateway is claiming) and not due again for CLAIM_LEASE_MS: each is sent once, unless
   * its gateway dies mid-send, when another sends it after the claim lapses (at least once).
   */
  due: async (db: SqlExecutor, now: number, limit: number): Promise<OutboundRow[]> => {
    if (db.dialect !== "postgres") {
      return db.all<OutboundRow>(
        "SELECT * FROM outbound_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        [now, limit],
      );
    }
    const rows = await db.all<OutboundRow>(
      `UPDATE outbound_deliveries SET next_attempt_at = ?
       WHERE id IN (SELECT id FROM outbound_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now + CLAIM_LEASE_MS, now, limit],
    );
    return rows.sort((a, b) => (a.id < b.id ? -1 : 1));
  },
  hasPending: (db: SqlExecutor) =>
    db
      .get<{ id: string }>("SELECT id FROM outbound_deliveries WHERE status = 'pending' LIMIT 1")
      .then(Boolean),
  enqueue: (
    tx: SqlExecutor,
    d: { id: string; webhookId: string; eventType: string; payload: string; now: number },
  ) =>
    tx.run(
      `INSERT INTO outbound_deliveries (id, webhook_id, event_type, payload, status, attempts, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)`,
      [d.id, d.webhookId, d.eventType, d.payload, d.now, d.now],
    ),
  /** Disables an active subscription and cancels its queued deliveries; false if it was not active. */
  async disable(tx: SqlExecutor, webhookId: string, now: number): Promise<boolean> {
    const r = await tx.run(
      "UPDATE outbound_webhooks SET status = 'disabled', disabled_at = ? WHERE id = ? AND status = 'active'",
      [now, webhookId],
    );
    if (r.changes === 0) return false;
    await tx.run(
      "UPDATE outbound_deliveries SET status = 'cancelled' WHERE webhook_id = ? AND status = 'pending'",
      [webhookId],
    );
    return true;
  },
  cancel: (db: SqlExecutor, deliveryId: string) =>
    db.run("UPDATE outbound_deliveries SET status = 'cancelled' WHERE id = ?", [deliveryId]),
  async delivered(tx: SqlExecutor, deliveryId: string, webhookId: string, now: number): Promise<void> {
    await tx.run(
      "UPDATE outbound_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ? WHERE id = ?",
      [now, deliveryId],
    );
    await tx.run("UPDATE outbound_webhooks SET consecutive_failures = 0, last_success_at = ? WHERE id = ?", [
      now,
      webhookId,
    ]);
  },
  async failed(
    tx: SqlExecutor,
    f: {
      deliveryId: string;
      webhookId: string;
      error: string;
      attempt: number;
      status: "failed" | "pending";
      nextAttemptAt: number;
      now: number;
    },
  ): Promise<void> {
    await tx.run(
      "UPDATE outbound_webhooks SET consecutive_failures = consecutive_failures + 1, last_failure_at = ?, last_error = ? WHERE id = ?",
      [f.now, f.error, f.webhookId],
    );
    await tx.run(
      "UPDATE outbound_deliveries SET attempts = ?, last_error = ?, status = ?, next_attempt_at = ? WHERE id = ?",
      [f.attempt, f.error, f.status, f.nextAttemptAt, f.deliveryId],
    );
  },
  insertWebhook: (tx: SqlExecutor, row: WebhookRow) =>
    tx.run(
      `INSERT INTO outbound_webhooks (id, tenant_id, url, events, secret, status, consecutive_failures, created_at)
       VALUES (?, ?, ?, ?, ?, 'active', 0, ?)`,
      [row.id, row.tenant_id, row.url, row.events, row.secret, row.created_at],
    ),
  removeWebhook: (tx: SqlExecutor, tenantId: string, id: string) =>
    tx.run("DELETE FROM outbound_webhooks WHERE tenant_id = ? AND id = ?", [tenantId, id]),
};
