import { createHash } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import { type ConnectorSource, DEFAULT_REPLAY_WINDOW_SEC } from "./connectors.schemas.ts";
import { headerValue, type InboundHeaders, type VerifySuccess } from "./signatures.ts";

/**
 * Replay protection: a verified delivery is accepted once per delivery id within the replay window.
 * Timestamps stop old captures; the id store stops a capture replayed inside the timestamp tolerance
 * (and is the only defence for schemes without a signed timestamp, such as GitHub's).
 */

/**
 * Remembers delivery ids. `seen` must be atomic: it records the id and reports whether an unexpired
 * record already existed, so two concurrent deliveries of one id cannot both be accepted. The SQL
 * implementation does this with a unique key and `INSERT ... ON CONFLICT`.
 */
export type ReplayStore = {
  /** True when (tenant, connector, id) was already recorded and has not expired; otherwise records it. */
  seen(tenantId: string, connectorId: string, deliveryId: string, expiresAtMs: number): Promise<boolean>;
};

export type DeliveryIdResult =
  | { ok: true; deliveryId: string; derived: boolean }
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

function headerText(headers: InboundHeaders, name: string): string | undefined {
  const h = headerValue(headers, name);
  return h.kind === "value" ? h.value : undefined;
}

/**
 * The id a delivery is deduplicated by. Per source:
 * - github: `X-GitHub-Delivery` (returned by the verifier);
 * - slack: the body's `event_id` (Slack retries keep it); for bodies without one (slash commands,
 *   interactivity) a hash of signature and timestamp, which is unique per signed request;
 * - stripe: the event `id` from the verified body;
 * - standard: `webhook-id` (signed);
 * - generic_hmac: the configured delivery-id header, else a hash of the signature header;
 * - jwt: the `jti` claim, else a hash of the token;
 * - bearer: the configured delivery-id header is not signed, so a hash of the body — a bearer token
 *   does not bind the body, and identical bodies are then treated as one delivery.
 *
 * Call only after verification succeeded; `payload` is the parsed body (or `undefined` when it is not
 * JSON).
 */
export function deliveryIdFor(input: {
  source: ConnectorSource;
  verified: VerifySuccess;
  headers: InboundHeaders;
  body: Buffer;
  payload: unknown;
  /** Header names the connector config points at (generic_hmac signature header). */
  signatureHeader?: string;
}): DeliveryIdResult {
  const { source, verified, headers, payload } = input;
  if (verified.deliveryId !== undefined) {
    return { ok: true, deliveryId: normaliseId(verified.deliveryId), derived: false };
  }
  const derived = (id: string | undefined): DeliveryIdResult =>
    id === undefined
      ? { ok: false, reason: "DELIVERY_ID_MISSING" }
      : { ok: true, deliveryId: id, derived: true };

  switch (source) {
    case "github":
    case "standard":
      // Both carry the id in a header; without it there is nothing safe to dedupe on.
      return { ok: false, reason: "DELIVERY_ID_MISSING" };
    case "slack": {
      const eventId = stringField(payload, "event_id");
      if (eventId !== undefined) return { ok: true, deliveryId: normaliseId(eventId), derived: false };
      const sig = headerText(headers, "x-slack-signature");
      const ts = headerText(headers, "x-slack-request-timestamp");
      return derived(sig === undefined || ts === undefined ? undefined : hashOf("slack", ts, sig));
    }
    case "stripe": {
      const eventId = stringField(payload, "id");
      return eventId === undefined
        ? { ok: false, reason: "DELIVERY_ID_MISSING" }
        : { ok: true, deliveryId: normaliseId(eventId), derived: false };
    }
    case "generic_hmac": {
      const sig =
        input.signatureHeader === undefined ? undefined : headerText(headers, input.signatureHeader);
      return derived(sig === undefined ? undefined : hashOf("generic", sig));
    }
    case "jwt": {
      const auth = headerText(headers, input.signatureHeader ?? "authorization");
      return derived(auth === undefined ? undefined : hashOf("jwt", auth));
    }
    case "bearer":
      return derived(hashOf("bearer", createHash("sha256").update(input.body).digest("hex")));
  }
}

export type ReplayCheck = { ok: true } | { ok: false; reason: "REPLAYED" };

/**
 * Wraps a store with the clock and window. Pass `replayWindowSecFor(config)`: the window must outlast
 * the timestamp tolerance, or a capture could be replayed after its id is forgotten but before its
 * timestamp goes stale.
 */
export function createReplayGuard(deps: { store: ReplayStore; clock: Clock }) {
  return {
    async check(
      tenantId: string,
      connectorId: string,
      deliveryId: string,
      windowSec: number = DEFAULT_REPLAY_WINDOW_SEC,
    ): Promise<ReplayCheck> {
      const expiresAt = deps.clock.now() + windowSec * 1000;
      const already = await deps.store.seen(tenantId, connectorId, deliveryId, expiresAt);
      return already ? { ok: false, reason: "REPLAYED" } : { ok: true };
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
