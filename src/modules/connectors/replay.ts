import { createHash } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import { type ConnectorSource, DEFAULT_REPLAY_WINDOW_SEC } from "./connectors.schemas.ts";
import type { VerifySuccess } from "./signatures.ts";

/**
 * Replay protection: a verified delivery is accepted once per replay key. Every key comes from signed
 * or canonical data — a signed id, or the digest of what the signature covers (`signedDigest`) — never
 * from request text an attacker can respell without breaking the signature (hex case, base64
 * alphabet, `Bearer` spacing, an unsigned delivery-id header). Timestamps stop old captures; the key
 * store stops a capture replayed inside the timestamp tolerance, and for schemes without a signed
 * timestamp (GitHub, generic HMAC without `timestampHeader`) it is the only defence, so their content
 * key is remembered for as long as the connector exists.
 */

/**
 * Remembers replay keys. `seen` must be atomic: it records the key and reports whether an unexpired
 * record already existed, so two concurrent deliveries of one key cannot both be accepted. The SQL
 * implementation does this with a unique key and `INSERT ... ON CONFLICT`.
 */
export type ReplayStore = {
  /** True when (tenant, connector, id) was already recorded and has not expired; otherwise records it. */
  seen(tenantId: string, connectorId: string, deliveryId: string, expiresAtMs: number): Promise<boolean>;
};

/** Expiry of a key that must never be forgotten while its connector exists. */
export const KEEP_FOREVER_MS = Number.MAX_SAFE_INTEGER;

/** One key a delivery is deduplicated by. */
export type ReplayKey = {
  key: string;
  /** Remember the key at least until this time (epoch ms), even past the replay window. */
  keepUntilMs?: number;
};

export type DeliveryIdResult =
  | {
      ok: true;
      /** The id the inbox row carries (and memories cite). Always the first of `replayKeys`. */
      deliveryId: string;
      derived: boolean;
      /** Every key to check; the delivery is a duplicate when any of them was seen. */
      replayKeys: ReplayKey[];
    }
  | { ok: false; reason: "DELIVERY_ID_MISSING" };

/** Ids longer than this, or with unusual characters, are stored as their hash. */
const PLAIN_ID_RE = /^[\x21-\x7e]{1,128}$/;

function normaliseId(id: string): string {
  return PLAIN_ID_RE.test(id) ? id : `sha256:${createHash("sha256").update(id).digest("hex")}`;
}

function hashOf(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return `sha256:${h.digest("hex")}`;
}

function stringField(obj: unknown, key: string): string | undefined {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return undefined;
  const value = Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The keys a delivery is deduplicated by. Per source:
 * - github: `X-GitHub-Delivery` (returned by the verifier; it names the inbox row) and the digest of
 *   the body, kept for good: GitHub signs neither the id nor a time, so a capture re-sent with a new
 *   id is still a duplicate. GitHub's "Redeliver" (same body, new id) is therefore a duplicate too;
 * - slack: the body's `event_id` (Slack retries keep it); for bodies without one (slash commands,
 *   interactivity) the digest of the signed `v0:{ts}:{body}`;
 * - stripe: the event `id` from the verified body;
 * - standard: `webhook-id` (signed);
 * - generic_hmac: the configured delivery-id header (if sent) and the digest of the signed content,
 *   kept for good when no timestamp is signed — identical bodies are then one delivery;
 * - jwt: the `jti` claim, else the digest of the token's signing input (`header.payload`), kept at
 *   least until the token expires;
 * - bearer: the configured delivery-id header is not signed, so a hash of the body — a bearer token
 *   does not bind the body, and identical bodies are then treated as one delivery.
 *
 * Call only after verification succeeded; `payload` is the parsed body (or `undefined` when it is not
 * JSON).
 */
export function deliveryIdFor(input: {
  source: ConnectorSource;
  verified: VerifySuccess;
  body: Buffer;
  payload: unknown;
}): DeliveryIdResult {
  const { source, verified, payload } = input;
  const digest = verified.signedDigest;
  const contentKey = (keepUntilMs?: number): ReplayKey | undefined =>
    digest === undefined
      ? undefined
      : { key: hashOf(source, digest), ...(keepUntilMs === undefined ? {} : { keepUntilMs }) };
  const result = (first: ReplayKey | undefined, derived: boolean, extra?: ReplayKey): DeliveryIdResult =>
    first === undefined
      ? { ok: false, reason: "DELIVERY_ID_MISSING" }
      : {
          ok: true,
          deliveryId: first.key,
          derived,
          replayKeys: extra === undefined || extra.key === first.key ? [first] : [first, extra],
        };
  const senderId = verified.deliveryId === undefined ? undefined : { key: normaliseId(verified.deliveryId) };

  switch (source) {
    case "github":
      // Without the id there is nothing to name the row by; with it, the body digest stops replays.
      return senderId === undefined
        ? { ok: false, reason: "DELIVERY_ID_MISSING" }
        : result(senderId, false, contentKey(KEEP_FOREVER_MS));
    case "standard":
      return result(senderId, false);
    case "slack": {
      const eventId = stringField(payload, "event_id");
      if (eventId !== undefined) return result({ key: normaliseId(eventId) }, false);
      return result(contentKey(), true);
    }
    case "stripe": {
      const eventId = stringField(payload, "id");
      return result(eventId === undefined ? undefined : { key: normaliseId(eventId) }, false);
    }
    case "generic_hmac": {
      const content = contentKey(verified.timestamp === undefined ? KEEP_FOREVER_MS : undefined);
      return senderId === undefined ? result(content, true) : result(senderId, false, content);
    }
    case "jwt": {
      if (senderId !== undefined) return result(senderId, false);
      const exp = verified.claims?.exp;
      return result(
        contentKey(typeof exp === "number" ? Math.min(exp * 1000, KEEP_FOREVER_MS) : undefined),
        true,
      );
    }
    case "bearer":
      return result({ key: hashOf("bearer", createHash("sha256").update(input.body).digest("hex")) }, true);
  }
}

export type ReplayCheck = { ok: true } | { ok: false; reason: "REPLAYED" };

/**
 * Wraps a store with the clock and window. Pass `replayWindowSecFor(config)`: the window must outlast
 * the timestamp tolerance, or a capture could be replayed after its id is forgotten but before its
 * timestamp goes stale.
 */
export function createReplayGuard(deps: { store: ReplayStore; clock: Clock }) {
  async function check(
    tenantId: string,
    connectorId: string,
    deliveryId: string,
    windowSec: number = DEFAULT_REPLAY_WINDOW_SEC,
    keepUntilMs = 0,
  ): Promise<ReplayCheck> {
    const expiresAt = Math.max(deps.clock.now() + windowSec * 1000, keepUntilMs);
    const already = await deps.store.seen(tenantId, connectorId, deliveryId, expiresAt);
    return already ? { ok: false, reason: "REPLAYED" } : { ok: true };
  }

  return {
    check,
    /**
     * Checks every key of one delivery (`deliveryIdFor(...).replayKeys`) and records them all, so a
     * replay caught by one key still leaves the others remembered. REPLAYED when any was seen.
     */
    async checkAll(
      tenantId: string,
      connectorId: string,
      keys: readonly ReplayKey[],
      windowSec: number = DEFAULT_REPLAY_WINDOW_SEC,
    ): Promise<ReplayCheck> {
      let replayed = false;
      for (const k of keys) {
        const r = await check(tenantId, connectorId, k.key, windowSec, k.keepUntilMs);
        replayed = !r.ok || replayed;
      }
      return replayed ? { ok: false, reason: "REPLAYED" } : { ok: true };
    },
  };
}

/**
 * In-memory store for tests and single-process use. Expired entries are pruned when the map fills,
 * and it is capped (oldest evicted first) so a flood of unique ids cannot exhaust memory — at the cost
 * of forgetting ids early under such a flood. Production uses the SQL store.
 */
export function createMemoryReplayStore(deps: { clock: Clock; maxEntries?: number }) {
  const entries = new Map<string, number>();
  const maxEntries = deps.maxEntries ?? 100_000;

  function prune(now: number): void {
    for (const [key, expiresAt] of entries) {
      if (expiresAt <= now) entries.delete(key);
    }
  }

  const store = {
    async seen(
      tenantId: string,
      connectorId: string,
      deliveryId: string,
      expiresAtMs: number,
    ): Promise<boolean> {
      const key = JSON.stringify([tenantId, connectorId, deliveryId]);
      const now = deps.clock.now();
      const existing = entries.get(key);
      if (existing !== undefined && existing > now) return true;
      entries.delete(key);
      if (entries.size >= maxEntries) prune(now);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
      entries.set(key, expiresAtMs);
      return false;
    },
    size(): number {
      return entries.size;
    },
  };
  return store satisfies ReplayStore;
}
