import type { KeyObject } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import type { Logger } from "../../lib/logger.ts";
import { safeJoin } from "../../lib/names.ts";
import { redactDeep, redactSecrets } from "../../lib/secret-patterns.ts";
import type { Database, SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditEventInput, AuditEventView, VerifyResponse } from "./audit.schemas.ts";
import { type AuditRow, auditStore } from "./audit.store.ts";
import {
  type AuditCheckpoint,
  type ChainHead,
  planRetention,
  type StoredAuditEvent,
  sealEvent,
  signCheckpoint,
  verifyChainYielding,
} from "./chain.ts";

/** The chain of instance-level events, kept in the control database. */
export const INSTANCE_CHAIN = "instance";
const TENANT_RE = /^tnt_[0-9A-HJKMNP-TV-Z]{26}$/;
const PAGE = 1000;
/**
 * How long a chain's new events wait before they are forwarded, checkpointed and anchored together:
 * one pass (one signed head, one anchor in the instance chain) per chain per window, however many
 * events it saw, instead of one per event. Bounds how far the anchors trail the chain.
 */
export const FORWARD_WINDOW_MS = 200;

/** Appends one event inside the caller's transaction (the transaction of the change it records). */
export type AuditSink = (tx: SqlExecutor, event: AuditEventInput, now: number) => Promise<void>;

export type AuditTrailDeps = {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  dataDir: string;
  /** The chain's HMAC key: the "audit-hmac" subkey of the tenant (or instance) data key. */
  auditKey(chainId: string): Promise<KeyObject>;
  /** Signs checkpoints and retention anchors; distinct from every audit key, kept in secrets/. */
  checkpointKey: KeyObject;
  /**
   * An external sink (HYPHA_AUDIT_ANCHOR_FILE): every signed head of every chain is appended to it as
   * a JSON line. Keep it on another volume (or ship it away): it anchors the instance chain too.
   */
  anchorFile?: string | undefined;
};

export const chainOf = (tenantId: string | null): string => tenantId ?? INSTANCE_CHAIN;

/** Where a chain's forwarded lines and signed checkpoints live, beside (never inside) its database. */
export function chainFiles(dataDir: string, chainId: string): { jsonl: string; checkpoints: string } {
  if (chainId === INSTANCE_CHAIN) {
    return {
      jsonl: safeJoin(dataDir, "audit", "instance.jsonl"),
      checkpoints: safeJoin(dataDir, "audit", "instance.checkpoints"),
    };
  }
  if (!TENANT_RE.test(chainId)) throw new Error("invalid chain id");
  return {
    jsonl: safeJoin(dataDir, "vaults", chainId, "audit.jsonl"),
    checkpoints: safeJoin(dataDir, "vaults", chainId, "audit.checkpoints"),
  };
}

const UNREADABLE = "\u0000unreadable";

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return UNREADABLE;
  }
}

function isoOf(ms: unknown): string {
  try {
    return typeof ms === "number" ? new Date(ms).toISOString() : UNREADABLE;
  } catch {
    return UNREADABLE;
  }
}

/** A row as the chain sees it. A column an editor broke never throws here; it just fails the HMAC. */
export function toStored(r: AuditRow): StoredAuditEvent {
  const details = parseJson(r.details);
  return {
    seq: r.seq,
    ts: isoOf(r.ts),
    tenantId: r.tenant_id as string,
    actorType: r.actor_type,
    actorId: r.actor_id,
    action: r.action,
    targetIds: parseJson(r.target_ids) as string[],
    outcome: r.outcome as StoredAuditEvent["outcome"],
    requestId: r.request_id,
    clientIp: r.client_ip,
    userAgent: r.user_agent,
    details: details as Record<string, unknown> | null,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export function toView(r: AuditRow): AuditEventView {
  const details = parseJson(r.details);
  const targets = parseJson(r.target_ids);
  return {
    seq: r.seq,
    id: r.id,
    ts: isoOf(r.ts),
    tenant_id: r.tenant_id === INSTANCE_CHAIN ? null : r.tenant_id,
    actor: { type: r.actor_type, id: r.actor_id },
    action: r.action,
    target_ids: Array.isArray(targets) ? targets.map(String) : [],
    outcome: r.outcome,
    request_id: r.request_id,
    client_ip: r.client_ip,
    user_agent: r.user_agent,
    details:
      details && typeof details === "object" && !Array.isArray(details)
        ? (details as Record<string, unknown>)
        : null,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

/** The last seq already forwarded: read from the tail of the file, so a restart does not repeat lines. */
function lastForwardedSeq(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return 0;
  }
  try {
    const size = statSync(path).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString("utf8").trimEnd().split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
      const seq = (parseJson(lines[i] ?? "") as { seq?: unknown } | null)?.seq;
      if (typeof seq === "number") return seq;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

function readCheckpoints(path: string): AuditCheckpoint[] | "UNREADABLE" {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: AuditCheckpoint[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const cp = parseJson(line);
    if (!cp || typeof cp !== "object") return "UNREADABLE";
    out.push(cp as AuditCheckpoint);
  }
  return out;
}

/** Lines of the external sink for one chain; a torn or foreign line is skipped (its writer is not the attacker). */
function readSinkCheckpoints(path: string, chainId: string): AuditCheckpoint[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: AuditCheckpoint[] = [];
  for (const line of text.split("\n")) {
    const cp = line.trim() ? parseJson(line) : null;
    if (cp && typeof cp === "object" && (cp as AuditCheckpoint).tenantId === chainId) {
      out.push(cp as AuditCheckpoint);
    }
  }
  return out;
}

/**
 * The tamper-evident trail. Each event is sealed (HMAC chain) in the transaction of the change it
 * records; after commit, new events are forwarded as JSON lines for a log shipper and the new head is
 * signed. A tenant chain's signed head is anchored outside the tenant's vault — as an `audit.anchored`
 * event of the instance chain (control database) — and every chain's head also goes to its checkpoint
 * file and, when configured, to an external sink; `verify` compares the chain against all of them, so
 * cutting a tail and restoring (or deleting) the checkpoint file beside it is still caught.
 */
export function createAuditTrail(deps: AuditTrailDeps) {
  const { storage, clock, logger } = deps;
  const forwarded = new Map<string, number>();
  const running = new Map<string, Promise<void>>();
  const dirty = new Set<string>();
  const dropped = new Set<string>();

  const dbOf = (chainId: string): Promise<Database> =>
    chainId === INSTANCE_CHAIN ? Promise.resolve(storage.control) : storage.tenant(chainId);

  async function forward(chainId: string): Promise<void> {
    if (dropped.has(chainId)) return;
    const files = chainFiles(deps.dataDir, chainId);
    const db = await dbOf(chainId);
    // The append that scheduled this pass ran inside a transaction: wait for it to end, so its event
    // is read once committed (and never when rolled back).
    await db.settled();
    let last = forwarded.get(chainId) ?? lastForwardedSeq(files.jsonl);
    let head: ChainHead | null = null;
    for (;;) {
      const rows = await auditStore.after(db, last, PAGE);
      if (rows.length === 0 || dropped.has(chainId)) break;
      mkdirSync(dirname(files.jsonl), { recursive: true, mode: 0o700 });
      // Open, append, close per batch: a rotated or truncated file is simply reopened.
      appendFileSync(files.jsonl, rows.map((r) => `${JSON.stringify(toView(r))}\n`).join(""), {
        mode: 0o600,
      });
      const newest = rows.at(-1) as AuditRow;
      last = newest.seq;
      if (newest.hash) head = { seq: newest.seq, hash: newest.hash };
    }
    forwarded.set(chainId, last);
    if (head) {
      const cp = signCheckpoint({ tenantId: chainId, ...head }, deps.checkpointKey, clock);
      const line = `${JSON.stringify(cp)}\n`;
      if (chainId !== INSTANCE_CHAIN) await anchorInInstanceChain(cp);
      if (deps.anchorFile) {
        try {
          appendFileSync(deps.anchorFile, line, { mode: 0o600 });
        } catch (err) {
          logger.error({ err, chain: chainId }, "audit anchor sink not written");
        }
      }
      appendFileSync(files.checkpoints, line, { mode: 0o600 });
    }
  }

  /** Records a tenant chain's signed head in the instance chain, away from the tenant's vault. */
  async function anchorInInstanceChain(cp: AuditCheckpoint): Promise<void> {
    const now = clock.now();
    await storage.control.transaction((tx) =>
      append(
        tx,
        {
          tenantId: null,
          actor: { type: "system", id: "audit-anchor" },
          action: "audit.anchored",
          targetIds: [cp.tenantId],
          details: { checkpoint: cp },
        },
        now,
      ),
    );
  }

  /** Per tenant, the newest anchor at or below `through` when no later anchor exists. */
  async function anchorsToCarry(tx: SqlExecutor, through: number): Promise<AuditCheckpoint[]> {
    const newest = new Map<string, { seq: number; cp: AuditCheckpoint | null }>();
    for (const row of await auditStore.allAnchors(tx)) {
      const target = (parseJson(row.target_ids) as unknown[] | null)?.[0];
      if (typeof target !== "string") continue;
      const cp = (parseJson(row.details) as { checkpoint?: unknown } | null)?.checkpoint;
      const prior = newest.get(target);
      if (!prior || row.seq > prior.seq) {
        newest.set(target, {
          seq: row.seq,
          cp: cp && typeof cp === "object" ? (cp as AuditCheckpoint) : null,
        });
      }
    }
    return [...newest.values()].flatMap((a) => (a.seq <= through && a.cp ? [a.cp] : []));
  }

  /** The signed heads of `chainId` kept outside its own storage, oldest first. */
  async function outsideAnchors(chainId: string): Promise<AuditCheckpoint[]> {
    const out: AuditCheckpoint[] = [];
    if (chainId !== INSTANCE_CHAIN) {
      for (const details of await auditStore.anchorsFor(storage.control, chainId)) {
        const cp = (parseJson(details) as { checkpoint?: unknown } | null)?.checkpoint;
        if (cp && typeof cp === "object") out.push(cp as AuditCheckpoint);
      }
    }
    if (deps.anchorFile) out.push(...readSinkCheckpoints(deps.anchorFile, chainId));
    return out;
  }

  /** Chains whose pass is waiting for its window to end, with the function that starts it now. */
  const waiting = new Map<string, () => void>();

  function schedule(chainId: string): void {
    if (running.has(chainId)) {
      dirty.add(chainId);
      return;
    }
    const due = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FORWARD_WINDOW_MS);
      waiting.set(chainId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const run = due
      .then(() => {
        waiting.delete(chainId);
        return forward(chainId);
      })
      .catch((err: unknown) => logger.error({ err, chain: chainId }, "audit forwarding failed"))
      .finally(() => {
        running.delete(chainId);
        if (dirty.delete(chainId)) schedule(chainId);
      });
    running.set(chainId, run);
  }

  async function readChain(chainId: string) {
    const db = await dbOf(chainId);
    const rows: AuditRow[] = [];
    for (let after = 0; ; ) {
      const page = await auditStore.after(db, after, PAGE);
      if (page.length === 0) break;
      rows.push(...page);
      after = (page.at(-1) as AuditRow).seq;
      // A long chain is read a page per turn of the event loop, so requests are served meanwhile.
      await yieldToLoop();
    }
    const anchorText = await auditStore.latestAnchor(db);
    const anchor = anchorText ? (parseJson(anchorText) as AuditCheckpoint) : null;
    return { db, rows, anchor };
  }

  const append: AuditSink = async (tx, event, now) => {
    const chainId = chainOf(event.tenantId);
    const key = await deps.auditKey(chainId);
    let head: ChainHead | null = (await auditStore.head(tx)) ?? null;
    if (!head) {
      const anchor = parseJson((await auditStore.latestAnchor(tx)) ?? null) as AuditCheckpoint | null;
      if (anchor && typeof anchor === "object") head = { seq: anchor.seq, hash: anchor.hash };
    }
    const origin = event.origin;
    const sealed = sealEvent(
      {
        tenantId: chainId,
        actorType: event.actor.type,
        actorId: redactSecrets(event.actor.id),
        action: event.action,
        targetIds: (event.targetIds ?? []).map(redactSecrets),
        outcome: event.outcome ?? "success",
        requestId: origin?.requestId ? redactSecrets(origin.requestId) : null,
        clientIp: origin?.ip ?? null,
        userAgent: origin?.userAgent ? redactSecrets(origin.userAgent) : null,
        ...(event.details ? { details: redactDeep(event.details) as Record<string, unknown> } : {}),
      },
      head,
      key,
      { now: () => now },
    );
    await auditStore.insert(tx, newId("event", now), sealed, now);
    schedule(chainId);
  };

  return {
    append,

    /** Forwards and checkpoints every committed event so far now (its window cut short), and waits for it. */
    async flush(): Promise<void> {
      while (running.size > 0) {
        for (const start of waiting.values()) start();
        await Promise.all([...running.values()]);
      }
    },

    /**
     * Checks the chain against its HMACs, its retention anchor, its signed checkpoints and the signed
     * heads kept outside its storage (the instance chain for a tenant, the external sink for every
     * chain). A chain with events but no such anchor is reported as UNANCHORED.
     */
    async verify(chainId: string): Promise<VerifyResponse> {
      const { rows, anchor } = await readChain(chainId);
      const checkpoints = readCheckpoints(chainFiles(deps.dataDir, chainId).checkpoints);
      const outside = await outsideAnchors(chainId);
      const newest = (cps: readonly AuditCheckpoint[]) =>
        cps.reduce<number | null>((max, cp) => (max === null || cp.seq > max ? cp.seq : max), null);
      const anchoredSeq = newest(outside);
      const base = { chain: chainId, anchor_seq: anchor?.seq ?? null, anchored_seq: anchoredSeq };
      if (checkpoints === "UNREADABLE") {
        return {
          ...base,
          ok: false,
          last_seq: null,
          count: null,
          first_bad_seq: 0,
          reason: "CHECKPOINT_INVALID",
          checkpoints: 0,
        };
      }
      const all = [...checkpoints, ...outside];
      const result = await verifyChainYielding(rows.map(toStored), await deps.auditKey(chainId), {
        tenantId: chainId,
        checkpointKey: deps.checkpointKey,
        checkpoints: all,
        anchor,
      });
      if (!result.ok) {
        return {
          ...base,
          ok: false,
          last_seq: null,
          count: null,
          first_bad_seq: result.firstBadSeq,
          reason: result.reason,
          checkpoints: all.length,
        };
      }
      // The instance chain without a sink has only its own checkpoint file to go by.
      const required = chainId !== INSTANCE_CHAIN || deps.anchorFile ? outside : checkpoints;
      if (result.count > 0 && (newest(required) ?? 0) <= (anchor?.seq ?? 0)) {
        return {
          ...base,
          ok: false,
          last_seq: null,
          count: null,
          first_bad_seq: (anchor?.seq ?? 0) + 1,
          reason: "UNANCHORED",
          checkpoints: all.length,
        };
      }
      return {
        ...base,
        ok: true,
        last_seq: result.lastSeq,
        count: result.count,
        first_bad_seq: null,
        reason: null,
        checkpoints: all.length,
      };
    },

    /**
     * The one way to drop events: verifies the chain first, records a signed anchor (in the database
     * and in the checkpoint file), deletes through it, and audits the run in the same transaction.
     */
    async applyRetention(
      chainId: string,
      dropBefore: number,
      actor: AuditEventInput["actor"],
      origin?: AuditEventInput["origin"],
    ): Promise<{ dropped: number; through_seq: number | null }> {
      await this.flush();
      const { db, rows, anchor } = await readChain(chainId);
      const checkpoints = readCheckpoints(chainFiles(deps.dataDir, chainId).checkpoints);
      const plan = planRetention(rows.map(toStored), await deps.auditKey(chainId), {
        tenantId: chainId,
        checkpointKey: deps.checkpointKey,
        checkpoints: checkpoints === "UNREADABLE" ? [] : checkpoints,
        anchor,
        dropBefore,
        clock,
      });
      if (!plan.ok) {
        throw new AppError(
          "CONFLICT",
          `the audit chain fails verification at seq ${plan.firstBadSeq} (${plan.reason}); nothing was dropped`,
        );
      }
      if (plan.dropThroughSeq === null || !plan.anchor) return { dropped: 0, through_seq: null };
      const through = plan.dropThroughSeq;
      const anchorCp = plan.anchor;
      const now = clock.now();
      const dropped = await db.transaction(async (tx) => {
        // Tenant anchors about to be dropped with the instance chain's old events: the newest one of
        // each tenant with no later anchor is carried over (the signed head as it was, never a new one).
        const carried = chainId === INSTANCE_CHAIN ? await anchorsToCarry(tx, through) : [];
        const n = await auditStore.dropThrough(tx, through, JSON.stringify(anchorCp), now);
        for (const cp of carried) {
          await append(
            tx,
            {
              tenantId: null,
              actor: { type: "system", id: "audit-anchor" },
              action: "audit.anchored",
              targetIds: [cp.tenantId],
              details: { checkpoint: cp, carried_over: true },
            },
            now,
          );
        }
        await append(
          tx,
          {
            tenantId: chainId === INSTANCE_CHAIN ? null : chainId,
            actor,
            action: "audit.retention_applied",
            origin,
            details: { dropped: n, through_seq: through, drop_before: new Date(dropBefore).toISOString() },
          },
          now,
        );
        return n;
      });
      appendFileSync(chainFiles(deps.dataDir, chainId).checkpoints, `${JSON.stringify(anchorCp)}\n`, {
        mode: 0o600,
      });
      return { dropped, through_seq: through };
    },

    /** Stops forwarding for a chain whose tenant was deleted, and removes its files. */
    forget(chainId: string): void {
      dropped.add(chainId);
      forwarded.delete(chainId);
      const files = chainFiles(deps.dataDir, chainId);
      rmSync(files.jsonl, { force: true });
      rmSync(files.checkpoints, { force: true });
    },

    dbOf,
  };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;

/**
 * Failed authentications go to the instance chain, folded per client address and minute so a flood of
 * bad keys cannot fill the disk: the first failure of a window is written at once, and the count of
 * the rest when that address fails again in a later window (or at shutdown). At most `maxBuckets`
 * addresses are tracked; beyond that they share one bucket.
 */
export function createAuthFailureAudit(deps: {
  append: AuditSink;
  storage: Storage;
  clock: Clock;
  maxBuckets?: number;
}) {
  const max = deps.maxBuckets ?? 10_000;
  type Bucket = { minute: number; count: number; codes: Set<string> };
  const buckets = new Map<string, Bucket>();
  const summary = (ip: string, b: Bucket): AuditEventInput => ({
    tenantId: null,
    actor: { type: "anonymous", id: "anonymous" },
    action: "auth.failed",
    outcome: "denied",
    origin: { ip },
    details: {
      aggregated: true,
      count: b.count - 1,
      codes: [...b.codes].sort(),
      window_start: new Date(b.minute * 60_000).toISOString(),
    },
  });

  const write = (events: AuditEventInput[], now: number) =>
    events.length === 0
      ? Promise.resolve()
      : deps.storage.control.transaction(async (tx) => {
          for (const e of events) await deps.append(tx, e, now);
        });

  return {
    async record(
      origin: { requestId: string; ip: string; userAgent: string | null },
      code: string,
      route: string,
    ): Promise<void> {
      const now = deps.clock.now();
      const minute = Math.floor(now / 60_000);
      if (buckets.size >= max) {
        for (const [ip, b] of buckets) if (b.minute < minute && b.count === 1) buckets.delete(ip);
      }
      const ip = buckets.has(origin.ip) || buckets.size < max ? origin.ip : "*";
      const bucket = buckets.get(ip);
      if (bucket && bucket.minute === minute) {
        bucket.count++;
        bucket.codes.add(code);
        return;
      }
      const events: AuditEventInput[] = [];
      if (bucket && bucket.count > 1) events.push(summary(ip, bucket));
      buckets.set(ip, { minute, count: 1, codes: new Set([code]) });
      events.push({
        tenantId: null,
        actor: { type: "anonymous", id: "anonymous" },
        action: "auth.failed",
        outcome: "denied",
        origin,
        details: { code, route },
      });
      await write(events, now);
    },

    /** Writes the counts still folded in memory (at shutdown). */
    async flush(): Promise<void> {
      const events: AuditEventInput[] = [];
      for (const [ip, b] of buckets) if (b.count > 1) events.push(summary(ip, b));
      buckets.clear();
      await write(events, deps.clock.now());
    },
  };
}
