import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileSync, sharedFlush } from "./file-sync.ts";

/** A flush the test finishes by hand, one at a time, in the order they began. */
function manualFlush() {
  const pending: { resolve: () => void; reject: (err: Error) => void }[] = [];
  return {
    flush: () =>
      new Promise<void>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
    pending,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("shared flush", () => {
  test("callers who ask while a flush runs wait for the next one, and share it", async () => {
    const m = manualFlush();
    const f = sharedFlush(m.flush);
    const order: string[] = [];
    const first = f.sync().then(() => order.push("first"));
    await tick();
    // The first flush began before these callers wrote: it does not cover them.
    const second = f.sync().then(() => order.push("second"));
    const third = f.sync().then(() => order.push("third"));
    assert.equal(f.flushes(), 1);
    m.pending[0]?.resolve();
    await first;
    await tick();
    assert.deepEqual(order, ["first"], "the later callers still wait");
    assert.equal(f.flushes(), 2, "one more flush began for both of them");
    m.pending[1]?.resolve();
    await Promise.all([second, third]);
    assert.deepEqual(order, ["first", "second", "third"]);
    assert.equal(f.flushes(), 2);
  });

  test("a failed flush fails its callers only; the next caller gets a new flush", async () => {
    const m = manualFlush();
    const f = sharedFlush(m.flush);
    const failed = f.sync();
    m.pending[0]?.reject(new Error("EIO"));
    await assert.rejects(failed, /EIO/);
    const next = f.sync();
    assert.equal(f.flushes(), 2);
    m.pending[1]?.resolve();
    await next;
  });

  test("a caller waiting behind a flush that fails is still flushed", async () => {
    const m = manualFlush();
    const f = sharedFlush(m.flush);
    const failed = f.sync();
    const waiting = f.sync();
    m.pending[0]?.reject(new Error("EIO"));
    await assert.rejects(failed, /EIO/);
    await tick();
    assert.equal(f.flushes(), 2);
    m.pending[1]?.resolve();
    await waiting;
  });
});

describe("file sync", () => {
  test("flushes a real file through one kept handle; a file not there yet fails, then is found", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hypha-fsync-"));
    const path = join(dir, "log");
    const f = fileSync(path);
    try {
      await assert.rejects(f.sync(), /ENOENT/);
      writeFileSync(path, "a");
      await f.sync();
      appendFileSync(path, "b");
      await Promise.all([f.sync(), f.sync(), f.sync()]);
      assert.equal(f.flushes(), 4, "the failed one, one alone, and two for three callers at once");
    } finally {
      await f.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
