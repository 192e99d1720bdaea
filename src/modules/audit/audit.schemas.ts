import type { RequestOrigin } from "../../platform/auth/actor.ts";

/** Typed event names: `<object>.<verb in past tense>`. */
export type AuditAction =
  | "tenant.created"
  | "key.created"
  | "key.revoked"
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
  | "access.denied";

export type AuditEventInput = {
  tenantId: string | null;
  actor: { type: "instance_admin" | "agent" | "system" | "anonymous"; id: string };
  action: AuditAction;
  targetIds?: string[];
  outcome?: "success" | "denied" | "error";
  origin?: RequestOrigin | undefined;
  /** Never content, never secrets: ids, counts, codes. */
  details?: Record<string, unknown>;
};
