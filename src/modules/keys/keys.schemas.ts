import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { namespaceSchema } from "../../lib/names.ts";
import { SCOPES } from "../../platform/auth/actor.ts";

export const keyIdSchema = z.string().regex(idPattern("key"), "a key id (key_…)");
export const agentNameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$/, "letters, digits and _ . : @ -");

export const createKeyBody = z
  .object({
    agent: agentNameSchema,
    name: z.string().min(1).max(100).optional(),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
    namespaces: z.array(namespaceSchema).min(1).max(50).optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    rate_limit_per_minute: z.number().int().min(1).max(100_000).optional(),
  })
  .strict();
export type CreateKeyInput = z.infer<typeof createKeyBody>;

/** What a listing shows: metadata only, never the hash. */
export const keySchema = z.object({
  id: z.string(),
  tenant_id: z.string(),
  agent: z.string(),
  name: z.string().nullable(),
  start: z.string(),
  scopes: z.array(z.string()),
  namespaces: z.array(z.string()).nullable(),
  rate_limit_per_minute: z.number().nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
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
  namespaces: string | null;
  rate_limit_per_minute: number | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const toApiKey = (row: KeyRow): ApiKey => ({
  id: row.id,
  tenant_id: row.tenant_id,
  agent: row.agent,
  name: row.name,
  start: row.start,
  scopes: JSON.parse(row.scopes) as string[],
  namespaces: row.namespaces ? (JSON.parse(row.namespaces) as string[]) : null,
  rate_limit_per_minute: row.rate_limit_per_minute,
  created_at: new Date(row.created_at).toISOString(),
  expires_at: iso(row.expires_at),
  revoked_at: iso(row.revoked_at),
  last_used_at: iso(row.last_used_at),
});
