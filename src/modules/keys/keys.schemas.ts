import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { namespaceSchema } from "../../lib/names.ts";
import { SCOPES } from "../../platform/auth/actor.ts";
import { isCapabilityGrant } from "../identity/capabilities.ts";

/** A key's rate plan: requests per minute, 60 to 600 (the default is the configured 600). */
export const RATE_PLAN_MIN = 60;
export const RATE_PLAN_MAX = 600;

export const keyIdSchema = z.string().regex(idPattern("key"), "a key id (key_…)");
export const agentNameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$/, "letters, digits and _ . : @ -")
  // `user:<id>` names people and `connector:<…>` connectors as memory authors; no key may pose as one.
  .refine((name) => !/^(user|connector):/i.test(name), "agent names may not start with user: or connector:");

export const createKeyBody = z
  .object({
    agent: agentNameSchema,
    name: z.string().min(1).max(100).optional(),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
    /** Narrows the scopes to these dotted capabilities (`memories.recall`, `egress.github.*`). */
    capabilities: z
      .array(z.string().max(256).refine(isCapabilityGrant, "a dotted capability such as memories.recall"))
      .min(1)
      .max(50)
      .optional(),
    namespaces: z.array(namespaceSchema).min(1).max(50).optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    rate_limit_per_minute: z.number().int().min(RATE_PLAN_MIN).max(RATE_PLAN_MAX).optional(),
  })
  .strict();
export type CreateKeyInput = z.infer<typeof createKeyBody>;

/** Rotation: the old key keeps working for `grace_seconds` (at most 7 days), then expires. */
export const rotateKeyBody = z
  .object({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(3600),
  })
  .strict();

/** What a listing shows: metadata only, never the hash. */
export const keySchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  agent: z.string(),
  name: z.string().nullable(),
  start: z.string(),
  scopes: z.array(z.string()),
  capabilities: z.array(z.string()).nullable(),
  namespaces: z.array(z.string()).nullable(),
  rate_limit_per_minute: z.number().nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  rotated_to: z.string().nullable(),
});
export type ApiKey = z.infer<typeof keySchema>;

/** Creation answers once with the full key. */
export const createdKeySchema = keySchema.extend({ key: z.string() });

export type KeyRow = {
  id: string;
  tenant_id: string;
  agent: string;
  name: string | null;
  hash: string;
  start: string;
  scopes: string;
  capabilities: string | null;
  namespaces: string | null;
  rate_limit_per_minute: number | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  rotated_to: string | null;
  /** Who made the key: `user:<id>`, `key:<id>` or `instance_admin` (null: made before it was kept). */
  made_by: string | null;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const toApiKey = (row: KeyRow): ApiKey => ({
  id: row.id,
  tenant_id: row.tenant_id,
  agent: row.agent,
  name: row.name,
  start: row.start,
  scopes: JSON.parse(row.scopes) as string[],
  capabilities: row.capabilities ? (JSON.parse(row.capabilities) as string[]) : null,
  namespaces: row.namespaces ? (JSON.parse(row.namespaces) as string[]) : null,
  rate_limit_per_minute: row.rate_limit_per_minute,
  created_at: new Date(row.created_at).toISOString(),
  expires_at: iso(row.expires_at),
  revoked_at: iso(row.revoked_at),
  last_used_at: iso(row.last_used_at),
  rotated_to: row.rotated_to,
});
