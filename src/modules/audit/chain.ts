import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Clock } from "../../lib/clock.ts";

/**
 * The audit log of each tenant is a hash chain: every event carries the hash of the one before it, and
 * its own hash is an HMAC keyed with the tenant's audit key (the "audit-hmac" subkey of the tenant data
 * key, never stored in the database). Someone who can edit the database can delete or alter rows but
 * cannot recompute valid hashes, so `verifyChain` names the first sequence number that no longer holds.
 * Deleting the newest rows leaves a valid shorter chain; signed checkpoints, kept outside the database,
 * catch that.
 */

/** An HMAC key: raw bytes, or a KeyObject (faster when one key hashes many events). */
export type HmacKey = Buffer | KeyObject;

export type AuditOutcome = "success" | "denied" | "error";

/** `prevHash` of the first event of a chain that has no retention anchor. */
export const GENESIS_HASH = "0".repeat(64);

/** What the caller supplies; sequence, time and hashes are added by `sealEvent`. */
export type AuditEventInput = {
  tenantId: string;
  /** Kind of caller: "admin", "agent", "user", "system"… */
  actorType: string;
  actorId: string;
  /** Typed event name, e.g. "memories.delete". */
  action: string;
  targetIds: string[];
  outcome: AuditOutcome;
  requestId: string | null;
  clientIp: string | null;
  userAgent: string | null;
  details?: Record<string, unknown>;
};

export type AuditEvent = AuditEventInput & {
  seq: number;
  /** ISO 8601 UTC, from the injected clock. */
  ts: string;
  prevHash: string;
  /** Hex HMAC-SHA256 over the canonical JSON of every other field. */
  hash: string;
};

/**
 * An event as read back from storage, where any column may have been tampered with: hashes may be
 * null, and an absent `details` may come back as null (both spellings hash the same).
 */
export type StoredAuditEvent = Omit<AuditEvent, "prevHash" | "hash" | "details"> & {
  prevHash: string | null;
  hash: string | null;
  details?: Record<string, unknown> | null;
};

/** The last link of a chain: the newest event, or the retention anchor when no event is left. */
export type ChainHead = { seq: number; hash: string };

/**
 * A signed statement "the chain of `tenantId` had event `seq` with hash `hash` at `ts`". Signed with a
 * checkpoint key distinct from the audit key and kept apart from the database (exported, logged to a
 * separate sink, or held by a monitor), so deleting the tail of the chain cannot go unnoticed.
 */
export type AuditCheckpoint = { tenantId: string; seq: number; hash: string; ts: string; signature: string };

export type ChainFailureReason =
  | "HASH_MISMATCH"
  | "SEQUENCE_GAP"
  | "PREV_HASH_MISMATCH"
  | "TRUNCATED"
  | "NULL_HASH"
  | "CHECKPOINT_INVALID"
  /** The chain has events but no signed head of it is kept outside its own storage (audit.trail.ts). */
  | "UNANCHORED";

/**
 * `firstBadSeq` is the first sequence number where the stored chain differs from an intact one: the
 * missing number for a gap, the altered event, or the first event lost from a truncated tail.
 */
export type ChainVerification =
  | { ok: true; lastSeq: number; count: number }
  | { ok: false; firstBadSeq: number; reason: ChainFailureReason };

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, properties whose value is
 * undefined omitted. The same data always gives the same bytes, whatever order a database or a JSON
 * parser returned the keys in. Values JSON cannot represent faithfully (non-finite numbers, bigint,
 * functions, symbols, undefined inside arrays, class instances such as Date) throw a TypeError, so
 * they never reach a hash in a lossy form.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonicalJson: non-finite number");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value
          .map((item) => {
            if (item === undefined) throw new TypeError("canonicalJson: undefined in array");
            return canonicalJson(item);
          })
          .join(",")}]`;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError("canonicalJson: only plain objects and arrays are allowed");
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
  }
}

/**
 * The bytes an event's hash covers: every field except `hash`, including `prevHash`. Built field by
 * field so extra storage columns (row ids, indexes) neither enter nor break the hash.
 */
function hashedContent(event: Omit<StoredAuditEvent, "hash">): Record<string, unknown> {
  return {
    seq: event.seq,
    ts: event.ts,
    tenantId: event.tenantId,
    actorType: event.actorType,
    actorId: event.actorId,
    action: event.action,
    targetIds: event.targetIds,
    outcome: event.outcome,
    requestId: event.requestId,
    clientIp: event.clientIp,
    userAgent: event.userAgent,
    details: event.details ?? undefined,
    prevHash: event.prevHash,
  };
}

/** HMAC-SHA256(auditKey, canonicalJson(event without hash)), hex. */
export function computeEventHash(event: Omit<StoredAuditEvent, "hash">, auditKey: HmacKey): string {
  return createHmac("sha256", auditKey)
    .update(canonicalJson(hashedContent(event)), "utf8")
    .digest("hex");
}

/**
 * Turns an input into the next event of the chain whose newest link is `head` (null for an empty chain
 * with no retention anchor). Callers append in the same transaction as the change, one writer per
 * tenant at a time (a unique (tenant, seq) constraint makes a lost race fail instead of forking).
 */
export function sealEvent(
  input: AuditEventInput,
  head: ChainHead | null,
  auditKey: HmacKey,
  clock: Clock,
): AuditEvent {
  // Copied field by field: stray properties of the input never enter the stored event.
  const unsealed: Omit<AuditEvent, "hash"> = {
    seq: (head?.seq ?? 0) + 1,
    ts: new Date(clock.now()).toISOString(),
    tenantId: input.tenantId,
    actorType: input.actorType,
    actorId: input.actorId,
    action: input.action,
    targetIds: [...input.targetIds],
    outcome: input.outcome,
    requestId: input.requestId,
    clientIp: input.clientIp,
    userAgent: input.userAgent,
    prevHash: head?.hash ?? GENESIS_HASH,
  };
  if (input.details !== undefined) unsealed.details = input.details;
  // Throws here, at write time, on details canonicalJson refuses, rather than at verification time.
  return { ...unsealed, hash: computeEventHash(unsealed, auditKey) };
}

/** The head to append after: the newest event, else the retention anchor, else null. */
export function chainHead(events: readonly AuditEvent[], anchor?: AuditCheckpoint | null): ChainHead | null {
  const last = events.at(-1);
  if (last) return { seq: last.seq, hash: last.hash };
  return anchor ? { seq: anchor.seq, hash: anchor.hash } : null;
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/** Compares two hex hashes in constant time; false for anything that is not a 64-character hex string. */
function sameHash(a: string | null | undefined, b: string | null | undefined): boolean {
  if (typeof a !== "string" || typeof b !== "string" || !HEX_HASH.test(a) || !HEX_HASH.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, "hex"), Buffer.from(b, "hex"));
}

function checkpointSignature(
  cp: Pick<AuditCheckpoint, "tenantId" | "seq" | "hash" | "ts">,
  checkpointKey: HmacKey,
): string {
  // The "kind" tag keeps a checkpoint signature from ever doubling as an event hash.
  const content = {
    kind: "hypha-audit-checkpoint",
    tenantId: cp.tenantId,
    seq: cp.seq,
    hash: cp.hash,
    ts: cp.ts,
  };
  return createHmac("sha256", checkpointKey).update(canonicalJson(content), "utf8").digest("hex");
}

/** Signs the head of a tenant's chain. Store the result outside the database. */
export function signCheckpoint(
  head: { tenantId: string; seq: number; hash: string },
  checkpointKey: HmacKey,
  clock: Clock,
): AuditCheckpoint {
  const unsigned = {
    tenantId: head.tenantId,
    seq: head.seq,
    hash: head.hash,
    ts: new Date(clock.now()).toISOString(),
  };
  return { ...unsigned, signature: checkpointSignature(unsigned, checkpointKey) };
}

export type CheckpointVerification = { ok: true } | { ok: false; reason: "CHECKPOINT_INVALID" };

/** Checks a checkpoint's signature and, when given, that it belongs to `tenantId`. */
export function verifyCheckpoint(
  cp: AuditCheckpoint,
  checkpointKey: HmacKey,
  tenantId?: string,
): CheckpointVerification {
  const invalid = { ok: false, reason: "CHECKPOINT_INVALID" } as const;
  if (tenantId !== undefined && cp.tenantId !== tenantId) return invalid;
  if (!Number.isSafeInteger(cp.seq) || cp.seq < 0 || typeof cp.ts !== "string" || !HEX_HASH.test(cp.hash)) {
    return invalid;
  }
  return sameHash(checkpointSignature(cp, checkpointKey), cp.signature) ? { ok: true } : invalid;
}

export type VerifyChainOptions = {
  tenantId: string;
  checkpointKey: HmacKey;
  /** Signed heads seen earlier; any of them beyond the last stored event means the tail was deleted. */
  checkpoints?: readonly AuditCheckpoint[];
  /**
   * The retention anchor: the signed hash of the last dropped event. The chain then starts at
   * `anchor.seq + 1` with `prevHash = anchor.hash`; stored events at or before it (rows a retention run
   * has not deleted yet) are skipped.
   */
  anchor?: AuditCheckpoint | null;
};

/**
 * Verifies a tenant's chain, given in ascending `seq` order as stored. Checks per event, in order: the
 * sequence number is the next one (SEQUENCE_GAP), the hash is present (NULL_HASH), `prevHash` is the
 * previous event's hash (PREV_HASH_MISMATCH), and the HMAC recomputes (HASH_MISMATCH). Then every
 * checkpoint must lie within the chain and match the stored event at its seq; otherwise the tail was
 * cut (TRUNCATED at the first seq that may be lost, also when a cut tail was grown again).
 *
 * Without checkpoints a deleted tail cannot be told from a chain that simply ended there.
 */
export function verifyChain(
  events: readonly StoredAuditEvent[],
  auditKey: HmacKey,
  opts?: VerifyChainOptions,
): ChainVerification {
  const steps = verifySteps(events, auditKey, opts);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Events checked between two turns of the event loop by {@link verifyChainYielding}. */
const VERIFY_SLICE = 1_000;

/**
 * {@link verifyChain} for long chains on a server: the same checks, giving the event loop a turn
 * every {@link VERIFY_SLICE} events so other requests are served while a chain of any length is
 * verified.
 */
export async function verifyChainYielding(
  events: readonly StoredAuditEvent[],
  auditKey: HmacKey,
  opts?: VerifyChainOptions,
): Promise<ChainVerification> {
  const steps = verifySteps(events, auditKey, opts);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await yieldToLoop();
  }
}

function* verifySteps(
  events: readonly StoredAuditEvent[],
  auditKey: HmacKey,
  opts?: VerifyChainOptions,
): Generator<void, ChainVerification> {
  const key = Buffer.isBuffer(auditKey) ? createSecretKey(auditKey) : auditKey;
  const anchor = opts?.anchor ?? null;
  const checkpoints = [...(opts?.checkpoints ?? [])].sort((a, b) => a.seq - b.seq);
  if (opts) {
    for (const cp of anchor ? [anchor, ...checkpoints] : checkpoints) {
      if (!verifyCheckpoint(cp, opts.checkpointKey, opts.tenantId).ok) {
        return { ok: false, firstBadSeq: cp.seq, reason: "CHECKPOINT_INVALID" };
      }
    }
  }

  let prev: ChainHead = anchor ? { seq: anchor.seq, hash: anchor.hash } : { seq: 0, hash: GENESIS_HASH };
  const hashes = new Map<number, string>();
  let count = 0;
  for (const event of events) {
    if (anchor && typeof event.seq === "number" && event.seq <= anchor.seq && count === 0) continue;
    const expected = prev.seq + 1;
    if (event.seq !== expected) return { ok: false, firstBadSeq: expected, reason: "SEQUENCE_GAP" };
    if (event.hash === null || event.hash === undefined || event.hash === "") {
      return { ok: false, firstBadSeq: expected, reason: "NULL_HASH" };
    }
    if (!sameHash(event.prevHash, prev.hash)) {
      return { ok: false, firstBadSeq: expected, reason: "PREV_HASH_MISMATCH" };
    }
    let computed: string;
    try {
      computed = computeEventHash(event, key);
    } catch {
      return { ok: false, firstBadSeq: expected, reason: "HASH_MISMATCH" };
    }
    if ((opts && event.tenantId !== opts.tenantId) || !sameHash(computed, event.hash)) {
      return { ok: false, firstBadSeq: expected, reason: "HASH_MISMATCH" };
    }
    hashes.set(event.seq, event.hash);
    prev = { seq: event.seq, hash: event.hash };
    count++;
    if (count % VERIFY_SLICE === 0) yield;
  }

  // Checkpoints in ascending seq: the last one that matched bounds where a cut can have happened.
  let matched = anchor?.seq ?? 0;
  for (const cp of checkpoints) {
    if (anchor && cp.seq <= anchor.seq) continue; // older than what retention kept
    if (cp.seq > prev.seq) return { ok: false, firstBadSeq: prev.seq + 1, reason: "TRUNCATED" };
    if (!sameHash(hashes.get(cp.seq), cp.hash)) {
      // Every event verified under the audit key, yet a signed head differs: the chain was cut back
      // after `matched` and grown again (by the server, the only holder of the key). Events from
      // matched + 1 on may be lost.
      return { ok: false, firstBadSeq: matched + 1, reason: "TRUNCATED" };
    }
    matched = cp.seq;
  }
  return { ok: true, lastSeq: prev.seq, count };
}

export type RetentionOptions = VerifyChainOptions & {
  /** Events with a timestamp strictly before this instant (ms since epoch) are dropped. */
  dropBefore: number;
  clock: Clock;
};

export type RetentionPlan =
  | {
      ok: true;
      /** Delete stored events with seq <= this; null when nothing is old enough. */
      dropThroughSeq: number | null;
      dropCount: number;
      /** The anchor to keep (replacing the previous one) and to pass to `verifyChain` from now on. */
      anchor: AuditCheckpoint | null;
    }
  | Extract<ChainVerification, { ok: false }>;

/**
 * Plans a retention run: verifies the chain first (dropping events must never launder tampering), then
 * picks the oldest contiguous run of events older than `dropBefore` and signs the hash of the last one
 * as the new anchor. Save the anchor before deleting the rows; `verifyChain` skips rows at or before the
 * anchor, so a crash between the two steps leaves a chain that still verifies.
 */
export function planRetention(
  events: readonly StoredAuditEvent[],
  auditKey: HmacKey,
  opts: RetentionOptions,
): RetentionPlan {
  const verified = verifyChain(events, auditKey, opts);
  if (!verified.ok) return verified;
  const previousAnchor = opts.anchor ?? null;
  let last: StoredAuditEvent | null = null;
  let dropCount = 0;
  for (const event of events) {
    if (previousAnchor && event.seq <= previousAnchor.seq) continue;
    if (!(Date.parse(event.ts) < opts.dropBefore)) break;
    last = event;
    dropCount++;
  }
  if (!last || last.hash === null) {
    return { ok: true, dropThroughSeq: null, dropCount: 0, anchor: previousAnchor };
  }
  const anchor = signCheckpoint(
    { tenantId: opts.tenantId, seq: last.seq, hash: last.hash },
    opts.checkpointKey,
    opts.clock,
  );
  return { ok: true, dropThroughSeq: last.seq, dropCount, anchor };
}
