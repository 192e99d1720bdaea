/**
 * The framework packages as a user installs them: `npm pack` of @hypha/client, @hypha/ai-sdk,
 * @hypha/langchain and @hypha/openai-agents, installed into a scratch project beside the frameworks'
 * pinned versions, run on the machine's system Node against a live server.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createHyphaClient } from "../packages/client/src/index.ts";
import { startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";
import { ROOT } from "./mcp-helpers.ts";

const run = promisify(execFile);
const SYSTEM_NODE = "/usr/bin/node";
const PACKAGES = ["client", "ai-sdk", "langchain", "openai-agents"];
/** The frameworks at the versions the lockfile pins (the integration packages' peers). */
const PEERS = ["ai", "zod", "@langchain/core", "@openai/agents"];
const EXAMPLES = ["vercel-ai", "langchain", "openai-agents"];

/** Calls the forget tool of both tool packages under an approval policy, then again once approved. */
const APPROVAL_SCRIPT = `
import { createHyphaClient } from "@hypha/client";
import { hyphaTools as aiTools } from "@hypha/ai-sdk";
import { hyphaTools as agentTools } from "@hypha/openai-agents";
import { RunContext } from "@openai/agents";

const url = process.env.HYPHA_URL;
const key = process.env.HYPHA_KEY;
const approver = createHyphaClient({ url, key: process.env.HYPHA_APPROVER_KEY });
const client = createHyphaClient({ url, key });
const parse = (out) => (typeof out === "string" ? JSON.parse(out) : out);
const forgetters = {
  "ai-sdk": (c, id) => aiTools({ client: c }).forget.execute({ id }, { toolCallId: "t1", messages: [] }),
  "openai-agents": async (c, id) =>
    parse(await agentTools({ client: c })[2].invoke(new RunContext({}), JSON.stringify({ id }))),
};
for (const [name, forget] of Object.entries(forgetters)) {
  const { id } = await client.storeMemory({ namespace: "team", content: "Forget me after approval (" + name + ")" });
  const held = await forget(client, id);
  console.log(name + " held " + held.error.code + " " + held.error.approval_id);
  await approver.approveApproval(held.error.approval_id);
  const done = await forget(createHyphaClient({ url, key, approvalId: held.error.approval_id }), id);
  console.log(name + " after approval " + JSON.stringify(done));
  try {
    await client.getMemory(id);
    console.log(name + " still there");
  } catch (err) {
    console.log(name + " gone " + err.code);
  }
}
`;

describe("framework packages installed from npm pack on the system Node", () => {
  let s: TestServer;
  let scratch: string;
  let app: string;
  before(async () => {
    s = await startServer();
    scratch = mkdtempSync(join(tmpdir(), "hypha-frameworks-"));
    app = join(scratch, "app");
    mkdirSync(app);
    const tarballs: string[] = [];
    for (const name of PACKAGES) {
      const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", scratch], {
        cwd: join(ROOT, "packages", name),
        env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
      });
      const [{ filename, files }] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
      assert.ok(
        files.every((f) => f.path.startsWith("dist/") || f.path === "package.json" || f.path === "README.md"),
        `${name} packs its build only`,
      );
      tarballs.push(join(scratch, filename));
    }
    const pinned = PEERS.map((peer) => {
      const { version } = JSON.parse(
        readFileSync(join(ROOT, "node_modules", peer, "package.json"), "utf8"),
      ) as { version: string };
      return `${peer}@${version}`;
    });
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }),
    );
    // The peers come from the npm cache where the lockfile's install left them (the registry otherwise).
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs, ...pinned], {
      cwd: app,
      env: { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "" },
    });
    // The examples as a plain-JavaScript project has them: the same files with their types stripped.
    for (const name of EXAMPLES) {
      const source = readFileSync(join(ROOT, "examples/frameworks", `${name}.ts`), "utf8");
      writeFileSync(join(app, `${name}.mjs`), stripTypeScriptTypes(source));
    }
    writeFileSync(join(app, "approval.mjs"), APPROVAL_SCRIPT);
  });
  after(async () => {
    await s.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const onSystemNode = (file: string, env: Record<string, string>) =>
    run(SYSTEM_NODE, [file], { cwd: app, env: { PATH: "/usr/bin:/bin", HYPHA_URL: s.url, ...env } });

  test("it is the system Node, not the pinned one", async () => {
    const { stdout } = await run(SYSTEM_NODE, ["--version"]);
    assert.match(stdout, /^v(18|19|20|21)\./);
  });

  test("each framework example stores and recalls through its installed package", async () => {
    const vercel = await onSystemNode("vercel-ai.mjs", { HYPHA_KEY: (await s.seedTenant()).key });
    assert.match(vercel.stdout, /the model saw: .*<memory id=\\"mem_\w+\\"[^\n]*Lisbon/);
    const lc = await onSystemNode("langchain.mjs", { HYPHA_KEY: (await s.seedTenant()).key });
    assert.match(lc.stdout, /^document mem_\w+ score=[\d.]+: Standup is at 9:30 in room Kelp$/m);
    assert.match(lc.stdout, /^history: 2 messages$/m);
    const agents = await onSystemNode("openai-agents.mjs", { HYPHA_KEY: (await s.seedTenant()).key });
    assert.match(agents.stdout, /^agent: Noted\.$/m);
    assert.match(agents.stdout, /^stored: The on-call rota changes on Mondays$/m);
  });

  test("a forget held for approval answers the model APPROVAL_REQUIRED with its id, and runs once approved", async () => {
    const tenantId = await s.createTenant();
    const admin = createHyphaClient({ url: s.url, key: (await signedInUser(s, tenantId, ["ADMIN"])).token });
    await admin.putTenantPolicy(tenantId, { tiers: { deleteMemory: "high" }, approvals: { high: 1 } });
    const approver = (await signedInUser(s, tenantId, ["DEVELOPER"])).token;
    const { key } = await s.createKey(tenantId);
    const { stdout } = await onSystemNode("approval.mjs", { HYPHA_KEY: key, HYPHA_APPROVER_KEY: approver });
    for (const name of ["ai-sdk", "openai-agents"]) {
      assert.match(stdout, new RegExp(`^${name} held APPROVAL_REQUIRED apr_\\w+$`, "m"));
      assert.match(stdout, new RegExp(`^${name} after approval \\{"deleted":1\\}$`, "m"));
      assert.match(stdout, new RegExp(`^${name} gone NOT_FOUND$`, "m"));
    }
  });
});
