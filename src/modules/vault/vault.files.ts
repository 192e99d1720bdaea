import type { Actor } from "../../platform/auth/actor.ts";
import type { MemoriesService } from "../memories/memories.service.ts";
import { readMarkdownDir, writeMarkdownFile } from "./markdown.ts";

/**
 * `hypha vault export|import`: the same plain-markdown layout a `markdown` tenant keeps in its vault,
 * for any tenant (decrypted on export, sealed again on import).
 */
export function createVaultFiles(deps: {
  memories: Pick<MemoriesService, "vaultExport" | "vaultImport">;
  requireTenant(id: string): Promise<unknown>;
}) {
  return {
    async exportTo(actor: Actor, tenantId: string, dir: string) {
      await deps.requireTenant(tenantId);
      const memories = await deps.memories.vaultExport(actor, tenantId);
      for (const m of memories) writeMarkdownFile(dir, m);
      return { exported: memories.length, dir };
    },
    async importFrom(actor: Actor, tenantId: string, dir: string) {
      await deps.requireTenant(tenantId);
      const { memories, errors } = readMarkdownDir(dir);
      const result = await deps.memories.vaultImport(actor, tenantId, memories);
      return { ...result, errors };
    },
  };
}
