import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type MetricsOptions = {
  /** Label stage timings by tenant too (opt-in: one series per tenant and stage). */
  perTenant?: boolean;
  /** Distinct tenants labelled before the rest are folded into `other` (bounded cardinality). */
  tenantLimit?: number;
};

export type AdmissionStats = { inFlight: number; waiting: number; oldestAgeMs: number; refused: number };

/** Stage buckets reach below a millisecond: a search or an audit append is often that fast. */
const STAGE_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/**
 * One registry per server instance. Route labels are route templates (never raw URLs) and the
 * status is the numeric code, so label cardinality stays bounded by the route table.
 */
export function createMetrics(opts: MetricsOptions = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "hypha_" });
  const requests = new Counter({
    name: "hypha_http_requests_total",
    help: "HTTP requests by route template, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "hypha_http_request_duration_seconds",
    help: "HTTP request latency by route template and method",
    labelNames: ["route", "method"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const memoriesStored = new Counter({
    name: "hypha_memories_stored_total",
    help: "Memories written (new and new versions)",
    registers: [registry],
  });
  const memoriesRecalled = new Counter({
    name: "hypha_memories_recalled_total",
    help: "Memories returned by recall",
    registers: [registry],
  });
  const recalls = new Counter({
    name: "hypha_recalls_total",
    help: "Recall requests",
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: "hypha_store_errors_total",
    help: "Unexpected storage errors",
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: "hypha_rate_limited_total",
    help: "Requests refused by the per-key rate limit",
    registers: [registry],
  });
  const stageDuration = new Histogram({
    name: "hypha_stage_duration_seconds",
    help: "Time spent in each stage of a request or job (authentication, governance gate, recall and store stages, worker jobs, outbound calls)",
    labelNames: opts.perTenant ? (["stage", "tenant"] as const) : (["stage"] as const),
    buckets: STAGE_BUCKETS,
    registers: [registry],
  });
  const tenantLimit = opts.tenantLimit ?? 50;
  const labelled = new Set<string>();
  const tenantLabel = (tenantId: string | undefined): string => {
    if (tenantId === undefined) return "none";
    if (labelled.has(tenantId)) return tenantId;
    if (labelled.size >= tenantLimit) return "other";
    labelled.add(tenantId);
    return tenantId;
  };
  /** One stage timing; stage names are fixed in code, tenants bounded by `tenantLimit`. */
  const stage = (name: string, tenantId: string | undefined, seconds: number) => {
    if (opts.perTenant) stageDuration.observe({ stage: name, tenant: tenantLabel(tenantId) }, seconds);
    else stageDuration.observe({ stage: name }, seconds);
  };
  /** Load shedding's state (http/admission.ts), read at each scrape. */
  const watchAdmission = (stats: () => AdmissionStats) => {
    new Gauge({
      name: "hypha_admission_in_flight",
      help: "Requests admitted and not yet answered (live streams and exports included)",
      registers: [registry],
      collect() {
        this.set(stats().inFlight);
      },
    });
    new Gauge({
      name: "hypha_admission_waiting",
      help: "Admitted requests waiting for their turn to start (one starts per turn of the event loop)",
      registers: [registry],
      collect() {
        this.set(stats().waiting);
      },
    });
    new Gauge({
      name: "hypha_admission_oldest_seconds",
      help: "Age of the oldest request in flight since it was admitted (live streams and exports not counted)",
      registers: [registry],
      collect() {
        this.set(stats().oldestAgeMs / 1000);
      },
    });
    let counted = 0;
    new Counter({
      name: "hypha_overload_refused_total",
      help: "Requests refused with 503 OVERLOADED by load shedding",
      registers: [registry],
      collect() {
        const refused = stats().refused;
        if (refused > counted) this.inc(refused - counted);
        counted = refused;
      },
    });
  };
  return {
    registry,
    stage,
    watchAdmission,
    requests,
    latency,
    memoriesStored,
    memoriesRecalled,
    recalls,
    storeErrors,
    rateLimited,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
