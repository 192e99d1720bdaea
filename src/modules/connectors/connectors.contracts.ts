import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import { type ConnectorConfig, connectorConfigSchema } from "./connectors.schemas.ts";
import type { ConnectorRow, DeliveryRow, HealthRow, OutcomeRow } from "./connectors.store.ts";

/** HTTP contracts of the connector routes. The connector config itself is `connectorConfigSchema`. */

export const connectorIdSchema = z.string().regex(idPattern("connector"), "a connector id (con_…)");
export const deliveryIdSchema = z.string().regex(idPattern("delivery"), "a delivery id (dlv_…)");
export const connectorNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lowercase letters, digits, '_' and '-'");

export const tenantParams = z.object({ tenant_id: tenantIdSchema });
export const connectorParams = tenantParams.extend({ connector_id: connectorIdSchema });

export const createConnectorBody = z.strictObject({
  name: connectorNameSchema,
  config: connectorConfigSchema,
});
export type CreateConnectorInput = z.infer<typeof createConnectorBody>;

/** A new config replaces the old one; without secret/secretEnv the stored inline secret is kept. */
export const updateConnectorBody = z
  .strictObject({
    name: connectorNameSchema.optional(),
    config: z.unknown().optional(),
  })
  .refine((b) => b.name !== undefined || b.config !== undefined, "nothing to change");
export type UpdateConnectorInput = z.infer<typeof updateConnectorBody>;

/** What the API shows of a connector: never the secret, only whether one is configured. */
export const connectorSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  source: z.string(),
  secret_configured: z.boolean(),
  secret_env: z.string().nullable(),
  replay_window_sec: z.number().nullable(),
  /** The connector's own body limit, when set (otherwise its source's default applies). */
  max_body_bytes: z.number().nullable(),
  mapping: z.record(z.string(), z.unknown()),
  options: z.record(z.string(), z.unknown()),
  ingest_path: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type ConnectorView = z.infer<typeof connectorSchema>;

/** A rotation in progress: the previous secret still verifies until `previous_expires_at`. */
export const rotationSchema = z.object({
  in_progress: z.boolean(),
  rotated_at: z.string().nullable(),
  previous_expires_at: z.string().nullable(),
});

/** The longest grace period a rotation may give the previous secret: 30 days. */
export const MAX_GRACE_SECONDS = 30 * 86_400;

export const rotateSecretBody = z.strictObject({
  /** The new secret; the same rules as a config's `secret` apply (length, strength, format). */
  secret: z.string().min(16).max(1024),
  /** How long the secret being replaced keeps verifying (default one day). */
  grace_seconds: z.number().int().min(60).max(MAX_GRACE_SECONDS).default(86_400),
});

export const rotationResultSchema = z.object({
  connector: z.lazy(() => connectorSchema),
  rotation: rotationSchema,
});

/** Share of processed deliveries that were ignored above which health warns (from this many on). */
export const MOSTLY_IGNORED_RATIO = 0.5;
export const MOSTLY_IGNORED_MIN_DELIVERIES = 10;

export const healthSchema = z.object({
  connector_id: z.string(),
  last_delivery_at: z.string().nullable(),
  last_rejected_at: z.string().nullable(),
  accepted: z.number(),
  duplicates: z.number(),
  signature_failures: z.number(),
  processed: z.number(),
  processing_failures: z.number(),
  /** processed / (processed + dead letters), null before the first outcome. */
  success_rate: z.number().nullable(),
  mean_ingest_latency_ms: z.number().nullable(),
  pending: z.number(),
  dead_letters_pending: z.number(),
  /**
   * What processed deliveries came to: `stored` (became memories), `ignored` by reason
   * (`event_unsupported`, `no_content`, `action_ignored`, `ping`, ...) and `dead`.
   */
  outcomes: z.object({
    stored: z.number(),
    ignored: z.record(z.string(), z.number()),
    ignored_total: z.number(),
    dead: z.number(),
  }),
  /** Share of processed deliveries that became memories; null before the first outcome. */
  stored_rate: z.number().nullable(),
  /** Deliveries that verified only with the previous secret of a rotation. */
  previous_secret_verified: z.number(),
  rotation: rotationSchema,
  warnings: z.array(z.object({ code: z.string(), message: z.string() })),
});
export type ConnectorHealth = z.infer<typeof healthSchema>;

export const deadLetterSchema = z.object({
  id: z.string(),
  connector_id: z.string(),
  delivery_id: z.string(),
  status: z.string(),
  attempts: z.number(),
  error: z.string().nullable(),
  received_at: z.string(),
  dead_at: z.string().nullable(),
  /** The selected request headers the delivery was verified with (no credentials). */
  headers: z.record(z.string(), z.string()),
  /** The raw payload: UTF-8 text when it is valid UTF-8, otherwise base64 (see `payload_encoding`). */
  payload: z.string(),
  payload_encoding: z.enum(["utf8", "base64"]),
});

export const replayResultSchema = z.object({
  id: z.string(),
  status: z.string(),
  replayed: z.boolean(),
});

export const bulkReplayBody = z.strictObject({
  connector_id: connectorIdSchema.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A connector's config as parsed, with its inline secret once the caller has opened it. */
export const storedConfig = (row: ConnectorRow, secret: string | null): ConnectorConfig =>
  ({
    ...(JSON.parse(row.config) as ConnectorConfig),
    ...(secret === null ? {} : { secret }),
  }) as ConnectorConfig;

export function toConnectorView(row: ConnectorRow): ConnectorView {
  const config = JSON.parse(row.config) as ConnectorConfig;
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    name: row.name,
    source: row.source,
    secret_configured: row.secret !== null || config.secretEnv !== undefined,
    secret_env: config.secretEnv ?? null,
    replay_window_sec: config.replayWindowSec ?? null,
    max_body_bytes: config.maxBodyBytes ?? null,
    mapping: config.mapping as Record<string, unknown>,
    options: config.options as Record<string, unknown>,
    ingest_path: `/v1/ingest/${row.tenant_id}/${row.id}`,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export function rotationOf(row: ConnectorRow, now: number): z.infer<typeof rotationSchema> {
  const expires = row.previous_secret_expires_at ?? null;
  const running = row.previous_secret != null && expires !== null && expires > now;
  return {
    in_progress: running,
    rotated_at: iso(row.rotated_at ?? null),
    previous_expires_at: running ? iso(expires) : null,
  };
}

export function toHealth(
  connectorId: string,
  h: HealthRow | undefined,
  pending: number,
  dead: number,
  outcomeRows: readonly OutcomeRow[] = [],
  rotation: z.infer<typeof rotationSchema> = {
    in_progress: false,
    rotated_at: null,
    previous_expires_at: null,
  },
): ConnectorHealth {
  const processed = h?.processed ?? 0;
  const outcomes = processed + dead;
  const ignored: Record<string, number> = {};
  let stored = 0;
  let ignoredTotal = 0;
  let deadTotal = 0;
  for (const r of outcomeRows) {
    if (r.outcome === "stored") stored += r.count;
    else if (r.outcome === "dead") deadTotal += r.count;
    else {
      ignored[r.reason] = (ignored[r.reason] ?? 0) + r.count;
      ignoredTotal += r.count;
    }
  }
  const finished = stored + ignoredTotal + deadTotal;
  const warnings: { code: string; message: string }[] = [];
  if (finished >= MOSTLY_IGNORED_MIN_DELIVERIES && ignoredTotal / finished > MOSTLY_IGNORED_RATIO) {
    const top = Object.entries(ignored).sort((a, b) => b[1] - a[1])[0];
    warnings.push({
      code: "MOSTLY_IGNORED",
      message:
        `${ignoredTotal} of ${finished} deliveries stored nothing` +
        (top ? ` (most: ${top[0]}, ${top[1]})` : "") +
        "; check the events the sender is subscribed to, the content type and the mapping",
    });
  }
  if (rotation.in_progress && (h?.previous_secret_verified ?? 0) > 0) {
    warnings.push({
      code: "PREVIOUS_SECRET_IN_USE",
      message:
        "deliveries still verify with the previous secret; switch the sender before the grace period ends",
    });
  }
  return {
    connector_id: connectorId,
    last_delivery_at: iso(h?.last_delivery_at ?? null),
    last_rejected_at: iso(h?.last_rejected_at ?? null),
    accepted: h?.accepted ?? 0,
    duplicates: h?.duplicates ?? 0,
    signature_failures: h?.signature_failures ?? 0,
    processed,
    processing_failures: h?.failures ?? 0,
    success_rate: outcomes === 0 ? null : processed / outcomes,
    mean_ingest_latency_ms:
      h && h.latency_samples > 0 ? Math.round((h.latency_ms_total / h.latency_samples) * 100) / 100 : null,
    pending,
    dead_letters_pending: dead,
    outcomes: { stored, ignored, ignored_total: ignoredTotal, dead: deadTotal },
    stored_rate: finished === 0 ? null : stored / finished,
    previous_secret_verified: h?.previous_secret_verified ?? 0,
    rotation,
    warnings,
  };
}

/**
 * A delivery as the console lists it: its outcome (`stored`, `ignored` with the mapping's reason,
 * `dead` with the last error, or still `pending`) and times; never its headers or payload.
 */
export function toDeliveryView(row: Omit<DeliveryRow, "headers" | "body">) {
  const outcome =
    row.status === "done"
      ? "stored"
      : row.status === "ignored"
        ? "ignored"
        : row.status === "dead"
          ? "dead"
          : "pending";
  const memories = row.memory_ids ? (JSON.parse(row.memory_ids) as unknown[]).length : 0;
  return {
    id: row.id,
    delivery_id: row.delivery_id,
    outcome,
    reason:
      outcome === "ignored"
        ? (row.last_error ?? "ignored: NO_CONTENT").replace(/^ignored: /, "").toLowerCase()
        : outcome === "stored"
          ? null
          : row.last_error,
    memories,
    attempts: row.attempts,
    received_at: iso(row.received_at),
    processed_at: iso(row.processed_at ?? row.dead_at),
  } as const;
}
export type DeliveryView = ReturnType<typeof toDeliveryView>;

/** The dead-letter view of an inbox row, given its opened payload. */
export function toDeadLetter(row: DeliveryRow, body: Buffer) {
  const text = body.toString("utf8");
  const utf8 = Buffer.from(text, "utf8").equals(body);
  return {
    id: row.id,
    connector_id: row.connector_id,
    delivery_id: row.delivery_id,
    status: row.status,
    attempts: row.attempts,
    error: row.last_error,
    received_at: new Date(row.received_at).toISOString(),
    dead_at: iso(row.dead_at),
    headers: JSON.parse(row.headers) as Record<string, string>,
    payload: utf8 ? text : body.toString("base64"),
    payload_encoding: utf8 ? ("utf8" as const) : ("base64" as const),
  };
}
