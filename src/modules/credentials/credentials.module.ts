import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../lib/config.ts";
import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { SELF_ADMITTED_OPERATIONS } from "../governance/governance.service.ts";
import { brokerChannelClient } from "./broker-channel.ts";
import { type BrokerCore, createBrokerCore } from "./broker-core.ts";
import { CREDENTIAL_KEY_RELATIVE_PATH, loadCredentialKeyring } from "./credential-key.ts";
import { httpRequestTool } from "./credentials.mcp.ts";
import { credentialsMigrations } from "./credentials.migrations.ts";
import { registerCredentialRoutes } from "./credentials.routes.ts";
import { type CredentialsService, createCredentialsService } from "./credentials.service.ts";

export const credentialsActions = {
  "credentials:manage": rule("admin", "credentials.manage"),
  "credentials:read": rule("admin", "credentials.read", ["DEVELOPER"]),
  "credentials:connect": rule("admin", "credentials.connect", ["DEVELOPER"]),
  // Every key reaches the route; the service requires the capability `credentials.use.<name>`.
  "credentials:use": rule("any", "credentials.use", ["DEVELOPER"]),
} as const satisfies Record<string, ActionRule>;

export const credentialsEvents = [
  "credential.created",
  "credential.rotated",
  "credential.deleted",
  "credential.oauth_connected",
  "proxy.http_request",
  "proxy.ssrf_blocked",
  "proxy.auth_failed",
  "proxy.credential_used",
] as const;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof credentialsActions, ActionRule> {}
}
declare module "../audit/audit.schemas.ts" {
  interface AuditEventRegistry extends Record<(typeof credentialsEvents)[number], true> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    credentials: CredentialsService;
  }
}

/** How often OAuth tokens close to expiry are refreshed, and how close counts. */
const REFRESH_EVERY_MS = 60_000;
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * The credential broker: per-tenant third-party credentials, sealed under a credential key of their
 * own, used only through POST /v1/proxy/http and the MCP tool `http_request`. With
 * `HYPHA_PROXY_SOCKET` the process holds no credential key and forwards to `hypha proxy`.
 */
export const credentialsModule = defineModule({
  name: "credentials",
  migrations: credentialsMigrations,
  actions: credentialsActions,
  events: credentialsEvents,
  suspicious: ["credential.created", "credential.deleted", "proxy.ssrf_blocked", "proxy.auth_failed"],
  create(ctx) {
    const { config } = ctx;
    let core: BrokerCore;
    if (config.proxySocket) {
      if (config.credentialKey || config.credentialKeyFile) {
        throw new ConfigError(
          "the serving process must not hold the credential key when HYPHA_PROXY_SOCKET is set: unset HYPHA_CREDENTIAL_KEY / HYPHA_CREDENTIAL_KEY_FILE (only hypha proxy needs them)",
        );
      }
      const keyFile = join(config.dataDir, CREDENTIAL_KEY_RELATIVE_PATH);
      if (existsSync(keyFile)) {
        throw new ConfigError(
          `${keyFile} exists but HYPHA_PROXY_SOCKET is set: move the credential key to the proxy's data directory`,
        );
      }
      core = brokerChannelClient({
        socketPath: config.proxySocket,
        token: config.proxyToken ?? "",
        // A call may refresh a token and retry once: three outbound deadlines and some slack.
        timeoutMs: config.proxyTimeoutMs * 3 + 5000,
      });
    } else {
      const loaded = loadCredentialKeyring({
        dataDir: config.dataDir,
        key: config.credentialKey,
        keyFile: config.credentialKeyFile,
        allowGenerate: true,
        masterKeys: ctx.use("tenantKeys").masterKeys(),
      });
      if (!loaded.ok) throw new ConfigError(`credential key: ${loaded.message}`);
      core = createBrokerCore({
        ring: loaded.ring,
        egressAllow: config.egressAllow,
        timeoutMs: config.proxyTimeoutMs,
        maxResponseBytes: config.proxyMaxResponseBytes,
        telemetry: ctx.telemetry,
      });
    }
    SELF_ADMITTED_OPERATIONS.add("proxyHttp");
    const governance = ctx.use("governance");
    const tenants = ctx.use("tenants");
    const service = createCredentialsService({
      invalidation: ctx.invalidation,
      storage: ctx.storage,
      clock: ctx.clock,
      audit: ctx.use("audit").append,
      requireTenant: (tenantId) => tenants.requireActive(tenantId),
      cipher: (tenantId) => ctx.use("tenantKeys").cipher(tenantId),
      core: () => core,
      policyFor: (tenantId) => governance.service.policyFor(tenantId),
      admit: (actor, call, approvalId) => governance.service.admit(actor, call, approvalId),
    });
    governance.screen.addValueCheck("credential_value", (tenantId, text) =>
      service.containsCredentialValue(tenantId, text),
    );
    ctx.use("mcp").addTools(httpRequestTool(service));
    tenants.onDeleted((tenantId) => service.forget(tenantId));

    let timer: NodeJS.Timeout | null = null;
    let running: Promise<void> = Promise.resolve();
    const refreshAll = async () => {
      // Only tenants with OAuth credentials in use: opening every tenant's vault each minute would not scale.
      for (const id of service.oauthTenants()) {
        try {
          await service.refreshDue(id, REFRESH_MARGIN_MS);
        } catch (err) {
          ctx.logger.warn({ err, tenantId: id }, "credential token refresh failed");
        }
      }
    };
    return {
      api: service,
      routes: (app) => registerCredentialRoutes(app, service),
      workers: [
        {
          name: "credentials.refresh",
          start() {
            timer = setInterval(() => {
              running = running.then(refreshAll, refreshAll);
            }, REFRESH_EVERY_MS);
            timer.unref();
          },
          async stop() {
            if (timer) clearInterval(timer);
            timer = null;
            await running;
          },
        },
      ],
    };
  },
});
