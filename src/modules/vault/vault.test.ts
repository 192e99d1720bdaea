import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { newId } from "../../lib/ids.ts";
import { memoryOf } from "../memories/memory-row.fixture.ts";
import { fromMarkdown } from "./markdown.ts";
import { createVault, markdownDir } from "./vault.ts";

const memory = (content: string) => memoryOf(content, { id: newId("memory") });

const markdownVault = (dataDir: string, warnings: unknown[][] = []) =>
  createVault({
    dataDir,
    cipher: () => Promise.reject(new Error("a plain tenant has no key")),
    modes: async () => ({ encryption: "none", storage: "markdown" }),
    logger: { warn: (...args: unknown[]) => warnings.push(args) } as never,
  });

test("the markdown mirror applies a tenant's changes in order, on its own thread, and never recreates a removed folder", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-mirror-"));
  const warnings: unknown[][] = [];
  const vault = markdownVault(dataDir, warnings);
  try {
    const tenantId = newId("tenant");
    const dir = markdownDir(dataDir, tenantId);
    // The tenant's folder, as its vault's database file makes it.
    mkdirSync(join(dataDir, "vaults", tenantId), { recursive: true });
    const first = memory("version one");
    // Sent without waiting: the file ends up holding the last change sent, and a removal sent
    // after a write is not overtaken by it.
    const gone = memory("removed next");
    await Promise.all([
      vault.written(tenantId, [first]),
      vault.written(tenantId, [{ ...first, content: "version two", version: 2 }]),
      vault.written(tenantId, [gone]),
      vault.removed(tenantId, [gone.id]),
    ]);
    const parsed = fromMarkdown(readFileSync(join(dir, `${first.id}.md`), "utf8"));
    assert.ok(parsed.ok);
    assert.equal(parsed.memory.content, "version two");
    assert.deepEqual(readdirSync(dir), [`${first.id}.md`]);

    // Hundreds of files written while a timer keeps firing: the serving thread is free meanwhile.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    try {
      await vault.written(
        tenantId,
        Array.from({ length: 400 }, (_, i) => memory(`memory ${i}`)),
      );
    } finally {
      clearInterval(ticker);
    }
    assert.equal(readdirSync(dir).length, 401);
    assert.ok(ticks > 0, "timers ran while the files were written");

    // The tenant's folder removed (the tenant deleted): a change still in flight writes nothing.
    await vault.forget(tenantId);
    rmSync(join(dataDir, "vaults", tenantId), { recursive: true });
    await vault.written(tenantId, [memory("too late")]);
    assert.equal(existsSync(join(dataDir, "vaults", tenantId)), false);
    assert.deepEqual(warnings, [], "a deleted tenant's missing files are expected, not reported");
  } finally {
    await vault.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a live markdown tenant's write that leaves memories without their file is reported, not silent", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-mirror-"));
  const warnings: unknown[][] = [];
  const vault = markdownVault(dataDir, warnings);
  try {
    const tenantId = newId("tenant");
    await vault.created(tenantId);
    await vault.written(tenantId, [memory("kept")]);
    assert.equal(readdirSync(markdownDir(dataDir, tenantId)).length, 1);
    assert.deepEqual(warnings, []);
    // Someone removes the live tenant's folder: the mirror writes nothing, and says so.
    rmSync(join(dataDir, "vaults", tenantId), { recursive: true });
    await vault.written(tenantId, [memory("lost one"), memory("lost two")]);
    assert.equal(existsSync(join(dataDir, "vaults", tenantId)), false, "the folder is not made again");
    assert.equal(warnings.length, 1);
    const [fields, message] = warnings[0] ?? [];
    assert.deepEqual(fields, { tenantId, written: 0, memories: 2 });
    assert.match(String(message), /without their file/);
  } finally {
    await vault.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
