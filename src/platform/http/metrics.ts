import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * One registry per server instance. Route labels are route templates (never raw URLs) and the
 * status is the numeric code, so label cardinality stays bounded by the route table.
 */
export function createMetrics() {
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
  return { registry, requests, latency, memoriesStored, memoriesRecalled, recalls, storeErrors, rateLimited };
}

export type Metrics = ReturnType<typeof createMetrics>;
