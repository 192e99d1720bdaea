import assert from "node:assert/strict";
import { test } from "node:test";
import { createRowPacer, loopBusy } from "./pacer.ts";

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

test("a busy serving thread shrinks the budget to a quarter; a quiet one gets it whole", async () => {
  const quiet = fakeTime();
  const idle = createRowPacer(2_000, quiet.now, quiet.sleep, () => 0.3);
  for (let i = 0; i < 20; i++) await idle.take(500);
  assert.equal(quiet.elapsed(), 4_000);

  const loaded = fakeTime();
  const busy = createRowPacer(2_000, loaded.now, loaded.sleep, () => 0.95);
  for (let i = 0; i < 20; i++) await busy.take(500);
  // 10,000 rows at 500 rows/s once the first second's worth (2,000) is spent.
  assert.equal(loaded.elapsed(), 16_000);

  const half = fakeTime();
  const between = createRowPacer(2_000, half.now, half.sleep, () => 0.7);
  for (let i = 0; i < 20; i++) await between.take(500);
  // Halfway between: 62.5% of the budget, 1,250 rows/s.
  assert.ok(Math.abs(half.elapsed() - (8_000 / 1_250) * 1000) < 1);
});

test("the serving thread's utilisation is read from the event loop", async () => {
  // The loop reports its utilisation once it has run a turn of its own.
  await new Promise((r) => setTimeout(r, 20));
  const busy = loopBusy();
  busy();
  const end = performance.now() + 150;
  while (performance.now() < end);
  await new Promise((r) => setTimeout(r, 1));
  assert.ok(busy() > 0.5, "a thread spinning for 150 ms reads as busy");
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(busy() < 0.5, "a thread waiting for 300 ms reads as quiet");
});
