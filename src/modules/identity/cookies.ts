/**
 * The session cookies and the CSRF checks for the routes they authenticate.
 *
 * The refresh token travels only in `hypha_refresh` (HttpOnly, Secure, SameSite=Strict, path
 * `/v1/auth`). Requests it authenticates must also carry `X-CSRF-Token` equal to the token issued at
 * sign-in (bound to the session family, stored hashed; the `hypha_csrf` cookie holds a readable copy
 * for browser clients), and an `Origin`, if sent, must be this server or an allowed origin.
 */
import type { FastifyRequest } from "fastify";

export const REFRESH_COOKIE = "hypha_refresh";
export const CSRF_COOKIE = "hypha_csrf";
export const CSRF_HEADER = "x-csrf-token";
const COOKIE_VALUE_RE = /^[A-Za-z0-9_-]{1,200}$/;

/** Reads one cookie from the Cookie header; malformed or duplicated values count as absent. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (typeof header !== "string" || header.length > 8192) return null;
  let found: string | null = null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (found !== null || !COOKIE_VALUE_RE.test(value)) return null;
    found = value;
  }
  return found;
}

export function sessionCookies(refreshToken: string, csrfToken: string | null, maxAgeSec: number): string[] {
  const out = [
    `${REFRESH_COOKIE}=${refreshToken}; Path=/v1/auth; Max-Age=${maxAgeSec}; HttpOnly; Secure; SameSite=Strict`,
  ];
  if (csrfToken !== null)
    out.push(`${CSRF_COOKIE}=${csrfToken}; Path=/; Max-Age=${maxAgeSec}; Secure; SameSite=Strict`);
  return out;
}

export function clearedCookies(): string[] {
  return [
    `${REFRESH_COOKIE}=; Path=/v1/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict`,
    `${CSRF_COOKIE}=; Path=/; Max-Age=0; Secure; SameSite=Strict`,
  ];
}

/**
 * Whether a browser request may come from where it says: a present `Origin` must be this server's
 * own (same host) or listed; `Origin: null` and `Sec-Fetch-Site: cross-site` are refused.
 */
export function originAllowed(req: FastifyRequest, allowedOrigins: ReadonlySet<string>): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site === "cross-site") return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (typeof origin !== "string" || origin === "null") return false;
  const lowered = origin.toLowerCase();
  if (allowedOrigins.has(lowered)) return true;
  let url: URL;
  try {
    url = new URL(lowered);
  } catch {
    return false;
  }
  const host = typeof req.headers.host === "string" ? req.headers.host.toLowerCase() : null;
  return host !== null && url.host === host && (url.protocol === "https:" || url.protocol === "http:");
}
