import { z } from "zod";
import { idPattern } from "../../lib/ids.ts";
import { labelSchema, memoryTypeSchema, namespaceSchema } from "../../lib/names.ts";

export const memoryIdSchema = z.string().regex(idPattern("memory"), "a memory id (mem_…)");
const isoDate = z.iso.datetime({ offset: true });

/** Who may read a memory: its owner and named agents, its namespace, or every key of the tenant. */
export const MEMORY_ACCESS = ["private", "shared", "public"] as const;
export type MemoryAccess = (typeof MEMORY_ACCESS)[number];
/** Agent names (as keys carry them) or `user:<id>` for people. */
const principalSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$/, "an agent name or user:<id>");
const allowedAgentsSchema = z.array(principalSchema).max(50);

const METADATA_KEY_RE = /^[A-Za-z0-9_]{1,64}$/;
const jsonScalar = z.union([z.string().max(2000), z.number(), z.boolean(), z.null()]);
const metadataValue = z.union([jsonScalar, z.array(jsonScalar).max(50)]);
export const metadataSchema = z
  .record(z.string().regex(METADATA_KEY_RE, "metadata keys are letters, digits and _"), metadataValue)
  .refine((m) => Object.keys(m).length <= 64, "at most 64 metadata keys")
  .refine((m) => JSON.stringify(m).length <= 16_384, "metadata is at most 16 KiB as JSON");

/** One memory to store. Content length is also checked against the configured byte limit. */
export const memoryInput = z
  .object({
    namespace: namespaceSchema,
    content: z.string().min(1).max(262_144),
    type: memoryTypeSchema.default("note"),
    tags: z.array(labelSchema).max(32).default([]),
    entities: z.array(labelSchema).max(32).default([]),
    metadata: metadataSchema.default({}),
    importance: z.number().min(0).max(1).default(0.5),
    ttl_seconds: z
      .number()
      .int()
      .min(1)
      .max(10 * 365 * 86400)
      .optional(),
    expires_at: isoDate.optional(),
    valid_from: isoDate.optional(),
    valid_to: isoDate.optional(),
    access: z.enum(MEMORY_ACCESS).default("shared"),
    allowed_agents: allowedAgentsSchema.optional(),
  })
  .strict()
  .refine((m) => !(m.ttl_seconds !== undefined && m.expires_at !== undefined), {
    message: "give ttl_seconds or expires_at, not both",
    path: ["ttl_seconds"],
  });
export type MemoryInput = z.infer<typeof memoryInput>;

export const storeBody = z.union([
  memoryInput,
  z.object({ memories: z.array(memoryInput).min(1).max(1000) }).strict(),
]);

export const patchBody = z
  .object({
    content: z.string().min(1).max(262_144).optional(),
    type: memoryTypeSchema.optional(),
    tags: z.array(labelSchema).max(32).optional(),
    entities: z.array(labelSchema).max(32).optional(),
    metadata: metadataSchema.optional(),
    importance: z.number().min(0).max(1).optional(),
    ttl_seconds: z
      .number()
      .int()
      .min(1)
      .max(10 * 365 * 86400)
      .optional(),
    expires_at: isoDate.nullable().optional(),
    valid_from: isoDate.nullable().optional(),
    valid_to: isoDate.nullable().optional(),
    access: z.enum(MEMORY_ACCESS).optional(),
    allowed_agents: allowedAgentsSchema.nullable().optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, "nothing to change");
export type MemoryPatch = z.infer<typeof patchBody>;

export const memorySchema = z.object({
  id: z.string(),
  version: z.number().int(),
  namespace: z.string(),
  type: z.string(),
  content: z.string(),
  tags: z.array(z.string()),
  entities: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  importance: z.number(),
  agent: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  expires_at: z.string().nullable(),
  valid_from: z.string().nullable(),
  valid_to: z.string().nullable(),
  is_current: z.boolean(),
  access: z.enum(MEMORY_ACCESS),
  allowed_agents: z.array(z.string()),
  owner: z.string(),
  /** Held out of recall by the guardrails (a suspected injection) unless asked for. */
  quarantined: z.boolean(),
});
export type Memory = z.infer<typeof memorySchema>;

/**
 * A memory as a store answers it. `deduplicated` is present when the tenant's `dedupe` policy made
 * this store a new version of an existing near-duplicate (the memory's own id, its version counted
 * on) instead of a new memory: the similarity of the two and the version it replaced, which stays
 * in the memory's history.
 */
export const storedMemorySchema = memorySchema.extend({
  deduplicated: z
    .object({
      similarity: z.number(),
      previous_version: z.number().int(),
    })
    .optional(),
});
export type StoredMemory = z.infer<typeof storedMemorySchema>;

export const listQuery = z.object({
  namespace: namespaceSchema.optional(),
  type: memoryTypeSchema.optional(),
  tag: labelSchema.optional(),
  entity: labelSchema.optional(),
  created_after: isoDate.optional(),
  created_before: isoDate.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: memoryIdSchema.optional(),
});
export type ListQuery = z.infer<typeof listQuery>;

export const recallBody = z
  .object({
    query: z.string().min(1).max(4000),
    namespaces: z.array(namespaceSchema).min(1).max(50).optional(),
    types: z.array(memoryTypeSchema).min(1).max(20).optional(),
    tags: z.array(labelSchema).min(1).max(20).optional(),
    entities: z.array(labelSchema).min(1).max(20).optional(),
    metadata: z.record(z.string().regex(METADATA_KEY_RE), jsonScalar).optional(),
    since: isoDate.optional(),
    until: isoDate.optional(),
    valid_at: isoDate.optional(),
    k: z.number().int().min(1).max(100).default(10),
    token_budget: z.number().int().min(64).max(100_000).default(2000),
    include_quarantined: z.boolean().default(false),
  })
  .strict();
export type RecallInput = z.infer<typeof recallBody>;

export const recallResult = z.object({
  memory: memorySchema,
  score: z.number(),
  why: z.object({
    relevance: z.number(),
    bm25: z.number(),
    /** The part of `bm25` lent by the memories written just before and after (neighbouring turns). */
    context: z.number(),
    /** The part of `bm25` from the query naming the memory's speaker (a leading `Name:`). */
    speaker: z.number(),
    /** The part of `bm25` from pseudo-relevance feedback terms (words of the best matches). */
    feedback: z.number(),
    recency: z.number(),
    importance: z.number(),
    matched_terms: z.array(z.string()),
    in_context: z.boolean(),
    /**
     * Present when vectors took part (hybrid recall): `relevance` is then the reciprocal-rank fusion
     * score over the best one, and each list's part is shown (ranks are 1-based, null when absent).
     */
    fusion: z
      .object({
        rrf: z.number(),
        lexical_rank: z.number().int().nullable(),
        vector_rank: z.number().int().nullable(),
        similarity: z.number().nullable(),
      })
      .optional(),
  }),
  /**
   * Near-duplicates of this memory that ranked below it in this recall, folded into it: not returned
   * on their own nor put in the context block (their places were refilled from the next candidates).
   * Each with its similarity to this memory. Absent when none.
   */
  folded: z.array(z.object({ id: z.string(), similarity: z.number() })).optional(),
});
export const recallResponse = z.object({
  results: z.array(recallResult),
  context: z.string(),
  context_tokens: z.number().int(),
});
export type RecallResponse = z.infer<typeof recallResponse>;

export const embeddingStatusResponse = z.object({
  /** The active embedder id (`openai:<model>:<dimension>`), null when off or before its first answer. */
  embedder: z.string().nullable(),
  /** Whether recall uses vectors for this tenant (embedder configured, and the policy allows it). */
  enabled: z.boolean(),
  /** Current memories the caller may see that hold a vector of the active embedder. */
  embedded: z.number().int(),
  /** Those still waiting for the embedding worker (0 when vectors are off for the tenant). */
  pending: z.number().int(),
});
export type EmbeddingStatus = z.infer<typeof embeddingStatusResponse>;

export const bulkDeleteBody = z.union([
  z.object({ ids: z.array(memoryIdSchema).min(1).max(1000) }).strict(),
  z.object({ entity: labelSchema }).strict(),
  z.object({ created_after: isoDate, created_before: isoDate }).strict(),
]);
export type BulkDelete = z.infer<typeof bulkDeleteBody>;

export const exportQuery = z.object({
  namespace: namespaceSchema.optional(),
  cursor: memoryIdSchema.optional(),
  include_history: z.enum(["true", "false"]).default("false"),
});

/** A stored row (one version). */
export type MemoryRow = {
  seq: number;
  id: string;
  version: number;
  tenant_id: string;
  namespace: string;
  type: string;
  content: string;
  tags: string;
  entities: string;
  metadata: string;
  importance: number;
  agent: string;
  key_id: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  valid_from: number | null;
  valid_to: number | null;
  is_current: number;
  access: MemoryAccess;
  allowed_agents: string | null;
  owner: string;
  quarantined: number;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toMemory(row: MemoryRow): Memory {
  return {
    id: row.id,
    version: row.version,
    namespace: row.namespace,
    type: row.type,
    content: row.content,
    tags: JSON.parse(row.tags) as string[],
    entities: JSON.parse(row.entities) as string[],
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    importance: row.importance,
    agent: row.agent,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
    expires_at: iso(row.expires_at),
    valid_from: iso(row.valid_from),
    valid_to: iso(row.valid_to),
    is_current: row.is_current === 1,
    access: row.access,
    allowed_agents: row.allowed_agents ? (JSON.parse(row.allowed_agents) as string[]) : [],
    owner: row.owner,
    quarantined: row.quarantined === 1,
  };
}
