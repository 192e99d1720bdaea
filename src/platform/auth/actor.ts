import { AppError } from "../../lib/errors.ts";

/** Legacy scopes an agent key can carry, kept as aliases (see `keyGrants` in the keys module). */
export const LEGACY_SCOPES = ["memories:read", "memories:write", "tenant:admin", "audit:read"] as const;
export type LegacyScope = (typeof LEGACY_SCOPES)[number];
/** Coarse scopes: admin ⊇ write ⊇ read. */
export const COARSE_SCOPES = ["read", "write", "admin"] as const;
export type CoarseScope = (typeof COARSE_SCOPES)[number];
export const SCOPES = [...COARSE_SCOPES, ...LEGACY_SCOPES] as const;
export type Scope = (typeof SCOPES)[number];

/** Roles of people. ADMIN satisfies every role check of its tenant. */
export const ROLES = ["ADMIN", "AUDIT_ADMIN", "DEVELOPER", "VIEWER"] as const;
export type Role = (typeof ROLES)[number];

/**
 * An action's requirement. `level` is the coarse scope a key needs (`instance`: only the instance
 * admin; `any`: any authenticated caller); `capability` is the fine-grained name a key's
 * capabilities must cover; `roles` are the user roles allowed besides ADMIN.
 */
export type ActionRule = {
  level: CoarseScope | "instance" | "any";
  capability: string;
  roles: readonly Role[];
};

export const rule = (
  level: ActionRule["level"],
  capability: string,
  roles: readonly Role[] = [],
): ActionRule => ({
  level,
  capability,
  roles,
});
/** Roles that read a tenant's memories besides ADMIN. */
export const READERS: readonly Role[] = ["DEVELOPER", "VIEWER"];

/** The platform's own actions (API reference, metrics); every module adds its own. */
export const ACTIONS = {
  "platform:docs": rule("any", "platform.docs", ["DEVELOPER", "VIEWER", "AUDIT_ADMIN"]),
  "metrics:read": rule("instance", "platform.metrics"),
} as const satisfies Record<string, ActionRule>;

/**
 * Actions modules add to the vocabulary, filled by declaration merging next to each module's
 * description (`<feature>.module.ts`) and installed at start from the module list:
 *
 * @example
 * declare module "../../platform/auth/actor.ts" {
 *   interface ActionRegistry extends Record<keyof typeof grantsActions, ActionRule> {}
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each module.
export interface ActionRegistry {}
export type Action = keyof typeof ACTIONS | Extract<keyof ActionRegistry, string>;

const installed = new Map<string, ActionRule>(Object.entries(ACTIONS));

/** Installs the actions a module list declares (idempotent for the same rules). */
export function installActions(rules: ReadonlyMap<string, ActionRule>): void {
  for (const [name, r] of rules) {
    const current = installed.get(name);
    if (current && JSON.stringify(current) !== JSON.stringify(r)) {
      throw new Error(`action ${name} is declared with two different rules`);
    }
    installed.set(name, r);
  }
}

/** The rule of an installed action (undefined: unknown, which every check treats as a denial). */
export function actionRule(action: string): ActionRule | undefined {
  return installed.get(action);
}

/** Every installed action. */
export function actionNames(): Action[] {
  return [...installed.keys()] as Action[];
}

export function isAction(value: unknown): value is Action {
  return typeof value === "string" && installed.has(value);
}

/** The actions a set of roles allows. ADMIN allows every tenant action (never instance actions). */
export function actionsForRoles(roles: readonly Role[]): ReadonlySet<Action> {
  const out = new Set<Action>();
  for (const action of actionNames()) {
    const r = actionRule(action);
    if (r === undefined) continue;
    if (r.level === "instance") continue;
    if (roles.includes("ADMIN") || r.roles.some((role) => roles.includes(role))) out.add(action);
  }
  return out;
}

/** Where a request came from: carried into audit events and logs. */
export type RequestOrigin = { requestId: string; ip: string; userAgent: string | null };

/**
 * Who is calling. Services receive it explicitly; nothing reads a "current user" global.
 * The instance admin manages tenants and keys but owns no tenant data. Agents (keys) and users
 * (people) carry `actions`: what they may do, computed once when their credential was verified.
 */
export type Actor =
  | { type: "instance_admin"; id: "instance_admin"; tenantId: null; origin: RequestOrigin }
  | {
      type: "agent";
      id: string; // key id
      tenantId: string;
      agent: string;
      scopes: readonly string[];
      /** Fine-grained capabilities the key is limited to (null: not limited). */
      capabilities: readonly string[] | null;
      actions: ReadonlySet<Action>;
      namespaces: readonly string[] | null;
      origin: RequestOrigin;
    }
  | {
      type: "user";
      id: string; // user id
      tenantId: string;
      email: string;
      roles: readonly Role[];
      actions: ReadonlySet<Action>;
      namespaces: null;
      origin: RequestOrigin;
    };

export type AgentActor = Extract<Actor, { type: "agent" }>;
export type UserActor = Extract<Actor, { type: "user" }>;
export type TenantActor = AgentActor | UserActor;

/** How memories name their author: the agent name of a key, `user:<id>` for a person. */
export function authorName(actor: TenantActor): string {
  return actor.type === "agent" ? actor.agent : `user:${actor.id}`;
}

/**
 * Throws unless the actor may perform `action` at all (tenant and namespace checks come after).
 * Fails closed: an unknown action or actor type denies.
 */
export function authorize(actor: Actor, action: Action): void {
  const r = actionRule(action);
  if (r === undefined) throw new AppError("FORBIDDEN", "unknown action");
  if (actor.type === "instance_admin") {
    if (r.level === "instance" || r.level === "admin" || r.level === "any") return;
    throw new AppError("FORBIDDEN", "the instance admin key cannot act on tenant data; use a tenant key");
  }
  if (r.level === "instance") throw new AppError("FORBIDDEN", "this action needs the instance admin key");
  if (actor.type === "agent") {
    if (actor.actions.has(action)) return;
    throw new AppError("INSUFFICIENT_SCOPE", `this key may not perform ${action}`);
  }
  if (actor.type === "user") {
    if (actor.actions.has(action)) return;
    throw new AppError("FORBIDDEN", `your role does not allow ${action}`);
  }
  throw new AppError("FORBIDDEN", "unknown caller");
}

/**
 * A request addressed to a tenant by path. Another tenant's path answers 404 to reads (it looks
 * absent) and 403 to writes.
 */
export function authorizeTenantPath(actor: Actor, tenantId: string, mode: "read" | "write"): void {
  if (actor.type === "instance_admin") return;
  if (actor.tenantId === tenantId) return;
  if (mode === "read") throw new AppError("NOT_FOUND", "tenant not found");
  throw new AppError("CROSS_TENANT_FORBIDDEN", "this credential belongs to another tenant");
}

/** Throws unless an agent restricted to some namespaces may touch `namespace`. */
export function authorizeNamespace(actor: Actor, namespace: string): void {
  if (actor.type !== "agent" || actor.namespaces === null) return;
  if (!actor.namespaces.some((allowed) => namespaceCovers(allowed, namespace))) {
    throw new AppError("NAMESPACE_FORBIDDEN", `this key may not use the namespace ${namespace}`);
  }
}

/** `team` covers `team`, `team/notes` and `team.notes`, never `teams`. */
export function namespaceCovers(allowed: string, namespace: string): boolean {
  if (allowed === namespace) return true;
  return namespace.startsWith(`${allowed}/`) || namespace.startsWith(`${allowed}.`);
}

/** The namespaces an agent may read within `requested` (null = unrestricted). */
export function visibleNamespaces(actor: Actor, requested: readonly string[] | undefined): string[] | null {
  if (actor.type !== "agent" || actor.namespaces === null) return requested ? [...requested] : null;
  if (!requested || requested.length === 0) return [...actor.namespaces];
  for (const ns of requested) authorizeNamespace(actor, ns);
  return [...requested];
}
