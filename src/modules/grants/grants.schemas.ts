import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { memoryTypeSchema, namespaceSchema } from "../../lib/names.ts";

export const grantIdSchema = z.string().regex(idPattern("grant"), "a grant id (gnt_…)");

/** Namespace `grantee` may read namespace `namespace` (and its children), optionally only some types. */
export const createGrantBody = z
  .object({
    grantee: namespaceSchema,
    namespace: namespaceSchema,
    types: z.array(memoryTypeSchema).min(1).max(20).optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .refine((g) => g.grantee !== g.namespace, {
    message: "a namespace needs no grant to itself",
    path: ["namespace"],
  });
export type CreateGrantInput = z.infer<typeof createGrantBody>;

export const grantSchema = z.object({
  id: z.string(),
  grantee: z.string(),
  namespace: z.string(),
  types: z.array(z.string()).nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
export type Grant = z.infer<typeof grantSchema>;

export type GrantRow = {
  id: string;
  tenant_id: string;
  grantee_namespace: string;
  source_namespace: string;
  types: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const toGrant = (r: GrantRow): Grant => ({
  id: r.id,
  grantee: r.grantee_namespace,
  namespace: r.source_namespace,
  types: r.types ? (JSON.parse(r.types) as string[]) : null,
  created_at: new Date(r.created_at).toISOString(),
  expires_at: iso(r.expires_at),
  revoked_at: iso(r.revoked_at),
});
