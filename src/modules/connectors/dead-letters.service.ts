import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { EventBus } from "../../platform/events/bus.ts";
import type { SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import { toDeadLetter } from "./connectors.contracts.ts";
import { type CipherOf, openField } from "./connectors.sealing.ts";
import { connectorsStore } from "./connectors.store.ts";

/**
 * The dead-letter store is the inbox rows in state `dead`. Replaying one puts it back in the inbox
 * with a fresh attempt budget; replaying something that is not dead changes nothing (idempotent), and
 * every replay that happened is audited in the same transaction.
 */
export function createDeadLettersService(deps: {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  events: EventBus;
  audit: AuditSink;
  cipher: CipherOf;
  onRequeued: (tenantId: string) => void;
}) {
  const { storage, clock, tenants, events } = deps;

  async function requeue(tx: SqlExecutor, actor: Actor, tenantId: string, id: string, now: number) {
    const moved = await connectorsStore.requeue(tx, tenantId, id, now);
    if (moved) {
      await deps.audit(
        tx,
        { tenantId, actor, action: "delivery.replayed", targetIds: [id], origin: actor.origin },
        now,
      );
    }
    return moved;
  }

  return {
    async list(
      actor: Actor,
      tenantId: string,
      q: { after?: string | undefined; limit: number; connectorId?: string | undefined },
    ) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "deadletters:manage");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const rows = await connectorsStore.deadLetters(db, tenantId, q.after ?? "", q.limit + 1, q.connectorId);
      const cipher = await deps.cipher(tenantId);
      const items = rows
        .slice(0, q.limit)
        .map((row) => toDeadLetter(row, openField(cipher, row.id, "payload", row.body)));
      return { items, next_cursor: rows.length > q.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async replay(actor: Actor, tenantId: string, id: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "deadletters:manage");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      const result = await db.transaction(async (tx) => {
        const row = await connectorsStore.deliveryById(tx, tenantId, id);
        if (!row) throw new AppError("NOT_FOUND", "delivery not found");
        const replayed = await requeue(tx, actor, tenantId, id, now);
        return { id, status: replayed ? "pending" : row.status, replayed };
      });
      if (result.replayed) {
        events.publish(tenantId, "dead_letter.replayed", { deliveries: [id], count: 1 });
        deps.onRequeued(tenantId);
      }
      return result;
    },

    async replayAll(actor: Actor, tenantId: string, q: { connectorId?: string | undefined; limit: number }) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "deadletters:manage");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      const ids = await db.transaction(async (tx) => {
        const rows = await connectorsStore.deadLetters(tx, tenantId, "", q.limit, q.connectorId);
        const out: string[] = [];
        for (const row of rows) if (await requeue(tx, actor, tenantId, row.id, now)) out.push(row.id);
        return out;
      });
      if (ids.length > 0) {
        events.publish(tenantId, "dead_letter.replayed", {
          deliveries: ids.slice(0, 100),
          count: ids.length,
        });
        deps.onRequeued(tenantId);
      }
      return { replayed: ids.length, ids };
    },
  };
}

export type DeadLettersService = ReturnType<typeof createDeadLettersService>;
