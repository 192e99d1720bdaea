import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEDUPE_PREFIX_SLACK,
  DEDUPE_QUERY_WORDS,
  DEDUPE_THRESHOLD,
  dedupeQueryWords,
  fingerprint,
  rarestWords,
  similarity,
} from "./dedupe.ts";

const sim = (a: string, b: string) => similarity(fingerprint(a), fingerprint(b));

test("a restatement is a near-duplicate: case, punctuation, stopwords and British/American spellings aside", () => {
  assert.equal(sim("Alice's favourite colour is blue", "alice's favorite color is blue."), 1);
  assert.equal(sim("The team organised the offsite", "the team organized the offsite!"), 1);
  assert.equal(sim("We travelled to Rome for the programme", "We traveled to Rome for the program"), 1);
  assert.equal(sim("Deployments happen on Fridays", "deployment happens on friday"), 1);
});

test("a fact that changes its telling word is not (below the default threshold)", () => {
  assert.ok(sim("Alice likes blue", "Bob likes blue") < DEDUPE_THRESHOLD);
  assert.ok(sim("Alice's favourite colour is blue", "Alice's favourite colour is green") < DEDUPE_THRESHOLD);
  assert.ok(sim("Maria prefers tea", "Mario prefers tea") < DEDUPE_THRESHOLD);
  assert.ok(sim("Deploy billing on Friday at 3pm", "Deploy billing on Friday at 4pm") < DEDUPE_THRESHOLD);
  // A differing number is a different fact, however alike the rest.
  assert.equal(
    sim(
      "the weekly status report for project 5 mentions the team meeting notes",
      "the weekly status report for project 6 mentions the team meeting notes",
    ),
    0,
  );
  assert.equal(sim("Invoice 1234 for Acme is due on March 3", "invoice 1234 for acme is due on march 3."), 1);
  // Short words keep their letters: four is not for, hour is not hor.
  assert.ok(sim("four cats", "for cats") < DEDUPE_THRESHOLD);
});

test("similarity is Jaccard over the content terms: one term in five added is 0.8", () => {
  assert.equal(sim("Alice's favourite colour is blue", "Alice's favourite colour is blue, she said"), 0.8);
  assert.equal(sim("a b c", "x y z"), 0);
});

test("texts of stopwords alone are near-duplicates only when their words are the same", () => {
  assert.equal(sim("It is what it is", "it is what it is!"), 1);
  assert.equal(sim("It is what it is", "it was what it was"), 0);
  assert.equal(sim("", ""), 0);
});

test("the candidate search uses the longest content words, at most DEDUPE_QUERY_WORDS", () => {
  assert.deepEqual(dedupeQueryWords("Alice's favourite colour is blue"), [
    "favourite",
    "colour",
    "alice",
    "blue",
  ]);
  const long = Array.from({ length: 100 }, (_, i) => `word${i}`).join(" ");
  assert.equal(dedupeQueryWords(long).length, DEDUPE_QUERY_WORDS);
});

test("candidates are searched by the rarest words: enough that a near-duplicate holds one (prefix filter), none no memory holds", () => {
  const words = ["common", "rare", "absent", "medium", "rarer", "usual"];
  const df = [900, 3, 0, 40, 1, 500];
  // 6 terms at 0.8: a near-duplicate lacks at most 1, so 2 words (plus the slack) suffice.
  assert.equal(2 + DEDUPE_PREFIX_SLACK, 4);
  assert.deepEqual(rarestWords(words, df, 6, 0.8), ["rarer", "rare", "medium", "usual"]);
  // At threshold 1 a near-duplicate holds every term: one word and the slack.
  assert.deepEqual(rarestWords(words, df, 6, 1), ["rarer", "rare", "medium"]);
  assert.deepEqual(rarestWords(["absent"], [0], 1, 0.8), []);
});
