import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Clock } from "../../lib/clock.ts";
import type { EgressGuard } from "../../lib/egress/egress-guard.ts";
import { AppError } from "../../lib/errors.ts";
import { idPattern, newId } from "../../lib/ids.ts";
import type { Logger } from "../../lib/logger.ts";
import { createSerialRunner } from "../../lib/serial.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { BusEvent, EventBus, StagedEvent } from "../../platform/events/bus.ts";
import type { Database, SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { Telemetry } from "../../platform/telemetry.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import { iso } from "./connectors.contracts.ts";
import { type CipherOf, openField, sealField } from "./connectors.sealing.ts";
import { type Backoff, backoffDelay } from "./delivery-worker.ts";
import { type OutboundRow, outboundStore, type WebhookRow } from "./outbound.store.ts";
import { HYPHA_SIGNATURE_HEADER, signOutbound } from "./outbound-signing.ts";

/** Events a tenant may subscribe a URL to. */
export const OUTBOUND_EVENTS = [
  "memory.created",
  "memory.deleted",
  "dead_letter.created",
  "approval.requested",
  "approval.decided",
  "killswitch.changed",
  "agent.paused",
  "agent.resumed",
  "anomaly.recall_volume",
] as const;
export type OutboundEvent = (typeof OUTBOUND_EVENTS)[number];
const OUTBOUND_SET: ReadonlySet<string> = new Set(OUTBOUND_EVENTS);

export const webhookIdSchema = z.string().regex(idPattern("webhook"), "a webhook id (whk_…)");
export const createWebhookBody = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  events: z.array(z.enum(OUTBOUND_EVENTS)).min(1).max(OUTBOUND_EVENTS.length),
});
export const webhookSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  status: z.enum(["active", "disabled"]),
  consecutive_failures: z.number(),
  created_at: z.string(),
  disabled_at: z.string().nullable(),
  last_success_at: z.string().nullable(),
  last_failure_at: z.string().nullable(),
  last_error: z.string().nullable(),
});
/** Creation answers once with the signing secret. */
export const createdWebhookSchema = webhookSchema.extend({ secret: z.string() });

const toView = (r: WebhookRow) => ({
  id: r.id,
  tenant_id: r.tenant_id,
  url: r.url,
  events: JSON.parse(r.events) as string[],
  status: r.status,
  consecutive_failures: r.consecutive_failures,
  created_at: new Date(r.created_at).toISOString(),
  disabled_at: iso(r.disabled_at),
  last_success_at: iso(r.last_success_at),
  last_failure_at: iso(r.last_failure_at),
  last_error: r.last_error,
});

/** Outbound delivery policy: retries per delivery, and consecutive failed attempts before disabling. */
export type OutboundPolicy = Backoff & { disableAfterFailures: number };
export const DEFAULT_OUTBOUND_POLICY: OutboundPolicy = {
  baseMs: 2000,
  maxMs: 30 * 60_000,
  maxAttempts: 8,
  disableAfterFailures: 20,
};

/**
 * Outbound webhooks: tenants subscribe URLs to events. Each matching event is queued in the vault
 * (`outbound_deliveries`) and sent by `drain` outside any transaction, through the egress guard
 * (operator allowlist, no redirects, capped size and time), signed with `X-Hypha-Signature`. Failures
 * back off exponentially with full jitter; a subscription is disabled after `disableAfterFailures` failed attempts in a
 * row, and its queued deliveries are cancelled.
 */
export function createOutboundService(deps: {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  events: EventBus;
  egress: EgressGuard;
  logger: Logger;
  audit: AuditSink;
  cipher: CipherOf;
  listTenants: () => Promise<string[]>;
  policy?: OutboundPolicy;
  /** The kill switch: false while the tenant is frozen; its deliveries then wait, no attempt spent. */
  tenantAllowed?: (tenantId: string) => Promise<boolean>;
  /** A span and stage timing per send (`worker.outbound_send`). */
  telemetry?: Telemetry;
}) {
  const { storage, clock, tenants, events, egress, logger } = deps;
  const policy = deps.policy ?? DEFAULT_OUTBOUND_POLICY;
  const hot = new Set<string>();
  const enqueueing = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | null = null;
  const serial = createSerialRunner();

  /** Queues a notice per subscription that wants the event, in the transaction `tx`. */
  async function queueIn(tx: SqlExecutor, event: StagedEvent): Promise<number> {
    const subs = (await outboundStore.active(tx, event.tenantId)).filter((s) =>
      (JSON.parse(s.events) as string[]).includes(event.type),
    );
    const now = clock.now();
    for (const s of subs) {
      const id = newId("event", now);
      const payload = JSON.stringify({
        id,
        type: event.type,
        tenant_id: event.tenantId,
        created_at: new Date(event.at).toISOString(),
        data: event.data,
      });
      await outboundStore.enqueue(tx, { id, webhookId: s.id, eventType: event.type, payload, now });
    }
    return subs.length;
  }

  /** An event published after its change committed: its notices get a transaction of their own. */
  async function enqueue(event: BusEvent): Promise<void> {
    const db = await storage.tenant(event.tenantId);
    const subs = (await outboundStore.active(db, event.tenantId)).filter((s) =>
      (JSON.parse(s.events) as string[]).includes(event.type),
    );
    if (subs.length === 0) return;
    await db.transaction((tx) => queueIn(tx, event));
    hot.add(event.tenantId);
  }

  // An event published with the change (`publishIn`) has its notices queued in the change's own
  // transaction: a gateway that dies right after the commit loses none of them.
  const stopCommitting = events.onCommitting(async (tx, event) => {
    if (!OUTBOUND_SET.has(event.type)) return;
    if ((await queueIn(tx, event)) > 0) tx.afterCommit(() => hot.add(event.tenantId));
  });

  const unsubscribe = events.subscribeAll((event) => {
    if (!OUTBOUND_SET.has(event.type) || event.queued) return;
    const p = enqueue(event)
      .catch((err) => logger.error({ err, tenantId: event.tenantId }, "could not queue outbound webhook"))
      .finally(() => enqueueing.delete(p));
    enqueueing.add(p);
  });

  async function disable(db: Database, row: WebhookRow, now: number): Promise<void> {
    const changed = await db.transaction(async (tx) => {
      if (!(await outboundStore.disable(tx, row.id, now))) return false;
      await deps.audit(
        tx,
        {
          tenantId: row.tenant_id,
          actor: { type: "system", id: "outbound_webhooks" },
          action: "webhook.disabled",
          outcome: "error",
          targetIds: [row.id],
          details: { consecutive_failures: row.consecutive_failures + 1 },
        },
        now,
      );
      return true;
    });
    if (changed) events.publish(row.tenant_id, "webhook.disabled", { webhook: row.id });
  }

  async function sendOne(db: Database, tenantId: string, d: OutboundRow): Promise<void> {
    const sub = await outboundStore.byId(db, tenantId, d.webhook_id);
    if (sub?.status !== "active") {
      await outboundStore.cancel(db, d.id);
      return;
    }
    const now = clock.now();
    const secret = openField(await deps.cipher(tenantId), sub.id, "secret", sub.secret).toString("utf8");
    const result = await egress.fetch(sub.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "hypha-webhooks/1",
        [HYPHA_SIGNATURE_HEADER.toLowerCase()]: signOutbound(secret, d.payload, now),
        "x-hypha-delivery": d.id,
        "x-hypha-event": d.event_type,
      },
      body: d.payload,
    });
    const ok = result.ok && result.status >= 200 && result.status < 300;
    if (ok) {
      await db.transaction(async (tx) => {
        await outboundStore.delivered(tx, d.id, sub.id, now);
      });
      return;
    }
    const error = result.ok ? `HTTP ${result.status}` : result.reason;
    const attempt = d.attempts + 1;
    await db.transaction(async (tx) => {
      await outboundStore.failed(tx, {
        deliveryId: d.id,
        webhookId: sub.id,
        error,
        attempt,
        status: attempt >= policy.maxAttempts ? "failed" : "pending",
        nextAttemptAt: now + backoffDelay(policy, attempt),
        now,
      });
    });
    if (sub.consecutive_failures + 1 >= policy.disableAfterFailures) await disable(db, sub, now);
  }

  async function runTenant(tenantId: string): Promise<number> {
    if (deps.tenantAllowed && !(await deps.tenantAllowed(tenantId))) {
      hot.add(tenantId);
      return 0;
    }
    const db = await storage.tenant(tenantId);
    const due = await outboundStore.due(db, clock.now(), 100);
    for (const d of due) {
      try {
        const job = { tenant: tenantId, delivery_id: d.id, webhook_id: d.webhook_id, attempt: d.attempts };
        if (deps.telemetry)
          await deps.telemetry.span("worker.outbound_send", job, () => sendOne(db, tenantId, d));
        else await sendOne(db, tenantId, d);
      } catch (err) {
        logger.error({ err, delivery: d.id }, "outbound webhook delivery failed");
      }
    }
    if (await outboundStore.hasPending(db)) hot.add(tenantId);
    return due.length;
  }

  async function run(ids: Iterable<string>): Promise<number> {
    await Promise.all([...enqueueing]);
    let n = 0;
    const tenantIds = [...ids];
    const active = new Set(tenantIds.length > 0 ? await deps.listTenants() : []);
    for (const tenantId of tenantIds) {
      hot.delete(tenantId);
      // A tenant deleted since: its vault is gone and must not be recreated.
      if (!active.has(tenantId)) continue;
      n += await runTenant(tenantId);
    }
    return n;
  }

  return {
    async create(actor: Actor, tenantId: string, input: z.infer<typeof createWebhookBody>) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "webhooks:manage");
      await tenants.requireActive(tenantId);
      const decision = await egress.check(input.url);
      if (!decision.ok) {
        throw new AppError("VALIDATION_FAILED", "this destination is not allowed", {
          details: [{ path: "body.url", message: `refused by the egress policy (${decision.reason})` }],
        });
      }
      const now = clock.now();
      const id = newId("webhook", now);
      const secret = `whsec_${randomBytes(32).toString("base64url")}`;
      const row: WebhookRow = {
        id,
        tenant_id: tenantId,
        url: input.url,
        events: JSON.stringify([...new Set(input.events)].sort()),
        secret: sealField(await deps.cipher(tenantId), id, "secret", secret),
        status: "active",
        consecutive_failures: 0,
        created_at: now,
        disabled_at: null,
        last_success_at: null,
        last_failure_at: null,
        last_error: null,
      };
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        await outboundStore.insertWebhook(tx, row);
        await deps.audit(
          tx,
          {
            tenantId,
            actor,
            action: "webhook.created",
            targetIds: [row.id],
            origin: actor.origin,
            details: { host: decision.host, events: JSON.parse(row.events) },
          },
          now,
        );
      });
      return { ...toView(row), secret };
    },

    async list(actor: Actor, tenantId: string, page: { after?: string | undefined; limit: number }) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "webhooks:manage");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const rows = await outboundStore.list(db, tenantId, page.after ?? "", page.limit + 1);
      const items = rows.slice(0, page.limit).map(toView);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async remove(actor: Actor, tenantId: string, id: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "webhooks:manage");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      return db.transaction(async (tx) => {
        const row = await outboundStore.byId(tx, tenantId, id);
        if (!row) throw new AppError("NOT_FOUND", "webhook not found");
        await outboundStore.removeWebhook(tx, tenantId, id);
        await deps.audit(
          tx,
          { tenantId, actor, action: "webhook.deleted", targetIds: [id], origin: actor.origin },
          now,
        );
        return toView(row);
      });
    },

    /** Sends every due delivery of every tenant (tests, start-up). */
    drain(): Promise<number> {
      return serial.run(async () => run(await deps.listTenants()));
    },
    tick(): Promise<number> {
      return serial.run(() => run(hot));
    },
    start(intervalMs = 1000): void {
      if (timer) return;
      timer = setInterval(() => {
        this.tick().catch((err) => logger.error({ err }, "outbound webhook tick failed"));
      }, intervalMs);
      timer.unref();
      this.drain().catch((err) => logger.error({ err }, "outbound webhook recovery failed"));
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      unsubscribe();
      stopCommitting();
      await Promise.all([...enqueueing]);
      await serial.idle();
    },
  };
}

export type OutboundService = ReturnType<typeof createOutboundService>;
