import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import { type CreateGrantInput, type GrantRow, toGrant } from "./grants.schemas.ts";
import { grantsStore } from "./grants.store.ts";

/**
 * Cross-namespace read grants inside a tenant: an admin lets agents of namespace A read namespace B
 * (optionally only some memory types) until an expiry. Grants widen reads only, never writes; recall
 * ranks memories reached through a grant below the caller's own.
 */
export function createGrantsService(deps: {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  audit: AuditSink;
}) {
  const { storage, clock, tenants, audit } = deps;
  return {
    async create(actor: Actor, tenantId: string, input: CreateGrantInput) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "grants:create");
      await tenants.requireActive(tenantId);
      const now = clock.now();
      const expiresAt = input.expires_at ? Date.parse(input.expires_at) : null;
      if (expiresAt !== null && expiresAt <= now) {
        throw new AppError("VALIDATION_FAILED", "expires_at must be in the future", {
          details: [{ path: "body.expires_at", message: "must be in the future" }],
        });
      }
      const row: GrantRow = {
        id: newId("grant", now),
        tenant_id: tenantId,
        grantee_namespace: input.grantee,
        source_namespace: input.namespace,
        types: input.types ? JSON.stringify([...new Set(input.types)].sort()) : null,
        created_at: now,
        expires_at: expiresAt,
        revoked_at: null,
      };
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        await grantsStore.insert(tx, row);
        await audit(
          tx,
          {
            tenantId,
            actor,
            action: "grant.created",
            targetIds: [row.id],
            origin: actor.origin,
            details: { grantee: input.grantee, namespace: input.namespace, types: input.types ?? null },
          },
          now,
        );
      });
      return toGrant(row);
    },

    async list(actor: Actor, tenantId: string, page: { after?: string | undefined; limit: number }) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "grants:read");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const rows = await grantsStore.list(db, tenantId, page.after ?? "", page.limit + 1);
      const items = rows.slice(0, page.limit).map(toGrant);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async revoke(actor: Actor, tenantId: string, grantId: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "grants:revoke");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      return db.transaction(async (tx) => {
        const existing = await grantsStore.byId(tx, tenantId, grantId);
        if (!existing) throw new AppError("NOT_FOUND", "grant not found");
        if (existing.revoked_at === null) {
          await grantsStore.revoke(tx, tenantId, grantId, now);
          await audit(
            tx,
            { tenantId, actor, action: "grant.revoked", targetIds: [grantId], origin: actor.origin },
            now,
          );
        }
        return toGrant((await grantsStore.byId(tx, tenantId, grantId)) as GrantRow);
      });
    },

    /** Active grants of a tenant, for the memories module's visibility clause. */
    async active(tenantId: string, now: number) {
      const db = await storage.tenant(tenantId);
      const rows = await grantsStore.active(db, tenantId, now);
      return rows.map((r) => ({
        grantee: r.grantee_namespace,
        namespace: r.source_namespace,
        types: r.types ? (JSON.parse(r.types) as string[]) : null,
      }));
    },
  };
}

export type GrantsService = ReturnType<typeof createGrantsService>;
