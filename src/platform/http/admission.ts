import { AppError } from "../../lib/errors.ts";

export type AdmissionLimits = {
  /** Requests in flight in this process beyond which new ones are refused. */
  maxInFlight: number;
  /** Requests in flight for one tenant beyond which that tenant's new ones are refused. */
  maxInFlightPerTenant: number;
  /**
   * The process is under pressure when its oldest request has been in flight longer than this:
   * tenants holding more than their fair share of the slots are refused, and past twice this every
   * new request is. 0 turns the pressure check off (the in-flight bounds still hold).
   */
  maxQueueMs: number;
};

/** A request's hold on the admission counters; released exactly once when its response closes. */
export type AdmissionTicket = {
  /** Counts the request against its tenant's bound (after authentication), or refuses it. */
  enterTenant(tenantId: string): void;
  release(): void;
};

export type OverloadReason = "in_flight" | "tenant_in_flight" | "queue_time" | "tenant_share";

/**
 * Load shedding at the chokepoint. Work the server cannot start soon is refused at once with 503
 * `OVERLOADED` and a `Retry-After`, so overload never turns into an unbounded queue; under
 * pressure a tenant holding more than its share of the slots is refused first, so one tenant
 * cannot starve the rest. The signal is the age of the oldest request still in flight (how long
 * the queue already is), which needs no estimate of service time and recovers as soon as the
 * backlog drains.
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

  const oldestAgeMs = (): number => {
    for (const started of inFlight.values()) return now() - started;
    return 0;
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
    if (limits.maxQueueMs > 0 && oldestAgeMs() > 2 * limits.maxQueueMs) return "queue_time";
    return null;
  };

  return {
    /**
     * Admits a request or throws OVERLOADED. Health probes are not admitted through here; `long`
     * requests (event streams, exports) hold a slot without counting as queued work.
     */
    admit(opts: { long?: boolean } = {}): AdmissionTicket {
      const why = overloaded();
      if (why) refuse(why);
      const id = nextId++;
      if (opts.long) longInFlight++;
      else inFlight.set(id, now());
      let tenant: string | null = null;
      let released = false;
      return {
        enterTenant(tenantId) {
          if (tenant !== null || released) return;
          const held = perTenant.get(tenantId) ?? 0;
          if (held >= limits.maxInFlightPerTenant) refuse("tenant_in_flight");
          if (limits.maxQueueMs > 0 && oldestAgeMs() > limits.maxQueueMs) {
            const active = perTenant.size + (perTenant.has(tenantId) ? 0 : 1);
            const share = Math.max(1, Math.floor(total() / active));
            if (held >= share) refuse("tenant_share");
          }
          perTenant.set(tenantId, held + 1);
          tenant = tenantId;
        },
        release() {
          if (released) return;
          released = true;
          if (opts.long) longInFlight--;
          else inFlight.delete(id);
          if (tenant !== null) {
            const held = (perTenant.get(tenant) ?? 1) - 1;
            if (held <= 0) perTenant.delete(tenant);
            else perTenant.set(tenant, held);
          }
        },
      };
    },
    overloaded,
    stats() {
      return { inFlight: total(), tenants: perTenant.size, oldestAgeMs: oldestAgeMs(), refused };
    },
  };
}

export type Admission = ReturnType<typeof createAdmission>;
