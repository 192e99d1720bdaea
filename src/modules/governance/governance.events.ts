import type { BusEventType, EventBus } from "../../platform/events/bus.ts";
import type { GovernanceEvent } from "./governance.service.ts";

/** Bus names of governance events: freezes and lifts are both `killswitch.changed`. */
const BUS_TYPE: Record<GovernanceEvent["type"], BusEventType> = {
  "approval.requested": "approval.requested",
  "approval.decided": "approval.decided",
  "agent.frozen": "killswitch.changed",
  "agent.unfrozen": "killswitch.changed",
  "agent.paused": "agent.paused",
  "agent.resumed": "agent.resumed",
  "anomaly.recall_volume": "anomaly.recall_volume",
};

/**
 * Puts a governance event on the event bus (live stream, outbound webhooks). Governance announces
 * after its transaction commits. A global freeze (no tenant) is announced to every tenant.
 */
export function governanceToBus(deps: { events: EventBus; allTenantIds: () => Promise<string[]> }) {
  const put = (tenantId: string, event: GovernanceEvent) => {
    const data =
      event.type === "agent.frozen" || event.type === "agent.unfrozen"
        ? { frozen: event.type === "agent.frozen", ...event.data }
        : event.data;
    deps.events.publish(tenantId, BUS_TYPE[event.type], data);
  };
  return async (event: GovernanceEvent): Promise<void> => {
    if (event.tenantId !== null) {
      put(event.tenantId, event);
      return;
    }
    for (const tenantId of await deps.allTenantIds()) put(tenantId, event);
  };
}
