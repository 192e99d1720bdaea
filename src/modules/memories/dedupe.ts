/**
 * Near-duplicate memories, without a model: two memories are near-duplicates when the sets of their
 * content terms are alike (Jaccard similarity at or above a threshold). The terms are the recall
 * index's (words folded and stemmed), without stopwords, with the common British and American
 * spellings read as one, and the two must hold the same numbers. Store-time dedupe (the tenant's `dedupe` policy) and recall's folding both
 * use it. It runs on opened text in memory, so it works the same for encrypted tenants; nothing it
 * computes is stored.
 */
import { STOPWORDS } from "./recall.ts";
import { foldText, recallTerm } from "./tokens.ts";

/**
 * The default threshold. A restatement ("Alice's favourite colour is blue." / "alice's favorite color
 * is blue") scores 1; one content word in five changed or added still passes (4 of 5 terms shared
 * is 0.8), while a short fact that changes its telling word ("Alice likes blue" / "Bob likes blue":
 * 2 of 4 terms) does not, nor does "… is blue" / "… is green" (3 of 5 terms, 0.6).
 */
export const DEDUPE_THRESHOLD = 0.8;
/** The lowest threshold a policy may set (below it a fact and its negation-by-substitution merge). */
export const DEDUPE_THRESHOLD_MIN = 0.7;
/** Memories found by BM25 for a new memory's rarest words that are checked for being its near-duplicate. */
export const DEDUPE_CANDIDATES = 5;
/** At most this many of a new memory's words (the longest) are weighed for rarity. */
export const DEDUPE_QUERY_WORDS = 64;
/** Rare words searched beyond the prefix-filter bound (spelling variants and stems can hide a shared term). */
export const DEDUPE_PREFIX_SLACK = 2;

/** What two memories are compared on. */
export type Fingerprint = {
  /** Distinct content terms (folded, stemmed, spelling variants read as one). */
  terms: ReadonlySet<string>;
  /** The folded words, all of them, for texts made of stopwords alone (compared exactly). */
  folded: string;
  /** The terms holding a digit, sorted: near-duplicates hold the same ones. */
  numbers: string;
};

const WORD_RE = /[\p{L}\p{N}]+/gu;

/** The distinct folded words of `text` that carry content: no stopwords, no single letters (digits stay). */
export function contentWords(text: string): string[] {
  return contentOf(foldText(text).match(WORD_RE) ?? []);
}

/** The distinct words of folded `words` that carry content. */
function contentOf(words: readonly string[]): string[] {
  const out = new Set<string>();
  for (const w of words) {
    if ((w.length < 2 && !/\p{N}/u.test(w)) || STOPWORDS.has(w)) continue;
    out.add(w);
  }
  return [...out];
}

/**
 * One spelling for common British and American variants, before stemming: `-our` as `-or` in words
 * of six letters or more (colour, favourite, behaviour; not four, hour or tour) and `-ise`/`-yse` as
 * `-ize`/`-yze` (organise, analyse).
 */
function respell(word: string): string {
  if (!/^[a-z]+$/.test(word)) return word;
  const w = word.length >= 6 ? word.replaceAll("our", "or") : word;
  return w.replace(/([iy])s(e|es|ed|ing|ation|ations|er|ers)$/, "$1z$2");
}

/** After stemming, a doubled letter as one (travelled / traveled, programme / program). */
const undouble = (term: string) => (/^[a-z]+$/.test(term) ? term.replace(/([a-z])\1+/g, "$1") : term);

/** The fingerprint of a memory's content. */
export function fingerprint(text: string): Fingerprint {
  // Folded once: a folded word respelled is still one folded word, so it is stemmed as it is.
  const words = foldText(text).match(WORD_RE) ?? [];
  const terms = new Set<string>();
  for (const w of contentOf(words)) terms.add(undouble(recallTerm(respell(w))));
  const numbers = [...terms].filter((t) => /\p{N}/u.test(t)).sort();
  return { terms, folded: words.join(" "), numbers: numbers.join(" ") };
}

/**
 * Jaccard similarity of two fingerprints' terms (shared terms over all terms), 0…1, rounded to four
 * places. Texts that hold different numbers are 0: a differing number is a different fact (another
 * invoice, date, amount or version) however alike the words around it. Texts without a content term
 * are alike only when their words are the same (1), else 0.
 */
export function similarity(a: Fingerprint, b: Fingerprint): number {
  if (a.numbers !== b.numbers) return 0;
  if (a.terms.size === 0 || b.terms.size === 0) {
    return a.terms.size === 0 && b.terms.size === 0 && a.folded === b.folded && a.folded !== "" ? 1 : 0;
  }
  const [small, large] = a.terms.size <= b.terms.size ? [a.terms, b.terms] : [b.terms, a.terms];
  let shared = 0;
  for (const t of small) if (large.has(t)) shared++;
  return Math.round((shared / (a.terms.size + b.terms.size - shared)) * 1e4) / 1e4;
}

/**
 * The words a new memory's near-duplicate candidates may hold: its content words, longest first,
 * at most DEDUPE_QUERY_WORDS (a long text is weighed on its longest words, which tend to be rare).
 */
export function dedupeQueryWords(text: string): string[] {
  return contentWords(text)
    .sort((x, y) => y.length - x.length || (x < y ? -1 : 1))
    .slice(0, DEDUPE_QUERY_WORDS);
}

/**
 * The words that search a new memory's near-duplicate candidates: the rarest ones (prefix filtering,
 * as in set-similarity joins). A memory whose Jaccard similarity to a text of n terms is at least t
 * lacks at most ⌊(1 − t)·n⌋ of its terms, so it holds one of any ⌊(1 − t)·n⌋ + 1 of them: the
 * rarest such words (plus DEDUPE_PREFIX_SLACK) find it by BM25 without reading the postings of the
 * common words. Words no memory holds (`frequencies` 0) are passed over: they can find nothing.
 */
export function rarestWords(
  words: readonly string[],
  frequencies: readonly number[],
  terms: number,
  threshold: number,
): string[] {
  const size = Math.floor((1 - threshold) * terms + 1e-9) + 1 + DEDUPE_PREFIX_SLACK;
  return words
    .map((word, i) => ({ word, df: frequencies[i] ?? 0 }))
    .filter((w) => w.df > 0)
    .sort((a, b) => a.df - b.df || b.word.length - a.word.length)
    .slice(0, size)
    .map((w) => w.word);
}
