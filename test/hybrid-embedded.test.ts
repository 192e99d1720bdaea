import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { embeddingsServer } from "../bench/hash-embedder.ts";
import { createApp, type HyphaApp } from "../src/app.ts";
import { type Config, loadConfig } from "../src/lib/config.ts";
import { EMBED_INTERVAL_MS } from "../src/modules/memories/memories.module.ts";
import { startServer, type TestServer } from "./harness.ts";
import { OFFSITE, OTHERS, QUESTION, type RecallResult, type Status } from "./hybrid-helpers.ts";

/**
 * Hybrid recall with the embedded adapter (`HYPHA_EMBEDDINGS=embedded`) through real HTTP: the real
 * Universal Sentence Encoder lite, on its worker thread, no embeddings service anywhere.
 */

describe("hybrid recall with the embedded embedder (Universal Sentence Encoder lite in the process)", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ embeddings: "embedded" });
  });
  after(() => s.close());

  async function plainTenant() {
    const res = await s.request("POST", "/v1/tenants", {
      body: { name: `e${Math.random()}`.replace(".", ""), encryption: "none" },
    });
    assert.equal(res.status, 201, res.text);
    const tenantId = (res.body as { id: string }).id;
    return { tenantId, key: (await s.createKey(tenantId)).key };
  }
  const recall = async (key: string, query: string, k = 5) => {
    const res = await s.request("POST", "/v1/memories/recall", { key, body: { query, k } });
    assert.equal(res.status, 200, res.text);
    return (res.body as { results: RecallResult[] }).results;
  };
  const status = async (key: string) => {
    const res = await s.request("GET", "/v1/memories/embeddings/status", { key });
    assert.equal(res.status, 200, res.text);
    return res.body as Status;
  };
  const embedAll = () => {
    const api = s.hypha.apis.memories;
    assert.ok(api);
    return api.embedAll();
  };

  test("stored memories are embedded by the worker after commit, and recall fuses both signals (why.fusion)", async () => {
    const t = await plainTenant();
    for (const content of [OFFSITE, ...OTHERS]) await s.storeMemory(t.key, { content });
    assert.deepEqual(await status(t.key), {
      embedder: "embedded:use-lite:512",
      enabled: true,
      embedded: 0,
      pending: 3,
    });
    assert.equal(await embedAll(), 3);
    assert.deepEqual(await status(t.key), {
      embedder: "embedded:use-lite:512",
      enabled: true,
      embedded: 3,
      pending: 0,
    });

    const both = await recall(t.key, "Lisbon offsite");
    assert.equal(both[0]?.memory.content, OFFSITE);
    assert.equal(both[0]?.why.fusion?.lexical_rank, 1);
    assert.equal(both[0]?.why.fusion?.vector_rank, 1);
    assert.ok((both[0]?.why.fusion?.similarity ?? 0) > 0);

    // The paraphrase shares no word with the memory: only the vector finds it (cosine about 0.12,
    // against 0.07 and 0.01 for the two unrelated memories; docs/benchmarks.md).
    const paraphrase = await recall(t.key, QUESTION);
    assert.equal(paraphrase[0]?.memory.content, OFFSITE);
    assert.equal(paraphrase[0]?.why.fusion?.lexical_rank, null);
    assert.equal(paraphrase[0]?.why.fusion?.vector_rank, 1);
    assert.equal(paraphrase[0]?.why.bm25, 0);
  });

  test("switching from an API model to the embedded one re-embeds every memory; the API's vectors are never compared with it", async () => {
    const api = await embeddingsServer();
    try {
      const first = await startServer(api.config);
      try {
        const res = await first.request("POST", "/v1/tenants", {
          body: { name: "switching", encryption: "none" },
        });
        assert.equal(res.status, 201, res.text);
        const tenantId = (res.body as { id: string }).id;
        const { key } = await first.createKey(tenantId);
        for (const content of [OFFSITE, ...OTHERS]) await first.storeMemory(key, { content });
        assert.equal(await first.hypha.apis.memories?.embedAll(), 3);
        const texts = api.counts.texts;

        // The same store, reopened with the embedded adapter (a restart with HYPHA_EMBEDDINGS=embedded).
        const config = loadConfig({}, {
          dataDir: first.dataDir,
          adminKey: first.adminKey,
          logLevel: "silent",
          port: 0,
          ...first.storageConfig,
          embeddings: "embedded",
        } satisfies Partial<Record<keyof Config, unknown>>);
        const second: HyphaApp = await createApp({ config, clock: first.clock });
        first.clock.advance(EMBED_INTERVAL_MS * 4 + 1); // the first gateway's embedding lease runs out
        try {
          const url = await second.app.listen({ host: "127.0.0.1", port: 0 });
          const call = async (method: string, path: string, body?: unknown) => {
            const r = await fetch(url + path, {
              method,
              headers: {
                authorization: `Bearer ${key}`,
                ...(body !== undefined ? { "content-type": "application/json" } : {}),
              },
              ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
            });
            return (await r.json()) as unknown;
          };
          assert.deepEqual(await call("GET", "/v1/memories/embeddings/status"), {
            embedder: "embedded:use-lite:512",
            enabled: true,
            embedded: 0,
            pending: 3,
          });
          const before = (await call("POST", "/v1/memories/recall", { query: QUESTION, k: 3 })) as {
            results: RecallResult[];
          };
          assert.deepEqual(
            before.results,
            [],
            "the API's vectors are not searched with the embedded model's query",
          );
          assert.equal(await second.apis.memories?.embedAll(), 3);
          const after = (await call("POST", "/v1/memories/recall", { query: QUESTION, k: 3 })) as {
            results: RecallResult[];
          };
          assert.equal(after.results[0]?.memory.content, OFFSITE);
          assert.equal(after.results[0]?.why.fusion?.vector_rank, 1);
          assert.equal(api.counts.texts, texts, "nothing more was sent to the API");
        } finally {
          await second.close();
        }
      } finally {
        await first.close();
      }
    } finally {
      await api.close();
    }
  });
});
