/**
 * Signed tokens: a strict, generic JWS verifier (`verifyJws`) and Hypha's own access tokens.
 *
 * Access tokens are HS256 JWTs signed with the issuing tenant's own secret, so a token of tenant A
 * cannot verify for tenant B. The verifier trusts nothing in the header: the algorithm is pinned per
 * key type, header-embedded keys (`jwk`, `jku`, `x5u`, `x5c`) and `crit` are refused, and the key is
 * chosen by `kid` from keys the caller supplies. All signature and claim arithmetic is done by `jose`.
 */
import { randomBytes } from "node:crypto";
import { compactVerify, errors, importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import type { Clock } from "../../lib/clock.ts";

/** Longest compact JWS we read at all; an ID token with many groups stays well below this. */
export const MAX_JWS_LENGTH = 16_384;

/** Algorithms this module can verify. `none` is not one of them and can never be allowed. */
export const JWS_ALGORITHMS = [
  "HS256",
  "HS384",
  "HS512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

/**
 * Header parameters that make a token carry or point at its own verification key, or demand
 * extensions we do not implement. A token bearing any of them is refused before any key is used.
 */
export const FORBIDDEN_HEADER_PARAMS = ["jwk", "jku", "x5u", "x5c", "crit", "b64", "zip", "enc"] as const;

export type JwsHeader = { alg: string; kid?: string; typ?: string; [param: string]: unknown };

export type JwsFailureReason =
  | "MALFORMED"
  | "ALG_NOT_ALLOWED"
  | "FORBIDDEN_HEADER"
  | "UNKNOWN_KID"
  | "KEY_NOT_USABLE"
  | "SIGNATURE_INVALID";

export type JwsVerification =
  | { ok: true; alg: JwsAlgorithm; header: JwsHeader; payload: Uint8Array; key: JWK }
  | { ok: false; reason: JwsFailureReason };

export type VerifyJwsOptions = {
  /** Verification keys (JWK). Private members are ignored; only the public part is imported. */
  keys: readonly JWK[];
  /** The caller's allow-list; a token's `alg` must be in it AND fit the chosen key's type. */
  allowedAlgorithms: readonly JwsAlgorithm[];
  /** Refuse tokens without a `kid` even when only one key could fit. */
  requireKid?: boolean;
};

type ParsedJws = { header: JwsHeader; payloadSegment: string };

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict, canonical base64url (RFC 7515 §2): no padding, no stray characters, no non-zero spare bits. */
function decodeSegment(segment: string): Buffer | null {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return null;
  const bytes = Buffer.from(segment, "base64url");
  return bytes.toString("base64url") === segment ? bytes : null;
}

function parseJsonObject(bytes: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    return value as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Splits a compact JWS and decodes its header without trusting anything in it. */
export function parseCompactJws(jws: unknown): ParsedJws | null {
  if (typeof jws !== "string" || jws.length === 0 || jws.length > MAX_JWS_LENGTH) return null;
  const parts = jws.split(".");
  if (parts.length !== 3) return null;
  const [headerSegment, payloadSegment, signatureSegment] = parts as [string, string, string];
  if (headerSegment === "" || signatureSegment === "") return null;
  const headerBytes = decodeSegment(headerSegment);
  if (headerBytes === null || decodeSegment(payloadSegment) === null) return null;
  if (decodeSegment(signatureSegment) === null) return null;
  const header = parseJsonObject(headerBytes);
  if (header === null || typeof header.alg !== "string") return null;
  if (header.kid !== undefined && typeof header.kid !== "string") return null;
  if (header.typ !== undefined && typeof header.typ !== "string") return null;
  return { header: header as JwsHeader, payloadSegment };
}

/** Decodes a JWS payload as a JSON object. Only for choosing a key; verify before trusting it. */
export function decodeUnverifiedPayload(payloadSegment: string): Record<string, unknown> | null {
  const bytes = decodeSegment(payloadSegment);
  return bytes === null ? null : parseJsonObject(bytes);
}

const EC_ALG_BY_CURVE: Record<string, JwsAlgorithm> = {
  "P-256": "ES256",
  "P-384": "ES384",
  "P-521": "ES512",
};
const HMAC_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };

/**
 * The algorithm family a key may be used with, decided by the key's type, never by the token:
 * an RSA or EC public key can never be fed to HMAC (the classic key-confusion attack), and an
 * HMAC secret never to a signature check. A key that declares `alg` is used with exactly that
 * algorithm (RFC 8725 §3.1), so a PS512 key never verifies a PS256 or RS256 signature.
 */
function keyFitsAlgorithm(key: JWK, alg: JwsAlgorithm): boolean {
  if (key.use !== undefined && key.use !== "sig") return false;
  if (key.key_ops !== undefined && !(Array.isArray(key.key_ops) && key.key_ops.includes("verify"))) {
    return false;
  }
  if (key.alg !== undefined && key.alg !== alg) return false;
  switch (key.kty) {
    case "oct": {
      const bytes = typeof key.k === "string" ? decodeSegment(key.k) : null;
      const min = HMAC_MIN_BYTES[alg];
      return bytes !== null && min !== undefined && bytes.length >= min;
    }
    case "RSA":
      return /^(RS|PS)(256|384|512)$/.test(alg);
    case "EC":
      return typeof key.crv === "string" && EC_ALG_BY_CURVE[key.crv] === alg;
    default:
      return false;
  }
}

/** Only the public members of a key, so a private key handed in by mistake is never imported. */
function publicPart(key: JWK): JWK {
  switch (key.kty) {
    case "RSA":
      return { kty: "RSA", n: key.n, e: key.e };
    case "EC":
      return { kty: "EC", crv: key.crv, x: key.x, y: key.y };
    default:
      return { kty: key.kty, k: key.k };
  }
}

type KeySelection =
  | { ok: true; alg: JwsAlgorithm; key: JWK }
  | { ok: false; reason: Exclude<JwsFailureReason, "SIGNATURE_INVALID"> };

/** Applies the header policy and picks the one key a token may be checked with. */
export function selectVerificationKey(header: JwsHeader, options: VerifyJwsOptions): KeySelection {
  for (const param of FORBIDDEN_HEADER_PARAMS) {
    if (Object.hasOwn(header, param)) return { ok: false, reason: "FORBIDDEN_HEADER" };
  }
  const alg = options.allowedAlgorithms.find((allowed) => allowed === header.alg);
  if (alg === undefined) return { ok: false, reason: "ALG_NOT_ALLOWED" };
  if (header.kid === undefined && options.requireKid) return { ok: false, reason: "UNKNOWN_KID" };
  const candidates =
    header.kid === undefined ? options.keys : options.keys.filter((key) => key.kid === header.kid);
  if (candidates.length === 0) return { ok: false, reason: "UNKNOWN_KID" };
  const usable = candidates.filter((key) => keyFitsAlgorithm(key, alg));
  const [key, ...others] = usable;
  if (key === undefined || others.length > 0) return { ok: false, reason: "KEY_NOT_USABLE" };
  return { ok: true, alg, key };
}

async function importVerificationKey(key: JWK, alg: JwsAlgorithm) {
  return importJWK(publicPart(key), alg);
}

/**
 * Verifies a compact JWS against caller-supplied keys. Used for our own access tokens, for OIDC
 * ID tokens, and run against every Wycheproof JWS vector.
 *
 * @example
 * const r = await verifyJws(token, { keys: jwks.keys, allowedAlgorithms: ["RS256", "ES256"] });
 * if (!r.ok) return deny(r.reason);
 */
export async function verifyJws(jws: unknown, options: VerifyJwsOptions): Promise<JwsVerification> {
  const parsed = parseCompactJws(jws);
  if (parsed === null || typeof jws !== "string") return { ok: false, reason: "MALFORMED" };
  const selected = selectVerificationKey(parsed.header, options);
  if (!selected.ok) return selected;
  try {
    const key = await importVerificationKey(selected.key, selected.alg);
    const result = await compactVerify(jws, key, { algorithms: [selected.alg] });
    return { ok: true, alg: selected.alg, header: parsed.header, payload: result.payload, key: selected.key };
  } catch (error) {
    return { ok: false, reason: joseFailure(error) };
  }
}

/** Maps jose's exceptions for expected failures to stable reasons; anything else is a bug and rethrown. */
function joseFailure(error: unknown): JwsFailureReason {
  if (error instanceof errors.JWSSignatureVerificationFailed) return "SIGNATURE_INVALID";
  if (error instanceof errors.JOSEAlgNotAllowed) return "ALG_NOT_ALLOWED";
  if (error instanceof errors.JWKInvalid || error instanceof errors.JOSENotSupported) return "KEY_NOT_USABLE";
  if (error instanceof errors.JOSEError) return "MALFORMED";
  if (error instanceof TypeError) return "KEY_NOT_USABLE"; // key import refused (e.g. RSA modulus < 2048)
  throw error;
}

export type ClaimFailureReason =
  | "EXPIRED"
  | "NOT_YET_VALID"
  | "ISSUED_IN_FUTURE"
  | "WRONG_ISSUER"
  | "WRONG_AUDIENCE"
  | "WRONG_TYPE"
  | "INVALID_CLAIMS";

export type JwtCheck = {
  keys: readonly JWK[];
  allowedAlgorithms: readonly JwsAlgorithm[];
  requireKid: boolean;
  issuer: string;
  /** Required for every token we accept in the product; optional only for foreign test vectors. */
  audience?: string;
  nowMs: number;
  maxSkewSec: number;
  /**
   * Longest age we accept from `iat`; also makes `iat` required and turns on jose's "iat not in the
   * future" check. Set for every token the product accepts.
   */
  maxAgeSec?: number;
  typ?: string;
  requiredClaims: readonly string[];
};

export type JwtVerification =
  | { ok: true; header: JwsHeader; payload: JWTPayload }
  | { ok: false; reason: JwsFailureReason | ClaimFailureReason };

/**
 * Verifies a JWT: the same header policy and key selection as `verifyJws`, then jose's `jwtVerify`
 * with a pinned algorithm, the injected clock and a bounded clock skew.
 */
export async function verifyJwt(token: unknown, check: JwtCheck): Promise<JwtVerification> {
  const parsed = parseCompactJws(token);
  if (parsed === null || typeof token !== "string") return { ok: false, reason: "MALFORMED" };
  const selected = selectVerificationKey(parsed.header, check);
  if (!selected.ok) return selected;
  try {
    const key = await importVerificationKey(selected.key, selected.alg);
    const result = await jwtVerify(token, key, {
      algorithms: [selected.alg],
      issuer: check.issuer,
      ...(check.audience === undefined ? {} : { audience: check.audience }),
      currentDate: new Date(check.nowMs),
      clockTolerance: check.maxSkewSec,
      ...(check.maxAgeSec === undefined ? {} : { maxTokenAge: check.maxAgeSec }),
      requiredClaims: [...check.requiredClaims],
      ...(check.typ === undefined ? {} : { typ: check.typ }),
    });
    return { ok: true, header: parsed.header, payload: result.payload };
  } catch (error) {
    return { ok: false, reason: claimFailure(error) };
  }
}

function claimFailure(error: unknown): JwsFailureReason | ClaimFailureReason {
  if (error instanceof errors.JWTExpired) return "EXPIRED";
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
        return error.reason === "check_failed" ? "NOT_YET_VALID" : "INVALID_CLAIMS";
      case "iat":
        return error.reason === "check_failed" ? "ISSUED_IN_FUTURE" : "INVALID_CLAIMS";
      case "iss":
        return "WRONG_ISSUER";
      case "aud":
        return "WRONG_AUDIENCE";
      case "typ":
        return "WRONG_TYPE";
      default:
        return "INVALID_CLAIMS";
    }
  }
  if (error instanceof errors.JWTInvalid) return "INVALID_CLAIMS";
  return joseFailure(error);
}

// ---------------------------------------------------------------------------------------------
// Hypha access tokens
// ---------------------------------------------------------------------------------------------

export const ACCESS_TOKEN_AUDIENCE = "hypha";
export const ACCESS_TOKEN_TYP = "at+jwt";
export const ACCESS_TOKEN_DEFAULT_TTL_SEC = 15 * 60;
export const ACCESS_TOKEN_MAX_TTL_SEC = 60 * 60;
export const MIN_TENANT_SECRET_BYTES = 32;

export const ROLES = ["ADMIN", "AUDIT_ADMIN", "DEVELOPER", "VIEWER"] as const;
export type Role = (typeof ROLES)[number];

/** One version of a tenant's signing secret; `version` travels as the token's `kid`. */
export type TenantSigningSecret = { version: string; key: Uint8Array };

export type AccessTokenClaims = {
  iss: string;
  aud: string;
  sub: string;
  tid: string;
  roles: Role[];
  scopes: string[];
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  typ: "access";
};

export type MintAccessTokenInput = {
  tenantId: string;
  subject: string;
  roles: readonly Role[];
  scopes: readonly string[];
  secret: TenantSigningSecret;
  issuer: string;
  clock: Clock;
  ttlSec?: number;
};

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET_VERSION = /^[A-Za-z0-9._-]{1,64}$/;

function secretToJwk(secret: TenantSigningSecret): JWK | null {
  if (secret.key.length < MIN_TENANT_SECRET_BYTES || !SECRET_VERSION.test(secret.version)) return null;
  return { kty: "oct", k: Buffer.from(secret.key).toString("base64url"), kid: secret.version, alg: "HS256" };
}

/**
 * Mints a 15-minute access token signed with the tenant's current secret.
 *
 * @example
 * const { token } = await mintAccessToken({ tenantId, subject: userId, roles: ["DEVELOPER"],
 *   scopes: ["read"], secret: { version: "v3", key }, issuer: config.publicUrl, clock });
 */
export async function mintAccessToken(
  input: MintAccessTokenInput,
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const ttlSec = input.ttlSec ?? ACCESS_TOKEN_DEFAULT_TTL_SEC;
  if (!Number.isInteger(ttlSec) || ttlSec < 1 || ttlSec > ACCESS_TOKEN_MAX_TTL_SEC) {
    throw new RangeError(`ttlSec must be an integer between 1 and ${ACCESS_TOKEN_MAX_TTL_SEC}`);
  }
  if (!TENANT_ID.test(input.tenantId)) throw new RangeError("tenantId has an unexpected format");
  if (input.secret.key.length < MIN_TENANT_SECRET_BYTES) {
    throw new RangeError(`a tenant signing secret must be at least ${MIN_TENANT_SECRET_BYTES} bytes`);
  }
  if (!SECRET_VERSION.test(input.secret.version))
    throw new RangeError("secret version has an unexpected format");
  const iat = Math.floor(input.clock.now() / 1000);
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    aud: ACCESS_TOKEN_AUDIENCE,
    sub: input.subject,
    tid: input.tenantId,
    roles: [...input.roles],
    scopes: [...input.scopes],
    iat,
    nbf: iat,
    exp: iat + ttlSec,
    jti: randomBytes(16).toString("base64url"),
    typ: "access",
  };
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", kid: input.secret.version, typ: ACCESS_TOKEN_TYP })
    .sign(input.secret.key);
  return { token, claims };
}

export type VerifyAccessTokenOptions = {
  /** The tenant's signing secrets by version (current and, during rotation, previous); null if unknown. */
  resolveTenantSecret(
    tenantId: string,
  ): Promise<readonly TenantSigningSecret[] | null> | readonly TenantSigningSecret[] | null;
  issuer: string;
  audience?: string;
  clock: Clock;
  maxSkewSec?: number;
};

export type AccessTokenFailureReason = JwsFailureReason | ClaimFailureReason | "UNKNOWN_TENANT";

export type AccessTokenVerification =
  | { ok: true; claims: AccessTokenClaims }
  | { ok: false; reason: AccessTokenFailureReason };

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/**
 * Verifies one of our access tokens. The tenant id is read from the unverified payload only to
 * pick that tenant's secrets; the signature then proves it. The caller still checks that
 * `claims.tid` is the tenant the request addresses.
 */
export async function verifyAccessToken(
  token: unknown,
  options: VerifyAccessTokenOptions,
): Promise<AccessTokenVerification> {
  const parsed = parseCompactJws(token);
  if (parsed === null) return { ok: false, reason: "MALFORMED" };
  const unverified = decodeUnverifiedPayload(parsed.payloadSegment);
  const tid = unverified?.tid;
  if (typeof tid !== "string" || !TENANT_ID.test(tid)) return { ok: false, reason: "INVALID_CLAIMS" };
  const secrets = await options.resolveTenantSecret(tid);
  if (secrets === null || secrets.length === 0) return { ok: false, reason: "UNKNOWN_TENANT" };
  const keys = secrets.map(secretToJwk).filter((key): key is JWK => key !== null);

  const result = await verifyJwt(token, {
    keys,
    allowedAlgorithms: ["HS256"],
    requireKid: true,
    issuer: options.issuer,
    audience: options.audience ?? ACCESS_TOKEN_AUDIENCE,
    nowMs: options.clock.now(),
    maxSkewSec: options.maxSkewSec ?? 30,
    maxAgeSec: ACCESS_TOKEN_MAX_TTL_SEC,
    typ: ACCESS_TOKEN_TYP,
    requiredClaims: ["iss", "aud", "sub", "tid", "iat", "nbf", "exp", "jti", "typ"],
  });
  if (!result.ok) return result;
  const p = result.payload;
  if (p.typ !== "access") return { ok: false, reason: "WRONG_TYPE" };
  if (p.tid !== tid) return { ok: false, reason: "INVALID_CLAIMS" };
  if (
    typeof p.sub !== "string" ||
    typeof p.jti !== "string" ||
    typeof p.iss !== "string" ||
    typeof p.aud !== "string" ||
    typeof p.iat !== "number" ||
    typeof p.nbf !== "number" ||
    typeof p.exp !== "number" ||
    p.exp - p.iat > ACCESS_TOKEN_MAX_TTL_SEC ||
    !Array.isArray(p.roles) ||
    !p.roles.every(isRole) ||
    !isStringArray(p.scopes)
  ) {
    return { ok: false, reason: "INVALID_CLAIMS" };
  }
  return {
    ok: true,
    claims: {
      iss: p.iss,
      aud: p.aud,
      sub: p.sub,
      tid,
      roles: p.roles,
      scopes: p.scopes,
      iat: p.iat,
      nbf: p.nbf,
      exp: p.exp,
      jti: p.jti,
      typ: "access",
    },
  };
}
