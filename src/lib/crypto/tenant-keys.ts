import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { bindingLabel, decodeBase64UrlStrict } from "./encoding.ts";
import { activeMasterKey, type MasterKeyring, masterKeyVersion } from "./master-key.ts";

/** A tenant data key is an AES-256 / HKDF input key. */
export const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const WRAP_PREFIX = "w1.";
const KEK_PURPOSE = "tenant-data-key";

/**
 * What the database stores per tenant: the tenant's data key, encrypted under a key derived from one
 * master key version. Deleting this record is crypto-shredding: nothing else can recover the data key.
 */
export type WrappedTenantKey = { tenantId: string; masterVersion: number; wrapped: string };

export type UnwrapResult =
  | { ok: true; dataKey: Buffer }
  | { ok: false; reason: "UNKNOWN_MASTER_VERSION" | "MALFORMED" | "UNWRAP_FAILED"; message: string };

/**
 * The key-encryption key for one tenant under one master version. HKDF's info binds the tenant id and
 * the purpose, so the KEK of one tenant cannot unwrap another's record even with the same master key.
 */
function deriveKek(masterKey: Buffer, tenantId: string): Buffer {
  return Buffer.from(
    hkdfSync("sha256", masterKey, Buffer.alloc(0), bindingLabel("hypha", "kek", tenantId, KEK_PURPOSE), 32),
  );
}

/** The record's own fields are authenticated, so editing tenantId or masterVersion in place fails to unwrap. */
function wrapAad(tenantId: string, masterVersion: number): Buffer {
  return bindingLabel("hypha", "wrapped-tenant-key", 1, tenantId, masterVersion);
}

function wrapUnder(
  ring: MasterKeyring,
  version: number,
  tenantId: string,
  dataKey: Buffer,
): WrappedTenantKey {
  const master = masterKeyVersion(ring, version);
  if (!master) throw new Error(`master key version ${version} is not in the keyring`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", deriveKek(master.key, tenantId), iv, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(wrapAad(tenantId, version));
  const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  const wrapped = WRAP_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
  return { tenantId, masterVersion: version, wrapped };
}

/**
 * A new random data key for a tenant, wrapped under the active master version. Store `record`; keep
 * `dataKey` in memory only.
 */
export function createTenantKey(
  ring: MasterKeyring,
  tenantId: string,
): { record: WrappedTenantKey; dataKey: Buffer } {
  const dataKey = randomBytes(DATA_KEY_BYTES);
  return { record: wrapUnder(ring, activeMasterKey(ring).version, tenantId, dataKey), dataKey };
}

/** Recovers a tenant's data key. Any master version still in the keyring works, not only the active one. */
export function unwrapTenantKey(ring: MasterKeyring, record: WrappedTenantKey): UnwrapResult {
  const master = masterKeyVersion(ring, record.masterVersion);
  if (!master) {
    return {
      ok: false,
      reason: "UNKNOWN_MASTER_VERSION",
      message: `master key version ${record.masterVersion} is not in the keyring`,
    };
  }
  const raw = record.wrapped.startsWith(WRAP_PREFIX)
    ? decodeBase64UrlStrict(record.wrapped.slice(WRAP_PREFIX.length))
    : null;
  if (!raw || raw.length !== IV_BYTES + DATA_KEY_BYTES + TAG_BYTES) {
    return { ok: false, reason: "MALFORMED", message: "wrapped key is not in the w1 format" };
  }
  try {
    const decipher = createDecipheriv(
      "aes-256-gcm",
      deriveKek(master.key, record.tenantId),
      raw.subarray(0, IV_BYTES),
      { authTagLength: TAG_BYTES },
    );
    decipher.setAAD(wrapAad(record.tenantId, record.masterVersion));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const dataKey = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return { ok: true, dataKey };
  } catch {
    return {
      ok: false,
      reason: "UNWRAP_FAILED",
      message: "wrapped key does not authenticate under this master key and tenant",
    };
  }
}

export type RewrapResult =
  | { ok: true; record: WrappedTenantKey; changed: boolean }
  | Extract<UnwrapResult, { ok: false }>;

/**
 * Re-wraps one tenant key under `toVersion` (default: the active version). The data key itself does not
 * change, so no field ciphertext has to be rewritten. `changed` is false when it was already there.
 */
export function rewrapTenantKey(
  ring: MasterKeyring,
  record: WrappedTenantKey,
  toVersion: number = ring.activeVersion,
): RewrapResult {
  if (!masterKeyVersion(ring, toVersion)) {
    return {
      ok: false,
      reason: "UNKNOWN_MASTER_VERSION",
      message: `master key version ${toVersion} is not in the keyring`,
    };
  }
  const unwrapped = unwrapTenantKey(ring, record);
  if (!unwrapped.ok) return unwrapped;
  if (record.masterVersion === toVersion) return { ok: true, record, changed: false };
  return { ok: true, record: wrapUnder(ring, toVersion, record.tenantId, unwrapped.dataKey), changed: true };
}

export type RewrapAllReport = {
  /** Records to write back (only those that moved to the active version). */
  updated: WrappedTenantKey[];
  alreadyCurrent: number;
  failed: { tenantId: string; masterVersion: number; reason: string }[];
};

/**
 * Second step of `rotate-master`: re-wraps every record under the active version. Each record can be
 * written back on its own, while the server runs; a record not yet rewritten still unwraps under its
 * old version. Failures are collected, never thrown, so one bad row does not stop the rest.
 */
export function rewrapAllTenantKeys(
  ring: MasterKeyring,
  records: Iterable<WrappedTenantKey>,
): RewrapAllReport {
  const report: RewrapAllReport = { updated: [], alreadyCurrent: 0, failed: [] };
  for (const record of records) {
    const result = rewrapTenantKey(ring, record);
    if (!result.ok) {
      report.failed.push({
        tenantId: record.tenantId,
        masterVersion: record.masterVersion,
        reason: result.reason,
      });
    } else if (result.changed) {
      report.updated.push(result.record);
    } else {
      report.alreadyCurrent++;
    }
  }
  return report;
}
