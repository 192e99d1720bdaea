/**
 * The instance admin's console sessions.
 *
 * The admin key is presented once, on the sign-in form, and exchanged for a session id: 32 random
 * bytes behind the prefix `hcs_`, carried in the console's HttpOnly, SameSite=Strict session cookie.
 * The server keeps only the SHA-256 of each id with its expiry, in this process's memory: a session
 * lasts at most `ttlMs` (absolute, never extended), sign-out forgets it at once, and a restart ends
 * every session. The admin key itself is never stored in a cookie, a page or a log.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import type { Actor, RequestOrigin } from "../../platform/auth/actor.ts";
import type { VerifiedCredential } from "../../platform/http/server.ts";

export const ADMIN_SESSION_PREFIX = "hcs_";
/** Thirty minutes: long enough to handle an incident, short enough that a forgotten tab expires. */
export const ADMIN_SESSION_TTL_MS = 30 * 60_000;
/** At most this many live sessions; signing in beyond it ends the oldest. */
const MAX_SESSIONS = 32;
const ID_RE = /^hcs_[A-Za-z0-9_-]{43}$/;

const digest = (id: string): string => createHash("sha256").update(id).digest("hex");

export type AdminSessions = ReturnType<typeof createAdminSessions>;

export function createAdminSessions(deps: {
  clock: Clock;
  /** Constant-time check of a presented admin key against the stored hash. */
  verifyAdminKey: (presented: string) => boolean;
  ttlMs?: number;
}) {
  const ttl = deps.ttlMs ?? ADMIN_SESSION_TTL_MS;
  const live = new Map<string, number>();

  const sweep = (now: number) => {
    for (const [k, expires] of live) if (expires <= now) live.delete(k);
  };

  return {
    ttlSeconds: Math.floor(ttl / 1000),

    /** Exchanges the admin key for a new session id; null when the key is wrong. */
    start(adminKey: string): { id: string; expiresAt: number } | null {
      if (!deps.verifyAdminKey(adminKey)) return null;
      const now = deps.clock.now();
      sweep(now);
      while (live.size >= MAX_SESSIONS) {
        const oldest = live.keys().next();
        if (oldest.done) break;
        live.delete(oldest.value);
      }
      const id = `${ADMIN_SESSION_PREFIX}${randomBytes(32).toString("base64url")}`;
      const expiresAt = now + ttl;
      live.set(digest(id), expiresAt);
      return { id, expiresAt };
    },

    /** The chokepoint's check of the session cookie: null for anything that is not an admin session id. */
    verify(secret: string, origin: RequestOrigin): VerifiedCredential | null {
      if (!secret.startsWith(ADMIN_SESSION_PREFIX)) return null;
      if (!ID_RE.test(secret)) return { ok: false, code: "INVALID_CREDENTIALS" };
      const key = digest(secret);
      const expires = live.get(key);
      if (expires === undefined) return { ok: false, code: "INVALID_CREDENTIALS" };
      if (expires <= deps.clock.now()) {
        live.delete(key);
        return { ok: false, code: "CREDENTIALS_EXPIRED" };
      }
      const actor: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin };
      return { ok: true, kind: "admin_session", actor, rateLimitPerMinute: null };
    },

    /** Ends a session (sign-out); true when it was live. */
    end(secret: string | null): boolean {
      if (secret === null || !ID_RE.test(secret)) return false;
      return live.delete(digest(secret));
    },
  };
}
