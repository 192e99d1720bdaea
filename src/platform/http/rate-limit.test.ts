import assert from "node:assert/strict";
import { test } from "node:test";
import { manualClock } from "../../lib/clock.ts";
import { createRateLimiter, type RateDecision } from "./rate-limit.ts";

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

test("Retry-After is exact: one second short of it the request is still refused, after it the next is allowed", () => {
  const cases = [
    [2, 3, 0],
    [10, 12, 30_000],
    [5, 6, 59_000],
    [600, 700, 1_000],
  ] as const;
  let checked = 0;
  for (const [limit, hits, at] of cases) {
    const label = `limit ${limit}, ${hits} hits at ${at}`;
    const clock = manualClock(0);
    const rl = createRateLimiter(clock);
    clock.set(at);
    let refused: RateDecision | undefined;
    for (let i = 0; i < hits; i++) {
      const d = rl.hit("k", limit);
      if (!d.allowed) refused ??= d;
    }
    // Every case sends more than the limit: a limiter that never refuses fails here, not silently.
    assert.ok(refused, `${label}: nothing was refused`);
    clock.advance((refused.resetSeconds - 1) * 1000);
    assert.equal(rl.hit("k", limit).allowed, false, `${label}: allowed before Retry-After`);
    clock.advance(1000);
    assert.equal(rl.hit("k", limit).allowed, true, `${label}: still refused after Retry-After`);
    checked += 1;
  }
  assert.equal(checked, cases.length);
});

test("refused requests do not count: after a burst of refusals, the next window sees only the allowed ones", () => {
  const clock = manualClock(0);
  const rl = createRateLimiter(clock);
  const first = Array.from({ length: 20 }, () => rl.hit("k", 5).allowed);
  assert.deepEqual([first.filter(Boolean).length, first.filter((a) => !a).length], [5, 15]);
  // Half of the previous window still overlaps: 5 allowed weigh 2.5; had the 15 refusals counted,
  // 20 would weigh 10 and this request would be refused too.
  clock.set(90_000);
  const next = rl.hit("k", 5);
  assert.deepEqual([next.allowed, next.remaining], [true, 1]);
});

test("an idle key starts afresh two windows later", () => {
  const clock = manualClock(0);
  const rl = createRateLimiter(clock);
  for (let i = 0; i < 20; i++) rl.hit("k", 5);
  clock.set(120_000);
  assert.equal(rl.hit("k", 5).remaining, 4);
});
