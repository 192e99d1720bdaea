import { resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

export const ROOT = resolve(import.meta.dirname, "..");
export const NODE = resolve(ROOT, "node_modules/.bin/node");

export type ToolResult = {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
};

/** An MCP client (the SDK's own) connected to the gateway's /mcp with an agent key. */
export async function httpClient(url: string, key: string): Promise<Client> {
  const client = new Client({ name: "hypha-test", version: "1" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL("/mcp", url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

/** An MCP client spawning `hypha mcp <args>` as a stdio server, as a desktop client would. */
export async function stdioClient(args: string[], env: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "hypha-test", version: "1" });
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("HYPHA_")) base[k] = v;
  }
  await client.connect(
    new StdioClientTransport({
      command: NODE,
      args: ["bin/hypha.js", "mcp", ...args],
      cwd: ROOT,
      env: { ...base, ...env },
      stderr: "pipe",
    }),
  );
  return client;
}

export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

/** The structured result of a successful call (fails loudly on a tool error). */
export async function ok<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  const res = await call(client, name, args);
  if (res.isError) throw new Error(`${name} failed: ${res.content[0]?.text}`);
  return res.structuredContent as T;
}

/** The error code a failed call carries. */
export async function errorOf(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const res = await call(client, name, args);
  if (!res.isError) throw new Error(`${name} unexpectedly succeeded`);
  const text = res.content[0]?.text ?? "";
  try {
    return (JSON.parse(text) as { error: { code: string } }).error.code;
  } catch {
    return text;
  }
}
