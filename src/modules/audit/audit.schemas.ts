import { z } from "zod";
import type { RequestOrigin } from "../../platform/auth/actor.ts";

/**
 * Event types modules add, filled by declaration merging next to each module's description:
 *
 * @example
 * declare module "../audit/audit.schemas.ts" {
 *   interface AuditEventRegistry extends Record<(typeof grantsEvents)[number], true> {}
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each module.
export interface AuditEventRegistry {}
/** Typed event names (`<object>.<verb in past tense>`), declared by the modules that write them. */
export type AuditAction = Extract<keyof AuditEventRegistry, string>;

export type AuditActorType = "instance_admin" | "agent" | "user" | "system" | "anonymous" | "connector";

export type AuditEventInput = {
  /** The tenant whose chain records the event; null for the instance chain (control database). */
  tenantId: string | null;
  actor: { type: AuditActorType; id: string };
  action: AuditAction;
  targetIds?: string[];
  outcome?: "success" | "denied" | "error";
  /** Where the request came from; absent fields are recorded as null. */
  origin?: Partial<Record<keyof RequestOrigin, string | null>> | undefined;
  /** Never content, never secrets: ids, counts, codes. */
  details?: Record<string, unknown>;
};

export const auditEventSchema = z.object({
  seq: z.number().int(),
  id: z.string(),
  ts: z.string(),
  tenant_id: z.string().nullable(),
  actor: z.object({ type: z.string(), id: z.string() }),
  action: z.string(),
  target_ids: z.array(z.string()),
  outcome: z.string(),
  request_id: z.string().nullable(),
  client_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  prev_hash: z.string().nullable(),
  hash: z.string().nullable(),
});
export type AuditEventView = z.infer<typeof auditEventSchema>;

const isoDate = z.iso.datetime({ offset: true });
const tenantParam = z.string().regex(/^tnt_[0-9A-HJKMNP-TV-Z]{26}$/, "a tenant id (tnt_…)");

export const auditQuery = z.object({
  tenant_id: tenantParam.optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  actor: z
    .string()
    .max(128)
    .regex(/^[A-Za-z0-9_.:@-]+$/)
    .optional(),
  action: z
    .string()
    .max(64)
    .regex(/^[a-z_]+(?:\.[a-z_]+)?(?:\.\*)?$|^[a-z_]+\.\*$/, "an action name, or a prefix ending in .*")
    .optional(),
  outcome: z.enum(["success", "denied", "error"]).optional(),
  suspicious: z.enum(["true", "false"]).default("false"),
  cursor: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type AuditQuery = z.infer<typeof auditQuery>;

export const auditPage = z.object({ items: z.array(auditEventSchema), next_cursor: z.string().nullable() });

export const verifyQuery = z.object({ tenant_id: tenantParam.optional() });

export const verifyResponse = z.object({
  chain: z.string(),
  ok: z.boolean(),
  last_seq: z.number().int().nullable(),
  count: z.number().int().nullable(),
  first_bad_seq: z.number().int().nullable(),
  reason: z.string().nullable(),
  checkpoints: z.number().int(),
  anchor_seq: z.number().int().nullable(),
  /** The newest signed head kept outside the chain's storage (instance chain, external sink). */
  anchored_seq: z.number().int().nullable(),
});
export type VerifyResponse = z.infer<typeof verifyResponse>;
