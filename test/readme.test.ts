import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { type HyphaProcess, startHypha, stopProcess } from "./serve-process.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NODE = join(ROOT, "node_modules", ".bin", "node");
const BIN = join(ROOT, "bin", "hypha.js");
const SKIP = /^<!-- readme-test: skip \(.+\) -->$/;

type Block = { line: number; code: string; skip: boolean };

/** Every ```sh block of the README, in order; a block right after a skip marker (with its reason) is not run. */
function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i] ?? "")) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== "```"; i++) body.push(lines[i] ?? "");
    blocks.push({ line: start + 1, code: body.join("\n"), skip: SKIP.test(lines[start - 1] ?? "") });
  }
  return blocks;
}

describe("README shell blocks run as copied, in order, against a live server", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const blocks = shellBlocks(readme);
  const work = mkdtempSync(join(tmpdir(), "hypha-readme-"));
  const data = join(work, "data");
  const admin = generateSecret(KEY_PREFIX.admin);
  let server: HyphaProcess | null = null;
  let url = "";

  before(async () => {
    server = startHypha(["serve", "--data", data, "--port", "0"], {
      PATH: process.env.PATH ?? "",
      HOME: work,
      HYPHA_ADMIN_KEY: admin,
    });
    url = (await server.ready)[1] ?? "";
  });
  after(async () => {
    if (server) await stopProcess(server.child);
    rmSync(work, { recursive: true, force: true });
  });

  test("every curl that sends a body says content-type: application/json, and no block assigns $UID", () => {
    for (const b of blocks) {
      const commands = b.code.split(/\n(?=\S)/);
      for (const cmd of commands.filter((c) => /\bcurl\b/.test(c) && /\s-d\s/.test(c))) {
        assert.match(cmd, /content-type: application\/json/i, `README.md:${b.line}: ${cmd.slice(0, 120)}`);
      }
      assert.doesNotMatch(b.code, /(^|\s)UID=|\$UID\b/, `README.md:${b.line} uses $UID (read-only in bash)`);
    }
  });

  // The blocks start the CLI a dozen times (a Node start each): a bound of its own.
  test("the blocks not marked skip run in one bash, every HTTP call succeeding", { timeout: 420_000 }, () => {
    const run = blocks.filter((b) => !b.skip);
    assert.ok(run.length >= 8, `only ${run.length} runnable blocks`);
    // Install and test, the setup the test does itself, a real OIDC provider, an outside API, and
    // deployment recipes (a remote database, a remote Redis, two long-running processes).
    assert.ok(blocks.filter((b) => b.skip).length <= 7, "skip markers are the exception");
    const script = [
      "set -euo pipefail",
      // Any HTTP status >= 400 fails the block (and the script), with the error body shown.
      'curl() { command curl --show-error --fail-with-body "$@"; }',
      // The README's `hypha` (npm exec hypha --) and `npm` run in the checkout.
      `hypha() { "${NODE}" "${BIN}" "$@"; }`,
      // Only `npm run` and `npm exec`: a block that installs or tests must carry a skip marker.
      `npm() { case "$1" in run|exec) command npm --prefix "${ROOT}" "$@" ;; *) echo "npm $1 is not run by this test: mark the block skip" >&2; return 1 ;; esac; }`,
      `export HYPHA='${url}' ADMIN='${admin}' HYPHA_DATA_DIR='${data}'`,
      ...run.map((b) => `echo '--- README.md:${b.line}' >&2\n${b.code}`),
      "echo README-OK",
    ].join("\n");
    const r = spawnSync("bash", ["-c", script], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "", HOME: work },
      encoding: "utf8",
      timeout: 400_000,
    });
    const failedAt = r.stderr.match(/--- README\.md:\d+/g)?.at(-1) ?? "(before any block)";
    assert.equal(r.status, 0, `failed in ${failedAt}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-1500)}`);
    assert.match(r.stdout, /README-OK\s*$/);
    assert.match(r.stdout, /agent: From memory:/, "the agent-loop example ran");
  });
});
