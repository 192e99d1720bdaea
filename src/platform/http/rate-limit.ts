import type { Clock } from "../../lib/clock.ts";

export type RateDecision = { allowed: boolean; limit: number; remaining: number; resetSeconds: number };

/**
 * Sliding-window counter per key: the previous fixed window's count, weighted by how much of it
 * still overlaps the sliding minute, plus the current window's count. Memory is bounded by the
 * number of active keys; idle keys are dropped at each window turn.
 */
export function createRateLimiter(clock: Clock, windowMs = 60_000) {
  const windows = new Map<string, { start: number; current: number; previous: number }>();
  let lastSweep = 0;

  return {
    hit(key: string, limit: number): RateDecision {
      const now = clock.now();
      const start = now - (now % windowMs);
      if (start !== lastSweep) {
        for (const [k, w] of windows) if (w.start < start - windowMs) windows.delete(k);
        lastSweep = start;
      }
      let w = windows.get(key);
      if (!w || w.start < start - windowMs) {
        w = { start, current: 0, previous: 0 };
        windows.set(key, w);
      } else if (w.start < start) {
        w.previous = w.current;
        w.current = 0;
        w.start = start;
      }
      const overlap = 1 - (now - start) / windowMs;
      const used = w.previous * overlap + w.current;
      const resetSeconds = Math.max(1, Math.ceil((start + windowMs - now) / 1000));
      if (used + 1 > limit) return { allowed: false, limit, remaining: 0, resetSeconds };
      w.current += 1;
      return { allowed: true, limit, remaining: Math.max(0, Math.floor(limit - used - 1)), resetSeconds };
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
