import { randomBytes } from "node:crypto";
import type { Clock } from "../../lib/clock.ts";
import type { TenantCipher } from "../../lib/crypto/index.ts";
import { AppError } from "../../lib/errors.ts";
import { isId, newId } from "../../lib/ids.ts";
import { constantTimeEqual, sha256Hex } from "../../lib/secrets.ts";
import {
  type Actor,
  actionsForRoles,
  authorize,
  authorizeTenantPath,
  type RequestOrigin,
  type Role,
} from "../../platform/auth/actor.ts";
import type { VerifiedCredential } from "../../platform/http/server.ts";
import type { Database, SqlExecutor, Storage } from "../../platform/storage/port.ts";
import type { AuditEventInput } from "../audit/audit.schemas.ts";
import type { AuditSink } from "../audit/audit.trail.ts";
import type { TenantLookup } from "../tenants/tenants.service.ts";
import type { LoginInput, OidcConfigInput, OidcConfigView, Session } from "./auth.schemas.ts";
import { identityStore, type JwtSecretRow, type SessionRow } from "./identity.store.ts";
import type { LoginThrottle } from "./login-throttle.ts";
import { createOidcVerifier, type OidcVerifier } from "./oidc.ts";
import { hashPassword, needsRehash, verifyPassword } from "./passwords.ts";
import {
  ACCESS_TOKEN_DEFAULT_TTL_SEC,
  mintAccessToken,
  type TenantSigningSecret,
  verifyAccessToken,
} from "./tokens.ts";
import { rolesOf, type UserRow } from "./users.schemas.ts";

export const REFRESH_TOKEN_TTL_SEC = 7 * 86_400;
export const REFRESH_PREFIX = "hyr_";
/** `hyr_` + the tenant id's 26 characters + 43 random base64url characters (256 bits). */
const REFRESH_RE = /^hyr_([0-9A-HJKMNP-TV-Z]{26})([A-Za-z0-9_-]{43})$/;
/** Spent refresh tokens are kept this long past their expiry to recognise reuse. */
const SESSION_RETENTION_MS = 86_400_000;

export type AuthDeps = {
  storage: Storage;
  clock: Clock;
  tenants: TenantLookup;
  /** The keyed audit trail: events join the tenant's chain in the change's transaction. */
  audit: AuditSink;
  /** The tenant field cipher: signing secrets are stored sealed with it. */
  cipher: (tenantId: string) => Promise<TenantCipher>;
  throttle: LoginThrottle;
  issuer: string;
  /** The fetch one issuer's verifier uses (egress-guarded, local allowance scoped to that issuer). */
  oidcFetch: (issuer: string) => typeof fetch;
  oidcAllowLoopbackHttp: boolean;
};

export type IssuedSession = { session: Session; refreshToken: string };

const ANONYMOUS = { type: "anonymous" as const, id: "anonymous" };
const invalid = () => new AppError("INVALID_CREDENTIALS", "invalid credentials");

/** A tenant's OIDC configuration as stored: the client secret only sealed. */
type StoredOidc = Omit<OidcConfigInput, "client_secret"> & { client_secret_sealed?: string };
const OIDC_RECORD = "oidc";
const CLIENT_SECRET_FIELD = "client_secret";

/** What the API shows of a stored configuration: never the secret, only whether there is one. */
function oidcView(stored: StoredOidc, updatedAt: number): OidcConfigView {
  const { client_secret_sealed, ...rest } = stored;
  return {
    ...rest,
    client_secret_configured: client_secret_sealed !== undefined,
    updated_at: new Date(updatedAt).toISOString(),
  };
}

/** Associated data of a sealed signing secret: the tenant (bound by the cipher), its version, the field. */
const secretRecord = (version: string) => `jwt:${version}`;
const SECRET_FIELD = "secret";

/** The signing secrets that open under the tenant cipher; an altered or moved one is skipped. */
function secretsOf(cipher: TenantCipher, rows: readonly JwtSecretRow[]): TenantSigningSecret[] {
  const out: TenantSigningSecret[] = [];
  for (const r of rows) {
    const opened = cipher.decrypt(secretRecord(r.version), SECRET_FIELD, r.sealed);
    if (opened.ok) out.push({ version: r.version, key: new Uint8Array(opened.plaintext) });
  }
  return out;
}

/** A new random signing secret, sealed for storage; the plaintext is returned for immediate use. */
function newJwtSecret(cipher: TenantCipher, now: number): { row: JwtSecretRow; secret: TenantSigningSecret } {
  const version = `v${now.toString(36)}${randomBytes(3).toString("hex")}`;
  const key = randomBytes(32);
  const row = { version, sealed: cipher.encrypt(secretRecord(version), SECRET_FIELD, key), created_at: now };
  return { row, secret: { version, key: new Uint8Array(key) } };
}

/**
 * Sign-in for people: password and OIDC sign-in, short access tokens signed with the tenant's own
 * secret, rotating refresh tokens with reuse detection, and the verification of access tokens at
 * the HTTP chokepoint.
 */
export function createAuthService(deps: AuthDeps) {
  const { storage, clock, tenants, throttle } = deps;
  const verifiers = new Map<string, { json: string; verifier: OidcVerifier }>();

  const audit = (tx: SqlExecutor, event: Omit<AuditEventInput, "tenantId"> & { tenantId: string }) =>
    deps.audit(tx, event, clock.now());

  /** The tenant's vault if the tenant exists and is active; null otherwise (no vault is created). */
  async function activeVault(tenantId: string): Promise<Database | null> {
    if (!isId("tenant", tenantId)) return null;
    try {
      await tenants.requireActive(tenantId);
    } catch {
      return null;
    }
    return storage.tenant(tenantId);
  }

  async function ensureSecret(db: Database, tenantId: string): Promise<TenantSigningSecret[]> {
    const cipher = await deps.cipher(tenantId);
    const existing = await identityStore.jwtSecrets(db);
    if (existing.length > 0) return secretsOf(cipher, existing);
    return db.transaction(async (tx) => {
      const again = await identityStore.jwtSecrets(tx);
      if (again.length > 0) return secretsOf(cipher, again);
      const fresh = newJwtSecret(cipher, clock.now());
      await identityStore.replaceJwtSecret(tx, fresh.row);
      return [fresh.secret];
    });
  }

  /** Issues a refresh token in `tx` (a new family unless one is given). Returns it and its CSRF token. */
  async function insertSession(
    tx: SqlExecutor,
    tenantId: string,
    userId: string,
    family: { id: string; csrfHash: string } | null,
  ): Promise<{ refreshToken: string; csrfToken: string | null }> {
    const now = clock.now();
    const refreshToken = `${REFRESH_PREFIX}${tenantId.slice(4)}${randomBytes(32).toString("base64url")}`;
    const csrfToken = family === null ? randomBytes(24).toString("base64url") : null;
    const row: SessionRow = {
      id: newId("session", now),
      family_id: family?.id ?? newId("session", now),
      user_id: userId,
      token_hash: sha256Hex(refreshToken),
      csrf_hash: family?.csrfHash ?? sha256Hex(csrfToken ?? ""),
      created_at: now,
      expires_at: now + REFRESH_TOKEN_TTL_SEC * 1000,
      used_at: null,
      revoked_at: null,
    };
    await identityStore.insertSession(tx, row);
    return { refreshToken, csrfToken };
  }

  async function accessTokenFor(db: Database, tenantId: string, user: UserRow, roles: readonly Role[]) {
    const [secret] = await ensureSecret(db, tenantId);
    if (!secret) {
      throw new AppError("INTERNAL", "the tenant's signing secret failed its integrity check");
    }
    const { token } = await mintAccessToken({
      tenantId,
      subject: user.id,
      roles,
      scopes: [],
      secret,
      issuer: deps.issuer,
      clock,
    });
    return token;
  }

  function sessionBody(token: string, user: UserRow, roles: readonly Role[], csrf: string | null): Session {
    return {
      access_token: token,
      token_type: "Bearer",
      expires_in: ACCESS_TOKEN_DEFAULT_TTL_SEC,
      ...(csrf === null ? {} : { csrf_token: csrf }),
      user: { id: user.id, email: user.email, roles: [...roles] },
    };
  }

  async function throttleAddress(origin: RequestOrigin) {
    const d = await throttle.addressAllowed(origin.ip);
    if (!d.allowed) {
      throw new AppError("RATE_LIMITED", "too many sign-in attempts from this address", {
        headers: { "retry-after": String(d.retryAfterSeconds) },
        limit: { name: "sign_in_per_address", limit: d.limit, window_seconds: d.windowSeconds },
      });
    }
  }

  const lockedError = (until: number) =>
    new AppError("LOCKED", "too many failed sign-ins; this account is locked for a while", {
      headers: { "retry-after": String(Math.max(1, Math.ceil((until - clock.now()) / 1000))) },
    });

  function refreshParts(token: string | null): { tenantId: string; hash: string } | null {
    const m = token === null ? null : REFRESH_RE.exec(token);
    if (!m?.[1] || token === null) return null;
    return { tenantId: `tnt_${m[1]}`, hash: sha256Hex(token) };
  }

  async function verifierFor(tenantId: string, config: OidcConfigInput): Promise<OidcVerifier> {
    const json = JSON.stringify(config);
    const cached = verifiers.get(tenantId);
    if (cached && cached.json === json) return cached.verifier;
    const verifier = createOidcVerifier({
      config: {
        issuer: config.issuer,
        ...(config.jwks_uri ? { jwksUri: config.jwks_uri } : {}),
        clientId: config.client_id,
        ...(config.audience ? { audience: config.audience } : {}),
        roleMapping: config.role_mapping,
        defaultRole: config.default_role ?? null,
      },
      clock,
      fetch: deps.oidcFetch(config.issuer),
      allowLoopbackHttp: deps.oidcAllowLoopbackHttp,
    });
    verifiers.set(tenantId, { json, verifier });
    return verifier;
  }

  return {
    /** Gives a new tenant its own signing secret. */
    async initTenant(tenantId: string): Promise<void> {
      await ensureSecret(await storage.tenant(tenantId), tenantId);
    },

    /** Drops what is cached for a deleted tenant (its OIDC verifier). */
    forget(tenantId: string): void {
      verifiers.delete(tenantId);
    },

    /** Replaces the tenant's signing secret: every access token of the tenant stops verifying at once. */
    async rotateJwtSecret(actor: Actor, tenantId: string) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "tenant:jwt_rotate");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const { row } = newJwtSecret(await deps.cipher(tenantId), clock.now());
      await db.transaction(async (tx) => {
        await identityStore.replaceJwtSecret(tx, row);
        await audit(tx, {
          tenantId,
          actor,
          action: "auth.jwt_rotated",
          targetIds: [tenantId],
          origin: actor.origin,
          details: { version: row.version },
        });
      });
      return { version: row.version, rotated_at: new Date(row.created_at).toISOString() };
    },

    /**
     * Password sign-in. Unknown tenant, unknown email, disabled user and wrong password all answer
     * the same INVALID_CREDENTIALS after the same argon2 work. `maxFailures` failures within the
     * window lock the account (423 LOCKED, even with the right password) for the lock period.
     */
    async login(input: LoginInput, origin: RequestOrigin): Promise<IssuedSession> {
      await throttleAddress(origin);
      const account = `${input.tenant_id}:${input.email}`;
      const memLock = await throttle.lockedUntil(account);
      if (memLock !== null) throw lockedError(memLock);
      const db = await activeVault(input.tenant_id);
      const user = db ? await identityStore.userByEmail(db, input.tenant_id, input.email) : undefined;
      const now = clock.now();
      if (user?.locked_until != null && user.locked_until > now) throw lockedError(user.locked_until);
      const passwordOk = await verifyPassword(user?.password_hash ?? null, input.password);
      if (!db || !user || !passwordOk || user.status !== "active") {
        const lockUntil = await throttle.fail(account);
        if (db) {
          await db.transaction(async (tx) => {
            if (user && lockUntil !== null) {
              await identityStore.updateUser(tx, input.tenant_id, user.id, { locked_until: lockUntil }, now);
            }
            // Per account, besides the instance chain's per-address record of the 401.
            await audit(tx, {
              tenantId: input.tenant_id,
              actor: ANONYMOUS,
              action: "auth.failed",
              targetIds: user ? [user.id] : [],
              outcome: "denied",
              origin,
              details: { method: "password", account: user ? "known" : "unknown" },
            });
            if (lockUntil !== null) {
              await audit(tx, {
                tenantId: input.tenant_id,
                actor: { type: "system", id: "login-throttle" },
                action: "auth.locked",
                targetIds: user ? [user.id] : [],
                outcome: "denied",
                origin,
                details: { method: "password", locked_until: new Date(lockUntil).toISOString() },
              });
            }
          });
        }
        throw invalid();
      }
      await throttle.succeed(account);
      const roles = rolesOf(user);
      const rehash = needsRehash(user.password_hash ?? "") ? await hashPassword(input.password) : undefined;
      const issued = await db.transaction(async (tx) => {
        await identityStore.updateUser(
          tx,
          input.tenant_id,
          user.id,
          { last_login_at: now, locked_until: null, ...(rehash ? { password_hash: rehash } : {}) },
          now,
        );
        await identityStore.pruneSessions(tx, now - SESSION_RETENTION_MS);
        const s = await insertSession(tx, input.tenant_id, user.id, null);
        await audit(tx, {
          tenantId: input.tenant_id,
          actor: { type: "user", id: user.id },
          action: "auth.login",
          targetIds: [user.id],
          origin,
          details: { method: "password" },
        });
        return s;
      });
      const token = await accessTokenFor(db, input.tenant_id, user, roles);
      return {
        session: sessionBody(token, user, roles, issued.csrfToken),
        refreshToken: issued.refreshToken,
      };
    },

    /**
     * Exchanges a refresh token for a new access token and a new refresh token. A refresh token
     * works once: presenting a spent one revokes its whole family (the thief's and the owner's).
     * Refreshes run in one serialised transaction, so of two concurrent uses at most one succeeds.
     */
    async refresh(token: string | null, csrf: string | null, origin: RequestOrigin): Promise<IssuedSession> {
      const parts = refreshParts(token);
      if (!parts) throw new AppError("UNAUTHENTICATED", "no session");
      const db = await activeVault(parts.tenantId);
      if (!db) throw invalid();
      const now = clock.now();
      const outcome = await db.transaction(async (tx) => {
        const row = await identityStore.sessionByHash(tx, parts.hash);
        if (!row) return { ok: false as const, code: "INVALID_CREDENTIALS" as const };
        if (csrf === null || !constantTimeEqual(sha256Hex(csrf), row.csrf_hash)) {
          return { ok: false as const, code: "CSRF" as const };
        }
        if (row.revoked_at !== null) return { ok: false as const, code: "CREDENTIALS_REVOKED" as const };
        if (row.used_at !== null) {
          await identityStore.revokeFamily(tx, row.family_id, now);
          await audit(tx, {
            tenantId: parts.tenantId,
            actor: { type: "user", id: row.user_id },
            action: "auth.refresh_reused",
            targetIds: [row.user_id, row.family_id],
            outcome: "denied",
            origin,
          });
          return { ok: false as const, code: "CREDENTIALS_REVOKED" as const };
        }
        if (row.expires_at <= now) return { ok: false as const, code: "CREDENTIALS_EXPIRED" as const };
        const user = await identityStore.userById(tx, parts.tenantId, row.user_id);
        if (user?.status !== "active") {
          await identityStore.revokeFamily(tx, row.family_id, now);
          return { ok: false as const, code: "CREDENTIALS_REVOKED" as const };
        }
        await identityStore.markSessionUsed(tx, row.id, now);
        const next = await insertSession(tx, parts.tenantId, user.id, {
          id: row.family_id,
          csrfHash: row.csrf_hash,
        });
        await audit(tx, {
          tenantId: parts.tenantId,
          actor: { type: "user", id: user.id },
          action: "auth.refreshed",
          targetIds: [user.id],
          origin,
        });
        return { ok: true as const, user, refreshToken: next.refreshToken };
      });
      if (!outcome.ok) {
        if (outcome.code === "CSRF") throw new AppError("FORBIDDEN", "missing or wrong X-CSRF-Token");
        throw new AppError(outcome.code, "the session is not valid");
      }
      const roles = rolesOf(outcome.user);
      const access = await accessTokenFor(db, parts.tenantId, outcome.user, roles);
      return { session: sessionBody(access, outcome.user, roles, null), refreshToken: outcome.refreshToken };
    },

    /** Ends the session family of the presented refresh token. Unknown tokens end nothing. */
    /**
     * Whether the person holding this refresh token signed in (password, passkey or OIDC) at most
     * `withinMs` ago: the start of its session family, which refreshes keep. False unless the token
     * is a live, unspent session of `userId` in `tenantId` (an access token alone proves no sign-in time).
     */
    async signedInWithin(
      token: string | null,
      tenantId: string,
      userId: string,
      withinMs: number,
    ): Promise<boolean> {
      const parts = refreshParts(token);
      if (!parts || parts.tenantId !== tenantId) return false;
      const db = await activeVault(parts.tenantId);
      if (!db) return false;
      const row = await identityStore.sessionByHash(db, parts.hash);
      const now = clock.now();
      if (!row || row.user_id !== userId || row.revoked_at !== null || row.used_at !== null) return false;
      if (row.expires_at <= now) return false;
      const at = await identityStore.familyStartedAt(db, row.family_id);
      return at !== null && now - at <= withinMs;
    },

    async logout(token: string | null, csrf: string | null, origin: RequestOrigin): Promise<void> {
      const parts = refreshParts(token);
      if (!parts) return;
      const db = await activeVault(parts.tenantId);
      if (!db) return;
      const now = clock.now();
      const denied = await db.transaction(async (tx) => {
        const row = await identityStore.sessionByHash(tx, parts.hash);
        if (!row) return false;
        if (csrf === null || !constantTimeEqual(sha256Hex(csrf), row.csrf_hash)) return true;
        await identityStore.revokeFamily(tx, row.family_id, now);
        await audit(tx, {
          tenantId: parts.tenantId,
          actor: { type: "user", id: row.user_id },
          action: "auth.logout",
          targetIds: [row.user_id],
          origin,
        });
        return false;
      });
      if (denied) throw new AppError("FORBIDDEN", "missing or wrong X-CSRF-Token");
    },

    /**
     * What a browser sign-in needs to start an authorization-code flow: the tenant's issuer and
     * client id (public values), or null when the tenant is unknown, inactive or has no OIDC.
     */
    async oidcClient(tenantId: string): Promise<{
      issuer: string;
      clientId: string;
      /** The configured token endpoint (else discovery's, on the issuer's origin). */
      tokenEndpoint: string | null;
      /** The client secret, opened for this one exchange; null for a public client. */
      clientSecret: string | null;
    } | null> {
      const db = await activeVault(tenantId);
      if (!db) return null;
      const row = await identityStore.oidcConfig(db);
      if (!row) return null;
      const config = JSON.parse(row.config) as StoredOidc;
      let clientSecret: string | null = null;
      if (config.client_secret_sealed !== undefined) {
        const opened = (await deps.cipher(tenantId)).decryptString(
          OIDC_RECORD,
          CLIENT_SECRET_FIELD,
          config.client_secret_sealed,
        );
        if (!opened.ok) throw new AppError("INTERNAL", "the OIDC client secret cannot be opened");
        clientSecret = opened.plaintext;
      }
      return {
        issuer: config.issuer,
        clientId: config.client_id,
        tokenEndpoint: config.token_endpoint ?? null,
        clientSecret,
      };
    },

    async getOidc(actor: Actor, tenantId: string) {
      authorizeTenantPath(actor, tenantId, "read");
      authorize(actor, "oidc:read");
      await tenants.requireActive(tenantId);
      const row = await identityStore.oidcConfig(await storage.tenant(tenantId));
      if (!row) throw new AppError("NOT_FOUND", "OIDC is not configured for this tenant");
      return oidcView(JSON.parse(row.config) as StoredOidc, row.updated_at);
    },

    async putOidc(actor: Actor, tenantId: string, input: OidcConfigInput) {
      authorizeTenantPath(actor, tenantId, "write");
      authorize(actor, "oidc:configure");
      await tenants.requireActive(tenantId);
      const db = await storage.tenant(tenantId);
      const cipher = await deps.cipher(tenantId);
      const now = clock.now();
      const { client_secret, ...rest } = input;
      const stored = await db.transaction(async (tx) => {
        const before = await identityStore.oidcConfig(tx);
        const previous = before ? (JSON.parse(before.config) as StoredOidc) : null;
        // Omitted: the stored secret stays, for the same issuer and client only.
        const kept =
          previous?.issuer === input.issuer && previous.client_id === input.client_id
            ? previous.client_secret_sealed
            : undefined;
        const sealed =
          typeof client_secret === "string"
            ? cipher.encrypt(OIDC_RECORD, CLIENT_SECRET_FIELD, client_secret)
            : client_secret === null
              ? undefined
              : kept;
        const next: StoredOidc = {
          ...rest,
          ...(sealed !== undefined ? { client_secret_sealed: sealed } : {}),
        };
        await identityStore.putOidcConfig(tx, JSON.stringify(next), now);
        await audit(tx, {
          tenantId,
          actor,
          action: "oidc.configured",
          targetIds: [tenantId],
          origin: actor.origin,
          details: {
            issuer: input.issuer,
            client_id: input.client_id,
            client_secret:
              typeof client_secret === "string"
                ? "set"
                : sealed !== undefined
                  ? "kept"
                  : previous?.client_secret_sealed !== undefined
                    ? "removed"
                    : "none",
          },
        });
        return next;
      });
      verifiers.delete(tenantId);
      return oidcView(stored, now);
    },

    /**
     * OIDC sign-in with an ID token from the tenant's provider. The user is found by provider
     * subject, else by verified email (and linked), else created when `auto_provision` is on. Roles
     * come from the provider's claims through the tenant's mapping at every sign-in; a token that maps
     * to no role is refused.
     */
    async oidcLogin(tenantId: string, idToken: string, origin: RequestOrigin): Promise<IssuedSession> {
      await throttleAddress(origin);
      const db = await activeVault(tenantId);
      if (!db) throw invalid();
      const cfgRow = await identityStore.oidcConfig(db);
      if (!cfgRow)
        throw new AppError("INVALID_CREDENTIALS", "OIDC sign-in is not configured for this tenant");
      const config = JSON.parse(cfgRow.config) as OidcConfigInput;
      const verified = await (await verifierFor(tenantId, config)).verifyIdToken(idToken);
      const now = clock.now();
      const deny = async (reason: string, err: AppError): Promise<never> => {
        await db.transaction((tx) =>
          audit(tx, {
            tenantId,
            actor: ANONYMOUS,
            action: "auth.failed",
            outcome: "denied",
            origin,
            details: { method: "oidc", reason },
          }),
        );
        throw err;
      };
      if (!verified.ok) return deny(verified.reason, invalid());
      if (verified.roles.length === 0) {
        return deny(
          "NO_ROLE",
          new AppError("FORBIDDEN", "your identity provider grants no role in this tenant"),
        );
      }
      const subject = `${config.issuer}#${verified.subject}`;
      const email = verified.email?.toLowerCase() ?? null;
      const roles = verified.roles;
      const result = await db.transaction(async (tx) => {
        let user = await identityStore.userBySubject(tx, tenantId, subject);
        if (!user && email && verified.emailVerified) {
          const byEmail = await identityStore.userByEmail(tx, tenantId, email);
          if (byEmail && byEmail.oidc_subject === null) user = byEmail;
        }
        if (!user) {
          if (!config.auto_provision || !email || !verified.emailVerified) return null;
          if (await identityStore.userByEmail(tx, tenantId, email)) return null;
          const row: UserRow = {
            id: newId("user", now),
            tenant_id: tenantId,
            email,
            password_hash: null,
            roles: JSON.stringify([...roles].sort()),
            status: "active",
            oidc_subject: subject,
            locked_until: null,
            created_at: now,
            updated_at: now,
            last_login_at: null,
          };
          await identityStore.insertUser(tx, row);
          await audit(tx, {
            tenantId,
            actor: { type: "system", id: "oidc" },
            action: "user.created",
            targetIds: [row.id],
            origin,
            details: { roles, method: "oidc" },
          });
          user = row;
        }
        if (user.status !== "active") return null;
        await identityStore.updateUser(
          tx,
          tenantId,
          user.id,
          { oidc_subject: subject, roles: JSON.stringify([...roles].sort()), last_login_at: now },
          now,
        );
        const s = await insertSession(tx, tenantId, user.id, null);
        await audit(tx, {
          tenantId,
          actor: { type: "user", id: user.id },
          action: "auth.login",
          targetIds: [user.id],
          origin,
          details: { method: "oidc" },
        });
        return { user: { ...user, oidc_subject: subject }, ...s };
      });
      if (result === null) return deny("NO_USER", invalid());
      const token = await accessTokenFor(db, tenantId, result.user, roles);
      return {
        session: sessionBody(token, result.user, roles, result.csrfToken),
        refreshToken: result.refreshToken,
      };
    },

    /**
     * Opens a session for a person whose passkey assertion the caller has just verified (the
     * console's WebAuthn sign-in). A disabled or unknown user gets the same INVALID_CREDENTIALS.
     */
    async passkeyLogin(tenantId: string, userId: string, origin: RequestOrigin): Promise<IssuedSession> {
      await throttleAddress(origin);
      const db = await activeVault(tenantId);
      if (!db) throw invalid();
      const now = clock.now();
      const result = await db.transaction(async (tx) => {
        const user = await identityStore.userById(tx, tenantId, userId);
        if (user?.status !== "active") return null;
        await identityStore.updateUser(tx, tenantId, user.id, { last_login_at: now }, now);
        const s = await insertSession(tx, tenantId, user.id, null);
        await audit(tx, {
          tenantId,
          actor: { type: "user", id: user.id },
          action: "auth.login",
          targetIds: [user.id],
          origin,
          details: { method: "passkey" },
        });
        return { user, ...s };
      });
      if (result === null) throw invalid();
      const roles = rolesOf(result.user);
      const token = await accessTokenFor(db, tenantId, result.user, roles);
      return {
        session: sessionBody(token, result.user, roles, result.csrfToken),
        refreshToken: result.refreshToken,
      };
    },

    /**
     * Verifies a person's access token at the chokepoint: signature with the tenant's current
     * secret, claims, then the user must still exist and be active. The token's roles apply only as
     * far as the user still holds them (a demotion takes effect at once; a promotion at the next
     * refresh).
     */
    async verifyUserToken(token: string, origin: RequestOrigin): Promise<VerifiedCredential> {
      const result = await verifyAccessToken(token, {
        resolveTenantSecret: async (tid) => {
          const db = await activeVault(tid);
          return db ? secretsOf(await deps.cipher(tid), await identityStore.jwtSecrets(db)) : null;
        },
        issuer: deps.issuer,
        clock,
      });
      if (!result.ok) {
        return {
          ok: false,
          code: result.reason === "EXPIRED" ? "CREDENTIALS_EXPIRED" : "INVALID_CREDENTIALS",
        };
      }
      const { tid, sub } = result.claims;
      if (!isId("user", sub)) return { ok: false, code: "INVALID_CREDENTIALS" };
      const db = await activeVault(tid);
      const user = db ? await identityStore.userById(db, tid, sub) : undefined;
      if (!user) return { ok: false, code: "INVALID_CREDENTIALS" };
      if (user.status !== "active") return { ok: false, code: "CREDENTIALS_REVOKED" };
      // Issued before the person's sessions were ended (signed out everywhere, new password).
      if (user.sessions_ended_at != null && result.claims.iat * 1000 < user.sessions_ended_at) {
        return { ok: false, code: "CREDENTIALS_REVOKED" };
      }
      const current = rolesOf(user);
      const roles = result.claims.roles.filter((r) => current.includes(r));
      // What both the token's roles and the user's current roles allow.
      const now = actionsForRoles(current);
      const actions = new Set([...actionsForRoles(result.claims.roles)].filter((a) => now.has(a)));
      return {
        ok: true,
        kind: "user_token",
        rateLimitPerMinute: null,
        actor: {
          type: "user",
          id: user.id,
          tenantId: tid,
          email: user.email,
          roles,
          actions,
          namespaces: null,
          origin,
        },
      };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
