import ipaddr from "ipaddr.js";
import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";

/**
 * The client a ceremony is counted against: an IPv4 address, or an IPv6 address's /64 (one
 * subscriber's usual allocation, so rotating inside it gains nothing). IPv4-mapped addresses count
 * as their IPv4 address.
 */
export function clientOf(ip: string): string {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return ip;
  }
  if (addr.kind() === "ipv4") return addr.toString();
  const parts = (addr as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(":")}::/64`;
}

/**
 * Sign-in ceremonies in progress (passkey challenges, OIDC flows), held in memory until spent or
 * expired. Public routes start them, so two caps bound them: `max` for the process, and
 * `maxPerClient` for one client address (`clientOf`). A client at its cap is refused with 429
 * until one of its own ceremonies is spent or expires; the process cap is reached only by
 * `max / maxPerClient` clients together, so one address cannot lock everyone out.
 *
 * @example
 * const flows = createCeremonies<Flow>(clock, { ttlMs: 600_000, max: 10_000, maxPerClient: 30 });
 * flows.put(state, origin.ip, flow);
 * const flow = flows.take(state); // null when unknown, spent or expired
 */
export function createCeremonies<T>(
  clock: Clock,
  opts: { ttlMs: number; max: number; maxPerClient: number },
) {
  // Every entry lives `ttlMs`, and a replaced key is re-inserted, so insertion order is expiry order.
  const entries = new Map<string, { value: T; client: string; expires: number }>();
  const perClient = new Map<string, number>();

  function drop(key: string): { value: T; expires: number } | null {
    const e = entries.get(key);
    if (!e) return null;
    entries.delete(key);
    const n = (perClient.get(e.client) ?? 1) - 1;
    if (n > 0) perClient.set(e.client, n);
    else perClient.delete(e.client);
    return e;
  }
  function sweep(now: number) {
    for (const [key, e] of entries) {
      if (e.expires > now) break;
      drop(key);
    }
  }
  const full = (message: string) =>
    new AppError("RATE_LIMITED", message, {
      headers: { "retry-after": String(Math.max(1, Math.ceil(opts.ttlMs / 1000))) },
    });

  /** Throws RATE_LIMITED unless the client at `ip` may start one more ceremony now. */
  function admit(ip: string): void {
    sweep(clock.now());
    if ((perClient.get(clientOf(ip)) ?? 0) >= opts.maxPerClient)
      throw full("too many sign-ins in progress from this address");
    if (entries.size >= opts.max) throw full("too many sign-ins in progress");
  }

  return {
    admit,
    /** Starts a ceremony for the client at `ip` (see `admit`); replaces one under the same key. */
    put(key: string, ip: string, value: T): void {
      drop(key);
      admit(ip);
      const client = clientOf(ip);
      entries.set(key, { value, client, expires: clock.now() + opts.ttlMs });
      perClient.set(client, (perClient.get(client) ?? 0) + 1);
    },
    /** Spends a ceremony: its value once, or null when unknown, spent or expired. */
    take(key: string): T | null {
      const e = drop(key);
      return e && e.expires > clock.now() ? e.value : null;
    },
  };
}
