import assert from "node:assert/strict";
import { test } from "node:test";
import { manualClock } from "../../lib/clock.ts";
import { createRateLimiter } from "./rate-limit.ts";

test("a key gets exactly its limit in a window, then is refused with the seconds to wait", () => {
  const clock = manualClock(0);
  const rl = createRateLimiter(clock);
  for (let i = 0; i < 10; i++) assert.equal(rl.hit("k", 10).allowed, true);
  const refused = rl.hit("k", 10);
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 0);
  assert.equal(refused.resetSeconds, 60);
});

test("the previous window counts in proportion to its overlap with the sliding minute", () => {
  const clock = manualClock(0);
  const rl = createRateLimiter(clock);
  for (let i = 0; i < 10; i++) rl.hit("k", 10);
  clock.set(60_000 + 45_000); // 25% of the previous window still overlaps: 2.5 used
  const allowed = Array.from({ length: 10 }, () => rl.hit("k", 10).allowed).filter(Boolean).length;
  assert.equal(allowed, 7);
});

test("refused requests do not count, and idle keys are forgotten", () => {
  const clock = manualClock(0);
  const rl = createRateLimiter(clock);
  for (let i = 0; i < 20; i++) rl.hit("k", 5);
  clock.set(120_000);
  assert.equal(rl.hit("k", 5).remaining, 4);
});
