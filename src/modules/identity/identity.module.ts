import { constantTimeEqual } from "../../lib/secrets.ts";
import { type ActionRule, type Actor, rule } from "../../platform/auth/actor.ts";
import type { CredentialVerifier } from "../../platform/http/server.ts";
import { defineModule } from "../../platform/module.ts";
import { registerAuthRoutes } from "./auth.routes.ts";
import { type AuthService, createAuthService } from "./auth.service.ts";
import { identityMigrations } from "./identity.migrations.ts";
import { createLocalLoginThrottle, createSharedLoginThrottle } from "./login-throttle.ts";
import { oidcFetch } from "./oidc-fetch.ts";
import { registerUserRoutes } from "./users.routes.ts";
import { createUsersService, type UsersService } from "./users.service.ts";

export const identityActions = {
  "tenant:jwt_rotate": rule("admin", "tenant.jwt.rotate"),
  "oidc:read": rule("admin", "tenant.oidc.read"),
  "oidc:configure": rule("admin", "tenant.oidc.write"),
  "users:create": rule("admin", "users.create"),
  "users:read": rule("admin", "users.read"),
  "users:update": rule("admin", "users.update"),
} as const satisfies Record<string, ActionRule>;

export const identityEvents = [
  "user.created",
  "user.updated",
  "user.sessions_ended",
  "auth.login",
  "auth.refreshed",
  "auth.refresh_reused",
  "auth.logout",
  "auth.jwt_rotated",
  "auth.failed",
  "auth.locked",
  "oidc.configured",
  "admin_key.replaced",
] as const;

export type IdentityApi = {
  auth: AuthService;
  users: UsersService;
  /**
   * Resolves a presented secret to its caller: the instance admin key, the metrics token, a
   * person's access token (a JWT, by its shape) or an agent key. The HTTP chokepoint's only door.
   */
  verifyCredential: CredentialVerifier;
};

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof identityActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof identityEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    identity: IdentityApi;
  }
}

/** A person's access token: a compact JWS (people's tokens are JWTs, keys are `hy?_` strings). */
const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** People, roles and sessions, sign-in (password, OIDC), and credential verification for every request. */
export const identityModule = defineModule({
  name: "identity",
  migrations: identityMigrations,
  actions: identityActions,
  events: identityEvents,
  suspicious: [
    "auth.failed",
    "auth.locked",
    "user.created",
    "user.updated",
    "user.sessions_ended",
    "auth.refresh_reused",
    "auth.jwt_rotated",
    "oidc.configured",
    "admin_key.replaced",
  ],
  create(ctx) {
    const { config, storage, clock, adminKey } = ctx;
    const tenants = ctx.use("tenants");
    const tenantKeys = ctx.use("tenantKeys");
    const keys = ctx.use("keys");
    const audit = ctx.use("audit").append;
    const throttleOptions = {
      maxFailures: config.loginMaxFailures,
      windowMs: config.loginFailureWindowSeconds * 1000,
      lockMs: config.loginLockSeconds * 1000,
      maxPerAddress: config.loginMaxPerAddress,
    };
    const auth = createAuthService({
      storage,
      clock,
      tenants,
      audit,
      cipher: tenantKeys.cipher,
      issuer: config.tokenIssuer,
      throttle: ctx.redis
        ? createSharedLoginThrottle(ctx.redis, clock, ctx.logger, throttleOptions)
        : createLocalLoginThrottle(clock, throttleOptions),
      oidcFetch: oidcFetch({ allowLocal: config.oidcAllowInsecureLocal }),
      oidcAllowLoopbackHttp: config.oidcAllowInsecureLocal,
    });
    tenants.onCreated((tenantId) => auth.initTenant(tenantId));
    tenants.onDeleted((tenantId) => auth.forget(tenantId));
    const users = createUsersService({ storage, clock, tenants, audit });

    const verifyCredential: CredentialVerifier = async (secret, origin) => {
      if (adminKey.verify(secret)) {
        const actor: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin };
        return { ok: true, kind: "admin_key", actor, rateLimitPerMinute: null };
      }
      if (config.metricsToken && constantTimeEqual(secret, config.metricsToken)) {
        const actor: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin };
        return { ok: true, kind: "metrics_token", actor, rateLimitPerMinute: null };
      }
      if (JWT_SHAPE.test(secret)) return auth.verifyUserToken(secret, origin);
      return keys.verify(secret, origin);
    };

    return {
      api: { auth, users, verifyCredential },
      routes(app) {
        registerUserRoutes(app, users);
        registerAuthRoutes(app, auth, { allowedOrigins: config.allowedOrigins });
      },
    };
  },
});
