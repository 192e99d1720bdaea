import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";

const ROOT = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "hypha-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function hypha(...args: string[]) {
  const r = spawnSync("./node_modules/.bin/node", ["bin/hypha.js", ...args, "--data", join(dir, "data")], {
    cwd: ROOT,
    env: { ...process.env, HYPHA_ADMIN_KEY: generateSecret(KEY_PREFIX.admin) },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test("hypha connector create|list|health|delete manage a tenant's connectors and never print the secret", () => {
  const tenant = hypha("tenant", "create", "cli").id as string;
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, "cli-secret-value-0123456789\n");
  const created = hypha(
    "connector",
    "create",
    "--tenant",
    tenant,
    "--name",
    "gh",
    "--source",
    "github",
    "--namespace",
    "github",
    "--secret-file",
    secretFile,
  );
  assert.equal(created.secret_configured, true);
  assert.ok(!JSON.stringify(created).includes("cli-secret-value"));
  const id = created.id as string;
  const listed = hypha("connector", "list", "--tenant", tenant);
  assert.deepEqual(
    (listed.items as { id: string }[]).map((c) => c.id),
    [id],
  );
  const health = hypha("connector", "health", id, "--tenant", tenant);
  assert.equal(health.signature_failures, 0);
  assert.equal(health.dead_letters_pending, 0);
  hypha("connector", "delete", id, "--tenant", tenant);
  assert.deepEqual(hypha("connector", "list", "--tenant", tenant).items, []);
});
