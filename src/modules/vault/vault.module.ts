import { defineModule } from "../../platform/module.ts";
import type { MemoryVault } from "../memories/memories.service.ts";
import { createVaultFiles } from "./vault.files.ts";
import { createVault } from "./vault.ts";

export type VaultApi = {
  /** The row codec per tenant (sealed or plain) and the markdown mirror of `markdown` tenants. */
  vault: MemoryVault;
  /** `hypha vault export|import`: a tenant's memories as plain markdown files. */
  files: ReturnType<typeof createVaultFiles>;
};

declare module "../../platform/module.ts" {
  interface ModuleApis {
    vault: VaultApi;
  }
}

/** How a tenant's memories are kept: sealed or plain rows, and the markdown mirror. */
export const vaultModule = defineModule({
  name: "vault",
  create(ctx) {
    const tenants = ctx.use("tenants");
    const vault = createVault({
      dataDir: ctx.config.dataDir,
      cipher: ctx.use("tenantKeys").cipher,
      trustCache: () => ctx.invalidation.reliable(),
      logger: ctx.logger,
      modes: async (tenantId) => {
        const row = await tenants.requireActive(tenantId);
        return { encryption: row.encryption, storage: row.storage };
      },
    });
    tenants.onCreated((tenantId) => vault.created(tenantId));
    tenants.onDeleted((tenantId) => vault.forget(tenantId));
    // The files commands read and write through the memories service, built after this module.
    const files = createVaultFiles({
      memories: {
        vaultExport: (actor, tenantId) => ctx.use("memories").vaultExport(actor, tenantId),
        vaultImport: (actor, tenantId, memories) =>
          ctx.use("memories").vaultImport(actor, tenantId, memories),
      },
      requireTenant: tenants.requireActive,
    });
    return { api: { vault, files }, close: () => vault.close() };
  },
});
