import { type ActionRule, rule } from "../../platform/auth/actor.ts";
import { defineModule } from "../../platform/module.ts";
import { type McpToolProvider, registerMcpRoutes } from "./mcp.routes.ts";

export const mcpActions = {
  // The MCP transport itself needs no scope: every tool checks the memory action it performs.
  "mcp:connect": rule("any", "mcp.connect"),
} as const satisfies Record<string, ActionRule>;

declare module "../../platform/auth/actor.ts" {
  interface ActionRegistry extends Record<keyof typeof mcpActions, ActionRule> {}
}
declare module "../../platform/module.ts" {
  interface ModuleApis {
    /** Extra MCP tools other modules add, registered on every /mcp request's server. */
    mcp: { addTools(provider: McpToolProvider): void };
  }
}

/** MCP tools over Streamable HTTP (`/mcp`); each tool runs through the memories service. */
export const mcpModule = defineModule({
  name: "mcp",
  actions: mcpActions,
  create(ctx) {
    const memories = ctx.use("memories");
    const governance = ctx.use("governance").service;
    const recordDenial = ctx.use("audit").recordDenial;
    const tools: McpToolProvider[] = [];
    return {
      api: { addTools: (provider) => tools.push(provider) },
      routes: (app) =>
        registerMcpRoutes(app, {
          memories,
          recordDenial,
          tools: () => tools,
          recordOutcome: (actor, status) => governance.recordOutcome(actor, status),
          // A tool whose REST operation needs approval is refused, as its route would be.
          gate: async (actor, tool) => {
            if (actor.type === "agent")
              await governance.refuseIfApprovalRequired(actor, tool.operation, tool.action);
          },
        }),
    };
  },
});
