import assert from "node:assert/strict";
import { test } from "node:test";
import { BestFirst } from "./best-first.ts";

test("best first pops every match in the order of a full sort (ties to the higher seq), whatever it was told to expect", () => {
  let s = 17;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (const n of [0, 1, 7, 100, 5_000]) {
    // Few distinct scores, so many ties sit on the first heap's floor.
    const scores = Float64Array.from({ length: n }, () => Math.floor(next() * 40) / 8);
    const seqs = Array.from({ length: n }, (_, i) => (i * 7919) % (n + 13));
    const sorted = [...scores.keys()].sort(
      (a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || (seqs[b] ?? 0) - (seqs[a] ?? 0),
    );
    for (const expect of [1, 3, 20, n / 5, n, Number.POSITIVE_INFINITY]) {
      const best = new BestFirst(scores, (i) => seqs[i] ?? 0, expect);
      const got: number[] = [];
      while (best.size > 0) {
        const top = best.topScore();
        const i = best.pop();
        assert.equal(scores[i], top, "topScore is the score of the next pop");
        got.push(i);
      }
      assert.deepEqual(got, sorted, `n = ${n}, expect = ${expect}`);
    }
  }
});
