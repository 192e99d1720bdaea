import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { guardrailPolicySchema } from "../guardrails/guardrails.schemas.ts";
import { agentNameSchema, keyIdSchema, RATE_PLAN_MAX } from "../keys/keys.schemas.ts";
import { DEDUPE_THRESHOLD, DEDUPE_THRESHOLD_MIN } from "../memories/dedupe.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";

/** The default anomaly cap per key and minute: twice the largest rate plan, so plans decide. */
export const ANOMALY_CAP_DEFAULT = 2 * RATE_PLAN_MAX;

/** How much harm an operation can do. The server decides it from the tenant's policy, never the caller. */
export const RISK_TIERS = ["low", "medium", "high", "critical"] as const;
export type RiskTier = (typeof RISK_TIERS)[number];

/**
 * Default tier of each operation (route `operationId`). Operations not listed fall back by the
 * level of their action: reads `low`, writes `medium`, administration `high`.
 * `deleteTenant` is reserved for tenant deletion when it gets a route.
 */
export const DEFAULT_TIERS: Readonly<Record<string, RiskTier>> = {
  recallMemories: "low",
  listMemories: "low",
  getMemory: "low",
  memoryHistory: "low",
  storeMemory: "medium",
  updateMemory: "medium",
  deleteMemory: "medium",
  bulkDeleteMemories: "high",
  exportMemories: "high",
  createKey: "critical",
  revokeKey: "critical",
  rotateKey: "critical",
  deleteTenant: "critical",
};

const operationIdSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.]{0,63}$/, "an operation id such as storeMemory");
const approverCount = z.number().int().min(0).max(10);

/**
 * A tenant's governance policy. `parse({})` is the documented baseline: no tier needs approval
 * (so nothing changes until an admin asks for it), approvals expire after an hour, and a recall
 * answer more than 10× the key's running average is flagged. With `anomaly.enforce` (on by default), an
 * agent key is also limited to 100 requests a minute and paused above 50 % errors over at least 20
 * requests in 5 minutes.
 */
export const tenantPolicySchema = z
  .object({
    /** Overrides of the default tier per operation id. */
    tiers: z
      .record(operationIdSchema, z.enum(RISK_TIERS))
      .refine((m) => Object.keys(m).length <= 200, "at most 200 overrides")
      .default({}),
    /** Distinct approvers each tier needs (0: runs without approval). */
    approvals: z
      .object({
        low: approverCount.default(0),
        medium: approverCount.default(0),
        high: approverCount.default(0),
        critical: approverCount.default(0),
      })
      .strict()
      .prefault({}),
    approval_ttl_seconds: z
      .number()
      .int()
      .min(60)
      .max(7 * 86_400)
      .default(3600),
    anomaly: z
      .object({
        /**
         * Whether the request cap and the error-rate pause are enforced (on by default; a tenant may
         * turn them off or raise the thresholds). Recall volume is flagged either way (it only audits).
         */
        enforce: z.boolean().default(true),
        /**
         * Requests a minute one agent key may make, on top of its own rate plan (the lower wins). The
         * default, 1200, is twice the largest rate plan (600): the key's plan decides unless a tenant
         * lowers the cap to stop a runaway agent.
         */
        max_requests_per_minute: z.number().int().min(1).max(100_000).default(ANOMALY_CAP_DEFAULT),
        error_rate: z.number().gt(0).max(1).default(0.5),
        error_min_requests: z.number().int().min(1).max(10_000).default(20),
        error_window_seconds: z.number().int().min(10).max(86_400).default(300),
        recall_volume_factor: z.number().min(1).max(1000).default(10),
        recall_min_samples: z.number().int().min(1).max(1000).default(5),
      })
      .strict()
      .prefault({}),
    guardrails: guardrailPolicySchema.prefault({}),
    /** Injection threshold for text written by agents and people (a note opening with a task verb scores 0.55). */
    write_injection_threshold: z.number().min(0).max(1).default(0.7),
    /** Injection threshold for ingested deliveries (connectors). */
    ingest_injection_threshold: z.number().min(0).max(1).default(0.5),
    /**
     * Hybrid recall's vectors for this tenant, when an embedder is configured. Unset: on for a
     * plaintext tenant, off for an encrypted one (an embedding can be inverted to approximate text,
     * and computing it sends the text to the embeddings API); `on` seals the vectors at rest.
     */
    embeddings: z.enum(["off", "on"]).optional(),
    /**
     * Near-duplicate stores (`on`): a store whose content is a near-duplicate of a memory the caller
     * could update (same namespace, type and readership) writes a new version of that memory instead
     * of a new one. Off by default. Recall folds near-duplicates in its results either way.
     */
    dedupe: z.enum(["off", "on"]).default("off"),
    /**
     * How alike two memories' content terms must be (Jaccard similarity) to count as near-duplicates,
     * for `dedupe` and for recall's folding. Below 0.7 statements that differ in their one telling
     * word ("… is blue" / "… is green") would merge, so lower values are refused.
     */
    dedupe_threshold: z.number().min(DEDUPE_THRESHOLD_MIN).max(1).default(DEDUPE_THRESHOLD),
  })
  .strict();
export type TenantPolicy = z.infer<typeof tenantPolicySchema>;
export const policyBody = tenantPolicySchema;
export const policyResponse = tenantPolicySchema.extend({
  version: z.number().int(),
  updated_at: z.string().nullable(),
});

// ---- approvals -------------------------------------------------------------------------------

export const approvalIdSchema = z.string().regex(idPattern("approval"), "an approval id (apr_…)");
export const APPROVAL_STATUSES = [
  "pending",
  "approved",
  "rejected",
  "consumed",
  "expired",
  "cancelled",
] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export type ApprovalRow = {
  id: string;
  tenant_id: string;
  requester: string; // key:<id> or user:<id>
  key_id: string | null;
  agent: string | null;
  owner: string | null; // user:<id> who created the requesting key, when known
  operation: string;
  method: string;
  route: string;
  tier: RiskTier;
  payload_hash: string;
  required: number;
  approvals: number;
  status: ApprovalStatus;
  version: number;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  consumed_at: number | null;
};

export const approvalSchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  requester: z.string(),
  agent: z.string().nullable(),
  operation: z.string(),
  method: z.string(),
  route: z.string(),
  tier: z.enum(RISK_TIERS),
  payload_sha256: z.string(),
  required_approvals: z.number().int(),
  approvals: z.number().int(),
  status: z.enum(APPROVAL_STATUSES),
  created_at: z.string(),
  expires_at: z.string(),
  decided_at: z.string().nullable(),
  consumed_at: z.string().nullable(),
});
export type Approval = z.infer<typeof approvalSchema>;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A pending approval past its expiry reads as expired even before anything rewrites it. */
export function toApproval(row: ApprovalRow, now: number): Approval {
  const stale = (row.status === "pending" || row.status === "approved") && row.expires_at <= now;
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    requester: row.requester,
    agent: row.agent,
    operation: row.operation,
    method: row.method,
    route: row.route,
    tier: row.tier,
    payload_sha256: row.payload_hash,
    required_approvals: row.required,
    approvals: row.approvals,
    status: stale ? "expired" : row.status,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
    decided_at: iso(row.decided_at),
    consumed_at: iso(row.consumed_at),
  };
}

export const approvalListQuery = z.object({
  status: z.enum(APPROVAL_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: approvalIdSchema.optional(),
});

export const decisionBody = z
  .object({ comment: z.string().max(500).optional() })
  .strict()
  .nullish();

// ---- kill switch -----------------------------------------------------------------------------

export const OVERRIDE_SCOPES = ["global", "tenant", "agent"] as const;
export type OverrideScope = (typeof OVERRIDE_SCOPES)[number];

/** `agent` scope names a key (`key_id`) or every key of an agent name (`agent`) in a tenant. */
export const overrideBody = z
  .object({
    scope: z.enum(OVERRIDE_SCOPES),
    tenant_id: tenantIdSchema.optional(),
    agent: agentNameSchema.optional(),
    key_id: keyIdSchema.optional(),
    frozen: z.boolean(),
    reason: z.string().min(1).max(500),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.scope === "global" && (o.tenant_id || o.agent || o.key_id)) {
      ctx.addIssue({
        code: "custom",
        path: ["scope"],
        message: "a global override names no tenant or agent",
      });
    }
    if (o.scope !== "global" && !o.tenant_id) {
      ctx.addIssue({ code: "custom", path: ["tenant_id"], message: "required for tenant and agent scope" });
    }
    if (o.scope === "tenant" && (o.agent || o.key_id)) {
      ctx.addIssue({ code: "custom", path: ["scope"], message: "a tenant override names no agent" });
    }
    if (o.scope === "agent" && (o.agent === undefined) === (o.key_id === undefined)) {
      ctx.addIssue({ code: "custom", path: ["agent"], message: "give agent or key_id (one of them)" });
    }
  });
export type OverrideInput = z.infer<typeof overrideBody>;

export type FreezeRow = {
  target: string;
  scope: OverrideScope;
  tenant_id: string | null;
  agent: string | null;
  key_id: string | null;
  reason: string;
  set_by: string;
  set_at: number;
};

export const freezeSchema = z.object({
  scope: z.enum(OVERRIDE_SCOPES),
  tenant_id: z.string().nullable(),
  agent: z.string().nullable(),
  key_id: z.string().nullable(),
  reason: z.string(),
  set_by: z.string(),
  set_at: z.string(),
});

/** A freeze as the API and the console show it. */
export type Freeze = z.infer<typeof freezeSchema>;

export const toFreeze = (r: FreezeRow) => ({
  scope: r.scope,
  tenant_id: r.tenant_id,
  agent: r.agent,
  key_id: r.key_id,
  reason: r.reason,
  set_by: r.set_by,
  set_at: new Date(r.set_at).toISOString(),
});

/** One freeze per target: `global`, `tenant:<tid>`, `key:<tid>:<kid>` or `agent:<tid>:<name>`. */
export function freezeTarget(o: Pick<OverrideInput, "scope" | "tenant_id" | "agent" | "key_id">): string {
  if (o.scope === "global") return "global";
  if (o.scope === "tenant") return `tenant:${o.tenant_id}`;
  return o.key_id ? `key:${o.tenant_id}:${o.key_id}` : `agent:${o.tenant_id}:${o.agent}`;
}

export const pauseSchema = z.object({
  key_id: z.string(),
  paused: z.boolean(),
  reason: z.string().nullable(),
  paused_at: z.string().nullable(),
});
