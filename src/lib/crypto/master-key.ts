import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { z } from "zod";
import { type Clock, systemClock } from "../clock.ts";
import { decodeBase64Strict } from "./encoding.ts";
import { readSecretFile, writeSecretFileAtomic } from "./keyfile.ts";

/** The master key is an AES-256 / HKDF input key: exactly 32 bytes. */
export const MASTER_KEY_BYTES = 32;
/**
 * Fewest distinct byte values a 32-byte key may have. 32 random bytes show about 30 distinct values;
 * fewer than 16 happens by chance with negligible probability, but is typical of typed or patterned keys.
 */
export const MIN_DISTINCT_KEY_BYTES = 16;

/** Where the generated keyring lives, relative to the data directory. */
export const MASTER_KEY_RELATIVE_PATH = join("secrets", "master.key");

export type KeyStrength =
  | { ok: true }
  | { ok: false; reason: "WRONG_LENGTH" | "ALL_EQUAL_BYTES" | "LOW_DISTINCT_BYTES"; message: string };

/** Refuses master keys that cannot be 32 random bytes. Generate one with `openssl rand -base64 32`. */
export function checkMasterKeyStrength(key: Buffer): KeyStrength {
  if (key.length !== MASTER_KEY_BYTES) {
    return {
      ok: false,
      reason: "WRONG_LENGTH",
      message: `decodes to ${key.length} bytes, expected ${MASTER_KEY_BYTES} (generate with: openssl rand -base64 32)`,
    };
  }
  const distinct = new Set(key).size;
  if (distinct === 1) return { ok: false, reason: "ALL_EQUAL_BYTES", message: "has every byte equal" };
  if (distinct < MIN_DISTINCT_KEY_BYTES) {
    return {
      ok: false,
      reason: "LOW_DISTINCT_BYTES",
      message: `has only ${distinct} distinct byte values; a random key has about 30`,
    };
  }
  return { ok: true };
}

/** One master key version. `createdAt` is null when the key came from the environment. */
export type MasterKeyVersion = { version: number; key: Buffer; createdAt: string | null };

/**
 * Every master key version still needed, and which one wraps new tenant keys. Older versions stay
 * until no wrapped tenant key refers to them, so rotation never blocks reads.
 */
export type MasterKeyring = { activeVersion: number; versions: readonly MasterKeyVersion[] };

/** A keyring holding one freshly generated key, version 1. */
export function generateMasterKeyring(clock: Clock = systemClock): MasterKeyring {
  return {
    activeVersion: 1,
    versions: [
      { version: 1, key: randomBytes(MASTER_KEY_BYTES), createdAt: new Date(clock.now()).toISOString() },
    ],
  };
}

export function activeMasterKey(ring: MasterKeyring): MasterKeyVersion {
  const active = ring.versions.find((v) => v.version === ring.activeVersion);
  // parseKeyring and the constructors here never build such a ring; reaching this is a bug.
  if (!active) throw new Error(`keyring has no key for its active version ${ring.activeVersion}`);
  return active;
}

export function masterKeyVersion(ring: MasterKeyring, version: number): MasterKeyVersion | undefined {
  return ring.versions.find((v) => v.version === version);
}

/**
 * First step of `rotate-master`: a new random key becomes active; every older version stays so tenant
 * keys wrapped under it keep unwrapping while they are re-wrapped.
 */
export function addMasterKeyVersion(ring: MasterKeyring, clock: Clock = systemClock): MasterKeyring {
  const next = Math.max(0, ...ring.versions.map((v) => v.version)) + 1;
  return {
    activeVersion: next,
    versions: [
      ...ring.versions,
      { version: next, key: randomBytes(MASTER_KEY_BYTES), createdAt: new Date(clock.now()).toISOString() },
    ],
  };
}

export type RetireResult =
  | { ok: true; ring: MasterKeyring }
  | { ok: false; reason: "UNKNOWN_VERSION" | "ACTIVE_VERSION" | "STILL_IN_USE"; message: string };

/**
 * Last step of `rotate-master`: drops an old version. Refused while any wrapped tenant key still names
 * it (pass every record's `masterVersion`), because dropping it would shred those tenants.
 */
export function retireMasterKeyVersion(
  ring: MasterKeyring,
  version: number,
  versionsInUse: Iterable<number>,
): RetireResult {
  if (!masterKeyVersion(ring, version)) {
    return { ok: false, reason: "UNKNOWN_VERSION", message: `no master key version ${version}` };
  }
  if (version === ring.activeVersion) {
    return { ok: false, reason: "ACTIVE_VERSION", message: `version ${version} is the active version` };
  }
  let users = 0;
  for (const v of versionsInUse) if (v === version) users++;
  if (users > 0) {
    return {
      ok: false,
      reason: "STILL_IN_USE",
      message: `${users} tenant key(s) are still wrapped under version ${version}; re-wrap them first`,
    };
  }
  return {
    ok: true,
    ring: { activeVersion: ring.activeVersion, versions: ring.versions.filter((v) => v.version !== version) },
  };
}

const KEYRING_FORMAT = "hypha-master-keyring";

const keyringFileSchema = z
  .object({
    format: z.literal(KEYRING_FORMAT),
    formatVersion: z.literal(1),
    activeVersion: z.number().int().positive(),
    keys: z
      .array(
        z
          .object({
            version: z.number().int().positive(),
            createdAt: z.string().nullable(),
            key: z.string().min(1).max(200),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

/** The keyring file: JSON, keys in base64. Written 0600 and atomically by `writeKeyringFile`. */
export function serializeKeyring(ring: MasterKeyring): string {
  const file: z.infer<typeof keyringFileSchema> = {
    format: KEYRING_FORMAT,
    formatVersion: 1,
    activeVersion: ring.activeVersion,
    keys: ring.versions.map((v) => ({
      version: v.version,
      createdAt: v.createdAt,
      key: v.key.toString("base64"),
    })),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

export type KeyringParse =
  | { ok: true; ring: MasterKeyring }
  | { ok: false; reason: "MALFORMED" | "WEAK"; message: string };

/** Checks every rule a keyring must meet: one entry per version, the active one present, no weak key. */
function buildKeyring(activeVersion: number, versions: MasterKeyVersion[]): KeyringParse {
  const seen = new Set<number>();
  for (const v of versions) {
    if (seen.has(v.version))
      return { ok: false, reason: "MALFORMED", message: `version ${v.version} appears twice` };
    seen.add(v.version);
    const strength = checkMasterKeyStrength(v.key);
    if (!strength.ok) {
      return { ok: false, reason: "WEAK", message: `master key version ${v.version} ${strength.message}` };
    }
  }
  if (!seen.has(activeVersion)) {
    return { ok: false, reason: "MALFORMED", message: `active version ${activeVersion} has no key` };
  }
  return { ok: true, ring: { activeVersion, versions } };
}

export function parseKeyring(text: string): KeyringParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "MALFORMED", message: "keyring is not JSON" };
  }
  const parsed = keyringFileSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      reason: "MALFORMED",
      message: `keyring does not match its format: ${parsed.error.message}`,
    };
  }
  const versions: MasterKeyVersion[] = [];
  for (const entry of parsed.data.keys) {
    const key = decodeBase64Strict(entry.key);
    if (!key)
      return { ok: false, reason: "MALFORMED", message: `key version ${entry.version} is not base64` };
    versions.push({ version: entry.version, key, createdAt: entry.createdAt });
  }
  return buildKeyring(parsed.data.activeVersion, versions);
}

/**
 * Parses `HYPHA_MASTER_KEY`: either one base64 key (version 1), or during a rotation a list
 * `<version>:<base64>,<version>:<base64>` whose highest version is active.
 */
export function parseMasterKeyEnv(value: string): KeyringParse {
  const items = value.split(",").map((s) => s.trim());
  if (items.length === 1 && !items[0]?.includes(":")) {
    const key = decodeBase64Strict(items[0] ?? "");
    if (!key) return { ok: false, reason: "MALFORMED", message: "HYPHA_MASTER_KEY is not base64" };
    return buildKeyring(1, [{ version: 1, key, createdAt: null }]);
  }
  const versions: MasterKeyVersion[] = [];
  for (const item of items) {
    const match = /^([1-9][0-9]{0,8}):(.+)$/.exec(item);
    const key = match?.[2] ? decodeBase64Strict(match[2]) : null;
    if (!match || !key) {
      return {
        ok: false,
        reason: "MALFORMED",
        message: "HYPHA_MASTER_KEY list entries must be <version>:<base64>",
      };
    }
    versions.push({ version: Number(match[1]), key, createdAt: null });
  }
  return buildKeyring(Math.max(...versions.map((v) => v.version)), versions);
}

/** Writes the keyring with mode 0600 inside a 0700 directory, atomically (temp + fsync + rename). */
export function writeKeyringFile(path: string, ring: MasterKeyring): void {
  writeSecretFileAtomic(path, serializeKeyring(ring));
}

function readKeyringAt(path: string): MasterKeyLoad {
  const read = readSecretFile(path);
  if (!read.ok) {
    const reason = read.reason === "NOT_FOUND" ? "MISSING" : read.reason;
    return { ok: false, reason, message: read.message };
  }
  const text = read.data.toString("utf8");
  const parsed = text.trimStart().startsWith("{") ? parseKeyring(text) : parseMasterKeyEnv(text.trim());
  if (!parsed.ok) return { ok: false, reason: parsed.reason, message: `${path}: ${parsed.message}` };
  return { ok: true, ring: parsed.ring, source: "file", path };
}

export type MasterKeySource = "env" | "file" | "generated";

export type MasterKeyLoad =
  | { ok: true; ring: MasterKeyring; source: MasterKeySource; path: string | null }
  | {
      ok: false;
      reason:
        | "MISSING"
        | "WEAK"
        | "MALFORMED"
        | "INSECURE_PERMISSIONS"
        | "UNREADABLE"
        | "CONFLICTING_SOURCES";
      message: string;
    };

export type LoadMasterKeyOptions = {
  /** The data directory; the default keyring is `<dataDir>/secrets/master.key`. */
  dataDir: string;
  /** Reads `HYPHA_MASTER_KEY` (base64 or version list) and `HYPHA_MASTER_KEY_FILE` (a path). */
  env?: Record<string, string | undefined>;
  /** An explicit key file (a `--master-key-file` flag); same meaning as `HYPHA_MASTER_KEY_FILE`. */
  keyFile?: string;
  /**
   * Whether a missing key may be generated. Pass true only on a first start (no database yet):
   * generating a new key next to existing encrypted data would make it unreadable.
   */
  allowGenerate: boolean;
  clock?: Clock;
};

/**
 * Finds the master keyring, in this order: `HYPHA_MASTER_KEY`, then a key file given by flag or
 * `HYPHA_MASTER_KEY_FILE` (keyring JSON or one base64 key), then `<dataDir>/secrets/master.key`,
 * generating that file when allowed. Every failure is a value with a reason; the caller stops the start.
 */
export function loadMasterKeyring(opts: LoadMasterKeyOptions): MasterKeyLoad {
  const env = opts.env ?? process.env;
  const envKey = env.HYPHA_MASTER_KEY?.trim() ? env.HYPHA_MASTER_KEY : undefined;
  const explicitFile =
    opts.keyFile ?? (env.HYPHA_MASTER_KEY_FILE?.trim() ? env.HYPHA_MASTER_KEY_FILE : undefined);

  if (envKey !== undefined && explicitFile !== undefined) {
    return {
      ok: false,
      reason: "CONFLICTING_SOURCES",
      message: "both HYPHA_MASTER_KEY and a master key file are set; keep exactly one",
    };
  }
  if (envKey !== undefined) {
    const parsed = parseMasterKeyEnv(envKey);
    if (!parsed.ok)
      return { ok: false, reason: parsed.reason, message: `HYPHA_MASTER_KEY: ${parsed.message}` };
    return { ok: true, ring: parsed.ring, source: "env", path: null };
  }

  const path = explicitFile ?? join(opts.dataDir, MASTER_KEY_RELATIVE_PATH);
  const existing = readKeyringAt(path);
  if (existing.ok || existing.reason !== "MISSING") return existing;
  if (explicitFile !== undefined || !opts.allowGenerate) {
    return {
      ok: false,
      reason: "MISSING",
      message: `no master key: ${path} does not exist and HYPHA_MASTER_KEY is not set`,
    };
  }
  const ring = generateMasterKeyring(opts.clock);
  // Another process may have generated the key first; then its key is the one to use.
  if (!writeSecretFileAtomic(path, serializeKeyring(ring), { exclusive: true })) return readKeyringAt(path);
  return { ok: true, ring, source: "generated", path };
}
