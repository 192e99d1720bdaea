import { type ActionRule, type Actor, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { tenantKeysMigrations } from "./tenant-keys.migrations.ts";
import {
  INSTANCE_CHAIN,
  openTenantKeys,
  type RotationReport,
  type TenantKeys,
} from "./tenant-keys.service.ts";

export const tenantKeysActions = {
  "keys:rotate_master": rule("instance", "keys.master.rotate"),
} as const satisfies Record<string, ActionRule>;

export const tenantKeysEvents = ["keys.master_rotated"] as const;

export type TenantKeysApi = Omit<TenantKeys, "rotateMaster"> & {
  /** Re-wraps every tenant data key under a new master key version (audited in the instance chain). */
  rotateMaster(actor: Actor, opts: { retire: boolean }): Promise<RotationReport>;
};

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof tenantKeysActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof tenantKeysEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    tenantKeys: TenantKeysApi;
  }
}

/** Encryption at rest: per-tenant data keys wrapped by the master keyring. First in the list. */
export const tenantKeysModule = defineModule({
  name: "tenantKeys",
  migrations: tenantKeysMigrations,
  actions: tenantKeysActions,
  events: tenantKeysEvents,
  suspicious: ["keys.master_rotated"],
  async create(ctx) {
    const { config } = ctx;
    const keys = await openTenantKeys({
      storage: ctx.storage,
      clock: ctx.clock,
      source: { dataDir: config.dataDir, masterKey: config.masterKey, masterKeyFile: config.masterKeyFile },
      trustCache: () => ctx.invalidation.reliable(),
    });
    await keys.ensure(INSTANCE_CHAIN);
    // Cached before any control transaction needs it (it must not read the control database inside one).
    await keys.auditKey(INSTANCE_CHAIN);
    return {
      api: {
        ...keys,
        rotateMaster: (actor, opts) => keys.rotateMaster(actor, opts, ctx.use("audit").append),
      },
    };
  },
});
