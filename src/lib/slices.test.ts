import assert from "node:assert/strict";
import { test } from "node:test";
import { timeSlices } from "./slices.ts";

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

test("a long loop lets other callbacks run between its slices; a short one never waits for the event loop", async () => {
  let ran = 0;
  const ticker = setInterval(() => ran++, 0);
  try {
    const slice = timeSlices(4);
    for (let i = 0; i < 30; i++) {
      await slice();
      busy(1);
    }
    assert.ok(ran >= 3, `a timer ran ${ran} times during 30 ms of work in 4 ms slices`);
  } finally {
    clearInterval(ticker);
  }
  let immediate = false;
  setImmediate(() => {
    immediate = true;
  });
  const slice = timeSlices(1_000);
  for (let i = 0; i < 100; i++) await slice();
  assert.equal(immediate, false, "work shorter than a slice kept the thread");
});
