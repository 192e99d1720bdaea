/**
 * One error model: every expected failure is an AppError with a stable UPPER_SNAKE code.
 * The HTTP layer maps codes to statuses in one place (`statusFor`).
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  MALFORMED_JSON: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  CREDENTIALS_EXPIRED: 401,
  CREDENTIALS_REVOKED: 401,
  FORBIDDEN: 403,
  INSUFFICIENT_SCOPE: 403,
  NAMESPACE_FORBIDDEN: 403,
  CROSS_TENANT_FORBIDDEN: 403,
  APPROVAL_REQUIRED: 403,
  OUTBOUND_WITHHELD: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  APPROVAL_INVALID: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 422,
  PASSWORD_TOO_COMMON: 422,
  GUARDRAIL_BLOCKED: 422,
  LOCKED: 423,
  AGENT_FROZEN: 423,
  AGENT_PAUSED: 423,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  OVERLOADED: 503,
  // Credential broker and egress proxy.
  OAUTH_STATE_INVALID: 400,
  CREDENTIAL_HOST_FORBIDDEN: 403,
  CREDENTIAL_EXPIRED: 403,
  EGRESS_BLOCKED: 403,
  CREDENTIAL_NOT_CONNECTED: 409,
  UPSTREAM_FAILED: 502,
  UPSTREAM_TOO_LARGE: 502,
  OAUTH_EXCHANGE_FAILED: 502,
  PROXY_UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorDetail = { path: string; message: string };

/**
 * Which limit refused a `RATE_LIMITED` request, so a caller can tell its key's plan from the tenant's
 * anomaly cap or the sign-in throttle: `key_rate_plan` (the key's `rate_limit_per_minute`, else
 * HYPHA_RATE_LIMIT_PER_MINUTE), `anomaly_cap` (the tenant policy's `anomaly.max_requests_per_minute`),
 * `sign_in_per_address` (HYPHA_LOGIN_MAX_PER_ADDRESS per login window).
 */
export type RefusingLimit = {
  name: "key_rate_plan" | "anomaly_cap" | "sign_in_per_address";
  limit: number;
  window_seconds: number;
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;
  /** A structured explanation sent beside the message (a guardrail verdict); never secrets or content. */
  readonly verdict: unknown;
  /** The limit that refused a RATE_LIMITED request. */
  readonly limit: RefusingLimit | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      details?: ErrorDetail[];
      headers?: Record<string, string>;
      cause?: unknown;
      verdict?: unknown;
      limit?: RefusingLimit;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.code = code;
    this.details = opts.details;
    this.headers = opts.headers;
    this.verdict = opts.verdict;
    this.limit = opts.limit;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what = "resource") => new AppError("NOT_FOUND", `${what} not found`);
export const forbidden = (message = "not allowed") => new AppError("FORBIDDEN", message);

export function statusFor(code: ErrorCode): number {
  return ERROR_STATUS[code];
}
