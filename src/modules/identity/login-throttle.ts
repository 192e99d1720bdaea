import type { Clock } from "../../lib/clock.ts";
import { createRateLimiter } from "../../platform/http/rate-limit.ts";

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

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
