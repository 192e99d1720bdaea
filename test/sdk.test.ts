import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type OpenApiDocument, renderOperations } from "../packages/client/scripts/operations.ts";
import {
  ApprovalRequiredError,
  createHyphaClient,
  HyphaError,
  type StreamEvent,
  waitForApproval,
  withApproval,
} from "../packages/client/src/index.ts";
import { startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";
import { NODE, ROOT } from "./mcp-helpers.ts";

const run = promisify(execFile);
const PKG = join(ROOT, "packages/client");
const SYSTEM_NODE = "/usr/bin/node";

/** A local SSE endpoint: each connection is answered by the next handler, recording Last-Event-ID. */
async function sseServer(handlers: ((res: ServerResponse) => void)[]) {
  const seen: (string | undefined)[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push(req.headers["last-event-id"] as string | undefined);
    const next = handlers.shift();
    if (!next) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "NOT_FOUND", message: "gone", requestId: "req_x" } }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    next(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("@hypha/client package", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("src/operations.ts is what /openapi.json generates: the SDK's types and the API cannot drift", async () => {
    const doc = (await s.request("GET", "/openapi.json")).body as OpenApiDocument;
    const committed = readFileSync(join(PKG, "src/operations.ts"), "utf8");
    assert.equal(
      renderOperations(doc),
      committed,
      "regenerate with: npm run generate:operations -- <openapi.json>",
    );
  });

  test("the package compiles without Node's types (fetch only) and its build has no node: imports", async () => {
    await run(join(ROOT, "node_modules/.bin/tsc"), ["-p", join(PKG, "tsconfig.json"), "--noEmit"]);
    const dist = readdirSync(join(PKG, "dist"));
    assert.ok(dist.includes("index.js") && dist.includes("index.d.ts"), dist.join(","));
    for (const file of dist.filter((f) => f.endsWith(".js"))) {
      const text = readFileSync(join(PKG, "dist", file), "utf8");
      assert.doesNotMatch(text, /from ["']node:|require\(|\bprocess\.|\bBuffer\b/, file);
      assert.doesNotMatch(text, /\.ts["']/, `${file} imports .js, not .ts`);
    }
    const pkg = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8")) as {
      type: string;
      exports: { ".": { types: string; default: string } };
    };
    assert.equal(pkg.type, "module");
    assert.deepEqual(pkg.exports["."], { types: "./dist/index.d.ts", default: "./dist/index.js" });
  });

  test("a 202 approval_required surfaces as ApprovalRequiredError; withApproval waits and retries once", async () => {
    const tenantId = await s.createTenant();
    const admin = createHyphaClient({ url: s.url, key: (await signedInUser(s, tenantId, ["ADMIN"])).token });
    const dev = createHyphaClient({
      url: s.url,
      key: (await signedInUser(s, tenantId, ["DEVELOPER"])).token,
    });
    await admin.putTenantPolicy(tenantId, { tiers: { bulkDeleteMemories: "high" }, approvals: { high: 1 } });
    const { key } = await s.createKey(tenantId, { scopes: ["write"] });
    const options = { url: s.url, key, maxRetries: 0 };
    await createHyphaClient(options).storeMemory({
      namespace: "scratch",
      content: "to be deleted",
      entities: ["scratch"],
    });

    const waits: number[] = [];
    const held = await withApproval({ ...options, sleep: async (ms) => void waits.push(ms) }, (c) =>
      c.bulkDeleteMemories({ entity: "scratch" }),
    );
    assert.equal(held.status, "approval_required");
    if (held.status !== "approval_required") return;
    assert.equal(held.approval.status, "pending");
    await assert.rejects(
      waitForApproval(createHyphaClient(options), held.approval.id, {
        intervalMs: 10,
        timeoutMs: 25,
        sleep: async () => {},
      }),
      (e: unknown) => e instanceof HyphaError && e.code === "APPROVAL_TIMEOUT",
    );
    await dev.approveApproval(held.approval.id);
    assert.deepEqual(await held.waitAndRetry({ intervalMs: 10 }), { deleted: 1 });
    await assert.rejects(held.retry(), (e: unknown) => e instanceof HyphaError && e.status === 409);

    const refused = await withApproval(options, (c) => c.bulkDeleteMemories({ entity: "other" }));
    assert.equal(refused.status, "approval_required");
    if (refused.status !== "approval_required") return;
    await dev.rejectApproval(refused.approval.id);
    await assert.rejects(
      refused.waitAndRetry(),
      (e: unknown) => e instanceof HyphaError && e.code === "APPROVAL_REJECTED",
    );

    const open = await withApproval(options, (c) => c.listMemories());
    assert.equal(open.status, "done");
    const err = await createHyphaClient(options)
      .bulkDeleteMemories({ entity: "third" })
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApprovalRequiredError && err.code === "APPROVAL_REQUIRED" && err.status === 202);
    // A streaming operation held by the default policy (exports) throws too, rather than yielding the 202.
    const exported = await (async () => {
      for await (const _ of createHyphaClient(options).exportMemories())
        assert.fail("no memory before approval");
    })().catch((e: unknown) => e);
    assert.ok(exported instanceof ApprovalRequiredError, String(exported));
    assert.equal(exported.approval.operation, "exportMemories");
  });

  test("a dropped event stream is reopened with Last-Event-ID after the server's retry delay", async () => {
    const sse = await sseServer([
      (res) => {
        res.write('retry: 1234\n\nid: 1\nevent: memory.created\ndata: {"n":1}\n\n');
        res.end('id: 2\nevent: memory.created\ndata: {"n":2}\n\n');
      },
      (res) => {
        res.write('id: 3\r\nevent: memory.deleted\r\ndata: {"n":3}\r\n\r\n');
        res.end();
      },
    ]);
    try {
      const waits: number[] = [];
      const c = createHyphaClient({ url: sse.url, key: "k", sleep: async (ms) => void waits.push(ms) });
      const events: StreamEvent[] = [];
      await assert.rejects(
        (async () => {
          for await (const e of c.streamTenantEvents("t_1", { lastEventId: "0", maxReconnects: 2 }))
            events.push(e);
        })(),
        (e: unknown) => e instanceof HyphaError && e.code === "NOT_FOUND",
        "an answer (404) ends the stream: only dropped connections are retried",
      );
      assert.deepEqual(
        events.map((e) => [e.id, e.event, e.data.n]),
        [
          ["1", "memory.created", 1],
          ["2", "memory.created", 2],
          ["3", "memory.deleted", 3],
        ],
      );
      assert.deepEqual(sse.seen, ["0", "2", "3"]);
      assert.deepEqual(waits, [1234, 1234]);
    } finally {
      await sse.close();
    }
  });

  test("npm pack installs into a scratch project and works on the system Node: store, recall, approval, stream", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "hypha-sdk-"));
    try {
      const { stdout: packed } = await run("npm", ["pack", "--json", "--pack-destination", scratch], {
        cwd: PKG,
        env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
      });
      const [{ filename, files }] = JSON.parse(packed) as [{ filename: string; files: { path: string }[] }];
      assert.ok(
        files.every((f) => f.path.startsWith("dist/") || f.path === "package.json" || f.path === "README.md"),
      );
      const app = join(scratch, "app");
      mkdirSync(app);
      writeFileSync(
        join(app, "package.json"),
        JSON.stringify({ name: "scratch", private: true, type: "module" }),
      );
      await run("npm", ["install", "--no-audit", "--no-fund", "--offline", join(scratch, filename)], {
        cwd: app,
        env: { PATH: `/usr/bin:/bin`, HOME: process.env.HOME ?? "" },
      });
      copyFileSync(join(ROOT, "examples/sdk/quickstart.mjs"), join(app, "quickstart.mjs"));

      const tenantId = await s.createTenant();
      const admin = createHyphaClient({
        url: s.url,
        key: (await signedInUser(s, tenantId, ["ADMIN"])).token,
      });
      await admin.putTenantPolicy(tenantId, {
        tiers: { bulkDeleteMemories: "high" },
        approvals: { high: 1 },
      });
      const approver = (await signedInUser(s, tenantId, ["DEVELOPER"])).token;
      const { key } = await s.createKey(tenantId);
      const { stdout: version } = await run(SYSTEM_NODE, ["--version"]);
      assert.match(version, /^v(18|19|20|21|22)\./, "the system Node, not the pinned one");
      const { stdout } = await run(SYSTEM_NODE, ["quickstart.mjs"], {
        cwd: app,
        env: {
          PATH: "/usr/bin:/bin",
          HYPHA_URL: s.url,
          HYPHA_KEY: key,
          HYPHA_APPROVER_KEY: approver,
          HYPHA_ADMIN_KEY: s.adminKey,
          HYPHA_TENANT_ID: tenantId,
        },
      });
      assert.match(stdout, /^stored mem_/m);
      assert.match(stdout, /^recalled mem_\w+ score=/m);
      assert.match(stdout, /<memory id="mem_/);
      assert.match(stdout, /^error NOT_FOUND 404$/m);
      assert.match(stdout, /^approval apr_\w+ pending$/m);
      assert.match(stdout, /^deleted 1 after approval$/m);
      assert.match(stdout, /^stream .*memory\./m);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("the quickstart example runs against a server from the repository (workspace link)", async () => {
    const { key } = await s.seedTenant();
    const { stdout } = await run(NODE, ["examples/sdk/quickstart.mjs"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HYPHA_URL: s.url, HYPHA_KEY: key },
    });
    assert.match(stdout, /^stored mem_/m);
    assert.match(stdout, /^deleted 1 without approval$/m);
  });
});
