import type { Clock } from "../../lib/clock.ts";
import { type Actor, authorize, authorizeTenantPath } from "../../platform/auth/actor.ts";
import type { AuditEventView, AuditQuery, VerifyResponse } from "./audit.schemas.ts";
import { type AuditFilters, type AuditRow, auditStore } from "./audit.store.ts";
import { type AuditTrail, INSTANCE_CHAIN, toView } from "./audit.trail.ts";

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : undefined);

/**
 * Reading and verifying the trail. The instance admin reads the instance chain, or any tenant's with
 * `tenant_id`; an agent key with `audit:read` (or `admin`) and an ADMIN or AUDIT_ADMIN person read their
 * own tenant's chain only (another tenant's looks absent). Reading the trail is itself audited.
 */
export function createAuditService(deps: {
  trail: AuditTrail;
  clock: Clock;
  /** Event types an auditor's "suspicious" filter shows (declared by the modules). */
  suspicious: ReadonlySet<string>;
  requireTenant: (tenantId: string) => Promise<unknown>;
}) {
  const { trail, clock } = deps;

  async function chainFor(actor: Actor, tenantId: string | undefined): Promise<string> {
    if (tenantId !== undefined) authorizeTenantPath(actor, tenantId, "read");
    const chain =
      actor.type === "agent" || actor.type === "user" ? actor.tenantId : (tenantId ?? INSTANCE_CHAIN);
    if (chain !== INSTANCE_CHAIN) await deps.requireTenant(chain);
    return chain;
  }

  const eventTenant = (chain: string) => (chain === INSTANCE_CHAIN ? null : chain);

  return {
    async events(
      actor: Actor,
      q: AuditQuery,
    ): Promise<{ items: AuditEventView[]; next_cursor: string | null }> {
      authorize(actor, "audit:read");
      const chain = await chainFor(actor, q.tenant_id);
      const filters: AuditFilters = {
        since: ms(q.since),
        until: ms(q.until),
        actorId: q.actor,
        action: q.action,
        outcome: q.outcome,
        suspicious: q.suspicious === "true" ? { actions: [...deps.suspicious] } : undefined,
      };
      const db = await trail.dbOf(chain);
      const now = clock.now();
      const rows = await db.transaction(async (tx) => {
        const page = await auditStore.page(tx, filters, q.cursor, q.limit + 1);
        await trail.append(
          tx,
          {
            tenantId: eventTenant(chain),
            actor,
            action: "audit.read",
            origin: actor.origin,
            details: { count: Math.min(page.length, q.limit), suspicious: q.suspicious === "true" },
          },
          now,
        );
        return page;
      });
      const items = rows.slice(0, q.limit).map(toView);
      const last = rows.slice(0, q.limit).at(-1) as AuditRow | undefined;
      return { items, next_cursor: rows.length > q.limit && last ? String(last.seq) : null };
    },

    async verify(actor: Actor, tenantId: string | undefined): Promise<VerifyResponse> {
      authorize(actor, "audit:verify");
      const chain = await chainFor(actor, tenantId);
      await trail.flush();
      const result = await trail.verify(chain);
      const db = await trail.dbOf(chain);
      const now = clock.now();
      await db.transaction((tx) =>
        trail.append(
          tx,
          {
            tenantId: eventTenant(chain),
            actor,
            action: "audit.verified",
            outcome: result.ok ? "success" : "error",
            origin: actor.origin,
            details: { ok: result.ok, first_bad_seq: result.first_bad_seq, reason: result.reason },
          },
          now,
        ),
      );
      return result;
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
