import { createSecretKey, type KeyObject } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import { ConfigError } from "../../lib/config.ts";
import {
  addMasterKeyVersion,
  createTenantCipher,
  createTenantKey,
  deriveSubkey,
  loadMasterKeyring,
  type MasterKeyring,
  retireMasterKeyVersion,
  rewrapTenantKey,
  type TenantCipher,
  unwrapTenantKey,
  writeKeyringFile,
} from "../../lib/crypto/index.ts";
import { AppError } from "../../lib/errors.ts";
import { type Actor, authorize } from "../../platform/auth/actor.ts";
import type { SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import { tenantKeysStore } from "./tenant-keys.store.ts";

/** The chain id (and key id) of instance-level audit events, kept in the control database. */
export const INSTANCE_CHAIN = "instance";

/** The fix to suggest for each reason a master key does not load. */
const MASTER_KEY_FIX: Record<string, string> = {
  MISSING:
    "set HYPHA_MASTER_KEY (base64 of 32 bytes) or HYPHA_MASTER_KEY_FILE to the key this data directory was created with, or restore data/secrets/master.key from backup",
  MALFORMED:
    "HYPHA_MASTER_KEY takes the base64 of 32 random bytes (openssl rand -base64 32) or `<version>:<base64>,…`; a key file holds the keyring JSON or one base64 key",
  WEAK: "use 32 random bytes (openssl rand -base64 32); a typed or patterned key is refused",
  INSECURE_PERMISSIONS: "chmod 600 the key file and 700 its directory",
  UNREADABLE: "check that the user running hypha may read the key file",
  CONFLICTING_SOURCES: "unset HYPHA_MASTER_KEY or HYPHA_MASTER_KEY_FILE",
};

/** Blind index tokens keep 8 bytes: collisions stay negligible within one tenant's vocabulary. */
const BLIND_INDEX_BYTES = 8;

export type MasterKeySource = {
  dataDir: string;
  /** HYPHA_MASTER_KEY: one base64 key, or `<version>:<base64>,…` during a rotation. */
  masterKey?: string | undefined;
  /** HYPHA_MASTER_KEY_FILE: a keyring file kept elsewhere than the data directory. */
  masterKeyFile?: string | undefined;
};

export type RotationReport = {
  active_version: number;
  rewrapped: number;
  already_current: number;
  failed: { tenant_id: string; reason: string }[];
  retired_versions: number[];
};

/**
 * Envelope encryption for the whole instance: loads the master keyring (generating it only on a first
 * start, when no wrapped key exists that a new master key would orphan), wraps one random data key per
 * tenant into `tenant_keys`, and hands out the per-purpose subkeys. Unwrapped keys live in memory only.
 */
export async function openTenantKeys(deps: {
  storage: Storage;
  clock: Clock;
  source: MasterKeySource;
  /**
   * False while invalidation from other gateways may be missed: a cached key is then served only
   * after the database confirms its wrapped key still exists (a shredded tenant never decrypts).
   */
  trustCache?: () => boolean;
}) {
  const { storage, clock, source } = deps;
  const env = { HYPHA_MASTER_KEY: source.masterKey, HYPHA_MASTER_KEY_FILE: source.masterKeyFile };
  const wrappedCount = await tenantKeysStore.count(storage.control);
  const loaded = loadMasterKeyring({
    dataDir: source.dataDir,
    env,
    allowGenerate: wrappedCount === 0,
    clock,
  });
  if (!loaded.ok) {
    const orphaned = wrappedCount > 0 ? ` (${wrappedCount} wrapped tenant keys need it)` : "";
    throw new ConfigError(
      `master key ${loaded.reason}: ${loaded.message}${orphaned}; ${MASTER_KEY_FIX[loaded.reason]}`,
    );
  }
  let ring: MasterKeyring = loaded.ring;
  // A key that loads but is not the one this directory was created with fails here, at start.
  const instanceRecord = await tenantKeysStore.get(storage.control, INSTANCE_CHAIN);
  if (instanceRecord) {
    const probe = unwrapTenantKey(ring, instanceRecord);
    if (!probe.ok) {
      const from =
        loaded.source === "env"
          ? "HYPHA_MASTER_KEY"
          : `${loaded.path ?? "the master key file"} (HYPHA_MASTER_KEY_FILE, default data/secrets/master.key)`;
      throw new ConfigError(
        `the master key from ${from} does not unwrap the data keys of ${source.dataDir} (${probe.reason}): check that it is the key this data directory was created with (or the keyring of the time of a restored backup), and that HYPHA_MASTER_KEY and HYPHA_MASTER_KEY_FILE point where you expect`,
      );
    }
  }
  const keyringPath = loaded.path;
  const dataKeys = new Map<string, Buffer>();
  const ciphers = new Map<string, TenantCipher>();
  const auditKeys = new Map<string, KeyObject>();

  /** Picks up a rotation made by another process (the CLI) on the same keyring file. */
  const reload = () => {
    if (loaded.source === "env") return;
    const again = loadMasterKeyring({ dataDir: source.dataDir, env, allowGenerate: false, clock });
    if (again.ok) ring = again.ring;
  };

  const trustCache = deps.trustCache ?? (() => true);
  /** A cached entry is usable: trusted, or the wrapped key is confirmed present (read-through). */
  async function stillHeld(tenantId: string): Promise<boolean> {
    if (trustCache() || tenantId === INSTANCE_CHAIN) return true;
    if (await tenantKeysStore.get(storage.control, tenantId)) return true;
    service.forget(tenantId);
    return false;
  }

  async function dataKey(tenantId: string): Promise<Buffer> {
    const cached = dataKeys.get(tenantId);
    if (cached && (await stillHeld(tenantId))) return cached;
    const record = await tenantKeysStore.get(storage.control, tenantId);
    if (!record) throw new AppError("NOT_FOUND", "tenant not found");
    let unwrapped = unwrapTenantKey(ring, record);
    if (!unwrapped.ok && unwrapped.reason === "UNKNOWN_MASTER_VERSION") {
      reload();
      unwrapped = unwrapTenantKey(ring, record);
    }
    if (!unwrapped.ok) throw new Error(`the data key of ${tenantId} does not unwrap: ${unwrapped.reason}`);
    dataKeys.set(tenantId, unwrapped.dataKey);
    return unwrapped.dataKey;
  }

  const service = {
    /** Creates and stores (inside the caller's control transaction) a new wrapped data key. */
    async provision(tx: SqlExecutor, tenantId: string, now: number): Promise<void> {
      reload();
      const { record, dataKey: key } = createTenantKey(ring, tenantId);
      await tenantKeysStore.insert(tx, record, now);
      dataKeys.set(tenantId, key);
    },

    /** Provisions a key for `tenantId` unless one exists (the instance chain, tenants from before keys). */
    async ensure(tenantId: string): Promise<void> {
      if (await tenantKeysStore.get(storage.control, tenantId)) return;
      const now = clock.now();
      try {
        await storage.control.transaction((tx) => service.provision(tx, tenantId, now));
      } catch (err) {
        // Gateways starting together on one database race here: the loser's key never committed,
        // so it keeps the winner's (read on first use) instead of failing its start.
        service.forget(tenantId);
        if (await tenantKeysStore.get(storage.control, tenantId)) return;
        throw err;
      }
    },

    /** Every master key version held, so another key (the credential key) can be refused if equal. */
    masterKeys(): Buffer[] {
      return ring.versions.map((v) => v.key);
    },

    /** True when a wrapped key exists (false once a tenant was crypto-shredded). */
    async exists(tenantId: string): Promise<boolean> {
      return (await tenantKeysStore.get(storage.control, tenantId)) !== undefined;
    },

    async cipher(tenantId: string): Promise<TenantCipher> {
      const cached = ciphers.get(tenantId);
      if (cached && (await stillHeld(tenantId))) return cached;
      const cipher = createTenantCipher(await dataKey(tenantId), tenantId, {
        blindIndexBytes: BLIND_INDEX_BYTES,
      });
      ciphers.set(tenantId, cipher);
      return cipher;
    },

    /** The HMAC key of a tenant's audit chain (or of the instance chain). */
    async auditKey(chainId: string): Promise<KeyObject> {
      const cached = auditKeys.get(chainId);
      if (cached && (await stillHeld(chainId))) return cached;
      const key = createSecretKey(deriveSubkey(await dataKey(chainId), chainId, "audit-hmac"));
      auditKeys.set(chainId, key);
      return key;
    },

    /** Drops every cached key of a tenant (after its wrapped key was deleted). */
    forget(tenantId: string): void {
      dataKeys.delete(tenantId);
      ciphers.delete(tenantId);
      auditKeys.delete(tenantId);
    },

    /** Drops every cached key (after invalidation messages may have been missed). */
    forgetAll(): void {
      dataKeys.clear();
      ciphers.clear();
      auditKeys.clear();
    },

    /** Deletes the wrapped key inside the caller's transaction: crypto-shredding. */
    shred: (tx: SqlExecutor, tenantId: string) => tenantKeysStore.remove(tx, tenantId),

    /**
     * `keys rotate-master`: a new master version becomes active in the keyring file, then every wrapped
     * key is re-wrapped under it, one record per transaction. The data keys do not change, so no field
     * is re-encrypted and reads go on throughout; a server holding the old keyring reloads it when it
     * meets the new version. With `retire`, versions no record uses any more are then dropped, so backups
     * of the control database taken before the rotation no longer unwrap.
     */
    async rotateMaster(actor: Actor, opts: { retire: boolean }, audit: AuditSink): Promise<RotationReport> {
      authorize(actor, "keys:rotate_master");
      if (loaded.source === "env" || keyringPath === null) {
        throw new AppError(
          "CONFLICT",
          "the master key comes from HYPHA_MASTER_KEY: add a new version to the list (<version>:<base64>,…) and restart, then run this again with a keyring file",
        );
      }
      reload();
      ring = addMasterKeyVersion(ring, clock);
      writeKeyringFile(keyringPath, ring);
      const report: RotationReport = {
        active_version: ring.activeVersion,
        rewrapped: 0,
        already_current: 0,
        failed: [],
        retired_versions: [],
      };
      for (const record of await tenantKeysStore.all(storage.control)) {
        const result = rewrapTenantKey(ring, record);
        if (!result.ok) report.failed.push({ tenant_id: record.tenantId, reason: result.reason });
        else if (!result.changed) report.already_current++;
        else {
          const now = clock.now();
          await storage.control.transaction((tx) => tenantKeysStore.replace(tx, record, result.record, now));
          report.rewrapped++;
        }
      }
      if (opts.retire) {
        for (const v of ring.versions.map((x) => x.version)) {
          if (v === ring.activeVersion) continue;
          const inUse = (await tenantKeysStore.all(storage.control)).map((r) => r.masterVersion);
          const retired = retireMasterKeyVersion(ring, v, inUse);
          if (retired.ok) {
            ring = retired.ring;
            report.retired_versions.push(v);
          }
        }
        writeKeyringFile(keyringPath, ring);
      }
      const now = clock.now();
      await storage.control.transaction((tx) =>
        audit(
          tx,
          {
            tenantId: null,
            actor,
            action: "keys.master_rotated",
            origin: actor.origin,
            details: {
              active_version: report.active_version,
              rewrapped: report.rewrapped,
              failed: report.failed.length,
              retired_versions: report.retired_versions,
            },
          },
          now,
        ),
      );
      return report;
    },

    /** Master versions in the keyring (for the doctor and the rotation report). */
    masterVersions: () => ring.versions.map((v) => v.version),
  };
  return service;
}

export type TenantKeys = Awaited<ReturnType<typeof openTenantKeys>>;
