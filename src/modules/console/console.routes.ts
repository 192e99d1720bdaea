import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import type { Action, RequestOrigin, UserActor } from "../../platform/auth/actor.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { auditQuery } from "../audit/audit.schemas.ts";
import type { AuditService } from "../audit/audit.service.ts";
import type { ConnectorsApi } from "../connectors/connectors.module.ts";
import { approvalIdSchema, overrideBody, policyBody } from "../governance/governance.schemas.ts";
import type { GovernanceService } from "../governance/governance.service.ts";
import { loginBody } from "../identity/auth.schemas.ts";
import type { AuthService } from "../identity/auth.service.ts";
import { createUserBody, updateUserBody, userIdSchema } from "../identity/users.schemas.ts";
import type { UsersService } from "../identity/users.service.ts";
import { createKeyBody, rotateKeyBody } from "../keys/keys.schemas.ts";
import type { KeysService } from "../keys/keys.service.ts";
import { bulkDeleteBody, listQuery } from "../memories/memories.schemas.ts";
import type { MemoriesService } from "../memories/memories.service.ts";
import { createTenantBody, tenantIdSchema } from "../tenants/tenants.schemas.ts";
import type { TenantsService } from "../tenants/tenants.service.ts";
import type { AdminSessions } from "./console.admin.ts";
import * as adminPages from "./console.admin-pages.ts";
import { documentOf, type Html } from "./console.html.ts";
import type { OidcSignIn } from "./console.oidc.ts";
import * as pages from "./console.pages.ts";
import type { Passkeys, RelyingParty } from "./console.passkeys.ts";
import {
  type ConsoleCookies,
  checkCsrf,
  clearedSessionCookies,
  cookieValue,
  csrfCookie,
  newCsrfToken,
  sessionSetCookies,
} from "./console.session.ts";
import { auditorOnly, can, continuePage, errorPage, type PageContext, signInPage } from "./console.views.ts";

export type ConsoleDeps = {
  tenants: Pick<TenantsService, "list" | "get" | "create" | "remove">;
  adminSessions: AdminSessions;
  auditInstance: (
    action: "admin_session.started" | "admin_session.ended",
    origin: RequestOrigin,
  ) => Promise<unknown>;
  auth: Pick<AuthService, "login" | "refresh" | "logout" | "signedInWithin">;
  governance: Pick<GovernanceService, "list" | "decide" | "listOverrides" | "setOverride" | "resume">;
  audit: Pick<AuditService, "events" | "verify">;
  keys: Pick<KeysService, "list" | "create" | "revoke" | "rotate" | "agentsKeyableBy">;
  memories: Pick<MemoriesService, "list" | "recall" | "history" | "bulkDelete" | "bulkDeleteCount">;
  connectors: Pick<ConnectorsApi, "connectors" | "deadLetters" | "outbound">;
  policy: Pick<GovernanceService, "getPolicy" | "putPolicy">;
  users: Pick<UsersService, "list" | "get" | "create" | "update" | "endSessions">;
  passkeys: Passkeys;
  oidc: OidcSignIn;
  cookies: ConsoleCookies;
  allowedOrigins: readonly string[];
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const require = createRequire(import.meta.url);
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  "htmx.min.js": {
    type: "text/javascript; charset=utf-8",
    body: readFileSync(require.resolve("htmx.org/dist/htmx.min.js")),
  },
  "console.js": {
    type: "text/javascript; charset=utf-8",
    body: readFileSync(new URL("./assets/console.js", import.meta.url)),
  },
  "favicon.svg": {
    type: "image/svg+xml",
    body: readFileSync(new URL("./assets/favicon.svg", import.meta.url)),
  },
  "console.css": {
    type: "text/css; charset=utf-8",
    body: readFileSync(new URL("./assets/console.css", import.meta.url)),
  },
};

/** How soon after signing in a person may add a passkey. */
export const PASSKEY_SIGN_IN_WINDOW_MS = 10 * 60_000;

/** Form fields arrive as strings (repeated fields as arrays); the CSRF field rides along. */
const form = <T extends z.ZodRawShape>(shape: T) => z.object({ _csrf: z.string().max(200), ...shape });
const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .transform((v) => (v.trim() === "" ? undefined : v.trim()))
    .optional();
const keyParams = z.object({ key_id: z.string().regex(/^key_[0-9A-HJKMNP-TV-Z]{26}$/, "a key id") });

/** Parses with an API schema; a mismatch is a 422 naming the fields (never a 500). */
function parseWith<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new AppError("VALIDATION_FAILED", "invalid form", {
    details: r.error.issues.slice(0, 20).map((i) => ({ path: i.path.join("."), message: i.message })),
  });
}

/** A `datetime-local` value read as UTC; anything else is passed on for the schema to refuse. */
function utcFromLocalInput(value: string): string {
  const t = Date.parse(`${value}Z`);
  return Number.isNaN(t) ? value : new Date(t).toISOString();
}

/** Where the instance admin goes after signing in: an instance-admin page only. */
export function adminNext(next: unknown): string {
  const n = safeNext(next);
  return n.startsWith("/console/admin/") && !n.startsWith("/console/admin/log")
    ? n
    : "/console/admin/killswitch";
}

/** Where to go after signing in: a console path only (never another site). */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || !/^\/console(?:[/?][^\s\\]*)?$/.test(next) || next.startsWith("//")) {
    return "/console";
  }
  return next.length > 500 ? "/console" : next;
}

export function registerConsoleRoutes(app: TypedApp, deps: ConsoleDeps): void {
  const { cookies } = deps;
  const origins = new Set(deps.allowedOrigins.map((o) => o.toLowerCase()));

  const sendHtml = (reply: FastifyReply, body: Html) =>
    reply.type("text/html; charset=utf-8").send(documentOf(body));

  const actorOfAdmin = (req: FastifyRequest) => {
    if (req.actor?.type !== "instance_admin") throw new AppError("UNAUTHENTICATED", "sign in first");
    return req.actor;
  };
  const person = (req: FastifyRequest): UserActor => {
    if (req.actor?.type !== "user") throw new AppError("UNAUTHENTICATED", "sign in first");
    return req.actor;
  };
  const pageContext = (req: FastifyRequest): PageContext => ({
    actor: person(req),
    csrf: cookieValue(req, cookies.csrf) ?? "",
    path: req.url.split("?")[0] ?? "/console",
  });

  const adminContext = (req: FastifyRequest): adminPages.AdminContext => {
    if (req.actor?.type !== "instance_admin") throw new AppError("UNAUTHENTICATED", "sign in first");
    return { csrf: cookieValue(req, cookies.csrf) ?? "", path: req.url.split("?")[0] ?? "/console/admin" };
  };

  /** Every console answer's headers: the strict CSP, no framing, no sniffing, never cached. */
  const securityHeaders = (reply: FastifyReply) => {
    reply.header("content-security-policy", CSP);
    reply.header("x-frame-options", "DENY");
    reply.header("x-content-type-options", "nosniff");
    // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form posts.
    reply.header("referrer-policy", "same-origin");
    reply.header("cross-origin-opener-policy", "same-origin");
    reply.header("cache-control", "no-store");
  };

  // A refusal (authentication, authorization, the agent gate) is answered from the global hooks,
  // before the console scope's own hooks run: its page gets the same headers here.
  function renderError(req: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
    securityHeaders(reply);
    reply.removeHeader("www-authenticate");
    const adminPath = req.url.startsWith("/console/admin");
    if (err.status === 401 && req.method === "GET") {
      const login = adminPath ? "/console/admin/login" : "/console/login";
      return reply.redirect(`${login}?next=${encodeURIComponent(safeNext(req.url))}`, 303);
    }
    if (req.actor?.type === "instance_admin" && err.status !== 401) {
      const message =
        err.details && err.details.length > 0
          ? `${err.message}: ${err.details.map((d) => `${d.path.replace(/^body\./, "")} ${d.message}`).join("; ")}`
          : err.message;
      return reply.type("text/html; charset=utf-8").send(
        documentOf(
          adminPages.adminErrorPage(adminContext(req), {
            status: err.status,
            code: err.code,
            message,
            requestId: req.id,
          }),
        ),
      );
    }
    const ctx = req.actor?.type === "user" && err.status !== 401 ? pageContext(req) : null;
    const message =
      err.details && err.details.length > 0
        ? `${err.message}: ${err.details.map((d) => `${d.path.replace(/^body\./, "")} ${d.message}`).join("; ")}`
        : err.message;
    return reply
      .type("text/html; charset=utf-8")
      .send(documentOf(errorPage(ctx, { status: err.status, code: err.code, message, requestId: req.id })));
  }

  const session = (action: Action) =>
    ({ auth: { accepts: ["session_cookie"], action }, renderError }) as const;
  const open = { auth: { public: true }, renderError } as const;
  const instance = (action: Action) =>
    ({ auth: { accepts: ["admin_session"], action }, renderError }) as const;

  app.register(async (plugin) => {
    const scope = plugin as unknown as TypedApp;
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string" },
      (_req, body, done) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of new URLSearchParams(body as string)) {
          const prev = out[k];
          out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        }
        done(null, out);
      },
    );
    scope.addHook("onRequest", async (_req, reply) => {
      securityHeaders(reply);
    });
    scope.addHook("preValidation", async (req) => {
      if (req.method !== "GET" && req.method !== "HEAD") checkCsrf(req, cookies, origins);
    });
    // A console action that the tenant's policy sends for approval answers with a page, not JSON.
    scope.addHook("onSend", async (req, reply, payload) => {
      if (reply.statusCode !== 202 || typeof payload !== "string" || !payload.startsWith("{")) return payload;
      const parsed = JSON.parse(payload) as { approval?: { id?: string } };
      reply.type("text/html; charset=utf-8");
      return documentOf(
        errorPage(req.actor?.type === "user" ? pageContext(req) : null, {
          status: 202,
          code: "APPROVAL_REQUIRED",
          message: `This needs a person's approval under the tenant's policy (approval ${parsed.approval?.id ?? "?"}); decide it on the Approvals page.`,
          requestId: req.id,
        }),
      );
    });

    scope.route({
      method: "GET",
      url: "/console/assets/:name",
      config: open,
      schema: {
        hide: true,
        params: z.object({ name: z.enum(["htmx.min.js", "console.js", "console.css", "favicon.svg"]) }),
      },
      handler: async (req, reply) => {
        const asset = ASSETS[req.params.name];
        if (!asset) throw new AppError("NOT_FOUND", "no such asset");
        reply.header("cache-control", "public, max-age=3600");
        return reply.type(asset.type).send(asset.body);
      },
    });

    // ---- sign-in and sign-out -------------------------------------------------------------

    scope.route({
      method: "GET",
      url: "/console/login",
      config: open,
      schema: { hide: true, querystring: z.object({ next: z.string().max(500).optional() }) },
      handler: async (req, reply) => {
        const next = safeNext(req.query.next);
        const refresh = cookieValue(req, cookies.refresh);
        const csrf = cookieValue(req, cookies.csrf);
        if (refresh !== null && csrf !== null) {
          // An expired access token: the session family's refresh token renews it without a password.
          try {
            const issued = await deps.auth.refresh(refresh, csrf, req.origin);
            reply.header(
              "set-cookie",
              sessionSetCookies(cookies, {
                accessToken: issued.session.access_token,
                refreshToken: issued.refreshToken,
                csrfToken: null,
              }),
            );
            return reply.redirect(next, 303);
          } catch {
            // Spent, revoked or expired: sign in again.
          }
        }
        const token = newCsrfToken();
        reply.header("set-cookie", [...clearedSessionCookies(cookies), csrfCookie(cookies, token)]);
        return sendHtml(reply, signInPage({ csrf: token, next }));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/login",
      config: {
        auth: { public: true },
        renderError: (req, reply, err) => {
          if (err.status === 403) return renderError(req, reply, err);
          const body = (req.body ?? {}) as Record<string, unknown>;
          const text = (v: unknown) => (typeof v === "string" ? v.slice(0, 200) : "");
          const message =
            err.code === "LOCKED" || err.code === "RATE_LIMITED"
              ? err.message
              : err.status === 422
                ? "Give a tenant id (tnt_…), an email and a password."
                : "Wrong tenant, email or password.";
          return reply.type("text/html; charset=utf-8").send(
            documentOf(
              signInPage({
                csrf: cookieValue(req, cookies.csrf) ?? "",
                next: safeNext(body.next),
                error: message,
                tenantId: text(body.tenant_id),
                email: text(body.email),
              }),
            ),
          );
        },
      },
      schema: {
        hide: true,
        body: form({
          tenant_id: z.string().max(100),
          email: z.string().max(320),
          password: z.string().max(1024),
          next: z.string().max(500).optional(),
        }),
      },
      handler: async (req, reply) => {
        const { _csrf, next, ...credentials } = req.body;
        const input = loginBody.safeParse(credentials);
        if (!input.success) throw new AppError("VALIDATION_FAILED", "invalid sign-in form");
        const issued = await deps.auth.login(input.data, req.origin);
        reply.header(
          "set-cookie",
          sessionSetCookies(cookies, {
            accessToken: issued.session.access_token,
            refreshToken: issued.refreshToken,
            csrfToken: issued.session.csrf_token ?? newCsrfToken(),
          }),
        );
        return reply.redirect(safeNext(next), 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/logout",
      config: open,
      schema: { hide: true, body: form({}) },
      handler: async (req, reply) => {
        // Ends the whole session family (every refresh token descended from this sign-in).
        await deps.auth.logout(cookieValue(req, cookies.refresh), cookieValue(req, cookies.csrf), req.origin);
        reply.header("set-cookie", clearedSessionCookies(cookies));
        return reply.redirect("/console/login", 303);
      },
    });

    // ---- overview -------------------------------------------------------------------------

    async function overviewData(actor: UserActor): Promise<pages.OverviewData> {
      const connectors = can(actor, "connectors:read")
        ? await Promise.all(
            (await deps.connectors.connectors.list(actor, actor.tenantId, { limit: 50 })).items.map(
              async (c) => ({
                ...c,
                health: await deps.connectors.connectors.health(actor, actor.tenantId, c.id),
              }),
            ),
          )
        : null;
      return {
        connectors,
        freezes: can(actor, "governance:override")
          ? (await deps.governance.listOverrides(actor)).items
          : null,
        pending: can(actor, "approvals:read")
          ? (await deps.governance.list(actor, { status: "pending", limit: 50 })).items
          : null,
        suspicious: can(actor, "audit:read")
          ? (await deps.audit.events(actor, auditQuery.parse({ suspicious: "true", limit: 8 }))).items
          : null,
      };
    }

    scope.route({
      method: "GET",
      url: "/console",
      config: session("tenant:read"),
      schema: { hide: true, operationId: "consoleOverview" },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        if (auditorOnly(ctx.actor)) return reply.redirect("/console/audit", 303);
        const chain = can(ctx.actor, "audit:verify") ? await deps.audit.verify(ctx.actor, undefined) : null;
        return sendHtml(reply, pages.overviewPage(ctx, await overviewData(ctx.actor), chain));
      },
    });

    scope.route({
      method: "GET",
      url: "/console/overview/live",
      config: session("tenant:read"),
      schema: { hide: true, operationId: "consoleOverviewLive" },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        return reply
          .type("text/html; charset=utf-8")
          .send(pages.overviewLive(ctx, await overviewData(ctx.actor)).__html);
      },
    });

    // ---- approvals ------------------------------------------------------------------------

    const flash = z.object({ msg: z.enum(Object.keys(pages.MESSAGES) as [string, ...string[]]).optional() });
    const message = (msg: string | undefined) => (msg ? pages.MESSAGES[msg] : undefined);

    scope.route({
      method: "GET",
      url: "/console/approvals",
      config: session("approvals:read"),
      schema: { hide: true, operationId: "listApprovals", querystring: flash },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const pending = await deps.governance.list(ctx.actor, { status: "pending", limit: 200 });
        const all = await deps.governance.list(ctx.actor, { limit: 200 });
        const decided = all.items.filter((a) => a.status !== "pending").reverse();
        return sendHtml(reply, pages.approvalsPage(ctx, pending.items, decided, message(req.query.msg)));
      },
    });

    for (const decision of ["approve", "reject"] as const) {
      scope.route({
        method: "POST",
        url: `/console/approvals/:id/${decision}`,
        config: session("approvals:decide"),
        schema: {
          hide: true,
          operationId: decision === "approve" ? "approveApproval" : "rejectApproval",
          params: z.object({ id: approvalIdSchema }),
          body: form({}),
        },
        handler: async (req, reply) => {
          await deps.governance.decide(person(req), req.params.id, decision);
          return reply.redirect(
            `/console/approvals?msg=${decision === "approve" ? "approved" : "rejected"}`,
            303,
          );
        },
      });
    }

    // ---- kill switch ----------------------------------------------------------------------

    scope.route({
      method: "GET",
      url: "/console/killswitch",
      config: session("governance:override"),
      schema: { hide: true, operationId: "getOverrides", querystring: flash },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const { items } = await deps.governance.listOverrides(ctx.actor);
        return sendHtml(reply, pages.killSwitchPage(ctx, items, message(req.query.msg)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/killswitch",
      config: session("governance:override"),
      schema: {
        hide: true,
        operationId: "setOverride",
        body: form({
          scope: z.enum(["tenant", "agent"]),
          agent: optionalText(64),
          key_id: optionalText(40),
          frozen: z.enum(["true", "false"]),
          reason: z.string().max(500),
          confirm: z.literal("yes").optional(),
        }),
      },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const b = req.body;
        // The person's own tenant: the console never takes a tenant id from the form.
        const input = parseWith(overrideBody, {
          scope: b.scope,
          tenant_id: ctx.actor.tenantId,
          ...(b.scope === "agent" && b.key_id ? { key_id: b.key_id } : {}),
          ...(b.scope === "agent" && !b.key_id && b.agent ? { agent: b.agent } : {}),
          frozen: b.frozen === "true",
          reason: b.reason.trim(),
        });
        if (b.confirm !== "yes") {
          const target =
            input.scope === "tenant" ? "every agent of this tenant" : `agent ${input.key_id ?? input.agent}`;
          const verb = input.frozen ? "Freeze" : "Lift the freeze of";
          return sendHtml(
            reply,
            pages.confirmPage(
              ctx,
              input.frozen ? "Freeze" : "Lift",
              `${verb} ${target}? Reason: “${input.reason}”. Their API calls ${input.frozen ? "will be refused with 423 until the freeze is lifted" : "will run again"}.`,
              "/console/killswitch",
              {
                scope: b.scope,
                agent: input.agent,
                key_id: input.key_id,
                frozen: b.frozen,
                reason: input.reason,
              },
              "/console/killswitch",
              input.frozen,
            ),
          );
        }
        await deps.governance.setOverride(ctx.actor, input);
        return reply.redirect(`/console/killswitch?msg=${input.frozen ? "frozen" : "lifted"}`, 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/keys/:key_id/resume",
      config: session("keys:resume"),
      schema: { hide: true, operationId: "resumeKey", params: keyParams, body: form({}) },
      handler: async (req, reply) => {
        const actor = person(req);
        await deps.governance.resume(actor, actor.tenantId, req.params.key_id);
        return reply.redirect("/console/agents?msg=resumed", 303);
      },
    });

    // ---- agents and keys ------------------------------------------------------------------

    scope.route({
      method: "GET",
      url: "/console/agents",
      config: session("keys:read"),
      schema: { hide: true, operationId: "listKeys", querystring: flash },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const { items } = await deps.keys.list(ctx.actor, ctx.actor.tenantId, { limit: 200 });
        const keyable = await deps.keys.agentsKeyableBy(
          ctx.actor,
          ctx.actor.tenantId,
          items.filter((k) => k.revoked_at === null).map((k) => k.agent),
        );
        return sendHtml(reply, pages.agentsPage(ctx, items, keyable, message(req.query.msg)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/agents",
      config: session("keys:create"),
      schema: {
        hide: true,
        operationId: "createKey",
        body: form({
          agent: z.string().max(64),
          name: optionalText(100),
          scopes: z.union([z.string().max(40), z.array(z.string().max(40)).max(10)]).optional(),
          namespaces: optionalText(2000),
          expires_at: optionalText(40),
          rate_limit_per_minute: optionalText(10),
        }),
      },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const b = req.body;
        const input = parseWith(createKeyBody, {
          agent: b.agent.trim(),
          ...(b.name ? { name: b.name } : {}),
          scopes: b.scopes === undefined ? [] : [b.scopes].flat(),
          ...(b.namespaces
            ? {
                namespaces: b.namespaces
                  .split(",")
                  .map((n) => n.trim())
                  .filter(Boolean),
              }
            : {}),
          ...(b.expires_at ? { expires_at: utcFromLocalInput(b.expires_at) } : {}),
          ...(b.rate_limit_per_minute ? { rate_limit_per_minute: Number(b.rate_limit_per_minute) } : {}),
        });
        const created = await deps.keys.create(ctx.actor, ctx.actor.tenantId, input);
        return sendHtml(reply.status(201), pages.secretShownOnce(ctx, "Key created", created));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/agents/:key_id/revoke",
      config: session("keys:revoke"),
      schema: { hide: true, operationId: "revokeKey", params: keyParams, body: form({}) },
      handler: async (req, reply) => {
        const actor = person(req);
        await deps.keys.revoke(actor, actor.tenantId, req.params.key_id);
        return reply.redirect("/console/agents?msg=revoked", 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/agents/:key_id/rotate",
      config: session("keys:rotate"),
      schema: {
        hide: true,
        operationId: "rotateKey",
        params: keyParams,
        body: form({
          grace_seconds: z
            .string()
            .regex(/^\d{1,7}$/)
            .optional(),
        }),
      },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const { grace_seconds } = parseWith(rotateKeyBody, {
          grace_seconds: Number(req.body.grace_seconds ?? 3600),
        });
        const rotated = await deps.keys.rotate(
          ctx.actor,
          ctx.actor.tenantId,
          req.params.key_id,
          grace_seconds,
        );
        return sendHtml(reply, pages.secretShownOnce(ctx, "Key rotated", rotated));
      },
    });

    // ---- audit ----------------------------------------------------------------------------

    const auditFilters = z.object({
      actor: optionalText(128),
      action: optionalText(64),
      outcome: optionalText(10),
      since: optionalText(40),
      until: optionalText(40),
      suspicious: z.enum(["true", "false"]).optional(),
      cursor: optionalText(20),
    });
    const toAuditQuery = (f: z.infer<typeof auditFilters>, limit: number) => {
      const q = auditQuery.safeParse({ ...f, limit });
      if (!q.success)
        throw new AppError("VALIDATION_FAILED", "invalid filter", {
          details: q.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
        });
      return q.data;
    };

    scope.route({
      method: "GET",
      url: "/console/audit",
      config: session("audit:read"),
      schema: { hide: true, operationId: "listAuditEvents", querystring: auditFilters },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const page = await deps.audit.events(ctx.actor, toAuditQuery(req.query, 100));
        return sendHtml(reply, pages.auditPage(ctx, req.query, page.items, page.next_cursor));
      },
    });

    scope.route({
      method: "GET",
      url: "/console/audit/verify",
      config: session("audit:verify"),
      schema: { hide: true, operationId: "verifyAuditChain" },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        return sendHtml(reply, pages.verifyPage(ctx, await deps.audit.verify(ctx.actor, undefined)));
      },
    });

    scope.route({
      method: "GET",
      url: "/console/audit/export",
      config: session("audit:read"),
      schema: { hide: true, operationId: "consoleExportAudit", querystring: auditFilters },
      handler: async (req, reply) => {
        const actor = person(req);
        const lines: string[] = [];
        let q = toAuditQuery({ ...req.query, cursor: undefined }, 500);
        // Newest first, page by page, at most 100 pages (50,000 events) per export.
        for (let i = 0; i < 100; i++) {
          const page = await deps.audit.events(actor, q);
          for (const e of page.items) lines.push(JSON.stringify(e));
          if (!page.next_cursor) break;
          q = { ...q, cursor: Number(page.next_cursor) };
        }
        reply.header("content-disposition", 'attachment; filename="audit.jsonl"');
        return reply
          .type("application/x-ndjson; charset=utf-8")
          .send(lines.length ? `${lines.join("\n")}\n` : "");
      },
    });

    // ---- memories -------------------------------------------------------------------------

    const memoryFilters = z.object({
      q: optionalText(4000),
      namespace: optionalText(200),
      tag: optionalText(128),
      entity: optionalText(128),
      cursor: optionalText(40),
      msg: z.literal("erased").optional(),
    });

    scope.route({
      method: "GET",
      url: "/console/memories",
      config: session("memories:read"),
      schema: { hide: true, operationId: "listMemories", querystring: memoryFilters },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const { q, msg, ...filters } = req.query;
        if (q) {
          const found = await deps.memories.recall(ctx.actor, {
            query: q,
            ...(filters.namespace ? { namespaces: [filters.namespace] } : {}),
            ...(filters.tag ? { tags: [filters.tag] } : {}),
            ...(filters.entity ? { entities: [filters.entity] } : {}),
            k: 50,
            token_budget: 100_000,
            include_quarantined: false,
          });
          return sendHtml(
            reply,
            pages.memoriesPage(
              ctx,
              req.query,
              found.results.map((r) => r.memory),
              null,
            ),
          );
        }
        const parsed = listQuery.safeParse({ ...filters, limit: 50 });
        if (!parsed.success) throw new AppError("VALIDATION_FAILED", "invalid filter");
        const page = await deps.memories.list(ctx.actor, parsed.data);
        return sendHtml(reply, pages.memoriesPage(ctx, req.query, page.items, page.next_cursor));
      },
    });

    scope.route({
      method: "GET",
      url: "/console/memories/:id",
      config: session("memories:history"),
      schema: {
        hide: true,
        operationId: "memoryHistory",
        params: z.object({ id: z.string().regex(/^mem_[0-9A-HJKMNP-TV-Z]{26}$/, "a memory id") }),
      },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        return sendHtml(reply, pages.historyPage(ctx, await deps.memories.history(ctx.actor, req.params.id)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/memories/erase",
      config: session("memories:delete"),
      schema: {
        hide: true,
        operationId: "bulkDeleteMemories",
        body: form({
          entity: optionalText(128),
          created_after: optionalText(40),
          created_before: optionalText(40),
          confirm: z.literal("yes").optional(),
        }),
      },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const b = req.body;
        // One selector, checked with the API's own schema: an entity, or a creation-time range.
        const selector = parseWith(
          bulkDeleteBody,
          b.entity
            ? { entity: b.entity }
            : {
                created_after: b.created_after ? utcFromLocalInput(b.created_after) : undefined,
                created_before: b.created_before ? utcFromLocalInput(b.created_before) : undefined,
              },
        );
        const what =
          "entity" in selector
            ? `the entity “${selector.entity}”`
            : "created_after" in selector
              ? `a creation time from ${selector.created_after} to ${selector.created_before}`
              : "the selected ids";
        if (b.confirm !== "yes") {
          // Count first: exactly what the erasure would reach (agents' private memories too, for an ADMIN).
          const { count, private: hidden } = await deps.memories.bulkDeleteCount(ctx.actor, selector);
          return sendHtml(
            reply,
            pages.confirmPage(
              ctx,
              "Erase",
              `${count} memor${count === 1 ? "y matches" : "ies match"} ${what}${hidden > 0 ? ` (${hidden} of them agents’ private memories)` : ""}. Erase ${count === 1 ? "it" : "them"} with every version and index entry? This cannot be undone.`,
              "/console/memories/erase",
              "entity" in selector
                ? { entity: selector.entity }
                : "created_after" in selector
                  ? { created_after: selector.created_after, created_before: selector.created_before }
                  : {},
              "/console/memories",
              true,
            ),
          );
        }
        const { deleted } = await deps.memories.bulkDelete(ctx.actor, selector);
        return sendHtml(reply, pages.erasedPage(ctx, what, deleted));
      },
    });
    // ---- connectors -----------------------------------------------------------------------

    scope.route({
      method: "GET",
      url: "/console/connectors",
      config: session("connectors:read"),
      schema: { hide: true, operationId: "listConnectors", querystring: flash },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const t = ctx.actor.tenantId;
        const { items } = await deps.connectors.connectors.list(ctx.actor, t, { limit: 200 });
        const rows = await Promise.all(
          items.map(async (c) => ({
            ...c,
            health: await deps.connectors.connectors.health(ctx.actor, t, c.id),
            deliveries: (await deps.connectors.connectors.deliveries(ctx.actor, t, c.id, { limit: 10 }))
              .items,
          })),
        );
        const dead = can(ctx.actor, "deadletters:manage")
          ? (await deps.connectors.deadLetters.list(ctx.actor, t, { limit: 200 })).items
          : null;
        const hooks = can(ctx.actor, "webhooks:manage")
          ? (await deps.connectors.outbound.list(ctx.actor, t, { limit: 200 })).items
          : null;
        return sendHtml(reply, pages.connectorsPage(ctx, rows, dead, hooks, message(req.query.msg)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/connectors/dead-letters/:id/replay",
      config: session("deadletters:manage"),
      schema: {
        hide: true,
        operationId: "replayDeadLetter",
        params: z.object({ id: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "a delivery id") }),
        body: form({}),
      },
      handler: async (req, reply) => {
        const actor = person(req);
        await deps.connectors.deadLetters.replay(actor, actor.tenantId, req.params.id);
        return reply.redirect("/console/connectors?msg=replayed", 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/connectors/dead-letters/replay",
      config: session("deadletters:manage"),
      schema: { hide: true, operationId: "replayDeadLetters", body: form({}) },
      handler: async (req, reply) => {
        const actor = person(req);
        await deps.connectors.deadLetters.replayAll(actor, actor.tenantId, { limit: 200 });
        return reply.redirect("/console/connectors?msg=replayed", 303);
      },
    });

    // ---- policy ---------------------------------------------------------------------------

    const policyJson = (p: Record<string, unknown>) => {
      const { version: _v, updated_at: _u, ...rest } = p;
      return JSON.stringify(rest, null, 2);
    };

    scope.route({
      method: "GET",
      url: "/console/policy",
      config: session("policy:read"),
      schema: { hide: true, operationId: "getTenantPolicy", querystring: flash },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const policy = await deps.policy.getPolicy(ctx.actor, ctx.actor.tenantId);
        return sendHtml(reply, pages.policyPage(ctx, policy, policyJson(policy), message(req.query.msg)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/policy",
      config: session("policy:write"),
      schema: {
        hide: true,
        operationId: "putTenantPolicy",
        body: form({ policy: z.string().max(64 * 1024) }),
      },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        let parsed: unknown;
        try {
          parsed = JSON.parse(req.body.policy);
        } catch {
          throw new AppError("MALFORMED_JSON", "the policy is not valid JSON");
        }
        // The API's own schema: what the console saves, the API would have accepted.
        const checked = policyBody.safeParse(parsed);
        if (!checked.success) {
          throw new AppError("VALIDATION_FAILED", "the policy does not match the schema", {
            details: checked.error.issues
              .slice(0, 20)
              .map((i) => ({ path: i.path.join("."), message: i.message })),
          });
        }
        await deps.policy.putPolicy(ctx.actor, ctx.actor.tenantId, checked.data);
        return reply.redirect("/console/policy?msg=policy", 303);
      },
    });

    // ---- people ---------------------------------------------------------------------------

    const roleField = z.union([z.string().max(20), z.array(z.string().max(20)).max(4)]).optional();

    scope.route({
      method: "GET",
      url: "/console/people",
      config: session("users:read"),
      schema: { hide: true, operationId: "listUsers", querystring: flash },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        const { items } = await deps.users.list(ctx.actor, ctx.actor.tenantId, { limit: 200 });
        const passkeys = await deps.passkeys.counts(ctx.actor);
        return sendHtml(reply, pages.peoplePage(ctx, items, passkeys, message(req.query.msg)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/people",
      config: session("users:create"),
      schema: {
        hide: true,
        operationId: "createUser",
        body: form({ email: z.string().max(320), password: optionalText(1024), roles: roleField }),
      },
      handler: async (req, reply) => {
        const actor = person(req);
        const input = parseWith(createUserBody, {
          email: req.body.email.trim(),
          roles: [req.body.roles ?? []].flat(),
          ...(req.body.password ? { password: req.body.password } : {}),
        });
        await deps.users.create(actor, actor.tenantId, input);
        return reply.redirect("/console/people?msg=person", 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/people/:user_id",
      config: session("users:update"),
      schema: {
        hide: true,
        operationId: "updateUser",
        params: z.object({ user_id: userIdSchema }),
        body: form({ roles: roleField, disabled: z.literal("true").optional() }),
      },
      handler: async (req, reply) => {
        const actor = person(req);
        const input = parseWith(updateUserBody, {
          roles: [req.body.roles ?? []].flat(),
          status: req.body.disabled === "true" ? "disabled" : "active",
        });
        await deps.users.update(actor, actor.tenantId, req.params.user_id, input);
        return reply.redirect("/console/people?msg=person", 303);
      },
    });
    scope.route({
      method: "POST",
      url: "/console/people/:user_id/sessions/end",
      config: session("users:update"),
      schema: {
        hide: true,
        operationId: "endUserSessions",
        params: z.object({ user_id: userIdSchema }),
        body: form({}),
      },
      handler: async (req, reply) => {
        const actor = person(req);
        await deps.users.endSessions(actor, actor.tenantId, req.params.user_id);
        return reply.redirect("/console/people?msg=signedout", 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/people/:user_id/passkeys/remove",
      config: session("users:update"),
      schema: {
        hide: true,
        operationId: "removeUserPasskeys",
        params: z.object({ user_id: userIdSchema }),
        body: form({}),
      },
      handler: async (req, reply) => {
        const actor = person(req);
        // A person of another tenant reads as absent (404), as everywhere.
        await deps.users.get(actor, actor.tenantId, req.params.user_id);
        await deps.passkeys.removeAllOf(actor, req.params.user_id);
        return reply.redirect("/console/people?msg=passkeys", 303);
      },
    });
    // ---- passkeys -------------------------------------------------------------------------

    /** The relying party as this request reaches the server (its Host, under the console's scheme). */
    const relyingParty = (req: FastifyRequest): RelyingParty => {
      const host = typeof req.headers.host === "string" ? req.headers.host.toLowerCase() : "";
      const id = host.replace(/:\d{1,5}$/, "");
      if (!/^[a-z0-9.-]{1,253}$/.test(id)) throw new AppError("BAD_REQUEST", "passkeys need a host name");
      return { id, origin: `${cookies.secure ? "https" : "http"}://${host}` };
    };
    /**
     * A passkey is added only within PASSKEY_SIGN_IN_WINDOW_MS of signing in, proven by the
     * session family's refresh token (an access token alone proves no sign-in time): a stolen
     * 15-minute token, or a browser left signed in, cannot become a lasting way in.
     */
    const signedInRecently = (req: FastifyRequest): Promise<boolean> => {
      const actor = person(req);
      return deps.auth.signedInWithin(
        cookieValue(req, cookies.refresh),
        actor.tenantId,
        actor.id,
        PASSKEY_SIGN_IN_WINDOW_MS,
      );
    };
    const requireRecentSignIn = async (req: FastifyRequest): Promise<void> => {
      if (!(await signedInRecently(req))) {
        throw new AppError(
          "FORBIDDEN",
          `a passkey is added within ${PASSKEY_SIGN_IN_WINDOW_MS / 60_000} minutes of signing in: sign out, sign in again and add it`,
        );
      }
    };
    const credentialJson = z.string().max(64 * 1024);
    const parseCredential = (text: string) => {
      try {
        const v = JSON.parse(text) as unknown;
        if (typeof v === "object" && v !== null && "id" in v && "response" in v) return v;
      } catch {
        // falls through
      }
      throw new AppError("VALIDATION_FAILED", "not a WebAuthn credential");
    };

    scope.route({
      method: "GET",
      url: "/console/passkeys",
      config: session("passkeys:manage"),
      schema: { hide: true, operationId: "consoleListPasskeys" },
      handler: async (req, reply) => {
        const ctx = pageContext(req);
        return sendHtml(
          reply,
          pages.passkeysPage(ctx, await deps.passkeys.list(ctx.actor), {
            mayAdd: await signedInRecently(req),
            windowMinutes: PASSKEY_SIGN_IN_WINDOW_MS / 60_000,
          }),
        );
      },
    });

    scope.route({
      method: "POST",
      url: "/console/passkeys/options",
      config: session("passkeys:manage"),
      schema: { hide: true, operationId: "consolePasskeyOptions", body: form({}) },
      handler: async (req, reply) => {
        await requireRecentSignIn(req);
        return reply.send(await deps.passkeys.registrationOptions(person(req), relyingParty(req)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/passkeys",
      config: session("passkeys:manage"),
      schema: {
        hide: true,
        operationId: "consoleRegisterPasskey",
        body: form({ credential: credentialJson }),
      },
      handler: async (req, reply) => {
        await requireRecentSignIn(req);
        const response = parseCredential(req.body.credential) as Parameters<Passkeys["register"]>[2];
        return reply.status(201).send(await deps.passkeys.register(person(req), relyingParty(req), response));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/passkeys/:id/remove",
      config: session("passkeys:manage"),
      schema: {
        hide: true,
        operationId: "consoleRemovePasskey",
        params: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,1400}$/, "a credential id") }),
        body: form({}),
      },
      handler: async (req, reply) => {
        await deps.passkeys.remove(person(req), req.params.id);
        return reply.redirect("/console/passkeys", 303);
      },
    });

    /** The pre-session CSRF token names the sign-in ceremony (one per browser). */
    const ceremonyOf = (req: FastifyRequest) => {
      const c = cookieValue(req, cookies.csrf);
      if (c === null) throw new AppError("FORBIDDEN", "reload the sign-in page");
      return c;
    };

    scope.route({
      method: "POST",
      url: "/console/login/passkey/options",
      config: open,
      schema: { hide: true, body: form({}) },
      handler: async (req, reply) =>
        reply.send(await deps.passkeys.authenticationOptions(ceremonyOf(req), relyingParty(req), req.origin)),
    });

    scope.route({
      method: "POST",
      url: "/console/login/passkey",
      config: open,
      schema: {
        hide: true,
        body: form({
          tenant_id: z.string().max(100),
          credential: credentialJson,
          next: z.string().max(500).optional(),
        }),
      },
      handler: async (req, reply) => {
        const response = parseCredential(req.body.credential) as Parameters<Passkeys["signIn"]>[3];
        const issued = await deps.passkeys.signIn(
          ceremonyOf(req),
          req.body.tenant_id.trim(),
          relyingParty(req),
          response,
          req.origin,
        );
        reply.header(
          "set-cookie",
          sessionSetCookies(cookies, {
            accessToken: issued.session.access_token,
            refreshToken: issued.refreshToken,
            csrfToken: issued.session.csrf_token ?? newCsrfToken(),
          }),
        );
        return reply.send({ next: safeNext(req.body.next) });
      },
    });
    // ---- instance admin ---------------------------------------------------------------------

    const adminFlash = z.object({
      msg: z.enum(Object.keys(adminPages.ADMIN_MESSAGES) as [string, ...string[]]).optional(),
    });
    const adminMessage = (msg: string | undefined) => (msg ? adminPages.ADMIN_MESSAGES[msg] : undefined);

    scope.route({
      method: "GET",
      url: "/console/admin/login",
      config: open,
      schema: { hide: true, querystring: z.object({ next: z.string().max(500).optional() }) },
      handler: async (req, reply) => {
        const token = newCsrfToken();
        reply.header("set-cookie", [...clearedSessionCookies(cookies), csrfCookie(cookies, token)]);
        return sendHtml(reply, adminPages.adminSignInPage({ csrf: token, next: adminNext(req.query.next) }));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/admin/login",
      config: {
        auth: { public: true },
        renderError: (req, reply, err) => {
          if (err.status === 403) return renderError(req, reply, err);
          const body = (req.body ?? {}) as Record<string, unknown>;
          return reply.type("text/html; charset=utf-8").send(
            documentOf(
              adminPages.adminSignInPage({
                csrf: cookieValue(req, cookies.csrf) ?? "",
                next: adminNext(body.next),
                error: "That is not the instance admin key.",
              }),
            ),
          );
        },
      },
      schema: {
        hide: true,
        body: form({ admin_key: z.string().max(1024), next: z.string().max(500).optional() }),
      },
      handler: async (req, reply) => {
        const started = deps.adminSessions.start(req.body.admin_key);
        // A wrong key is a 401: the chokepoint records it as an authentication failure.
        if (!started) throw new AppError("INVALID_CREDENTIALS", "wrong admin key");
        await deps.auditInstance("admin_session.started", req.origin);
        const ttl = deps.adminSessions.ttlSeconds;
        const line = (name: string, value: string, maxAge: number) =>
          `${name}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly;${cookies.secure ? " Secure;" : ""} SameSite=Strict`;
        reply.header("set-cookie", [
          line(cookies.access, started.id, ttl),
          line(cookies.refresh, "", 0),
          line(cookies.csrf, newCsrfToken(), ttl),
        ]);
        return reply.redirect(adminNext(req.body.next), 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/admin/logout",
      config: open,
      schema: { hide: true, body: form({}) },
      handler: async (req, reply) => {
        if (deps.adminSessions.end(cookieValue(req, cookies.access))) {
          await deps.auditInstance("admin_session.ended", req.origin);
        }
        reply.header("set-cookie", clearedSessionCookies(cookies));
        return reply.redirect("/console/admin/login", 303);
      },
    });

    scope.route({
      method: "GET",
      url: "/console/admin",
      config: instance("tenants:read"),
      schema: { hide: true, operationId: "consoleInstanceHome" },
      handler: async (_req, reply) => reply.redirect("/console/admin/killswitch", 303),
    });

    scope.route({
      method: "GET",
      url: "/console/admin/killswitch",
      config: instance("governance:override"),
      schema: { hide: true, operationId: "consoleGlobalOverrides", querystring: adminFlash },
      handler: async (req, reply) => {
        const ctx = adminContext(req);
        const { items } = await deps.governance.listOverrides(actorOfAdmin(req));
        return sendHtml(reply, adminPages.adminKillSwitchPage(ctx, items, adminMessage(req.query.msg)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/admin/killswitch",
      config: instance("governance:override"),
      schema: {
        hide: true,
        operationId: "consoleSetGlobalOverride",
        body: form({
          frozen: z.enum(["true", "false"]),
          reason: z.string().max(500),
          confirm: z.literal("yes").optional(),
        }),
      },
      handler: async (req, reply) => {
        const ctx = adminContext(req);
        const input = parseWith(overrideBody, {
          scope: "global",
          frozen: req.body.frozen === "true",
          reason: req.body.reason.trim(),
        });
        if (req.body.confirm !== "yes") {
          return sendHtml(
            reply,
            adminPages.adminConfirmPage(
              ctx,
              input.frozen ? "Freeze everything" : "Lift",
              input.frozen
                ? `Freeze every agent of every tenant? Reason: “${input.reason}”. Their API calls will be refused with 423 until the freeze is lifted.`
                : `Lift the global freeze? Reason: “${input.reason}”. Agents of every tenant run again (tenant and agent freezes stay).`,
              "/console/admin/killswitch",
              { frozen: req.body.frozen, reason: input.reason },
              "/console/admin/killswitch",
              input.frozen,
            ),
          );
        }
        await deps.governance.setOverride(actorOfAdmin(req), input);
        return reply.redirect(`/console/admin/killswitch?msg=${input.frozen ? "frozen" : "lifted"}`, 303);
      },
    });

    scope.route({
      method: "GET",
      url: "/console/admin/tenants",
      config: instance("tenants:read"),
      schema: { hide: true, operationId: "consoleListTenants", querystring: adminFlash },
      handler: async (req, reply) => {
        const ctx = adminContext(req);
        const { items } = await deps.tenants.list(actorOfAdmin(req), { limit: 200 });
        return sendHtml(reply, adminPages.tenantsPage(ctx, items, adminMessage(req.query.msg)));
      },
    });

    scope.route({
      method: "POST",
      url: "/console/admin/tenants",
      config: instance("tenants:create"),
      schema: { hide: true, operationId: "consoleCreateTenant", body: form({ name: z.string().max(200) }) },
      handler: async (req, reply) => {
        const input = parseWith(createTenantBody, { name: req.body.name.trim() });
        await deps.tenants.create(actorOfAdmin(req), input);
        return reply.redirect("/console/admin/tenants?msg=created", 303);
      },
    });

    scope.route({
      method: "POST",
      url: "/console/admin/tenants/:tenant_id/delete",
      config: instance("tenants:delete"),
      schema: {
        hide: true,
        operationId: "consoleDeleteTenant",
        params: z.object({ tenant_id: tenantIdSchema }),
        body: form({ confirm: z.literal("yes").optional() }),
      },
      handler: async (req, reply) => {
        const ctx = adminContext(req);
        const actor = actorOfAdmin(req);
        // Unknown tenants are a 404 before anything is asked or done.
        const tenant = await deps.tenants.get(actor, req.params.tenant_id);
        if (req.body.confirm !== "yes") {
          return sendHtml(
            reply,
            adminPages.adminConfirmPage(
              ctx,
              "Delete tenant",
              `Delete the tenant “${tenant.name}” (${tenant.id})? Its memories, keys, people, connectors and audit trail are crypto-shredded with its data key. This cannot be undone.`,
              `/console/admin/tenants/${tenant.id}/delete`,
              {},
              "/console/admin/tenants",
              true,
            ),
          );
        }
        await deps.tenants.remove(actor, tenant.id);
        return reply.redirect("/console/admin/tenants?msg=deleted", 303);
      },
    });

    // ---- OIDC sign-in (authorization code + PKCE) -------------------------------------------

    // SameSite=Lax: the provider sends the browser back with a cross-site navigation. `__Host-`
    // (Secure, Path=/, no Domain) like the session cookies: no sibling host can plant a binding.
    const oidcCookie = cookies.oidc;
    const oidcCookieLine = (value: string, maxAge: number) =>
      `${oidcCookie}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly;${cookies.secure ? " Secure;" : ""} SameSite=Lax`;

    scope.route({
      method: "GET",
      url: "/console/login/oidc",
      config: open,
      schema: {
        hide: true,
        querystring: z.object({ tenant_id: z.string().max(100), next: z.string().max(500).optional() }),
      },
      handler: async (req, reply) => {
        const rp = relyingParty(req);
        const { url, binding } = await deps.oidc.start(
          req.query.tenant_id.trim(),
          `${rp.origin}/console/login/oidc/callback`,
          safeNext(req.query.next),
          req.origin,
        );
        reply.header("set-cookie", oidcCookieLine(binding, 600));
        // A page, not a redirect: the CSP's form-action would refuse a form redirected off-site.
        return sendHtml(reply, continuePage(url, "Continue to your identity provider"));
      },
    });

    scope.route({
      method: "GET",
      url: "/console/login/oidc/callback",
      config: open,
      schema: {
        hide: true,
        querystring: z.object({
          state: z.string().max(200),
          code: z.string().max(4096).optional(),
          error: z.string().max(200).optional(),
        }),
      },
      handler: async (req, reply) => {
        if (!req.query.code)
          throw new AppError(
            "INVALID_CREDENTIALS",
            `the provider refused the sign-in (${req.query.error ?? "no code"})`,
          );
        const { issued, next } = await deps.oidc.finish(
          req.query.state,
          req.query.code,
          cookieValue(req, oidcCookie),
          req.origin,
        );
        reply.header("set-cookie", [
          ...sessionSetCookies(cookies, {
            accessToken: issued.session.access_token,
            refreshToken: issued.refreshToken,
            csrfToken: issued.session.csrf_token ?? newCsrfToken(),
          }),
          oidcCookieLine("", 0),
        ]);
        // A page of our own continues: the next navigation is same-site, so the Strict cookies go along.
        return sendHtml(reply, continuePage(next, "Continue to the console"));
      },
    });
  });
}
