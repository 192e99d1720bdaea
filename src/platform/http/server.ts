import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from "fastify";
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { Clock } from "../../lib/clock.ts";
import { AppError, type ErrorCode, statusFor } from "../../lib/errors.ts";
import { newId } from "../../lib/ids.ts";
import type { Logger } from "../../lib/logger.ts";
import { redactDeep, redactSecrets } from "../../lib/secret-patterns.ts";
import {
  type Action,
  type Actor,
  type AgentActor,
  authorize,
  isAction,
  type RequestOrigin,
} from "../auth/actor.ts";
import { createTelemetry, type RequestSpan, type Telemetry } from "../telemetry.ts";
import type { Admission, AdmissionTicket } from "./admission.ts";
import type { Metrics } from "./metrics.ts";
import type { RateLimiter } from "./rate-limit.ts";

/**
 * `user_token`: a person's access token (a JWT, recognised by its shape) sent as a bearer credential.
 * `session_cookie`: the same access token carried in the console's HttpOnly session cookie. A route
 * that accepts it accepts nothing else: bearer headers are not read there, and the cookie is read
 * nowhere else, so a browser's ambient cookie never authenticates an API route.
 * `admin_session`: the instance admin's console session, a short-lived session id carried in that same
 * cookie (the admin key itself never sits in a cookie). Routes that accept it accept nothing else.
 */
export type CredentialKind =
  | "admin_key"
  | "agent_key"
  | "metrics_token"
  | "user_token"
  | "session_cookie"
  | "admin_session";

/**
 * Every route declares who may call it: the credential kinds it accepts and the action it needs.
 * A route without a policy, or a non-public route without an action, refuses to register; the
 * chokepoint also checks the action on every request (services check it again). `webhook` routes
 * carry no API key or token: the handler authenticates each request by its signature before reading
 * it; their action names what the route does (route table, audit), no caller is authorized for it.
 */
export type AuthPolicy =
  | { public: true }
  | { webhook: true; action: Action }
  | { accepts: readonly CredentialKind[]; action: Action; rateLimited?: boolean };

export type VerifiedCredential =
  | { ok: true; kind: CredentialKind; actor: Actor; rateLimitPerMinute: number | null }
  | { ok: false; code: "INVALID_CREDENTIALS" | "CREDENTIALS_EXPIRED" | "CREDENTIALS_REVOKED" };

export type CredentialVerifier = (secret: string, origin: RequestOrigin) => Promise<VerifiedCredential>;

export type RouteRecord = { method: string; url: string; auth: AuthPolicy };

declare module "fastify" {
  interface FastifyInstance {
    /** Every registered route with its declared access policy (for the route-table tests). */
    routeTable: readonly RouteRecord[];
  }
  interface FastifyContextConfig {
    auth?: AuthPolicy;
    /**
     * `exempt`: never shed (health probes must answer while the server is overloaded); `long`: a
     * stream that holds its slot for a long time without being queued work (SSE); `heavy`: long and
     * costly work that grows with the tenant (exports), bounded per process and one per tenant.
     */
    admission?: "exempt" | "long" | "heavy";
    /**
     * Renders a refusal or failure for a route whose callers are browsers (HTML instead of the JSON
     * envelope). Called after the refusal is audited; the status and code stay those of the error.
     */
    renderError?: (req: FastifyRequest, reply: FastifyReply, err: AppError) => FastifyReply;
  }
  interface FastifyRequest {
    actor: Actor | null;
    origin: RequestOrigin;
  }
}

export type App = FastifyInstance;
export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger,
  ZodTypeProvider
>;

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{8,128}$/;
const TOKEN_RE = /^[A-Za-z0-9._~+/=-]{8,1024}$/;

/** Reads the presented credential from Authorization: Bearer or one of its alias headers. */
export function extractCredential(req: FastifyRequest): { secret: string } | { error: ErrorCode } | null {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer +(\S+)$/i.exec(auth);
    if (!m?.[1] || !TOKEN_RE.test(m[1])) return { error: "INVALID_CREDENTIALS" };
    return { secret: m[1] };
  }
  for (const header of ["x-agent-key", "x-admin-key", "x-metrics-token"]) {
    const value = req.headers[header];
    if (value === undefined) continue;
    if (typeof value !== "string" || !TOKEN_RE.test(value)) return { error: "INVALID_CREDENTIALS" };
    return { secret: value };
  }
  return null;
}

const SESSION_TOKEN_RE = /^[A-Za-z0-9._-]{8,4096}$/;

/** Reads a person's access token from the session cookie `name` (absent, duplicated or malformed: refused). */
export function extractSessionCookie(
  req: FastifyRequest,
  name: string | undefined,
): { secret: string } | { error: ErrorCode } | null {
  const header = req.headers.cookie;
  if (name === undefined || typeof header !== "string") return null;
  if (header.length > 16_384) return { error: "INVALID_CREDENTIALS" };
  let found: string | null = null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (found !== null || !SESSION_TOKEN_RE.test(value)) return { error: "INVALID_CREDENTIALS" };
    found = value;
  }
  return found === null ? null : { secret: found };
}

/** Whether a Host header names an allowed host (`name` or `name:port`, case-insensitive). */
export function hostAllowed(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (typeof host !== "string" || host.length === 0 || host.length > 300) return false;
  const h = host.toLowerCase();
  if (allowed.has(h)) return true;
  const withoutPort = h.replace(/:\d{1,5}$/, "");
  return allowed.has(withoutPort);
}

function wwwAuthenticate(code: ErrorCode): string {
  return code === "UNAUTHENTICATED"
    ? 'Bearer realm="hypha"'
    : `Bearer realm="hypha", error="invalid_token", error_description="${code.toLowerCase()}"`;
}

function mapFrameworkError(err: FastifyError): AppError {
  if (err.validation) {
    const where = err.validationContext ?? "request";
    return new AppError("VALIDATION_FAILED", `invalid ${where}`, {
      details: err.validation.slice(0, 20).map((v) => ({
        path: `${where}${v.instancePath ?? ""}`.replace(/\//g, "."),
        message: v.message ?? "invalid",
      })),
    });
  }
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("PAYLOAD_TOO_LARGE", "request body too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("UNSUPPORTED_MEDIA_TYPE", "send application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new AppError("MALFORMED_JSON", "the body is not valid JSON");
  }
  if (err instanceof SyntaxError || err.name === "SyntaxError") {
    return new AppError("MALFORMED_JSON", "the body is not valid JSON");
  }
  if (err.statusCode === 404) return new AppError("NOT_FOUND", "not found");
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new AppError("BAD_REQUEST", "bad request");
  }
  return new AppError("INTERNAL", "internal error");
}

export type ServerDeps = {
  logger: Logger;
  clock: Clock;
  metrics: Metrics;
  /** Request spans and stage timings (authentication, governance gate); a timing-only one if absent. */
  telemetry?: Telemetry;
  rateLimiter: RateLimiter;
  verifyCredential: CredentialVerifier;
  defaultRateLimitPerMinute: number;
  bodyLimitBytes: number;
  /** Host header values served; empty serves any. */
  allowedHosts?: readonly string[];
  /** Addresses or CIDRs of proxies whose X-Forwarded-For is believed; empty believes none. */
  trustedProxies?: readonly string[];
  /**
   * Agent governance, called for every request authenticated by an agent key once it is authorized:
   * throws to refuse it (kill switch 423 AGENT_FROZEN, paused key 423 AGENT_PAUSED, anomaly rate 429).
   */
  agentGate?: (actor: AgentActor) => Promise<void>;
  /** The cookie that carries a person's access token to `session_cookie` routes (unset: none accepted). */
  sessionCookie?: string;
  /**
   * Verifies an instance-admin console session id read from the session cookie (never from a header);
   * null when the value is not such an id, so the usual verifier reads it.
   */
  adminSession?: (secret: string, origin: RequestOrigin) => VerifiedCredential | null;
  /** Called for every refused request (401, 403, 423, 429): the audit of failures and denials. */
  onDenied?: (req: FastifyRequest, err: AppError) => Promise<void>;
  /** Load shedding: admits each request or refuses it with 503 OVERLOADED before any work. */
  admission?: Admission;
  /** Serve HTTPS (TLS 1.3 only) with this certificate chain and key, and send HSTS with `hstsMaxAgeSeconds`. */
  tls?: { cert: string; key: string; hstsMaxAgeSeconds: number };
};

/** TLS 1.3 only: a client that offers nothing newer than TLS 1.2 fails the handshake. */
export const TLS_SERVER_OPTIONS = { minVersion: "TLSv1.3", maxVersion: "TLSv1.3" } as const;

/**
 * The HTTP chokepoint: request ids, authentication by route policy, per-key rate limits, the one
 * error envelope, metrics, and the OpenAPI document. Features only add routes.
 */
export async function createHttpServer(deps: ServerDeps): Promise<TypedApp> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID_RE.test(given) ? given : newId("request");
    },
    logController: new LogController({ requestIdLogLabel: "requestId", disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    trustProxy: deps.trustedProxies && deps.trustedProxies.length > 0 ? [...deps.trustedProxies] : false,
    // Typed as the plain http server: the https server adds only TLS methods (`setSecureContext`).
    ...((deps.tls
      ? { https: { cert: deps.tls.cert, key: deps.tls.key, ...TLS_SERVER_OPTIONS } }
      : {}) as Record<string, never>),
  }).withTypeProvider<ZodTypeProvider>();
  const hsts = deps.tls ? `max-age=${deps.tls.hstsMaxAgeSeconds}; includeSubDomains` : null;
  const allowedHosts = new Set((deps.allowedHosts ?? []).map((h) => h.toLowerCase()));

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.removeContentTypeParser("text/plain");

  app.decorateRequest("actor", null);
  app.decorateRequest("origin", undefined as unknown as RequestOrigin);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Hypha API",
        version: "1",
        description: "Memory and security runtime for AI agents.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const routeTable: RouteRecord[] = [];
  app.decorate("routeTable", routeTable);
  app.addHook("onRoute", (route) => {
    const policy = route.config?.auth;
    if (!policy) throw new Error(`route ${String(route.method)} ${route.url} declares no auth policy`);
    if (!("public" in policy) && !isAction(policy.action)) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no action`);
    }
    if (
      "accepts" in policy &&
      (policy.accepts.includes("session_cookie") || policy.accepts.includes("admin_session")) &&
      policy.accepts.length > 1
    ) {
      throw new Error(
        `route ${String(route.method)} ${route.url} mixes the session cookie with other credentials`,
      );
    }
    for (const method of [route.method].flat()) {
      if (method === "HEAD") continue;
      routeTable.push({ method, url: route.url, auth: policy });
    }
  });

  const started = new WeakMap<FastifyRequest, bigint>();
  const tickets = new WeakMap<FastifyRequest, AdmissionTicket>();
  const telemetry = deps.telemetry ?? createTelemetry(deps.metrics.stage);
  const spans = new WeakMap<FastifyRequest, RequestSpan>();
  const routeOf = (req: FastifyRequest) => (req.is404 ? "unmatched" : (req.routeOptions.url ?? "unmatched"));

  // The request span, named by the route template (never the raw URL), continuing an incoming
  // `traceparent`. A callback hook, so the rest of the request runs inside the span's context.
  app.addHook("onRequest", (req, reply, done) => {
    const route = routeOf(req);
    const span = telemetry.request(
      req.headers,
      `${req.method} ${route}`,
      { "http.request.method": req.method, "http.route": route, "hypha.request_id": req.id },
      done,
    );
    spans.set(req, span);
    reply.raw.once("close", () => span.end());
  });

  app.addHook("onRequest", async (req, reply) => {
    started.set(req, process.hrtime.bigint());
    req.origin = {
      requestId: req.id,
      ip: req.ip,
      userAgent:
        typeof req.headers["user-agent"] === "string" ? req.headers["user-agent"].slice(0, 256) : null,
    };
    reply.header("x-request-id", req.id);
    if (hsts) reply.header("strict-transport-security", hsts);
    if (allowedHosts.size > 0 && !hostAllowed(req.headers.host, allowedHosts)) {
      throw new AppError("BAD_REQUEST", "this host name is not served here");
    }
    if (req.is404) return;
    let ticket: AdmissionTicket | null = null;
    const admission = req.routeOptions.config.admission;
    if (deps.admission && admission !== "exempt") {
      ticket = deps.admission.admit({ long: admission === "long", heavy: admission === "heavy" });
      tickets.set(req, ticket);
      reply.raw.once("close", ticket.release);
    }
    const policy = req.routeOptions.config.auth;
    if (!policy) throw new AppError("FORBIDDEN", "route has no access policy");
    if ("public" in policy) return;
    if (!isAction(policy.action)) throw new AppError("FORBIDDEN", "route declares no action");
    if ("webhook" in policy) return;

    const cookieRoute = policy.accepts.includes("session_cookie") || policy.accepts.includes("admin_session");
    const presented = cookieRoute ? extractSessionCookie(req, deps.sessionCookie) : extractCredential(req);
    if (presented === null) throw new AppError("UNAUTHENTICATED", "credentials required");
    if ("error" in presented) throw new AppError(presented.error, "malformed credentials");
    const verified =
      (cookieRoute ? deps.adminSession?.(presented.secret, req.origin) : null) ??
      (await telemetry.span("auth.verify", {}, () => deps.verifyCredential(presented.secret, req.origin)));
    if (!verified.ok) throw new AppError(verified.code, "invalid credentials");
    req.actor = verified.actor;
    if (ticket && verified.actor.tenantId !== null) ticket.enterTenant(verified.actor.tenantId);
    // Only a person's token is a session; anything else in the cookie is refused like a wrong kind.
    const kind = cookieRoute && verified.kind === "user_token" ? "session_cookie" : verified.kind;
    if (!policy.accepts.includes(kind)) {
      throw new AppError("FORBIDDEN", "this credential cannot call this route");
    }
    try {
      authorize(verified.actor, policy.action);
    } catch (err) {
      // A check that fails for any reason denies.
      if (err instanceof AppError && err.status === 403) throw err;
      req.log.error({ err }, "authorization check failed");
      throw new AppError("FORBIDDEN", "access denied");
    }
    const gate = deps.agentGate;
    if (verified.actor.type === "agent" && gate) {
      const agent = verified.actor;
      await telemetry.span("governance.gate", { tenant: agent.tenantId }, () => gate(agent));
    }
    if (
      policy.rateLimited !== false &&
      (kind === "agent_key" || kind === "user_token" || kind === "session_cookie")
    ) {
      const limit = verified.rateLimitPerMinute ?? deps.defaultRateLimitPerMinute;
      const d = await deps.rateLimiter.hit(verified.actor.id, limit);
      reply.header("ratelimit-limit", d.limit);
      reply.header("ratelimit-remaining", d.remaining);
      reply.header("ratelimit-reset", d.resetSeconds);
      reply.header("ratelimit-policy", `${d.limit};w=60`);
      if (!d.allowed) {
        deps.metrics.rateLimited.inc();
        throw new AppError("RATE_LIMITED", `this key's rate plan (${d.limit} requests a minute) is used up`, {
          headers: { "retry-after": String(d.resetSeconds) },
          limit: { name: "key_rate_plan", limit: d.limit, window_seconds: 60 },
        });
      }
    }
  });

  // An admitted request's work waits for its turn (after its body is read and checked), so the
  // requests that arrive meanwhile are admitted or refused first.
  app.addHook("preHandler", async (req) => {
    await tickets.get(req)?.turn();
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = routeOf(req);
    const t0 = started.get(req);
    spans.get(req)?.end({
      "http.response.status_code": reply.statusCode,
      "hypha.tenant_id": req.actor?.tenantId ?? undefined,
      "hypha.actor_id": req.actor?.id,
    });
    deps.metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    if (t0 !== undefined) {
      deps.metrics.latency.observe({ route, method: req.method }, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    // req.log already binds requestId (requestIdLogLabel); naming it again would write the key twice.
    req.log.info(
      {
        tenantId: req.actor?.tenantId ?? undefined,
        method: req.method,
        route,
        status: reply.statusCode,
        ms: reply.elapsedTime.toFixed(2),
      },
      "request",
    );
  });

  app.setNotFoundHandler(async (req, reply) => {
    return sendError(req, reply, new AppError("NOT_FOUND", "no such route"));
  });

  async function sendError(req: FastifyRequest, reply: FastifyReply, err: AppError) {
    spans.get(req)?.set({ "error.type": err.code });
    if (err.status === 401) reply.header("www-authenticate", wwwAuthenticate(err.code));
    for (const [k, v] of Object.entries(err.headers ?? {})) reply.header(k, v);
    if ([401, 403, 423, 429].includes(err.status) && deps.onDenied) {
      try {
        await deps.onDenied(req, err);
      } catch (auditErr) {
        req.log.error({ err: auditErr }, "could not audit a denial");
      }
    }
    const render = req.is404 ? undefined : req.routeOptions.config.renderError;
    if (render) return render(req, reply.status(err.status), err);
    return reply.status(err.status).send({
      error: {
        code: err.code,
        message: redactSecrets(err.message),
        requestId: req.id,
        // Details can quote the request (an unknown field's name): they pass the secret redaction too.
        ...(err.details ? { details: redactDeep(err.details) } : {}),
        ...(err.verdict !== undefined ? { verdict: err.verdict } : {}),
        ...(err.limit !== undefined ? { limit: err.limit } : {}),
      },
    });
  }

  app.setErrorHandler(async (error: FastifyError | AppError, req, reply) => {
    const appErr = error instanceof AppError ? error : mapFrameworkError(error as FastifyError);
    // Shedding is the server working as designed, not a failure: at debug, so an overloaded process
    // does not also write an error line per refused request (`/health/ready` and the refusals'
    // 503s are how overload shows).
    if (appErr.code === "OVERLOADED") req.log.debug({ reason: appErr.details?.[0]?.message }, "request shed");
    else if (appErr.status >= 500) req.log.error({ err: error }, "request failed");
    return sendError(req, reply, appErr);
  });

  return app;
}

export { statusFor };
