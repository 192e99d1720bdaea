/**
 * The air-gapped bundle, end to end: `npm run bundle`, unpack in a scratch directory, start it with
 * `./hypha serve` inside a network namespace with no network (`unshare -n`, loopback only), then
 * store and recall over loopback, with `HYPHA_EMBEDDINGS=embedded` (the bundle carries the model's
 * optional packages, so hybrid recall works air-gapped). Part of `npm test` (`npm run test:bundle` alone); it needs root for
 * the namespace and says so as a skip where it cannot make one.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import * as tar from "tar";
import { generateSecret, KEY_PREFIX } from "../../src/lib/secrets.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "hypha-bundle-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs inside the namespace with the bundled Node: start, store, recall, stop; prints one JSON line. */
const CHECK = `
import { spawn } from "node:child_process";
const admin = process.env.HYPHA_ADMIN_KEY;
const server = spawn("./hypha", ["serve", "--port", "0"], { env: process.env, stdio: ["ignore", "pipe", "inherit"] });
let out = "";
const url = await new Promise((ok, fail) => {
  server.stdout.on("data", (c) => { out += c; const m = /"address":"(http:[^"]+)"/.exec(out); if (m) ok(m[1]); });
  server.on("exit", (code) => fail(new Error("exited " + code + out)));
});
const call = async (method, path, key, body) => {
  const res = await fetch(url + path, { method, headers: { authorization: "Bearer " + key, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  return res.json();
};
const tenant = await call("POST", "/v1/tenants", admin, { name: "airgap" });
const key = (await call("POST", "/v1/tenants/" + tenant.id + "/keys", admin, { agent: "a", scopes: ["memories:read", "memories:write"] })).key;
const stored = await call("POST", "/v1/memories", key, { namespace: "ops", content: "The air-gapped site rotates its backup tapes on Fridays" });
// The embedded embedder (HYPHA_EMBEDDINGS=embedded) ships in the bundle: with vectors turned on for
// this (encrypted) tenant, the embedding worker embeds the memory within a pass or two.
await fetch(url + "/v1/tenants/" + tenant.id + "/policy", { method: "PUT", headers: { authorization: "Bearer " + admin, "content-type": "application/json" }, body: JSON.stringify({ embeddings: "on" }) });
let status;
for (let i = 0; i < 60; i++) {
  status = await call("GET", "/v1/memories/embeddings/status", key);
  if (status.embedded === 1) break;
  await new Promise((ok) => setTimeout(ok, 500));
}
const recalled = await call("POST", "/v1/memories/recall", key, { query: "when are backup tapes rotated", k: 3 });
let outside = "reached";
try { await fetch("http://1.1.1.1/", { signal: AbortSignal.timeout(2000) }); } catch (err) { outside = String(err.cause?.code ?? err.name); }
const exited = new Promise((ok) => server.on("exit", ok));
server.kill("SIGTERM");
console.log(JSON.stringify({ stored: stored.id, recalled: recalled.results.map((r) => r.memory.id), fusion: recalled.results[0]?.why.fusion ?? null, embedder: status.embedder, outside, exit: await exited, node: process.version }));
`;

const canIsolate = spawnSync("unshare", ["-n", "true"]).status === 0;

test("the bundle unpacked elsewhere starts with ./hypha serve in a namespace with no network, and stores and recalls over loopback, with hybrid recall by the embedded model it carries", {
  skip: canIsolate ? false : "needs root to make a network namespace (unshare -n)",
}, () => {
  const tarball = execFileSync("npm", ["run", "--silent", "bundle"], { cwd: ROOT, encoding: "utf8" })
    .trim()
    .split("\n")
    .at(-1) as string;
  tar.x({ file: tarball, cwd: scratch, sync: true });
  const dir = join(scratch, tarball.replace(/^.*\//, "").replace(/\.tar\.gz$/, ""));
  writeFileSync(join(dir, "check.mjs"), CHECK);
  const r = spawnSync("unshare", ["-n", "sh", "-c", "ip link set lo up && ./runtime/node check.mjs"], {
    cwd: dir,
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      HYPHA_DATA_DIR: join(scratch, "data"),
      HYPHA_ADMIN_KEY: generateSecret(KEY_PREFIX.admin),
      HYPHA_LOG_LEVEL: "info",
      HYPHA_EMBEDDINGS: "embedded",
    },
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as {
    stored: string;
    recalled: string[];
    fusion: { vector_rank: number | null } | null;
    embedder: string;
    outside: string;
    exit: number;
    node: string;
  };
  assert.match(result.stored, /^mem_/);
  assert.ok(result.recalled.includes(result.stored), JSON.stringify(result));
  assert.equal(result.embedder, "embedded:use-lite:512", "the bundle carries the embedded model");
  assert.equal(result.fusion?.vector_rank, 1, "recall fused the embedded model's vector rank");
  assert.notEqual(result.outside, "reached", "the namespace has no network");
  assert.equal(result.exit, 0);
  assert.equal(result.node, "v24.21.0");
});
