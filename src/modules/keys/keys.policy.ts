/**
 * What an API key may do, decided once when the key is verified.
 *
 * A key holds scopes and, optionally, capabilities. Each scope grants a set of action levels,
 * optionally limited to capability prefixes; the legacy scopes are aliases of that form:
 *
 * | scope            | levels               | limited to                          |
 * |------------------|----------------------|-------------------------------------|
 * | `read`           | read                 | —                                   |
 * | `write`          | read, write          | —                                   |
 * | `admin`          | read, write, admin   | —                                   |
 * | `memories:read`  | read                 | `memories`                          |
 * | `memories:write` | write                | `memories`                          |
 * | `tenant:admin`   | admin                | `keys`, `users`, `tenant`, `grants`, |
 * |                  |                      | `connectors`, `webhooks`, `stream`, |
 * |                  |                      | `credentials`                       |
 * | `audit:read`     | admin                | `audit` (read and verify the trail) |
 *
 * An action is allowed when some scope grants its level and covers its capability, and, when the
 * key lists capabilities, one of them covers the action's capability too (capabilities narrow, they
 * never widen). Capabilities match on whole segments (`memories.recall` never covers
 * `memories.recall_all`). Actions of level `any` (docs, reading the own tenant) need no scope.
 */
import {
  type Action,
  type ActionRule,
  actionNames,
  actionRule,
  type Scope,
} from "../../platform/auth/actor.ts";
import { hasCapability } from "../identity/capabilities.ts";

type ScopeGrant = { levels: readonly ActionRule["level"][]; capabilities: readonly string[] | null };

export const SCOPE_GRANTS: Record<Scope, ScopeGrant> = {
  read: { levels: ["read"], capabilities: null },
  write: { levels: ["read", "write"], capabilities: null },
  admin: { levels: ["read", "write", "admin"], capabilities: null },
  "memories:read": { levels: ["read"], capabilities: ["memories"] },
  "memories:write": { levels: ["write"], capabilities: ["memories"] },
  "tenant:admin": {
    levels: ["admin"],
    capabilities: ["keys", "users", "tenant", "grants", "connectors", "webhooks", "stream", "credentials"],
  },
  "audit:read": { levels: ["admin"], capabilities: ["audit"] },
};

function isScope(value: string): value is Scope {
  return Object.hasOwn(SCOPE_GRANTS, value);
}

/** The set of actions a key with these scopes and capabilities may perform. Unknown scopes grant nothing. */
export function actionsForKey(
  scopes: readonly string[],
  capabilities: readonly string[] | null,
): Set<Action> {
  const grants = scopes.filter(isScope).map((s) => SCOPE_GRANTS[s]);
  const out = new Set<Action>();
  for (const action of actionNames()) {
    const r = actionRule(action);
    if (r === undefined) continue;
    if (r.level === "instance") continue;
    if (r.level === "any") {
      out.add(action);
      continue;
    }
    const byScope = grants.some(
      (g) =>
        g.levels.includes(r.level) &&
        (g.capabilities === null || hasCapability(g.capabilities, r.capability)),
    );
    if (!byScope) continue;
    if (capabilities !== null && !hasCapability(capabilities, r.capability)) continue;
    out.add(action);
  }
  return out;
}
