import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import { type CreateTenantInput, type Tenant, type TenantRow, toTenant } from "./tenants.schemas.ts";
import { tenantsStore } from "./tenants.store.ts";

export type TenantsDeps = {
  storage: Storage;
  clock: Clock;
  audit: AuditSink;
  /** Wraps a new data key for the tenant inside the creating transaction. */
  provisionKey: (tx: SqlExecutor, tenantId: string, now: number) => Promise<void>;
  /** Deletes the wrapped data key inside the deleting transaction (crypto-shredding). */
  shredKey: (tx: SqlExecutor, tenantId: string) => Promise<unknown>;
  /**
   * Tells the other gateways of a deletion made here. Not a deletion listener: `forgetDeleted` runs
   * those for a deletion heard from another gateway, which must not announce it again.
   */
  announceDeleted?: (tenantId: string) => void;
};

/** Runs after a tenant's creation or deletion commits (per-tenant setup, dropping caches and files). */
export type TenantListener = (tenantId: string) => Promise<void> | void;

export function createTenantsService(deps: TenantsDeps) {
  const { storage, clock, audit } = deps;
  const created: TenantListener[] = [];
  const deleted: TenantListener[] = [];
  return {
    /** Other modules' per-tenant setup (e.g. the tenant's own token signing secret). */
    onCreated(listener: TenantListener): void {
      created.push(listener);
    },
    /** Other modules drop what they hold for a deleted tenant (keys, caches, files). */
    onDeleted(listener: TenantListener): void {
      deleted.push(listener);
    },

    /** Every tenant id, in id order (paged internally). */
    async allIds(): Promise<string[]> {
      const ids: string[] = [];
      let after = "";
      for (;;) {
        const page = await tenantsStore.ids(storage.control, after, 500);
        if (page.length === 0) return ids;
        ids.push(...page);
        after = page.at(-1) ?? after;
      }
    },

    async create(actor: Actor, input: CreateTenantInput): Promise<Tenant> {
      authorize(actor, "tenants:create");
      const now = clock.now();
      const storageMode = input.storage ?? "sqlite";
      const row: TenantRow = {
        id: newId("tenant", now),
        name: input.name,
        status: "active",
        encryption: input.encryption ?? (storageMode === "markdown" ? "none" : "aes-gcm"),
        storage: storageMode,
        created_at: now,
      };
      await storage.control.transaction(async (tx) => {
        if (await tenantsStore.byName(tx, input.name)) {
          throw new AppError("CONFLICT", "a tenant with that name exists");
        }
        await tenantsStore.insert(tx, row);
        await deps.provisionKey(tx, row.id, now);
        await audit(
          tx,
          {
            tenantId: null,
            actor,
            action: "tenant.created",
            targetIds: [row.id],
            origin: actor.origin,
            details: { encryption: row.encryption, storage: row.storage },
          },
          now,
        );
      });
      await storage.tenant(row.id);
      for (const listener of created) await listener(row.id);
      return toTenant(row);
    },

    async list(actor: Actor, page: { after?: string | undefined; limit: number }) {
      authorize(actor, "tenants:read");
      const now = clock.now();
      const rows = await storage.control.transaction(async (tx) => {
        const found = await tenantsStore.list(tx, page.after ?? "", page.limit + 1);
        await audit(
          tx,
          {
            tenantId: null,
            actor,
            action: "tenant.listed",
            origin: actor.origin,
            details: { count: found.length },
          },
          now,
        );
        return found;
      });
      const items = rows.slice(0, page.limit).map(toTenant);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async get(actor: Actor, tenantId: string): Promise<Tenant> {
      authorizeTenantPath(actor, tenantId, "read");
      const now = clock.now();
      const row = await storage.control.transaction(async (tx) => {
        const found = await tenantsStore.byId(tx, tenantId);
        if (!found) throw new AppError("NOT_FOUND", "tenant not found");
        await audit(
          tx,
          { tenantId: null, actor, action: "tenant.read", targetIds: [tenantId], origin: actor.origin },
          now,
        );
        return found;
      });
      return toTenant(row);
    },

    /**
     * Deletes a tenant: its row, its keys' index, and its wrapped data key in one transaction (the
     * key is gone, so copies of the vault, backups included, cannot be decrypted), then its vault.
     */
    async remove(actor: Actor, tenantId: string): Promise<{ id: string; deleted: true }> {
      authorize(actor, "tenants:delete");
      const now = clock.now();
      await storage.control.transaction(async (tx) => {
        const found = await tenantsStore.byId(tx, tenantId);
        if (!found) throw new AppError("NOT_FOUND", "tenant not found");
        await deps.shredKey(tx, tenantId);
        await storage.eraseTenantRows(tx, tenantId);
        await tenantsStore.remove(tx, tenantId);
        await audit(
          tx,
          {
            tenantId: null,
            actor,
            action: "tenant.deleted",
            targetIds: [tenantId],
            origin: actor.origin,
            details: { name: found.name, crypto_shredded: true },
          },
          now,
        );
      });
      for (const listener of deleted) await listener(tenantId);
      deps.announceDeleted?.(tenantId);
      await storage.dropTenant(tenantId);
      return { id: tenantId, deleted: true };
    },

    /** Resolves an existing, active tenant or throws NOT_FOUND (used before touching a vault). */
    /** Runs the deletion listeners for a tenant deleted by another gateway (drops this one's caches). */
    async forgetDeleted(tenantId: string): Promise<void> {
      for (const listener of deleted) await listener(tenantId);
    },

    async requireActive(tenantId: string): Promise<TenantRow> {
      const row = await tenantsStore.byId(storage.control, tenantId);
      if (row?.status !== "active") throw new AppError("NOT_FOUND", "tenant not found");
      return row;
    },
  };
}

export type TenantsService = ReturnType<typeof createTenantsService>;

/** What other modules need of tenants: resolving an active one before touching its data. */
export type TenantLookup = Pick<TenantsService, "requireActive">;
