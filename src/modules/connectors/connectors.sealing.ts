import type { TenantCipher } from "../../lib/crypto/index.ts";
import { AppError } from "../../lib/errors.ts";

/** The tenant's field cipher (AES-256-GCM under its data key), whatever its memory encryption mode. */
export type CipherOf = (tenantId: string) => Promise<TenantCipher>;

/**
 * What connectors keep sealed at rest: a connector's inline signing secret (and, while a rotation
 * runs, the previous one), an outbound subscription's signing secret, and the raw payload of every
 * inbox delivery (dead letters included). The associated
 * data is (tenant, record id, field), so a value copied to another record or tenant fails to open.
 */
export type SealedField = "secret" | "previous_secret" | "payload";

/** Encrypts one field of one record; the result is `v1.<key version>.<base64url>` text. */
export function sealField(
  cipher: TenantCipher,
  recordId: string,
  field: SealedField,
  plaintext: string | Buffer,
): string {
  return cipher.encrypt(recordId, field, plaintext);
}

/** Decrypts a sealed field; an altered, moved or plaintext value is a 500 that reveals nothing. */
export function openField(
  cipher: TenantCipher,
  recordId: string,
  field: SealedField,
  stored: string,
): Buffer {
  const result = cipher.decrypt(recordId, field, stored);
  if (!result.ok) {
    throw new AppError("INTERNAL", "a stored connector record failed its integrity check", {
      cause: new Error(`${recordId} ${field}: ${result.reason}`),
    });
  }
  return result.plaintext;
}
