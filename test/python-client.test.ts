import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type OpenApiDocument, renderPythonOperations } from "../packages/client/scripts/operations.ts";
import { createHyphaClient } from "../src/client/index.ts";
import { startServer, type TestServer } from "./harness.ts";
import { signedInUser } from "./identity-helpers.ts";
import { ROOT } from "./mcp-helpers.ts";

const run = promisify(execFile);
const PY = join(ROOT, "clients/python");

describe("Python client", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test("operations.py is what /openapi.json generates", async () => {
    const doc = (await s.request("GET", "/openapi.json")).body as OpenApiDocument;
    assert.equal(renderPythonOperations(doc), readFileSync(join(PY, "hypha_client/operations.py"), "utf8"));
  });

  test("python3 -m unittest passes against the live server", async () => {
    const tenantId = await s.createTenant();
    const admin = createHyphaClient({ url: s.url, key: (await signedInUser(s, tenantId, ["ADMIN"])).token });
    await admin.putTenantPolicy(tenantId, { tiers: { bulkDeleteMemories: "high" }, approvals: { high: 1 } });
    const approver = (await signedInUser(s, tenantId, ["DEVELOPER"])).token;
    const { key } = await s.createKey(tenantId);
    const { stderr } = await run("python3", ["-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"], {
      cwd: PY,
      env: {
        PATH: process.env.PATH ?? "",
        PYTHONDONTWRITEBYTECODE: "1",
        HYPHA_URL: s.url,
        HYPHA_KEY: key,
        HYPHA_APPROVER_KEY: approver,
        HYPHA_ADMIN_KEY: s.adminKey,
        HYPHA_TENANT_ID: tenantId,
      },
    });
    assert.match(stderr, /Ran 7 tests/);
    assert.match(stderr, /\nOK\n/);
    assert.doesNotMatch(stderr, /skipped/);
  });
});
