import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const BIN = join(ROOT, "bin", "hypha.js");
const KEY_A = "m1tq7Bd0bXUJ0iS1Z8sH2qv4Tn9rWcGxYfLk3pEoA5E=";
const KEY_B = "Qe4Zr8Tn1WcYx0Lb2Vd6Hs9Jp3Mk7Gf5Na8Ru0Xo1Ak=";

type Run = { code: number | null; stdout: string; stderr: string };

function hypha(args: string[], env: Record<string, string> = {}, as?: { uid: number; gid: number }): Run {
  const r = spawnSync(NODE, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: tmpdir(), ...env },
    encoding: "utf8",
    timeout: 30_000,
    cwd: tmpdir(),
    ...(as ?? {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2 and exactly one `hypha:` line on stderr matching every pattern, with no stack trace. */
function assertOneLine(r: Run, ...patterns: RegExp[]): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, /^hypha: [^\n]+\n$/, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, "no stack trace");
  for (const p of patterns) assert.match(r.stderr, p);
}

describe("start-up failures: one hypha: line naming the setting and the fix, exit 2", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "hypha-start-"));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("a config file that is not valid JSON is named, with HYPHA_CONFIG", () => {
    const file = join(tmp(), "hypha.json");
    writeFileSync(file, '{"port": 7411,}');
    const r = hypha(["serve", "--data", join(tmp(), "data")], { HYPHA_CONFIG: file });
    assertOneLine(
      r,
      new RegExp(`config file ${file.replace(/[.]/g, "\\.")} \\(HYPHA_CONFIG\\) is not valid JSON`),
    );
  });

  test("a config file that is not valid YAML is named, with HYPHA_CONFIG", () => {
    const file = join(tmp(), "hypha.yaml");
    writeFileSync(file, "port: [7411\nhost: 127.0.0.1\n");
    const r = hypha(["serve", "--data", join(tmp(), "data")], { HYPHA_CONFIG: file });
    assertOneLine(r, /hypha\.yaml \(HYPHA_CONFIG\) is not valid YAML/, /fix the file/);
  });

  test("a port in use stops the start before anything is created or printed", async () => {
    const holder: Server = createServer();
    await new Promise<void>((res) => holder.listen({ host: "127.0.0.1", port: 0 }, res));
    const port = (holder.address() as { port: number }).port;
    try {
      const data = join(tmp(), "data");
      const r = hypha(["serve", "--data", data, "--port", String(port)]);
      assertOneLine(
        r,
        new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use \\(HYPHA_PORT or --port\\)`),
      );
      assert.doesNotMatch(r.stdout, /hya_/, "no admin key printed");
      assert.equal(existsSync(data), false, "no data directory, no admin key hash created");
    } finally {
      holder.close();
    }
  });

  test("a read-only data directory is named, with HYPHA_DATA_DIR", () => {
    const parent = tmp();
    const data = join(parent, "data");
    // Root writes anywhere: run the CLI as an unprivileged user then, on a directory that stays root's.
    const as = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    if (as) {
      chmodSync(parent, 0o755);
      mkdirSync(data, { mode: 0o755 });
    } else {
      chmodSync(parent, 0o555);
    }
    const r = hypha(["serve", "--data", data, "--port", "0"], {}, as);
    if (!as) chmodSync(parent, 0o700);
    assertOneLine(
      r,
      /data directory \(HYPHA_DATA_DIR or --data\) .* is not writable \((EACCES|EPERM)\)/,
      /write access/,
    );
  });

  test("a data directory that cannot be created (its parent is a file) is named, with HYPHA_DATA_DIR", () => {
    const file = join(tmp(), "not-a-dir");
    writeFileSync(file, "");
    const r = hypha(["serve", "--data", join(file, "data"), "--port", "0"]);
    assertOneLine(r, /data directory \(HYPHA_DATA_DIR or --data\) .* cannot be created \(ENOTDIR/);
  });

  test("a wrong master key names HYPHA_MASTER_KEY and says what to check", () => {
    const data = join(tmp(), "data");
    const made = hypha(["tenant", "create", "acme", "--data", data], { HYPHA_MASTER_KEY: KEY_A });
    assert.equal(made.code, 0, made.stderr);
    const r = hypha(["serve", "--data", data, "--port", "0"], { HYPHA_MASTER_KEY: KEY_B });
    assertOneLine(
      r,
      /master key from HYPHA_MASTER_KEY does not unwrap/,
      /the key this data directory was created with/,
    );
  });

  test("a missing master key (data exists, key file gone) names the settings to set", () => {
    const data = join(tmp(), "data");
    assert.equal(hypha(["tenant", "create", "acme", "--data", data]).code, 0);
    rmSync(join(data, "secrets", "master.key"));
    const r = hypha(["serve", "--data", data, "--port", "0"]);
    assertOneLine(r, /master key MISSING/, /set HYPHA_MASTER_KEY .* or HYPHA_MASTER_KEY_FILE/);
  });

  test("a malformed master key names HYPHA_MASTER_KEY and its format", () => {
    const r = hypha(["serve", "--data", join(tmp(), "data"), "--port", "0"], {
      HYPHA_MASTER_KEY: "not base64 at all!",
    });
    assertOneLine(r, /master key MALFORMED: HYPHA_MASTER_KEY/, /openssl rand -base64 32/);
  });
});
