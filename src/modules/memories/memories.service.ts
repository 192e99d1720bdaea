import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import type { Logger } from "../../lib/logger.ts";
import { timeSlices } from "../../lib/slices.ts";
import {
  type Actor,
  authorize,
  authorizeNamespace,
  authorName,
  namespaceCovers,
  type TenantActor,
  visibleNamespaces,
} from "../../platform/auth/actor.ts";
import type { EventBus } from "../../platform/events/bus.ts";
import type { Metrics } from "../../platform/http/metrics.ts";
import type { Database, SqlExecutor, Storage } from "../../platform/storage/port.ts";
import { createTelemetry, type Telemetry } from "../../platform/telemetry.ts";
import type { AuditAction } from "../audit/audit.schemas.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import {
  DEDUPE_CANDIDATES,
  DEDUPE_THRESHOLD,
  dedupeQueryWords,
  type Fingerprint,
  fingerprint,
  rarestWords,
  similarity,
} from "./dedupe.ts";
import { type Embedder, EmbedderError, encodeVector, offEmbedder } from "./embedder.ts";
import {
  type FieldLeaf,
  fieldGroups,
  fieldLeaves,
  type MemoryFields,
  splitBack,
  withValues,
} from "./fields.ts";
import { createGroupCommit } from "./group-commit.ts";
import {
  type BulkDelete,
  type EmbeddingStatus,
  type ListQuery,
  type Memory,
  type MemoryInput,
  type MemoryPatch,
  type MemoryRow,
  metadataSchema,
  type RecallInput,
  type RecallResponse,
  type StoredMemory,
  toMemory,
} from "./memories.schemas.ts";
import {
  type Candidate,
  type EmbedderSpace,
  type Filters,
  memoriesStore,
  type NewRow,
  type PgVector,
  type Visibility,
} from "./memories.store.ts";
import { screenMemories, screenMemory } from "./outbound.ts";
import { createRowPacer } from "./pacer.ts";
import { blend, type Fused, formatContext, fuse, matchedTerms, queryTerms, recencyScore } from "./recall.ts";
import { type IndexEntry, queryTokensOf, type RowCodec } from "./row-codec.ts";
import { createVectorIndex } from "./vector-index.ts";

/**
 * Guardrails on what enters and leaves memory (the governance module provides it). `inbound`
 * returns the text to store (hidden characters stripped, masked) and whether to quarantine it, or
 * throws GUARDRAIL_BLOCKED; `outbound` returns the text that may leave, or null to withhold it.
 */
export type MemoryScreen = {
  inbound(
    actor: TenantActor,
    content: string,
    path: string,
  ): Promise<{ content: string; quarantined: boolean; flags: unknown }>;
  /**
   * `inbound` for each text of a batch, in order (the first refusal throws). A path is a request
   * path, or names the field at an offset of a text that joins a memory's fields (`fields.ts`).
   */
  inboundMany(
    actor: TenantActor,
    contents: readonly string[],
    paths: readonly (string | ((offset: number | null) => string))[],
  ): Promise<{ content: string; quarantined: boolean; flags: unknown }[]>;
  outboundFor(
    actor: TenantActor,
  ): Promise<(content: string) => Promise<{ content: string; flagged: boolean } | null>>;
  /** The size of a recall answer about to leave (the anomaly detector watches each key's volume). */
  recalled(actor: TenantActor, bytes: number): Promise<void>;
};

/** The texts of one write the guardrails judge: its content and fields, each when written. */
type WriteTexts = {
  /** The request path of the memory (`body`, `body.memories.3`). */
  path: string;
  content?: string | undefined;
  tags?: readonly string[] | undefined;
  entities?: readonly string[] | undefined;
  metadata?: Record<string, unknown> | undefined;
};

/** What of a write may be stored, whether it is quarantined, and the verdicts to audit as flagged. */
type AdmittedWrite = WriteTexts & { quarantined: boolean; flags: unknown[] };

/** Who a system writer's memories are attributed to (a connector: its name, id and owner tag). */
export type SystemAuthor = { agent: string; keyId: string; owner: string };

/** A memory a system writer (the connector inbox) stores, already screened by the guardrails. */
export type SystemDraft = {
  namespace: string;
  type: string;
  content: string;
  quarantined: boolean;
  tags: readonly string[];
  entities: readonly string[];
  metadata: Record<string, unknown>;
  importance: number;
};

/** A namespace another namespace may read (from the grants module). */
export type NamespaceGrantView = { grantee: string; namespace: string; types: readonly string[] | null };

export type MemoriesDeps = {
  storage: Storage;
  clock: Clock;
  metrics: Metrics;
  maxContentBytes: number;
  halfLifeDays: number;
  /** Rows per second all NDJSON exports of the process read together (see pacer.ts). */
  exportRowsPerSecond: number;
  /** Active cross-namespace grants of a tenant; none when absent. */
  activeGrants?: (tenantId: string, now: number) => Promise<readonly NamespaceGrantView[]>;
  audit: AuditSink;
  vault: MemoryVault;
  /** Hears of memory writes after they commit (live stream, outbound webhooks). */
  events?: EventBus;
  screen?: MemoryScreen;
  /** Spans and stage timings (`store.*`, `recall.*`); timing-free when absent. */
  telemetry?: Telemetry;
  /** Hybrid recall's embedder; `off` (lexical recall only) when absent. */
  embedder?: Embedder;
  /** A tenant's policy on vectors (`on`/`off`); unset means on for plaintext tenants, off for encrypted ones. */
  embeddingsPolicy?: (tenantId: string) => Promise<"on" | "off" | undefined>;
  /** Where embedder failures are reported (they never fail a request). */
  logger?: Pick<Logger, "warn">;
  /** A tenant's near-duplicate policy; stores never merge and recall folds at DEDUPE_THRESHOLD when absent. */
  dedupePolicy?: (tenantId: string) => Promise<DedupePolicy>;
};

/**
 * Near-duplicates (dedupe.ts): whether a store that restates a memory the caller could update writes
 * a new version of it instead of a new memory, and the similarity from which two memories are
 * near-duplicates (recall folds them at this threshold whatever `store` says).
 */
export type DedupePolicy = { store: boolean; threshold: number };

/**
 * The pgvector column a tenant's vectors go to and are ranked from: none for an encrypted tenant,
 * whose vectors are sealed (a clear copy beside them would undo the sealing), so its vectors stay
 * in the process's cache only.
 */
export function vectorColumnFor(codec: RowCodec, column: PgVector | null): PgVector | null {
  return codec.encrypted ? null : column;
}

/** Memories embedded per call to the embedder. */
export const EMBED_BATCH = 32;
/** Vector candidates checked against their rows per statement. */
const VECTOR_CHECK_CHUNK = 64;

/**
 * Recall multiplies the score of a memory the caller reaches only through a grant or because it is
 * public (outside its own namespaces) by this factor, so its own memories rank first.
 */
export const GRANTED_SCORE_FACTOR = 0.5;

/** How a tenant's rows are stored, and what must follow a committed change (the markdown mirror). */
export type MemoryVault = {
  codec(tenantId: string): Promise<RowCodec>;
  written(tenantId: string, memories: readonly Memory[]): Promise<void>;
  removed(tenantId: string, ids: readonly string[]): Promise<void>;
};

/** Tag and entity filters in their stored form; metadata on blind labels when the rows are sealed. */
function storedFilters(codec: RowCodec, f: Filters): Filters {
  const out: Filters = {
    ...f,
    tags: f.tags?.map((v) => codec.label("tag", v)),
    entities: f.entities?.map((v) => codec.label("entity", v)),
  };
  if (codec.encrypted && f.metadata) {
    out.metadataLabels = Object.entries(f.metadata).map(([k, v]) => codec.metaLabel(k, v));
    out.metadata = undefined;
  }
  return out;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);
const AUDIT_TARGETS_MAX = 100;
/**
 * A batch's new rows are inserted this many at a time (a few statements per chunk for the index,
 * labels and log); between chunks, other requests may get a turn (the write lock stays held).
 */
const INSERT_CHUNK = 64;

/** Tags and entities a memory may carry (as the store and update schemas bound them). */
const LABELS_MAX = 32;
/**
 * Document frequencies above this are all "common" when a text's rarest words are picked (PostgreSQL
 * counts the term table's rows for them, so the cap bounds that count).
 */
const DEDUPE_FREQUENCY_CAP = 100;
/** Refill rounds of a recall whose results folded near-duplicates (each loads the places they left). */
const FOLD_ROUNDS = 4;

const readersOf = (row: Pick<NewRow, "allowed_agents">) =>
  row.allowed_agents && row.allowed_agents !== "[]" ? row.allowed_agents : null;

/**
 * Whether `row`, about to be stored, may become a new version of `current` (its near-duplicate):
 * same namespace and type, the same readers (access, named agents, and the owner of a private
 * memory), and neither is quarantined — so a merge never widens or narrows who reads the text, and
 * a suspected injection never replaces a memory's text (nor a clean restatement releases one).
 */
function mergeable(current: NewRow, row: NewRow): boolean {
  return (
    current.namespace === row.namespace &&
    current.type === row.type &&
    current.access === row.access &&
    readersOf(current) === readersOf(row) &&
    (row.access !== "private" || current.owner === row.owner) &&
    current.quarantined === 0 &&
    row.quarantined === 0
  );
}

/**
 * The new version a near-duplicate store writes: the restatement's content, type, expiry and
 * validity, tags, entities and metadata merged (the restatement's values win), the higher
 * importance, and the writer as its agent; id, owner, readers and creation time stay. Null when the
 * merged labels or metadata would exceed what a memory may hold (the store is then a new memory).
 */
function mergedVersion(current: NewRow, row: NewRow, now: number): NewRow | null {
  const union = (a: string, b: string) => [
    ...new Set([...(JSON.parse(a) as string[]), ...(JSON.parse(b) as string[])]),
  ];
  const tags = union(current.tags, row.tags);
  const entities = union(current.entities, row.entities);
  const metadata = { ...(JSON.parse(current.metadata) as object), ...(JSON.parse(row.metadata) as object) };
  if (
    tags.length > LABELS_MAX ||
    entities.length > LABELS_MAX ||
    !metadataSchema.safeParse(metadata).success
  ) {
    return null;
  }
  return {
    ...current,
    version: current.version + 1,
    content: row.content,
    type: row.type,
    tags: JSON.stringify(tags),
    entities: JSON.stringify(entities),
    metadata: JSON.stringify(metadata),
    importance: Math.max(current.importance, row.importance),
    agent: row.agent,
    key_id: row.key_id,
    updated_at: now,
    expires_at: row.expires_at,
    valid_from: row.valid_from,
    valid_to: row.valid_to,
    is_current: 1,
    quarantined: 0,
  };
}

/** Memories belong to a tenant: only its agents (keys) and users act on them. */
function requireTenantActor(actor: Actor): TenantActor {
  if (actor.type !== "agent" && actor.type !== "user") {
    throw new AppError("FORBIDDEN", "memory routes need a tenant key or a user token");
  }
  return actor;
}

/** Whether `namespace` is one of the caller's own (not reached through a grant or `public`). */
function ownNamespace(actor: TenantActor, namespace: string): boolean {
  return actor.namespaces === null || actor.namespaces.some((ns) => namespaceCovers(ns, namespace));
}

/** Recall ranks the best `max(MIN, k × FACTOR)` memories by BM25 (at most 500) with recency and importance. */
export const RECALL_POOL_MIN = 50;
export const RECALL_POOL_FACTOR = 8;
/** Recall's signals beyond BM25 and neighbouring context (recall-index.ts `SearchOptions`). */
const RECALL_SIGNALS = { speaker: true, feedback: true } as const;
/** Export rows decrypted and screened between two turns of the event loop (and sent as one chunk). */
const EXPORT_SLICE = 50;

export function createMemoriesService(deps: MemoriesDeps) {
  const { storage, clock, metrics } = deps;
  const exportPacer = createRowPacer(deps.exportRowsPerSecond);
  const reads = createGroupCommit(storage);
  /** Tenants whose memories are all in the recall index (checked once per process). */
  const indexed = new Map<string, Promise<void>>();

  /** Adds memories written before the recall index existed to it, once per tenant and process. */
  const ensureIndexed = (tenantId: string, db: Database, codec: RowCodec): Promise<void> => {
    let done = indexed.get(tenantId);
    if (!done) {
      done = (async () => {
        for (;;) {
          const n = await db.transaction(async (tx) => {
            const page = await memoriesStore.unindexed(tx, 500);
            if (page.length === 0) return 0;
            const rows = await memoriesStore.bySeqs(
              tx,
              tenantId,
              page.map((p) => p.seq),
            );
            await memoriesStore.reindex(
              tx,
              rows.map((row) => ({ seq: row.seq, bag: codec.terms(codec.open(row)) })),
            );
            return page.length;
          });
          if (n === 0) return;
        }
      })();
      done.catch(() => indexed.delete(tenantId));
      indexed.set(tenantId, done);
    }
    return done;
  };
  const embedder = deps.embedder ?? offEmbedder;
  const vectors = createVectorIndex();
  /**
   * The pgvector column, looked up once per process (every tenant of a PostgreSQL store shares the
   * table; a SQLite store never has one). A failed lookup is retried by the next caller.
   */
  let pgvector: Promise<PgVector | null> | null = null;
  const vectorColumn = (): Promise<PgVector | null> => {
    if (!pgvector) {
      const lookup = memoriesStore.pgvectorColumn(storage.control);
      lookup.catch(() => {
        if (pgvector === lookup) pgvector = null;
      });
      pgvector = lookup;
    }
    return pgvector;
  };
  /** Whether vectors are computed and searched for a tenant (see `embeddingsPolicy`). */
  const vectorsOn = async (tenantId: string, codec: RowCodec): Promise<boolean> => {
    if (!embedder.enabled) return false;
    const policy = deps.embeddingsPolicy ? await deps.embeddingsPolicy(tenantId) : undefined;
    return (policy ?? (codec.encrypted ? "off" : "on")) === "on";
  };
  /** The active embedder's vectors: its id, or every dimension of its model before its first answer. */
  const space = (): EmbedderSpace =>
    embedder.id ? { id: embedder.id } : { prefix: `${embedder.name ?? ""}:` };
  const embedderFailed = (err: unknown, tenantId: string, stage: string) => {
    // A code only: the message of an EmbedderError never holds the key, the URL or the texts.
    const reason = err instanceof EmbedderError ? err.reason : "UNEXPECTED";
    deps.logger?.warn({ tenantId, stage, reason }, "embeddings call failed; recall stays lexical");
  };
  /**
   * The vector candidates of a query: the cache's memories by similarity, checked against their rows
   * (visibility, filters, embedder id) best first until `pool` are visible; for a plaintext tenant
   * on PostgreSQL with pgvector, the same answer from one statement.
   */
  const vectorCandidates = async (
    reader: SqlExecutor,
    vis: Visibility,
    stored: Filters,
    codec: RowCodec,
    embedderId: string,
    query: Float32Array,
    pool: number,
  ) => {
    const column = vectorColumnFor(codec, await vectorColumn());
    if (column) {
      // pgvector: the same exact ranking and checks, in one statement (no cache in the process).
      const rows = await memoriesStore.nearestVectors(reader, column, vis, stored, embedderId, query, pool);
      return rows.map((r) => ({ ...r, seq: Number(r.seq), bm25: 0, context: 0 }));
    }
    const hits = await vectors.search(reader, vis.tenantId, embedderId, codec, query);
    const out: (Candidate & { similarity: number })[] = [];
    while (hits.left > 0 && out.length < pool) {
      const chunk = hits.take(VECTOR_CHECK_CHUNK);
      const rows = await memoriesStore.visibleVectorCandidates(
        reader,
        vis,
        stored,
        embedderId,
        chunk.map((h) => h.seq),
      );
      const bySeq = new Map(rows.map((r) => [Number(r.seq), r]));
      for (const h of chunk) {
        const r = bySeq.get(h.seq);
        if (r && out.length < pool) out.push({ ...r, bm25: 0, context: 0, similarity: h.similarity });
      }
    }
    return out;
  };

  /**
   * Embeds a batch for the worker. When the API refuses the batch (an HTTP error or an unusable
   * answer) each text is tried alone, so one text it cannot embed leaves only itself without a
   * vector (null). "stop" when the embedder is unreachable, slow or changed: the pass ends there.
   */
  const embedRows = async (tenantId: string, texts: readonly string[]) => {
    const call = (batch: readonly string[]) =>
      telemetry.span("worker.embed", { tenant: tenantId, count: batch.length }, () => embedder.embed(batch));
    const perText = (err: unknown) =>
      err instanceof EmbedderError && (err.reason === "HTTP_ERROR" || err.reason === "BAD_RESPONSE");
    try {
      return await call(texts);
    } catch (err) {
      embedderFailed(err, tenantId, "worker");
      if (!perText(err) || texts.length === 1) return perText(err) ? [null] : ("stop" as const);
    }
    const out: (Float32Array | null)[] = [];
    for (const text of texts) {
      try {
        out.push((await call([text]))[0] ?? null);
      } catch (err) {
        if (!perText(err)) return "stop" as const;
        out.push(null);
      }
    }
    return out;
  };

  /** Tenants whose search index has deleted terms waiting to be merged away. */
  const indexDirty = new Set<string>();

  const checkContent = (content: string, path: string) => {
    if (Buffer.byteLength(content, "utf8") > deps.maxContentBytes) {
      throw new AppError("VALIDATION_FAILED", `content is larger than ${deps.maxContentBytes} bytes`, {
        details: [{ path, message: `at most ${deps.maxContentBytes} bytes` }],
      });
    }
  };

  /** What the caller sees: grants apply to agents restricted to namespaces, and to reads only. */
  const visibility = async (actor: TenantActor, now: number, mode: "read" | "write"): Promise<Visibility> => {
    const namespaces = visibleNamespaces(actor, undefined);
    let grants: Visibility["grants"] = [];
    if (mode === "read" && namespaces !== null && deps.activeGrants) {
      grants = (await deps.activeGrants(actor.tenantId, now)).filter((g) =>
        namespaces.some((ns) => namespaceCovers(ns, g.grantee)),
      );
    }
    return { tenantId: actor.tenantId, now, namespaces, principal: authorName(actor), mode, grants };
  };

  const audit = (
    tx: Parameters<AuditSink>[0],
    actor: TenantActor,
    action: AuditAction,
    targetIds: string[],
    now: number,
    details?: Record<string, unknown>,
  ) =>
    deps.audit(
      tx,
      {
        tenantId: actor.tenantId,
        actor,
        action,
        targetIds: targetIds.slice(0, AUDIT_TARGETS_MAX),
        origin: actor.origin,
        ...(details ? { details } : {}),
      },
      now,
    );

  const telemetry = deps.telemetry ?? createTelemetry();
  const span = telemetry.span;
  /** The audit append of a write or a read, as its own stage. */
  const auditSpan = (...args: Parameters<typeof audit>) =>
    span("audit.append", { tenant: args[1].tenantId }, () => audit(...args));

  /**
   * What the guardrails let in of each write, in one batch of texts: its content (when written) and
   * its tags, entities and metadata strings (those written), each judged as content is — refused (the
   * first refusal throws 422 naming the field), masked, or stored with its flags. A field's
   * suspected injection quarantines the memory as one in its content does. The fields of a memory
   * are one text (`fields.ts`: one detector pass and one judge call per memory, not per label).
   */
  const screenWrites = async (actor: TenantActor, items: readonly WriteTexts[]): Promise<AdmittedWrite[]> => {
    const screen = deps.screen;
    if (!screen) {
      return items.map((item) => ({ ...item, quarantined: false, flags: [] }));
    }
    const texts: string[] = [];
    const paths: (string | ((offset: number | null) => string))[] = [];
    const plans = items.map((item) => {
      let contentAt: number | null = null;
      if (item.content !== undefined) {
        contentAt = texts.push(item.content) - 1;
        paths.push(`${item.path}.content`);
      }
      const given: MemoryFields = {
        tags: item.tags ?? [],
        entities: item.entities ?? [],
        metadata: item.metadata ?? {},
      };
      const leaves = fieldLeaves(given, item.path);
      const groups = fieldGroups(leaves).map((g) => {
        paths.push(g.locate);
        return { g, at: texts.push(g.text) - 1 };
      });
      return { contentAt, given, leaves, groups };
    });
    const screened = texts.length > 0 ? await screen.inboundMany(actor, texts, paths) : [];
    const out: AdmittedWrite[] = [];
    for (const [i, item] of items.entries()) {
      const plan = plans[i];
      if (!plan) throw new Error("a write was not planned");
      const content = plan.contentAt === null ? undefined : screened[plan.contentAt];
      let quarantined = content?.quarantined ?? false;
      const flags: unknown[] = content?.flags ? [content.flags] : [];
      const values = new Map<FieldLeaf, string>();
      for (const { g, at } of plan.groups) {
        const verdict = screened[at];
        if (!verdict) throw new Error("a field text was not screened");
        if (verdict.quarantined) quarantined = true;
        if (verdict.flags) flags.push(verdict.flags);
        let got = splitBack(g, verdict.content);
        if (got === null) {
          // A mask across two lines (or over a field's name): the fields one by one, for their text.
          const alone = await screen.inboundMany(
            actor,
            g.leaves.map((l) => l.prefix + l.value),
            g.leaves.map((l) => l.path),
          );
          got = alone.map((a, k) => {
            if (a.quarantined) quarantined = true;
            const prefix = g.leaves[k]?.prefix ?? "";
            return a.content.startsWith(prefix) ? a.content.slice(prefix.length) : a.content;
          });
        }
        g.leaves.forEach((leaf, k) => {
          values.set(leaf, got[k] ?? leaf.value);
        });
      }
      const fields = withValues(
        plan.given,
        plan.leaves,
        plan.leaves.map((l) => values.get(l) ?? l.value),
      );
      out.push({
        path: item.path,
        content: content?.content ?? item.content,
        tags: item.tags === undefined ? undefined : fields.tags,
        entities: item.entities === undefined ? undefined : fields.entities,
        metadata: item.metadata === undefined ? undefined : fields.metadata,
        quarantined,
        flags,
      });
    }
    return out;
  };

  /** Who a GDPR erasure reaches and what it selects (see `bulkDelete`). */
  async function erasureOf(actor: Actor, selector: BulkDelete) {
    authorize(actor, "memories:delete");
    const agent = requireTenantActor(actor);
    const tenantWide = !("ids" in selector) && agent.actions.has("memories:erase");
    const now = clock.now();
    const db = await storage.tenant(agent.tenantId);
    const codec = await deps.vault.codec(agent.tenantId);
    const sel =
      "ids" in selector
        ? { ids: selector.ids }
        : "entity" in selector
          ? { entity: codec.label("entity", selector.entity) }
          : {
              createdAfter: Date.parse(selector.created_after),
              createdBefore: Date.parse(selector.created_before),
            };
    const writable = await visibility(agent, now, "write");
    // Tenant-wide: no principal, so private memories match too; a key's namespaces still bound it.
    const vis: Visibility = tenantWide ? { ...writable, principal: null } : writable;
    return { agent, tenantWide, now, db, sel, vis };
  }

  function buildRow(
    actor: TenantActor,
    input: MemoryInput,
    now: number,
    path: string,
    screened: AdmittedWrite,
  ): NewRow {
    authorizeNamespace(actor, input.namespace);
    checkContent(input.content, `${path}.content`);
    const expiresAt =
      input.ttl_seconds !== undefined ? now + input.ttl_seconds * 1000 : (ms(input.expires_at) ?? null);
    if (expiresAt !== null && expiresAt <= now) {
      throw new AppError("VALIDATION_FAILED", "expires_at must be in the future", {
        details: [{ path: `${path}.expires_at`, message: "must be in the future" }],
      });
    }
    return {
      id: newId("memory", now),
      version: 1,
      tenant_id: actor.tenantId,
      namespace: input.namespace,
      type: input.type,
      content: screened.content ?? input.content,
      tags: JSON.stringify([...new Set(screened.tags ?? input.tags)]),
      entities: JSON.stringify([...new Set(screened.entities ?? input.entities)]),
      metadata: JSON.stringify(screened.metadata ?? input.metadata),
      importance: input.importance,
      agent: authorName(actor),
      key_id: actor.type === "agent" ? actor.id : null,
      created_at: now,
      updated_at: now,
      expires_at: expiresAt,
      valid_from: ms(input.valid_from),
      valid_to: ms(input.valid_to),
      is_current: 1,
      access: input.access,
      allowed_agents: input.allowed_agents ? JSON.stringify([...new Set(input.allowed_agents)].sort()) : null,
      owner: authorName(actor),
      quarantined: screened.quarantined ? 1 : 0,
    };
  }

  /**
   * What every read needs, resolved before its transaction (reading the tenant's policy inside it
   * would wait on itself): the vault, the caller's visibility, the codec, and the outbound
   * inspection every memory passes on its way out (get, list, history, export, recall, MCP).
   */
  const readScope = async (agent: TenantActor, now: number) => {
    const [db, vis, codec, outbound] = await Promise.all([
      storage.tenant(agent.tenantId),
      visibility(agent, now, "read"),
      deps.vault.codec(agent.tenantId),
      deps.screen ? deps.screen.outboundFor(agent) : null,
    ]);
    return { db, vis, codec, outbound };
  };
  const dedupeOf = async (tenantId: string): Promise<DedupePolicy> =>
    deps.dedupePolicy ? deps.dedupePolicy(tenantId) : { store: false, threshold: DEDUPE_THRESHOLD };

  /** Writes `next` as a memory's current version; the version at `currentSeq` stays in its history. */
  const writeVersion = async (tx: SqlExecutor, codec: RowCodec, currentSeq: number, next: NewRow) => {
    await memoriesStore.retire(tx, currentSeq);
    const sealed = codec.seal(next);
    return memoriesStore.insert(tx, sealed.row, sealed.index);
  };

  /**
   * A batch's near-duplicate candidates, before its write transaction: per row, its fingerprint and
   * the ids of the few memories BM25 ranks best for its rarest words (see `rarestWords`) among those
   * the caller may write (same namespace and type, not quarantined), read from the committed index
   * without waiting on writers.
   * Null for a row that is never merged (quarantined by the guardrails).
   */
  const dedupeCandidates = async (
    agent: TenantActor,
    db: Database,
    codec: RowCodec,
    rows: readonly NewRow[],
    threshold: number,
    now: number,
  ) => {
    await ensureIndexed(agent.tenantId, db, codec);
    const vis = await visibility(agent, now, "write");
    const reader = db.read ?? db;
    const out: ({ fp: Fingerprint; ids: string[] } | null)[] = [];
    const slice = timeSlices();
    for (const row of rows) {
      await slice();
      if (row.quarantined === 1) {
        out.push(null);
        continue;
      }
      const fp = fingerprint(row.content);
      const words = dedupeQueryWords(row.content);
      const frequencies = await memoriesStore.documentFrequencies(
        reader,
        words.map((w) => queryTokensOf(codec, [w])),
        DEDUPE_FREQUENCY_CAP,
      );
      const rare = rarestWords(words, frequencies, fp.terms.size, threshold);
      const found = rare.length
        ? await memoriesStore.search(
            reader,
            vis,
            { namespaces: [row.namespace], types: [row.type], excludeQuarantined: true },
            queryTokensOf(codec, rare),
            DEDUPE_CANDIDATES,
          )
        : [];
      out.push({ fp, ids: found.map((c) => c.id) });
    }
    return { vis, plans: out };
  };

  const guardrailCounts = (c: { withheld: number; flagged: number }) =>
    c.withheld + c.flagged > 0 ? { guardrails: { withheld: c.withheld, flagged: c.flagged } } : {};

  return {
    /**
     * Stores one memory or a batch; a batch is one transaction (all or nothing). Under the tenant's
     * `dedupe` policy, a memory that is a near-duplicate of one the caller could update (a committed
     * one, or an earlier one of the same batch) becomes a new version of it, audited as the update it
     * is, and its answer says so (`deduplicated`).
     */
    async store(actor: Actor, inputs: readonly MemoryInput[]): Promise<StoredMemory[]> {
      authorize(actor, "memories:write");
      const agent = requireTenantActor(actor);
      const now = clock.now();
      const paths = inputs.map((_, i) => (inputs.length > 1 ? `body.memories.${i}` : "body"));
      for (const [i, input] of inputs.entries()) {
        authorizeNamespace(agent, input.namespace);
        checkContent(input.content, `${paths[i]}.content`);
      }
      const screened = await span("store.guardrails", { tenant: agent.tenantId, count: inputs.length }, () =>
        screenWrites(
          agent,
          inputs.map((input, i) => ({
            path: paths[i] ?? "body",
            content: input.content,
            tags: input.tags,
            entities: input.entities,
            metadata: input.metadata,
          })),
        ),
      );
      const rows = inputs.map((input, i) => {
        const admitted = screened[i];
        if (!admitted) throw new Error("a memory of the batch was not screened");
        return buildRow(agent, input, now, paths[i] ?? "body", admitted);
      });
      const db = await storage.tenant(agent.tenantId);
      const codec = await deps.vault.codec(agent.tenantId);
      const policy = await dedupeOf(agent.tenantId);
      const dedupe = policy.store
        ? await span("store.dedupe", { tenant: agent.tenantId, count: rows.length }, () =>
            dedupeCandidates(agent, db, codec, rows, policy.threshold, now),
          )
        : null;
      // Sealing (encryption, blind tokens, the index's words) needs no lock: it is done before the
      // write transaction, so the tenant's other writes and reads' audit events wait only for the
      // statements. A row merged into an existing memory instead is sealed as its new version.
      const sealed = await span("store.seal", { tenant: agent.tenantId, count: rows.length }, async () => {
        const slice = timeSlices();
        const out: { row: NewRow; index: IndexEntry }[] = [];
        for (const row of rows) {
          await slice();
          out.push(codec.seal(row));
        }
        return out;
      });
      const stored = await db.transaction(async (tx) => {
        const out: { row: MemoryRow; deduplicated?: { similarity: number; previous_version: number } }[] = [];
        const created: MemoryRow[] = [];
        /** This batch's memories as written so far, by id, for the rows after them to merge into. */
        const written = new Map<string, { row: MemoryRow; fp: Fingerprint }>();
        /** New rows not yet inserted: written together, in order, before a merge needs their seq. */
        const pending: { row: MemoryRow; entry: (typeof sealed)[number] }[] = [];
        const flush = async () => {
          const seqs = await memoriesStore.insertMany(
            tx,
            pending.map((p) => p.entry),
          );
          pending.forEach((p, k) => {
            p.row.seq = seqs[k] ?? p.row.seq;
          });
          pending.length = 0;
        };
        await span("store.insert", { tenant: agent.tenantId, count: rows.length }, async () => {
          const slice = timeSlices();
          for (const [i, row] of rows.entries()) {
            await slice();
            const plan = dedupe?.plans[i];
            let best: { current: MemoryRow; next: NewRow; similarity: number } | null = null;
            if (plan && dedupe) {
              // The batch's own memories first, then the committed candidates, each re-read in the
              // transaction: its current version, still visible and writable to the caller.
              const pool = [...written.values()].filter((w) => mergeable(w.row, row));
              for (const id of plan.ids) {
                if (written.has(id)) continue;
                const found = await memoriesStore.get(tx, dedupe.vis, id);
                if (!found) continue;
                const current = codec.open(found);
                if (mergeable(current, row)) pool.push({ row: current, fp: fingerprint(current.content) });
              }
              for (const c of pool) {
                const sim = similarity(plan.fp, c.fp);
                if (sim < policy.threshold || (best && sim <= best.similarity)) continue;
                const next = mergedVersion(c.row, row, now);
                if (next) best = { current: c.row, next, similarity: sim };
              }
            }
            if (best) {
              // The version it replaces may be one of this batch's new rows: they are written first.
              await flush();
              const { current, next, similarity: sim } = best;
              const version: MemoryRow = { ...next, seq: await writeVersion(tx, codec, current.seq, next) };
              await audit(tx, agent, "memory.updated", [version.id], now, {
                version: version.version,
                deduplicated: { similarity: sim },
              });
              out.push({
                row: version,
                deduplicated: { similarity: sim, previous_version: current.version },
              });
              if (plan) written.set(version.id, { row: version, fp: plan.fp });
              continue;
            }
            const entry = sealed[i];
            if (!entry) throw new Error("a row of the batch was not sealed");
            const fresh: MemoryRow = { ...row, seq: 0 };
            pending.push({ row: fresh, entry });
            if (pending.length >= INSERT_CHUNK) await flush();
            out.push({ row: fresh });
            created.push(fresh);
            if (plan) written.set(fresh.id, { row: fresh, fp: plan.fp });
          }
          await flush();
        });
        if (created.length > 0) {
          await auditSpan(
            tx,
            agent,
            "memory.created",
            created.map((r) => r.id),
            now,
            { count: created.length, quarantined: created.filter((r) => r.quarantined === 1).length },
          );
        }
        const flagged = screened.flatMap((s, i) =>
          s.flags.length > 0 ? [{ id: out[i]?.row.id, verdicts: s.flags }] : [],
        );
        if (flagged.length > 0) {
          await audit(
            tx,
            agent,
            "guardrail.flagged",
            flagged.map((f) => f.id ?? ""),
            now,
            {
              source: "write",
              verdicts: flagged.flatMap((f) => f.verdicts).slice(0, 20),
            },
          );
        }
        // With the change: outbound notices are queued in this transaction, live listeners hear it
        // once it committed.
        if (created.length > 0) {
          await deps.events?.publishIn(tx, agent.tenantId, "memory.created", {
            ids: created.slice(0, 100).map((r) => r.id),
            count: created.length,
            agent: authorName(agent),
          });
        }
        return out;
      });
      metrics.memoriesStored.inc(stored.length);
      const memories = stored.map(
        ({ row, deduplicated }): StoredMemory => ({
          ...toMemory(row),
          ...(deduplicated ? { deduplicated } : {}),
        }),
      );
      // The mirror gets each memory's last version once (a batch may write one memory twice).
      const last = new Map(stored.map(({ row }) => [row.id, row]));
      await deps.vault.written(agent.tenantId, [...last.values()].map(toMemory));
      return memories;
    },

    async get(actor: Actor, id: string): Promise<Memory> {
      authorize(actor, "memories:read");
      const agent = requireTenantActor(actor);
      const now = clock.now();
      const { db, vis, codec, outbound } = await readScope(agent, now);
      const memory = await db.transaction(async (tx) => {
        const row = await memoriesStore.get(tx, vis, id);
        if (!row) throw new AppError("NOT_FOUND", "memory not found");
        await audit(tx, agent, "memory.read", [id], now);
        return toMemory(codec.open(row));
      });
      const screened = await screenMemory(outbound, memory);
      if (screened === null) {
        throw new AppError("OUTBOUND_WITHHELD", "the tenant's outbound guardrails withhold this memory");
      }
      return screened.memory;
    },

    async list(actor: Actor, q: ListQuery) {
      authorize(actor, "memories:read");
      const agent = requireTenantActor(actor);
      if (q.namespace) authorizeNamespace(agent, q.namespace);
      const now = clock.now();
      const filters: Filters = {
        namespaces: q.namespace ? [q.namespace] : undefined,
        types: q.type ? [q.type] : undefined,
        tags: q.tag ? [q.tag] : undefined,
        entities: q.entity ? [q.entity] : undefined,
        createdAfter: ms(q.created_after) ?? undefined,
        createdBefore: ms(q.created_before) ?? undefined,
      };
      const { db, vis, codec, outbound } = await readScope(agent, now);
      return db.transaction(async (tx) => {
        const rows = await memoriesStore.list(tx, vis, storedFilters(codec, filters), q.cursor, q.limit + 1);
        const page = rows.slice(0, q.limit).map((r) => toMemory(codec.open(r)));
        // Withheld memories leave a shorter page; the cursor still follows the rows read.
        const screened = await screenMemories(outbound, page);
        const items = screened.memories;
        await audit(
          tx,
          agent,
          "memory.listed",
          items.map((m) => m.id),
          now,
          { count: items.length, ...guardrailCounts(screened) },
        );
        return { items, next_cursor: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null };
      });
    },

    /** The namespaces that hold memories the caller can see, with counts (first 1000 by name). */
    async namespaces(actor: Actor): Promise<{ namespace: string; count: number }[]> {
      authorize(actor, "memories:read");
      const agent = requireTenantActor(actor);
      const db = await storage.tenant(agent.tenantId);
      const vis = await visibility(agent, clock.now(), "read");
      return memoriesStore.namespaces(db, vis, 1000);
    },

    /** Writes a new version; the previous one stays in history with is_current=false. */
    async update(actor: Actor, id: string, patch: MemoryPatch): Promise<Memory> {
      authorize(actor, "memories:write");
      const agent = requireTenantActor(actor);
      if (patch.content !== undefined) checkContent(patch.content, "body.content");
      const now = clock.now();
      const db = await storage.tenant(agent.tenantId);
      const vis = await visibility(agent, now, "write");
      const codec = await deps.vault.codec(agent.tenantId);
      // New content may release a quarantine only if the whole new version passes: the fields it
      // keeps are judged again with it (read before the transaction, which must not wait on the
      // guardrails; used only if that version is still the current one).
      const keepsFields =
        patch.tags === undefined || patch.entities === undefined || patch.metadata === undefined;
      const kept =
        deps.screen && patch.content !== undefined && keepsFields
          ? await memoriesStore.get(db.read ?? db, vis, id).then((r) => (r ? toMemory(codec.open(r)) : null))
          : null;
      const [screened] = await screenWrites(agent, [
        {
          path: "body",
          content: patch.content,
          tags: patch.tags ?? kept?.tags,
          entities: patch.entities ?? kept?.entities,
          metadata: patch.metadata ?? kept?.metadata,
        },
      ]);
      if (!screened) throw new Error("the patch was not screened");
      const row = await db.transaction(async (tx) => {
        const found = await memoriesStore.get(tx, vis, id);
        if (!found) throw new AppError("NOT_FOUND", "memory not found");
        const current = codec.open(found);
        if (
          (patch.access !== undefined || patch.allowed_agents !== undefined) &&
          current.owner !== vis.principal
        ) {
          throw new AppError("FORBIDDEN", "only the owner of a memory can change who may read it");
        }
        const expiresAt =
          patch.ttl_seconds !== undefined
            ? now + patch.ttl_seconds * 1000
            : patch.expires_at !== undefined
              ? ms(patch.expires_at)
              : current.expires_at;
        if (expiresAt !== null && expiresAt <= now) {
          throw new AppError("VALIDATION_FAILED", "expires_at must be in the future", {
            details: [{ path: "body.expires_at", message: "must be in the future" }],
          });
        }
        // A field is written as judged when the patch gives it, or when it was judged from this very
        // version (kept); otherwise it stays as stored.
        const fresh = kept !== null && kept.version === current.version;
        const judged = (field: "tags" | "entities" | "metadata") =>
          (patch[field] !== undefined || fresh) && screened[field] !== undefined;
        const wholeJudged = judged("tags") && judged("entities") && judged("metadata");
        const quarantined =
          screened.quarantined ||
          (current.quarantined === 1 && (patch.content === undefined || !wholeJudged));
        const next: NewRow = {
          ...current,
          version: current.version + 1,
          content: screened.content ?? current.content,
          quarantined: quarantined ? 1 : 0,
          type: patch.type ?? current.type,
          tags: judged("tags") ? JSON.stringify([...new Set(screened.tags)]) : current.tags,
          entities: judged("entities") ? JSON.stringify([...new Set(screened.entities)]) : current.entities,
          metadata: judged("metadata") ? JSON.stringify(screened.metadata) : current.metadata,
          importance: patch.importance ?? current.importance,
          agent: authorName(agent),
          key_id: agent.type === "agent" ? agent.id : null,
          updated_at: now,
          expires_at: expiresAt,
          valid_from: patch.valid_from !== undefined ? ms(patch.valid_from) : current.valid_from,
          valid_to: patch.valid_to !== undefined ? ms(patch.valid_to) : current.valid_to,
          is_current: 1,
          access: patch.access ?? current.access,
          allowed_agents:
            patch.allowed_agents === undefined
              ? current.allowed_agents
              : patch.allowed_agents === null
                ? null
                : JSON.stringify([...new Set(patch.allowed_agents)].sort()),
        };
        const seq = await writeVersion(tx, codec, current.seq, next);
        await audit(tx, agent, "memory.updated", [id], now, { version: next.version });
        if (screened.flags.length > 0) {
          await audit(tx, agent, "guardrail.flagged", [id], now, {
            source: "write",
            verdicts: screened.flags,
          });
        }
        return { ...next, seq };
      });
      metrics.memoriesStored.inc();
      const memory = toMemory(row);
      await deps.vault.written(agent.tenantId, [memory]);
      return memory;
    },

    async history(actor: Actor, id: string): Promise<Memory[]> {
      authorize(actor, "memories:history");
      const agent = requireTenantActor(actor);
      const now = clock.now();
      const { db, vis, codec, outbound } = await readScope(agent, now);
      return db.transaction(async (tx) => {
        const rows = await memoriesStore.history(tx, vis, id);
        if (rows.length === 0) throw new AppError("NOT_FOUND", "memory not found");
        const screened = await screenMemories(
          outbound,
          rows.map((r) => toMemory(codec.open(r))),
        );
        await audit(tx, agent, "memory.history_read", [id], now, guardrailCounts(screened));
        return screened.memories;
      });
    },

    /** Hard-deletes a memory with all its versions. */
    async remove(actor: Actor, id: string): Promise<{ deleted: number }> {
      authorize(actor, "memories:delete");
      const agent = requireTenantActor(actor);
      const now = clock.now();
      const db = await storage.tenant(agent.tenantId);
      const vis = await visibility(agent, now, "write");
      const deleted = await db.transaction(async (tx) => {
        const current = await memoriesStore.get(tx, vis, id);
        if (!current) throw new AppError("NOT_FOUND", "memory not found");
        const n = await memoriesStore.hardDelete(tx, agent.tenantId, [id]);
        await audit(tx, agent, "memory.deleted", [id], now);
        await deps.events?.publishIn(tx, agent.tenantId, "memory.deleted", { ids: [id], count: n });
        return n;
      });
      indexDirty.add(agent.tenantId);
      await deps.vault.removed(agent.tenantId, [id]);
      return { deleted };
    },

    /**
     * GDPR erasure: every version, label and index entry of the selected memories, then the log is
     * checkpointed so no trace stays in the database files. The erased memories' own terms leave the
     * recall index's vocabulary and the database runs with `secure_delete`, so freed pages are zeroed
     * by the delete itself: the cost follows what is erased, not the size of the tenant's index.
     *
     * Who it reaches: by entity or creation range, a caller allowed `memories:erase` (an ADMIN
     * person, an `admin` key) erases every matching memory of its namespaces (all of them for a
     * person), agents' private memories included — a tenant-wide erasure; anyone else allowed
     * `memories:delete` erases only the matching memories it may change. By ids, always the latter
     * (as `remove`). The audit event records which (`scope`), how many and how many were private.
     */
    async bulkDelete(actor: Actor, selector: BulkDelete): Promise<{ deleted: number }> {
      const { agent, tenantWide, now, db, sel, vis } = await erasureOf(actor, selector);
      const removed = await db.transaction(async (tx) => {
        const found = await memoriesStore.idsForDelete(tx, vis, sel);
        const ids = found.map((f) => f.id);
        const n = await memoriesStore.hardDelete(tx, agent.tenantId, ids);
        await audit(tx, agent, "memory.bulk_deleted", ids, now, {
          count: n,
          private: found.filter((f) => f.private).length,
          scope: tenantWide ? "tenant" : "caller",
          selector: "ids" in selector ? "ids" : "entity" in selector ? "entity" : "created_range",
        });
        if (n > 0) {
          await deps.events?.publishIn(tx, agent.tenantId, "memory.deleted", {
            ids: ids.slice(0, 100),
            count: n,
          });
        }
        return { n, ids };
      });
      if (removed.n > 0) await db.compact();
      await deps.vault.removed(agent.tenantId, removed.ids);
      const deleted = removed.n;
      return { deleted };
    },

    /**
     * What `bulkDelete` would erase now, without erasing: how many memories, how many of them
     * private (the console's confirmation shows both before the erasure).
     */
    async bulkDeleteCount(actor: Actor, selector: BulkDelete): Promise<{ count: number; private: number }> {
      const { db, sel, vis } = await erasureOf(actor, selector);
      const found = await memoriesStore.idsForDelete(db, vis, sel);
      return { count: found.length, private: found.filter((f) => f.private).length };
    },

    async recall(actor: Actor, input: RecallInput): Promise<RecallResponse> {
      authorize(actor, "memories:recall");
      const agent = requireTenantActor(actor);
      const now = clock.now();
      const vis = await visibility(agent, now, "read");
      if (input.namespaces) for (const ns of input.namespaces) authorizeNamespace(agent, ns);
      const filters: Filters = {
        namespaces: input.namespaces,
        types: input.types,
        tags: input.tags,
        entities: input.entities,
        metadata: input.metadata,
        createdAfter: ms(input.since) ?? undefined,
        createdBefore: ms(input.until) ?? undefined,
        validAt: ms(input.valid_at) ?? undefined,
        excludeQuarantined: !input.include_quarantined,
      };
      const terms = queryTerms(input.query);
      const pool = Math.min(500, Math.max(RECALL_POOL_MIN, input.k * RECALL_POOL_FACTOR));
      const db = await storage.tenant(agent.tenantId);
      const codec = await deps.vault.codec(agent.tenantId);
      const stored = storedFilters(codec, filters);
      // Resolved first: reading the tenant's policy must not wait on this recall's own audit write.
      const outbound = deps.screen ? await deps.screen.outboundFor(agent) : null;
      const dedupe = await dedupeOf(agent.tenantId);
      await ensureIndexed(agent.tenantId, db, codec);
      // Hybrid recall: the query's vector is asked for while the lexical search runs. Any failure
      // (timeout, garbage answer, egress refusal) leaves the recall lexical, exactly as with vectors off.
      const queryVector =
        terms.length > 0 && (await vectorsOn(agent.tenantId, codec))
          ? span("recall.embed", { tenant: agent.tenantId }, () => embedder.embed([input.query])).then(
              (v) => v[0] ?? null,
              (err: unknown) => {
                embedderFailed(err, agent.tenantId, "recall");
                return null;
              },
            )
          : Promise.resolve(null);
      // Ranking and rows come from the read connection: recall never waits on writers. Only its
      // audit event takes the write lock, group-committed with other reads' events below.
      const reader = db.read ?? db;
      const answer: RecallResponse = await (async () => {
        const tenant = agent.tenantId;
        const candidates = await span("recall.search", { tenant, terms: terms.length }, () =>
          terms.length
            ? memoriesStore.search(reader, vis, stored, queryTokensOf(codec, terms), pool, RECALL_SIGNALS)
            : memoriesStore.recentCandidates(reader, vis, stored, pool),
        );
        const qv = await queryVector;
        const embedderId = embedder.id;
        let fused: Map<number, Fused> | null = null;
        let pooled: Candidate[] = candidates;
        if (qv && embedderId) {
          const near = await span("recall.vector", { tenant }, () =>
            vectorCandidates(reader, vis, stored, codec, embedderId, qv, pool),
          );
          // No vector candidate (none stored yet for this embedder): the ranking stays lexical as is.
          if (near.length > 0) {
            const lexical = [...candidates].sort((a, b) => b.bm25 - a.bm25 || b.seq - a.seq);
            fused = fuse(
              lexical.map((c) => c.seq),
              near.map((c) => ({ seq: c.seq, similarity: c.similarity })),
            );
            const seen = new Set(lexical.map((c) => c.seq));
            pooled = [...lexical, ...near.filter((c) => !seen.has(c.seq))];
          }
        }
        const maxBm25 = candidates.reduce((m, c) => Math.max(m, c.bm25), 0);
        let maxRrf = 0;
        for (const f of fused?.values() ?? []) maxRrf = Math.max(maxRrf, f.rrf);
        const rankStarted = performance.now();
        const sorted = pooled
          .map((c) => {
            const recency = recencyScore(now - c.updated_at, deps.halfLifeDays);
            const f = fused?.get(c.seq);
            // With vectors, relevance is the fused rank score; without, BM25 as before.
            const blended = f
              ? blend({ bm25: f.rrf, maxBm25: maxRrf, recency, importance: c.importance })
              : blend({ bm25: c.bm25, maxBm25, recency, importance: c.importance });
            const own = ownNamespace(agent, c.namespace);
            const score = own ? blended.score : Math.round(blended.score * GRANTED_SCORE_FACTOR * 1e6) / 1e6;
            return { c, score, relevance: blended.relevance, recency, fusion: f };
          })
          .sort((a, b) => b.score - a.score || (a.c.id < b.c.id ? 1 : -1));
        telemetry.mark("recall.rank", { tenant, count: pooled.length }, rankStarted);
        /** Loads, opens and screens the next `n` of the ranking (only the returned memories are decrypted). */
        const load = async (from: number, n: number) => {
          const top = sorted.slice(from, from + n);
          const opened = await span("recall.decrypt", { tenant, count: top.length }, async () => {
            // Rows the search already read are not read again (PostgreSQL reads them with the check).
            const rowsBySeq = new Map(top.flatMap((t) => (t.c.row ? [[t.c.seq, t.c.row] as const] : [])));
            const missing = top.filter((t) => !rowsBySeq.has(t.c.seq)).map((t) => t.c.seq);
            for (const r of await memoriesStore.bySeqs(reader, agent.tenantId, missing))
              rowsBySeq.set(r.seq, r);
            return top.flatMap((t) => {
              const row = rowsBySeq.get(t.c.seq);
              // Ranking reads plaintext columns only; just the returned memories are decrypted.
              return row
                ? [
                    {
                      ...t,
                      row: codec.open(row),
                      bm25: t.c.bm25,
                      context: t.c.context ?? 0,
                      speaker: t.c.speaker ?? 0,
                      feedback: t.c.feedback ?? 0,
                    },
                  ]
                : [];
            });
          });
          // Outbound guardrails on content and metadata: masked text leaves, blocked text does not
          // (pure CPU, no I/O).
          return span("recall.guardrails", { tenant, count: opened.length }, async () => {
            const out: (((typeof opened)[number] & { memory: Memory; flagged: boolean }) | null)[] = [];
            for (const r of opened) {
              const screened = await screenMemory(outbound, toMemory(r.row));
              out.push(screened ? { ...r, memory: screened.memory, flagged: screened.flagged } : null);
            }
            return out;
          });
        };
        type Loaded = NonNullable<Awaited<ReturnType<typeof load>>[number]>;
        // Near-duplicates fold into the best-scored of them (by the text as stored, before masking),
        // and the places they leave are refilled from the next candidates (a few rounds at most).
        // A withheld memory takes its place as before, and folds nothing.
        const ranked: (Loaded & { fp: Fingerprint; folded: { id: string; similarity: number }[] })[] = [];
        let withheld = 0;
        let flagged = 0;
        let foldedCount = 0;
        let next = 0;
        for (let round = 0; round < FOLD_ROUNDS && next < sorted.length; round++) {
          const wanted = input.k - ranked.length - withheld;
          if (wanted <= 0) break;
          const batch = await load(next, wanted);
          next += wanted;
          for (const r of batch) {
            if (r === null) {
              withheld++;
              continue;
            }
            const fp = fingerprint(r.row.content);
            let into: (typeof ranked)[number] | null = null;
            let best = 0;
            for (const kept of ranked) {
              const sim = similarity(fp, kept.fp);
              if (sim >= dedupe.threshold && sim > best) {
                into = kept;
                best = sim;
              }
            }
            if (into) {
              into.folded.push({ id: r.row.id, similarity: best });
              foldedCount++;
              continue;
            }
            if (r.flagged) flagged++;
            ranked.push({ ...r, fp, folded: [] });
          }
        }
        const { context, included, tokens } = formatContext(
          ranked.map(({ row, memory }) => ({
            id: row.id,
            namespace: row.namespace,
            type: row.type,
            created_at: new Date(row.created_at).toISOString(),
            content: memory.content,
            quarantined: row.quarantined === 1,
          })),
          input.token_budget,
        );
        await reads.commit(agent.tenantId, (tx) =>
          audit(
            tx,
            agent,
            "memory.recalled",
            // The ids of folded near-duplicates leave with the answer too (their text does not).
            [...ranked.map((r) => r.row.id), ...ranked.flatMap((r) => r.folded.map((f) => f.id))],
            now,
            {
              count: ranked.length,
              terms: terms.length,
              context_tokens: tokens,
              ...(foldedCount > 0 ? { folded: foldedCount } : {}),
              ...(withheld + flagged > 0 ? { guardrails: { withheld, flagged } } : {}),
            },
          ),
        );
        metrics.recalls.inc();
        metrics.memoriesRecalled.inc(ranked.length);
        return {
          results: ranked.map(
            ({
              row,
              memory,
              score,
              relevance,
              recency,
              bm25,
              context: neighbours,
              speaker,
              feedback,
              fusion,
              folded,
            }) => ({
              memory,
              score,
              why: {
                relevance,
                bm25: Math.round(bm25 * 1e4) / 1e4,
                context: Math.round(neighbours * 1e4) / 1e4,
                speaker: Math.round(speaker * 1e4) / 1e4,
                feedback: Math.round(feedback * 1e4) / 1e4,
                recency: Math.round(recency * 1e4) / 1e4,
                importance: row.importance,
                matched_terms: matchedTerms(terms, memory.content),
                in_context: included.has(row.id),
                ...(fusion
                  ? {
                      fusion: {
                        rrf: Math.round(fusion.rrf * 1e6) / 1e6,
                        lexical_rank: fusion.lexicalRank,
                        vector_rank: fusion.vectorRank,
                        similarity:
                          fusion.similarity === null ? null : Math.round(fusion.similarity * 1e4) / 1e4,
                      },
                    }
                  : {}),
              },
              ...(folded.length > 0 ? { folded } : {}),
            }),
          ),
          context,
          context_tokens: tokens,
        };
      })();
      // The volume of what leaves (memories and context), before the answer does.
      if (deps.screen) {
        const bytes = answer.results.reduce(
          (n, r) => n + Buffer.byteLength(r.memory.content),
          Buffer.byteLength(answer.context),
        );
        await deps.screen.recalled(agent, bytes);
      }
      return answer;
    },

    /**
     * Streams the caller's memories as NDJSON lines in id order, starting after `cursor`.
     * A client that is cut off resumes with the id of the last line it received.
     */
    async export(
      actor: Actor,
      q: { namespace?: string | undefined; cursor?: string | undefined; includeHistory: boolean },
    ): Promise<AsyncGenerator<string>> {
      authorize(actor, "memories:export");
      const agent = requireTenantActor(actor);
      if (q.namespace) authorizeNamespace(agent, q.namespace);
      const db = await storage.tenant(agent.tenantId);
      const now = clock.now();
      await db.transaction((tx) =>
        audit(tx, agent, "memory.exported", [], now, {
          namespace: q.namespace ?? null,
          include_history: q.includeHistory,
          resumed: q.cursor !== undefined,
        }),
      );
      const filters: Filters = { namespaces: q.namespace ? [q.namespace] : undefined };
      const { vis, codec, outbound } = await readScope(agent, now);
      async function* lines() {
        let after = q.cursor ?? "";
        for (;;) {
          const rows = await memoriesStore.exportPage(db, vis, filters, after, 500, q.includeHistory);
          if (rows.length === 0) return;
          // Exports share a budget of rows per second: a large one streams at a bounded rate and
          // leaves the rest of the server its share of the CPU.
          await exportPacer.take(rows.length);
          // Decrypted and screened a slice at a time, with a turn of the event loop after each, so
          // no export holds the thread for long; a slice's lines leave as one chunk.
          for (let i = 0; i < rows.length; i += EXPORT_SLICE) {
            let chunk = "";
            for (const row of rows.slice(i, i + EXPORT_SLICE)) {
              // A withheld memory is left out; resuming after the last line received still works.
              const screened = await screenMemory(outbound, toMemory(codec.open(row)));
              if (screened) chunk += `${JSON.stringify(screened.memory)}\n`;
            }
            if (chunk) yield chunk;
            await yieldToLoop();
          }
          after = rows.at(-1)?.id ?? after;
        }
      }
      return lines();
    },

    /** Every current memory of a tenant, decrypted, for the operator's plain-markdown export. */
    async vaultExport(actor: Actor, tenantId: string): Promise<Memory[]> {
      authorize(actor, "vault:export");
      const db = await storage.tenant(tenantId);
      const codec = await deps.vault.codec(tenantId);
      const now = clock.now();
      // The operator's export holds every memory, private ones included (it is a backup of the vault).
      const vis: Visibility = { tenantId, now, namespaces: null, principal: null, mode: "read", grants: [] };
      const out: Memory[] = [];
      for (let after = ""; ; ) {
        const rows = await memoriesStore.exportPage(db, vis, {}, after, 500, false);
        if (rows.length === 0) break;
        for (const row of rows) out.push(toMemory(codec.open(row)));
        after = rows.at(-1)?.id ?? after;
        await yieldToLoop();
      }
      await db.transaction((tx) =>
        deps.audit(
          tx,
          { tenantId, actor, action: "vault.exported", origin: actor.origin, details: { count: out.length } },
          now,
        ),
      );
      return out;
    },

    /** Stores memories read from a plain-markdown vault, keeping their ids; ids already present are skipped. */
    async vaultImport(actor: Actor, tenantId: string, items: readonly Memory[]) {
      authorize(actor, "vault:import");
      for (const m of items) checkContent(m.content, `${m.id}.content`);
      const db = await storage.tenant(tenantId);
      const codec = await deps.vault.codec(tenantId);
      const now = clock.now();
      const imported = await db.transaction(async (tx) => {
        const done: Memory[] = [];
        for (const m of items) {
          if (await memoriesStore.exists(tx, tenantId, m.id)) continue;
          const row: NewRow = {
            id: m.id,
            version: m.version,
            tenant_id: tenantId,
            namespace: m.namespace,
            type: m.type,
            content: m.content,
            tags: JSON.stringify(m.tags),
            entities: JSON.stringify(m.entities),
            metadata: JSON.stringify(m.metadata),
            importance: m.importance,
            agent: m.agent,
            key_id: null,
            created_at: Date.parse(m.created_at),
            updated_at: Date.parse(m.updated_at),
            expires_at: ms(m.expires_at),
            valid_from: ms(m.valid_from),
            valid_to: ms(m.valid_to),
            is_current: 1,
            access: m.access,
            quarantined: m.quarantined ? 1 : 0,
            allowed_agents: m.allowed_agents.length
              ? JSON.stringify([...new Set(m.allowed_agents)].sort())
              : null,
            owner: m.owner,
          };
          const sealed = codec.seal(row);
          await memoriesStore.insert(tx, sealed.row, sealed.index);
          done.push(m);
        }
        await deps.audit(
          tx,
          {
            tenantId,
            actor,
            action: "vault.imported",
            targetIds: done.slice(0, AUDIT_TARGETS_MAX).map((m) => m.id),
            origin: actor.origin,
            details: { count: done.length, skipped: items.length - done.length },
          },
          now,
        );
        return done;
      });
      await deps.vault.written(tenantId, imported);
      return { imported: imported.length, skipped: items.length - imported.length };
    },

    /**
     * For system writers that commit memories inside a transaction of their own (the connector
     * inbox, whose inbox state and audit event must commit with the memories). The rows are built,
     * checked, sealed and indexed here exactly as `store` does it; `committed` runs the after-commit
     * steps (markdown mirror, metrics). Authorization is the caller's: it is not an agent. The
     * memories are readable by every agent of the tenant that may read the namespace (`shared`) and
     * owned by `author.owner`, which no key or person can act as.
     */
    async writer(tenantId: string, author: SystemAuthor) {
      const codec = await deps.vault.codec(tenantId);
      return {
        prepare(drafts: readonly SystemDraft[], now: number) {
          const rows: NewRow[] = drafts.map((d, i) => {
            checkContent(d.content, `memories.${i}.content`);
            return {
              id: newId("memory", now),
              version: 1,
              tenant_id: tenantId,
              namespace: d.namespace,
              type: d.type,
              content: d.content,
              quarantined: d.quarantined ? 1 : 0,
              tags: JSON.stringify([...new Set(d.tags)]),
              entities: JSON.stringify([...new Set(d.entities)]),
              metadata: JSON.stringify(d.metadata),
              importance: d.importance,
              agent: author.agent,
              key_id: author.keyId,
              created_at: now,
              updated_at: now,
              expires_at: null,
              valid_from: null,
              valid_to: null,
              is_current: 1,
              access: "shared",
              allowed_agents: null,
              owner: author.owner,
            };
          });
          return {
            ids: rows.map((r) => r.id),
            async insert(tx: SqlExecutor): Promise<void> {
              for (const row of rows) {
                const sealed = codec.seal(row);
                await memoriesStore.insert(tx, sealed.row, sealed.index);
              }
            },
            async committed(): Promise<void> {
              metrics.memoriesStored.inc(rows.length);
              await deps.vault.written(
                tenantId,
                rows.map((row) => toMemory({ ...row, seq: 0 })),
              );
            },
          };
        },
      };
    },

    /**
     * Hybrid recall's status for the caller: the active embedder, whether vectors are on for the
     * tenant, and how many of the memories it may see hold a vector of that embedder or wait for one.
     */
    async embeddingStatus(actor: Actor): Promise<EmbeddingStatus> {
      authorize(actor, "memories:read");
      const agent = requireTenantActor(actor);
      const now = clock.now();
      const { db, vis, codec } = await readScope(agent, now);
      const enabled = await vectorsOn(agent.tenantId, codec);
      const id = embedder.id;
      if (!enabled) return { embedder: id, enabled, embedded: 0, pending: 0 };
      const counts = await memoriesStore.embeddingCounts(db.read ?? db, vis, space());
      return { embedder: id, enabled, embedded: counts.embedded, pending: counts.total - counts.embedded };
    },

    /**
     * The embedding worker's pass (after commit, never on the write path): embeds current memories
     * that have no vector of the active embedder, a batch at a time, oldest first; this is also the
     * backfill of memories stored before the embedder was configured. A tenant whose policy turns
     * vectors off has its vectors erased. When the embedder fails the pass stops (the memories stay
     * stored and lexical) and the next one retries. Returns how many vectors were stored.
     */
    async embedPending(tenantIds: readonly string[]): Promise<number> {
      if (!embedder.enabled) return 0;
      let stored = 0;
      for (const tenantId of tenantIds) {
        const db = await storage.tenant(tenantId);
        const codec = await deps.vault.codec(tenantId);
        if (!(await vectorsOn(tenantId, codec))) {
          while ((await db.transaction((tx) => memoriesStore.clearEmbeddings(tx, tenantId, 500))) > 0);
          vectors.forget(tenantId);
          continue;
        }
        const column = vectorColumnFor(codec, await vectorColumn());
        if (column) {
          // Vectors stored before the pgvector column existed are copied into it (no embedder call).
          for (let after: number | null = 0; after !== null; ) {
            const from: number = after;
            after = await db.transaction((tx) =>
              memoriesStore.fillVectorColumn(tx, tenantId, column, codec, from, 500),
            );
          }
        }
        // One walk forward through the pending memories: a text the API refuses on its own is skipped
        // for the rest of this pass (retried once by the next), so it never blocks the ones after it.
        for (let after = 0; ; ) {
          const rows = await memoriesStore.pendingEmbeddings(
            db,
            tenantId,
            clock.now(),
            space(),
            after,
            EMBED_BATCH,
          );
          if (rows.length === 0) break;
          after = rows.at(-1)?.seq ?? after;
          const texts = rows.map((r) => codec.open(r).content);
          const embedded = await embedRows(tenantId, texts);
          if (embedded === "stop") return stored;
          const id = embedder.id;
          if (!id) return stored;
          const now = clock.now();
          stored += await db.transaction(async (tx) => {
            const done: string[] = [];
            for (const [i, row] of rows.entries()) {
              const v = embedded[i];
              if (!v) continue;
              const searchable = column ? { column, vector: v } : null;
              if (
                await memoriesStore.setEmbedding(
                  tx,
                  row.seq,
                  id,
                  codec.sealVector(row, encodeVector(v)),
                  searchable,
                )
              ) {
                done.push(row.id);
              }
            }
            if (done.length > 0) {
              await deps.audit(
                tx,
                {
                  tenantId,
                  actor: { type: "system", id: "embedder" },
                  action: "memory.embedded",
                  targetIds: done.slice(0, AUDIT_TARGETS_MAX),
                  details: { count: done.length, embedder: id },
                },
                now,
              );
            }
            return done.length;
          });
        }
      }
      return stored;
    },

    /** Where hybrid recall ranks plaintext tenants' vectors (encrypted tenants': always the process). */
    async vectorPath(): Promise<"pgvector" | "in-process"> {
      return (await vectorColumn()) ? "pgvector" : "in-process";
    },

    /** Drops a tenant's vector cache (the tenant was deleted). */
    forgetVectors(tenantId: string): void {
      vectors.forget(tenantId);
    },

    /** Purges expired memories (every version) and merges indexes with deleted terms. */
    async sweep(tenantIds: readonly string[]): Promise<number> {
      const now = clock.now();
      let purged = 0;
      for (const tenantId of tenantIds) {
        const db = await storage.tenant(tenantId);
        for (;;) {
          const n = await db.transaction(async (tx) => {
            const ids = await memoriesStore.expiredIds(tx, tenantId, now, 500);
            if (ids.length === 0) return { count: 0, ids };
            const count = await memoriesStore.hardDelete(tx, tenantId, ids);
            await deps.audit(
              tx,
              {
                tenantId,
                actor: { type: "system", id: "ttl_sweeper" },
                action: "memory.expired_purged",
                targetIds: ids.slice(0, AUDIT_TARGETS_MAX),
                details: { count },
              },
              now,
            );
            return { count, ids };
          });
          if (n.count === 0) break;
          await deps.vault.removed(tenantId, n.ids);
          purged += n.count;
          indexDirty.add(tenantId);
        }
        // Secure-delete already took the entries out of the index; the checkpoint clears the log.
        if (indexDirty.delete(tenantId)) await db.compact();
      }
      return purged;
    },
  };
}

export type MemoriesService = ReturnType<typeof createMemoriesService>;
