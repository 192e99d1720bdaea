/**
 * Hypha's MCP server beside the reference `@modelcontextprotocol/server-memory`, on one workload in
 * one run, each driven by the SDK's own client:
 * - lost writes: N concurrent create calls, then count what each server persisted;
 * - call latency p50/p95 of sequential store and search calls.
 *
 * Targets: Hypha over Streamable HTTP (/mcp on a gateway on 127.0.0.1), Hypha embedded over stdio
 * (`hypha mcp --data`), and the reference server over stdio (its JSONL file in a temp dir).
 *
 * Run: ./node_modules/.bin/node bench/mcp.ts
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { percentile, writeSection } from "./report.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NODE = resolve(ROOT, "node_modules/.bin/node");
const REFERENCE = resolve(ROOT, "node_modules/@modelcontextprotocol/server-memory/dist/index.js");

type Target = {
  name: string;
  client: Client;
  /** One create/store call for item i. */
  create: (i: number, tag: string) => Promise<unknown>;
  search: (query: string) => Promise<unknown>;
  /** How many of the items tagged `tag` were persisted. */
  persisted: (tag: string) => Promise<number>;
  close: () => Promise<void>;
};

type Result = {
  name: string;
  concurrent: number;
  acknowledged: number;
  persisted: number;
  storeP50: number;
  storeP95: number;
  searchP50: number;
  searchP95: number;
};

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("HYPHA_")) env[k] = v;
  return { ...env, ...extra };
}

async function callTool(client: Client, name: string, args: Record<string, unknown>) {
  const res = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: unknown };
  if (res.isError) throw new Error(`${name}: ${JSON.stringify(res.content)}`);
  return res;
}

function hyphaTools(client: Client): Pick<Target, "create" | "search" | "persisted"> {
  return {
    create: (i, tag) =>
      callTool(client, "memory_store", { namespace: tag, content: `bench fact number ${i}` }),
    search: (query) => callTool(client, "memory_recall", { query, k: 10 }),
    async persisted(tag) {
      let count = 0;
      let cursor: string | undefined;
      do {
        const res = (await callTool(client, "memory_list", {
          namespace: tag,
          limit: 200,
          ...(cursor ? { cursor } : {}),
        })) as { structuredContent?: { items: unknown[]; next_cursor: string | null } };
        count += res.structuredContent?.items.length ?? 0;
        cursor = res.structuredContent?.next_cursor ?? undefined;
      } while (cursor);
      return count;
    },
  };
}

async function hyphaHttp(): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-mcp-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const config = loadConfig(
    {},
    { dataDir, adminKey, logLevel: "silent", port: 0, rateLimitPerMinute: 100_000 },
  );
  const app = await createApp({ config });
  const url = await app.app.listen({ host: "127.0.0.1", port: 0 });
  const admin = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
  const tenant = (await (
    await fetch(`${url}/v1/tenants`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "bench" }),
    })
  ).json()) as { id: string };
  const key = (await (
    await fetch(`${url}/v1/tenants/${tenant.id}/keys`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ agent: "bench", scopes: ["memories:read", "memories:write"] }),
    })
  ).json()) as { key: string };
  // The anomaly cap (100 requests a minute per key by default) is raised to the key's plan.
  await fetch(`${url}/v1/tenants/${tenant.id}/policy`, {
    method: "PUT",
    headers: admin,
    body: JSON.stringify({ anomaly: { max_requests_per_minute: 600 } }),
  });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL("/mcp", url), {
      requestInit: { headers: { authorization: `Bearer ${key.key}` } },
    }),
  );
  return {
    name: "Hypha, Streamable HTTP (/mcp)",
    client,
    ...hyphaTools(client),
    async close() {
      await client.close();
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function hyphaStdio(): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-mcp-stdio-"));
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(
    new StdioClientTransport({
      command: NODE,
      args: ["bin/hypha.js", "mcp", "--data", dataDir],
      cwd: ROOT,
      env: cleanEnv(),
      stderr: "ignore",
    }),
  );
  return {
    name: "Hypha, stdio embedded (hypha mcp --data)",
    client,
    ...hyphaTools(client),
    async close() {
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function reference(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "hypha-bench-reference-"));
  const file = join(dir, "memory.jsonl");
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(
    new StdioClientTransport({
      command: NODE,
      args: [REFERENCE],
      env: cleanEnv({ MEMORY_FILE_PATH: file }),
      stderr: "ignore",
    }),
  );
  return {
    name: "reference server-memory, stdio (JSONL file)",
    client,
    create: (i, tag) =>
      callTool(client, "create_entities", {
        entities: [{ name: `${tag}-${i}`, entityType: "fact", observations: [`bench fact number ${i}`] }],
      }),
    search: (query) => callTool(client, "search_nodes", { query }),
    async persisted(tag) {
      let text = "";
      try {
        text = readFileSync(file, "utf8");
      } catch {
        return 0;
      }
      return text
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { type: string; name?: string })
        .filter((e) => e.type === "entity" && e.name?.startsWith(`${tag}-`)).length;
    },
    async close() {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function measure(target: Target, opts: { concurrent: number; sequential: number }): Promise<Result> {
  // Lost writes: every create issued at once; each must be acknowledged and then be in the store.
  const settled = await Promise.allSettled(
    Array.from({ length: opts.concurrent }, (_, i) => target.create(i, "burst")),
  );
  const acknowledged = settled.filter((r) => r.status === "fulfilled").length;
  const persisted = await target.persisted("burst");

  // Latency: sequential calls after a warm-up.
  for (let i = 0; i < 10; i++) await target.create(i, "warmup");
  const store: number[] = [];
  for (let i = 0; i < opts.sequential; i++) store.push(await timed(() => target.create(i, "seq")));
  const search: number[] = [];
  for (let i = 0; i < opts.sequential; i++) search.push(await timed(() => target.search(`number ${i}`)));
  store.sort((a, b) => a - b);
  search.sort((a, b) => a - b);
  return {
    name: target.name,
    concurrent: opts.concurrent,
    acknowledged,
    persisted,
    storeP50: percentile(store, 50),
    storeP95: percentile(store, 95),
    searchP50: percentile(search, 50),
    searchP95: percentile(search, 95),
  };
}

export async function run(opts: { concurrent?: number; sequential?: number } = {}): Promise<Result[]> {
  const concurrent = opts.concurrent ?? 200;
  // One key carries the whole Hypha run, and a key's rate plan is at most 600 requests a minute.
  const sequential = opts.sequential ?? 150;
  const results: Result[] = [];
  for (const start of [hyphaHttp, hyphaStdio, reference]) {
    const target = await start();
    try {
      results.push(await measure(target, { concurrent, sequential }));
    } finally {
      await target.close();
    }
  }
  const ms = (n: number) => n.toFixed(2);
  const md = [
    "## MCP: Hypha vs the reference memory server",
    "",
    `Same workload, one run, each server driven by the MCP SDK's own client. Lost writes: ${concurrent} create calls`,
    "issued at once (`memory_store` / `create_entities` with one entity each), then the persisted items counted",
    "(Hypha: `memory_list`; reference: entity lines in its JSONL file). Latency: sequential calls after 10 warm-up",
    `stores, ${sequential} of each (store: \`memory_store\` / \`create_entities\`; search: \`memory_recall\` / \`search_nodes\`),`,
    `the search running over the ~${concurrent + 10 + sequential} items stored by then.`,
    "",
    "| server | acknowledged | persisted | lost | store p50 ms | store p95 ms | search p50 ms | search p95 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.acknowledged}/${r.concurrent} | ${r.persisted} | ${r.acknowledged - r.persisted} | ${ms(r.storeP50)} | ${ms(r.storeP95)} | ${ms(r.searchP50)} | ${ms(r.searchP95)} |`,
    ),
    "",
    "The reference server rewrites its whole JSONL file on every call (load, modify, write a temp file, rename),",
    "so concurrent calls read the same old graph and the last rename wins: acknowledged writes are lost. Hypha",
    "appends each memory in its own SQLite transaction. Hypha's latency includes what the reference does not do:",
    "an audit row and an authorization check per call, plus over HTTP authentication and the rate limit.",
  ].join("\n");
  writeSection("mcp", md);
  console.log(md);
  return results;
}

if (import.meta.main) await run();
