import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import * as tar from "tar";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { ROOT, serveProcess } from "./serve-process.ts";

const dir = mkdtempSync(join(tmpdir(), "hypha-backup-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const PASSPHRASE = "correct horse battery staple 7Qx!";

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((ok) => {
    const child = spawn("./node_modules/.bin/node", ["bin/hypha.js", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("exit", (code) => ok({ code, stdout, stderr }));
  });
}

async function call(url: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test("backup while ten writers run: the restore holds every write acknowledged before the backup started and every audit chain verifies", async () => {
  const dataDir = join(dir, "live");
  const admin = generateSecret(KEY_PREFIX.admin);
  let served = await serveProcess({ HYPHA_DATA_DIR: dataDir, HYPHA_ADMIN_KEY: admin });
  const tenants: { id: string; key: string }[] = [];
  for (const name of ["alpha", "beta"]) {
    const id = (await call(served.url, admin, "POST", "/v1/tenants", { name })).body.id as string;
    const key = (
      await call(served.url, admin, "POST", `/v1/tenants/${id}/keys`, {
        agent: "writer",
        scopes: ["memories:read", "memories:write"],
      })
    ).body.key as string;
    assert.ok(key, "key created");
    tenants.push({ id, key });
  }

  const acknowledged: { tenant: number; id: string }[] = [];
  let stop = false;
  const writer = async (w: number) => {
    const t = w % tenants.length;
    for (let i = 0; !stop; i++) {
      const res = await call(served.url, tenants[t]?.key ?? "", "POST", "/v1/memories", {
        namespace: "backup",
        content: `writer ${w} entry ${i}: the deploy window moved to Thursday`,
      });
      if (res.status === 201) acknowledged.push({ tenant: t, id: res.body.id as string });
    }
  };
  const writers = Array.from({ length: 10 }, (_, w) => writer(w));
  const deadline = Date.now() + 30_000;
  while (acknowledged.length < 50) {
    assert.ok(Date.now() < deadline, "writers acknowledge writes");
    await new Promise((ok) => setTimeout(ok, 20));
  }

  const archive = join(dir, "live.tar.gz");
  const before = [...acknowledged];
  const backup = await cli(["backup", "--data", dataDir, "--out", archive, "--include-keys"], {
    HYPHA_BACKUP_PASSPHRASE: PASSPHRASE,
  });
  const during = acknowledged.length - before.length;
  stop = true;
  await Promise.all(writers);
  served.child.kill("SIGTERM");
  await served.exited;
  assert.equal(backup.code, 0, backup.stderr);
  assert.ok(during > 0, "writes were acknowledged while the backup ran");
  const summary = JSON.parse(backup.stdout) as { databases: number; keys_included: boolean };
  assert.equal(summary.databases, 3);
  assert.equal(summary.keys_included, true);
  // The keys travel sealed: no plain secrets/ entry, and the passphrase is nowhere in the archive.
  const entries: string[] = [];
  await tar.t({ file: archive, onReadEntry: (e) => entries.push(e.path) });
  assert.ok(entries.includes("secrets.sealed"));
  assert.ok(!entries.some((e) => e.includes("secrets/")), entries.join(","));

  const restored = join(dir, "restored");
  const r = await cli(["restore", "--in", archive, "--data", restored], {
    HYPHA_BACKUP_PASSPHRASE: PASSPHRASE,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { keys_restored: boolean }).keys_restored, true);

  served = await serveProcess({ HYPHA_DATA_DIR: restored, HYPHA_ADMIN_KEY: admin });
  try {
    for (const { tenant, id } of before) {
      const res = await call(served.url, tenants[tenant]?.key ?? "", "GET", `/v1/memories/${id}`);
      assert.equal(res.status, 200, `write ${id}, acknowledged before the backup, is missing`);
    }
    for (const q of ["", ...tenants.map((t) => `?tenant_id=${t.id}`)]) {
      const v = await call(served.url, admin, "GET", `/v1/audit/verify${q}`);
      assert.equal(v.body.ok, true, `chain ${q || "instance"}: ${JSON.stringify(v.body)}`);
    }
    process.stdout.write(`# acknowledged before ${before.length}, during the backup ${during}\n`);
  } finally {
    served.child.kill("SIGKILL");
  }
  const offline = spawnSync(
    "./node_modules/.bin/node",
    ["bin/hypha.js", "audit", "verify", "--data", restored],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HYPHA_ADMIN_KEY: admin },
      encoding: "utf8",
    },
  );
  assert.equal(offline.status, 0, offline.stdout + offline.stderr);
});

test("restore refuses a tampered archive, a wrong passphrase and a non-empty directory; a backup without --include-keys holds no key", async () => {
  const dataDir = join(dir, "small");
  const admin = generateSecret(KEY_PREFIX.admin);
  const served = await serveProcess({ HYPHA_DATA_DIR: dataDir, HYPHA_ADMIN_KEY: admin });
  await call(served.url, admin, "POST", "/v1/tenants", { name: "small" });
  const plain = join(dir, "plain.tar.gz");
  const b = await cli(["backup", "--data", dataDir, "--out", plain]);
  served.child.kill("SIGKILL");
  assert.equal(b.code, 0, b.stderr);
  const entries: string[] = [];
  await tar.t({ file: plain, onReadEntry: (e) => entries.push(e.path) });
  assert.ok(!entries.some((e) => e.includes("secret")), entries.join(","));

  // One byte changed in the control database, the manifest left as it was.
  const unpacked = join(dir, "unpacked");
  mkdirSync(unpacked);
  await tar.x({ file: plain, cwd: unpacked });
  const db = join(unpacked, "data", "control.db");
  const bytes = readFileSync(db);
  bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff;
  writeFileSync(db, bytes);
  const tampered = join(dir, "tampered.tar.gz");
  await tar.c({ gzip: true, file: tampered, cwd: unpacked }, ["manifest.json", "data"]);
  const t = await cli(["restore", "--in", tampered, "--data", join(dir, "from-tampered")]);
  assert.equal(t.code, 1);
  assert.match(t.stderr, /^hypha: restore refused: data\/control\.db does not match its checksum/);
  assert.equal(spawnSync("ls", [join(dir, "from-tampered")]).status, 2, "nothing was restored");

  const nonEmpty = join(dir, "non-empty");
  mkdirSync(nonEmpty);
  writeFileSync(join(nonEmpty, "keep"), "x");
  const n = await cli(["restore", "--in", plain, "--data", nonEmpty]);
  assert.equal(n.code, 2);
  assert.match(n.stderr, /^hypha: .*not empty/);

  const withKeys = join(dir, "keys.tar.gz");
  const weak = await cli(["backup", "--data", dataDir, "--out", withKeys, "--include-keys"], {
    HYPHA_BACKUP_PASSPHRASE: "short",
  });
  assert.equal(weak.code, 2);
  assert.match(weak.stderr, /^hypha: HYPHA_BACKUP_PASSPHRASE is too weak/);
  const k = await cli(["backup", "--data", dataDir, "--out", withKeys, "--include-keys"], {
    HYPHA_BACKUP_PASSPHRASE: PASSPHRASE,
  });
  assert.equal(k.code, 0, k.stderr);
  const wrong = await cli(["restore", "--in", withKeys, "--data", join(dir, "wrong")], {
    HYPHA_BACKUP_PASSPHRASE: `${PASSPHRASE}x`,
  });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /do not open with this passphrase/);
});
