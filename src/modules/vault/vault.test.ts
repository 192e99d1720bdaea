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

const markdownVault = (dataDir: string) =>
  createVault({
    dataDir,
    cipher: () => Promise.reject(new Error("a plain tenant has no key")),
    modes: async () => ({ encryption: "none", storage: "markdown" }),
  });

test("the markdown mirror applies a tenant's changes in order, on its own thread, and never recreates a removed folder", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-mirror-"));
  const vault = markdownVault(dataDir);
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
  } finally {
    await vault.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
