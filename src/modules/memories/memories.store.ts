import type { SqlExecutor, SqlValue } from "../../platform/storage/port.ts";
import { TENANT_SCHEMA } from "../../platform/storage/postgres.ts";
import { decodeVector } from "./embedder.ts";
import type { MemoryRow } from "./memories.schemas.ts";
import {
  impactSearch,
  indexMemories,
  logAdded,
  type ScoredCandidate,
  type TermBag,
  termLists,
  unindexedPage,
  unindexMemory,
} from "./recall-index.ts";
import { type IndexEntry, plainIndex, type QueryTokens, type RowCodec } from "./row-codec.ts";

/**
 * Who may see what, as SQL. Every read query starts from this clause, so a hidden memory is never
 * counted, paged or ranked: tenant, current version, not expired, the caller's namespaces (widened
 * for reads by namespace grants and `public` memories), and per-memory access (`private` memories
 * only for their owner and the agents they name).
 */
export type Visibility = {
  tenantId: string;
  now: number;
  /** Namespaces the caller may use, each covering its children; null = every namespace. */
  namespaces: readonly string[] | null;
  /**
   * The caller as memories name authors (agent name, or `user:<id>`); null only for the operator's
   * whole-vault export and a tenant-wide GDPR erasure, which reach private memories too.
   */
  principal: string | null;
  /** `read` lets grants and public memories widen the namespaces; `write` never does. */
  mode: "read" | "write";
  /** Namespaces granted to the caller's namespaces for reading, optionally limited to types. */
  grants: readonly { namespace: string; types: readonly string[] | null }[];
};

function namespaceMatch(alias: string, ns: string): { sql: string; params: SqlValue[] } {
  return {
    sql: `(${alias}.namespace = ? OR substr(${alias}.namespace, 1, ?) IN (?, ?))`,
    params: [ns, ns.length + 1, `${ns}/`, `${ns}.`],
  };
}

/** Namespace, grant, public and private rules on one row (the current version). */
function accessClause(v: Visibility, a: string): { sql: string; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  if (v.namespaces !== null) {
    const ors: string[] = [];
    for (const ns of v.namespaces) {
      const m = namespaceMatch(a, ns);
      ors.push(m.sql);
      params.push(...m.params);
    }
    if (v.mode === "read") {
      for (const g of v.grants) {
        const m = namespaceMatch(a, g.namespace);
        if (g.types === null || g.types.length === 0) {
          ors.push(m.sql);
          params.push(...m.params);
        } else {
          ors.push(`(${m.sql} AND ${a}.type IN (${g.types.map(() => "?").join(", ")}))`);
          params.push(...m.params, ...g.types);
        }
      }
      ors.push(`${a}.access = 'public'`);
    }
    parts.push(ors.length ? `(${ors.join(" OR ")})` : "FALSE");
  }
  if (v.principal !== null) {
    parts.push(
      `(${a}.access <> 'private' OR ${a}.owner = ? OR EXISTS (SELECT 1 FROM json_each(${a}.allowed_agents) j WHERE j.value = ?))`,
    );
    params.push(v.principal, v.principal);
  }
  return { sql: parts.length ? parts.join(" AND ") : "TRUE", params };
}

export function visibilityClause(
  v: Visibility,
  alias = "m",
  scope: { history?: boolean; expired?: boolean } = {},
): { sql: string; params: SqlValue[] } {
  const parts = [`${alias}.tenant_id = ?`];
  const params: SqlValue[] = [v.tenantId];
  if (!scope.history) parts.push(`${alias}.is_current = 1`);
  if (!scope.expired) {
    parts.push(`(${alias}.expires_at IS NULL OR ${alias}.expires_at > ?)`);
    params.push(v.now);
  }
  if (scope.history) {
    // Over every version, who may see a memory is decided by its current version.
    const acc = accessClause(v, "c");
    parts.push(
      `EXISTS (SELECT 1 FROM memories c WHERE c.tenant_id = ${alias}.tenant_id AND c.id = ${alias}.id AND c.is_current = 1 AND ${acc.sql})`,
    );
    params.push(...acc.params);
  } else {
    const acc = accessClause(v, alias);
    parts.push(acc.sql);
    params.push(...acc.params);
  }
  return { sql: parts.join(" AND "), params };
}

export type Filters = {
  namespaces?: readonly string[] | undefined;
  types?: readonly string[] | undefined;
  tags?: readonly string[] | undefined;
  entities?: readonly string[] | undefined;
  metadata?: Record<string, string | number | boolean | null> | undefined;
  /** Encrypted tenants filter metadata on blind labels (kind 'meta') instead of the JSON column. */
  metadataLabels?: readonly string[] | undefined;
  createdAfter?: number | undefined;
  createdBefore?: number | undefined;
  validAt?: number | undefined;
  /** Leaves quarantined memories out (recall, unless asked for). */
  excludeQuarantined?: boolean | undefined;
};

export function filterClause(f: Filters, alias = "m"): { sql: string; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  const inList = (col: string, values: readonly string[]) => {
    parts.push(`${alias}.${col} IN (${values.map(() => "?").join(", ")})`);
    params.push(...values);
  };
  if (f.namespaces?.length) inList("namespace", f.namespaces);
  if (f.types?.length) inList("type", f.types);
  for (const [kind, values] of [
    ["tag", f.tags],
    ["entity", f.entities],
  ] as const) {
    if (!values?.length) continue;
    parts.push(
      `EXISTS (SELECT 1 FROM memory_labels l WHERE l.seq = ${alias}.seq AND l.kind = ? AND l.value IN (${values
        .map(() => "?")
        .join(", ")}))`,
    );
    params.push(kind, ...values);
  }
  for (const [key, value] of Object.entries(f.metadata ?? {})) {
    // Keys are validated to [A-Za-z0-9_]; the JSON path is still passed as a parameter.
    parts.push(`json_extract(${alias}.metadata, ?) IS NOT DISTINCT FROM ?`);
    params.push(`$.${key}`, typeof value === "boolean" ? (value ? 1 : 0) : value);
  }
  for (const label of f.metadataLabels ?? []) {
    parts.push(
      `EXISTS (SELECT 1 FROM memory_labels l WHERE l.seq = ${alias}.seq AND l.kind = 'meta' AND l.value = ?)`,
    );
    params.push(label);
  }
  if (f.createdAfter !== undefined) {
    parts.push(`${alias}.created_at >= ?`);
    params.push(f.createdAfter);
  }
  if (f.createdBefore !== undefined) {
    parts.push(`${alias}.created_at < ?`);
    params.push(f.createdBefore);
  }
  if (f.excludeQuarantined) parts.push(`${alias}.quarantined = 0`);
  if (f.validAt !== undefined) {
    parts.push(`(${alias}.valid_from IS NULL OR ${alias}.valid_from <= ?)`);
    parts.push(`(${alias}.valid_to IS NULL OR ${alias}.valid_to > ?)`);
    params.push(f.validAt, f.validAt);
  }
  return { sql: parts.length ? parts.join(" AND ") : "TRUE", params };
}

export type NewRow = Omit<MemoryRow, "seq">;

/**
 * What ranking needs of a memory before its row is loaded: the recall index's candidate, whose
 * context is absent for candidates found otherwise (recent memories, vectors), and whose row, when
 * the search already read it, is a memory row.
 */
export type Candidate = Omit<ScoredCandidate, "context" | "speaker" | "feedback" | "row"> & {
  context?: number;
  speaker?: number;
  feedback?: number;
  row?: MemoryRow;
};

/** Label rows written per statement. */
const LABEL_CHUNK = 200;

/** The label rows of memories just written (tags, entities, metadata keys), a few statements for all. */
async function insertLabels(tx: SqlExecutor, entries: readonly { seq: number; index: IndexEntry }[]) {
  const labels = entries.flatMap(({ seq, index }) =>
    index.labels.map((l) => [seq, l.kind, l.value] as const),
  );
  for (let i = 0; i < labels.length; i += LABEL_CHUNK) {
    const chunk = labels.slice(i, i + LABEL_CHUNK);
    await tx.run(
      `INSERT INTO memory_labels (seq, kind, value) VALUES ${chunk.map(() => "(?, ?, ?)").join(", ")}
       ON CONFLICT DO NOTHING`,
      chunk.flat(),
    );
  }
}

async function unindex(tx: SqlExecutor, seq: number): Promise<void> {
  await dropVector(tx, seq);
  await unindexMemory(tx, seq);
}

/** Vector log lines kept behind the newest before a trim (a cache older than the trim is rebuilt). */
const VECTOR_LOG_KEEP = 50_000;
/** A vector log line: a vector added (1) or removed (0); 2 marks a trim through generation `seq`. */
export const VECTOR_LOG_TRIMMED = 2;

async function logVector(tx: SqlExecutor, seq: number, added: boolean): Promise<void> {
  const r = await tx.get<{ gen: number }>("INSERT INTO vector_log (seq, added) VALUES (?, ?) RETURNING gen", [
    seq,
    added ? 1 : 0,
  ]);
  if (r && r.gen % 1024 === 0 && r.gen > VECTOR_LOG_KEEP) {
    // Generations are not contiguous per tenant on PostgreSQL (one sequence for all): the marker,
    // not a gap, tells a cache that lines it had not read were trimmed.
    const through = r.gen - VECTOR_LOG_KEEP;
    await tx.run("DELETE FROM vector_log WHERE gen <= ?", [through]);
    await tx.run("INSERT INTO vector_log (seq, added) VALUES (?, ?)", [through, VECTOR_LOG_TRIMMED]);
  }
}

/** Clears a version's vector (it is retired or erased), logging the removal for the vector caches. */
async function dropVector(tx: SqlExecutor, seq: number): Promise<void> {
  const had = await tx.get<{ seq: number }>(
    "UPDATE memories SET embedding = NULL, embedder = NULL WHERE seq = ? AND embedding IS NOT NULL RETURNING seq",
    [seq],
  );
  if (had) await logVector(tx, seq, false);
}

/**
 * Which vectors belong to the active embedder: its exact id, or (before its first answer told the
 * dimension) every id of its adapter and model, `<adapter>:<model>:`.
 */
export type EmbedderSpace = { id: string } | { prefix: string };

function spaceMatch(column: string, space: EmbedderSpace): { sql: string; params: SqlValue[] } {
  return "id" in space
    ? { sql: `${column} = ?`, params: [space.id] }
    : { sql: `substr(${column}, 1, ?) = ?`, params: [space.prefix.length, space.prefix] };
}

/** A stored vector as read for the cache: the version it belongs to (sealed vectors are bound to it). */
export type StoredVector = { seq: number; id: string; version: number; embedding: Uint8Array };

/**
 * PostgreSQL's pgvector column `memories.embedding_vector` (memories.009), where it exists and the
 * application role may use the extension: `schema` is where the extension's type and operators
 * live, named in every statement (the connections' search path holds the hypha schema only).
 */
export type PgVector = { schema: string };

/** A vector's pgvector text form. Float32 values print exactly and parse back to the same floats. */
const vectorText = (v: Float32Array) => `[${Array.from(v).join(",")}]`;

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Removes every version of the given ids: rows, labels and index entries. Returns the ids removed. */
async function hardDelete(tx: SqlExecutor, tenantId: string, ids: readonly string[]): Promise<number> {
  let count = 0;
  for (const id of ids) {
    const versions = await tx.all<{ seq: number; is_current: number }>(
      "SELECT seq, is_current FROM memories WHERE tenant_id = ? AND id = ?",
      [tenantId, id],
    );
    if (versions.length === 0) continue;
    count++;
    for (const v of versions) {
      if (v.is_current === 1) await unindex(tx, v.seq);
      await tx.run("DELETE FROM memory_labels WHERE seq = ?", [v.seq]);
    }
    await tx.run("DELETE FROM memories WHERE tenant_id = ? AND id = ?", [tenantId, id]);
  }
  return count;
}

export const memoriesStore = {
  /** Inserts a row as stored (sealed for encrypted tenants) with its index entry. */
  async insert(tx: SqlExecutor, row: NewRow, index: IndexEntry = plainIndex(row)): Promise<number> {
    const [seq] = await memoriesStore.insertMany(tx, [{ row, index }]);
    if (seq === undefined) throw new Error("insert returned no row");
    return seq;
  },

  /**
   * Inserts rows as stored, in the order given, with their index entries, and answers their
   * sequence numbers. A current row carries its recall-index list from the start (no second write
   * of the row); the vocabulary, totals, labels and log take a few statements for all of them.
   */
  async insertMany(
    tx: SqlExecutor,
    entries: readonly { row: NewRow; index: IndexEntry }[],
  ): Promise<number[]> {
    const current = entries.filter((e) => e.row.is_current === 1);
    const lists = await termLists(
      tx,
      current.map((e) => e.index.terms),
    );
    const listOf = new Map(current.map((e, i) => [e, lists[i] ?? null]));
    const seqs: number[] = [];
    for (const entry of entries) {
      const { row } = entry;
      const r = await tx.get<{ seq: number }>(
        `INSERT INTO memories (id, version, tenant_id, namespace, type, content, tags, entities, metadata,
           importance, agent, key_id, created_at, updated_at, expires_at, valid_from, valid_to, is_current,
           access, allowed_agents, owner, quarantined, recall_terms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
        [
          row.id,
          row.version,
          row.tenant_id,
          row.namespace,
          row.type,
          row.content,
          row.tags,
          row.entities,
          row.metadata,
          row.importance,
          row.agent,
          row.key_id,
          row.created_at,
          row.updated_at,
          row.expires_at,
          row.valid_from,
          row.valid_to,
          row.is_current,
          row.access,
          row.allowed_agents,
          row.owner,
          row.quarantined,
          listOf.get(entry) ?? null,
        ],
      );
      if (!r) throw new Error("insert returned no row");
      seqs.push(r.seq);
    }
    const written = entries.map((e, i) => ({
      seq: seqs[i] ?? 0,
      index: e.index,
      current: e.row.is_current === 1,
    }));
    await insertLabels(
      tx,
      written.filter((w) => w.current),
    );
    await logAdded(
      tx,
      written.filter((w) => w.current).map((w) => w.seq),
    );
    return seqs;
  },

  /** Marks the current version historical and drops it from the search index. */
  async retire(tx: SqlExecutor, seq: number): Promise<void> {
    await unindex(tx, seq);
    await tx.run("UPDATE memories SET is_current = 0 WHERE seq = ?", [seq]);
  },

  get: (db: SqlExecutor, v: Visibility, id: string) => {
    const vis = visibilityClause(v);
    return db.get<MemoryRow>(`SELECT m.* FROM memories m WHERE ${vis.sql} AND m.id = ?`, [...vis.params, id]);
  },

  async history(db: SqlExecutor, v: Visibility, id: string): Promise<MemoryRow[]> {
    const current = await memoriesStore.get(db, v, id);
    if (!current) return [];
    return db.all<MemoryRow>("SELECT * FROM memories WHERE tenant_id = ? AND id = ? ORDER BY version DESC", [
      v.tenantId,
      id,
    ]);
  },

  list(db: SqlExecutor, v: Visibility, f: Filters, before: string | undefined, limit: number) {
    const vis = visibilityClause(v);
    const fil = filterClause(f);
    return db.all<MemoryRow>(
      `SELECT m.* FROM memories m WHERE ${vis.sql} AND ${fil.sql} ${before ? "AND m.id < ?" : ""}
       ORDER BY m.id DESC LIMIT ?`,
      [...vis.params, ...fil.params, ...(before ? [before] : []), limit],
    );
  },

  /** Current memories (or every version) in id order after `after`, for export. */
  exportPage(db: SqlExecutor, v: Visibility, f: Filters, after: string, limit: number, history: boolean) {
    const vis = visibilityClause(v);
    const fil = filterClause(f);
    if (!history) {
      return db.all<MemoryRow>(
        `SELECT m.* FROM memories m WHERE ${vis.sql} AND ${fil.sql} AND m.id > ? ORDER BY m.id LIMIT ?`,
        [...vis.params, ...fil.params, after, limit],
      );
    }
    return db.all<MemoryRow>(
      `SELECT h.* FROM memories h WHERE h.tenant_id = ? AND h.id IN (
         SELECT m.id FROM memories m WHERE ${vis.sql} AND ${fil.sql} AND m.id > ? ORDER BY m.id LIMIT ?)
       ORDER BY h.id, h.version`,
      [v.tenantId, ...vis.params, ...fil.params, after, limit],
    );
  },

  /** Namespaces holding visible memories, with how many each holds. */
  namespaces(db: SqlExecutor, v: Visibility, limit: number) {
    const vis = visibilityClause(v);
    return db.all<{ namespace: string; count: number }>(
      `SELECT m.namespace AS namespace, COUNT(*) AS count FROM memories m WHERE ${vis.sql}
       GROUP BY m.namespace ORDER BY m.namespace LIMIT ?`,
      [...vis.params, limit],
    );
  },

  /**
   * The `limit` best visible, filtered memories by BM25 for a query's tokens: the recall index
   * (recall-index.ts) scores every match in memory and checks only the best against their rows (the
   * rows read follow the pool, not the matches), on both dialects. Only the ranking columns are read;
   * `bySeqs` loads the rows that make the final cut. `signals` turns on recall's signals beyond BM25
   * and context (`SearchOptions`): the speaker match and pseudo-relevance feedback; near-duplicate
   * search leaves them off.
   */
  async search(
    db: SqlExecutor,
    v: Visibility,
    f: Filters,
    tokens: QueryTokens,
    limit: number,
    signals: { speaker?: boolean; feedback?: boolean } = {},
  ) {
    const vis = visibilityClause(v);
    const fil = filterClause(f);
    const { candidates } = await impactSearch(
      db,
      tokens.recall,
      { sql: `${vis.sql} AND ${fil.sql}`, params: [...vis.params, ...fil.params] },
      limit,
      v.now,
      {
        speakers: signals.speaker ? tokens.speakers : [],
        feedback: signals.feedback === true,
      },
    );
    return candidates as Candidate[];
  },

  /**
   * How many current memories of the tenant hold each word (one `QueryTokens` per word), counted up
   * to `cap`, from the recall index's vocabulary: near-duplicate candidates are searched by a text's
   * rarest words.
   */
  async documentFrequencies(db: SqlExecutor, words: readonly QueryTokens[], cap: number): Promise<number[]> {
    if (words.length === 0) return [];
    const terms = words.map((w) => w.recall[0] ?? "");
    const rows = await db.all<{ term: string; df: number }>(
      "SELECT term, df FROM recall_terms WHERE term IN (SELECT value FROM json_each(?))",
      [JSON.stringify([...new Set(terms)])],
    );
    const df = new Map(rows.map((r) => [r.term, Math.min(cap, Number(r.df))]));
    return terms.map((t) => df.get(t) ?? 0);
  },

  /** Current memories not yet in the recall index (written before it existed). */
  unindexed: (db: SqlExecutor, limit: number) => unindexedPage(db, limit),

  /** Adds an existing current memory to the recall index. */
  /** Indexes existing rows again (or for the first time), in one pass for all of them. */
  reindex: (tx: SqlExecutor, entries: readonly { seq: number; bag: TermBag }[]) => indexMemories(tx, entries),

  /** Most recent visible memories as candidates, for queries with no searchable terms. */
  recentCandidates(db: SqlExecutor, v: Visibility, f: Filters, limit: number) {
    const vis = visibilityClause(v);
    const fil = filterClause(f);
    return db.all<Candidate>(
      `SELECT m.seq, m.id, m.namespace, m.updated_at, m.importance, 0 AS bm25 FROM memories m
       WHERE ${vis.sql} AND ${fil.sql} ORDER BY m.id DESC LIMIT ?`,
      [...vis.params, ...fil.params, limit],
    );
  },

  /** Full rows for candidates already checked for visibility (tenant filter kept as a second wall). */
  bySeqs(db: SqlExecutor, tenantId: string, seqs: readonly number[]) {
    if (seqs.length === 0) return Promise.resolve([] as MemoryRow[]);
    return db.all<MemoryRow>(
      `SELECT * FROM memories WHERE tenant_id = ? AND seq IN (${seqs.map(() => "?").join(", ")})`,
      [tenantId, ...seqs],
    );
  },

  hardDelete,

  /** True when any version of `id` exists in the tenant, visible or not. */
  exists: async (db: SqlExecutor, tenantId: string, id: string) =>
    (await db.get("SELECT 1 AS x FROM memories WHERE tenant_id = ? AND id = ? LIMIT 1", [tenantId, id])) !==
    undefined,

  /**
   * Memories (visible to the caller) matching a GDPR delete selector, over every version, each with
   * whether its current version is private. A visibility without a principal (a tenant-wide
   * erasure) reaches private memories too, within its namespaces.
   */
  async idsForDelete(
    db: SqlExecutor,
    v: Visibility,
    selector: { ids?: readonly string[]; entity?: string; createdAfter?: number; createdBefore?: number },
  ): Promise<{ id: string; private: boolean }[]> {
    // Every version counts (an entity named only in history is still erased), expired ones too.
    const vis = visibilityClause(v, "m", { history: true, expired: true });
    const base = `SELECT DISTINCT m.id, EXISTS (SELECT 1 FROM memories p WHERE p.tenant_id = m.tenant_id AND p.id = m.id AND p.is_current = 1 AND p.access = 'private') AS is_private FROM memories m WHERE ${vis.sql}`;
    let rows: { id: string; is_private: unknown }[];
    if (selector.ids) {
      rows = await db.all(`${base} AND m.id IN (${selector.ids.map(() => "?").join(", ")})`, [
        ...vis.params,
        ...selector.ids,
      ]);
    } else if (selector.entity !== undefined) {
      rows = await db.all(
        // Driven from the label index: the entity's rows are looked up, never every memory scanned.
        `${base} AND m.seq IN (SELECT l.seq FROM memory_labels l WHERE l.kind = 'entity' AND l.value = ?)`,
        [...vis.params, selector.entity],
      );
    } else {
      rows = await db.all(`${base} AND m.created_at >= ? AND m.created_at < ?`, [
        ...vis.params,
        selector.createdAfter ?? 0,
        selector.createdBefore ?? 0,
      ]);
    }
    // SQLite answers 0/1, PostgreSQL a boolean.
    return rows.map((r) => ({ id: r.id, private: r.is_private === true || Number(r.is_private) === 1 }));
  },

  // ---- vectors (hybrid recall) ------------------------------------------------------------------

  /**
   * Current, unexpired memories after `after` (a seq) without a vector of the active embedder,
   * oldest first (full rows, as stored).
   */
  pendingEmbeddings(
    db: SqlExecutor,
    tenantId: string,
    now: number,
    space: EmbedderSpace,
    after: number,
    limit: number,
  ) {
    const match = spaceMatch("embedder", space);
    return db.all<MemoryRow>(
      `SELECT * FROM memories WHERE tenant_id = ? AND is_current = 1 AND (expires_at IS NULL OR expires_at > ?)
       AND (embedder IS NULL OR NOT (${match.sql})) AND seq > ? ORDER BY seq LIMIT ?`,
      [tenantId, now, ...match.params, after, limit],
    );
  },

  /**
   * Stores a current version's vector (as stored: sealed when encrypted) and logs it; false if it is
   * gone. `searchable` writes the vector in the clear to the pgvector column in the same statement:
   * the caller passes it for plaintext tenants only (without it, memories.009's trigger leaves the
   * column NULL).
   */
  async setEmbedding(
    tx: SqlExecutor,
    seq: number,
    embedderId: string,
    stored: Uint8Array,
    searchable: { column: PgVector; vector: Float32Array } | null = null,
  ): Promise<boolean> {
    const r = searchable
      ? await tx.get<{ seq: number }>(
          `UPDATE memories SET embedding = ?, embedder = ?, embedding_vector = ?::${quoted(searchable.column.schema)}.vector
           WHERE seq = ? AND is_current = 1 RETURNING seq`,
          [stored, embedderId, vectorText(searchable.vector), seq],
        )
      : await tx.get<{ seq: number }>(
          "UPDATE memories SET embedding = ?, embedder = ? WHERE seq = ? AND is_current = 1 RETURNING seq",
          [stored, embedderId, seq],
        );
    if (r) await logVector(tx, seq, true);
    return r !== undefined;
  },

  /**
   * The pgvector column, when this PostgreSQL store has it (memories.009 ran with the extension
   * present) and the application role may use the extension's schema; null on SQLite and otherwise.
   */
  async pgvectorColumn(db: SqlExecutor): Promise<PgVector | null> {
    if (db.dialect !== "postgres") return null;
    const r = await db.get<{ schema: string }>(
      `SELECT tn.nspname AS schema FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
       WHERE a.attrelid = to_regclass(?) AND a.attname = 'embedding_vector' AND NOT a.attisdropped
         AND t.typname = 'vector' AND has_schema_privilege(tn.oid, 'USAGE')`,
      [`${TENANT_SCHEMA}.memories`],
    );
    return r ? { schema: r.schema } : null;
  },

  /**
   * Copies up to `limit` of a plaintext tenant's stored vectors that the pgvector column lacks
   * (written before the column existed, or by a gateway that predates it) into it, after seq
   * `after`; returns the last seq read (null when none was left).
   */
  async fillVectorColumn(
    tx: SqlExecutor,
    tenantId: string,
    column: PgVector,
    codec: RowCodec,
    after: number,
    limit: number,
  ): Promise<number | null> {
    const rows = await tx.all<StoredVector>(
      `SELECT seq, id, version, embedding FROM memories WHERE tenant_id = ? AND embedding IS NOT NULL
       AND embedding_vector IS NULL AND seq > ? ORDER BY seq LIMIT ?`,
      [tenantId, after, limit],
    );
    for (const r of rows) {
      await tx.run(
        `UPDATE memories SET embedding_vector = ?::${quoted(column.schema)}.vector WHERE seq = ? AND embedding = ?`,
        [vectorText(decodeVector(codec.openVector(r, r.embedding))), r.seq, r.embedding],
      );
    }
    return rows.at(-1)?.seq ?? null;
  },

  /**
   * PostgreSQL with pgvector, plaintext tenants: the `limit` memories the caller may see under the
   * filters nearest to `query` among the vectors of `embedderId`, by exact cosine similarity (the
   * tenant's rows are scanned, no ANN index: docs/architecture.md), those above zero, best first and
   * ties to the higher seq: what the in-process cache answers, as ranking columns.
   */
  nearestVectors(
    db: SqlExecutor,
    column: PgVector,
    v: Visibility,
    f: Filters,
    embedderId: string,
    query: Float32Array,
    limit: number,
  ) {
    const vis = visibilityClause(v);
    const fil = filterClause(f);
    const s = quoted(column.schema);
    // The CASE keeps vectors of another dimension from reaching `<=>` (which throws on them); a zero
    // vector's NaN is left out as the cache leaves it out (PostgreSQL sorts NaN above every number).
    return db.all<Omit<Candidate, "bm25"> & { similarity: number }>(
      `SELECT c.seq, c.id, c.namespace, c.updated_at, c.importance, c.similarity FROM (
         SELECT m.seq, m.id, m.namespace, m.updated_at, m.importance,
           CASE WHEN ${s}.vector_dims(m.embedding_vector) = ?
             THEN 1 - (m.embedding_vector OPERATOR(${s}.<=>) ?::${s}.vector) END AS similarity
         FROM memories m
         WHERE m.embedder = ? AND m.embedding_vector IS NOT NULL AND ${vis.sql} AND ${fil.sql}
       ) c WHERE c.similarity > 0 AND c.similarity <> 'NaN' ORDER BY c.similarity DESC, c.seq DESC LIMIT ?`,
      [query.length, vectorText(query), embedderId, ...vis.params, ...fil.params, limit],
    );
  },

  /** Clears up to `limit` vectors of a tenant (its policy turned vectors off); returns how many. */
  async clearEmbeddings(tx: SqlExecutor, tenantId: string, limit: number): Promise<number> {
    const rows = await tx.all<{ seq: number }>(
      "SELECT seq FROM memories WHERE tenant_id = ? AND embedding IS NOT NULL LIMIT ?",
      [tenantId, limit],
    );
    for (const r of rows) await dropVector(tx, r.seq);
    return rows.length;
  },

  /** Visible current memories, and how many of them hold a vector of the active embedder. */
  async embeddingCounts(db: SqlExecutor, v: Visibility, space: EmbedderSpace) {
    const vis = visibilityClause(v);
    const match = spaceMatch("m.embedder", space);
    const r = await db.get<{ total: number; embedded: number | null }>(
      `SELECT COUNT(*) AS total, SUM(CASE WHEN ${match.sql} THEN 1 ELSE 0 END) AS embedded
       FROM memories m WHERE ${vis.sql}`,
      [...match.params, ...vis.params],
    );
    return { total: Number(r?.total ?? 0), embedded: Number(r?.embedded ?? 0) };
  },

  /** The newest vector log generation (0 when empty). */
  vectorHead: async (db: SqlExecutor) =>
    Number((await db.get<{ gen: number | null }>("SELECT max(gen) AS gen FROM vector_log"))?.gen ?? 0),

  /** Vector log lines after `gen`, oldest first. */
  vectorChanges: (db: SqlExecutor, gen: number) =>
    db.all<{ gen: number; seq: number; added: number }>(
      "SELECT gen, seq, added FROM vector_log WHERE gen > ? ORDER BY gen",
      [gen],
    ),

  /** A page of a tenant's current vectors of `embedderId`, in seq order after `after`. */
  vectorPage: (db: SqlExecutor, tenantId: string, embedderId: string, after: number, limit: number) =>
    db.all<StoredVector>(
      `SELECT seq, id, version, embedding FROM memories WHERE tenant_id = ? AND is_current = 1 AND embedder = ?
       AND embedding IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?`,
      [tenantId, embedderId, after, limit],
    ),

  /** The current vectors of `embedderId` among `seqs`. */
  vectorsBySeqs(db: SqlExecutor, tenantId: string, embedderId: string, seqs: readonly number[]) {
    if (seqs.length === 0) return Promise.resolve([] as StoredVector[]);
    return db.all<StoredVector>(
      `SELECT seq, id, version, embedding FROM memories WHERE tenant_id = ? AND is_current = 1 AND embedder = ?
       AND embedding IS NOT NULL AND seq IN (${seqs.map(() => "?").join(", ")})`,
      [tenantId, embedderId, ...seqs],
    );
  },

  /**
   * Which of `seqs` the caller may see under the filters and still hold a vector of `embedderId`
   * (a cached vector of a retired, erased or re-embedded version never passes), as ranking columns.
   */
  visibleVectorCandidates(
    db: SqlExecutor,
    v: Visibility,
    f: Filters,
    embedderId: string,
    seqs: readonly number[],
  ) {
    if (seqs.length === 0) return Promise.resolve([] as Omit<Candidate, "bm25">[]);
    const vis = visibilityClause(v);
    const fil = filterClause(f);
    return db.all<Omit<Candidate, "bm25">>(
      `SELECT m.seq, m.id, m.namespace, m.updated_at, m.importance FROM memories m
       WHERE m.seq IN (${seqs.map(() => "?").join(", ")}) AND m.embedder = ? AND ${vis.sql} AND ${fil.sql}`,
      [...seqs, embedderId, ...vis.params, ...fil.params],
    );
  },

  /** Ids whose current version has expired. */
  expiredIds: (db: SqlExecutor, tenantId: string, now: number, limit: number) =>
    db
      .all<{ id: string }>(
        "SELECT id FROM memories WHERE tenant_id = ? AND is_current = 1 AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?",
        [tenantId, now, limit],
      )
      .then((rows) => rows.map((r) => r.id)),
};
