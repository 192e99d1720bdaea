import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Small wrappers over node:crypto shared by the inbound verifiers and the outbound signer.
 * Nothing here is a primitive of its own: HMAC is `createHmac`, comparison is `timingSafeEqual`.
 */

/** HMAC-SHA256 over the concatenation of `parts`, fed as bytes so a raw body is never re-encoded. */
export function hmacSha256(key: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * Byte equality in time independent of the contents. A length difference is public (a signature's
 * length is fixed by its scheme), but we still run one comparison so both paths do similar work.
 */
export function equalBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * True when any candidate equals `expected`. Every candidate is compared, so the time taken does not
 * reveal which one matched (or how many were tried before a match).
 */
export function matchesAny(expected: Buffer, candidates: readonly Buffer[]): boolean {
  let matched = false;
  for (const candidate of candidates) {
    // Non-short-circuiting OR: each comparison runs regardless of earlier results.
    matched = equalBytes(expected, candidate) || matched;
  }
  return matched;
}

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=?$/;
const BASE64URL_SHA256 = /^[A-Za-z0-9_-]{43}$/;

/**
 * Decodes a hex-encoded 32-byte MAC. `Buffer.from(s, "hex")` silently stops at the first bad
 * character, so the shape is checked first; a malformed value is `undefined`, never a short buffer.
 */
export function decodeHex32(value: string): Buffer | undefined {
  return HEX_SHA256.test(value) ? Buffer.from(value, "hex") : undefined;
}

/** Decodes a base64 (standard or URL alphabet) 32-byte MAC, or `undefined` when it is not one. */
export function decodeBase64_32(value: string): Buffer | undefined {
  if (BASE64_SHA256.test(value)) return Buffer.from(value, "base64");
  if (BASE64URL_SHA256.test(value)) return Buffer.from(value, "base64url");
  return undefined;
}

const UNIX_SECONDS = /^[0-9]{1,12}$/;

/** Parses a decimal unix-seconds timestamp; anything else (signs, decimals, spaces) is `undefined`. */
export function parseUnixSeconds(value: string): number | undefined {
  return UNIX_SECONDS.test(value) ? Number(value) : undefined;
}

export type WindowCheck = { ok: true } | { ok: false; reason: "TIMESTAMP_STALE" | "TIMESTAMP_IN_FUTURE" };

/**
 * Accepts `timestampSec` only within `toleranceSec` of `nowMs`, on both sides: an old timestamp is a
 * replay, one far in the future is a signature minted to outlive the replay window.
 */
export function checkWindow(timestampSec: number, nowMs: number, toleranceSec: number): WindowCheck {
  const nowSec = Math.floor(nowMs / 1000);
  if (timestampSec < nowSec - toleranceSec) return { ok: false, reason: "TIMESTAMP_STALE" };
  if (timestampSec > nowSec + toleranceSec) return { ok: false, reason: "TIMESTAMP_IN_FUTURE" };
  return { ok: true };
}
