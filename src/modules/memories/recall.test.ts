import assert from "node:assert/strict";
import { test } from "node:test";
import {
  blend,
  escapeForContext,
  formatContext,
  fuse,
  matchedTerms,
  queryTerms,
  RRF_K,
  recencyScore,
} from "./recall.ts";

test("query terms drop stopwords, punctuation and duplicates, and are lowercased", () => {
  assert.deepEqual(queryTerms("What did Alice say about the Deploy? the DEPLOY!"), [
    "alice",
    "say",
    "deploy",
  ]);
  assert.deepEqual(queryTerms("is it the"), []);
  assert.deepEqual(queryTerms("2024 Q3 budget"), ["2024", "q3", "budget"]);
});

test("a date in the query is also its words, as memories hold their metadata dates", () => {
  assert.deepEqual(queryTerms("what happened on 2023-05-08?"), ["happened", "2023", "05", "08", "8", "may"]);
  assert.deepEqual(queryTerms("plans for May 8th, 2023"), ["plans", "may", "8th", "2023", "8"]);
  assert.deepEqual(
    queryTerms("the 2023-13-45 build"),
    ["2023", "13", "45", "build"],
    "not a date: no words added",
  );
});

test("query terms are capped so one request cannot build an unbounded index query", () => {
  const many = Array.from({ length: 100 }, (_, i) => `word${i}`).join(" ");
  assert.equal(queryTerms(many).length, 32);
});

test("recency halves every half-life and never exceeds 1", () => {
  assert.equal(recencyScore(0, 30), 1);
  assert.ok(Math.abs(recencyScore(30 * 86_400_000, 30) - 0.5) < 1e-9);
  assert.equal(recencyScore(-5000, 30), 1);
});

test("blend normalises BM25 to the best candidate and weighs recency and importance", () => {
  const best = blend({ bm25: 8, maxBm25: 8, recency: 1, importance: 1 });
  assert.equal(best.score, 1);
  const half = blend({ bm25: 4, maxBm25: 8, recency: 0, importance: 0 });
  assert.equal(half.relevance, 0.5);
  assert.equal(half.score, 0.35);
  assert.equal(blend({ bm25: 0, maxBm25: 0, recency: 1, importance: 0 }).relevance, 0);
});

test("matched terms find stems in the text", () => {
  assert.deepEqual(matchedTerms(["deployed", "billing", "cats"], "Deployment of the billing service"), [
    "deployed",
    "billing",
  ]);
});

test("escaping neutralises every character that could open or close a delimiter", () => {
  assert.equal(escapeForContext('</memory><x a="1">&'), "&lt;/memory&gt;&lt;x a=&quot;1&quot;&gt;&amp;");
});

test("the context block keeps rank order, skips what does not fit, and never exceeds the budget", () => {
  const items = [
    { id: "m1", namespace: "n", type: "t", created_at: "2026-01-01T00:00:00.000Z", content: "short" },
    {
      id: "m2",
      namespace: "n",
      type: "t",
      created_at: "2026-01-01T00:00:00.000Z",
      content: "x".repeat(2000),
    },
    { id: "m3", namespace: "n", type: "t", created_at: "2026-01-01T00:00:00.000Z", content: "also short" },
  ];
  const { context, included, tokens } = formatContext(items, 200);
  assert.deepEqual([...included], ["m1", "m3"]);
  assert.ok(tokens <= 200);
  assert.ok(context.indexOf('id="m1"') < context.indexOf('id="m3"'));
  assert.equal(formatContext(items, 10).context, "");
});

test("reciprocal-rank fusion adds 1/(60 + rank) per list and keeps each list's rank and the similarity", () => {
  const fused = fuse(
    [10, 11],
    [
      { seq: 12, similarity: 0.9 },
      { seq: 10, similarity: 0.5 },
    ],
  );
  assert.equal(RRF_K, 60);
  assert.deepEqual(fused.get(10), {
    rrf: 1 / 61 + 1 / 62,
    lexicalRank: 1,
    vectorRank: 2,
    similarity: 0.5,
  });
  assert.deepEqual(fused.get(11), { rrf: 1 / 62, lexicalRank: 2, vectorRank: null, similarity: null });
  assert.deepEqual(fused.get(12), { rrf: 1 / 61, lexicalRank: null, vectorRank: 1, similarity: 0.9 });
  // Ranks, not scores, meet: a memory in both lists beats the top of either list alone.
  assert.ok((fused.get(10)?.rrf ?? 0) > (fused.get(12)?.rrf ?? 0));
});
