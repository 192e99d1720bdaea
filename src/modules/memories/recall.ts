/**
 * Pure ranking helpers for recall: query terms, reciprocal-rank fusion, the score blend and the
 * context block. The searches themselves (BM25 over the recall index, cosine over the vector cache)
 * run in the store and vector-index.ts; their candidate lists meet in `fuse` before `blend`.
 */

import { dateWords } from "./tokens.ts";

// A compact English stopword list (function words that carry no retrieval signal).
export const STOPWORDS: ReadonlySet<string> = new Set(
  `a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself him
himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
our ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves ever did does tell know remember`.split(/\s+/),
);

const TERM_RE = /[\p{L}\p{N}]+/gu;
export const MAX_QUERY_TERMS = 32;

/**
 * Lowercased, de-duplicated query terms without stopwords, then the words of any date the query
 * writes in another form (`2023-05-08` adds `8`, `may`, `2023`: memories hold their metadata dates
 * as those words), at most `MAX_QUERY_TERMS` in all.
 */
export function queryTerms(query: string): string[] {
  const out: string[] = [];
  for (const m of query.normalize("NFKC").toLowerCase().matchAll(TERM_RE)) {
    const term = m[0];
    if (term.length < 2 && !/\p{N}/u.test(term)) continue;
    if (STOPWORDS.has(term) || out.includes(term)) continue;
    out.push(term);
    if (out.length >= MAX_QUERY_TERMS) return out;
  }
  for (const word of dateWords(query)) {
    if (out.length >= MAX_QUERY_TERMS) break;
    if (!out.includes(word)) out.push(word);
  }
  return out;
}

export type BlendWeights = { relevance: number; recency: number; importance: number };
export const DEFAULT_WEIGHTS: BlendWeights = { relevance: 0.7, recency: 0.2, importance: 0.1 };

/** 1 for a memory written now, 0.5 after one half-life, tending to 0. */
export function recencyScore(ageMs: number, halfLifeDays: number): number {
  const days = Math.max(0, ageMs) / 86_400_000;
  return 0.5 ** (days / halfLifeDays);
}

/** The blended score: BM25 normalised to the best candidate, recency and stored importance. */
export function blend(
  parts: { bm25: number; maxBm25: number; recency: number; importance: number },
  w: BlendWeights = DEFAULT_WEIGHTS,
): { score: number; relevance: number } {
  const relevance = parts.maxBm25 > 0 ? parts.bm25 / parts.maxBm25 : 0;
  const score = w.relevance * relevance + w.recency * parts.recency + w.importance * parts.importance;
  return { score: Math.round(score * 1e6) / 1e6, relevance: Math.round(relevance * 1e6) / 1e6 };
}

/** Reciprocal-rank fusion's constant (Cormack et al. 2009): a list's rank r adds 1 / (k + r). */
export const RRF_K = 60;

export type Fused = {
  /** Σ 1 / (k + rank) over the lists the memory is in. */
  rrf: number;
  /** 1-based rank in each list, null when absent from it. */
  lexicalRank: number | null;
  vectorRank: number | null;
  similarity: number | null;
};

/**
 * Fuses the lexical list (seqs, best BM25 first) and the vector list (best similarity first) by
 * reciprocal rank: scores of different scales never meet, only ranks do.
 */
export function fuse(
  lexical: readonly number[],
  vector: readonly { seq: number; similarity: number }[],
  k = RRF_K,
): Map<number, Fused> {
  const out = new Map<number, Fused>();
  lexical.forEach((seq, i) => {
    out.set(seq, { rrf: 1 / (k + i + 1), lexicalRank: i + 1, vectorRank: null, similarity: null });
  });
  vector.forEach(({ seq, similarity }, i) => {
    const f = out.get(seq) ?? { rrf: 0, lexicalRank: null, vectorRank: null, similarity: null };
    f.rrf += 1 / (k + i + 1);
    f.vectorRank = i + 1;
    f.similarity = similarity;
    out.set(seq, f);
  });
  return out;
}

/** Terms of the query found in the text (by prefix, so stems such as "deploy" match "deployed"). */
export function matchedTerms(terms: readonly string[], text: string): string[] {
  const words = new Set(text.toLowerCase().match(TERM_RE) ?? []);
  return terms.filter((t) => {
    const stem = t.length > 4 ? t.slice(0, Math.max(4, t.length - 2)) : t;
    for (const w of words) if (w.startsWith(stem)) return true;
    return false;
  });
}

/** A rough token count (four characters a token), the usual estimate for English text. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Escapes text so it can never open, close or forge a delimiter tag or attribute. */
export function escapeForContext(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

export type ContextItem = {
  id: string;
  namespace: string;
  type: string;
  created_at: string;
  content: string;
  /** Marked in the block so a model (and a reader) knows it was held back as a suspected injection. */
  quarantined?: boolean;
};

/**
 * The context block for a model prompt: memories in rank order inside `<memories>`, each in its own
 * `<memory>` element, until the token budget is spent. Stored text is escaped, so it cannot close
 * an element or start a new one. Returns the block and which items fit.
 */
export function formatContext(
  items: readonly ContextItem[],
  tokenBudget: number,
): { context: string; included: Set<string>; tokens: number } {
  const open = "<memories>\n";
  const close = "</memories>";
  let used = estimateTokens(open + close);
  const blocks: string[] = [];
  const included = new Set<string>();
  for (const item of items) {
    const block = `<memory id="${escapeForContext(item.id)}" namespace="${escapeForContext(item.namespace)}" type="${escapeForContext(item.type)}" created="${escapeForContext(item.created_at)}"${item.quarantined ? ' quarantined="true"' : ""}>\n${escapeForContext(item.content)}\n</memory>\n`;
    const cost = estimateTokens(block);
    if (used + cost > tokenBudget) continue;
    used += cost;
    blocks.push(block);
    included.add(item.id);
  }
  if (blocks.length === 0) return { context: "", included, tokens: 0 };
  return { context: open + blocks.join("") + close, included, tokens: used };
}
