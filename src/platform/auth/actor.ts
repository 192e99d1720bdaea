import { AppError } from "../../lib/errors.ts";

/** Scopes an agent key can carry. */
export const SCOPES = ["memories:read", "memories:write", "tenant:admin", "audit:read"] as const;
export type Scope = (typeof SCOPES)[number];

/** The typed vocabulary of actions a service checks before it does anything. */
export const ACTIONS = {
  "tenants:create": "instance",
  "tenants:read": "instance",
  "tenants:delete": "instance",
  "keys:rotate_master": "instance",
  "vault:export": "instance",
  "vault:import": "instance",
  "keys:create": "tenant:admin",
  "keys:read": "tenant:admin",
  "keys:revoke": "tenant:admin",
  "memories:read": "memories:read",
  "memories:write": "memories:write",
  "memories:delete": "memories:write",
  "memories:export": "memories:read",
  "metrics:read": "instance",
  "audit:read": "audit:read",
  "audit:verify": "audit:read",
  "connectors:manage": "tenant:admin",
  "connectors:read": "tenant:admin",
  "deadletters:manage": "tenant:admin",
  "stream:read": "tenant:admin",
  "webhooks:manage": "tenant:admin",
} as const satisfies Record<string, Scope | "instance">;
export type Action = keyof typeof ACTIONS;

/** Where a request came from: carried into audit events and logs. */
export type RequestOrigin = { requestId: string; ip: string; userAgent: string | null };

/**
 * Who is calling. Services receive it explicitly; nothing reads a "current user" global.
 * The instance admin manages tenants and keys but owns no tenant data.
 */
export type Actor =
  | { type: "instance_admin"; id: "instance_admin"; tenantId: null; origin: RequestOrigin }
  | {
      type: "agent";
      id: string; // key id
      tenantId: string;
      agent: string;
      scopes: readonly Scope[];
      namespaces: readonly string[] | null;
      origin: RequestOrigin;
    };

export type AgentActor = Extract<Actor, { type: "agent" }>;

/** Throws unless the actor may perform `action` at all (scope check; tenant and namespace come after). */
export function authorize(actor: Actor, action: Action): void {
  const needs = ACTIONS[action];
  if (actor.type === "instance_admin") {
    if (needs === "instance" || needs === "tenant:admin" || needs === "audit:read") return;
    throw new AppError("FORBIDDEN", "the instance admin key cannot act on tenant data; use a tenant key");
  }
  if (needs === "instance") throw new AppError("FORBIDDEN", "this action needs the instance admin key");
  if (!actor.scopes.includes(needs)) {
    throw new AppError("INSUFFICIENT_SCOPE", `this action needs the scope ${needs}`);
  }
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
