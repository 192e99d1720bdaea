import type { Clock } from "../../lib/clock.ts";
import type { Actor } from "../../platform/auth/actor.ts";
import type { Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "./audit.trail.ts";

export type DenialDetails = { code: string; method: string; route: string; tool?: string };

/**
 * Records a refused request (403, 423, 429) in the caller's tenant chain, or in the instance chain
 * for the instance admin and anonymous callers. The HTTP chokepoint and the MCP tools both use it,
 * so a denial reads the same whichever door it was refused at.
 */
export function createDenialAudit(deps: { append: AuditSink; storage: Storage; clock: Clock }) {
  return async function recordDenial(
    actor: Actor | null,
    origin: Actor["origin"] | undefined,
    details: DenialDetails,
  ): Promise<void> {
    const event = {
      actor: actor ?? { type: "anonymous" as const, id: "anonymous" },
      action: "access.denied" as const,
      outcome: "denied" as const,
      origin,
      details,
    };
    const now = deps.clock.now();
    if (actor && actor.tenantId !== null) {
      const tenantId = actor.tenantId;
      const db = await deps.storage.tenant(tenantId);
      await db.transaction((tx) => deps.append(tx, { ...event, tenantId }, now));
      return;
    }
    await deps.storage.control.transaction((tx) => deps.append(tx, { ...event, tenantId: null }, now));
  };
}

export type DenialAudit = ReturnType<typeof createDenialAudit>;
