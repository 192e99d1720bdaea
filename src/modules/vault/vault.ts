import type { TenantCipher } from "../../lib/crypto/index.ts";
import { safeJoin } from "../../lib/names.ts";
import type { Memory } from "../memories/memories.schemas.ts";
import type { MemoryVault } from "../memories/memories.service.ts";
import { encryptingCodec, plainCodec, type RowCodec } from "../memories/row-codec.ts";
import type { EncryptionMode, StorageMode } from "../tenants/tenants.schemas.ts";
import { removeMarkdownFile, writeMarkdownFile } from "./markdown.ts";

export type VaultDeps = {
  dataDir: string;
  cipher(tenantId: string): Promise<TenantCipher>;
  /** The tenant's storage choices, from the control database. */
  modes(tenantId: string): Promise<{ encryption: EncryptionMode; storage: StorageMode }>;
  /** False while other gateways' invalidation may be missed: codecs are then rebuilt (read through). */
  trustCache?: () => boolean;
};

/** Where a markdown tenant's files live: `vaults/<tenant_id>/memories/`. */
export const markdownDir = (dataDir: string, tenantId: string) =>
  safeJoin(dataDir, "vaults", tenantId, "memories");

/**
 * Per-tenant storage: the row codec (sealed or plain) and, for `markdown` tenants, the plain-file
 * mirror updated after every committed write and delete.
 */
export function createVault(deps: VaultDeps): MemoryVault & { forget(tenantId: string): void } {
  const modes = new Map<string, { encryption: EncryptionMode; storage: StorageMode }>();
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
      if ((await modeOf(tenantId)).storage !== "markdown") return;
      const dir = markdownDir(deps.dataDir, tenantId);
      for (const m of memories) writeMarkdownFile(dir, m);
    },
    async removed(tenantId, ids) {
      if (ids.length === 0 || (await modeOf(tenantId)).storage !== "markdown") return;
      const dir = markdownDir(deps.dataDir, tenantId);
      for (const id of ids) removeMarkdownFile(dir, id);
    },
    forget(tenantId) {
      modes.delete(tenantId);
      codecs.delete(tenantId);
    },
  };
}
