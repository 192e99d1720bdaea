import assert from "node:assert/strict";
import { test } from "node:test";
import { createRowPacer } from "./pacer.ts";

/** A clock that only moves when the pacer sleeps. */
function fakeTime() {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
    elapsed: () => t,
  };
}

test("exports together read at most the budget: 10,000 rows at 2,000 rows/s take 4 s after the first second's worth", async () => {
  const time = fakeTime();
  const pacer = createRowPacer(2_000, time.now, time.sleep);
  for (let i = 0; i < 20; i++) await pacer.take(500);
  assert.equal(time.elapsed(), 4_000);
});

test("two exports share one budget", async () => {
  const time = fakeTime();
  const pacer = createRowPacer(1_000, time.now, time.sleep);
  // Exports A and B take their pages in turn: 4,000 rows, a full bucket of 1,000 at the start.
  for (let i = 0; i < 8; i++) await pacer.take(500);
  assert.equal(time.elapsed(), 3_000);
});

test("within the budget nothing waits", async () => {
  const time = fakeTime();
  const pacer = createRowPacer(5_000, time.now, time.sleep);
  await pacer.take(500);
  await pacer.take(500);
  assert.deepEqual(time.slept, []);
});
