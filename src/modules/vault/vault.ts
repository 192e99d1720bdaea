import { mkdirSync } from "node:fs";
import type { TenantCipher } from "../../lib/crypto/index.ts";
import type { Logger } from "../../lib/logger.ts";
import { safeJoin } from "../../lib/names.ts";
import { createThreadCalls } from "../../lib/thread-calls.ts";
import type { Memory } from "../memories/memories.schemas.ts";
import type { MemoryVault } from "../memories/memories.service.ts";
import { encryptingCodec, plainCodec, type RowCodec } from "../memories/row-codec.ts";
import type { EncryptionMode, StorageMode } from "../tenants/tenants.schemas.ts";

export type VaultDeps = {
  dataDir: string;
  cipher(tenantId: string): Promise<TenantCipher>;
  /** The tenant's storage choices, from the control database. */
  modes(tenantId: string): Promise<{ encryption: EncryptionMode; storage: StorageMode }>;
  /** False while other gateways' invalidation may be missed: codecs are then rebuilt (read through). */
  trustCache?: () => boolean;
  /** Where a live markdown tenant's write that left memories without their file is reported. */
  logger: Pick<Logger, "warn">;
};

/** Where a markdown tenant's files live: `vaults/<tenant_id>/memories/`. */
export const markdownDir = (dataDir: string, tenantId: string) =>
  safeJoin(dataDir, "vaults", tenantId, "memories");

/** One change of a markdown tenant's files, as the mirror's thread applies it. */
export type MirrorChange =
  | { op: "write"; dir: string; memories: readonly Memory[] }
  | { op: "remove"; dir: string; ids: readonly string[] };

/**
 * Per-tenant storage: the row codec (sealed or plain) and, for `markdown` tenants, the plain-file
 * mirror updated after every committed write and delete. The files are written on one thread of
 * their own (mirror.worker.ts), in the order the changes were committed; a write or delete answers
 * once its files are in place.
 */
export function createVault(deps: VaultDeps): MemoryVault & {
  created(tenantId: string): Promise<void>;
  forget(tenantId: string): Promise<void>;
  close(): Promise<void>;
} {
  const mirror = createThreadCalls<MirrorChange, number>(
    new URL("./mirror.worker.ts", import.meta.url),
    "markdown mirror",
  );
  const modes = new Map<string, { encryption: EncryptionMode; storage: StorageMode }>();
  /** Tenants deleted while this process runs (ids are never reused). */
  const gone = new Set<string>();
  const codecs = new Map<string, RowCodec>();
  const modeOf = async (tenantId: string) => {
    let m = modes.get(tenantId);
    if (!m) {
      m = await deps.modes(tenantId);
      modes.set(tenantId, m);
    }
    return m;
  };
  return {
    async codec(tenantId) {
      const trusted = deps.trustCache?.() ?? true;
      if (!trusted) modes.delete(tenantId);
      const cached = codecs.get(tenantId);
      if (cached && trusted) return cached;
      const codec =
        (await modeOf(tenantId)).encryption === "aes-gcm"
          ? encryptingCodec(await deps.cipher(tenantId))
          : plainCodec;
      codecs.set(tenantId, codec);
      return codec;
    },
    async written(tenantId, memories: readonly Memory[]) {
      if ((await modeOf(tenantId)).storage !== "markdown" || gone.has(tenantId)) return;
      const done = await mirror.call({ op: "write", dir: markdownDir(deps.dataDir, tenantId), memories });
      // The thread writes nothing once the tenant's folder is gone, which is right after a deletion;
      // for a tenant still live it means someone removed the folder, and the files are missing.
      if (done < memories.length && !gone.has(tenantId))
        deps.logger.warn(
          { tenantId, written: done, memories: memories.length },
          "markdown mirror: memories committed without their file (the tenant's folder is missing)",
        );
    },
    async removed(tenantId, ids) {
      if (ids.length === 0 || (await modeOf(tenantId)).storage !== "markdown" || gone.has(tenantId)) return;
      await mirror.call({ op: "remove", dir: markdownDir(deps.dataDir, tenantId), ids });
    },
    // A markdown tenant's folder is made with the tenant: the mirror's thread makes nothing but the
    // memories folder inside it, so a write finishing after a deletion cannot make it again. (On
    // SQLite the vault file's folder exists already; on PostgreSQL nothing else may have made it.)
    async created(tenantId) {
      if ((await modeOf(tenantId)).storage === "markdown")
        mkdirSync(markdownDir(deps.dataDir, tenantId), { recursive: true, mode: 0o700 });
    },
    // A deleted tenant's file changes already sent finish before its folder is removed.
    async forget(tenantId) {
      // A write still finishing for the deleted tenant (its mode read just before) sends no files.
      gone.add(tenantId);
      modes.delete(tenantId);
      codecs.delete(tenantId);
      await mirror.drain();
    },
    close: () => mirror.close(),
  };
}
