import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Clock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/logger.ts";
import { createRateLimiter, createSharedRateLimiter } from "../../platform/http/rate-limit.ts";
import type { SharedRedis } from "../../platform/shared/redis.ts";

export type LoginThrottleOptions = {
  /** Failures within `windowMs` that lock an account. */
  maxFailures: number;
  windowMs: number;
  lockMs: number;
  /** Sign-in attempts one client address may make per `windowMs`. */
  maxPerAddress: number;
};

/**
 * Sign-in throttling: per client address (every attempt counts) and per account (failures count;
 * `maxFailures` within the window lock the account for `lockMs`). Accounts are keyed by tenant and
 * email whether or not the user exists, so an unknown email locks exactly like a known one and the
 * answers do not tell them apart. Known users' locks are also stored with the user (see the service),
 * so they survive a restart.
 */
export function createLoginThrottle(clock: Clock, opts: LoginThrottleOptions) {
  const perAddress = createRateLimiter(clock, opts.windowMs);
  const failures = new Map<string, number[]>();
  const lockedUntil = new Map<string, number>();

  const prune = (key: string, now: number) => {
    const recent = (failures.get(key) ?? []).filter((t) => now - t < opts.windowMs);
    if (recent.length) failures.set(key, recent);
    else failures.delete(key);
    return recent;
  };

  return {
    /** Counts an attempt from `address`; false when the address is over its allowance. */
    addressAllowed(address: string): {
      allowed: boolean;
      retryAfterSeconds: number;
      limit: number;
      windowSeconds: number;
    } {
      const d = perAddress.hit(`addr:${address}`, opts.maxPerAddress);
      return {
        allowed: d.allowed,
        retryAfterSeconds: d.resetSeconds,
        limit: opts.maxPerAddress,
        windowSeconds: Math.round(opts.windowMs / 1000),
      };
    },
    /** The time an account stays locked until, or null. */
    lockedUntil(account: string): number | null {
      const until = lockedUntil.get(account);
      if (until === undefined) return null;
      if (until <= clock.now()) {
        lockedUntil.delete(account);
        return null;
      }
      return until;
    },
    /** Records a failure; returns the lock end when this failure locks the account. */
    fail(account: string): number | null {
      const now = clock.now();
      const recent = prune(account, now);
      recent.push(now);
      failures.set(account, recent);
      if (recent.length < opts.maxFailures) return null;
      failures.delete(account);
      const until = now + opts.lockMs;
      lockedUntil.set(account, until);
      return until;
    },
    succeed(account: string): void {
      failures.delete(account);
    },
  };
}

/** What the sign-in routes ask; answered in process (embedded) or by Redis (several gateways). */
export type LoginThrottle = {
  /** Counts an attempt from `address`; not allowed when the address is over its allowance. */
  addressAllowed(
    address: string,
  ): Promise<{ allowed: boolean; retryAfterSeconds: number; limit: number; windowSeconds: number }>;
  /** The time an account stays locked until, or null. */
  lockedUntil(account: string): Promise<number | null>;
  /** Records a failure; returns the lock end when this failure locks the account. */
  fail(account: string): Promise<number | null>;
  succeed(account: string): Promise<void>;
};

/** The in-process throttle behind the `LoginThrottle` interface (the embedded mode). */
export function createLocalLoginThrottle(clock: Clock, opts: LoginThrottleOptions): LoginThrottle {
  const t = createLoginThrottle(clock, opts);
  return {
    addressAllowed: async (address) => t.addressAllowed(address),
    lockedUntil: async (account) => t.lockedUntil(account),
    fail: async (account) => t.fail(account),
    succeed: async (account) => t.succeed(account),
  };
}

/**
 * The throttle shared by every gateway (rate-limiter-flexible on Redis): failures spread over
 * gateways add up, and a lock set by one gateway holds on all. If Redis fails, the call is answered
 * by this gateway's own throttle (known users' locks are also stored with the user, so a lock
 * already taken still holds through the database).
 */
export function createSharedLoginThrottle(
  redis: SharedRedis,
  clock: Clock,
  logger: Logger,
  opts: LoginThrottleOptions,
): LoginThrottle {
  const local = createLocalLoginThrottle(clock, opts);
  const perAddress = createSharedRateLimiter(redis, clock, logger, {
    windowMs: opts.windowMs,
    keyPrefix: "login-addr",
  });
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  const failures = new RateLimiterRedis({
    storeClient: redis.client,
    keyPrefix: `${redis.prefix}login-fail`,
    points: opts.maxFailures,
    duration: seconds(opts.windowMs),
  });
  const locks = new RateLimiterRedis({
    storeClient: redis.client,
    keyPrefix: `${redis.prefix}login-lock`,
    points: 1,
    duration: seconds(opts.lockMs),
  });
  const fallback = <T>(what: string, run: () => Promise<T>, otherwise: () => Promise<T>): Promise<T> =>
    run().catch((err: unknown) => {
      logger.warn({ err, what }, "shared sign-in throttle unavailable; answering in process");
      return otherwise();
    });
  return {
    async addressAllowed(address) {
      const d = await perAddress.hit(`addr:${address}`, opts.maxPerAddress);
      return {
        allowed: d.allowed,
        retryAfterSeconds: d.resetSeconds,
        limit: opts.maxPerAddress,
        windowSeconds: Math.round(opts.windowMs / 1000),
      };
    },
    lockedUntil: (account) =>
      fallback(
        "lockedUntil",
        async () => {
          const r = await locks.get(account);
          return r && r.consumedPoints > 1 ? clock.now() + r.msBeforeNext : null;
        },
        () => local.lockedUntil(account),
      ),
    fail: (account) =>
      fallback(
        "fail",
        async () => {
          try {
            const r = await failures.consume(account, 1);
            if (r.remainingPoints > 0) return null;
          } catch (err) {
            if (!(err instanceof RateLimiterRes)) throw err;
          }
          await failures.delete(account);
          await locks.block(account, seconds(opts.lockMs));
          return clock.now() + opts.lockMs;
        },
        () => local.fail(account),
      ),
    succeed: (account) =>
      fallback(
        "succeed",
        async () => {
          await failures.delete(account);
        },
        () => local.succeed(account),
      ),
  };
}
