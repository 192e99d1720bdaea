import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { bindingLabel, decodeBase64UrlStrict } from "./encoding.ts";
import { DATA_KEY_BYTES } from "./tenant-keys.ts";

/**
 * The purposes a tenant data key is split into. One HKDF subkey per purpose, so a key handed to one
 * mechanism (a JWT signer, say) reveals nothing about the keys of the others.
 */
export const SUBKEY_PURPOSES = ["field-encryption", "blind-index", "audit-hmac", "jwt-secret"] as const;
export type SubkeyPurpose = (typeof SUBKEY_PURPOSES)[number];

const FORMAT = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_KEY_VERSION = 2 ** 31 - 1;

/** Derives a 32-byte subkey for `purpose` from a tenant data key; the tenant id is bound into the info. */
export function deriveSubkey(dataKey: Buffer, tenantId: string, purpose: SubkeyPurpose): Buffer {
  if (dataKey.length !== DATA_KEY_BYTES) throw new Error(`tenant data key must be ${DATA_KEY_BYTES} bytes`);
  return Buffer.from(
    hkdfSync("sha256", dataKey, Buffer.alloc(0), bindingLabel("hypha", "subkey", tenantId, purpose), 32),
  );
}

export type FieldDecrypt<T> =
  | { ok: true; plaintext: T }
  | { ok: false; reason: "MALFORMED" | "UNKNOWN_KEY_VERSION" | "AUTH_FAILED" };

export type ParsedFieldCiphertext = { keyVersion: number; iv: Buffer; body: Buffer; tag: Buffer };

/**
 * Splits `v1.<keyVersion>.<base64url(iv | ciphertext | tag)>`; null when it is not exactly that.
 * Rotation jobs use it to find rows still encrypted under an old data key version.
 */
export function parseFieldCiphertext(ciphertext: string): ParsedFieldCiphertext | null {
  const parts = ciphertext.split(".");
  if (parts.length !== 3 || parts[0] !== FORMAT) return null;
  const version = parts[1] ?? "";
  if (!/^[1-9][0-9]{0,9}$/.test(version) || Number(version) > MAX_KEY_VERSION) return null;
  const raw = decodeBase64UrlStrict(parts[2] ?? "");
  if (!raw || raw.length < IV_BYTES + TAG_BYTES) return null;
  return {
    keyVersion: Number(version),
    iv: raw.subarray(0, IV_BYTES),
    body: raw.subarray(IV_BYTES, raw.length - TAG_BYTES),
    tag: raw.subarray(raw.length - TAG_BYTES),
  };
}

/**
 * Associated data: which tenant, record and field the value belongs to, plus the format and key
 * version. GCM authenticates it, so a ciphertext copied to any other place fails to decrypt.
 */
function fieldAad(keyVersion: number, tenantId: string, recordId: string, field: string): Buffer {
  return bindingLabel("hypha-field", FORMAT, keyVersion, tenantId, recordId, field);
}

export type TenantCipherOptions = {
  /** Version of `dataKey`, written into every ciphertext. Default 1. */
  keyVersion?: number;
  /** Older data key versions that may still appear in stored ciphertexts; used for decryption only. */
  previousKeys?: ReadonlyMap<number, Buffer>;
  /** Bytes of HMAC kept in a blind index (hex doubles it). Default 16: collisions stay negligible. */
  blindIndexBytes?: number;
};

export type TenantCipher = {
  readonly tenantId: string;
  readonly keyVersion: number;
  /** Encrypts a field value of one record; a fresh random IV each call, so equal inputs differ. */
  encrypt(recordId: string, field: string, plaintext: string | Buffer): string;
  decrypt(recordId: string, field: string, ciphertext: string): FieldDecrypt<Buffer>;
  /** `decrypt` for values that were encrypted as strings. */
  decryptString(recordId: string, field: string, ciphertext: string): FieldDecrypt<string>;
  /**
   * A deterministic keyed token for equality search over encrypted values: equal for equal input within
   * one tenant (and scope), unrelated across tenants. Normalise the token (case, spaces) before calling.
   * It leaks equality by design; never use it for low-entropy fields whose distribution gives them away.
   */
  blindIndex(token: string, scope?: string): string;
  /** The subkey of the current data key version for `purpose`. */
  subkey(purpose: SubkeyPurpose): Buffer;
};

/**
 * Field encryption for one tenant: AES-256-GCM with a key derived from the tenant data key, a random
 * 96-bit IV, and (tenant, record, field) as associated data. Decryption never returns unauthenticated
 * bytes: any mismatch is `{ ok: false }`.
 *
 * @example
 * const cipher = createTenantCipher(dataKey, "tnt_01...");
 * const stored = cipher.encrypt("mem_01...", "content", "the user's text");
 * const back = cipher.decryptString("mem_01...", "content", stored); // { ok: true, plaintext: "the user's text" }
 */
export function createTenantCipher(
  dataKey: Buffer,
  tenantId: string,
  opts: TenantCipherOptions = {},
): TenantCipher {
  const keyVersion = opts.keyVersion ?? 1;
  if (!Number.isInteger(keyVersion) || keyVersion < 1 || keyVersion > MAX_KEY_VERSION) {
    throw new Error("keyVersion must be a positive integer");
  }
  const blindIndexBytes = opts.blindIndexBytes ?? 16;
  if (!Number.isInteger(blindIndexBytes) || blindIndexBytes < 8 || blindIndexBytes > 32) {
    throw new Error("blindIndexBytes must be an integer from 8 to 32");
  }
  const dataKeys = new Map<number, Buffer>(opts.previousKeys ?? []);
  dataKeys.set(keyVersion, dataKey);
  // KeyObjects are built once: handing node:crypto a raw Buffer re-imports the key on every call,
  // which costs several times the AES-GCM work for a typical field.
  const encryptionKeys = new Map<number, KeyObject>();
  const encryptionKey = (version: number): KeyObject | undefined => {
    const cached = encryptionKeys.get(version);
    if (cached) return cached;
    const base = dataKeys.get(version);
    if (!base) return undefined;
    const derived = createSecretKey(deriveSubkey(base, tenantId, "field-encryption"));
    encryptionKeys.set(version, derived);
    return derived;
  };
  const blindKey = createSecretKey(deriveSubkey(dataKey, tenantId, "blind-index"));

  const decrypt = (recordId: string, field: string, ciphertext: string): FieldDecrypt<Buffer> => {
    const parsed = parseFieldCiphertext(ciphertext);
    if (!parsed) return { ok: false, reason: "MALFORMED" };
    const key = encryptionKey(parsed.keyVersion);
    if (!key) return { ok: false, reason: "UNKNOWN_KEY_VERSION" };
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, parsed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(fieldAad(parsed.keyVersion, tenantId, recordId, field));
      decipher.setAuthTag(parsed.tag);
      return { ok: true, plaintext: Buffer.concat([decipher.update(parsed.body), decipher.final()]) };
    } catch {
      return { ok: false, reason: "AUTH_FAILED" };
    }
  };

  return {
    tenantId,
    keyVersion,
    encrypt(recordId, field, plaintext) {
      const key = encryptionKey(keyVersion);
      if (!key) throw new Error("current data key missing");
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(fieldAad(keyVersion, tenantId, recordId, field));
      const input = typeof plaintext === "string" ? Buffer.from(plaintext, "utf8") : plaintext;
      const body = Buffer.concat([cipher.update(input), cipher.final()]);
      return `${FORMAT}.${keyVersion}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")}`;
    },
    decrypt,
    decryptString(recordId, field, ciphertext) {
      const result = decrypt(recordId, field, ciphertext);
      return result.ok ? { ok: true, plaintext: result.plaintext.toString("utf8") } : result;
    },
    blindIndex(token, scope = "") {
      return createHmac("sha256", blindKey)
        .update(bindingLabel(scope, token))
        .digest()
        .subarray(0, blindIndexBytes)
        .toString("hex");
    },
    subkey(purpose) {
      return deriveSubkey(dataKey, tenantId, purpose);
    },
  };
}
