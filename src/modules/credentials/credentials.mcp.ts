import type { McpToolProvider } from "../mcp/mcp.routes.ts";
import { type ProxyRequest, proxyRequestBody } from "./credentials.schemas.ts";
import type { CredentialsService } from "./credentials.service.ts";

const DESCRIPTION =
  "Make an HTTP request with one of the team's stored credentials, without ever seeing it. Name the " +
  "credential (your key needs the capability credentials.use.<name>), the method and the URL (only the " +
  "hosts the credential is bound to are allowed); Hypha injects the secret and returns status, headers " +
  "and body with any echo of the secret removed. A credential injected into the URL path needs " +
  "{{credential}} where it goes.";

/** The MCP tool `http_request`: the same checks, audit and caps as POST /v1/proxy/http. */
export function httpRequestTool(credentials: CredentialsService): McpToolProvider {
  return (server, actor, fail) => {
    server.registerTool(
      "http_request",
      {
        title: "HTTP request with a stored credential",
        description: DESCRIPTION,
        inputSchema: proxyRequestBody,
        annotations: {
          readOnlyHint: false,
          destructiveHint: true,
          openWorldHint: true,
          idempotentHint: false,
        },
      },
      async (input: ProxyRequest) => {
        try {
          // MCP cannot answer 202: a credential whose tier needs approval is refused here.
          const out = await credentials.use(actor, input, { mode: "refuse" });
          if (!out.done) throw new Error("unreachable: refuse mode never waits for approval");
          const value = out.response as unknown as Record<string, unknown>;
          return {
            content: [{ type: "text", text: JSON.stringify(value) }],
            structuredContent: value,
          };
        } catch (err) {
          return fail(err, "http_request");
        }
      },
    );
  };
}
