import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type Model, main } from "../examples/agent-loop.ts";
import { startServer, type TestServer } from "./harness.ts";
import { NODE, ROOT } from "./mcp-helpers.ts";

const run = promisify(execFile);

describe("examples", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("agent loop: recalls before the model call, stores after it, and remembers across turns", async () => {
    const { key } = await s.seedTenant();
    const prompts: string[] = [];
    const spy: Model = async (p) => {
      prompts.push(p.system);
      const { standInModel } = await import("../examples/agent-loop.ts");
      return standInModel(p);
    };
    const turns = await main({ url: s.url, key, model: spy });

    assert.equal(turns.length, 3);
    assert.deepEqual(turns[0]?.recalled, [], "nothing known before the first statement");
    assert.equal(turns[0]?.reply, "I don't know that yet.");
    assert.equal(turns[0]?.stored, null, "questions are not stored");

    assert.match(turns[1]?.stored ?? "", /^mem_/);
    const stored = await s.request("GET", `/v1/memories/${turns[1]?.stored}`, { key });
    assert.match((stored.body as { content: string }).content, /Lisbon/);

    assert.match(turns[2]?.recalled[0] ?? "", /Lisbon/);
    assert.match(turns[2]?.reply ?? "", /^From memory: .*Lisbon/);
    assert.match(prompts[2] ?? "", /<memory id="mem_/, "the context block reached the model's prompt");
  });

  test("agent loop runs as a script against a server (HYPHA_URL, HYPHA_KEY)", async () => {
    const { key } = await s.seedTenant();
    const { stdout } = await run(NODE, ["examples/agent-loop.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HYPHA_URL: s.url, HYPHA_KEY: key },
    });
    assert.match(stdout, /agent: From memory: The team offsite this year is in Lisbon/);
  });

  test("npm run example:agent-loop runs the example on the pinned Node, whatever node is first on PATH", async () => {
    const { key } = await s.seedTenant();
    const { stdout } = await run("npm", ["run", "-s", "example:agent-loop"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HYPHA_URL: s.url, HYPHA_KEY: key },
    });
    assert.match(stdout, /agent: From memory: The team offsite this year is in Lisbon/);
  });

  test("framework examples run against a live server (Vercel AI SDK, LangChain.js, OpenAI Agents, Python)", async () => {
    const env = (key: string) => ({ PATH: process.env.PATH ?? "", HYPHA_URL: s.url, HYPHA_KEY: key });
    const vercel = await run(NODE, ["examples/frameworks/vercel-ai.ts"], {
      cwd: ROOT,
      env: env((await s.seedTenant()).key),
    });
    assert.match(vercel.stdout, /the model saw: .*<memory id=\\"mem_\w+\\"[^\n]*Lisbon/);
    const lc = await run(NODE, ["examples/frameworks/langchain.ts"], {
      cwd: ROOT,
      env: env((await s.seedTenant()).key),
    });
    assert.match(lc.stdout, /^document mem_\w+ score=[\d.]+: Standup is at 9:30 in room Kelp$/m);
    assert.match(lc.stdout, /^history: 2 messages$/m);
    const agents = await run(NODE, ["examples/frameworks/openai-agents.ts"], {
      cwd: ROOT,
      env: env((await s.seedTenant()).key),
    });
    assert.match(agents.stdout, /^agent: Noted\.$/m);
    assert.match(agents.stdout, /^stored: The on-call rota changes on Mondays$/m);
    const py = await run("python3", ["examples/frameworks/python_client.py"], {
      cwd: ROOT,
      env: {
        ...env((await s.seedTenant()).key),
        PYTHONPATH: join(ROOT, "clients/python"),
        PYTHONDONTWRITEBYTECODE: "1",
      },
    });
    assert.match(py.stdout, /^stored mem_\w+\nrecalled Ana prefers metric units\nerror NOT_FOUND 404$/m);
  });

  test("MCP configuration snippets are valid JSON naming the /mcp endpoint or the hypha mcp command", () => {
    const dir = join(ROOT, "examples/mcp");
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    assert.deepEqual(files.sort(), ["claude-desktop.json", "cursor.json", "vscode.json"]);
    for (const file of files) {
      const text = readFileSync(join(dir, file), "utf8");
      const config = JSON.parse(text) as { mcpServers?: object; servers?: object };
      assert.ok(config.mcpServers ?? config.servers, file);
      assert.ok(text.includes("/mcp") || /"hypha", "mcp"/.test(text), file);
    }
  });
});
