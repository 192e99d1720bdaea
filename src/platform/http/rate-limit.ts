import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Clock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/logger.ts";
import type { SharedRedis } from "../shared/redis.ts";

/**
 * When one more request would fit: the previous window's weight shrinks linearly, so solve
 * `previous · (1 − x) + current + 1 ≤ limit` for the fraction x of this window, or, if the current
 * window alone is full, the same in the next window with this one as "previous".
 */
function secondsUntilAllowed(
  w: { current: number; previous: number },
  now: number,
  start: number,
  limit: number,
  windowMs = 60_000,
): number {
  let at: number;
  if (w.current + 1 <= limit && w.previous > 0) {
    at = start + windowMs * (1 - (limit - w.current - 1) / w.previous);
  } else {
    at = start + windowMs + windowMs * Math.max(0, 1 - (limit - 1) / Math.max(1, w.current));
  }
  return Math.max(1, Math.ceil((at - now) / 1000));
}

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
      if (used + 1 > limit) {
        return {
          allowed: false,
          limit,
          remaining: 0,
          resetSeconds: secondsUntilAllowed(w, now, start, limit),
        };
      }
      w.current += 1;
      const resetSeconds = Math.max(1, Math.ceil((start + windowMs - now) / 1000));
      return { allowed: true, limit, remaining: Math.max(0, Math.floor(limit - used - 1)), resetSeconds };
    },
  };
}

/**
 * A limiter: `hit` counts one request against `limit` per window under `key`. The in-process one
 * answers at once; the shared one asks Redis.
 */
export type RateLimiter = {
  hit(key: string, limit: number): RateDecision | Promise<RateDecision>;
};

/**
 * Limits shared by every gateway: rate-limiter-flexible's Redis limiter (one atomic `INCR`+`PEXPIRE`
 * per hit, fixed windows of `windowMs`), one limiter per distinct limit. When Redis fails the hit is
 * counted by the in-process sliding window instead, so each gateway still enforces the limit on its
 * own share of the traffic (at most N× the limit across N gateways, for the length of the outage).
 */
export function createSharedRateLimiter(
  redis: SharedRedis,
  clock: Clock,
  logger: Logger,
  opts: { windowMs?: number; keyPrefix?: string } = {},
): RateLimiter {
  const windowMs = opts.windowMs ?? 60_000;
  const local = createRateLimiter(clock, windowMs);
  const limiters = new Map<number, RateLimiterRedis>();
  const limiterFor = (limit: number) => {
    let l = limiters.get(limit);
    if (!l) {
      l = new RateLimiterRedis({
        storeClient: redis.client,
        keyPrefix: `${redis.prefix}${opts.keyPrefix ?? "rl"}:${limit}`,
        points: limit,
        duration: Math.max(1, Math.round(windowMs / 1000)),
      });
      limiters.set(limit, l);
    }
    return l;
  };
  let fallingBack = false;
  return {
    async hit(key, limit) {
      try {
        const r = await limiterFor(limit).consume(key, 1);
        fallingBack = false;
        return {
          allowed: true,
          limit,
          remaining: Math.max(0, r.remainingPoints),
          resetSeconds: Math.max(1, Math.ceil(r.msBeforeNext / 1000)),
        };
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          fallingBack = false;
          return {
            allowed: false,
            limit,
            remaining: 0,
            resetSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)),
          };
        }
        if (!fallingBack) logger.warn({ err }, "shared rate limit unavailable; counting in process");
        fallingBack = true;
        return local.hit(key, limit);
      }
    },
  };
}
