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
  namespaceCovers,
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

/** What a new (or rotated) key would hold. */
export type KeyGrant = {
  agent: string;
  scopes: readonly string[];
  capabilities: readonly string[] | null;
  namespaces: readonly string[] | null;
  rateLimitPerMinute: number | null;
  expiresAt: number | null;
};

/** What a calling key holds, besides its actions: its limits carry over to every key it makes. */
export type GrantingKey = KeyGrant & { actions: ReadonlySet<Action> };

export type GrantCheck = { ok: true } | { ok: false; reason: string };

/** Whether a held grant (`a.b`, `a.b.*`) covers every capability a requested grant covers. */
export function grantCovers(held: string, requested: string): boolean {
  if (!requested.endsWith(".*")) return hasCapability([held], requested);
  const prefix = requested.slice(0, -2);
  return held === requested || hasCapability([held], prefix);
}

/**
 * The first action a key with these scopes and capabilities would allow that `held` does not (the
 * `any`-level actions every key has aside). Undefined: the key would hold nothing beyond `held`.
 */
export function actionBeyond(
  held: ReadonlySet<Action>,
  scopes: readonly string[],
  capabilities: readonly string[] | null,
): Action | undefined {
  for (const action of actionsForKey(scopes, capabilities)) {
    if (actionRule(action)?.level === "any") continue;
    if (!held.has(action)) return action;
  }
  return undefined;
}

/** The scopes a caller holding `held` may give a new key, each on its own (the console offers only these). */
export function grantableScopes(held: ReadonlySet<Action>): Scope[] {
  return (Object.keys(SCOPE_GRANTS) as Scope[]).filter(
    (scope) => actionBeyond(held, [scope], null) === undefined,
  );
}

/** An `admin` key limited by nothing: it may already create people of any role, so it may name any agent. */
function unrestrictedAdmin(key: KeyGrant): boolean {
  return key.scopes.includes("admin") && key.capabilities === null && key.namespaces === null;
}

/**
 * Whether a caller may give a key `grant`: never more than the caller holds.
 *
 * - Every action the new key would allow (besides `any`-level ones every key has) must be one the
 *   caller may perform: for a person, what their roles allow (a DEVELOPER grants `read`, `write`,
 *   `memories:*`, never `admin`, `tenant:admin` or `audit:read`); for a key, its own actions.
 * - A key's limits carry over: a capability-, namespace-, rate- or time-limited key makes only keys
 *   at least as limited (listed explicitly; an omitted limit means none and is refused).
 * - A key makes keys under its own agent name only, unless it is an unrestricted `admin` key: a
 *   key named after another agent would read that agent's private memories and speak as it.
 */
export function checkGrant(
  caller: { type: "user"; actions: ReadonlySet<Action> } | ({ type: "agent" } & GrantingKey),
  grant: KeyGrant,
): GrantCheck {
  const beyond = actionBeyond(caller.actions, grant.scopes, grant.capabilities);
  if (beyond !== undefined) {
    return { ok: false, reason: `the new key would be allowed ${beyond}, which you are not` };
  }
  if (caller.type === "user") return { ok: true };
  if (caller.capabilities !== null) {
    const held = caller.capabilities;
    if (
      grant.capabilities === null ||
      !grant.capabilities.every((c) => held.some((h) => grantCovers(h, c)))
    ) {
      return {
        ok: false,
        reason: `this key is limited to the capabilities ${held.join(", ")}; so is every key it makes`,
      };
    }
  }
  if (caller.namespaces !== null) {
    const held = caller.namespaces;
    if (
      grant.namespaces === null ||
      !grant.namespaces.every((n) => held.some((h) => namespaceCovers(h, n)))
    ) {
      return {
        ok: false,
        reason: `this key is limited to the namespaces ${held.join(", ")}; so is every key it makes`,
      };
    }
  }
  if (
    caller.rateLimitPerMinute !== null &&
    (grant.rateLimitPerMinute === null || grant.rateLimitPerMinute > caller.rateLimitPerMinute)
  ) {
    return {
      ok: false,
      reason: `this key's rate plan is ${caller.rateLimitPerMinute} a minute; a key it makes may not exceed it`,
    };
  }
  if (caller.expiresAt !== null && (grant.expiresAt === null || grant.expiresAt > caller.expiresAt)) {
    return { ok: false, reason: "this key expires; a key it makes must expire no later" };
  }
  if (grant.agent !== caller.agent && !unrestrictedAdmin(caller)) {
    return { ok: false, reason: `this key makes keys for its own agent (${caller.agent}) only` };
  }
  return { ok: true };
}
