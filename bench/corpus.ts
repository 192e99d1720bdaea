/**
 * A deterministic synthetic corpus with natural-language term statistics: a Zipf-distributed
 * vocabulary of pseudo-words mixed with English function words, so BM25 sees realistic
 * document frequencies (a few very common terms, a long tail of rare ones).
 */
/** Ranks of the vocabulary that play the part of function words (never queried). */
export const FUNCTION_WORD_RANKS = 100;

export function createCorpus(seed = 42, vocabularySize = 30_000) {
  let state = seed >>> 0;
  const rand = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const syllables = [
    "ka",
    "lo",
    "mi",
    "ren",
    "tu",
    "sha",
    "vel",
    "dor",
    "pin",
    "qua",
    "zi",
    "bro",
    "nel",
    "ast",
    "gor",
    "fi",
  ];
  const vocab: string[] = [];
  const seen = new Set<string>();
  while (vocab.length < vocabularySize) {
    const n = 2 + Math.floor(rand() * 3);
    let w = "";
    for (let i = 0; i < n; i++) w += syllables[Math.floor(rand() * syllables.length)];
    if (!seen.has(w)) {
      seen.add(w);
      vocab.push(w);
    }
  }
  // Zipf(s=1.05) sampling by inverse CDF over precomputed cumulative weights.
  const cdf = new Float64Array(vocabularySize);
  let total = 0;
  for (let i = 0; i < vocabularySize; i++) {
    total += 1 / (i + 1) ** 1.05;
    cdf[i] = total;
  }
  const zipf = (minRank = 0) => {
    const x = (cdf[minRank - 1] ?? 0) + rand() * (total - (cdf[minRank - 1] ?? 0));
    let lo = 0;
    let hi = vocabularySize - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] ?? 0) < x) lo = mid + 1;
      else hi = mid;
    }
    return vocab[lo] ?? "";
  };
  const fillers = ["the", "a", "of", "and", "to", "in", "is", "was", "for", "on", "with", "that"];
  return {
    rand,
    sentence(minWords = 8, maxWords = 30): string {
      const n = minWords + Math.floor(rand() * (maxWords - minWords + 1));
      const words: string[] = [];
      for (let i = 0; i < n; i++)
        words.push(rand() < 0.35 ? (fillers[Math.floor(rand() * fillers.length)] ?? "the") : zipf());
      return `${words.join(" ")}.`;
    },
    /**
     * A question-like query of 2–5 content words from the same distribution, minus its head: in a
     * natural vocabulary the most frequent words are function words, which recall drops as stopwords.
     */
    query(): string {
      const n = 2 + Math.floor(rand() * 4);
      const words = ["what", "did"];
      for (let i = 0; i < n; i++) words.push(zipf(FUNCTION_WORD_RANKS));
      return words.join(" ");
    },
  };
}
