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
  assert.ok(refused.resetSeconds >= 60 && refused.resetSeconds <= 66, String(refused.resetSeconds));
});

test("the previous window counts in proportion to its overlap with the sliding minute", () => {
  const clock = manualClock(0);
  const rl = createRateLimiter(clock);
  for (let i = 0; i < 10; i++) rl.hit("k", 10);
  clock.set(60_000 + 45_000); // 25% of the previous window still overlaps: 2.5 used
  const allowed = Array.from({ length: 10 }, () => rl.hit("k", 10).allowed).filter(Boolean).length;
  assert.equal(allowed, 7);
});

test("Retry-After is exact: after waiting what it says, the next request is allowed", () => {
  for (const [limit, hits, at] of [
    [2, 3, 0],
    [10, 12, 30_000],
    [5, 5, 59_000],
    [600, 700, 1_000],
  ] as const) {
    const clock = manualClock(0);
    const rl = createRateLimiter(clock);
    clock.set(at);
    let refused = null as ReturnType<typeof rl.hit> | null;
    for (let i = 0; i < hits; i++) {
      const d = rl.hit("k", limit);
      if (!d.allowed) refused = d;
    }
    if (!refused) continue;
    clock.advance(refused.resetSeconds * 1000);
    assert.equal(rl.hit("k", limit).allowed, true, `limit ${limit}, ${hits} hits at ${at}`);
  }
});

test("refused requests do not count, and idle keys are forgotten", () => {
  const clock = manualClock(0);
  const rl = createRateLimiter(clock);
  for (let i = 0; i < 20; i++) rl.hit("k", 5);
  clock.set(120_000);
  assert.equal(rl.hit("k", 5).remaining, 4);
});
