import type { Clock } from "../../lib/clock.ts";
import { AppError } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { displayStart, generateSecret, KEY_PREFIX, sha256Hex } from "../../lib/secrets.ts";
import { type Actor, authorize, authorizeTenantPath, type RequestOrigin } from "../../platform/auth/actor.ts";
import type { VerifiedCredential } from "../../platform/http/server.ts";
import type { SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import { actionsForKey, checkGrant, type KeyGrant } from "./keys.policy.ts";
import { type CreateKeyInput, type KeyRow, toApiKey } from "./keys.schemas.ts";
import { keysStore } from "./keys.store.ts";

const LAST_USED_GRANULARITY_MS = 60_000;
/** How far a chain of keys made by keys is followed (a maker existed before what it made; the bound is for tampered data). */
const MAX_KEY_CHAIN = 64;

/** How a key records who made it (see `KeyRow.made_by`). */
const makerRef = (actor: Actor): string =>
  actor.type === "user" ? `user:${actor.id}` : actor.type === "agent" ? `key:${actor.id}` : "instance_admin";

export function createKeysService(deps: {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  audit: AuditSink;
  /** What stops a key that a successor would shed: a pause or a freeze of the key itself (governance owns both). */
  keyHold: (tenantId: string, keyId: string) => Promise<{ paused: boolean; frozen: boolean }>;
}) {
  const { storage, clock, tenants, audit } = deps;
  const lastTouched = new Map<string, number>();

  const grantOf = (r: KeyRow): KeyGrant => ({
    agent: r.agent,
    scopes: JSON.parse(r.scopes) as string[],
    capabilities: r.capabilities ? (JSON.parse(r.capabilities) as string[]) : null,
    namespaces: r.namespaces ? (JSON.parse(r.namespaces) as string[]) : null,
    rateLimitPerMinute: r.rate_limit_per_minute,
    expiresAt: r.expires_at,
  });

  /**
   * Refuses (403) a key that would hold more than its caller: see `checkGrant`. A person is held to
   * what their roles allow; a key to its own actions and limits, read from its row. The refusal is
   * audited beside the changes it guards.
   */
  async function authorizeGrant(
    actor: Actor,
    tenantId: string,
    grant: KeyGrant,
    action: "key.created" | "key.rotated",
    targetIds: string[],
  ) {
    if (actor.type === "instance_admin") return;
    const db = await storage.tenant(tenantId);
    let verdict: ReturnType<typeof checkGrant>;
    if (actor.type === "user") {
      verdict = checkGrant({ type: "user", actions: actor.actions }, grant);
    } else {
      const own = await keysStore.byId(db, tenantId, actor.id);
      if (!own) throw new AppError("INSUFFICIENT_SCOPE", "this key may not make keys");
      verdict = checkGrant({ type: "agent", actions: actor.actions, ...grantOf(own) }, grant);
    }
    if (verdict.ok) return;
    await deny(
      actor,
      tenantId,
      action,
      targetIds,
      { agent: grant.agent, scopes: [...grant.scopes] },
      verdict.reason,
    );
  }

  /**
   * Who answers for an agent name: for every key ever made under it (revoked and expired ones too,
   * as the agent's private memories outlive its keys), the person who made it, followed through
   * keys made by keys, as `user:<id>`; `instance_admin`; or null where the key does not record it (a
   * key made before `made_by` was kept).
   */
  async function agentOwners(db: SqlExecutor, tenantId: string, agent: string): Promise<Set<string | null>> {
    const rows = await keysStore.makersOfAgent(db, tenantId, agent);
    const makers = new Map(rows.map((r) => [r.id, r.made_by]));
    const owners = new Set<string | null>();
    for (const r of rows) {
      let maker = r.made_by;
      const seen = new Set<string>();
      while (maker?.startsWith("key:")) {
        const id = maker.slice("key:".length);
        if (seen.has(id) || seen.size >= MAX_KEY_CHAIN) {
          maker = null;
          break;
        }
        seen.add(id);
        maker = makers.has(id)
          ? (makers.get(id) ?? null)
          : ((await keysStore.byId(db, tenantId, id))?.made_by ?? null);
      }
      owners.add(maker);
    }
    return owners;
  }

  /** Whether `actor` may make or rotate keys under `agent`: see `authorizeAgentName`. */
  async function keyable(actor: Actor, db: SqlExecutor, tenantId: string, agent: string): Promise<boolean> {
    if (actor.type !== "user" || actor.actions.has("keys:any_agent")) return true;
    const mine = `user:${actor.id}`;
    return [...(await agentOwners(db, tenantId, agent))].every((o) => o === mine);
  }

  /**
   * Refuses (403) a person without `keys:any_agent` who would make or rotate a key under an agent
   * name whose keys are not all theirs: that key would read the agent's private memories and speak
   * as it. A new name is anyone's. Keys are held to their own agent name by `checkGrant`.
   */
  async function authorizeAgentName(
    actor: Actor,
    tenantId: string,
    agent: string,
    action: "key.created" | "key.rotated",
    targetIds: string[],
  ) {
    if (await keyable(actor, await storage.tenant(tenantId), tenantId, agent)) return;
    await deny(
      actor,
      tenantId,
      action,
      targetIds,
      { agent },
      `the agent ${agent} has keys someone else made; a key under its name would read its private memories, so only an ADMIN can make or rotate one`,
    );
  }

  /** Audits a refused creation or rotation (outcome `denied`, with the reason), then refuses with 403. */
  async function deny(
    actor: Actor,
    tenantId: string,
    action: "key.created" | "key.rotated",
    targetIds: string[],
    details: Record<string, unknown>,
    reason: string,
  ): Promise<never> {
    const db = await storage.tenant(tenantId);
    await db.transaction((tx) =>
      audit(
        tx,
        {
          tenantId,
          actor,
          action,
          targetIds,
          outcome: "denied",
          origin: actor.origin,
          details: { ...details, reason },
        },
        clock.now(),
      ),
    );
    throw new AppError(actor.type === "agent" ? "INSUFFICIENT_SCOPE" : "FORBIDDEN", reason);
  }

  return {
    async create(actor: Actor, tenantId: string, input: CreateKeyInput) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "keys:create");
      await tenants.requireActive(tenantId);
      const now = clock.now();
      const expiresAt = input.expires_at ? Date.parse(input.expires_at) : null;
      if (expiresAt !== null && expiresAt <= now) {
        throw new AppError("VALIDATION_FAILED", "expires_at must be in the future", {
          details: [{ path: "body.expires_at", message: "must be in the future" }],
        });
      }
      const grant: KeyGrant = {
        agent: input.agent,
        scopes: input.scopes,
        capabilities: input.capabilities ?? null,
        namespaces: input.namespaces ?? null,
        rateLimitPerMinute: input.rate_limit_per_minute ?? null,
        expiresAt,
      };
      await authorizeGrant(actor, tenantId, grant, "key.created", []);
      await authorizeAgentName(actor, tenantId, grant.agent, "key.created", []);
      const key = generateSecret(KEY_PREFIX.agent);
      const row: KeyRow = {
        id: newId("key", now),
        tenant_id: tenantId,
        agent: input.agent,
        name: input.name ?? null,
        hash: sha256Hex(key),
        start: displayStart(key),
        scopes: JSON.stringify([...new Set(input.scopes)].sort()),
        capabilities: input.capabilities ? JSON.stringify([...new Set(input.capabilities)].sort()) : null,
        namespaces: input.namespaces ? JSON.stringify([...new Set(input.namespaces)].sort()) : null,
        rate_limit_per_minute: input.rate_limit_per_minute ?? null,
        created_at: now,
        expires_at: expiresAt,
        revoked_at: null,
        last_used_at: null,
        rotated_to: null,
        made_by: makerRef(actor),
      };
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        await keysStore.insert(tx, row);
        await audit(
          tx,
          {
            tenantId,
            actor,
            action: "key.created",
            targetIds: [row.id],
            origin: actor.origin,
            details: { agent: row.agent, scopes: JSON.parse(row.scopes) },
          },
          now,
        );
      });
      await storage.control.transaction((tx) => keysStore.indexInsert(tx, row.hash, tenantId, row.id));
      return { ...toApiKey(row), key };
    },

    async list(actor: Actor, tenantId: string, page: { after?: string | undefined; limit: number }) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "keys:read");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      const rows = await db.transaction(async (tx) => {
        const found = await keysStore.list(tx, tenantId, page.after ?? "", page.limit + 1);
        await audit(
          tx,
          { tenantId, actor, action: "key.listed", origin: actor.origin, details: { count: found.length } },
          now,
        );
        return found;
      });
      const items = rows.slice(0, page.limit).map(toApiKey);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
    },

    async revoke(actor: Actor, tenantId: string, keyId: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "keys:revoke");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      const row = await db.transaction(async (tx) => {
        const existing = await keysStore.byId(tx, tenantId, keyId);
        if (!existing) throw new AppError("NOT_FOUND", "key not found");
        if (existing.revoked_at === null) {
          await keysStore.revoke(tx, tenantId, keyId, now);
          await audit(
            tx,
            { tenantId, actor, action: "key.revoked", targetIds: [keyId], origin: actor.origin },
            now,
          );
        }
        return (await keysStore.byId(tx, tenantId, keyId)) as KeyRow;
      });
      return toApiKey(row);
    },

    /**
     * Replaces a key with a new one carrying the same agent, scopes, capabilities, namespaces and
     * rate plan. The old key keeps working for `graceSeconds` (both work meanwhile), then expires.
     * The caller gets the new secret, so it must be a key the caller could have created. A key the
     * anomaly detector paused, or one frozen by its id, is rotated only by someone who may lift that
     * (a person with `keys:resume`, resp. `governance:override`, or the instance admin): the
     * successor has a new id, so rotation would otherwise be a way around the pause or the freeze.
     */
    async rotate(actor: Actor, tenantId: string, keyId: string, graceSeconds: number) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "keys:rotate");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const current = await keysStore.byId(db, tenantId, keyId);
      if (!current) throw new AppError("NOT_FOUND", "key not found");
      await authorizeGrant(actor, tenantId, grantOf(current), "key.rotated", [keyId]);
      await authorizeAgentName(actor, tenantId, current.agent, "key.rotated", [keyId]);
      const hold = await deps.keyHold(tenantId, keyId);
      // Only a person may lift what stops this key, so only a person (or the instance admin) who
      // may lift it gets a successor that is not stopped.
      const mayLift = (action: "keys:resume" | "governance:override") =>
        actor.type === "instance_admin" || (actor.type === "user" && actor.actions.has(action));
      if (hold.paused && !mayLift("keys:resume")) {
        await deny(
          actor,
          tenantId,
          "key.rotated",
          [keyId],
          { hold: "paused" },
          "this key is paused after anomalous behaviour; only a person who may resume keys can rotate it",
        );
      }
      if (hold.frozen && !mayLift("governance:override")) {
        await deny(
          actor,
          tenantId,
          "key.rotated",
          [keyId],
          { hold: "frozen" },
          "this key is frozen; only a person who may lift the freeze can rotate it",
        );
      }
      const now = clock.now();
      const key = generateSecret(KEY_PREFIX.agent);
      const row = await db.transaction(async (tx) => {
        const old = await keysStore.byId(tx, tenantId, keyId);
        if (!old) throw new AppError("NOT_FOUND", "key not found");
        if (old.revoked_at !== null || (old.expires_at !== null && old.expires_at <= now)) {
          throw new AppError("CONFLICT", "a revoked or expired key cannot be rotated");
        }
        if (old.rotated_to !== null) throw new AppError("CONFLICT", "this key was already rotated");
        // The grant was checked against the row read before this transaction; a row changed since
        // (revoked, rotated) is refused above, and its rights never change otherwise.
        const next: KeyRow = {
          ...old,
          id: newId("key", now),
          hash: sha256Hex(key),
          start: displayStart(key),
          created_at: now,
          last_used_at: null,
          rotated_to: null,
          // The rotator receives the new secret: it is who made this key.
          made_by: makerRef(actor),
        };
        await keysStore.insert(tx, next);
        await keysStore.markRotated(tx, tenantId, old.id, next.id, now + graceSeconds * 1000);
        await audit(
          tx,
          {
            tenantId,
            actor,
            action: "key.rotated",
            targetIds: [old.id, next.id],
            origin: actor.origin,
            details: { grace_seconds: graceSeconds },
          },
          now,
        );
        return next;
      });
      await storage.control.transaction((tx) => keysStore.indexInsert(tx, row.hash, tenantId, row.id));
      return { ...toApiKey(row), key };
    },

    /**
     * Of `agents`, the names `actor` may make or rotate keys under (see `authorizeAgentName`): all
     * of them for whoever holds `keys:any_agent` or is not a person; the console offers rotation by it.
     */
    async agentsKeyableBy(actor: Actor, tenantId: string, agents: readonly string[]): Promise<Set<string>> {
      const db = await storage.tenant(tenantId);
      const out = new Set<string>();
      for (const agent of new Set(agents)) if (await keyable(actor, db, tenantId, agent)) out.add(agent);
      return out;
    },

    /** Whether a key id exists in the tenant (revoked or not): governance checks targets with it. */
    async exists(tenantId: string, keyId: string): Promise<boolean> {
      return (await keysStore.byId(await storage.tenant(tenantId), tenantId, keyId)) !== undefined;
    },

    /**
     * Who made a key, as kept with it (`user:<id>`, `key:<id>`, `instance_admin`); null for a key
     * made before that was kept, undefined for no such key. Governance follows it to the key's owner.
     */
    async madeBy(tenantId: string, keyId: string): Promise<string | null | undefined> {
      return (await keysStore.byId(await storage.tenant(tenantId), tenantId, keyId))?.made_by;
    },

    /** Resolves an agent key to its actor. Hash lookup only: the key itself is never stored. */
    async verify(secret: string, origin: RequestOrigin): Promise<VerifiedCredential> {
      if (!secret.startsWith(KEY_PREFIX.agent)) return { ok: false, code: "INVALID_CREDENTIALS" };
      const hash = sha256Hex(secret);
      const indexed = await keysStore.indexLookup(storage.control, hash);
      if (!indexed) return { ok: false, code: "INVALID_CREDENTIALS" };
      const db = await storage.tenant(indexed.tenant_id);
      const row = await keysStore.byHash(db, indexed.tenant_id, hash);
      if (!row) return { ok: false, code: "INVALID_CREDENTIALS" };
      const now = clock.now();
      if (row.revoked_at !== null) return { ok: false, code: "CREDENTIALS_REVOKED" };
      if (row.expires_at !== null && row.expires_at <= now) return { ok: false, code: "CREDENTIALS_EXPIRED" };
      const touched = lastTouched.get(row.id) ?? row.last_used_at ?? 0;
      if (now - touched >= LAST_USED_GRANULARITY_MS) {
        lastTouched.set(row.id, now);
        await keysStore.touch(db, row.tenant_id, row.id, now);
      }
      const scopes = JSON.parse(row.scopes) as string[];
      const capabilities = row.capabilities ? (JSON.parse(row.capabilities) as string[]) : null;
      return {
        ok: true,
        kind: "agent_key",
        rateLimitPerMinute: row.rate_limit_per_minute,
        actor: {
          type: "agent",
          id: row.id,
          tenantId: row.tenant_id,
          agent: row.agent,
          scopes,
          capabilities,
          actions: actionsForKey(scopes, capabilities),
          namespaces: row.namespaces ? (JSON.parse(row.namespaces) as string[]) : null,
          origin,
        },
      };
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;
