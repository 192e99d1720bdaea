import { type ActionRule, type RequestOrigin, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { oidcEgressGuard } from "../identity/oidc-fetch.ts";
import { type AdminSessions, createAdminSessions } from "./console.admin.ts";
import { consoleMigrations } from "./console.migrations.ts";
import { createOidcSignIn } from "./console.oidc.ts";
import { createPasskeys } from "./console.passkeys.ts";
import { registerConsoleRoutes } from "./console.routes.ts";
import { consoleCookies } from "./console.session.ts";

export const consoleActions = {
  // A person manages their own passkeys, whatever their role.
  "passkeys:manage": rule("any", "identity.passkeys", ["DEVELOPER", "VIEWER", "AUDIT_ADMIN"]),
} as const satisfies Record<string, ActionRule>;
export const consoleEvents = [
  "passkey.registered",
  "passkey.removed",
  "admin_session.started",
  "admin_session.ended",
] as const;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof consoleActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof consoleEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    console: {
      /** The cookie that carries a signed-in person's access token to the console's routes. */
      sessionCookie: string;
      /** The chokepoint's check of an instance-admin console session id found in that cookie. */
      adminSession: AdminSessions["verify"];
    };
  }
}

/**
 * The operator console at `/console`: server-rendered pages over the same services as the API,
 * called with the signed-in person as the actor (so roles, tenant checks, governance and audit are
 * the API's). It owns the people's passkeys and the instance admin's console sessions
 * (`console.admin.ts`), whose pages call the same services with the instance-admin actor.
 */
export const consoleModule = defineModule({
  name: "console",
  migrations: consoleMigrations,
  actions: consoleActions,
  events: consoleEvents,
  suspicious: ["passkey.registered", "admin_session.started"],
  create(ctx) {
    const identity = ctx.use("identity");
    const governance = ctx.use("governance").service;
    const audit = ctx.use("audit");
    const tenants = ctx.use("tenants");
    const deps = {
      auth: identity.auth,
      governance,
      audit: audit.service,
      keys: ctx.use("keys"),
      memories: ctx.use("memories"),
      connectors: ctx.use("connectors"),
      policy: governance,
      users: identity.users,
      passkeys: createPasskeys({
        storage: ctx.storage,
        clock: ctx.clock,
        audit: audit.append,
        auth: identity.auth,
        requireTenant: (tenantId) => tenants.requireActive(tenantId),
        maxPerClient: ctx.config.loginMaxPerAddress,
      }),
      oidc: createOidcSignIn({
        clock: ctx.clock,
        auth: identity.auth,
        // The identity module's policy for tenant-supplied provider URLs, not a second one: public
        // addresses, plus the issuer's own host when the operator allows local providers.
        egressFor: (issuer) => oidcEgressGuard(issuer, { allowLocal: ctx.config.oidcAllowInsecureLocal }),
        allowLoopbackHttp: ctx.config.oidcAllowInsecureLocal,
        maxPerClient: ctx.config.loginMaxPerAddress,
      }),
      tenants,
      adminSessions: createAdminSessions({ clock: ctx.clock, verifyAdminKey: (k) => ctx.adminKey.verify(k) }),
      /** Records an instance-admin sign-in or sign-out on the instance chain. */
      auditInstance: (action: "admin_session.started" | "admin_session.ended", origin: RequestOrigin) =>
        ctx.storage.control.transaction((tx) =>
          audit.append(
            tx,
            { tenantId: null, actor: { type: "instance_admin", id: "instance_admin" }, action, origin },
            ctx.clock.now(),
          ),
        ),
      cookies: consoleCookies(ctx.config.consoleInsecureHttp),
      allowedOrigins: ctx.config.allowedOrigins,
    };
    return {
      api: { sessionCookie: deps.cookies.access, adminSession: deps.adminSessions.verify },
      routes: (app) => registerConsoleRoutes(app, deps),
    };
  },
});
