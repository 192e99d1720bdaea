import type { SqlExecutor, SqlValue } from "../../platform/storage/port.ts";

/**
 * The recall index of a SQLite vault.
 *
 * In the vault: each current memory's row keeps its own list of (term id, impact) pairs
 * (`memories.recall_terms`), where the impact is the term's BM25 weight in that memory (tf
 * saturation and length normalisation folded in at write time, as an integer); `recall_terms`
 * holds the vocabulary (words folded and stemmed, or blind tokens on an encrypted tenant) with
 * document frequencies; `recall_stats` the totals; `recall_log` one line per memory added or removed.
 *
 * In memory, per vault: impact-ordered posting lists (typed arrays) built from the rows on first use
 * and kept in step with commits by reading the log (a rolled-back write leaves no log line, so the
 * lists only ever reflect committed data). They hold integers only, never a word.
 *
 * A query is answered by MaxScore over the lists: terms from rarest to commonest; once the pool's
 * threshold exceeds the most the remaining (common) terms can add, they are never read, and memories
 * that only share common words are never scored. The candidates, best bound first, are then checked
 * against the visibility and filter columns and scored exactly from their row's own pairs, in one
 * rowid lookup each, until no unchecked candidate can enter the pool. The result is the exact BM25
 * top `limit` of the visible memories (k1 = 1.2, b = 0.75, average length taken at write time).
 */

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;
/** Impacts are stored as integers: the BM25 term weight (0 … k1 + 1) times this. */
export const IMPACT_SCALE = 1000;
/** Tag and entity tokens count as this many occurrences of a word of the content. */
const LABEL_WEIGHT = 0.5;
/** Candidates checked against their rows per statement. */
const CHECK_CHUNK = 64;
/** Log lines kept behind the newest (an index older than that is rebuilt from the rows). */
const LOG_KEEP = 50_000;

export type TermBag = { content: readonly string[]; labels: readonly string[] };

/** BM25's saturated, length-normalised term frequency, as a stored integer (at least 1). */
export function impactOf(tf: number, length: number, avgLength: number): number {
  const norm = BM25_K1 * (1 - BM25_B + (BM25_B * length) / Math.max(avgLength, 1));
  return Math.max(1, Math.round((IMPACT_SCALE * tf * (BM25_K1 + 1)) / (tf + norm)));
}

/** BM25's IDF (the variant that is never negative). */
export function idfOf(df: number, docs: number): number {
  return Math.log(1 + (docs - df + 0.5) / (df + 0.5));
}

/** `[length × 2, termId, impact, termId, impact, …]` as little-endian int32. */
function encodeTerms(length: number, pairs: readonly (readonly [number, number])[]): Uint8Array {
  const buf = Buffer.alloc(4 * (1 + 2 * pairs.length));
  buf.writeInt32LE(Math.round(length * 2), 0);
  pairs.forEach(([id, impact], i) => {
    buf.writeInt32LE(id, 4 + 8 * i);
    buf.writeInt32LE(impact, 8 + 8 * i);
  });
  return buf;
}

const view = (blob: Uint8Array) => Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);

function decodeTerms(blob: Uint8Array): { length: number; pairs: [number, number][] } {
  const buf = view(blob);
  const pairs: [number, number][] = [];
  for (let o = 4; o + 8 <= buf.length; o += 8) pairs.push([buf.readInt32LE(o), buf.readInt32LE(o + 4)]);
  return { length: buf.length >= 4 ? buf.readInt32LE(0) / 2 : 0, pairs };
}

/** The `[termId, impact, …]` part of a stored list, as its own array. */
function pairsOf(blob: Uint8Array): Int32Array {
  const buf = view(blob);
  const out = new Int32Array(Math.max(0, (buf.length - 4) >> 2));
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt32LE(4 + 4 * i);
  return out;
}

async function logChange(tx: SqlExecutor, seq: number, added: boolean): Promise<void> {
  const r = await tx.get<{ gen: number }>("INSERT INTO recall_log (seq, added) VALUES (?, ?) RETURNING gen", [
    seq,
    added ? 1 : 0,
  ]);
  if (r && r.gen % 1024 === 0) await tx.run("DELETE FROM recall_log WHERE gen <= ?", [r.gen - LOG_KEEP]);
}

/** Adds a memory to the recall index, inside the caller's transaction. */
export async function indexMemory(tx: SqlExecutor, seq: number, bag: TermBag): Promise<void> {
  const tf = new Map<string, number>();
  for (const t of bag.content) tf.set(t, (tf.get(t) ?? 0) + 1);
  for (const t of bag.labels) tf.set(t, (tf.get(t) ?? 0) + LABEL_WEIGHT);
  const length = bag.content.length + bag.labels.length * LABEL_WEIGHT;
  const stats = await tx.get<{ docs: number; tokens: number }>(
    "SELECT docs, tokens FROM recall_stats WHERE id = 1",
  );
  const avg = stats && stats.docs > 0 ? stats.tokens / stats.docs : length;
  const pairs: [number, number][] = [];
  for (const [term, f] of tf) {
    const row = await tx.get<{ id: number }>(
      "INSERT INTO recall_terms (term, df) VALUES (?, 1) ON CONFLICT (term) DO UPDATE SET df = df + 1 RETURNING id",
      [term],
    );
    if (!row) throw new Error("term upsert returned no row");
    pairs.push([row.id, impactOf(f, length, avg)]);
  }
  await tx.run("UPDATE memories SET recall_terms = ? WHERE seq = ?", [encodeTerms(length, pairs), seq]);
  await tx.run(
    `INSERT INTO recall_stats (id, docs, tokens) VALUES (1, 1, ?)
     ON CONFLICT (id) DO UPDATE SET docs = docs + 1, tokens = tokens + excluded.tokens`,
    [length],
  );
  await logChange(tx, seq, true);
}

/**
 * Removes a memory from the recall index. A term no memory uses any more leaves the vocabulary
 * (with `secure_delete` on, its bytes leave the file).
 */
export async function unindexMemory(tx: SqlExecutor, seq: number): Promise<void> {
  const row = await tx.get<{ recall_terms: Uint8Array | null }>(
    "SELECT recall_terms FROM memories WHERE seq = ?",
    [seq],
  );
  if (!row?.recall_terms) return;
  const { length, pairs } = decodeTerms(row.recall_terms);
  for (const [id] of pairs) {
    const left = await tx.get<{ df: number }>(
      "UPDATE recall_terms SET df = df - 1 WHERE id = ? RETURNING df",
      [id],
    );
    if (left && left.df <= 0) await tx.run("DELETE FROM recall_terms WHERE id = ?", [id]);
  }
  await tx.run("UPDATE memories SET recall_terms = NULL WHERE seq = ?", [seq]);
  await tx.run("UPDATE recall_stats SET docs = max(docs - 1, 0), tokens = max(tokens - ?, 0) WHERE id = 1", [
    length,
  ]);
  await logChange(tx, seq, false);
}

/** Current memories missing from the recall index (written before it existed), a page at a time. */
export function unindexedPage(db: SqlExecutor, limit: number) {
  return db.all<{ seq: number }>(
    "SELECT seq FROM memories WHERE is_current = 1 AND recall_terms IS NULL ORDER BY seq LIMIT ?",
    [limit],
  );
}

/** One term's postings: a sorted base (impact descending) and recent additions. */
type Postings = { seqs: Int32Array; impacts: Uint16Array; tailSeqs: number[]; tailImpacts: number[] };

/** The in-memory lists of one vault, as of log generation `gen`. */
type Lists = {
  gen: number;
  terms: Map<number, Postings>;
  /** Each live memory's terms and context, for exact scores without reading its row. */
  docs: Map<number, Doc>;
  /** Context keys (namespace and type) by their number. */
  contexts: Map<string, number>;
  removed: number;
};

/**
 * A live memory in memory: `[termId, impact, …]`, its context (a number standing for its namespace
 * and type; -1 for private or quarantined memories, which lend no context) and its expiry.
 */
type Doc = { pairs: Int32Array; ctx: number; expires: number };

type DocRow = {
  seq: number;
  recall_terms: Uint8Array | null;
  namespace: string;
  type: string;
  access: string;
  quarantined: number;
  expires_at: number | null;
};
const DOC_COLUMNS = "m.seq, m.recall_terms, m.namespace, m.type, m.access, m.quarantined, m.expires_at";

function docOf(l: Pick<Lists, "contexts">, r: DocRow & { recall_terms: Uint8Array }): Doc {
  let ctx = -1;
  if (r.access !== "private" && r.quarantined === 0) {
    const key = `${r.namespace}\u0000${r.type}`;
    ctx = l.contexts.get(key) ?? l.contexts.size;
    l.contexts.set(key, ctx);
  }
  return { pairs: pairsOf(r.recall_terms), ctx, expires: r.expires_at ?? Number.POSITIVE_INFINITY };
}

/**
 * Memories whose lists stay resident across all vaults of the process (about 400 bytes each); beyond
 * it the least recently searched vault's lists are dropped and rebuilt from its rows when next used.
 */
export const RESIDENT_MEMORIES = 1_000_000;

/** Lists per vault (read executor), least recently used first. */
const lists = new Map<SqlExecutor, Promise<Lists>>();
const resident = new Map<SqlExecutor, number>();

function evictBeyondBudget(keep: SqlExecutor): void {
  let total = 0;
  for (const n of resident.values()) total += n;
  for (const db of lists.keys()) {
    if (total <= RESIDENT_MEMORIES) break;
    if (db === keep) continue;
    total -= resident.get(db) ?? 0;
    lists.delete(db);
    resident.delete(db);
  }
}

/** Forgets a vault's lists (its connection is closing). */
export function dropLists(db: SqlExecutor): void {
  lists.delete(db);
  resident.delete(db);
}

async function buildLists(db: SqlExecutor): Promise<Lists> {
  const head = await db.get<{ gen: number | null }>("SELECT max(gen) AS gen FROM recall_log");
  const rows = await db.all<DocRow & { recall_terms: Uint8Array }>(
    `SELECT ${DOC_COLUMNS} FROM memories m WHERE m.is_current = 1 AND m.recall_terms IS NOT NULL`,
  );
  const counts = new Map<number, number>();
  for (const r of rows) {
    const buf = view(r.recall_terms);
    for (let o = 4; o + 8 <= buf.length; o += 8) {
      const id = buf.readInt32LE(o);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  const terms = new Map<number, Postings>();
  const fill = new Map<number, number>();
  for (const [id, n] of counts) {
    terms.set(id, { seqs: new Int32Array(n), impacts: new Uint16Array(n), tailSeqs: [], tailImpacts: [] });
    fill.set(id, 0);
  }
  const docs = new Map<number, Doc>();
  const contexts = new Map<string, number>();
  for (const r of rows) {
    docs.set(r.seq, docOf({ contexts }, r));
    const buf = view(r.recall_terms);
    for (let o = 4; o + 8 <= buf.length; o += 8) {
      const id = buf.readInt32LE(o);
      const p = terms.get(id);
      const i = fill.get(id) ?? 0;
      if (!p) continue;
      p.seqs[i] = r.seq;
      p.impacts[i] = Math.min(65_535, buf.readInt32LE(o + 4));
      fill.set(id, i + 1);
    }
  }
  for (const p of terms.values()) sortPostings(p);
  return { gen: head?.gen ?? 0, terms, docs, contexts, removed: 0 };
}

/** Sorts a term's postings by impact, highest first, folding recent additions into the base. */
function sortPostings(p: Postings): void {
  const n = p.seqs.length + p.tailSeqs.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const seqAt = (i: number) => (i < p.seqs.length ? (p.seqs[i] ?? 0) : (p.tailSeqs[i - p.seqs.length] ?? 0));
  const impAt = (i: number) =>
    i < p.impacts.length ? (p.impacts[i] ?? 0) : (p.tailImpacts[i - p.impacts.length] ?? 0);
  order.sort((a, b) => impAt(b) - impAt(a) || seqAt(b) - seqAt(a));
  const seqs = new Int32Array(n);
  const impacts = new Uint16Array(n);
  order.forEach((o, i) => {
    seqs[i] = seqAt(o);
    impacts[i] = impAt(o);
  });
  p.seqs = seqs;
  p.impacts = impacts;
  p.tailSeqs = [];
  p.tailImpacts = [];
}

/** Brings the lists up to the last commit: applies log lines after their generation, or rebuilds. */
async function currentLists(db: SqlExecutor): Promise<Lists> {
  let pending = lists.get(db);
  if (pending) {
    lists.delete(db);
    lists.set(db, pending);
  } else {
    pending = buildLists(db);
    lists.set(db, pending);
    pending.then(
      (l) => {
        resident.set(db, l.docs.size);
        evictBeyondBudget(db);
      },
      () => dropLists(db),
    );
  }
  const l = await pending;
  const changes = await db.all<{ gen: number; seq: number; added: number }>(
    "SELECT gen, seq, added FROM recall_log WHERE gen > ? ORDER BY gen",
    [l.gen],
  );
  if (changes.length === 0) return l;
  const first = changes[0];
  if ((first && first.gen > l.gen + 1 && l.gen > 0) || l.removed > l.docs.size / 4) {
    // The log was trimmed past these lists, or they hold too many removed memories: rebuild.
    dropLists(db);
    return currentLists(db);
  }
  const added = changes.filter((c) => c.added === 1 && !l.docs.has(c.seq)).map((c) => c.seq);
  const blobs = new Map<number, DocRow & { recall_terms: Uint8Array }>();
  for (let i = 0; i < added.length; i += 500) {
    const rows = await db.all<DocRow>(
      `SELECT ${DOC_COLUMNS} FROM json_each(?) cand CROSS JOIN memories m ON m.seq = cand.value`,
      [JSON.stringify(added.slice(i, i + 500))],
    );
    for (const r of rows) if (r.recall_terms) blobs.set(r.seq, { ...r, recall_terms: r.recall_terms });
  }
  const touched = new Set<Postings>();
  for (const c of changes) {
    if (c.added === 1) {
      const row = blobs.get(c.seq);
      if (!row || l.docs.has(c.seq)) continue;
      l.docs.set(c.seq, docOf(l, row));
      for (const [id, impact] of decodeTerms(row.recall_terms).pairs) {
        let p = l.terms.get(id);
        if (!p) {
          p = { seqs: new Int32Array(0), impacts: new Uint16Array(0), tailSeqs: [], tailImpacts: [] };
          l.terms.set(id, p);
        }
        p.tailSeqs.push(c.seq);
        p.tailImpacts.push(Math.min(65_535, impact));
        touched.add(p);
      }
    } else if (l.docs.delete(c.seq)) {
      l.removed++;
    }
    l.gen = Math.max(l.gen, c.gen);
  }
  for (const p of touched)
    if (p.tailSeqs.length > 64 && p.tailSeqs.length > p.seqs.length / 8) sortPostings(p);
  return l;
}

/** What ranking needs of a memory before its row is loaded (as the store's `Candidate`). */
export type ScoredCandidate = {
  seq: number;
  id: string;
  namespace: string;
  updated_at: number;
  importance: number;
  /** BM25 with the context of neighbouring memories. */
  bm25: number;
  /** The part of `bm25` lent by neighbouring memories. */
  context: number;
};

/**
 * Neighbouring-turn context: memories written one after another in the same namespace and type (turns
 * of a conversation, steps of a task) share what they are about, so a memory that matches the query
 * gains this share of its best neighbour's BM25, and the square of it from two memories away. A
 * memory that matches nothing is never returned for its neighbours alone. Private and quarantined
 * memories neither lend nor borrow context, and an expired one lends none.
 */
export const CONTEXT_WEIGHT = 0.5;

export type SearchStats = {
  terms: number;
  skippedTerms: number;
  postingsRead: number;
  rowsChecked: number;
  exhaustive: boolean;
};

/**
 * The exact BM25 top `limit` of the visible memories for the query tokens. `where` is the visibility
 * and filter clause on alias `m` (the memories row).
 */
export async function impactSearch(
  db: SqlExecutor,
  tokens: readonly string[],
  where: { sql: string; params: SqlValue[] },
  limit: number,
  now: number,
): Promise<{ candidates: ScoredCandidate[]; stats: SearchStats }> {
  const stats: SearchStats = {
    terms: 0,
    skippedTerms: 0,
    postingsRead: 0,
    rowsChecked: 0,
    exhaustive: false,
  };
  const unique = [...new Set(tokens)];
  if (unique.length === 0 || limit <= 0) return { candidates: [], stats };
  const l = await currentLists(db);
  const totals = await db.get<{ docs: number }>("SELECT docs FROM recall_stats WHERE id = 1");
  const docs = totals?.docs ?? 0;
  const found = await db.all<{ id: number; df: number }>(
    "SELECT id, df FROM recall_terms WHERE term IN (SELECT value FROM json_each(?))",
    [JSON.stringify(unique)],
  );
  if (docs === 0 || found.length === 0) return { candidates: [], stats };

  type Term = { id: number; idf: number; p: Postings; max: number };
  const terms: Term[] = [];
  for (const f of found) {
    const p = l.terms.get(f.id);
    if (!p) continue;
    const idf = idfOf(f.df, docs);
    let maxImpact = p.impacts[0] ?? 0;
    for (const t of p.tailImpacts) if (t > maxImpact) maxImpact = t;
    terms.push({ id: f.id, idf, p, max: (idf * maxImpact) / IMPACT_SCALE });
  }
  // Rarest (highest bound) first; rest[i] = the most terms i… together can add to a memory.
  terms.sort((a, b) => b.max - a.max);
  stats.terms = terms.length;
  const rest = new Float64Array(terms.length + 1);
  for (let i = terms.length - 1; i >= 0; i--) rest[i] = (rest[i + 1] ?? 0) + (terms[i]?.max ?? 0);
  const idf = new Map(terms.map((t) => [t.id, t.idf]));

  const acc = new Map<number, number>();
  const add = (t: Term) => {
    const { p } = t;
    const w = t.idf / IMPACT_SCALE;
    const visit = (seq: number, impact: number) => {
      if (!l.docs.has(seq)) return;
      acc.set(seq, (acc.get(seq) ?? 0) + w * impact);
    };
    for (let i = 0; i < p.seqs.length; i++) visit(p.seqs[i] ?? 0, p.impacts[i] ?? 0);
    for (let i = 0; i < p.tailSeqs.length; i++) visit(p.tailSeqs[i] ?? 0, p.tailImpacts[i] ?? 0);
    stats.postingsRead += p.seqs.length + p.tailSeqs.length;
  };
  /**
   * The `limit`-th best partial score: a lower bound of the pool's threshold before visibility. A
   * min-heap of the best `limit` values, so it costs one pass over the accumulator, not a sort.
   */
  const threshold = () => {
    if (acc.size < limit) return 0;
    const heap = new Float64Array(limit);
    let n = 0;
    for (const v of acc.values()) {
      if (n < limit) {
        let i = n++;
        heap[i] = v;
        while (i > 0) {
          const parent = (i - 1) >> 1;
          if ((heap[parent] ?? 0) <= (heap[i] ?? 0)) break;
          [heap[parent], heap[i]] = [heap[i] ?? 0, heap[parent] ?? 0];
          i = parent;
        }
      } else if (v > (heap[0] ?? 0)) {
        heap[0] = v;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < n && (heap[l] ?? 0) < (heap[m] ?? 0)) m = l;
          if (r < n && (heap[r] ?? 0) < (heap[m] ?? 0)) m = r;
          if (m === i) break;
          [heap[m], heap[i]] = [heap[i] ?? 0, heap[m] ?? 0];
          i = m;
        }
      }
    }
    return heap[0] ?? 0;
  };
  /** Whether memories outside the accumulator can no longer reach the pool (cheap test first). */
  const settled = (bound: number) => {
    if (acc.size < limit) return false;
    let max = 0;
    for (const v of acc.values()) if (v > max) max = v;
    return max >= bound && threshold() >= bound;
  };
  // MaxScore: read terms while memories outside the accumulator could still reach the threshold.
  let cut = 0;
  while (cut < terms.length && !settled(rest[cut] ?? 0)) {
    add(terms[cut] as Term);
    cut++;
  }
  stats.skippedTerms = terms.length - cut;

  /** Exact BM25 of a live memory from its pairs in memory. */
  const exact = (seq: number) => {
    const pairs = l.docs.get(seq)?.pairs;
    let score = 0;
    if (pairs) {
      for (let i = 0; i + 1 < pairs.length; i += 2) {
        const w = idf.get(pairs[i] ?? 0);
        if (w !== undefined) score += (w * (pairs[i + 1] ?? 0)) / IMPACT_SCALE;
      }
    }
    return score;
  };
  const visible: ScoredCandidate[] = [];
  const checked = new Set<number>();
  const kth = () => (visible.length >= limit ? (visible[limit - 1]?.bm25 ?? 0) : -1);
  const exactCache = new Map<number, number>();
  const cachedExact = (seq: number) => {
    let v = exactCache.get(seq);
    if (v === undefined) {
      v = exact(seq);
      exactCache.set(seq, v);
    }
    return v;
  };
  /** BM25 plus the context its neighbours lend (see CONTEXT_WEIGHT). */
  const withContext = (seq: number) => {
    const own = cachedExact(seq);
    const doc = l.docs.get(seq);
    let context = 0;
    if (own > 0 && doc && doc.ctx >= 0 && doc.expires > now) {
      for (let dist = 1, w = CONTEXT_WEIGHT; dist <= 2; dist++, w *= CONTEXT_WEIGHT) {
        let best = 0;
        for (const n of [seq - dist, seq + dist]) {
          const nd = l.docs.get(n);
          if (nd && nd.ctx === doc.ctx && nd.expires > now) best = Math.max(best, cachedExact(n));
        }
        context += w * best;
      }
    }
    return { seq, score: own + context, context };
  };
  const contexts = new Map<number, number>();
  const check = async (batch: readonly { seq: number; score: number; context: number }[]) => {
    stats.rowsChecked += batch.length;
    const scores = new Map(batch.map((b) => [b.seq, b.score]));
    for (const b of batch) contexts.set(b.seq, b.context);
    for (const b of batch) checked.add(b.seq);
    const rows = await db.all<Omit<ScoredCandidate, "bm25">>(
      // json_each drives the join: each candidate is one rowid lookup, never a scan of the vault.
      `SELECT m.seq, m.id, m.namespace, m.updated_at, m.importance
       FROM json_each(?) cand CROSS JOIN memories m ON m.seq = cand.value WHERE ${where.sql}`,
      [JSON.stringify([...scores.keys()]), ...where.params],
    );
    for (const r of rows)
      visible.push({ ...r, bm25: scores.get(r.seq) ?? 0, context: contexts.get(r.seq) ?? 0 });
    visible.sort((a, b) => b.bm25 - a.bm25 || b.seq - a.seq);
    if (visible.length > limit) visible.length = limit;
  };
  /**
   * Scores the accumulated memories exactly (from memory), then checks them against their rows, best
   * first, until `limit` are visible: the rows read are about the pool, not the matches.
   */
  const drain = async () => {
    const floor = threshold();
    const bound = rest[cut] ?? 0;
    const near = new Set<number>();
    const below: number[] = [];
    for (const [seq, partial] of acc) {
      if (partial + bound >= floor) {
        near.add(seq);
        // A neighbour of a strong match may rank on the context it borrows (when it matches itself).
        for (let n = seq - 2; n <= seq + 2; n++) if (acc.has(n)) near.add(n);
      } else below.push(seq);
    }
    const ranked: { seq: number; score: number; context: number }[] = [];
    for (const seq of near) {
      if (checked.has(seq)) continue;
      const c = withContext(seq);
      if (c.score > 0) ranked.push(c);
    }
    ranked.sort((a, b) => b.score - a.score || b.seq - a.seq);
    /** Checks `list` (best first) while a candidate can still enter the pool. */
    const checkWhileUseful = async (list: readonly { seq: number; score: number; context: number }[]) => {
      for (let i = 0; i < list.length; i += CHECK_CHUNK) {
        if (visible.length >= limit && (list[i]?.score ?? 0) <= kth()) break;
        await check(list.slice(i, i + CHECK_CHUNK));
      }
    };
    await checkWhileUseful(ranked);
    // Below the floor: needed when filters hid most of the best, or to beat a weak neighbour checked above.
    // A memory below the floor that is not next to a strong match (those are in `near`) has
    // neighbours below the floor too: it scores at most its bound plus what they could lend.
    const lend = (CONTEXT_WEIGHT + CONTEXT_WEIGHT ** 2) * Math.max(floor, bound);
    const more = below
      .filter((seq) => !checked.has(seq) && (acc.get(seq) ?? 0) + bound + lend > kth())
      .map(withContext)
      .filter((c) => c.score > kth())
      .sort((a, b) => b.score - a.score || b.seq - a.seq);
    await checkWhileUseful(more);
  };
  await drain();
  if (cut < terms.length && kth() < (rest[cut] ?? 0)) {
    // Memories holding only the skipped terms may qualify after all: read them too.
    stats.exhaustive = true;
    while (cut < terms.length) add(terms[cut++] as Term);
    await drain();
  }
  return { candidates: visible, stats };
}
