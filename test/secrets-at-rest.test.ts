import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";
import { TEST_DATABASE_URL } from "./pg.ts";
import { startHypha, stopProcess } from "./serve-process.ts";

/** Cases that read the SQLite files; on PostgreSQL the rows are not in the data directory. */
const sqliteFiles = { skip: TEST_DATABASE_URL ? "reads the SQLite files directly" : false };

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Every file under `dir` (databases, their -wal and -shm files, secrets, vault mirrors), by path. */
function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!d.isFile()) continue;
    const path = join(d.parentPath, d.name);
    out.set(relative(dir, path), readFileSync(path));
  }
  return out;
}

/** The files (relative paths) whose bytes hold `needle`. */
function holding(files: Map<string, Buffer>, needle: string): string[] {
  return [...files].filter(([, bytes]) => bytes.includes(needle)).map(([path]) => path);
}

/**
 * A secret is absent from `files` in every form it could be written in: whole, hex or base64, and
 * as any 13 characters of it in a row (the stored start is the first 12, so no piece longer than
 * the start may be kept anywhere).
 */
function assertAbsent(files: Map<string, Buffer>, secret: string, what: string): void {
  const forms = [
    secret,
    Buffer.from(secret).toString("hex"),
    Buffer.from(secret).toString("base64"),
    ...Array.from({ length: secret.length - 12 }, (_, i) => secret.slice(i, i + 13)),
  ];
  for (const form of forms) {
    assert.deepEqual(holding(files, form), [], `${what}: "${form}" is in the data directory`);
  }
}

const inControl = (path: string) => path.startsWith("control.db");
const inVault = (tenantId: string) => (path: string) => path.startsWith(join("vaults", tenantId));

describe("secrets at rest", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test(
    "an agent key is kept as its SHA-256 and its 12-character start only: no file of the data directory holds the key (encrypted, plaintext and markdown tenants, -wal files included)",
    sqliteFiles,
    async () => {
      const keys: { tenantId: string; key: string; what: string }[] = [];
      for (const body of [
        { encryption: "aes-gcm" },
        { encryption: "none" },
        { encryption: "none", storage: "markdown" },
      ]) {
        const res = await s.request("POST", "/v1/tenants", {
          body: { name: `k${Math.random()}`.replace(".", ""), ...body },
        });
        assert.equal(res.status, 201, res.text);
        const tenantId = (res.body as { id: string }).id;
        const what = JSON.stringify(body);
        // One key made by the instance admin, one by an admin key, one by rotating a key (an admin
        // key: a key grants no more than it holds, and these keys read and write memories).
        const admin = await s.createKey(tenantId, { scopes: ["admin"] });
        const agent = await s.createKey(tenantId);
        const made = await s.request("POST", `/v1/tenants/${tenantId}/keys`, {
          key: admin.key,
          body: { agent: "worker", scopes: ["memories:read", "memories:write"] },
        });
        assert.equal(made.status, 201, made.text);
        const rotated = await s.request("POST", `/v1/tenants/${tenantId}/keys/${agent.id}/rotate`, {
          key: admin.key,
          body: {},
        });
        assert.equal(rotated.status, 201, rotated.text);
        const worker = (made.body as { key: string }).key;
        const next = (rotated.body as { key: string }).key;
        // Requests with each key (last_used_at is written, a memory stored, recalled and listed).
        for (const [i, key] of [worker, next, agent.key].entries()) {
          await s.storeMemory(key, { content: `a note about herons, number ${i}` });
          const recall = await s.request("POST", "/v1/memories/recall", { key, body: { query: "herons" } });
          assert.equal(recall.status, 200, recall.text);
          assert.equal((await s.request("GET", "/v1/memories", { key })).status, 200);
        }
        assert.equal(
          (await s.request("GET", `/v1/tenants/${tenantId}/keys`, { key: admin.key })).status,
          200,
        );
        for (const key of [admin.key, agent.key, worker, next]) keys.push({ tenantId, key, what });
      }

      const files = filesUnder(s.dataDir);
      const names = [...files.keys()];
      assert.ok(names.includes("control.db"), names.join(", "));
      assert.ok(
        names.some((n) => n.endsWith("-wal")),
        `the -wal files are read too: ${names.join(", ")}`,
      );
      for (const { tenantId, key, what } of keys) {
        assert.ok(names.some(inVault(tenantId)), `${what}: the tenant's vault files were read`);
        assertAbsent(files, key, `${what} key ${key.slice(0, 12)}`);
        // What is kept instead: the hash in the control index and in the tenant's vault, the start beside it.
        const hash = holding(files, sha256(key));
        assert.ok(hash.some(inControl), `${what}: the key's SHA-256 is in control.db (${hash.join(", ")})`);
        assert.ok(
          hash.some(inVault(tenantId)),
          `${what}: the key's SHA-256 is in its vault (${hash.join(", ")})`,
        );
        assert.ok(holding(files, key.slice(0, 12)).some(inVault(tenantId)), `${what}: the start is kept`);
      }
      assertAbsent(files, s.adminKey, "the instance admin key");
    },
  );
});

describe("the instance admin key at rest (hypha serve)", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("the admin key printed at the first start is kept only as secrets/admin-key.sha256 (its SHA-256); no file of the data directory holds it or an agent key", async () => {
    const root = mkdtempSync(join(tmpdir(), "hypha-at-rest-"));
    dirs.push(root);
    const data = join(root, "data");
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, HYPHA_OVERLOAD_EVENT_LOOP_DELAY_MS: "0" };
    const p = startHypha(["serve", "--data", data, "--port", "0"], env);
    const url = (await p.ready)[1] ?? "";
    const adminKey = /\n {2}(hya_[A-Za-z0-9_-]{43})\n/.exec(p.output())?.[1];
    assert.ok(adminKey, "the admin key is printed");
    const as = async (key: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const agentKeys: string[] = [];
    for (const encryption of ["aes-gcm", "none"]) {
      const tenant = await as(adminKey, "POST", "/v1/tenants", { name: `at-rest-${encryption}`, encryption });
      assert.equal(tenant.status, 201);
      const made = await as(adminKey, "POST", `/v1/tenants/${tenant.body.id}/keys`, {
        agent: "a",
        scopes: ["memories:read", "memories:write"],
      });
      assert.equal(made.status, 201);
      const key = String(made.body.key);
      agentKeys.push(key);
      const stored = await as(key, "POST", "/v1/memories", { namespace: "n", content: "kingfishers dive" });
      assert.equal(stored.status, 201);
      assert.equal((await as(key, "POST", "/v1/memories/recall", { query: "kingfishers" })).status, 200);
    }

    const check = (when: string) => {
      const files = filesUnder(data);
      assert.equal(
        readFileSync(join(data, "secrets", "admin-key.sha256"), "utf8"),
        `${sha256(adminKey)}\n`,
        `${when}: the file holds the key's SHA-256 and nothing else`,
      );
      assert.deepEqual(holding(files, sha256(adminKey)), [join("secrets", "admin-key.sha256")], when);
      assertAbsent(files, adminKey, `${when}: the admin key`);
      for (const key of agentKeys) assertAbsent(files, key, `${when}: agent key ${key.slice(0, 12)}`);
    };
    check("while serving");
    await stopProcess(p.child);
    check("after a clean stop");
  });
});
