import type { SqlExecutor, SqlValue } from "../../platform/storage/port.ts";
import type { Candidate } from "./memories.store.ts";
import type { IndexEntry } from "./row-codec.ts";
import { CONTEXT_WEIGHT } from "./search.sqlite.ts";
import { indexTokens } from "./tokens.ts";

/**
 * The PostgreSQL search index: one row per (tenant, term, memory) with the term's weighted frequency
 * and the memory's length, plus per-tenant totals, ranked with SQLite FTS5's BM25 formula
 * (k1 = 1.2, b = 0.75, IDF floored at 1e-6, column weights content 1, tags 0.5, entities 0.5).
 * `ts_rank` is not BM25 (no IDF, no length normalisation against the corpus), so it is not used.
 * Tokens come from `indexTokens` (folded, Porter-stemmed): plaintext words and the blind-index
 * tokens of encrypted tenants (decimal digits, left as they are) go through the same code.
 */

const K1 = 1.2;
const B = 0.75;
const WEIGHTS = { content: 1, tags: 0.5, entities: 0.5 } as const;
/** Rows per INSERT statement (4 parameters each). */
const BATCH = 250;

export async function indexPg(tx: SqlExecutor, seq: number, index: IndexEntry): Promise<void> {
  const tf = new Map<string, number>();
  let len = 0;
  for (const field of ["content", "tags", "entities"] as const) {
    for (const token of indexTokens(index[field])) {
      tf.set(token, (tf.get(token) ?? 0) + WEIGHTS[field]);
      len++;
    }
  }
  const rows = [...tf];
  for (let i = 0; i < rows.length; i += BATCH) {
    const chunk = rows.slice(i, i + BATCH);
    await tx.run(
      `INSERT INTO memory_terms (term, seq, tf, len) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}`,
      chunk.flatMap(([term, f]) => [term, seq, f, len]),
    );
  }
  await tx.run(
    `INSERT INTO memory_search_stats (docs, total_len) VALUES (1, ?)
     ON CONFLICT (tenant_id) DO UPDATE SET docs = memory_search_stats.docs + 1,
       total_len = memory_search_stats.total_len + excluded.total_len`,
    [len],
  );
}

/** Drops a memory version from the index (and from the tenant's totals) if it is there. */
export async function unindexPg(tx: SqlExecutor, seq: number): Promise<void> {
  const gone = await tx.get<{ n: number; len: number | null }>(
    `WITH d AS (DELETE FROM memory_terms WHERE seq = ? RETURNING len)
     SELECT count(*) AS n, max(len) AS len FROM d`,
    [seq],
  );
  if (gone && gone.n > 0) {
    await tx.run("UPDATE memory_search_stats SET docs = docs - 1, total_len = total_len - ?", [
      gone.len ?? 0,
    ]);
  }
}

/**
 * BM25 candidates over the visible, filtered memories (the clauses come from the store), with the
 * context neighbouring memories lend as the SQLite recall index defines it (search.sqlite.ts,
 * `CONTEXT_WEIGHT`): a matching memory gains that share of the best BM25 among the matching memories
 * next to it (seq ± 1) in the same namespace and type, and its square from two away (seq ± 2);
 * private, quarantined and expired memories neither lend nor borrow. `bm25` is the score with the
 * context, `context` the part lent. Sequence numbers are shared by every tenant, so turns written
 * while another tenant wrote are not always adjacent: such a neighbour lends nothing.
 */
export function searchPg(
  db: SqlExecutor,
  vis: { sql: string; params: SqlValue[] },
  fil: { sql: string; params: SqlValue[] },
  tokens: readonly string[],
  limit: number,
  now: number,
): Promise<Candidate[]> {
  // The codec's query tokens (words as typed, or blind tokens) in the form the term table holds.
  const terms = [...new Set(tokens.flatMap((t) => indexTokens(t)))];
  if (terms.length === 0) return Promise.resolve([]);
  // The matching index rows are read once (MATERIALIZED) from the term index alone (it covers tf and
  // len: an index-only scan, no visit to the table's pages). Context needs the rows of scored
  // memories with a scored neighbour only (a hash join on seq ± 1, 2), usually few; their contexts
  // are one JSON object looked up by seq, not a table joined twice (the planner's row estimates for
  // these CTEs are guesses, and one wrong guess had it join every pair of them). Each candidate
  // is then fetched by its primary key alone (the LATERAL ... OFFSET 0 is a fence: the visibility
  // and filter conditions stay outside it, so no tenant-leading index can look cheaper while the
  // table's statistics are young) and checked after the fetch. The candidates are sorted before the
  // join (a subquery, whose order the plan keeps; a CTE's it would not), so the rows are fetched best
  // first and the fetching stops once `limit` of them passed the checks.
  return db.all<Candidate>(
    `WITH t AS MATERIALIZED (
       SELECT term, seq, tf, len FROM memory_terms
       WHERE term = ANY (ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))),
     s AS (SELECT docs::float8 AS n, CASE WHEN docs > 0 THEN total_len::float8 / docs ELSE 1 END AS avgdl
           FROM memory_search_stats),
     df AS (SELECT term, count(*)::float8 AS n FROM t GROUP BY term),
     scored AS MATERIALIZED (
       SELECT t.seq, sum(GREATEST(ln((s.n - df.n + 0.5) / (df.n + 0.5)), 1e-6)
                     * (t.tf * ${K1 + 1}) / (t.tf + ${K1} * (${1 - B} + ${B} * t.len / s.avgdl))) AS bm25
       FROM t JOIN df ON df.term = t.term CROSS JOIN s
       GROUP BY t.seq),
     near AS MATERIALIZED (
       SELECT a.seq, b.seq AS nseq, d.dist, b.bm25
       FROM scored a CROSS JOIN (VALUES (-2, 2), (-1, 1), (1, 1), (2, 2)) AS d(off, dist)
       JOIN scored b ON b.seq = a.seq + d.off),
     lends AS MATERIALIZED (
       SELECT jsonb_object_agg(c.seq::text, jsonb_build_array(c.namespace, c.type)) AS ctx
       FROM (SELECT DISTINCT seq FROM near) n CROSS JOIN LATERAL (
         SELECT c.* FROM memories c WHERE c.seq = n.seq OFFSET 0) c
       WHERE c.access <> 'private' AND c.quarantined = 0 AND (c.expires_at IS NULL OR c.expires_at > ?)),
     lent AS (
       SELECT n.seq, ${CONTEXT_WEIGHT} * coalesce(max(n.bm25) FILTER (WHERE n.dist = 1), 0)
                   + ${CONTEXT_WEIGHT ** 2} * coalesce(max(n.bm25) FILTER (WHERE n.dist = 2), 0) AS context
       FROM near n CROSS JOIN lends l
       WHERE l.ctx -> n.seq::text = l.ctx -> n.nseq::text
       GROUP BY n.seq)
     SELECT m.seq, m.id, m.namespace, m.updated_at, m.importance, sc.bm25, sc.context
     FROM (SELECT scored.seq, scored.bm25 + coalesce(lent.context, 0) AS bm25, coalesce(lent.context, 0) AS context
           FROM scored LEFT JOIN lent ON lent.seq = scored.seq
           ORDER BY 2 DESC, 1 DESC) sc CROSS JOIN LATERAL (
       SELECT m.* FROM memories m WHERE m.seq = sc.seq OFFSET 0) m
     WHERE ${vis.sql} AND ${fil.sql}
     ORDER BY sc.bm25 DESC, sc.seq DESC LIMIT ?`,
    [JSON.stringify(terms), now, ...vis.params, ...fil.params, limit],
  );
}
