import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { SqlExecutor, SqlValue } from "../../platform/storage/port.ts";
import { BestFirst } from "./best-first.ts";

/**
 * The recall index of a tenant, the same on SQLite and on PostgreSQL.
 *
 * In the database: each current memory's row keeps its own list of (term id, impact) pairs
 * (`memories.recall_terms`), where the impact is the term's BM25 weight in that memory (tf
 * saturation and length normalisation folded in at write time, as an integer); `recall_terms`
 * holds the vocabulary (words folded and stemmed, or blind tokens on an encrypted tenant) with
 * document frequencies; `recall_stats` the totals; `recall_log` one line per memory added or removed,
 * numbered per tenant in commit order (a tenant's write transactions run one at a time: SQLite's
 * write lock, PostgreSQL's per-tenant advisory lock, see platform/storage).
 *
 * In memory, per tenant and process (each gateway keeps its own): posting lists in slot order (typed
 * arrays) built from the rows on first use and kept in step with commits, whichever process made
 * them, by reading the log before each search (a rolled-back write leaves no log line, so the lists
 * only ever reflect committed data), and per-memory arrays of what ranking reads (is it live, its
 * context, its expiry, its neighbours). Memories are held in slots, numbered densely per tenant, so
 * the arrays follow the tenant's size even where sequence numbers are shared by every tenant
 * (PostgreSQL). They hold integers only, never a word.
 *
 * A query adds every posting of its terms into an accumulator indexed by slot, marks its matches in a
 * bitmap, gives each match the context its neighbours lend (visiting the matches in slot order, so
 * the per-slot arrays are read forwards), and checks the matches against the visibility and filter
 * columns best first, in one primary-key lookup each, until no unchecked match can enter the pool. The result is
 * the exact BM25 top `limit` of the visible memories (k1 = 1.2, b = 0.75, average length taken at
 * write time), context included.
 */

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;
/** Impacts are stored as integers: the BM25 term weight (0 … k1 + 1) times this. */
export const IMPACT_SCALE = 1000;
/** Tag and entity tokens count as this many occurrences of a word of the content. */
const LABEL_WEIGHT = 0.5;
/** Candidates checked against their rows per statement, beyond the first (which asks for the whole pool). */
const CHECK_CHUNK = 64;
/** Rows read per statement while building a vault's lists (a turn of the event loop between pages). */
const BUILD_PAGE = 5_000;
/** Log lines kept behind the newest (an index older than that is rebuilt from the rows). */
const LOG_KEEP = 50_000;

/**
 * A memory's terms: the words of its content, the words of its labels (tags, entities, and dates of
 * its metadata), and the speaker named at its start (`speakerTerm`s), which are held with a fixed
 * impact (SPEAKER_IMPACT): who said something is a fact of the memory, not a share of its words.
 */
export type TermBag = { content: readonly string[]; labels: readonly string[]; speakers?: readonly string[] };

/** The stored impact of a speaker term (a BM25 term weight of 1), whatever the memory's length. */
export const SPEAKER_IMPACT = IMPACT_SCALE;

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

/** A log line for a memory added to or removed from the index; the log is numbered per tenant. */
async function logChange(tx: SqlExecutor, seq: number, added: boolean): Promise<void> {
  const r = await tx.get<{ gen: number }>(
    `INSERT INTO recall_log (gen, seq, added)
     SELECT coalesce(max(gen), 0) + 1, ?, ? FROM recall_log RETURNING gen`,
    [seq, added ? 1 : 0],
  );
  if (r && r.gen % 1024 === 0) await tx.run("DELETE FROM recall_log WHERE gen <= ?", [r.gen - LOG_KEEP]);
}

/** Log lines written per statement when a batch is added. */
const LOG_CHUNK = 200;

/** Log lines for memories added together, numbered in the order given (their commit order). */
export async function logAdded(tx: SqlExecutor, seqs: readonly number[]): Promise<void> {
  if (seqs.length <= 1) {
    for (const seq of seqs) await logChange(tx, seq, true);
    return;
  }
  const top = await tx.get<{ gen: number }>("SELECT coalesce(max(gen), 0) AS gen FROM recall_log");
  const first = Number(top?.gen ?? 0) + 1;
  for (let i = 0; i < seqs.length; i += LOG_CHUNK) {
    const chunk = seqs.slice(i, i + LOG_CHUNK);
    await tx.run(
      `INSERT INTO recall_log (gen, seq, added) VALUES ${chunk.map(() => "(?, ?, 1)").join(", ")}`,
      chunk.flatMap((seq, k) => [first + i + k, seq]),
    );
  }
  // The log is trimmed whenever its numbering passes a multiple of 1024, as one line at a time would.
  const last = first + seqs.length - 1;
  if (Math.floor(last / 1024) > Math.floor((first - 1) / 1024))
    await tx.run("DELETE FROM recall_log WHERE gen <= ?", [last - LOG_KEEP]);
}

/**
 * Counts one more memory holding each term, as many times as `counts` says (new terms join the
 * vocabulary), and answers each term's id. One statement for a whole batch. PostgreSQL's
 * vocabulary is shared by every tenant's rows, so a new term's id is the tenant's next one (safe:
 * the tenant's writes run one at a time); SQLite's rowid is that already.
 */
async function countTerms(
  tx: SqlExecutor,
  counts: ReadonlyMap<string, number>,
): Promise<Map<string, number>> {
  const rows = await tx.all<{ id: number; term: string }>(
    tx.dialect === "postgres"
      ? `INSERT INTO recall_terms (id, term, df)
         SELECT (SELECT coalesce(max(id), 0) FROM recall_terms) + row_number() OVER (), key, CAST(value AS INTEGER)
         FROM jsonb_each_text(CAST(? AS jsonb))
         ON CONFLICT (tenant_id, term) DO UPDATE SET df = recall_terms.df + excluded.df RETURNING id, term`
      : `INSERT INTO recall_terms (term, df) SELECT key, value FROM json_each(?) WHERE true
         ON CONFLICT (term) DO UPDATE SET df = df + excluded.df RETURNING id, term`,
    [JSON.stringify(Object.fromEntries(counts))],
  );
  return new Map(rows.map((r) => [r.term, Number(r.id)]));
}

/**
 * Counts memories into the recall index's vocabulary and totals, and answers each one's stored list
 * of (term id, impact) pairs, for the caller to keep in the memory's row (`recall_terms`) before it
 * logs the additions (`logAdded`). The lists are the ones adding the memories one at a time, in the
 * order given, would give: each memory's length is normalised by the average length of the memories
 * before it (sums of halves, exact in floating point). Two statements, however many memories.
 */
export async function termLists(tx: SqlExecutor, bags: readonly TermBag[]): Promise<Uint8Array[]> {
  if (bags.length === 0) return [];
  const docs = bags.map((bag) => {
    const tf = new Map<string, number>();
    for (const t of bag.content) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const t of bag.labels) tf.set(t, (tf.get(t) ?? 0) + LABEL_WEIGHT);
    const length = bag.content.length + bag.labels.length * LABEL_WEIGHT;
    return { tf, length, speakers: [...new Set(bag.speakers ?? [])] };
  });
  const added = docs.reduce((sum, d) => sum + d.length, 0);
  const totals = await tx.get<{ docs: number; tokens: number }>(
    tx.dialect === "postgres"
      ? `INSERT INTO recall_stats (id, docs, tokens) VALUES (1, ?, ?)
         ON CONFLICT (tenant_id, id) DO UPDATE SET docs = recall_stats.docs + excluded.docs, tokens = recall_stats.tokens + excluded.tokens
         RETURNING docs, tokens`
      : `INSERT INTO recall_stats (id, docs, tokens) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET docs = docs + excluded.docs, tokens = tokens + excluded.tokens RETURNING docs, tokens`,
    [docs.length, added],
  );
  const counts = new Map<string, number>();
  for (const d of docs)
    for (const t of [...d.tf.keys(), ...d.speakers]) counts.set(t, (counts.get(t) ?? 0) + 1);
  const ids = counts.size > 0 ? await countTerms(tx, counts) : new Map<string, number>();
  const idOf = (term: string) => {
    const id = ids.get(term);
    if (id === undefined) throw new Error("term upsert returned no row");
    return id;
  };
  let before = Number(totals?.docs ?? docs.length) - docs.length;
  let tokens = Number(totals?.tokens ?? added) - added;
  return docs.map(({ tf, length, speakers }) => {
    const avg = before > 0 ? tokens / before : length;
    before += 1;
    tokens += length;
    const pairs: [number, number][] = [];
    for (const [term, f] of tf) pairs.push([idOf(term), impactOf(f, length, avg)]);
    for (const term of speakers) pairs.push([idOf(term), SPEAKER_IMPACT]);
    return encodeTerms(length, pairs);
  });
}

/** Adds memories whose rows are written to the recall index, inside the caller's transaction. */
export async function indexMemories(
  tx: SqlExecutor,
  entries: readonly { seq: number; bag: TermBag }[],
): Promise<void> {
  const lists = await termLists(
    tx,
    entries.map((e) => e.bag),
  );
  for (const [i, { seq }] of entries.entries())
    await tx.run("UPDATE memories SET recall_terms = ? WHERE seq = ?", [lists[i] ?? null, seq]);
  await logAdded(
    tx,
    entries.map((e) => e.seq),
  );
}

/**
 * Removes a memory from the recall index. A term no memory uses any more leaves the vocabulary
 * (with `secure_delete` on, SQLite zeroes its bytes in the file).
 */
export async function unindexMemory(tx: SqlExecutor, seq: number): Promise<void> {
  const row = await tx.get<{ recall_terms: Uint8Array | null }>(
    "SELECT recall_terms FROM memories WHERE seq = ?",
    [seq],
  );
  if (!row?.recall_terms) return;
  const { length, pairs } = decodeTerms(row.recall_terms);
  const ids = JSON.stringify(pairs.map(([id]) => id));
  await tx.run(
    "UPDATE recall_terms SET df = df - 1 WHERE id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
    [ids],
  );
  await tx.run(
    "DELETE FROM recall_terms WHERE df <= 0 AND id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))",
    [ids],
  );
  await tx.run("UPDATE memories SET recall_terms = NULL WHERE seq = ?", [seq]);
  await tx.run(
    `UPDATE recall_stats SET docs = CASE WHEN docs > 0 THEN docs - 1 ELSE 0 END,
       tokens = CASE WHEN tokens > ? THEN tokens - ? ELSE 0 END WHERE id = 1`,
    [length, length],
  );
  await logChange(tx, seq, false);
}

/** Current memories missing from the recall index (written before it existed), a page at a time. */
export function unindexedPage(db: SqlExecutor, limit: number) {
  return db.all<{ seq: number }>(
    "SELECT seq FROM memories WHERE is_current = 1 AND recall_terms IS NULL ORDER BY seq LIMIT ?",
    [limit],
  );
}

/**
 * One term's postings: a base and recent additions, both in slot order (slots are handed out in
 * increasing order), so adding a term's postings walks the per-slot arrays forwards.
 */
type Postings = { slots: Int32Array; impacts: Uint16Array; tailSlots: number[]; tailImpacts: number[] };

/** `Lists.ctx` of a slot that holds no live memory. */
const GONE = -2;
/** `Lists.ctx` of a live memory that neither lends nor borrows context (private or quarantined). */
const NO_CONTEXT = -1;
/** `Lists.near` of a neighbour that is not in the lists. */
const NONE = -1;

/**
 * The in-memory lists of one tenant, as of log generation `gen`. Each memory the lists ever held has
 * a slot; what a search reads per memory is held in arrays indexed by slot, so scoring a match costs
 * array reads, not hash lookups.
 */
type Lists = {
  gen: number;
  terms: Map<number, Postings>;
  /** Slots in use. */
  size: number;
  /** Slot by seq (used when the log is applied, never while scoring). */
  slotOf: Map<number, number>;
  /** By slot: the memory's seq. */
  seqs: Float64Array;
  /** By slot: GONE, NO_CONTEXT, or the number of the memory's context (its namespace and type). */
  ctx: Int32Array;
  /** By slot: the memory's expiry (ms since the epoch), +Infinity when it has none. */
  expires: Float64Array;
  /**
   * By slot × 4: the slots of the memories at seq − 2, seq − 1, seq + 1, seq + 2 (NONE when the
   * lists hold no such memory): a memory's neighbours in the order it was written.
   */
  near: Int32Array;
  /** By slot: a search's scratch accumulator, all zero between searches. */
  acc: Float64Array;
  /** By slot: the part of `acc` from speaker terms, and what feedback terms add (scratch, zero between searches). */
  speakerAcc: Float64Array;
  feedbackAcc: Float64Array;
  /** By slot: 1 + the memory's place among a search's matches during feedback, else 0 (scratch). */
  pos: Int32Array;
  /** By slot, one bit each: a search's scratch bitmap of matches, all zero between searches. */
  marks: Int32Array;

  /** Live memories. */
  live: number;
  /** Context keys (namespace and type) by their number. */
  contexts: Map<string, number>;
  removed: number;
};

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
/** Offsets of `Lists.near`, in its order. */
const NEAR = [-2, -1, 1, 2] as const;

function emptyLists(gen: number): Lists {
  return {
    gen,
    terms: new Map(),
    size: 0,
    slotOf: new Map(),
    seqs: new Float64Array(0),
    ctx: new Int32Array(0),
    expires: new Float64Array(0),
    near: new Int32Array(0),
    acc: new Float64Array(0),
    speakerAcc: new Float64Array(0),
    feedbackAcc: new Float64Array(0),
    pos: new Int32Array(0),
    marks: new Int32Array(0),
    live: 0,
    contexts: new Map(),
    removed: 0,
  };
}

/** Grows the per-slot arrays to hold `n` slots. */
function reserve(l: Lists, n: number): void {
  if (n <= l.ctx.length) return;
  const size = Math.max(n, l.ctx.length * 2, 1024);
  const grow = <A extends Int32Array | Float64Array>(old: A, make: (n: number) => A, fill?: number): A => {
    const a = make(size);
    if (fill !== undefined) a.fill(fill);
    a.set(old as never);
    return a;
  };
  l.seqs = grow(l.seqs, (n) => new Float64Array(n));
  l.ctx = grow(l.ctx, (n) => new Int32Array(n), GONE);
  l.expires = grow(l.expires, (n) => new Float64Array(n));
  const near = new Int32Array(size * 4).fill(NONE);
  near.set(l.near);
  l.near = near;
  l.acc = new Float64Array(size);
  l.speakerAcc = new Float64Array(size);
  l.feedbackAcc = new Float64Array(size);
  l.pos = new Int32Array(size);
  l.marks = new Int32Array((size + 31) >>> 5);
}

/**
 * A new slot for a memory, linked to its neighbours. A memory that comes back after it was removed
 * gets a new slot too: its old postings still name the old one, which stays gone.
 */
function slotFor(l: Lists, seq: number): number {
  const slot = l.size++;
  reserve(l, l.size);
  l.slotOf.set(seq, slot);
  l.seqs[slot] = seq;
  NEAR.forEach((off, i) => {
    const other = l.slotOf.get(seq + off);
    if (other === undefined) return;
    l.near[slot * 4 + i] = other;
    l.near[other * 4 + (3 - i)] = slot;
  });
  return slot;
}

/** Records a live memory's context and expiry; answers its slot. */
function setDoc(l: Lists, r: DocRow): number {
  const slot = slotFor(l, Number(r.seq));
  let ctx = NO_CONTEXT;
  if (r.access !== "private" && Number(r.quarantined) === 0) {
    const key = `${r.namespace}\u0000${r.type}`;
    ctx = l.contexts.get(key) ?? l.contexts.size;
    l.contexts.set(key, ctx);
  }
  if (l.ctx[slot] === GONE) l.live++;
  l.ctx[slot] = ctx;
  l.expires[slot] = r.expires_at === null ? Number.POSITIVE_INFINITY : Number(r.expires_at);
  return slot;
}

const isLive = (l: Lists, seq: number) => {
  const slot = l.slotOf.get(seq);
  return slot !== undefined && l.ctx[slot] !== GONE;
};

/**
 * Memories whose lists stay resident across all tenants of the process (about 250 bytes each);
 * beyond it the least recently searched tenant's lists are dropped and rebuilt from its rows when
 * next used.
 */
export const RESIDENT_MEMORIES = 1_000_000;

/** Lists per tenant database (read executor), least recently used first. */
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

/** Forgets a tenant's lists (its connection is closing, or the tenant is gone). */
export function dropLists(db: SqlExecutor): void {
  lists.delete(db);
  resident.delete(db);
}

/**
 * Builds a tenant's lists from its rows, a page at a time with a turn of the event loop between pages
 * (reading them and filling the lists), so a large tenant's first search does not stall other requests.
 * What commits meanwhile is in the log after `head`, which the caller applies (an addition already
 * read is skipped, a removal marks the memory gone).
 */
async function buildLists(db: SqlExecutor): Promise<Lists> {
  const head = await db.get<{ gen: number | null }>("SELECT max(gen) AS gen FROM recall_log");
  const rows: (DocRow & { recall_terms: Uint8Array })[] = [];
  for (let after = 0; ; ) {
    const page = await db.all<DocRow & { recall_terms: Uint8Array }>(
      `SELECT ${DOC_COLUMNS} FROM memories m
       WHERE m.seq > ? AND m.is_current = 1 AND m.recall_terms IS NOT NULL ORDER BY m.seq LIMIT ?`,
      [after, BUILD_PAGE],
    );
    for (const r of page) rows.push(r);
    const last = page.at(-1);
    if (!last || page.length < BUILD_PAGE) break;
    after = Number(last.seq);
    await yieldToLoop();
  }
  const counts = new Map<number, number>();
  for (const r of rows) {
    const buf = view(r.recall_terms);
    for (let o = 4; o + 8 <= buf.length; o += 8) {
      const id = buf.readInt32LE(o);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  const l = emptyLists(Number(head?.gen ?? 0));
  const fill = new Map<number, number>();
  for (const [id, n] of counts) {
    l.terms.set(id, {
      slots: new Int32Array(n),
      impacts: new Uint16Array(n),
      tailSlots: [],
      tailImpacts: [],
    });
    fill.set(id, 0);
  }
  reserve(l, rows.length);
  // Rows in seq order take increasing slots, so every term's postings are filled in slot order.
  for (let at = 0; at < rows.length; at++) {
    const r = rows[at];
    if (!r) continue;
    const slot = setDoc(l, r);
    const buf = view(r.recall_terms);
    for (let o = 4; o + 8 <= buf.length; o += 8) {
      const id = buf.readInt32LE(o);
      const p = l.terms.get(id);
      const i = fill.get(id) ?? 0;
      if (!p) continue;
      p.slots[i] = slot;
      p.impacts[i] = Math.min(65_535, buf.readInt32LE(o + 4));
      fill.set(id, i + 1);
    }
    if ((at + 1) % BUILD_PAGE === 0) await yieldToLoop();
  }
  return l;
}

/**
 * Folds a term's recent additions into its base. Slots are handed out in increasing order, so the
 * additions follow the base in slot order and the result stays sorted by slot.
 */
function foldTail(p: Postings): void {
  const n = p.slots.length + p.tailSlots.length;
  const slots = new Int32Array(n);
  const impacts = new Uint16Array(n);
  slots.set(p.slots);
  impacts.set(p.impacts);
  slots.set(p.tailSlots, p.slots.length);
  impacts.set(p.tailImpacts, p.slots.length);
  p.slots = slots;
  p.impacts = impacts;
  p.tailSlots = [];
  p.tailImpacts = [];
}

/** The tenant's lists as this process holds them (built from the rows on first use). */
function residentLists(db: SqlExecutor): Promise<Lists> {
  let pending = lists.get(db);
  if (pending) {
    lists.delete(db);
    lists.set(db, pending);
  } else {
    pending = buildLists(db);
    lists.set(db, pending);
    pending.then(
      (l) => {
        resident.set(db, l.live);
        evictBeyondBudget(db);
      },
      () => dropLists(db),
    );
  }
  return pending;
}

type Change = { gen: number; seq: number; added: number };

/** Brings the lists up to the last commit: applies log lines after their generation, or rebuilds. */
async function currentLists(db: SqlExecutor): Promise<Lists> {
  const l = await residentLists(db);
  const changes = (
    await db.all<Change>("SELECT gen, seq, added FROM recall_log WHERE gen > ? ORDER BY gen", [l.gen])
  ).map((c) => ({ gen: Number(c.gen), seq: Number(c.seq), added: Number(c.added) }));
  return applyChanges(db, l, changes);
}

/**
 * Applies log lines (in generation order) to the lists. Lists that the log was trimmed past, or that
 * hold too many removed memories, are rebuilt instead. Applying a line twice changes nothing, so
 * searches running at once may apply the same lines.
 */
async function applyChanges(db: SqlExecutor, l: Lists, changes: readonly Change[]): Promise<Lists> {
  if (changes.length === 0) return l;
  const first = changes[0];
  if ((first && first.gen > l.gen + 1 && l.gen > 0) || l.removed > l.live / 4) {
    // The log was trimmed past these lists, or they hold too many removed memories: rebuild.
    dropLists(db);
    return currentLists(db);
  }
  const added = changes.filter((c) => c.added === 1 && !isLive(l, c.seq)).map((c) => c.seq);
  const blobs = new Map<number, DocRow & { recall_terms: Uint8Array }>();
  for (let i = 0; i < added.length; i += 500) {
    const q = bySeqList(db, DOC_COLUMNS, added.slice(i, i + 500));
    const rows = await db.all<DocRow>(q.sql, q.params);
    for (const r of rows)
      if (r.recall_terms) blobs.set(Number(r.seq), { ...r, recall_terms: r.recall_terms });
  }
  const touched = new Set<Postings>();
  for (const c of changes) {
    if (c.added === 1) {
      const row = blobs.get(c.seq);
      if (!row || isLive(l, c.seq)) continue;
      const slot = setDoc(l, row);
      for (const [id, impact] of decodeTerms(row.recall_terms).pairs) {
        let p = l.terms.get(id);
        if (!p) {
          p = { slots: new Int32Array(0), impacts: new Uint16Array(0), tailSlots: [], tailImpacts: [] };
          l.terms.set(id, p);
        }
        p.tailSlots.push(slot);
        p.tailImpacts.push(Math.min(65_535, impact));
        touched.add(p);
      }
    } else {
      const slot = l.slotOf.get(c.seq);
      if (slot !== undefined && l.ctx[slot] !== GONE) {
        l.ctx[slot] = GONE;
        l.live--;
        l.removed++;
      }
    }
    l.gen = Math.max(l.gen, c.gen);
  }
  for (const p of touched)
    if (p.tailSlots.length > 64 && p.tailSlots.length > p.slots.length / 8) foldTail(p);
  return l;
}

/**
 * Rows by seq, each one primary-key lookup, never a scan, whatever the conditions the caller adds on
 * alias `m`: SQLite's join driven by the list (`CROSS JOIN` keeps that order); on PostgreSQL each row
 * fetched by its key alone in a lateral subquery (`OFFSET 0` keeps the caller's conditions outside it,
 * so an index on other columns can never look cheaper while the table's statistics are young).
 */
function bySeqList(
  db: SqlExecutor,
  columns: string,
  seqs: readonly number[],
): { sql: string; params: SqlValue[] } {
  return db.dialect === "postgres"
    ? {
        sql: `SELECT ${columns} FROM unnest(CAST(? AS BIGINT[])) AS cand(seq)
              CROSS JOIN LATERAL (SELECT * FROM memories r WHERE r.seq = cand.seq OFFSET 0) m WHERE TRUE`,
        params: [`{${seqs.join(",")}}`],
      }
    : {
        sql: `SELECT ${columns} FROM json_each(?) cand CROSS JOIN memories m WHERE m.seq = cand.value`,
        params: [JSON.stringify(seqs)],
      };
}

/** What ranking needs of a memory before its row is loaded (as the store's `Candidate`). */
export type ScoredCandidate = {
  seq: number;
  id: string;
  namespace: string;
  updated_at: number;
  importance: number;
  /** BM25 with the context of neighbouring memories, the speaker match and feedback terms. */
  bm25: number;
  /** The part of `bm25` lent by neighbouring memories. */
  context: number;
  /** The part of `bm25` from the query naming the memory's speaker (see SPEAKER_WEIGHT). */
  speaker: number;
  /** The part of `bm25` from pseudo-relevance feedback terms (see FEEDBACK). */
  feedback: number;
  /**
   * The whole row, where the check read it (PostgreSQL: a round trip costs more than the columns,
   * so the rows that make the cut need no second statement).
   */
  row?: Record<string, unknown>;
};

/**
 * Neighbouring-turn context: memories written one after another in the same namespace and type (turns
 * of a conversation, steps of a task) share what they are about, so a memory gains this share of its
 * best neighbour's BM25, and the square of it from two memories away. Private and quarantined
 * memories neither lend nor borrow context, and an expired one lends none. A memory that matches
 * nothing is never returned for its neighbours alone.
 */
export const CONTEXT_WEIGHT = 0.5;

/**
 * The context a memory's neighbours lend it: CONTEXT_WEIGHT of the best one place away and its square
 * of the best two places away, by `lends` (what a neighbour lends a memory of context `c`). Only a
 * memory with a context that has not expired borrows any.
 */
function contextOf(
  ctx: Int32Array,
  expires: Float64Array,
  near: Int32Array,
  slot: number,
  now: number,
  lends: (other: number, c: number) => number,
): number {
  const c = ctx[slot] ?? NO_CONTEXT;
  if (c < 0 || (expires[slot] ?? 0) <= now) return 0;
  const at = slot * 4;
  return (
    CONTEXT_WEIGHT * Math.max(lends(near[at + 1] ?? NONE, c), lends(near[at + 2] ?? NONE, c)) +
    CONTEXT_WEIGHT ** 2 * Math.max(lends(near[at] ?? NONE, c), lends(near[at + 3] ?? NONE, c))
  );
}

/**
 * A query word that names the speaker of a memory (`speakerTerm`, from a leading `Name:`) adds this
 * many times the speaker term's IDF: a question about what someone said or did is most often answered
 * by that person's own words, not by someone else addressing them.
 */
export const SPEAKER_WEIGHT = 2;

/**
 * Pseudo-relevance feedback (RM3-like, on the index's integers only): the terms of the best `docs`
 * visible memories, weighted by each memory's score over the best one times the term's impact in it
 * times its IDF, query terms left out, and only terms held by at least 2 memories and at most
 * `maxShare` of them, or `maxFloor` in a small vault (a common term costs postings and says little); the best `terms` of them join the
 * query, the best with `weight` times a query term's weight and the others in proportion, and the
 * search runs again. Memories that matched only those terms are candidates like any other.
 */
export const FEEDBACK = { docs: 3, terms: 5, weight: 0.2, maxShare: 0.02, maxFloor: 3 } as const;

export type SearchOptions = {
  /** The query's words as speaker terms (`QueryTokens.speakers`); none by default. */
  speakers?: readonly string[];
  /** Pseudo-relevance feedback (see FEEDBACK); off by default. */
  feedback?: boolean;
};

export type SearchStats = {
  terms: number;
  /** Postings read (every posting of every query term, feedback terms included). */
  postingsRead: number;
  /** Live memories holding at least one query term. */
  matched: number;
  /** Candidates checked against their rows (about the pool, not the matches). */
  rowsChecked: number;
  /** Terms added by pseudo-relevance feedback. */
  feedbackTerms: number;
};

/** Which part of the score a query term adds to (`ScoredCandidate.speaker`, `.feedback`). */
const Part = { Words: 0, Speaker: 1, Feedback: 2 } as const;
type Part = (typeof Part)[keyof typeof Part];
/** A term of the search with its weight (IDF times the query's weight, over IMPACT_SCALE). */
type Weighted = { id: number; weight: number; part: Part };

/** One pass of scoring: the matches and their parts. */
type Scored = {
  matched: number;
  /** Each match's slot (its seq is read from the lists only for the candidates checked). */
  slots: Int32Array;
  scores: Float64Array;
  /** The memory's own BM25 (without context), and its speaker and feedback parts. */
  own: Float64Array;
  lent: Float64Array;
  speaker: Float64Array;
  feedback: Float64Array;
  /** The store behind the arrays (handed back with `release` when the search is done). */
  buffer: ArrayBuffer;
};

/**
 * Backing stores of finished searches' per-match arrays, kept for the next searches (at 100k memories
 * a search's arrays take about a megabyte; allocating them anew each time had the collector run in
 * the middle of searches). At most SPARE_BYTES are kept.
 */
const spare: ArrayBuffer[] = [];
const SPARE_BYTES = 32 * 1024 * 1024;
/** Bytes per match of a pass's arrays: five Float64 and one Int32. */
const MATCH_BYTES = 5 * 8 + 4;

/** A pass's arrays for `n` matches, over a spare backing store when one is large enough. */
function scoredFor(n: number): Scored {
  const bytes = Math.max(n, 1) * MATCH_BYTES;
  let at = -1;
  for (let i = 0; i < spare.length; i++) {
    const b = spare[i];
    if (b && b.byteLength >= bytes && (at < 0 || b.byteLength < (spare[at]?.byteLength ?? 0))) at = i;
  }
  const buffer =
    at >= 0
      ? (spare.splice(at, 1)[0] as ArrayBuffer)
      : new ArrayBuffer(2 ** Math.ceil(Math.log2(Math.max(bytes, 64 * 1024))));
  const f = (k: number) => new Float64Array(buffer, k * n * 8, n);
  return {
    matched: n,
    buffer,
    scores: f(0),
    own: f(1),
    lent: f(2),
    speaker: f(3),
    feedback: f(4),
    slots: new Int32Array(buffer, 5 * n * 8, n),
  };
}

/** Keeps a finished pass's backing store for later searches, within SPARE_BYTES. */
function release(sc: Scored): void {
  if (spare.includes(sc.buffer)) return;
  let kept = 0;
  for (const b of spare) kept += b.byteLength;
  if (kept + sc.buffer.byteLength <= SPARE_BYTES) spare.push(sc.buffer);
}

/** Marks `slot` in a bitmap over slots (bit `slot & 31` of word `slot >>> 5`); answers whether it was not marked before. */
function mark(marks: Int32Array, slot: number): boolean {
  const bit = 1 << (slot & 31);
  const word = marks[slot >>> 5] ?? 0;
  if ((word & bit) !== 0) return false;
  marks[slot >>> 5] = word | bit;
  return true;
}

/** Writes the marked slots into `out` in increasing order and clears the bitmap. */
function takeMarked(marks: Int32Array, out: Int32Array): void {
  let j = 0;
  for (let w = 0; w < marks.length; w++) {
    let bits = marks[w] ?? 0;
    if (bits === 0) continue;
    marks[w] = 0;
    for (; bits !== 0; bits &= bits - 1) out[j++] = (w << 5) + 31 - Math.clz32(bits & -bits);
  }
}

/**
 * Adds every posting of `terms` into the accumulator, gives each match its neighbours' context, and
 * answers the matches; the scratch arrays are zero again on return. Synchronous: no other search of
 * the tenant runs meanwhile.
 */
function scorePass(l: Lists, terms: readonly Weighted[], now: number, stats: SearchStats): Scored {
  const { acc, speakerAcc, feedbackAcc, ctx, expires, near } = l;
  // Matches are marked in a bitmap by slot (an eighth of a byte per memory) and then visited in slot
  // order: the per-slot arrays are read in ascending order, and a memory's neighbours (adjacent
  // slots) are read with it, instead of one scattered read per array per match.
  const { marks } = l;
  let n = 0;
  /** Adds a list of postings (slots with their impacts) times `w`, and into `part` when given. */
  const addPostings = (
    slots: ArrayLike<number>,
    impacts: ArrayLike<number>,
    w: number,
    part: Float64Array | null,
  ) => {
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] ?? 0;
      if (ctx[slot] === GONE) continue;
      if (mark(marks, slot)) n++;
      const x = w * (impacts[i] ?? 0);
      acc[slot] = (acc[slot] ?? 0) + x;
      if (part !== null) part[slot] = (part[slot] ?? 0) + x;
    }
  };
  // Which parts this pass adds to: the others are zero for every match and are not read.
  let speakers = false;
  let feedbacks = false;
  for (const t of terms) {
    const p = l.terms.get(t.id);
    if (!p) continue;
    stats.terms++;
    if (t.part === Part.Speaker) speakers = true;
    if (t.part === Part.Feedback) feedbacks = true;
    const part = t.part === Part.Speaker ? speakerAcc : t.part === Part.Feedback ? feedbackAcc : null;
    addPostings(p.slots, p.impacts, t.weight, part);
    addPostings(p.tailSlots, p.tailImpacts, t.weight, part);
    stats.postingsRead += p.slots.length + p.tailSlots.length;
  }
  const out = scoredFor(n);
  const slots = out.slots;
  takeMarked(marks, slots);
  if (!speakers) out.speaker.fill(0);
  if (!feedbacks) out.feedback.fill(0);
  const { scores, own: outOwn, lent, speaker, feedback } = out;
  /**
   * The BM25 a neighbour lends a memory of context `c` (none across contexts, none when expired).
   * Its score is read first: a neighbour that matched nothing lends nothing, and its score sits in
   * the same stretch of memory as the borrower's (neighbours hold adjacent slots).
   */
  const lends = (other: number, c: number) => {
    if (other === NONE) return 0;
    const a = acc[other] ?? 0;
    return a !== 0 && ctx[other] === c && (expires[other] ?? 0) > now ? a : 0;
  };
  for (let i = 0; i < n; i++) {
    const slot = slots[i] ?? 0;
    const context = contextOf(ctx, expires, near, slot, now, lends);
    const mine = acc[slot] ?? 0;
    outOwn[i] = mine;
    scores[i] = mine + context;
    lent[i] = context;
  }
  if (speakers) for (let i = 0; i < n; i++) speaker[i] = speakerAcc[slots[i] ?? 0] ?? 0;
  if (feedbacks) for (let i = 0; i < n; i++) feedback[i] = feedbackAcc[slots[i] ?? 0] ?? 0;
  for (let i = 0; i < n; i++) acc[slots[i] ?? 0] = 0;
  if (speakers) for (let i = 0; i < n; i++) speakerAcc[slots[i] ?? 0] = 0;
  if (feedbacks) for (let i = 0; i < n; i++) feedbackAcc[slots[i] ?? 0] = 0;
  return out;
}

/**
 * `sc` with the feedback terms added: their postings accumulate apart, the memories they reach gain
 * them (new matches join the end), and only those memories and their neighbours take their context
 * again, so the pass costs the feedback terms' postings, not the first pass's matches again.
 * Synchronous, and the scratch arrays are zero again on return.
 */
function feedbackPass(
  l: Lists,
  sc: Scored,
  terms: readonly Weighted[],
  now: number,
  stats: SearchStats,
): Scored {
  const { feedbackAcc: added, pos, ctx, expires, near } = l;
  for (let i = 0; i < sc.matched; i++) pos[sc.slots[i] ?? 0] = i + 1;
  // The memories the feedback terms reach, and those whose context may change with them (they and
  // their neighbours), are marked by slot and visited in slot order (as in `scorePass`).
  const { marks } = l;
  let touchedCount = 0;
  let fresh = 0;
  const visit = (slots: ArrayLike<number>, impacts: ArrayLike<number>, w: number) => {
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] ?? 0;
      if (ctx[slot] === GONE) continue;
      if (mark(marks, slot)) {
        touchedCount++;
        if (pos[slot] === 0) fresh++;
      }
      added[slot] = (added[slot] ?? 0) + w * (impacts[i] ?? 0);
    }
  };
  for (const t of terms) {
    const p = l.terms.get(t.id);
    if (!p) continue;
    stats.terms++;
    visit(p.slots, p.impacts, t.weight);
    visit(p.tailSlots, p.tailImpacts, t.weight);
    stats.postingsRead += p.slots.length + p.tailSlots.length;
  }
  const touched = new Int32Array(touchedCount);
  takeMarked(marks, touched);
  const n = sc.matched + fresh;
  const out = scoredFor(n);
  for (const k of ["slots", "scores", "own", "lent", "speaker", "feedback"] as const) {
    out[k].set(sc[k]);
    out[k].fill(0, sc.matched);
  }
  let toRescore = 0;
  let next = sc.matched;
  for (const slot of touched) {
    let i = (pos[slot] ?? 0) - 1;
    if (i < 0) {
      i = next++;
      pos[slot] = i + 1;
      out.slots[i] = slot;
    }
    const a = added[slot] ?? 0;
    added[slot] = 0;
    out.own[i] = (out.own[i] ?? 0) + a;
    out.feedback[i] = (out.feedback[i] ?? 0) + a;
    if (mark(marks, slot)) toRescore++;
    for (let k = 0; k < 4; k++) {
      const other = near[slot * 4 + k] ?? NONE;
      if (other !== NONE && (pos[other] ?? 0) > 0 && mark(marks, other)) toRescore++;
    }
  }
  /** A match's own score as a neighbour of context `c` lends it (as in `scorePass`). */
  const lends = (other: number, c: number) =>
    other !== NONE && ctx[other] === c && (expires[other] ?? 0) > now && (pos[other] ?? 0) > 0
      ? (out.own[(pos[other] ?? 0) - 1] ?? 0)
      : 0;
  const rescored = new Int32Array(toRescore);
  takeMarked(marks, rescored);
  for (const slot of rescored) {
    const i = (pos[slot] ?? 0) - 1;
    const context = contextOf(ctx, expires, near, slot, now, lends);
    out.lent[i] = context;
    out.scores[i] = (out.own[i] ?? 0) + context;
  }
  for (let i = 0; i < n; i++) pos[out.slots[i] ?? 0] = 0;
  return out;
}

/** The feedback terms drawn from the best visible memories' stored (term, impact) pairs (see FEEDBACK). */
function feedbackTerms(
  l: Lists,
  top: readonly { score: number; terms: Uint8Array }[],
  query: ReadonlySet<number>,
  docs: number,
): Weighted[] {
  const best = top[0]?.score ?? 0;
  if (best <= 0) return [];
  const cap = Math.max(FEEDBACK.maxShare * docs, FEEDBACK.maxFloor);
  const weights = new Map<number, number>();
  for (const doc of top) {
    const buf = view(doc.terms);
    for (let o = 4; o + 8 <= buf.length; o += 8) {
      const id = buf.readInt32LE(o);
      if (query.has(id)) continue;
      const p = l.terms.get(id);
      const df = p ? p.slots.length + p.tailSlots.length : 0;
      if (df < 2 || df > cap) continue;
      const w = (doc.score / best) * (buf.readInt32LE(o + 4) / IMPACT_SCALE) * idfOf(df, docs);
      weights.set(id, (weights.get(id) ?? 0) + w);
    }
  }
  const chosen = [...weights.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, FEEDBACK.terms);
  const first = chosen[0]?.[1] ?? 0;
  return chosen.map(([id, w]) => {
    const p = l.terms.get(id);
    const df = p ? p.slots.length + p.tailSlots.length : 0;
    return {
      id,
      weight: (FEEDBACK.weight * (w / first) * idfOf(df, docs)) / IMPACT_SCALE,
      part: Part.Feedback,
    };
  });
}

/**
 * The exact top `limit` of the visible memories for the query tokens, by BM25 with the context their
 * neighbours lend (and, with `options`, the speaker match and pseudo-relevance feedback). `where` is the visibility and filter clause on alias `m` (the memories
 * row).
 *
 * Every posting of every query term is added into an accumulator indexed by slot (typed arrays: a
 * posting costs a few array reads, so even a term held by most memories costs well under a
 * millisecond at 100k); each match then gets its neighbours' context from the same array, visited in
 * slot order. The matches are checked against their rows best first (a heap over the best few, the
 * rest heaped only if those run out), a chunk at a time, until `limit` are visible and no unchecked
 * match can beat the last of them. The per-match arrays live in backing stores reused by later
 * searches. Statements: one for the log since the lists'
 * generation with the query's terms and the totals, then the checks (one, for a pool that fills; with
 * feedback, one more first for the best few, whose rows are not read again).
 */
export async function impactSearch(
  db: SqlExecutor,
  tokens: readonly string[],
  where: { sql: string; params: SqlValue[] },
  limit: number,
  now: number,
  options: SearchOptions = {},
): Promise<{ candidates: ScoredCandidate[]; stats: SearchStats }> {
  const stats: SearchStats = { terms: 0, postingsRead: 0, matched: 0, rowsChecked: 0, feedbackTerms: 0 };
  const unique = [...new Set(tokens)];
  const speakers = [...new Set(options.speakers ?? [])];
  // A limit that is not a positive finite number (NaN from a caller's arithmetic) asks for nothing:
  // the check below loops until it has `limit` rows or runs out, and NaN is never reached.
  if (unique.length === 0 || !Number.isFinite(limit) || limit <= 0) return { candidates: [], stats };
  // One statement reads both the log since the lists' generation and the query's terms with the
  // totals (the same snapshot): log lines first, in generation order.
  const held = await residentLists(db);
  const read = await db.all<{ kind: string; a: number; b: number; c: number | null }>(
    `SELECT 'log' AS kind, gen AS a, seq AS b, added AS c FROM recall_log WHERE gen > ?
     UNION ALL
     SELECT 'term', id, df, (SELECT docs FROM recall_stats WHERE id = 1)
     FROM recall_terms WHERE term IN (SELECT value FROM json_each(?))
     UNION ALL
     SELECT 'speaker', id, df, (SELECT docs FROM recall_stats WHERE id = 1)
     FROM recall_terms WHERE term IN (SELECT value FROM json_each(?))
     ORDER BY 1, 2`,
    [held.gen, JSON.stringify(unique), JSON.stringify(speakers)],
  );
  const changes: Change[] = [];
  const found: { id: number; df: number; docs: number; part: Part }[] = [];
  for (const r of read) {
    if (r.kind === "log") changes.push({ gen: Number(r.a), seq: Number(r.b), added: Number(r.c) });
    else
      found.push({
        id: Number(r.a),
        df: Number(r.b),
        docs: Number(r.c ?? 0),
        part: r.kind === "speaker" ? Part.Speaker : Part.Words,
      });
  }
  const l = await applyChanges(db, held, changes);
  const docs = found[0]?.docs ?? 0;
  if (docs === 0 || !found.some((f) => f.part === Part.Words)) return { candidates: [], stats };
  const terms: Weighted[] = found.map((f) => ({
    id: f.id,
    weight: ((f.part === Part.Speaker ? SPEAKER_WEIGHT : 1) * idfOf(f.df, docs)) / IMPACT_SCALE,
    part: f.part,
  }));
  const passes = [scorePass(l, terms, now, stats)];
  let scored = passes[0] as Scored;
  stats.matched = scored.matched;

  /** Rows already checked: visible ones (their ranking columns, or the whole row) and hidden ones (null). */
  const known = new Map<number, Record<string, unknown> | null>();
  const whole = db.dialect === "postgres";
  const columns = whole ? "m.*" : "m.seq, m.id, m.namespace, m.updated_at, m.importance, m.recall_terms";
  /**
   * The best `want` visible candidates of `sc`, checked best first, `chunk` or more at a time (rows
   * already known are not read again).
   */
  const topVisible = async (sc: Scored, want: number, chunk: number): Promise<ScoredCandidate[]> => {
    const visible: ScoredCandidate[] = [];
    const kth = () => (visible.length >= want ? (visible[want - 1]?.bm25 ?? 0) : -1);
    /** Keeps `visible` sorted best first and at most `want` long. */
    const accept = (i: number, r: Record<string, unknown>) => {
      const c: ScoredCandidate = {
        seq: Number(r.seq),
        id: String(r.id),
        namespace: String(r.namespace),
        updated_at: Number(r.updated_at),
        importance: Number(r.importance),
        bm25: sc.scores[i] ?? 0,
        context: sc.lent[i] ?? 0,
        speaker: sc.speaker[i] ?? 0,
        feedback: sc.feedback[i] ?? 0,
        ...(whole ? { row: r } : {}),
      };
      let at = visible.length;
      while (at > 0) {
        const prev = visible[at - 1];
        if (!prev || prev.bm25 > c.bm25 || (prev.bm25 === c.bm25 && prev.seq > c.seq)) break;
        at--;
      }
      if (at < want) visible.splice(at, 0, c);
      if (visible.length > want) visible.length = want;
    };
    // A slot's seq never changes (slots are not reused; the lists only grow while this search
    // awaits its checks), so it is read here, for the few matches that are checked, not for all.
    const seqAt = (i: number) => l.seqs[sc.slots[i] ?? 0] ?? 0;
    // Most pools fill from their first statement: a heap over the best few, the rest only if needed.
    const best = new BestFirst(sc.scores, seqAt, 2 * want + chunk);
    while (best.size > 0) {
      const batch: number[] = [];
      // As many as the pool still lacks in one statement (usually the only one), else a chunk.
      const size = Math.max(chunk, want - visible.length);
      while (batch.length < size && best.size > 0) {
        if (visible.length >= want && best.topScore() <= kth()) break;
        const i = best.pop();
        const seq = seqAt(i);
        const row = known.get(seq);
        if (row === undefined) batch.push(i);
        else if (row) accept(i, row);
      }
      if (batch.length > 0) {
        stats.rowsChecked += batch.length;
        const bySeq = new Map(batch.map((i) => [seqAt(i), i]));
        const q = bySeqList(db, columns, [...bySeq.keys()]);
        const rows = await db.all<Record<string, unknown>>(`${q.sql} AND ${where.sql}`, [
          ...q.params,
          ...where.params,
        ]);
        for (const seq of bySeq.keys()) known.set(seq, null);
        for (const r of rows) {
          const seq = Number(r.seq);
          known.set(seq, r);
          accept(bySeq.get(seq) ?? 0, r);
        }
      } else if (visible.length >= want && (best.size === 0 || best.topScore() <= kth())) {
        break;
      }
    }
    return visible;
  };

  if (options.feedback) {
    // A few rows at a time: the pool's check below reads the rest, and these are not read again.
    const top = await topVisible(scored, FEEDBACK.docs, 2 * FEEDBACK.docs);
    const query = new Set(found.map((f) => f.id));
    const expansion = feedbackTerms(
      l,
      top.flatMap((c) => {
        const blob = known.get(c.seq)?.recall_terms;
        return blob instanceof Uint8Array ? [{ score: c.bm25, terms: blob }] : [];
      }),
      query,
      docs,
    );
    stats.feedbackTerms = expansion.length;
    if (expansion.length > 0) {
      scored = feedbackPass(l, scored, expansion, now, stats);
      passes.push(scored);
    }
  }
  try {
    return { candidates: await topVisible(scored, limit, CHECK_CHUNK), stats };
  } finally {
    for (const sc of passes) release(sc);
  }
}
