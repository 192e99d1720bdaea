import type { RequestOrigin } from "../../platform/auth/actor.ts";

/** Typed event names: `<object>.<verb in past tense>`. */
export type AuditAction =
  | "tenant.created"
  | "key.created"
  | "key.revoked"
  | "key.rotated"
  | "user.created"
  | "user.updated"
  | "auth.login"
  | "auth.login_failed"
  | "auth.locked"
  | "auth.refreshed"
  | "auth.refresh_reused"
  | "auth.logout"
  | "auth.jwt_rotated"
  | "oidc.configured"
  | "grant.created"
  | "grant.revoked"
  | "key.listed"
  | "memory.created"
  | "memory.read"
  | "memory.listed"
  | "memory.updated"
  | "memory.history_read"
  | "memory.deleted"
  | "memory.bulk_deleted"
  | "memory.recalled"
  | "memory.exported"
  | "memory.expired_purged"
  | "auth.failed"
  | "policy.updated"
  | "approval.requested"
  | "approval.voted"
  | "approval.decided"
  | "approval.consumed"
  | "approval.cancelled"
  | "override.set"
  | "override.lifted"
  | "agent.paused"
  | "agent.resumed"
  | "anomaly.recall_volume"
  | "guardrail.flagged"
  | "guardrail.blocked"
  | "access.denied";

export type AuditEventInput = {
  tenantId: string | null;
  actor: { type: "instance_admin" | "agent" | "user" | "system" | "anonymous"; id: string };
  action: AuditAction;
  targetIds?: string[];
  outcome?: "success" | "denied" | "error";
  origin?: RequestOrigin | undefined;
  /** Never content, never secrets: ids, counts, codes. */
  details?: Record<string, unknown>;
};
