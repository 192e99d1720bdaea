import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Credential prefixes. A prefix tells a reader (and a secret scanner) what a leaked string is. */
export const KEY_PREFIX = { agent: "hyk_", admin: "hya_", metrics: "hym_" } as const;

/** A new random credential: prefix + 43 base64url characters (256 bits). */
export function generateSecret(prefix: string): string {
  return prefix + randomBytes(32).toString("base64url");
}

export function sha256Hex(value: string | Buffer): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(sha256Hex(a), "hex");
  const bb = Buffer.from(sha256Hex(b), "hex");
  return timingSafeEqual(ab, bb) && a.length === b.length;
}

/** The part of a key safe to show in listings: its prefix and a few characters. */
export function displayStart(key: string): string {
  return key.slice(0, 12);
}

export type SecretStrength = { ok: true } | { ok: false; reason: string };

/**
 * Refuses secrets a person might type or reuse: short ones, low-variety ones, and known placeholders.
 * Operators supply long random strings (e.g. `openssl rand -base64 32`).
 */
export function checkSecretStrength(secret: string, minLength = 32): SecretStrength {
  if (secret.length < minLength) return { ok: false, reason: `must be at least ${minLength} characters` };
  const distinct = new Set(secret).size;
  if (distinct < 12) return { ok: false, reason: "has too few distinct characters" };
  const lowered = secret.toLowerCase();
  for (const word of ["changeme", "password", "secret", "example", "default", "123456", "qwerty"]) {
    if (lowered.includes(word)) return { ok: false, reason: `contains the placeholder word "${word}"` };
  }
  if (/^(.{1,8})\1+$/.test(secret)) return { ok: false, reason: "is a repeated pattern" };
  return { ok: true };
}
