import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { startHypha, stopProcess } from "./serve-process.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const BIN = join(ROOT, "bin", "hypha.js");
const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? "",
  HOME: tmpdir(),
  ...extra,
});

function hypha(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(NODE, [BIN, ...args], { env: env(extra), encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `hypha serve` on a free port until `fn` is done. */
async function serving<T>(
  data: string,
  extra: Record<string, string>,
  fn: (url: string, out: string) => Promise<T>,
): Promise<T> {
  const p = startHypha(["serve", "--data", data, "--port", "0"], env(extra));
  try {
    const m = await p.ready;
    return await fn(m[1] ?? "", p.output());
  } finally {
    await stopProcess(p.child);
  }
}

const status = async (url: string, key: string) =>
  (await fetch(`${url}/v1/tenants`, { headers: { authorization: `Bearer ${key}` } })).status;

describe("the instance admin key on an existing data directory", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "hypha-admin-"));
    dirs.push(d);
    return join(d, "data");
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("a HYPHA_ADMIN_KEY that differs from the stored key stops the start; the stored key is untouched", async () => {
    const data = tmp();
    const first = await serving(data, {}, async (url, out) => {
      const key = /\n {2}(hya_[A-Za-z0-9_-]{43})\n/.exec(out)?.[1] ?? "";
      assert.equal(await status(url, key), 200);
      return key;
    });
    const hashFile = join(data, "secrets", "admin-key.sha256");
    const storedBefore = readFileSync(hashFile, "utf8");
    const r = hypha(["serve", "--data", data, "--port", "0"], {
      HYPHA_ADMIN_KEY: generateSecret(KEY_PREFIX.admin),
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^hypha: HYPHA_ADMIN_KEY differs from the admin key stored in .*admin-key reset/);
    assert.equal(readFileSync(hashFile, "utf8"), storedBefore, "the stored key is not replaced");
    await serving(data, {}, async (url) => assert.equal(await status(url, first), 200));
  });

  test("hypha admin-key reset replaces the stored key on purpose, audited in the instance chain", async () => {
    const data = tmp();
    const old = await serving(
      data,
      {},
      async (_url, out) => /\n {2}(hya_[A-Za-z0-9_-]{43})\n/.exec(out)?.[1] ?? "",
    );
    const replacement = generateSecret(KEY_PREFIX.admin);
    const reset = hypha(["admin-key", "reset", "--data", data], { HYPHA_ADMIN_KEY: replacement });
    assert.equal(reset.code, 0, reset.stderr);
    assert.doesNotMatch(reset.stdout, /hya_/, "a supplied key is never echoed");
    await serving(data, {}, async (url) => {
      assert.equal(await status(url, replacement), 200, "the new key works without the variable");
      assert.equal(await status(url, old), 401, "the old key no longer works");
      const events = (await (
        await fetch(`${url}/v1/audit/events?action=admin_key.replaced`, {
          headers: { authorization: `Bearer ${replacement}` },
        })
      ).json()) as { items: { action: string; actor: { type: string }; details: { source: string } }[] };
      assert.equal(events.items.length, 1);
      assert.equal(events.items[0]?.actor.type, "instance_admin");
      assert.equal(events.items[0]?.details.source, "HYPHA_ADMIN_KEY");
      const suspicious = (await (
        await fetch(`${url}/v1/audit/events?suspicious=true&action=admin_key.replaced`, {
          headers: { authorization: `Bearer ${replacement}` },
        })
      ).json()) as { items: unknown[] };
      assert.equal(suspicious.items.length, 1, "the replacement is a suspicious event");
    });
    // The same variable now matches the stored key: the server starts with it.
    await serving(data, { HYPHA_ADMIN_KEY: replacement }, async (url) =>
      assert.equal(await status(url, replacement), 200),
    );
  });

  test("without HYPHA_ADMIN_KEY, reset prints a new key once (the recovery path for a lost key)", async () => {
    const data = tmp();
    await serving(data, {}, async () => undefined);
    const reset = hypha(["admin-key", "reset", "--data", data]);
    assert.equal(reset.code, 0, reset.stderr);
    const key = /\n {2}(hya_[A-Za-z0-9_-]{43})\n/.exec(reset.stdout)?.[1];
    assert.ok(key, "the new key is printed");
    await serving(data, {}, async (url, out) => {
      assert.doesNotMatch(out, /hya_/, "serve prints no key: one is stored");
      assert.equal(await status(url, key), 200);
    });
  });

  test("a first start with HYPHA_ADMIN_KEY stores its hash, so later starts without the variable keep it", async () => {
    const data = tmp();
    const key = generateSecret(KEY_PREFIX.admin);
    await serving(data, { HYPHA_ADMIN_KEY: key }, async (url, out) => {
      assert.doesNotMatch(out, /hya_/);
      assert.equal(await status(url, key), 200);
    });
    await serving(data, {}, async (url) => assert.equal(await status(url, key), 200));
  });
});
