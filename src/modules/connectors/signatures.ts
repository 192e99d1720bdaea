import { createHash } from "node:crypto";
import { type JWTPayload, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from "jose";
import { constantTimeEqual } from "../../lib/secrets.ts";
import { DEFAULT_TOLERANCE_SEC } from "./connectors.schemas.ts";
import {
  checkWindow,
  decodeBase64_32,
  decodeHex32,
  equalBytes,
  hmacSha256,
  matchesAny,
  parseUnixSeconds,
} from "./hmac.ts";

/**
 * Inbound webhook verifiers, one per scheme. Each checks the signature over the RAW request bytes
 * before anything parses them: a body that was parsed and re-serialised is different bytes and must
 * not verify. Comparisons are constant time. No secret means reject — a connector whose secret was
 * never set must not accept unsigned traffic.
 *
 * Expected failures are values. The reason codes are stable and safe to log; the HTTP layer should
 * answer every failure with the same 401 so a caller learns nothing about which check failed.
 */

/** Request headers with lower-cased names, as Node's `IncomingMessage.headers` gives them. */
export type InboundHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export type VerifyFailureReason =
  | "NO_SECRET_CONFIGURED"
  | "SECRET_INVALID"
  | "SIGNATURE_MISSING"
  | "MALFORMED_HEADER"
  | "SIGNATURE_MISMATCH"
  | "TIMESTAMP_STALE"
  | "TIMESTAMP_IN_FUTURE"
  | "TOKEN_INVALID"
  | "TOKEN_EXPIRED"
  | "BODY_HASH_MISMATCH"
  | "KEYS_UNAVAILABLE";

export type VerifySuccess = {
  ok: true;
  /** The sender's id for this delivery, when the scheme carries one in a signed or trusted place. */
  deliveryId?: string;
  /** The signed timestamp in unix seconds, when the scheme has one. */
  timestamp?: number;
  /** Verified JWT claims (jwt scheme only). */
  claims?: JWTPayload;
  /**
   * Hex SHA-256 of exactly what the signature covers (for a JWT, its signing input `header.payload`).
   * It is the same for every spelling of one signed request — hex case, base64 alphabet, `Bearer`
   * spacing, an unsigned delivery-id header — so replay keys are derived from it (see `replay.ts`).
   */
  signedDigest?: string;
};

export type VerifyResult = VerifySuccess | { ok: false; reason: VerifyFailureReason };

/** Hex SHA-256 over the concatenation of `parts`: the `signedDigest` of an HMAC scheme. */
function digestOf(...parts: (string | Buffer)[]): string {
  const h = createHash("sha256");
  for (const part of parts) h.update(part);
  return h.digest("hex");
}

/** Upper bound on signature entries in one header, so a header cannot make us run many HMAC compares. */
const MAX_SIGNATURE_ENTRIES = 8;

const fail = (reason: VerifyFailureReason): VerifyResult => ({ ok: false, reason });

type HeaderValue = { kind: "missing" } | { kind: "duplicate" } | { kind: "value"; value: string };

/**
 * Reads one header. A repeated signature header is ambiguous (which one did the proxy check?), so it is
 * reported as a duplicate rather than silently taking the first.
 */
export function headerValue(headers: InboundHeaders, name: string): HeaderValue {
  const raw = headers[name];
  if (raw === undefined) return { kind: "missing" };
  if (typeof raw === "string") return raw === "" ? { kind: "missing" } : { kind: "value", value: raw };
  if (raw.length === 0) return { kind: "missing" };
  const [first] = raw;
  if (raw.length > 1 || first === undefined) return { kind: "duplicate" };
  return first === "" ? { kind: "missing" } : { kind: "value", value: first };
}

/** A header that must be present exactly once; otherwise the failure to report. */
function requiredHeader(
  headers: InboundHeaders,
  name: string,
): { ok: true; value: string } | { ok: false; reason: VerifyFailureReason } {
  const h = headerValue(headers, name);
  if (h.kind === "missing") return { ok: false, reason: "SIGNATURE_MISSING" };
  if (h.kind === "duplicate") return { ok: false, reason: "MALFORMED_HEADER" };
  return { ok: true, value: h.value };
}

/** Delivery ids are stored and logged, so only short printable ASCII ones are taken as given. */
const DELIVERY_ID_RE = /^[\x21-\x7e]{1,200}$/;

function optionalDeliveryId(headers: InboundHeaders, name: string): string | undefined {
  const h = headerValue(headers, name);
  return h.kind === "value" && DELIVERY_ID_RE.test(h.value) ? h.value : undefined;
}

function noSecret(secret: string | undefined): boolean {
  return secret === undefined || secret.length === 0;
}

export type HmacInput = {
  secret: string | undefined;
  headers: InboundHeaders;
  /** The raw request body exactly as received. */
  body: Buffer;
};

export type TimedHmacInput = HmacInput & {
  /** Current time in epoch milliseconds (`Clock.now()`). */
  nowMs: number;
  toleranceSec?: number;
};

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. GitHub signs neither a
 * timestamp nor the `X-GitHub-Delivery` id (returned as `deliveryId`), so that id cannot stop a
 * replay on its own: the body's digest is the key that does (see `replay.ts`).
 */
export function verifyGithub(input: HmacInput): VerifyResult {
  if (noSecret(input.secret)) return fail("NO_SECRET_CONFIGURED");
  const header = requiredHeader(input.headers, "x-hub-signature-256");
  if (!header.ok) return header;
  if (!header.value.startsWith("sha256=")) return fail("MALFORMED_HEADER");
  const given = decodeHex32(header.value.slice("sha256=".length));
  if (given === undefined) return fail("MALFORMED_HEADER");
  const expected = hmacSha256(input.secret ?? "", input.body);
  if (!equalBytes(expected, given)) return fail("SIGNATURE_MISMATCH");
  const deliveryId = optionalDeliveryId(input.headers, "x-github-delivery");
  const signedDigest = digestOf(input.body);
  return deliveryId === undefined ? { ok: true, signedDigest } : { ok: true, deliveryId, signedDigest };
}

/**
 * Slack v0: `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:{ts}:{body}")>` with `{ts}` from
 * `X-Slack-Request-Timestamp`, accepted within ±5 minutes. Slack puts no delivery id in a header; the
 * caller takes `event_id` from the verified body (see `replay.ts`).
 */
export function verifySlack(input: TimedHmacInput): VerifyResult {
  if (noSecret(input.secret)) return fail("NO_SECRET_CONFIGURED");
  const tsHeader = requiredHeader(input.headers, "x-slack-request-timestamp");
  if (!tsHeader.ok) return tsHeader;
  const sigHeader = requiredHeader(input.headers, "x-slack-signature");
  if (!sigHeader.ok) return sigHeader;
  const timestamp = parseUnixSeconds(tsHeader.value);
  if (timestamp === undefined) return fail("MALFORMED_HEADER");
  if (!sigHeader.value.startsWith("v0=")) return fail("MALFORMED_HEADER");
  const given = decodeHex32(sigHeader.value.slice(3));
  if (given === undefined) return fail("MALFORMED_HEADER");
  const expected = hmacSha256(input.secret ?? "", `v0:${tsHeader.value}:`, input.body);
  if (!equalBytes(expected, given)) return fail("SIGNATURE_MISMATCH");
  const window = checkWindow(timestamp, input.nowMs, input.toleranceSec ?? DEFAULT_TOLERANCE_SEC);
  if (!window.ok) return window;
  return { ok: true, timestamp, signedDigest: digestOf(`v0:${tsHeader.value}:`, input.body) };
}

export type StripeSignatureHeader = { timestamp: string; v1: string[] };

/**
 * Parses `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`. Several `v1` entries appear
 * while the endpoint secret is being rolled; other schemes (`v0` is test-mode only) are ignored.
 */
export function parseStripeSignature(value: string): StripeSignatureHeader | undefined {
  let timestamp: string | undefined;
  const v1: string[] = [];
  const entries = value.split(",");
  if (entries.length > MAX_SIGNATURE_ENTRIES * 2) return undefined;
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) return undefined;
    const key = entry.slice(0, eq).trim();
    const val = entry.slice(eq + 1).trim();
    if (key === "t") {
      if (timestamp !== undefined) return undefined;
      timestamp = val;
    } else if (key === "v1") {
      v1.push(val);
    }
  }
  if (timestamp === undefined) return undefined;
  return { timestamp, v1 };
}

/**
 * Stripe: HMAC-SHA256 keyed with the endpoint secret (`whsec_...` used as-is, not decoded) over
 * `"{t}.{body}"`; any one `v1` may match. Default tolerance 300 s. Stripe's event id lives in the
 * body, so the caller reads it after verification (see `replay.ts`).
 */
export function verifyStripe(input: TimedHmacInput): VerifyResult {
  if (noSecret(input.secret)) return fail("NO_SECRET_CONFIGURED");
  const header = requiredHeader(input.headers, "stripe-signature");
  if (!header.ok) return header;
  const parsed = parseStripeSignature(header.value);
  if (parsed === undefined) return fail("MALFORMED_HEADER");
  const timestamp = parseUnixSeconds(parsed.timestamp);
  if (timestamp === undefined) return fail("MALFORMED_HEADER");
  if (parsed.v1.length === 0) return fail("SIGNATURE_MISSING");
  if (parsed.v1.length > MAX_SIGNATURE_ENTRIES) return fail("MALFORMED_HEADER");
  const candidates: Buffer[] = [];
  for (const hex of parsed.v1) {
    const decoded = decodeHex32(hex);
    if (decoded === undefined) return fail("MALFORMED_HEADER");
    candidates.push(decoded);
  }
  const expected = hmacSha256(input.secret ?? "", `${parsed.timestamp}.`, input.body);
  if (!matchesAny(expected, candidates)) return fail("SIGNATURE_MISMATCH");
  const window = checkWindow(timestamp, input.nowMs, input.toleranceSec ?? DEFAULT_TOLERANCE_SEC);
  if (!window.ok) return window;
  return { ok: true, timestamp };
}

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decodes a Standard Webhooks secret: `whsec_` followed by base64 of the key bytes. The prefix is
 * optional, as in the reference libraries. Undefined when the rest is not base64 or is too short to be
 * a real key.
 */
export function decodeStandardSecret(secret: string): Buffer | undefined {
  const raw = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  if (!BASE64_RE.test(raw) || raw.length % 4 === 1) return undefined;
  const key = Buffer.from(raw, "base64");
  return key.length >= 16 ? key : undefined;
}

const STANDARD_ID_RE = /^[\x21-\x7e]{1,200}$/;

/**
 * Standard Webhooks (standardwebhooks.com): headers `webhook-id`, `webhook-timestamp` and
 * `webhook-signature`, the last a space-separated list of `v1,<base64 HMAC-SHA256>` entries (other
 * versions such as the asymmetric `v1a` are ignored). Signed content is `"{id}.{timestamp}.{body}"`.
 * The id is the delivery id; it is part of the signed content, so it cannot be swapped to dodge replay
 * protection.
 */
export function verifyStandardWebhooks(input: TimedHmacInput): VerifyResult {
  if (noSecret(input.secret)) return fail("NO_SECRET_CONFIGURED");
  const key = decodeStandardSecret(input.secret ?? "");
  if (key === undefined) return fail("SECRET_INVALID");
  const idHeader = requiredHeader(input.headers, "webhook-id");
  if (!idHeader.ok) return idHeader;
  const tsHeader = requiredHeader(input.headers, "webhook-timestamp");
  if (!tsHeader.ok) return tsHeader;
  const sigHeader = requiredHeader(input.headers, "webhook-signature");
  if (!sigHeader.ok) return sigHeader;
  if (!STANDARD_ID_RE.test(idHeader.value)) return fail("MALFORMED_HEADER");
  const timestamp = parseUnixSeconds(tsHeader.value);
  if (timestamp === undefined) return fail("MALFORMED_HEADER");
  const entries = sigHeader.value.split(" ").filter((e) => e !== "");
  if (entries.length > MAX_SIGNATURE_ENTRIES) return fail("MALFORMED_HEADER");
  const candidates: Buffer[] = [];
  for (const entry of entries) {
    const comma = entry.indexOf(",");
    if (comma <= 0) return fail("MALFORMED_HEADER");
    if (entry.slice(0, comma) !== "v1") continue;
    const decoded = decodeBase64_32(entry.slice(comma + 1));
    if (decoded === undefined) return fail("MALFORMED_HEADER");
    candidates.push(decoded);
  }
  if (candidates.length === 0) return fail("SIGNATURE_MISSING");
  const expected = hmacSha256(key, `${idHeader.value}.${tsHeader.value}.`, input.body);
  if (!matchesAny(expected, candidates)) return fail("SIGNATURE_MISMATCH");
  const window = checkWindow(timestamp, input.nowMs, input.toleranceSec ?? DEFAULT_TOLERANCE_SEC);
  if (!window.ok) return window;
  return { ok: true, deliveryId: idHeader.value, timestamp };
}

export type GenericHmacOptions = {
  /** Lower-cased name of the header carrying the signature. */
  header: string;
  encoding: "hex" | "base64";
  /** Literal text before the encoded MAC, e.g. `sha256=`. */
  prefix?: string;
  /** When set, this header's unix-seconds value is signed as `"{ts}.{body}"` and checked for age. */
  timestampHeader?: string;
  toleranceSec?: number;
  /** Header holding the sender's delivery id, if it sends one. */
  deliveryIdHeader?: string;
};

/**
 * Generic HMAC-SHA256 for senders without a named scheme. Without a timestamp header a captured
 * request stays valid forever, so replay protection then rests on remembering the body's digest for
 * good; the delivery-id header is not signed, so it only adds a key, never replaces one.
 */
export function verifyGenericHmac(input: TimedHmacInput & { options: GenericHmacOptions }): VerifyResult {
  const { options } = input;
  if (noSecret(input.secret)) return fail("NO_SECRET_CONFIGURED");
  const sigHeader = requiredHeader(input.headers, options.header);
  if (!sigHeader.ok) return sigHeader;
  const prefix = options.prefix ?? "";
  if (!sigHeader.value.startsWith(prefix)) return fail("MALFORMED_HEADER");
  const encoded = sigHeader.value.slice(prefix.length);
  const given = options.encoding === "hex" ? decodeHex32(encoded) : decodeBase64_32(encoded);
  if (given === undefined) return fail("MALFORMED_HEADER");

  let timestamp: number | undefined;
  let signed: (string | Buffer)[];
  if (options.timestampHeader !== undefined) {
    const tsHeader = requiredHeader(input.headers, options.timestampHeader);
    if (!tsHeader.ok) return tsHeader;
    timestamp = parseUnixSeconds(tsHeader.value);
    if (timestamp === undefined) return fail("MALFORMED_HEADER");
    signed = [`${tsHeader.value}.`, input.body];
  } else {
    signed = [input.body];
  }
  const expected = hmacSha256(input.secret ?? "", ...signed);
  if (!equalBytes(expected, given)) return fail("SIGNATURE_MISMATCH");
  if (timestamp !== undefined) {
    const window = checkWindow(timestamp, input.nowMs, input.toleranceSec ?? DEFAULT_TOLERANCE_SEC);
    if (!window.ok) return window;
  }
  const deliveryId =
    options.deliveryIdHeader === undefined
      ? undefined
      : optionalDeliveryId(input.headers, options.deliveryIdHeader);
  return {
    ok: true,
    signedDigest: digestOf(...signed),
    ...(deliveryId === undefined ? {} : { deliveryId }),
    ...(timestamp === undefined ? {} : { timestamp }),
  };
}

export type BearerOptions = {
  /** Lower-cased header name; `authorization` expects `Bearer <token>`, any other header the bare token. */
  header?: string;
};

function extractToken(
  headers: InboundHeaders,
  header: string,
): { ok: true; value: string } | { ok: false; reason: VerifyFailureReason } {
  const h = requiredHeader(headers, header);
  if (!h.ok) return h;
  if (header !== "authorization") return h;
  const match = /^Bearer +(\S+) *$/i.exec(h.value);
  if (match?.[1] === undefined) return { ok: false, reason: "MALFORMED_HEADER" };
  return { ok: true, value: match[1] };
}

/**
 * A static shared token. Weakest of the schemes — it authenticates the sender but not the body — so it
 * is meant for senders that can do nothing better. Compared in constant time.
 */
export function verifyBearer(input: {
  secret: string | undefined;
  headers: InboundHeaders;
  options?: BearerOptions;
}): VerifyResult {
  if (noSecret(input.secret)) return fail("NO_SECRET_CONFIGURED");
  const token = extractToken(input.headers, input.options?.header ?? "authorization");
  if (!token.ok) return token;
  return constantTimeEqual(token.value, input.secret ?? "") ? { ok: true } : fail("SIGNATURE_MISMATCH");
}

export const JWT_ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"] as const;
export type JwtAsymmetricAlgorithm = (typeof JWT_ASYMMETRIC_ALGORITHMS)[number];

/**
 * Where a JWT's verification key comes from. The variant fixes the algorithms: a shared secret only
 * ever verifies HS256 and a key set only RS256/ES256, so a token cannot pick its own algorithm (the
 * HMAC-with-public-key confusion) or `none`.
 */
export type JwtKeySource =
  | { kind: "secret"; secret: string | undefined }
  | {
      kind: "jwks";
      keys: JWTVerifyGetKey;
      algorithms: readonly JwtAsymmetricAlgorithm[];
      /** True when keys are fetched over the network, so a failure there is reported as such. */
      remote: boolean;
    };

export type JwtOptions = {
  /** Lower-cased header carrying the token; `authorization` expects `Bearer <token>`. */
  header?: string;
  issuer?: string;
  audience?: string;
  /**
   * Claim that binds the token to this body: hex or base64url SHA-256 of the raw body. Without it a
   * token authenticates the sender only, and a captured token can carry a different body.
   */
  bodyHashClaim?: string;
  /** Reject tokens whose `iat` is older than this (also makes `iat` required). */
  maxTokenAgeSec?: number;
  clockToleranceSec?: number;
};

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8192;

function decodeBodyHash(value: unknown): Buffer | undefined {
  if (typeof value !== "string") return undefined;
  return decodeHex32(value) ?? decodeBase64_32(value);
}

/**
 * A signed JWT in a header, verified with jose. Algorithms are pinned by the key source, `exp` is
 * required, and when `bodyHashClaim` is set the claim must equal the SHA-256 of the raw body. The `jti`
 * claim, if present, is the delivery id.
 */
export async function verifyJwt(input: {
  headers: InboundHeaders;
  body: Buffer;
  nowMs: number;
  key: JwtKeySource;
  options?: JwtOptions;
}): Promise<VerifyResult> {
  const options = input.options ?? {};
  const key = input.key;
  if (key.kind === "secret" && noSecret(key.secret)) return fail("NO_SECRET_CONFIGURED");
  if (key.kind === "jwks" && key.algorithms.length === 0) return fail("NO_SECRET_CONFIGURED");
  const token = extractToken(input.headers, options.header ?? "authorization");
  if (!token.ok) return token;
  if (token.value.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token.value)) return fail("MALFORMED_HEADER");

  const verifyOptions = {
    algorithms: key.kind === "secret" ? ["HS256"] : [...key.algorithms],
    currentDate: new Date(input.nowMs),
    requiredClaims: ["exp"],
    clockTolerance: options.clockToleranceSec ?? 30,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
    ...(options.audience === undefined ? {} : { audience: options.audience }),
    ...(options.maxTokenAgeSec === undefined ? {} : { maxTokenAge: options.maxTokenAgeSec }),
  };
  let payload: JWTPayload;
  try {
    const result =
      key.kind === "secret"
        ? await jwtVerify(token.value, new TextEncoder().encode(key.secret ?? ""), verifyOptions)
        : await jwtVerify(token.value, key.keys, verifyOptions);
    payload = result.payload;
  } catch (err) {
    return fail(joseFailure(err, key.kind === "jwks" && key.remote));
  }

  if (options.bodyHashClaim !== undefined) {
    const claimed = decodeBodyHash(payload[options.bodyHashClaim]);
    if (claimed === undefined) return fail("BODY_HASH_MISMATCH");
    const actual = createHash("sha256").update(input.body).digest();
    if (!equalBytes(actual, claimed)) return fail("BODY_HASH_MISMATCH");
  }
  const deliveryId =
    typeof payload.jti === "string" && DELIVERY_ID_RE.test(payload.jti) ? payload.jti : undefined;
  const timestamp = typeof payload.iat === "number" ? payload.iat : undefined;
  // The signing input, not the whole token: the signature segment is malleable (an ECDSA signature
  // (r, s) also verifies as (r, n - s)), the two segments it covers are not.
  const signingInput = token.value.slice(0, token.value.lastIndexOf("."));
  return {
    ok: true,
    claims: payload,
    signedDigest: digestOf(signingInput),
    ...(deliveryId === undefined ? {} : { deliveryId }),
    ...(timestamp === undefined ? {} : { timestamp }),
  };
}

/** Maps jose's error codes onto our reasons; anything unrecognised from a local key is a bug, so it throws. */
function joseFailure(err: unknown, remote: boolean): VerifyFailureReason {
  if (err instanceof joseErrors.JOSEError) {
    switch (err.code) {
      case "ERR_JWT_EXPIRED":
        return "TOKEN_EXPIRED";
      case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      case "ERR_JWKS_NO_MATCHING_KEY":
      case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
        return "SIGNATURE_MISMATCH";
      case "ERR_JWS_INVALID":
      case "ERR_JWT_INVALID":
        return "MALFORMED_HEADER";
      case "ERR_JWKS_TIMEOUT":
      case "ERR_JWKS_INVALID":
        return "KEYS_UNAVAILABLE";
      default:
        // Claim checks (nbf, iat, iss, aud, missing exp), disallowed algorithms, unsupported keys.
        return "TOKEN_INVALID";
    }
  }
  if (remote) return "KEYS_UNAVAILABLE";
  throw err;
}
