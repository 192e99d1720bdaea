/**
 * OpenID Connect sign-on, one configuration per tenant.
 *
 * Discovery and the issuer's JWKS are fetched by us and cached for `jwksTtlMs`. A token whose `kid`
 * is not in the cached set triggers at most ONE refetch, and only if the last fetch is older than
 * `unknownKidCooldownMs`, so a stream of tokens with made-up kids cannot turn into a stream of
 * requests to the identity provider. ID tokens are verified by the same header policy as our own
 * tokens (`verifyJwt`), with RS256 and ES256 only.
 */
import type { JWK, JWTPayload } from "jose";
import { z } from "zod";
import type { Clock } from "../../lib/clock.ts";
import { constantTimeEqual } from "../../lib/secrets.ts";
import {
  type ClaimFailureReason,
  type JwsAlgorithm,
  type JwsFailureReason,
  parseCompactJws,
  ROLES,
  type Role,
  selectVerificationKey,
  verifyJwt,
} from "./tokens.ts";

export const OIDC_ALGORITHMS: readonly JwsAlgorithm[] = ["RS256", "ES256"];

/**
 * Where a provider puts roles or groups:
 * - `groups` (Okta), `roles` (Auth0 RBAC, Entra ID app roles), an Auth0 namespaced custom claim
 *   such as `https://hypha.example/roles` (read as one top-level claim, dots and all);
 * - `realm_access.roles` and `resource_access.<client>.roles` (Keycloak).
 * Google sends no roles: such a tenant relies on `defaultRole` (or grants none).
 */
export const roleClaimSchema = z.union([
  z.enum(["roles", "groups", "realm_access.roles"]),
  z.string().regex(/^resource_access\.[A-Za-z0-9_.:-]{1,128}\.roles$/),
  z.string().regex(/^https:\/\/[\x21-\x7e]{1,200}$/),
]);

export const oidcTenantConfigSchema = z.object({
  issuer: z.url().max(512),
  /** The JWKS URL, trusted as given; unset, discovery's `jwks_uri` must share the issuer's origin. */
  jwksUri: z.url().max(512).optional(),
  clientId: z.string().min(1).max(256),
  /** Expected `aud` when the provider uses something other than the client id. */
  audience: z.string().min(1).max(256).optional(),
  roleMapping: z.object({
    claim: roleClaimSchema,
    map: z.record(z.string().min(1).max(256), z.enum(ROLES)),
  }),
  /** Role for a verified user whose token maps to no role; null or absent grants none. */
  defaultRole: z.enum(ROLES).nullable().optional(),
});
export type OidcTenantConfig = z.infer<typeof oidcTenantConfigSchema>;
export type RoleMapping = OidcTenantConfig["roleMapping"];

function ownProperty(value: unknown, key: string): unknown {
  if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined;
  return (value as Record<string, unknown>)[key];
}

/** The raw value at a role claim, reading only own properties (no `__proto__` tricks). */
export function readRoleClaim(claims: Record<string, unknown>, claim: string): unknown {
  if (Object.hasOwn(claims, claim)) return claims[claim];
  if (claim === "realm_access.roles") return ownProperty(ownProperty(claims, "realm_access"), "roles");
  const client = /^resource_access\.(.+)\.roles$/.exec(claim)?.[1];
  if (client !== undefined) {
    return ownProperty(ownProperty(ownProperty(claims, "resource_access"), client), "roles");
  }
  return undefined;
}

/**
 * Maps provider roles or groups to Hypha roles. Values not in `map` are ignored; a lone string is
 * treated as a one-element list. With nothing mapped, the result is `[defaultRole]` or `[]`.
 */
export function mapOidcRoles(
  claims: Record<string, unknown>,
  mapping: RoleMapping,
  defaultRole: Role | null = null,
): Role[] {
  const raw = readRoleClaim(claims, mapping.claim);
  const values = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : [];
  const granted = new Set<Role>();
  for (const value of values) {
    if (typeof value !== "string" || !Object.hasOwn(mapping.map, value)) continue;
    const role = mapping.map[value];
    if (role !== undefined) granted.add(role);
  }
  if (granted.size === 0) return defaultRole === null ? [] : [defaultRole];
  return ROLES.filter((role) => granted.has(role));
}

export type OidcFailureReason =
  | JwsFailureReason
  | ClaimFailureReason
  | "DISCOVERY_FAILED"
  | "JWKS_UNAVAILABLE"
  | "NONCE_MISMATCH"
  | "AZP_MISMATCH";

export type IdTokenVerification =
  | {
      ok: true;
      subject: string;
      email: string | null;
      emailVerified: boolean;
      roles: Role[];
      claims: JWTPayload;
    }
  | { ok: false; reason: OidcFailureReason };

export type OidcVerifierDeps = {
  config: OidcTenantConfig;
  clock: Clock;
  fetch?: typeof fetch;
  /** How long discovery and JWKS are trusted before a routine refetch. */
  jwksTtlMs?: number;
  /** Minimum time between two fetches caused by an unknown `kid`. */
  unknownKidCooldownMs?: number;
  maxSkewSec?: number;
  timeoutMs?: number;
  /** Permit plain http to 127.0.0.1/localhost/[::1] (tests and local providers only). */
  allowLoopbackHttp?: boolean;
};

const MAX_DOCUMENT_BYTES = 256 * 1024;
const MAX_JWKS_KEYS = 64;
/** ID tokens older than this are refused even if their `exp` says otherwise. */
const MAX_ID_TOKEN_AGE_SEC = 24 * 60 * 60;

type Discovery = { issuer: string; jwksUri: string };
type JwksCache = { keys: JWK[]; fetchedAt: number };

function isAllowedUrl(value: string, allowLoopbackHttp: boolean): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== "" || url.password !== "") return false;
  if (url.protocol === "https:") return true;
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  return allowLoopbackHttp && url.protocol === "http:" && loopback;
}

/** Same scheme, host and port: where the issuer's own documents must live. */
function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function isSignatureKey(value: unknown): value is JWK {
  if (typeof value !== "object" || value === null) return false;
  const key = value as Record<string, unknown>;
  return (key.kty === "RSA" || key.kty === "EC") && (key.use === undefined || key.use === "sig");
}

/**
 * A verifier bound to one tenant's OIDC configuration. Create one per tenant and keep it: the
 * discovery and JWKS caches live in it.
 *
 * @example
 * const oidc = createOidcVerifier({ config, clock: systemClock });
 * const r = await oidc.verifyIdToken(idToken, { nonce: session.nonce });
 * if (!r.ok) return deny(r.reason);
 */
export function createOidcVerifier(deps: OidcVerifierDeps) {
  const { config, clock } = deps;
  const doFetch = deps.fetch ?? globalThis.fetch;
  const ttlMs = deps.jwksTtlMs ?? 10 * 60_000;
  const cooldownMs = deps.unknownKidCooldownMs ?? 60_000;
  const timeoutMs = deps.timeoutMs ?? 5_000;
  const allowLoopbackHttp = deps.allowLoopbackHttp ?? false;

  let discovery: { value: Discovery; fetchedAt: number } | null = null;
  let jwks: JwksCache | null = null;
  let lastJwksFetchAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<JwksCache | null> | null = null;
  let discoveryInflight: Promise<Discovery | null> | null = null;
  let lastDiscoveryFailureAt = Number.NEGATIVE_INFINITY;
  let jwksFetches = 0;

  async function getJson(url: string): Promise<unknown> {
    const response = await doFetch(url, {
      redirect: "error",
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    const body = await response.arrayBuffer();
    if (body.byteLength > MAX_DOCUMENT_BYTES)
      throw new Error(`GET ${url} answered more than ${MAX_DOCUMENT_BYTES} bytes`);
    return JSON.parse(new TextDecoder().decode(body));
  }

  /**
   * Fetches `/.well-known/openid-configuration` and insists its `issuer` is exactly ours, and its
   * `jwks_uri` on the issuer's origin: whoever can edit the document (or answer for the issuer's
   * name) must not be able to send us for keys, or for anything, to another host. A JWKS elsewhere
   * is used only when the tenant configured it explicitly (`jwksUri`).
   * Concurrent callers share one request.
   */
  function discover(): Promise<Discovery | null> {
    if (discovery !== null && clock.now() - discovery.fetchedAt < ttlMs)
      return Promise.resolve(discovery.value);
    // A broken provider is not asked again on every sign-in attempt: failures wait out the cooldown.
    if (clock.now() - lastDiscoveryFailureAt < cooldownMs) return Promise.resolve(discovery?.value ?? null);
    discoveryInflight ??= fetchDiscovery().finally(() => {
      discoveryInflight = null;
    });
    return discoveryInflight;
  }

  async function fetchDiscovery(): Promise<Discovery | null> {
    const now = clock.now();
    if (!isAllowedUrl(config.issuer, allowLoopbackHttp)) return null;
    try {
      const document = await getJson(`${config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
      const issuer = ownProperty(document, "issuer");
      const jwksUri = ownProperty(document, "jwks_uri");
      const keysAt = config.jwksUri ?? jwksUri;
      if (
        issuer !== config.issuer ||
        typeof keysAt !== "string" ||
        !isAllowedUrl(keysAt, allowLoopbackHttp) ||
        (config.jwksUri === undefined && !sameOrigin(keysAt, config.issuer))
      ) {
        lastDiscoveryFailureAt = now;
        return discovery?.value ?? null;
      }
      discovery = { value: { issuer, jwksUri: keysAt }, fetchedAt: now };
      return discovery.value;
    } catch {
      lastDiscoveryFailureAt = now;
      return discovery?.value ?? null; // keep the last good document through a provider outage
    }
  }

  /** One JWKS fetch at a time; concurrent callers share it. A failed refresh keeps the old keys. */
  function fetchJwks(): Promise<JwksCache | null> {
    inflight ??= (async () => {
      try {
        const meta = await discover();
        if (meta === null) return jwks;
        lastJwksFetchAt = clock.now();
        jwksFetches++;
        const document = await getJson(meta.jwksUri);
        const list = ownProperty(document, "keys");
        if (!Array.isArray(list)) return jwks;
        jwks = { keys: list.filter(isSignatureKey).slice(0, MAX_JWKS_KEYS), fetchedAt: clock.now() };
        return jwks;
      } catch {
        return jwks;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  async function currentKeys(): Promise<JwksCache | null> {
    if (jwks !== null && clock.now() - jwks.fetchedAt < ttlMs) return jwks;
    return fetchJwks();
  }

  async function verifyIdToken(
    token: unknown,
    options: { nonce?: string } = {},
  ): Promise<IdTokenVerification> {
    const parsed = parseCompactJws(token);
    if (parsed === null) return { ok: false, reason: "MALFORMED" };
    if ((await discover()) === null) return { ok: false, reason: "DISCOVERY_FAILED" };
    let cache = await currentKeys();
    if (cache === null) return { ok: false, reason: "JWKS_UNAVAILABLE" };

    const policy = { keys: cache.keys, allowedAlgorithms: OIDC_ALGORITHMS };
    const first = selectVerificationKey(parsed.header, policy);
    // Only a token that passes every other header rule may cause a refetch, and only once per cooldown.
    if (!first.ok && first.reason === "UNKNOWN_KID" && clock.now() - lastJwksFetchAt >= cooldownMs) {
      cache = (await fetchJwks()) ?? cache;
    }

    const audience = config.audience ?? config.clientId;
    const result = await verifyJwt(token, {
      keys: cache.keys,
      allowedAlgorithms: OIDC_ALGORITHMS,
      requireKid: false,
      issuer: config.issuer,
      audience,
      nowMs: clock.now(),
      maxSkewSec: deps.maxSkewSec ?? 30,
      maxAgeSec: MAX_ID_TOKEN_AGE_SEC,
      requiredClaims: ["iss", "sub", "aud", "exp", "iat"],
    });
    if (!result.ok) return result;
    const claims = result.payload;

    // OIDC Core 3.1.3.7: with several audiences, azp must name us.
    if (Array.isArray(claims.aud) && claims.aud.length > 1 && claims.azp !== config.clientId) {
      return { ok: false, reason: "AZP_MISMATCH" };
    }
    if (claims.azp !== undefined && claims.azp !== config.clientId)
      return { ok: false, reason: "AZP_MISMATCH" };
    if (options.nonce !== undefined) {
      if (typeof claims.nonce !== "string" || !constantTimeEqual(claims.nonce, options.nonce)) {
        return { ok: false, reason: "NONCE_MISMATCH" };
      }
    }
    if (typeof claims.sub !== "string" || claims.sub.length === 0 || claims.sub.length > 255) {
      return { ok: false, reason: "INVALID_CLAIMS" };
    }
    return {
      ok: true,
      subject: claims.sub,
      email: typeof claims.email === "string" ? claims.email : null,
      emailVerified: claims.email_verified === true,
      roles: mapOidcRoles(claims, config.roleMapping, config.defaultRole ?? null),
      claims,
    };
  }

  return {
    discover,
    verifyIdToken,
    /** Counters for tests and metrics. */
    stats: () => ({ jwksFetches, cachedKids: jwks?.keys.map((key) => key.kid ?? null) ?? [] }),
  };
}

export type OidcVerifier = ReturnType<typeof createOidcVerifier>;
