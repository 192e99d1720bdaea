import { createHmac, randomBytes } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import type { TenantCipher } from "../../lib/crypto/field-cipher.ts";
import { AppError, type ErrorCode } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import { constantTimeEqual } from "../../lib/secrets.ts";
import {
  type Action,
  type Actor,
  authorize,
  authorizeTenantPath,
  type TenantActor,
} from "../../platform/auth/actor.ts";
import type { Invalidation } from "../../platform/shared/invalidation.ts";
import type { SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditEventInput } from "../audit/audit.schemas.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { RiskTier, TenantPolicy } from "../governance/governance.schemas.ts";
import { hasCapability } from "../identity/capabilities.ts";
import { type Binding, type BrokerCore, hostAllowed, pkcePair, type Secrets } from "./broker-core.ts";
import type {
  CreateCredentialInput,
  Credential,
  Injection,
  OAuthConfig,
  ProxyRequest,
  ProxyResponse,
} from "./credentials.schemas.ts";
import { type CredentialRow, credentialsStore as store } from "./credentials.store.ts";
import { containsKnownValue, type FingerprintSet, fingerprintSet } from "./fingerprints.ts";

/** How long an OAuth grant may take from start to callback. */
export const OAUTH_STATE_TTL_MS = 10 * 60 * 1000;

export type Admit = (
  actor: TenantActor,
  call: {
    operation: string;
    action: Action;
    method: string;
    route: string;
    params: unknown;
    query: unknown;
    body: unknown;
    tier: RiskTier;
  },
  approvalId: string | undefined,
) => Promise<{ run: true } | { run: false; approval: unknown }>;

export type CredentialsDeps = {
  /** Credential changes reach every gateway's fingerprint cache (leak prevention); read through while that may fail. */
  invalidation?: Invalidation;
  storage: Storage;
  clock: Clock;
  audit: AuditSink;
  requireTenant: (tenantId: string) => Promise<unknown>;
  /** The tenant's field cipher (its data key): fingerprints, OAuth state MACs and PKCE verifiers. */
  cipher: (tenantId: string) => Promise<TenantCipher>;
  /** The broker core, in process or behind the proxy channel. */
  core: () => BrokerCore;
  policyFor: (tenantId: string) => Promise<TenantPolicy>;
  admit: Admit;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const actorRef = (a: Actor) => ({ type: a.type, id: a.id });
const actorKey = (a: TenantActor) => `${a.type}:${a.id}`;

function toCredential(r: CredentialRow): Credential {
  const oauth = r.oauth_config ? (JSON.parse(r.oauth_config) as OAuthConfig) : null;
  return {
    id: r.id,
    name: r.name,
    service: r.service,
    label: r.label,
    kind: r.kind,
    allowed_hosts: JSON.parse(r.allowed_hosts) as string[],
    injection: JSON.parse(r.injection) as Injection,
    risk_tier: r.risk_tier as RiskTier,
    created_at: new Date(r.created_at).toISOString(),
    rotated_at: iso(r.rotated_at),
    last_used_at: iso(r.last_used_at),
    expires_at: iso(r.expires_at),
    oauth: oauth
      ? {
          connected: (JSON.parse(r.fingerprints) as string[]).length > (hasClientSecret(r) ? 1 : 0),
          token_expires_at: iso(r.token_expires_at),
          scopes: oauth.scopes,
          provider: new URL(oauth.authorize_url).host,
        }
      : null,
  };
}

/** Whether the sealed secrets of an OAuth credential include a client secret (recorded at creation). */
function hasClientSecret(r: CredentialRow): boolean {
  return (
    r.oauth_config !== null &&
    (JSON.parse(r.oauth_config) as { has_client_secret?: boolean }).has_client_secret === true
  );
}

export function bindingOf(r: CredentialRow): Binding {
  const oauth = r.oauth_config ? (JSON.parse(r.oauth_config) as OAuthConfig) : null;
  return {
    tenantId: r.tenant_id,
    credentialId: r.id,
    name: r.name,
    kind: r.kind,
    allowedHosts: JSON.parse(r.allowed_hosts) as string[],
    injection: JSON.parse(r.injection) as Injection,
    oauth: oauth
      ? {
          tokenUrl: oauth.token_url,
          revokeUrl: oauth.revoke_url ?? null,
          clientId: oauth.client_id,
          redirectUri: oauth.redirect_uri,
        }
      : null,
  };
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

export function createCredentialsService(deps: CredentialsDeps) {
  const { storage, clock } = deps;
  const audit = (tx: SqlExecutor, e: AuditEventInput) => deps.audit(tx, e, clock.now());
  const fpKeys = new Map<string, Buffer>();
  /** Drops a tenant's fingerprints here and on every other gateway (after a credential changes). */
  const dropPrints = (tenantId: string) => {
    printCache.delete(tenantId);
    deps.invalidation?.publish("credentials.prints", tenantId);
  };
  deps.invalidation?.subscribe("credentials.prints", (tenantId) => {
    if (tenantId === null) printCache.clear();
    else printCache.delete(tenantId);
  });
  /** Tenants with an OAuth credential connected or used since start: the refresh pass visits only them. */
  const oauthTenants = new Set<string>();
  const printCache = new Map<string, FingerprintSet>();

  async function keysOf(tenantId: string) {
    const cached = fpKeys.get(tenantId);
    if (cached) return cached;
    const cipher = await deps.cipher(tenantId);
    const key = createHmac("sha256", cipher.subkey("blind-index"))
      .update("hypha credential fingerprints")
      .digest();
    fpKeys.set(tenantId, key);
    return key;
  }
  async function stateKey(tenantId: string) {
    const cipher = await deps.cipher(tenantId);
    return createHmac("sha256", cipher.subkey("blind-index")).update("hypha oauth state").digest();
  }

  async function load(tenantId: string, name: string): Promise<CredentialRow> {
    const db = await storage.tenant(tenantId);
    const row = await store.byName(db, tenantId, name);
    if (!row) throw new AppError("NOT_FOUND", "credential not found");
    return row;
  }

  async function manage(actor: Actor, tenantId: string, action: Action, mode: "read" | "write") {
    authorizeTenantPath(actor, tenantId, mode);
    authorize(actor, action);
    await deps.requireTenant(tenantId);
  }

  async function saveSealed(
    row: CredentialRow,
    next: { sealed: string; fingerprints: string[]; tokenExpiresAt: number | null },
  ) {
    const db = await storage.tenant(row.tenant_id);
    await db.transaction((tx) =>
      store.reseal(tx, row.id, row.sealed, {
        sealed: next.sealed,
        fingerprints: JSON.stringify(next.fingerprints),
        tokenExpiresAt: next.tokenExpiresAt,
      }),
    );
    dropPrints(row.tenant_id);
  }

  function checkUse(actor: TenantActor, name: string) {
    authorize(actor, "credentials:use");
    if (actor.type === "agent") {
      if (actor.capabilities === null || !hasCapability(actor.capabilities, `credentials.use.${name}`)) {
        throw new AppError(
          "INSUFFICIENT_SCOPE",
          `this key does not hold the capability credentials.use.${name}`,
        );
      }
    }
  }

  /** Audits one proxied call (and its outcome events) in one transaction. */
  async function auditUse(
    actor: TenantActor,
    row: CredentialRow,
    method: string,
    outcome: {
      host: string | null;
      status?: number;
      requestBytes?: number;
      responseBytes?: number;
      code?: string;
      blocked?: { host: string; reason: string; range?: string };
      used: boolean;
      authFailed?: boolean;
    },
  ) {
    const db = await storage.tenant(actor.tenantId);
    const now = clock.now();
    const base = {
      tenantId: actor.tenantId,
      actor: actorRef(actor),
      targetIds: [row.id],
      origin: actor.origin,
    };
    const details = {
      credential: row.name,
      host: outcome.host,
      method,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(outcome.requestBytes !== undefined ? { request_bytes: outcome.requestBytes } : {}),
      ...(outcome.responseBytes !== undefined ? { response_bytes: outcome.responseBytes } : {}),
      ...(outcome.code ? { code: outcome.code } : {}),
    };
    await db.transaction(async (tx) => {
      await audit(tx, {
        ...base,
        action: "proxy.http_request",
        outcome: outcome.code
          ? outcome.code === "CREDENTIAL_HOST_FORBIDDEN" || outcome.blocked
            ? "denied"
            : "error"
          : "success",
        details,
      });
      if (outcome.blocked) {
        await audit(tx, {
          ...base,
          action: "proxy.ssrf_blocked",
          outcome: "denied",
          details: { credential: row.name, method, ...outcome.blocked },
        });
      }
      if (outcome.used) {
        await audit(tx, { ...base, action: "proxy.credential_used", details });
        await store.touch(tx, row.id, now);
      }
      if (outcome.authFailed) {
        await audit(tx, { ...base, action: "proxy.auth_failed", outcome: "error", details });
      }
    });
  }

  return {
    // ---- management ------------------------------------------------------------------------

    async create(actor: Actor, tenantId: string, input: CreateCredentialInput): Promise<Credential> {
      await manage(actor, tenantId, "credentials:manage", "write");
      const db = await storage.tenant(tenantId);
      if (await store.byName(db, tenantId, input.name)) {
        throw new AppError("CONFLICT", `a credential named ${input.name} exists`);
      }
      const now = clock.now();
      const { client_secret: clientSecret, ...oauth } = input.oauth ?? { client_secret: undefined };
      const row: CredentialRow = {
        id: newId("credential", now),
        tenant_id: tenantId,
        name: input.name,
        service: input.service,
        label: input.label ?? null,
        kind: input.oauth ? "oauth2" : "static",
        allowed_hosts: JSON.stringify([...new Set(input.allowed_hosts)]),
        injection: JSON.stringify(input.injection),
        risk_tier: input.risk_tier,
        oauth_config: input.oauth
          ? JSON.stringify({ ...oauth, has_client_secret: clientSecret !== undefined })
          : null,
        sealed: "",
        fingerprints: "[]",
        token_expires_at: null,
        created_by: `${actor.type}:${actor.id}`,
        created_at: now,
        rotated_at: null,
        last_used_at: null,
        expires_at: input.expires_at ? Date.parse(input.expires_at) : null,
      };
      const secrets: Secrets = input.secret !== undefined ? { secret: input.secret } : {};
      if (clientSecret !== undefined) secrets.client_secret = clientSecret;
      // Sealed before anything is written: the secret is never stored in clear, not even briefly.
      const sealed = await deps
        .core()
        .seal({ binding: bindingOf(row), secrets, fingerprintKey: (await keysOf(tenantId)).toString("hex") });
      row.sealed = sealed.sealed;
      row.fingerprints = JSON.stringify(sealed.fingerprints);
      await db.transaction(async (tx) => {
        if (await store.byName(tx, tenantId, input.name)) {
          throw new AppError("CONFLICT", `a credential named ${input.name} exists`);
        }
        await store.insert(tx, row);
        await audit(tx, {
          tenantId,
          actor: actorRef(actor),
          action: "credential.created",
          targetIds: [row.id],
          origin: actor.origin,
          details: { name: row.name, service: row.service, kind: row.kind, risk_tier: row.risk_tier },
        });
      });
      dropPrints(tenantId);
      return toCredential(row);
    },

    async list(actor: Actor, tenantId: string, page: { after?: string | undefined; limit: number }) {
      await manage(actor, tenantId, "credentials:read", "read");
      const db = await storage.tenant(tenantId);
      const rows = await store.list(db, tenantId, page.after ?? "", page.limit + 1);
      const items = rows.slice(0, page.limit).map(toCredential);
      return { items, next_cursor: rows.length > page.limit ? (items.at(-1)?.name ?? null) : null };
    },

    async get(actor: Actor, tenantId: string, name: string): Promise<Credential> {
      await manage(actor, tenantId, "credentials:read", "read");
      return toCredential(await load(tenantId, name));
    },

    async rotate(actor: Actor, tenantId: string, name: string, secret: string): Promise<Credential> {
      await manage(actor, tenantId, "credentials:manage", "write");
      const row = await load(tenantId, name);
      if (row.kind !== "static") {
        throw new AppError("CONFLICT", "an OAuth credential is renewed by a new grant, not rotated by hand");
      }
      const next = await deps.core().seal({
        binding: bindingOf(row),
        secrets: { secret },
        fingerprintKey: (await keysOf(tenantId)).toString("hex"),
      });
      const now = clock.now();
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        const ok = await store.reseal(tx, row.id, row.sealed, {
          sealed: next.sealed,
          fingerprints: JSON.stringify(next.fingerprints),
          tokenExpiresAt: null,
          rotatedAt: now,
        });
        if (!ok) throw new AppError("CONFLICT", "the credential changed meanwhile; try again");
        await audit(tx, {
          tenantId,
          actor: actorRef(actor),
          action: "credential.rotated",
          targetIds: [row.id],
          origin: actor.origin,
          details: { name },
        });
      });
      dropPrints(tenantId);
      return toCredential({
        ...row,
        sealed: next.sealed,
        fingerprints: JSON.stringify(next.fingerprints),
        rotated_at: now,
      });
    },

    async remove(actor: Actor, tenantId: string, name: string): Promise<Credential> {
      await manage(actor, tenantId, "credentials:manage", "write");
      const row = await load(tenantId, name);
      let revoked: boolean | null = null;
      if (row.kind === "oauth2") {
        // Best effort, before the row goes: the provider may be down, the local copy goes either way.
        revoked = await deps
          .core()
          .revoke({ binding: bindingOf(row), sealed: row.sealed })
          .then((r) => r.ok)
          .catch(() => false);
      }
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        await store.remove(tx, row.id);
        await audit(tx, {
          tenantId,
          actor: actorRef(actor),
          action: "credential.deleted",
          targetIds: [row.id],
          origin: actor.origin,
          details: { name, ...(revoked !== null ? { revoked_at_provider: revoked } : {}) },
        });
      });
      dropPrints(tenantId);
      return toCredential(row);
    },

    // ---- use -------------------------------------------------------------------------------

    /**
     * One outbound call with a credential, for the REST route (`approval` answers 202) and the MCP
     * tool (`approval: "refuse"`). Order: capability, credential (404), expiry, host binding (403),
     * approvals by the credential's tier, then the broker core (egress guard, caps, injection, scrub).
     */
    async use(
      actor: Actor,
      input: ProxyRequest,
      approval: { mode: "admit"; approvalId: string | undefined; route: string } | { mode: "refuse" },
    ): Promise<{ done: true; response: ProxyResponse } | { done: false; approval: unknown }> {
      if (actor.type === "instance_admin") {
        throw new AppError("FORBIDDEN", "the instance admin key cannot use tenant credentials");
      }
      checkUse(actor, input.credential);
      const row = await load(actor.tenantId, input.credential);
      const now = clock.now();
      if (row.expires_at !== null && row.expires_at <= now) {
        await auditUse(actor, row, input.method, { host: null, code: "CREDENTIAL_EXPIRED", used: false });
        throw new AppError("CREDENTIAL_EXPIRED", `credential ${row.name} has expired`);
      }
      const binding = bindingOf(row);
      let url: URL;
      try {
        url = new URL(input.url);
      } catch {
        throw new AppError("VALIDATION_FAILED", "url is not an absolute URL", {
          details: [{ path: "url", message: "an absolute http(s) URL" }],
        });
      }
      if (!hostAllowed(binding.allowedHosts, url)) {
        await auditUse(actor, row, input.method, {
          host: url.hostname,
          code: "CREDENTIAL_HOST_FORBIDDEN",
          used: false,
        });
        throw new AppError(
          "CREDENTIAL_HOST_FORBIDDEN",
          `credential ${row.name} is not bound to ${url.protocol}//${url.host}`,
        );
      }
      const tier = row.risk_tier as RiskTier;
      if (approval.mode === "refuse") {
        const policy = await deps.policyFor(actor.tenantId);
        if (policy.approvals[tier] > 0) {
          throw new AppError(
            "APPROVAL_REQUIRED",
            `credential ${row.name} (tier ${tier}) needs a person's approval: call POST /v1/proxy/http, which answers 202 with an approval to decide`,
          );
        }
      } else {
        const admitted = await deps.admit(
          actor,
          {
            operation: "proxyHttp",
            action: "credentials:use",
            method: "POST",
            route: approval.route,
            params: {},
            query: {},
            body: input,
            tier,
          },
          approval.approvalId,
        );
        if (!admitted.run) return { done: false, approval: admitted.approval };
      }
      const result = await deps.core().execute({
        binding,
        sealed: row.sealed,
        request: { method: input.method, url: input.url, headers: input.headers, body: input.body },
        fingerprintKey: (await keysOf(actor.tenantId)).toString("hex"),
        now,
      });
      if (!result.ok) {
        await auditUse(actor, row, input.method, {
          host: result.host,
          code: result.code,
          used: false,
          ...(result.blocked ? { blocked: result.blocked } : {}),
        });
        const code: ErrorCode = result.code === "CREDENTIAL_UNREADABLE" ? "INTERNAL" : result.code;
        throw new AppError(code, result.message);
      }
      if (result.refreshed) await saveSealed(row, result.refreshed);
      if (row.kind === "oauth2") oauthTenants.add(row.tenant_id);
      await auditUse(actor, row, input.method, {
        host: result.host,
        status: result.status,
        requestBytes: result.requestBytes,
        responseBytes: result.responseBytes,
        used: true,
        authFailed: result.authFailed,
      });
      const raw = Buffer.from(result.body, "base64");
      const text = TEXT_TYPES.test(result.headers["content-type"] ?? "") || raw.length === 0;
      return {
        done: true,
        response: {
          status: result.status,
          headers: result.headers,
          body: text ? raw.toString("utf8") : raw.toString("base64"),
          body_encoding: text ? "utf8" : "base64",
        },
      };
    },

    // ---- OAuth 2.0 -------------------------------------------------------------------------

    /**
     * Starts an authorization-code grant with PKCE: a single-use state, HMAC-signed with the
     * tenant's key and bound to the tenant, the credential and the person, valid 10 minutes.
     */
    async startOAuth(actor: Actor, tenantId: string, name: string) {
      await manage(actor, tenantId, "credentials:connect", "write");
      if (actor.type === "instance_admin")
        throw new AppError("FORBIDDEN", "a grant is started by a person of the tenant");
      const row = await load(tenantId, name);
      if (row.kind !== "oauth2" || !row.oauth_config)
        throw new AppError("CONFLICT", "not an OAuth credential");
      const oauth = JSON.parse(row.oauth_config) as OAuthConfig;
      const now = clock.now();
      const nonce = randomBytes(18).toString("base64url");
      const expires = now + OAUTH_STATE_TTL_MS;
      const pkce = pkcePair();
      const cipher = await deps.cipher(tenantId);
      const payload = Buffer.from(
        JSON.stringify({ t: tenantId, c: row.id, a: actorKey(actor), n: nonce, e: expires }),
      ).toString("base64url");
      const mac = createHmac("sha256", await stateKey(tenantId))
        .update(payload)
        .digest("base64url");
      const db = await storage.tenant(tenantId);
      await db.transaction(async (tx) => {
        await store.pruneStates(tx, now);
        await store.insertState(tx, {
          nonce,
          credential_id: row.id,
          actor: actorKey(actor),
          verifier: cipher.encrypt(nonce, "oauth-verifier", pkce.verifier),
          expires_at: expires,
          used_at: null,
        });
      });
      const url = new URL(oauth.authorize_url);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("client_id", oauth.client_id);
      url.searchParams.set("redirect_uri", oauth.redirect_uri);
      if (oauth.scopes.length) url.searchParams.set("scope", oauth.scopes.join(" "));
      url.searchParams.set("state", `${payload}.${mac}`);
      url.searchParams.set("code_challenge", pkce.challenge);
      url.searchParams.set("code_challenge_method", "S256");
      return { authorize_url: url.toString(), expires_at: new Date(expires).toISOString() };
    },

    /**
     * Completes a grant: the state must verify under this tenant's key, name this credential and
     * this person, be unexpired and unused (it is spent here, before the exchange); the code is then
     * exchanged (with the PKCE verifier) through the egress guard and the tokens sealed.
     */
    async completeOAuth(
      actor: Actor,
      tenantId: string,
      name: string,
      input: { code: string; state: string },
    ) {
      await manage(actor, tenantId, "credentials:connect", "write");
      if (actor.type === "instance_admin")
        throw new AppError("FORBIDDEN", "a grant is completed by a person of the tenant");
      const row = await load(tenantId, name);
      const invalid = (why: string) =>
        new AppError("OAUTH_STATE_INVALID", `the OAuth state is not valid: ${why}`);
      const [payload, mac, extra] = input.state.split(".");
      if (!payload || !mac || extra !== undefined) throw invalid("malformed");
      const expected = createHmac("sha256", await stateKey(tenantId))
        .update(payload)
        .digest("base64url");
      if (!constantTimeEqual(mac, expected)) throw invalid("signature does not verify for this tenant");
      let claims: { t?: unknown; c?: unknown; a?: unknown; n?: unknown; e?: unknown };
      try {
        claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as typeof claims;
      } catch {
        throw invalid("malformed");
      }
      const now = clock.now();
      if (claims.t !== tenantId) throw invalid("issued for another tenant");
      if (claims.c !== row.id) throw invalid("issued for another credential");
      if (claims.a !== actorKey(actor)) throw invalid("issued to another person");
      if (typeof claims.e !== "number" || claims.e <= now) throw invalid("expired");
      if (typeof claims.n !== "string") throw invalid("malformed");
      const nonce = claims.n;
      const db = await storage.tenant(tenantId);
      const state = await store.state(db, nonce);
      if (!state || state.credential_id !== row.id || state.actor !== actorKey(actor))
        throw invalid("unknown");
      const spent = await db.transaction((tx) => store.consumeState(tx, nonce, now));
      if (!spent) throw invalid("already used");
      const cipher = await deps.cipher(tenantId);
      const verifier = cipher.decryptString(nonce, "oauth-verifier", state.verifier);
      if (!verifier.ok) throw invalid("unreadable");
      const result = await deps.core().exchange({
        binding: bindingOf(row),
        sealed: row.sealed,
        code: input.code,
        codeVerifier: verifier.plaintext,
        fingerprintKey: (await keysOf(tenantId)).toString("hex"),
        now,
      });
      if (!result.ok) {
        const code: ErrorCode = result.code === "CREDENTIAL_UNREADABLE" ? "INTERNAL" : result.code;
        throw new AppError(code, result.message);
      }
      await db.transaction(async (tx) => {
        const ok = await store.reseal(tx, row.id, row.sealed, {
          sealed: result.sealed,
          fingerprints: JSON.stringify(result.fingerprints),
          tokenExpiresAt: result.tokenExpiresAt,
        });
        if (!ok) throw new AppError("CONFLICT", "the credential changed meanwhile; start the grant again");
        await audit(tx, {
          tenantId,
          actor: actorRef(actor),
          action: "credential.oauth_connected",
          targetIds: [row.id],
          origin: actor.origin,
          details: { name },
        });
      });
      dropPrints(tenantId);
      return toCredential((await store.byId(db, tenantId, row.id)) ?? { ...row, sealed: result.sealed });
    },

    /** Refreshes every OAuth token of a tenant that expires within the margin. Returns how many. */
    async refreshDue(tenantId: string, marginMs: number): Promise<number> {
      const db = await storage.tenant(tenantId);
      const now = clock.now();
      let n = 0;
      for (const row of await store.expiring(db, tenantId, now + marginMs)) {
        const r = await deps.core().refresh({
          binding: bindingOf(row),
          sealed: row.sealed,
          fingerprintKey: (await keysOf(tenantId)).toString("hex"),
          now,
        });
        if (!r.ok) continue;
        await saveSealed(row, r);
        n++;
      }
      return n;
    },

    // ---- leak prevention -------------------------------------------------------------------

    /** Whether `text` contains the exact value of one of the tenant's credentials (or tokens). */
    async containsCredentialValue(tenantId: string, text: string): Promise<boolean> {
      let set = deps.invalidation?.reliable() === false ? undefined : printCache.get(tenantId);
      if (!set) {
        const db = await storage.tenant(tenantId);
        const rows = await store.fingerprints(db, tenantId);
        set = fingerprintSet(rows.flatMap((r) => JSON.parse(r.fingerprints) as string[]));
        printCache.set(tenantId, set);
      }
      if (set.prints.size === 0) return false;
      return containsKnownValue(await keysOf(tenantId), set, text);
    },

    /** Tenants the background refresh pass visits (a token elsewhere is refreshed on its next use). */
    oauthTenants(): string[] {
      return [...oauthTenants];
    },

    forget(tenantId: string) {
      fpKeys.delete(tenantId);
      dropPrints(tenantId);
      oauthTenants.delete(tenantId);
    },
  };
}

export type CredentialsService = ReturnType<typeof createCredentialsService>;
