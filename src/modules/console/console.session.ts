/**
 * The console's cookies and its CSRF check.
 *
 * A signed-in person holds three HttpOnly, SameSite=Strict cookies: the access token (verified by the
 * HTTP chokepoint like a bearer token), the refresh token of the session family (exchanged for a new
 * access token when it expires) and the CSRF token. Every state-changing form carries the CSRF token
 * in a hidden `_csrf` field; a POST whose field does not equal the cookie, or whose Origin is another
 * site, is refused with 403. An OIDC sign-in in progress adds a fourth, SameSite=Lax, binding its
 * `state` to the browser. Served over https every cookie is `Secure` and `__Host-` prefixed (no
 * Domain, Path=/, so no sibling host can plant one); `consoleInsecureHttp` drops both, on loopback only.
 */
import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { AppError } from "../../lib/errors.ts";
import { constantTimeEqual } from "../../lib/secrets.ts";
import { REFRESH_TOKEN_TTL_SEC } from "../identity/auth.service.ts";
import { originAllowed } from "../identity/cookies.ts";

export type ConsoleCookies = {
  readonly access: string;
  readonly refresh: string;
  readonly csrf: string;
  /** Binds an OIDC sign-in to the browser that started it (SameSite=Lax, ten minutes). */
  readonly oidc: string;
  readonly secure: boolean;
};

export function consoleCookies(insecureHttp: boolean): ConsoleCookies {
  const prefix = insecureHttp ? "" : "__Host-";
  return {
    access: `${prefix}hypha_console`,
    refresh: `${prefix}hypha_console_refresh`,
    csrf: `${prefix}hypha_console_csrf`,
    oidc: `${prefix}hypha_console_oidc`,
    secure: !insecureHttp,
  };
}

const VALUE_RE = /^[A-Za-z0-9._-]{1,4096}$/;

/** One cookie's value; absent, duplicated or malformed values read as absent. */
export function cookieValue(req: FastifyRequest, name: string): string | null {
  const header = req.headers.cookie;
  if (typeof header !== "string" || header.length > 16_384) return null;
  let found: string | null = null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (found !== null || !VALUE_RE.test(value)) return null;
    found = value;
  }
  return found;
}

function cookie(c: ConsoleCookies, name: string, value: string, maxAgeSec: number): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAgeSec}; HttpOnly;${c.secure ? " Secure;" : ""} SameSite=Strict`;
}

/** The cookies of a fresh or refreshed session (a refresh keeps the family's CSRF token). */
export function sessionSetCookies(
  c: ConsoleCookies,
  s: { accessToken: string; refreshToken: string; csrfToken: string | null },
): string[] {
  const out = [
    cookie(c, c.access, s.accessToken, REFRESH_TOKEN_TTL_SEC),
    cookie(c, c.refresh, s.refreshToken, REFRESH_TOKEN_TTL_SEC),
  ];
  if (s.csrfToken !== null) out.push(cookie(c, c.csrf, s.csrfToken, REFRESH_TOKEN_TTL_SEC));
  return out;
}

/** Clears the session; a new pre-session CSRF token protects the sign-in form that follows. */
export function clearedSessionCookies(c: ConsoleCookies): string[] {
  return [cookie(c, c.access, "", 0), cookie(c, c.refresh, "", 0)];
}

export const newCsrfToken = (): string => randomBytes(24).toString("base64url");

export function csrfCookie(c: ConsoleCookies, token: string): string {
  return cookie(c, c.csrf, token, REFRESH_TOKEN_TTL_SEC);
}

/**
 * Refuses a state-changing request without the CSRF token of its cookie, or from another site.
 * Runs after the body is parsed and before it is validated or used.
 */
export function checkCsrf(req: FastifyRequest, c: ConsoleCookies, allowedOrigins: ReadonlySet<string>): void {
  if (!originAllowed(req, allowedOrigins)) throw new AppError("FORBIDDEN", "cross-site request refused");
  const expected = cookieValue(req, c.csrf);
  const body = req.body as Record<string, unknown> | null | undefined;
  const given = body && typeof body === "object" ? body._csrf : undefined;
  if (expected === null || typeof given !== "string" || !constantTimeEqual(given, expected)) {
    throw new AppError("FORBIDDEN", "missing or wrong CSRF token: reload the page and try again");
  }
}
