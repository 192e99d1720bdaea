import type { z } from "zod";
import type { Clock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/logger.ts";
import { createSerialRunner } from "../../lib/serial.ts";
import type { EventBus } from "../../platform/events/bus.ts";
import type { Database, Storage } from "../../platform/storage/port.ts";
import type { Telemetry } from "../../platform/telemetry.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import { inspectFields } from "../memories/fields.ts";
import { memoryInput } from "../memories/memories.schemas.ts";
import type { MemoriesService } from "../memories/memories.service.ts";
import { storedConfig } from "./connectors.contracts.ts";
import { type CipherOf, openField } from "./connectors.sealing.ts";
import { connectorsStore, type DeliveryRow } from "./connectors.store.ts";
import { mapDelivery, parseDeliveryBody } from "./mappings.ts";

export type Backoff = { baseMs: number; maxMs: number; maxAttempts: number };

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 15 * 60_000, maxAttempts: 6 };

/**
 * Delay before attempt `attempt + 1`, after `attempt` failures, with full jitter: uniform in
 * [0, min(max, base · 2^(attempt-1))), at least 1 ms so a retry is never due in the same instant
 * it failed. Without the jitter, deliveries that failed together (one destination down) would all
 * retry at the same moment, again and again.
 *
 * @example
 * backoffDelay({ baseMs: 1000, maxMs: 60_000, maxAttempts: 6 }, 3, () => 0.5) // 2000
 */
export function backoffDelay(b: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.floor(random() * ceiling));
}

class DeliveryError extends Error {
  override name = "DeliveryError";
  /** A failure that retrying cannot cure (a guardrail block): dead-lettered at once. */
  readonly final: boolean;
  constructor(message: string, opts: { final?: boolean } = {}) {
    super(message);
    this.final = opts.final ?? false;
  }
}

/** The guardrails' verdict on ingested text (from the governance module's memory screen). */
export type IngestScreen = (
  tenantId: string,
  text: string,
) => Promise<
  | { content: string; quarantined: boolean }
  | { blocked: { checks: readonly { name: string; action: string }[] } }
>;

const BATCH = 100;

/** A memory a delivery maps to, checked against the memory schema. */
type Draft = z.output<typeof memoryInput>;

/** The health and stream name of an ignore reason: `EVENT_UNSUPPORTED` is `event_unsupported`. */
function outcomeReason(reason: string | undefined): string {
  return (reason ?? "NO_CONTENT").toLowerCase();
}

/**
 * How the worker writes memories: through the memories service, so rows are sealed and indexed like
 * REST writes (encrypted tenants) and mirrored after commit (markdown tenants).
 */
export type MemoryWriterSource = Pick<MemoriesService, "writer">;

/**
 * Turns inbox deliveries into memories. Each delivery is one transaction in the tenant's vault: the
 * memories, the inbox row's move to `done` (guarded on `status = 'pending'`) and the audit event
 * commit together, so a delivery produces its memories exactly once even if the process dies at any
 * point. Memories go through the memories service's writer (sealed like any other write) and the
 * audit event through the keyed trail. A failure is retried with exponential backoff and full jitter; after `maxAttempts` the delivery is a dead
 * letter, with its error and raw payload, until an operator replays it.
 */
export function createDeliveryWorker(deps: {
  storage: Storage;
  clock: Clock;
  events: EventBus;
  logger: Logger;
  maxContentBytes: number;
  audit: AuditSink;
  cipher: CipherOf;
  memories: MemoryWriterSource;
  /** Every tenant id (a full scan at start and by `drain`). */
  listTenants: () => Promise<string[]>;
  backoff?: Backoff;
  /**
   * The kill switch: false while the tenant's agents are frozen. Its deliveries then stay in the
   * inbox (no attempt is spent) and are processed once the freeze is lifted.
   */
  tenantAllowed?: (tenantId: string) => Promise<boolean>;
  /** Guardrails on delivered text (ingest threshold): stripped text and quarantine, or a block. */
  screen?: IngestScreen;
  /** A span and stage timing per delivery (`worker.inbox_delivery`). */
  telemetry?: Telemetry;
}) {
  const { storage, clock, events, logger } = deps;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  /** Tenants that may have due work: notified ones and those with retries scheduled. */
  const hot = new Set<string>();
  const serial = createSerialRunner();
  let timer: NodeJS.Timeout | null = null;
  let wake: NodeJS.Timeout | null = null;

  function drafts(row: DeliveryRow, config: ReturnType<typeof storedConfig>, body: Buffer) {
    const headers = JSON.parse(row.headers) as Record<string, string>;
    const result = mapDelivery({
      config,
      headers,
      payload: parseDeliveryBody(body, headers["content-type"]),
      deliveryId: row.delivery_id,
    });
    const checked = result.drafts.map((d, i) => {
      const parsed = memoryInput.safeParse({
        namespace: d.namespace,
        type: d.type,
        content: d.content,
        tags: d.tags,
        entities: d.entities,
        metadata: d.metadata,
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new DeliveryError(`draft ${i}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? "invalid"}`);
      }
      if (Buffer.byteLength(parsed.data.content, "utf8") > deps.maxContentBytes) {
        throw new DeliveryError(`draft ${i}: content is larger than ${deps.maxContentBytes} bytes`);
      }
      return parsed.data;
    });
    return { checked, ignored: result.ignored };
  }

  /**
   * A draft through the guardrails as a memory written through the API is: its content, then its
   * tags, entities and metadata strings (`memories/fields.ts`: one text for the single-line ones).
   * A refusal dead-letters the delivery naming what was refused; a mask rewrites the value; a
   * suspected injection anywhere quarantines the memory.
   */
  async function screenDraft(
    tenantId: string,
    d: Draft,
    i: number,
  ): Promise<{ draft: Draft; quarantined: boolean }> {
    const screen = deps.screen;
    if (!screen) return { draft: d, quarantined: false };
    const admit = async (text: string, what: string) => {
      const s = await screen(tenantId, text);
      if ("blocked" in s) {
        const checks = s.blocked.checks
          .filter((c) => c.action === "block")
          .map((c) => c.name)
          .join(", ");
        throw new DeliveryError(
          `GUARDRAIL_BLOCKED: draft ${i} ${what} blocked by ${checks || "guardrails"}`,
          {
            final: true,
          },
        );
      }
      return s;
    };
    const content = await admit(d.content, "content");
    let quarantined = content.quarantined;
    const fields = await inspectFields(d, async (text, where) => {
      const s = await admit(text, where);
      if (s.quarantined) quarantined = true;
      return s.content;
    });
    return { draft: { ...(fields ?? d), content: content.content }, quarantined };
  }

  async function processOne(db: Database, row: DeliveryRow): Promise<void> {
    const now = clock.now();
    try {
      const connector = await connectorsStore.byId(db, row.tenant_id, row.connector_id);
      if (!connector) throw new DeliveryError("connector no longer exists");
      const body = openField(await deps.cipher(row.tenant_id), row.id, "payload", row.body);
      // Mapping needs the config only: the signing secret stays sealed.
      const { checked, ignored } = drafts(row, storedConfig(connector, null), body);
      const screened: { draft: Draft; quarantined: boolean }[] = [];
      for (const [i, d] of checked.entries()) screened.push(await screenDraft(row.tenant_id, d, i));
      const writer = await deps.memories.writer(row.tenant_id, {
        agent: `connector:${connector.name}`,
        // By id: names can be changed and reused.
        keyId: connector.id,
        owner: `connector:${connector.id}`,
      });
      const write = writer.prepare(
        checked.map((d, i) => ({
          ...(screened[i]?.draft ?? d),
          quarantined: screened[i]?.quarantined === true,
        })),
        now,
      );
      const ids = write.ids;
      const quarantined = screened.filter((x) => x.quarantined).length;
      const committed = await db.transaction(async (tx) => {
        const finished = await connectorsStore.finish(
          tx,
          row.id,
          ids.length === 0 ? "ignored" : "done",
          ids,
          ignored ? `ignored: ${ignored.reason}` : null,
          now,
        );
        if (!finished) return false;
        await write.insert(tx);
        await connectorsStore.bumpHealth(tx, row.connector_id, { processed: 1 });
        await connectorsStore.bumpOutcome(
          tx,
          row.connector_id,
          ids.length === 0 ? "ignored" : "stored",
          ids.length === 0 ? outcomeReason(ignored?.reason) : "memories",
          now,
        );
        await deps.audit(
          tx,
          {
            tenantId: row.tenant_id,
            actor: { type: "connector", id: row.connector_id },
            action: "delivery.processed",
            targetIds: [row.id, ...ids].slice(0, 100),
            details: {
              memories: ids.length,
              ...(ignored ? { ignored: ignored.reason } : {}),
              ...(quarantined > 0 ? { quarantined } : {}),
            },
          },
          now,
        );
        return true;
      });
      if (!committed) return;
      await write
        .committed()
        .catch((err: unknown) => logger.error({ err, delivery: row.id }, "after-commit memory step failed"));
      if (ids.length > 0) {
        events.publish(row.tenant_id, "memory.created", {
          ids,
          count: ids.length,
          connector_id: row.connector_id,
          delivery: row.id,
        });
      }
      // A delivery that stores nothing is announced as such, with its reason, never silently.
      events.publish(row.tenant_id, "ingest.processed", {
        connector_id: row.connector_id,
        delivery: row.id,
        memories: ids.length,
        outcome: ids.length === 0 ? "ignored" : "stored",
        ...(ids.length === 0 ? { reason: outcomeReason(ignored?.reason) } : {}),
        // The detail names an event type or action (`star`, `check_run.completed success`), capped.
        ...(ids.length === 0 && ignored?.detail ? { detail: ignored.detail.slice(0, 100) } : {}),
      });
    } catch (err) {
      await fail(db, row, err, now);
    }
  }

  async function fail(db: Database, row: DeliveryRow, err: unknown, now: number): Promise<void> {
    const message = (err instanceof DeliveryError ? err.message : "processing failed").slice(0, 500);
    if (!(err instanceof DeliveryError))
      logger.error({ err, delivery: row.id }, "delivery processing failed");
    const attempt = row.attempts + 1;
    if (attempt >= backoff.maxAttempts || (err instanceof DeliveryError && err.final)) {
      const dead = await db.transaction(async (tx) => {
        const moved = await connectorsStore.deadLetter(tx, row.id, message, now);
        if (!moved) return false;
        await connectorsStore.bumpHealth(tx, row.connector_id, { failures: 1 });
        await connectorsStore.bumpOutcome(
          tx,
          row.connector_id,
          "dead",
          err instanceof DeliveryError && err.final ? "blocked" : "attempts_exhausted",
          now,
        );
        await deps.audit(
          tx,
          {
            tenantId: row.tenant_id,
            actor: { type: "connector", id: row.connector_id },
            action: "delivery.dead_lettered",
            outcome: "error",
            targetIds: [row.id],
            details: { attempts: attempt, error: message },
          },
          now,
        );
        return true;
      });
      if (dead) {
        events.publish(row.tenant_id, "dead_letter.created", {
          connector_id: row.connector_id,
          delivery: row.id,
          attempts: attempt,
          error: message,
        });
      }
      return;
    }
    await db.transaction(async (tx) => {
      await connectorsStore.retryLater(tx, row.id, message, now + backoffDelay(backoff, attempt));
      await connectorsStore.bumpHealth(tx, row.connector_id, { failures: 1 });
    });
  }

  /** Processes every due delivery of one tenant; true when some are still scheduled for later. */
  async function runTenant(tenantId: string): Promise<{ done: number; later: boolean }> {
    // Frozen: nothing is processed and nothing is spent; the tenant stays known to have work.
    if (deps.tenantAllowed && !(await deps.tenantAllowed(tenantId))) return { done: 0, later: true };
    const db = await storage.tenant(tenantId);
    let done = 0;
    for (;;) {
      const due = await connectorsStore.due(db, clock.now(), BATCH);
      for (const row of due) {
        if (!deps.telemetry) await processOne(db, row);
        else {
          const job = { tenant: tenantId, delivery_id: row.id, attempt: row.attempts };
          await deps.telemetry.span("worker.inbox_delivery", job, () => processOne(db, row));
        }
      }
      done += due.length;
      if (due.length < BATCH) break;
    }
    return { done, later: (await connectorsStore.nextDueAt(db)) !== null };
  }

  async function run(tenantIds: Iterable<string>): Promise<number> {
    let total = 0;
    const ids = [...tenantIds];
    const active = new Set(ids.length > 0 ? await deps.listTenants() : []);
    for (const tenantId of ids) {
      hot.delete(tenantId);
      // A tenant deleted since it was notified: its vault is gone and must not be recreated.
      if (!active.has(tenantId)) continue;
      try {
        const r = await runTenant(tenantId);
        total += r.done;
        if (r.later) hot.add(tenantId);
      } catch (err) {
        hot.add(tenantId);
        logger.error({ err, tenantId }, "delivery worker failed on a tenant");
      }
    }
    return total;
  }

  return {
    /** Processes every delivery due now, in every tenant (tests, start-up recovery). */
    drain(): Promise<number> {
      return serial.run(async () => run(await deps.listTenants()));
    },
    /** Processes the tenants known to have work. */
    tick(): Promise<number> {
      return serial.run(() => run(hot));
    },
    /** A delivery was committed for this tenant: process it soon. */
    notify(tenantId: string): void {
      hot.add(tenantId);
      if (timer && !wake) {
        wake = setTimeout(() => {
          wake = null;
          this.tick().catch((err) => logger.error({ err }, "delivery worker tick failed"));
        }, 0);
        wake.unref();
      }
    },
    /** Starts the loop: recovers every tenant's pending deliveries, then polls the known ones. */
    start(intervalMs = 500): void {
      if (timer) return;
      timer = setInterval(() => {
        this.tick().catch((err) => logger.error({ err }, "delivery worker tick failed"));
      }, intervalMs);
      timer.unref();
      this.drain().catch((err) => logger.error({ err }, "delivery worker recovery failed"));
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      if (wake) clearTimeout(wake);
      timer = null;
      wake = null;
      await serial.idle();
    },
  };
}

export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;
