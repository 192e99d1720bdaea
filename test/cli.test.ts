import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { startHypha, stopProcess } from "./serve-process.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NODE = process.execPath;
const BIN = join(ROOT, "bin", "hypha.js");

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, ...extra };
}

function hypha(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(NODE, [BIN, ...args], { env: baseEnv(env), encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `hypha serve` on a free port; `ready` resolves once it logs its address. */
function serve(dataDir: string, env: Record<string, string> = {}) {
  const p = startHypha(["serve", "--data", dataDir, "--port", "0"], baseEnv(env));
  return { child: p.child, ready: p.ready.then((m) => ({ url: m[1] ?? "", out: p.output })) };
}

describe("hypha CLI", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "hypha-cli-"));
    dirs.push(d);
    return join(d, "data");
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("serve creates the data directory (0700) and secret files (0600), and prints the admin key once", async () => {
    const data = tmp();
    const first = serve(data);
    const { url, out } = await first.ready;
    const key = /\n {2}(hya_[A-Za-z0-9_-]{43})\n/.exec(out())?.[1];
    assert.ok(key, "the admin key is printed");
    assert.equal(statSync(data).mode & 0o777, 0o700);
    assert.equal(statSync(join(data, "secrets")).mode & 0o777, 0o700);
    assert.equal(statSync(join(data, "secrets", "admin-key.sha256")).mode & 0o777, 0o600);
    assert.equal(statSync(join(data, "control.db")).mode & 0o777, 0o600);
    const res = await fetch(`${url}/v1/tenants`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    await stopProcess(first.child);
    const second = serve(data);
    const again = await second.ready;
    assert.ok(!again.out().includes("hya_"), "the key is not printed again");
    const still = await fetch(`${again.url}/v1/tenants`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(still.status, 200, "the key survives a restart");
    await stopProcess(second.child);
  });

  test("hypha --version prints the package version and exits 0", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const r = hypha([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), pkg.version);
    }
  });

  test("serve binds to loopback by default", async () => {
    const s = serve(tmp());
    const { url } = await s.ready;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    await stopProcess(s.child);
  });

  test("a weak HYPHA_ADMIN_KEY or a bad setting stops start-up with a message that says what is wrong", () => {
    const weak = hypha(["serve", "--data", tmp()], {
      HYPHA_ADMIN_KEY: "changeme-changeme-changeme-changeme",
    });
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /HYPHA_ADMIN_KEY.*too weak/);
    const port = hypha(["serve", "--data", tmp()], { HYPHA_PORT: "seventy" });
    assert.equal(port.code, 2);
    assert.match(port.stderr, /port \(HYPHA_PORT\)/);
    const level = hypha(["doctor", "--data", tmp()], { HYPHA_LOG_LEVEL: "loud" });
    assert.equal(level.code, 1);
    assert.match(level.stdout, /logLevel/);
  });

  // Spawns the CLI about twenty times (a Node start each): its own bound, above the suite default.
  test("tenant, key and memory commands work end to end", { timeout: 300_000 }, async () => {
    const data = tmp();
    const adminKey = generateSecret(KEY_PREFIX.admin);
    const tenant = hypha(["tenant", "create", "cli-co", "--data", data], { HYPHA_ADMIN_KEY: adminKey });
    assert.equal(tenant.code, 0, tenant.stderr);
    const tenantId = (JSON.parse(tenant.stdout) as { id: string }).id;
    const list = hypha(["tenant", "list", "--data", data]);
    assert.ok(list.stdout.includes(tenantId));
    const created = hypha([
      "key",
      "create",
      "--tenant",
      tenantId,
      "--agent",
      "cli-agent",
      "--scopes",
      "memories:read,memories:write",
      "--data",
      data,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const { key, id: keyId } = JSON.parse(created.stdout) as { key: string; id: string };
    assert.ok(!hypha(["key", "list", "--tenant", tenantId, "--data", data]).stdout.includes(key));

    const s = serve(data, { HYPHA_ADMIN_KEY: adminKey });
    const { url } = await s.ready;
    try {
      const stored = hypha([
        "memory",
        "store",
        "CLI memories reach the vault",
        "--namespace",
        "cli",
        "--url",
        url,
        "--key",
        key,
      ]);
      assert.equal(stored.code, 0, stored.stderr);
      const recalled = hypha(["memory", "recall", "vault memories", "--url", url], { HYPHA_KEY: key });
      assert.equal(recalled.code, 0, recalled.stderr);
      assert.ok(
        (JSON.parse(recalled.stdout) as { context: string }).context.includes("CLI memories reach the vault"),
      );
      const exported = hypha(["memory", "export", "--url", url, "--key", key]);
      assert.equal(exported.stdout.trim().split("\n").length, 1);
      const revoked = hypha(["key", "revoke", keyId, "--tenant", tenantId, "--data", data]);
      assert.equal(revoked.code, 0, revoked.stderr);
      const denied = hypha(["memory", "export", "--url", url, "--key", key]);
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /CREDENTIALS_REVOKED/);
    } finally {
      await stopProcess(s.child);
    }
  });

  test("doctor checks the data directory, its permissions and the configuration", async () => {
    const data = tmp();
    const missing = hypha(["doctor", "--data", data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /FAIL .*missing/);
    const s = serve(data);
    await s.ready;
    await stopProcess(s.child);
    const ok = hypha(["doctor", "--data", data]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /ok +control database answers/);
  });
});
