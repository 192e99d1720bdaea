import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import { appendAuditEvent } from "../audit/audit.store.ts";
import { type Tenant, type TenantRow, toTenant } from "./tenants.schemas.ts";
import { tenantsStore } from "./tenants.store.ts";

export function createTenantsService(deps: {
  storage: Storage;
  clock: Clock;
  /** Per-tenant setup other modules need at creation (the tenant's own token signing secret). */
  onCreated?: (tenantId: string) => Promise<void>;
}) {
  const { storage, clock } = deps;
  return {
    async create(actor: Actor, input: { name: string }): Promise<Tenant> {
      authorize(actor, "tenants:create");
      const now = clock.now();
      const row: TenantRow = {
        id: newId("tenant", now),
        name: input.name,
        status: "active",
        created_at: now,
      };
      await storage.control.transaction(async (tx) => {
        if (await tenantsStore.byName(tx, input.name)) {
          throw new AppError("CONFLICT", "a tenant with that name exists");
        }
        await tenantsStore.insert(tx, row);
        await appendAuditEvent(
          tx,
          { tenantId: row.id, actor, action: "tenant.created", targetIds: [row.id], origin: actor.origin },
          now,
        );
      });
      await storage.tenant(row.id);
      await deps.onCreated?.(row.id);
      return toTenant(row);
    },

    async list(actor: Actor, page: { after?: string | undefined; limit: number }) {
      authorize(actor, "tenants:read");
      const rows = await tenantsStore.list(storage.control, page.after ?? "", page.limit + 1);
      const items = rows.slice(0, page.limit).map(toTenant);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async get(actor: Actor, tenantId: string): Promise<Tenant> {
      authorizeTenantPath(actor, tenantId, "read");
      const row = await tenantsStore.byId(storage.control, tenantId);
      if (!row) throw new AppError("NOT_FOUND", "tenant not found");
      return toTenant(row);
    },

    /** Resolves an existing, active tenant or throws NOT_FOUND (used before touching a vault). */
    async requireActive(tenantId: string): Promise<TenantRow> {
      const row = await tenantsStore.byId(storage.control, tenantId);
      if (row?.status !== "active") throw new AppError("NOT_FOUND", "tenant not found");
      return row;
    },
  };
}

export type TenantsService = ReturnType<typeof createTenantsService>;
