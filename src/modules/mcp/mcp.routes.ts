import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { AppError } from "../../lib/errors.ts";
import type { AgentActor } from "../../platform/auth/actor.ts";
import { actorOf } from "../../platform/http/contracts.ts";
import type { TypedApp } from "../../platform/http/server.ts";
import type { DenialAudit } from "../audit/denials.ts";
import type { MemoriesService } from "../memories/memories.service.ts";
import { describeError, serviceBackend, type ToolGate } from "./mcp.backend.ts";
import { answerStatus } from "./mcp.outcome.ts";
import { createMemoryMcpServer } from "./mcp.tools.ts";

export type McpRouteDeps = {
  memories: MemoriesService;
  /** Tool-level denials are audited by the same recorder as the REST chokepoint's 403s. */
  recordDenial: DenialAudit;
  /** Runs before each tool with the REST operation it stands for (approvals must not be bypassed). */
  gate?: ToolGate;
  /** Tools other modules add (e.g. `http_request`), registered on each request's server. */
  tools?: () => readonly McpToolProvider[];
  /**
   * The anomaly detector's view of agent traffic (governance's error rate). The reply is hijacked,
   * so the onSend hook that counts REST outcomes never sees MCP: each request reports its own, once.
   */
  recordOutcome: (actor: AgentActor, status: number) => Promise<void>;
};

/**
 * Registers extra tools on a request's MCP server, bound to its agent. `fail` turns what a tool threw
 * into the tool error the model sees (stable code, secrets redacted, denials audited).
 */
export type McpToolProvider = (
  server: McpServer,
  actor: AgentActor,
  fail: (err: unknown, tool: string) => Promise<CallToolResult>,
) => void;

/**
 * One JSON-RPC message per request. A batch would let one rate-limited request carry any number of
 * tool calls, so arrays are refused here, before the MCP transport sees them.
 */
const jsonRpcMessage = z
  .object({
    jsonrpc: z.literal("2.0"),
    id: z.union([z.string().max(200), z.number().int()]).optional(),
    method: z.string().min(1).max(200),
    params: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const DENIED = new Set([
  "FORBIDDEN",
  "INSUFFICIENT_SCOPE",
  "NAMESPACE_FORBIDDEN",
  "CROSS_TENANT_FORBIDDEN",
  "APPROVAL_REQUIRED",
]);

/**
 * MCP over Streamable HTTP at /mcp (stateless: one server and transport per request). The chokepoint
 * has already authenticated the agent key and charged its rate limit; every tool call runs through
 * the memories service with the request's Actor.
 */
export function registerMcpRoutes(app: TypedApp, deps: McpRouteDeps): void {
  app.route({
    method: "POST",
    url: "/mcp",
    config: { auth: { accepts: ["agent_key"], action: "mcp:connect" } },
    schema: { hide: true, body: jsonRpcMessage },
    handler: async (req, reply) => {
      const actor = actorOf(req);
      if (actor.type !== "agent") throw new AppError("FORBIDDEN", "MCP needs a tenant key");
      const describe = async (err: unknown, tool: string) => {
        if (err instanceof AppError && DENIED.has(err.code)) {
          await deps
            .recordDenial(actor, actor.origin, { code: err.code, method: "POST", route: "/mcp", tool })
            .catch((auditErr: unknown) => req.log.error({ err: auditErr }, "could not audit a denial"));
        }
        return describeError(err, req.log, () => req.id);
      };
      const server = createMemoryMcpServer(
        serviceBackend(deps.memories, () => actor, deps.gate),
        {
          describeError: describe,
        },
      );
      for (const provide of deps.tools?.() ?? []) {
        provide(server, actor, async (err, tool) => {
          const error = await describe(err, tool);
          return {
            content: [{ type: "text", text: JSON.stringify({ error }) }],
            structuredContent: { error },
            isError: true,
          };
        });
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      // Each request counts once toward the error rate, as a REST request would: a tool call as the
      // status its REST operation would have had (a tool error carrying NOT_FOUND is a 404), recorded
      // before the answer leaves so the caller's next request already meets a pause; anything the
      // transport answers itself (notifications, refusals, failures) by its HTTP status once sent.
      let counted = false;
      const count = async (status: number) => {
        if (counted) return;
        counted = true;
        await deps
          .recordOutcome(actor, status)
          .catch((err: unknown) => req.log.error({ err }, "anomaly detector failed"));
      };
      const send = transport.send.bind(transport);
      transport.send = async (message, options) => {
        const status = answerStatus(message, req.body.id);
        if (status !== undefined) await count(status);
        return send(message, options);
      };
      reply.raw.once("finish", () => void count(reply.raw.statusCode));
      // The SDK writes the response itself; carry over what the chokepoint set (request id, rate limits).
      reply.hijack();
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) reply.raw.setHeader(name, value);
      }
      reply.raw.on("close", () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(req.raw, reply.raw, req.body);
      } catch (err) {
        req.log.error({ err }, "mcp request failed");
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(500, { "content-type": "application/json" });
          reply.raw.end(
            JSON.stringify({ error: { code: "INTERNAL", message: "internal error", requestId: req.id } }),
          );
        }
      }
    },
  });

  app.route({
    method: "GET",
    url: "/mcp",
    config: { auth: { accepts: ["agent_key"], action: "mcp:connect" } },
    schema: { hide: true },
    handler: async () => {
      // Stateless: no server-initiated stream. The MCP spec's answer for that is 405.
      throw new AppError("METHOD_NOT_ALLOWED", "this MCP endpoint is stateless; POST JSON-RPC messages", {
        headers: { allow: "POST" },
      });
    },
  });
}
