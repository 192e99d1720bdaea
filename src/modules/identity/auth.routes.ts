import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import { actorOf, authErrors, errorEnvelope } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import { tenantIdSchema } from "../tenants/tenants.schemas.ts";
import {
  jwtRotatedSchema,
  loginBody,
  oidcConfigBody,
  oidcConfigSchema,
  oidcLoginBody,
  sessionSchema,
} from "./auth.schemas.ts";
import { type AuthService, type IssuedSession, REFRESH_TOKEN_TTL_SEC } from "./auth.service.ts";
import {
  CSRF_HEADER,
  clearedCookies,
  originAllowed,
  REFRESH_COOKIE,
  readCookie,
  sessionCookies,
} from "./cookies.ts";

const tenantParams = z.object({ tenant_id: tenantIdSchema });
const sessionErrors = {
  401: errorEnvelope,
  403: errorEnvelope,
  422: errorEnvelope,
  423: errorEnvelope,
  429: errorEnvelope,
} as const;
/** Sign-in routes carry no bearer credential: they are the way to get one. */
const signIn = { auth: { public: true } } as const;

export function registerAuthRoutes(
  app: TypedApp,
  auth: AuthService,
  opts: { allowedOrigins: readonly string[] },
) {
  const origins = new Set(opts.allowedOrigins.map((o) => o.toLowerCase()));

  const checkOrigin = (req: FastifyRequest) => {
    if (!originAllowed(req, origins)) throw new AppError("FORBIDDEN", "cross-site request refused");
  };
  const csrfHeader = (req: FastifyRequest): string | null => {
    const v = req.headers[CSRF_HEADER];
    return typeof v === "string" && v.length <= 200 ? v : null;
  };
  const send = (reply: FastifyReply, issued: IssuedSession, status: number) => {
    reply.header("cache-control", "no-store");
    const csrf = issued.session.csrf_token ?? null;
    reply.header("set-cookie", sessionCookies(issued.refreshToken, csrf, REFRESH_TOKEN_TTL_SEC));
    return reply.status(status).send(issued.session);
  };

  app.route({
    method: "POST",
    url: "/v1/auth/login",
    config: signIn,
    schema: {
      operationId: "login",
      tags: ["auth"],
      summary: "Sign in with email and password: an access token, and the refresh token in a cookie",
      body: loginBody,
      response: { 200: sessionSchema, ...sessionErrors },
    },
    handler: async (req, reply) => {
      checkOrigin(req);
      return send(reply, await auth.login(req.body, req.origin), 200);
    },
  });

  app.route({
    method: "POST",
    url: "/v1/auth/oidc",
    config: signIn,
    schema: {
      operationId: "loginOidc",
      tags: ["auth"],
      summary: "Sign in with an ID token from the tenant's OpenID Connect provider",
      body: oidcLoginBody,
      response: { 200: sessionSchema, ...sessionErrors },
    },
    handler: async (req, reply) => {
      checkOrigin(req);
      return send(reply, await auth.oidcLogin(req.body.tenant_id, req.body.id_token, req.origin), 200);
    },
  });

  app.route({
    method: "POST",
    url: "/v1/auth/refresh",
    config: signIn,
    schema: {
      operationId: "refreshSession",
      tags: ["auth"],
      summary: "Exchange the refresh cookie (with X-CSRF-Token) for a new access token and refresh cookie",
      response: { 200: sessionSchema, ...sessionErrors },
    },
    handler: async (req, reply) => {
      checkOrigin(req);
      const token = readCookie(req.headers.cookie, REFRESH_COOKIE);
      try {
        return send(reply, await auth.refresh(token, csrfHeader(req), req.origin), 200);
      } catch (err) {
        if (err instanceof AppError && err.status === 401) reply.header("set-cookie", clearedCookies());
        throw err;
      }
    },
  });

  app.route({
    method: "POST",
    url: "/v1/auth/logout",
    config: signIn,
    schema: {
      operationId: "logout",
      tags: ["auth"],
      summary: "End the session of the refresh cookie (with X-CSRF-Token) and clear the cookies",
      response: { 204: z.null(), ...sessionErrors },
    },
    handler: async (req, reply) => {
      checkOrigin(req);
      await auth.logout(readCookie(req.headers.cookie, REFRESH_COOKIE), csrfHeader(req), req.origin);
      reply.header("set-cookie", clearedCookies());
      return reply.status(204).send(null);
    },
  });

  app.route({
    method: "POST",
    url: "/v1/tenants/:tenant_id/jwt/rotate",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "tenant:jwt_rotate" } },
    schema: {
      operationId: "rotateTenantJwtSecret",
      tags: ["auth"],
      summary: "Replace the tenant's token signing secret: every access token of the tenant stops working",
      params: tenantParams,
      response: { 200: jwtRotatedSchema, ...authErrors },
    },
    handler: async (req) => auth.rotateJwtSecret(actorOf(req), req.params.tenant_id),
  });

  app.route({
    method: "GET",
    url: "/v1/tenants/:tenant_id/oidc",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "oidc:read" } },
    schema: {
      operationId: "getOidcConfig",
      tags: ["auth"],
      summary: "Read the tenant's OpenID Connect configuration",
      params: tenantParams,
      response: { 200: oidcConfigSchema, ...authErrors },
    },
    handler: async (req) => auth.getOidc(actorOf(req), req.params.tenant_id),
  });

  app.route({
    method: "PUT",
    url: "/v1/tenants/:tenant_id/oidc",
    config: { auth: { accepts: ["admin_key", "agent_key", "user_token"], action: "oidc:configure" } },
    schema: {
      operationId: "putOidcConfig",
      tags: ["auth"],
      summary: "Set the tenant's OpenID Connect provider and role mapping",
      params: tenantParams,
      body: oidcConfigBody,
      response: { 200: oidcConfigSchema, ...authErrors },
    },
    handler: async (req) => auth.putOidc(actorOf(req), req.params.tenant_id, req.body),
  });
}
