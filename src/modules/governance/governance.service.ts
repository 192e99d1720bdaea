import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import {
  type Action,
  type Actor,
  type AgentActor,
  actionRule,
  authorize,
  authorizeTenantPath,
  type TenantActor,
} from "../../platform/auth/actor.ts";
import type { RateLimiter } from "../../platform/http/rate-limit.ts";
import type { Invalidation } from "../../platform/shared/invalidation.ts";
import type { SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditEventInput } from "../audit/audit.schemas.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import { createErrorRateTracker, createRecallVolumeTracker } from "./anomaly.ts";
import {
  type Approval,
  type ApprovalRow,
  type ApprovalStatus,
  DEFAULT_TIERS,
  type FreezeRow,
  freezeTarget,
  type OverrideInput,
  type RiskTier,
  type TenantPolicy,
  tenantPolicySchema,
  toApproval,
  toFreeze,
} from "./governance.schemas.ts";
import { governanceStore as store } from "./governance.store.ts";
import { type GovernedCall, payloadHash } from "./payload-hash.ts";

/**
 * What governance announces. The composition root hands in `publish`; the event bus plugs in there
 * (a no-op until then). Events carry ids and codes, never payloads or memory content.
 */
export type GovernanceEvent = {
  type:
    | "approval.requested"
    | "approval.decided"
    | "agent.frozen"
    | "agent.unfrozen"
    | "agent.paused"
    | "agent.resumed"
    | "anomaly.recall_volume";
  tenantId: string | null;
  data: Record<string, unknown>;
};

export type GovernanceDeps = {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  /** The chokepoint's limiter: the anomaly rate uses it under its own key, not a second implementation. */
  rateLimiter: RateLimiter;
  keyExists: (tenantId: string, keyId: string) => Promise<boolean>;
  /**
   * Who made a key, as the keys module keeps it (`user:<id>`, `key:<id>`, `instance_admin`); null
   * for a key made before that was kept (the audit trail answers then), undefined for no such key.
   */
  keyMadeBy: (tenantId: string, keyId: string) => Promise<string | null | undefined>;
  /** Every tenant id (a global freeze cancels pending approvals everywhere). */
  allTenantIds: () => Promise<string[]>;
  /** The keyed audit trail's append: every change is audited in its own transaction. */
  audit: AuditSink;
  publish?: (event: GovernanceEvent) => void;
  /** Policy changes reach every gateway's cache; while that may fail, policies are read through. */
  invalidation?: Invalidation;
};

/** Subject of the kill switch: a tenant, optionally one key and its agent name. */
export type AgentSubject = { tenantId: string; keyId?: string | null; agent?: string | null };

/** Operations of the governance routes themselves never wait for approval (no one could decide). */
export const UNGOVERNED_OPERATIONS = new Set([
  "listApprovals",
  "getApproval",
  "approveApproval",
  "rejectApproval",
  "getOverrides",
  "setOverride",
  "getTenantPolicy",
  "putTenantPolicy",
  "resumeKey",
]);

/**
 * Operations whose own service admits them with a tier it decides (the credential broker: the tier
 * of the credential used); the chokepoint's hook leaves them to it.
 */
export const SELF_ADMITTED_OPERATIONS = new Set<string>();

/** How many keys-made-by-keys the owner lookup follows at most. */
const MAX_KEY_CHAIN = 64;

const requesterOf = (actor: TenantActor) => (actor.type === "agent" ? `key:${actor.id}` : `user:${actor.id}`);

/** The tier the tenant's policy gives an operation; unknown operations fall back by action level. */
export function tierOf(policy: TenantPolicy, operation: string, action: Action | undefined): RiskTier {
  const set = policy.tiers[operation] ?? DEFAULT_TIERS[operation];
  if (set) return set;
  const level = (action && actionRule(action)?.level) ?? "admin";
  return level === "read" || level === "any" ? "low" : level === "write" ? "medium" : "high";
}

/**
 * The tenant's near-duplicate policy as the memories module applies it. A store merges into an
 * existing memory only while the policy's `updateMemory` needs no approval: an approved store was
 * approved as a new memory, and a store must never do what an update would have had to wait for.
 */
export function dedupePolicyOf(policy: TenantPolicy): { store: boolean; threshold: number } {
  const updateNeedsApproval = policy.approvals[tierOf(policy, "updateMemory", "memories:write")] > 0;
  return { store: policy.dedupe === "on" && !updateNeedsApproval, threshold: policy.dedupe_threshold };
}

export function createGovernanceService(deps: GovernanceDeps) {
  const { storage, clock } = deps;
  const publish = (e: GovernanceEvent) => {
    try {
      deps.publish?.(e);
    } catch {
      // An announcement must never undo or fail the change it announces.
    }
  };
  const policies = new Map<string, TenantPolicy>();
  deps.invalidation?.subscribe("governance.policy", (tenantId) => {
    if (tenantId === null) policies.clear();
    else policies.delete(tenantId);
  });
  deps.invalidation?.subscribe("tenant.deleted", (tenantId) => {
    if (tenantId === null) policies.clear();
    else policies.delete(tenantId);
  });
  const errorRates = createErrorRateTracker(clock);
  const recallVolumes = createRecallVolumeTracker();

  const audit = (tx: SqlExecutor, e: AuditEventInput) => deps.audit(tx, e, clock.now());
  const actorRef = (actor: Actor) => ({ type: actor.type, id: actor.id });

  async function policyFor(tenantId: string): Promise<TenantPolicy> {
    const cached = policies.get(tenantId);
    if (cached && (deps.invalidation?.reliable() ?? true)) return cached;
    const db = await storage.tenant(tenantId);
    const row = await store.policy(db);
    const policy = tenantPolicySchema.parse(row ? JSON.parse(row.policy) : {});
    policies.set(tenantId, policy);
    return policy;
  }

  /** Cancels pending approvals of frozen agents (one tenant; optionally one key or agent name). */
  async function cancelPending(tenantId: string, match: { keyId?: string; agent?: string }, by: Actor) {
    const db = await storage.tenant(tenantId);
    const now = clock.now();
    return db.transaction(async (tx) => {
      let n = 0;
      for (const p of await store.pendingIds(tx, tenantId, match)) {
        if (
          !(await store.transition(tx, p.id, "pending", p.version, { status: "cancelled", decidedAt: now }))
        )
          continue;
        n++;
        await audit(tx, {
          tenantId,
          actor: actorRef(by),
          action: "approval.cancelled",
          targetIds: [p.id],
          origin: by.origin,
          details: { reason: "frozen" },
        });
      }
      return n;
    });
  }

  /**
   * The person accountable for a key, as `user:<id>`: whoever made it, followed through keys made by
   * keys (and rotations made by keys), so a key a person's key made is still that person's and they
   * cannot approve its requests. Who made a key is kept with it; for a key made before that, the
   * audit trail's `key.created` / `key.rotated` event says. Null when the chain ends at the instance
   * admin or nothing records it.
   */
  async function keyOwner(tenantId: string, db: SqlExecutor, keyId: string): Promise<string | null> {
    const seen = new Set<string>();
    let current = keyId;
    // A maker always existed before what it made, so the chain ends; the bound is for tampered data.
    while (!seen.has(current) && seen.size < MAX_KEY_CHAIN) {
      seen.add(current);
      let maker = await deps.keyMadeBy(tenantId, current);
      if (maker === null) {
        const logged = await store.keyMaker(db, current);
        maker =
          logged?.actor_type === "user" || logged?.actor_type === "agent"
            ? `${logged.actor_type === "user" ? "user" : "key"}:${logged.actor_id}`
            : undefined;
      }
      if (maker?.startsWith("user:")) return maker;
      if (!maker?.startsWith("key:")) return null;
      current = maker.slice("key:".length);
    }
    return null;
  }

  async function pauseKey(tenantId: string, keyId: string, reason: string, details: Record<string, unknown>) {
    const db = await storage.tenant(tenantId);
    const now = clock.now();
    const paused = await db.transaction(async (tx) => {
      if (await store.pause(tx, keyId)) return false;
      await store.insertPause(tx, keyId, reason, now);
      await audit(tx, {
        tenantId,
        actor: { type: "system", id: "anomaly_detector" },
        action: "agent.paused",
        targetIds: [keyId],
        outcome: "denied",
        details: { reason, ...details },
      });
      return true;
    });
    if (paused) publish({ type: "agent.paused", tenantId, data: { key_id: keyId, reason, ...details } });
  }

  return {
    policyFor,

    // ---- policy ----------------------------------------------------------------------------

    async getPolicy(actor: Actor, tenantId: string) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "policy:read");
      await deps.tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const row = await store.policy(db);
      return {
        ...(await policyFor(tenantId)),
        version: row?.version ?? 0,
        updated_at: row ? new Date(row.updated_at).toISOString() : null,
      };
    },

    async putPolicy(actor: Actor, tenantId: string, input: TenantPolicy) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "policy:write");
      await deps.tenants.requireActive(tenantId);
      const policy = tenantPolicySchema.parse(input);
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      const version = await db.transaction(async (tx) => {
        const v = await store.putPolicy(tx, JSON.stringify(policy), now, `${actor.type}:${actor.id}`);
        await audit(tx, {
          tenantId,
          actor: actorRef(actor),
          action: "policy.updated",
          origin: actor.origin,
          details: { version: v, approvals: policy.approvals, anomaly: policy.anomaly },
        });
        return v;
      });
      policies.set(tenantId, policy);
      deps.invalidation?.publish("governance.policy", tenantId);
      return { ...policy, version, updated_at: new Date(now).toISOString() };
    },

    // ---- kill switch and pauses ------------------------------------------------------------

    /**
     * THE kill-switch check: throws 423 AGENT_FROZEN when a global, tenant, key or agent-name freeze
     * covers the subject, and 423 AGENT_PAUSED when the key was paused by the anomaly detector.
     * The chokepoint calls it for every agent request; the connector worker, the outbound sender
     * and MCP tools call it before doing work for a tenant or key. Read from the database each
     * time, so a freeze applies at once, across processes and restarts.
     */
    async checkAgentAllowed(subject: AgentSubject): Promise<void> {
      const freeze = await store.freezeFor(
        storage.control,
        subject.tenantId,
        subject.keyId ?? null,
        subject.agent ?? null,
      );
      if (freeze) throw new AppError("AGENT_FROZEN", `agent work is frozen (${freeze.scope})`);
      if (subject.keyId) {
        const db = await storage.tenant(subject.tenantId);
        if (await store.pause(db, subject.keyId)) {
          throw new AppError(
            "AGENT_PAUSED",
            "this key is paused after anomalous behaviour; a person must resume it",
          );
        }
      }
    },

    /** The kill switch for keyless work of a tenant (ingestion, outbound delivery): false while frozen. */
    async tenantAllowed(tenantId: string): Promise<boolean> {
      try {
        await this.checkAgentAllowed({ tenantId });
        return true;
      } catch (err) {
        if (err instanceof AppError && err.code === "AGENT_FROZEN") return false;
        throw err;
      }
    },

    /** The chokepoint's agent gate: kill switch, pause, then the tenant's anomaly request rate. */
    async gateAgent(actor: AgentActor): Promise<void> {
      await this.checkAgentAllowed({ tenantId: actor.tenantId, keyId: actor.id, agent: actor.agent });
      const a = (await policyFor(actor.tenantId)).anomaly;
      if (!a.enforce) return;
      const d = await deps.rateLimiter.hit(`anomaly:${actor.id}`, a.max_requests_per_minute);
      if (!d.allowed) {
        throw new AppError(
          "RATE_LIMITED",
          `the tenant's anomaly cap (${d.limit} requests a minute per key, policy anomaly.max_requests_per_minute) refused this request`,
          {
            headers: { "retry-after": String(d.resetSeconds) },
            limit: { name: "anomaly_cap", limit: d.limit, window_seconds: 60 },
          },
        );
      }
    },

    async setOverride(actor: Actor, input: OverrideInput) {
      authorize(actor, "governance:override");
      if (input.scope === "global" && actor.type !== "instance_admin") {
        throw new AppError("FORBIDDEN", "only the instance admin sets a global override");
      }
      if (input.tenant_id) {
        authorizeTenantPath(actor, input.tenant_id, "write");
        await deps.tenants.requireActive(input.tenant_id);
      }
      const target = freezeTarget(input);
      const now = clock.now();
      const row: FreezeRow = {
        target,
        scope: input.scope,
        tenant_id: input.tenant_id ?? null,
        agent: input.agent ?? null,
        key_id: input.key_id ?? null,
        reason: input.reason,
        set_by: `${actor.type}:${actor.id}`,
        set_at: now,
      };
      const event: AuditEventInput = {
        tenantId: null,
        actor: actorRef(actor),
        action: input.frozen ? "override.set" : "override.lifted",
        targetIds: [target],
        origin: actor.origin,
        details: { scope: input.scope, reason: input.reason, tenant_id: input.tenant_id ?? null },
      };
      // Freezes live in the control database: the instance chain records the change in the same
      // transaction; the tenant's own chain then records it too (a separate database file).
      await storage.control.transaction(async (tx) => {
        if (input.frozen) await store.upsertFreeze(tx, row);
        else await store.deleteFreeze(tx, target);
        await audit(tx, event);
      });
      if (input.tenant_id) {
        const tenantId = input.tenant_id;
        const db = await storage.tenant(tenantId);
        await db.transaction((tx) => audit(tx, { ...event, tenantId }));
      }
      let cancelled = 0;
      if (input.frozen) {
        const match = {
          ...(input.key_id ? { keyId: input.key_id } : {}),
          ...(input.agent ? { agent: input.agent } : {}),
        };
        const tenantIds = input.tenant_id ? [input.tenant_id] : await deps.allTenantIds();
        for (const t of tenantIds) cancelled += await cancelPending(t, match, actor);
      }
      publish({
        type: input.frozen ? "agent.frozen" : "agent.unfrozen",
        tenantId: input.tenant_id ?? null,
        data: { scope: input.scope, key_id: row.key_id, agent: row.agent, reason: input.reason },
      });
      return { frozen: input.frozen, override: toFreeze(row), cancelled_approvals: cancelled };
    },

    async listOverrides(actor: Actor) {
      authorize(actor, "governance:override");
      const rows = await store.listFreezes(
        storage.control,
        actor.type === "instance_admin" ? null : actor.tenantId,
      );
      return { items: rows.map(toFreeze) };
    },

    /**
     * What stops this key and would not stop a successor with a new id: a pause by the anomaly
     * detector, or a freeze set on the key itself (freezes of its agent name, tenant or everything
     * cover the successor too). Key rotation asks before it hands one out.
     */
    async keyHold(tenantId: string, keyId: string): Promise<{ paused: boolean; frozen: boolean }> {
      const [pause, freeze] = await Promise.all([
        storage.tenant(tenantId).then((db) => store.pause(db, keyId)),
        store.freezeOf(storage.control, freezeTarget({ scope: "agent", tenant_id: tenantId, key_id: keyId })),
      ]);
      return { paused: pause !== undefined, frozen: freeze !== undefined };
    },

    async resume(actor: Actor, tenantId: string, keyId: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "keys:resume");
      await deps.tenants.requireActive(tenantId);
      if (!(await deps.keyExists(tenantId, keyId))) throw new AppError("NOT_FOUND", "key not found");
      const db = await storage.tenant(tenantId);
      const resumed = await db.transaction(async (tx) => {
        const r = await store.deletePause(tx, keyId);
        if (r.changes === 0) return false;
        await audit(tx, {
          tenantId,
          actor: actorRef(actor),
          action: "agent.resumed",
          targetIds: [keyId],
          origin: actor.origin,
        });
        return true;
      });
      errorRates.reset(keyId);
      if (resumed) publish({ type: "agent.resumed", tenantId, data: { key_id: keyId } });
      return { key_id: keyId, paused: false, resumed };
    },

    /**
     * Records the outcome of one agent request; pauses the key when its error rate over the
     * tenant's window exceeds the threshold. Refusals by governance itself (423, 429) and load
     * shedding (503: the server's state, not the agent's behaviour) do not count.
     */
    async recordOutcome(actor: AgentActor, status: number): Promise<void> {
      if (status === 423 || status === 429 || status === 503) return;
      const a = (await policyFor(actor.tenantId)).anomaly;
      if (!a.enforce) return;
      const r = errorRates.record(actor.id, status >= 400, {
        rate: a.error_rate,
        minRequests: a.error_min_requests,
        windowMs: a.error_window_seconds * 1000,
      });
      if (!r.trip) return;
      try {
        await pauseKey(actor.tenantId, actor.id, "error_rate", { requests: r.requests, errors: r.errors });
      } catch (err) {
        // The tenant was deleted while the request ran (its requests fail from then on): nothing of
        // it is left to pause.
        if (err instanceof AppError && err.code === "NOT_FOUND") return;
        throw err;
      }
    },

    /** Flags (audits and announces) a recall answer far larger than the key's running average. */
    async recordRecallVolume(actor: AgentActor, size: number): Promise<void> {
      const a = (await policyFor(actor.tenantId)).anomaly;
      const r = recallVolumes.record(actor.id, size, a.recall_volume_factor, a.recall_min_samples);
      if (!r.anomalous) return;
      const details = { bytes: size, average_bytes: r.average, factor: a.recall_volume_factor };
      const db = await storage.tenant(actor.tenantId);
      await db.transaction((tx) =>
        audit(tx, {
          tenantId: actor.tenantId,
          actor: actorRef(actor),
          action: "anomaly.recall_volume",
          targetIds: [actor.id],
          origin: actor.origin,
          details,
        }),
      );
      publish({
        type: "anomaly.recall_volume",
        tenantId: actor.tenantId,
        data: { key_id: actor.id, ...details },
      });
    },

    // ---- approvals -------------------------------------------------------------------------

    /**
     * Refuses an operation that the tenant's policy puts behind approval, for entry points that
     * cannot answer 202 and be repeated with X-Approval-Id (MCP tools): they must not be a way
     * around the approvals the REST route would ask for.
     */
    async refuseIfApprovalRequired(actor: TenantActor, operation: string, action: Action): Promise<void> {
      if (UNGOVERNED_OPERATIONS.has(operation)) return;
      const policy = await policyFor(actor.tenantId);
      if (policy.approvals[tierOf(policy, operation, action)] === 0) return;
      throw new AppError(
        "APPROVAL_REQUIRED",
        `${operation} needs a person's approval under this tenant's policy: call it through the REST API, which answers 202 with an approval to decide, then repeat it with X-Approval-Id`,
      );
    },

    /**
     * Decides whether a governed call may run now. When its tier needs approval: with no
     * `approvalId`, records a pending approval bound to the call's hash and answers `pending` (the
     * call does not run); with one, consumes that approval (compare-and-swap, single use) if it is
     * approved, unexpired, for this requester and this exact payload, else refuses.
     */
    async admit(
      actor: TenantActor,
      call: Omit<GovernedCall, "requester"> & {
        operation: string;
        action: Action | undefined;
        /** The tier, when the caller decides it (self-admitted operations); else the policy's. */
        tier?: RiskTier;
      },
      approvalId: string | undefined,
    ): Promise<{ run: true } | { run: false; approval: Approval }> {
      if (UNGOVERNED_OPERATIONS.has(call.operation)) return { run: true };
      // A call aimed at another tenant's path is refused by its service; it never becomes an approval.
      const target = (call.params as { tenant_id?: unknown } | null)?.tenant_id;
      if (typeof target === "string" && target !== actor.tenantId) return { run: true };
      const policy = await policyFor(actor.tenantId);
      const tier = call.tier ?? tierOf(policy, call.operation, call.action);
      const required = policy.approvals[tier];
      if (required === 0) return { run: true };
      const requester = requesterOf(actor);
      const hash = payloadHash({ ...call, requester });
      const db = await storage.tenant(actor.tenantId);
      const now = clock.now();

      if (approvalId !== undefined) {
        await db.transaction(async (tx) => {
          const row = await store.approval(tx, actor.tenantId, approvalId);
          if (!row) throw new AppError("NOT_FOUND", "approval not found");
          const refuse = (why: string) => new AppError("APPROVAL_INVALID", why);
          if (row.requester !== requester) throw refuse("this approval was given to another credential");
          if (row.status === "consumed") throw refuse("this approval was already used");
          if (row.status !== "approved") throw refuse(`this approval is ${toApproval(row, now).status}`);
          if (row.expires_at <= now) throw refuse("this approval has expired");
          if (row.payload_hash !== hash) throw refuse("the request differs from the approved one");
          if (
            !(await store.transition(tx, row.id, "approved", row.version, {
              status: "consumed",
              consumedAt: now,
            }))
          ) {
            throw refuse("this approval was already used");
          }
          await audit(tx, {
            tenantId: actor.tenantId,
            actor: actorRef(actor),
            action: "approval.consumed",
            targetIds: [row.id],
            origin: actor.origin,
            details: { operation: call.operation, tier },
          });
        });
        return { run: true };
      }

      const owner = actor.type === "agent" ? await keyOwner(actor.tenantId, db, actor.id) : null;
      const row: ApprovalRow = {
        id: newId("approval", now),
        tenant_id: actor.tenantId,
        requester,
        key_id: actor.type === "agent" ? actor.id : null,
        agent: actor.type === "agent" ? actor.agent : null,
        owner,
        operation: call.operation,
        method: call.method,
        route: call.route,
        tier,
        payload_hash: hash,
        required,
        approvals: 0,
        status: "pending",
        version: 0,
        created_at: now,
        expires_at: now + policy.approval_ttl_seconds * 1000,
        decided_at: null,
        consumed_at: null,
      };
      await db.transaction(async (tx) => {
        await store.insertApproval(tx, row);
        await audit(tx, {
          tenantId: actor.tenantId,
          actor: actorRef(actor),
          action: "approval.requested",
          targetIds: [row.id],
          origin: actor.origin,
          details: { operation: row.operation, tier, required, payload_sha256: hash },
        });
      });
      const approval = toApproval(row, now);
      publish({
        type: "approval.requested",
        tenantId: actor.tenantId,
        data: { approval_id: row.id, operation: row.operation, tier, requester, required },
      });
      return { run: false, approval };
    },

    /**
     * One person's vote. Approvals need `required` distinct people; one rejection rejects. Nobody
     * votes on an action they requested or that a key they created requested; the instance admin
     * and agents never vote. The status moves by compare-and-swap, so concurrent decisions cannot
     * both win.
     */
    async decide(actor: Actor, approvalId: string, decision: "approve" | "reject", comment?: string) {
      authorize(actor, "approvals:decide");
      if (actor.type !== "user") throw new AppError("FORBIDDEN", "only people decide approvals");
      const voter = `user:${actor.id}`;
      const db = await storage.tenant(actor.tenantId);
      const now = clock.now();
      const { row, final } = await db.transaction(async (tx) => {
        const row = await store.approval(tx, actor.tenantId, approvalId);
        if (!row) throw new AppError("NOT_FOUND", "approval not found");
        if (row.status !== "pending")
          throw new AppError("CONFLICT", `this approval is already ${row.status}`);
        if (row.expires_at <= now) throw new AppError("APPROVAL_INVALID", "this approval has expired");
        if (row.requester === voter)
          throw new AppError("FORBIDDEN", "you cannot decide an action you requested");
        if (row.owner !== null && row.owner === voter) {
          throw new AppError("FORBIDDEN", "you cannot decide an action requested by a key you created");
        }
        const vote = await store.insertVote(tx, row.id, voter, decision, comment ?? null, now);
        if (vote.changes === 0) throw new AppError("CONFLICT", "you already voted on this approval");
        const approvals = row.approvals + (decision === "approve" ? 1 : 0);
        const status: ApprovalStatus =
          decision === "reject" ? "rejected" : approvals >= row.required ? "approved" : "pending";
        const moved = await store.transition(tx, row.id, "pending", row.version, {
          status,
          approvals,
          ...(status !== "pending" ? { decidedAt: now } : {}),
        });
        if (!moved) throw new AppError("CONFLICT", "this approval was decided concurrently");
        await audit(tx, {
          tenantId: actor.tenantId,
          actor: actorRef(actor),
          action: status === "pending" ? "approval.voted" : "approval.decided",
          targetIds: [row.id],
          origin: actor.origin,
          details: { decision, status, approvals, required: row.required },
        });
        const next = await store.approval(tx, actor.tenantId, approvalId);
        return { row: next as ApprovalRow, final: status !== "pending" };
      });
      if (final) {
        publish({
          type: "approval.decided",
          tenantId: actor.tenantId,
          data: { approval_id: row.id, status: row.status, operation: row.operation },
        });
      }
      return toApproval(row, now);
    },

    /** People see their tenant's approvals; an agent sees only the ones its key asked for. */
    async list(
      actor: Actor,
      q: { status?: ApprovalStatus | undefined; cursor?: string | undefined; limit: number },
    ) {
      authorize(actor, "approvals:read");
      if (actor.type === "instance_admin") throw new AppError("FORBIDDEN", "approvals belong to a tenant");
      const db = await storage.tenant(actor.tenantId);
      const rows = await store.listApprovals(db, actor.tenantId, {
        status: q.status,
        keyId: actor.type === "agent" ? actor.id : undefined,
        after: q.cursor ?? "",
        limit: q.limit + 1,
      });
      const now = clock.now();
      const items = rows.slice(0, q.limit).map((r) => toApproval(r, now));
      return { items, next_cursor: rows.length > q.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async get(actor: Actor, approvalId: string) {
      authorize(actor, "approvals:read");
      if (actor.type === "instance_admin") throw new AppError("FORBIDDEN", "approvals belong to a tenant");
      const db = await storage.tenant(actor.tenantId);
      const row = await store.approval(db, actor.tenantId, approvalId);
      if (!row || (actor.type === "agent" && row.key_id !== actor.id))
        throw new AppError("NOT_FOUND", "approval not found");
      return toApproval(row, clock.now());
    },
  };
}

export type GovernanceService = ReturnType<typeof createGovernanceService>;
