import { AppError } from "../../lib/errors.ts";

export type AdmissionLimits = {
  /** Requests in flight in this process beyond which new ones are refused. */
  maxInFlight: number;
  /** Requests in flight for one tenant beyond which that tenant's new ones are refused. */
  maxInFlightPerTenant: number;
  /**
   * The process is under pressure when its queue is older than this and has stayed so for half
   * this time: when `QUEUE_DEPTH` requests have been in flight longer than this, tenants holding
   * more than their fair share of the slots are refused, and past twice this every new request is.
   * 0 turns the pressure check off (the in-flight bounds still hold).
   */
  maxQueueMs: number;
  /** Heavy requests (exports) in flight in this process; each tenant may hold one. */
  maxHeavyInFlight?: number;
  /**
   * The event loop's delay (the longest over the last half second) beyond which new requests are
   * refused: work waiting for the loop is a queue admission cannot see by counting. 0 turns it off.
   */
  maxEventLoopDelayMs?: number;
};

/** A request's hold on the admission counters; released exactly once when its response closes. */
export type AdmissionTicket = {
  /** Counts the request against its tenant's bound (after authentication), or refuses it. */
  enterTenant(tenantId: string): void;
  /** Resolves when the request may start its work: its turn (see `createAdmission`). */
  turn(): Promise<void>;
  release(): void;
};

export type OverloadReason =
  | "in_flight"
  | "tenant_in_flight"
  | "queue_time"
  | "tenant_share"
  | "event_loop"
  | "heavy_in_flight"
  | "tenant_heavy_in_flight";

/**
 * How many requests must be older than the limit before it counts as a queue: one long request (a
 * batch of a thousand memories) is not a backlog, and must not get every other request refused.
 */
export const QUEUE_DEPTH = 4;

/**
 * Load shedding at the chokepoint. Work the server cannot start soon is refused at once with 503
 * `OVERLOADED` and a `Retry-After`, so overload never turns into an unbounded queue; under
 * pressure a tenant holding more than its share of the slots is refused first, so one tenant
 * cannot starve the rest. The signal is the age of the queue: how long the `QUEUE_DEPTH`th oldest
 * request still in flight has been waiting. It needs no estimate of service time and recovers as
 * soon as the backlog drains. As in CoDel, only a standing queue counts: one that has stayed older
 * than the limit for half the limit. A burst that drains sooner (for example the requests
 * that arrived while a synchronous checkpoint held the process) is served, not shed.
 *
 * Turns: an admitted request starts its work (its handler) only at its turn, in arrival order and
 * one per turn of the event loop, each turn started from the loop's check phase. Between two starts
 * the loop goes round once: every request that arrived meanwhile is read and admitted or refused
 * before the next one's work begins. So a refusal waits for the turn under way (one request's start
 * and what else that turn holds), not for every request that arrived with it, and the backlog waits
 * here, where its age is counted, rather than unseen in the loop.
 */
export function createAdmission(limits: AdmissionLimits, now: () => number = () => performance.now()) {
  // Insertion order is start order, so the first entry is the oldest request in flight. Long-lived
  // requests (streams) count against the bounds but are not a sign of a queue.
  const inFlight = new Map<number, number>();
  let longInFlight = 0;
  const total = () => inFlight.size + longInFlight;
  const perTenant = new Map<string, number>();
  let nextId = 0;
  let refused = 0;
  let heavyInFlight = 0;
  const heavyPerTenant = new Map<string, number>();
  const maxHeavy = limits.maxHeavyInFlight ?? Number.POSITIVE_INFINITY;

  // The loop's delay: how late a 100 ms timer fires, the longest of its last five ticks (so a long
  // blocking task keeps the process refusing for about half a second after it, then no longer).
  // Sampling starts with the first request admitted, so start-up work is not taken for overload.
  let loopDelayMs = 0;
  let sampler: NodeJS.Timeout | null = null;
  let closed = false;
  const sampleLoop = () => {
    if (sampler || closed || !limits.maxEventLoopDelayMs) return;
    const tick = 100;
    const recent: number[] = [];
    let expected = now() + tick;
    sampler = setInterval(() => {
      const at = now();
      recent.push(Math.max(0, at - expected));
      if (recent.length > 5) recent.shift();
      expected = at + tick;
      loopDelayMs = Math.max(...recent);
    }, tick);
    sampler.unref();
  };

  // Admitted requests waiting for their turn, oldest first; one starts per turn of the loop.
  const waiting: (() => void)[] = [];
  let turning = false;
  const nextTurn = (): void => {
    const start = waiting.shift();
    if (waiting.length > 0) setImmediate(nextTurn);
    else turning = false;
    start?.();
  };

  const oldestAgeMs = (): number => {
    for (const started of inFlight.values()) return now() - started;
    return 0;
  };
  /** The age of the queue: of the `QUEUE_DEPTH`th oldest request in flight (0 with fewer). */
  const queueAgeMs = (): number => {
    let n = 0;
    for (const started of inFlight.values()) if (++n === QUEUE_DEPTH) return now() - started;
    return 0;
  };
  /** Since when the queue has been older than the limit, without a look in between finding it younger. */
  let aboveSince: number | null = null;
  /**
   * The age of the queue when it stands (it has been older than the limit for half the limit or
   * more), else 0. Each look at it (an admission, a release, a readiness probe) starts or ends the
   * stretch.
   */
  const standingQueueMs = (): number => {
    if (limits.maxQueueMs <= 0) return 0;
    const age = queueAgeMs();
    if (age <= limits.maxQueueMs) {
      aboveSince = null;
      return 0;
    }
    const at = now();
    aboveSince ??= at;
    return at - aboveSince >= limits.maxQueueMs / 2 ? age : 0;
  };
  const refuse = (reason: OverloadReason): never => {
    refused++;
    const wait = Math.max(1, Math.ceil(oldestAgeMs() / 1000));
    throw new AppError("OVERLOADED", "the server is overloaded; retry later", {
      headers: { "retry-after": String(wait) },
      details: [{ path: "limit", message: reason }],
    });
  };
  /** Why new requests would be refused now (null: admitted). */
  const overloaded = (): OverloadReason | null => {
    if (total() >= limits.maxInFlight) return "in_flight";
    if (standingQueueMs() > 2 * limits.maxQueueMs) return "queue_time";
    if (limits.maxEventLoopDelayMs && loopDelayMs > limits.maxEventLoopDelayMs) return "event_loop";
    return null;
  };

  return {
    /**
     * Admits a request or throws OVERLOADED. Health probes are not admitted through here; `long`
     * requests (event streams, exports) hold a slot without counting as queued work.
     */
    admit(opts: { long?: boolean; heavy?: boolean } = {}): AdmissionTicket {
      sampleLoop();
      const why = overloaded();
      if (why) refuse(why);
      const long = opts.long || opts.heavy;
      if (opts.heavy && heavyInFlight >= maxHeavy) refuse("heavy_in_flight");
      const id = nextId++;
      if (long) longInFlight++;
      else inFlight.set(id, now());
      if (opts.heavy) heavyInFlight++;
      let tenant: string | null = null;
      let released = false;
      return {
        enterTenant(tenantId) {
          if (tenant !== null || released) return;
          const held = perTenant.get(tenantId) ?? 0;
          if (held >= limits.maxInFlightPerTenant) refuse("tenant_in_flight");
          if (opts.heavy && (heavyPerTenant.get(tenantId) ?? 0) >= 1) refuse("tenant_heavy_in_flight");
          if (standingQueueMs() > limits.maxQueueMs) {
            const active = perTenant.size + (perTenant.has(tenantId) ? 0 : 1);
            const share = Math.max(1, Math.floor(total() / active));
            if (held >= share) refuse("tenant_share");
          }
          perTenant.set(tenantId, held + 1);
          if (opts.heavy) heavyPerTenant.set(tenantId, (heavyPerTenant.get(tenantId) ?? 0) + 1);
          tenant = tenantId;
        },
        turn() {
          return new Promise<void>((resolve) => {
            waiting.push(resolve);
            if (turning) return;
            turning = true;
            setImmediate(nextTurn);
          });
        },
        release() {
          if (released) return;
          released = true;
          if (long) longInFlight--;
          else {
            inFlight.delete(id);
            // A drained queue ends the stretch: a later one must stand for itself.
            if (aboveSince !== null) standingQueueMs();
          }
          if (opts.heavy) heavyInFlight--;
          if (tenant !== null) {
            const held = (perTenant.get(tenant) ?? 1) - 1;
            if (held <= 0) perTenant.delete(tenant);
            else perTenant.set(tenant, held);
            if (opts.heavy) {
              const heavy = (heavyPerTenant.get(tenant) ?? 1) - 1;
              if (heavy <= 0) heavyPerTenant.delete(tenant);
              else heavyPerTenant.set(tenant, heavy);
            }
          }
        },
      };
    },
    overloaded,
    stats() {
      return {
        inFlight: total(),
        waiting: waiting.length,
        tenants: perTenant.size,
        oldestAgeMs: oldestAgeMs(),
        refused,
        loopDelayMs,
      };
    },
    /** Stops sampling the event loop. */
    close() {
      closed = true;
      if (sampler) clearInterval(sampler);
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
