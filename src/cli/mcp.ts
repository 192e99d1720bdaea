import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { createApp, type HyphaApp } from "../app.ts";
import { createHyphaClient } from "../client/index.ts";
import type { Config } from "../lib/config.ts";
import { AppError } from "../lib/errors.ts";
import { newId } from "../lib/ids.ts";
import { createLogger } from "../lib/logger.ts";
import { actionsForKey } from "../modules/keys/keys.policy.ts";
import type { ApiKey } from "../modules/keys/keys.schemas.ts";
import { clientBackend, describeError, serviceBackend, type ToolGate } from "../modules/mcp/mcp.backend.ts";
import { answerStatus } from "../modules/mcp/mcp.outcome.ts";
import { createMemoryMcpServer } from "../modules/mcp/mcp.tools.ts";
import type { Tenant } from "../modules/tenants/tenants.schemas.ts";
import type { Actor, AgentActor, RequestOrigin } from "../platform/auth/actor.ts";

/** The name of the key that embedded mode acts with; revoke it to shut embedded access off. */
export const EMBEDDED_KEY_NAME = "mcp-embedded";

const origin = (): RequestOrigin => ({ requestId: newId("request"), ip: "stdio", userAgent: "hypha-mcp" });

/**
 * Stdio MCP server for desktop clients, bridged to a running gateway: every tool call is a REST
 * call with the agent key, so the gateway authenticates, rate-limits, authorizes and audits it.
 * Stdout carries the protocol; logs go to stderr.
 */
export async function serveStdioBridge(opts: { url: string; key: string }): Promise<void> {
  const log = createLogger("warn", process.stderr);
  const client = createHyphaClient({ url: opts.url, key: opts.key });
  const server = createMemoryMcpServer(clientBackend(client), {
    describeError: async (err) => describeError(err, log),
  });
  await server.connect(new StdioServerTransport());
}

async function findTenant(app: HyphaApp, admin: Actor, name: string): Promise<Tenant | null> {
  let after: string | undefined;
  do {
    const page = await app.services.tenants.list(admin, { after, limit: 200 });
    const found = page.items.find((t) => t.name === name);
    if (found) return found;
    after = page.next_cursor ?? undefined;
  } while (after);
  return null;
}

async function findKey(app: HyphaApp, admin: Actor, tenantId: string, agent: string): Promise<ApiKey | null> {
  let after: string | undefined;
  let found: ApiKey | null = null;
  do {
    const page = await app.services.keys.list(admin, tenantId, { after, limit: 200 });
    for (const k of page.items) {
      if (k.name !== EMBEDDED_KEY_NAME || k.agent !== agent) continue;
      // An active key wins over a revoked one; a revoked key alone keeps embedded access shut.
      if (!found || (found.revoked_at !== null && k.revoked_at === null)) found = k;
    }
    after = page.next_cursor ?? undefined;
  } while (after);
  return found;
}

/**
 * The local user's identity in embedded mode: the tenant named `tenantName` and its key named
 * `mcp-embedded` for `agent`, both created on first use. The key's secret is discarded at creation
 * (this process opens the data directory itself and needs none); its id, scopes and namespaces are
 * what every call is authorized and audited with, and revoking it refuses embedded mode.
 */
export async function localActor(
  app: HyphaApp,
  opts: { tenantName: string; agent: string; now: number },
): Promise<Omit<AgentActor, "origin">> {
  const admin: Actor = { type: "instance_admin", id: "instance_admin", tenantId: null, origin: origin() };
  const tenant =
    (await findTenant(app, admin, opts.tenantName)) ??
    (await app.services.tenants.create(admin, { name: opts.tenantName }));
  const key =
    (await findKey(app, admin, tenant.id, opts.agent)) ??
    (await app.services.keys.create(admin, tenant.id, {
      agent: opts.agent,
      name: EMBEDDED_KEY_NAME,
      scopes: ["memories:read", "memories:write"],
    }));
  if (key.revoked_at !== null)
    throw new AppError("CREDENTIALS_REVOKED", `the embedded key ${key.id} is revoked`);
  if (key.expires_at !== null && Date.parse(key.expires_at) <= opts.now) {
    throw new AppError("CREDENTIALS_EXPIRED", `the embedded key ${key.id} has expired`);
  }
  return {
    type: "agent",
    id: key.id,
    tenantId: tenant.id,
    agent: key.agent,
    scopes: key.scopes,
    capabilities: key.capabilities,
    actions: actionsForKey(key.scopes, key.capabilities),
    namespaces: key.namespaces,
  };
}

/**
 * Stdio MCP server on a data directory, for one local user without a running gateway. The tools
 * call the memories service with the local key's Actor, like the gateway does for its requests.
 */
export async function serveStdioEmbedded(opts: {
  config: Config;
  tenantName: string;
  agent: string;
}): Promise<void> {
  const app = await createApp({ config: opts.config, logDestination: process.stderr });
  const identity = await localActor(app, { tenantName: opts.tenantName, agent: opts.agent, now: Date.now() });
  let requestId: string | undefined;
  const actor = (): Actor => {
    const o = origin();
    requestId = o.requestId;
    return { ...identity, origin: o };
  };
  // No HTTP chokepoint here: every tool call passes the kill switch (freezes, paused key) and the
  // tenant's approval policy itself.
  const gate: ToolGate = async (caller, tool) => {
    await app.services.governance.checkAgentAllowed({
      tenantId: identity.tenantId,
      keyId: identity.id,
      agent: identity.agent,
    });
    if (caller.type === "agent") {
      await app.services.governance.refuseIfApprovalRequired(caller, tool.operation, tool.action);
    }
  };
  const server = createMemoryMcpServer(serviceBackend(app.services.memories, actor, gate), {
    describeError: async (err) => describeError(err, app.logger, () => requestId),
  });
  const transport = new StdioServerTransport();
  // Each answer counts toward the error-rate detector as its REST request would (a tool error
  // carrying NOT_FOUND is a 404), recorded before it is sent so the next call already meets a pause.
  const send = transport.send.bind(transport);
  transport.send = async (message: JSONRPCMessage) => {
    const status = answerStatus(message, "id" in message ? message.id : undefined);
    if (status !== undefined) {
      await app.services.governance
        .recordOutcome({ ...identity, origin: origin() }, status)
        .catch((err: unknown) => app.logger.error({ err }, "anomaly detector failed"));
    }
    return send(message);
  };
  transport.onclose = () => void app.close();
  await server.connect(transport);
}
