import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createApp, type HyphaApp } from "../src/app.ts";
import { type Config, loadConfig } from "../src/lib/config.ts";
import { EMBED_INTERVAL_MS } from "../src/modules/memories/memories.module.ts";
import { startServer, type TestServer } from "./harness.ts";
import { OFFSITE, OTHERS, QUESTION, type RecallResult, type Status } from "./hybrid-helpers.ts";

/**
 * Hybrid recall through real HTTP, with a local OpenAI-compatible embeddings server at the edge.
 * Its embedding is a bag of concepts: "offsite" and "retreat" are one concept, so a paraphrase
 * shares a dimension with the memory it asks about while sharing no word with it.
 */
const DIM = 64;
const CONCEPTS: Record<string, number> = {
  offsite: 0,
  retreat: 0,
  gathering: 0,
  lisbon: 1,
  quarterly: 2,
  team: 3,
  deploys: 4,
  production: 5,
  tuesdays: 6,
  standup: 7,
  cafeteria: 8,
  lunch: 9,
  vegetarian: 10,
  noon: 11,
};
const STOP = new Set("the is where will be in this at on to after a of".split(" "));

/** The fake model's vector for a text; model `concepts-v2` permutes the dimensions (another vector space). */
function embedText(text: string, model: string): number[] {
  const v = new Array<number>(DIM).fill(0);
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    if (STOP.has(word)) continue;
    let i = CONCEPTS[word];
    if (i === undefined) {
      let h = 0;
      for (const ch of word) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
      i = 16 + (h % (DIM - 16));
    }
    const at = model === "concepts-v2" ? (i * 7 + 3) % DIM : i;
    v[at] = (v[at] ?? 0) + 1;
  }
  return v;
}

type Mode = "ok" | "timeout" | "wrong-dimension" | "nan" | "infinite" | "too-few";

function fakeEmbeddings() {
  const state = {
    mode: "ok" as Mode,
    calls: [] as { model: string; input: string[]; authorization: string | undefined }[],
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c) => {
      body += String(c);
    });
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/embeddings") {
        res.writeHead(404).end();
        return;
      }
      const { model, input } = JSON.parse(body) as { model: string; input: string[] };
      state.calls.push({ model, input, authorization: req.headers.authorization });
      if (state.mode === "timeout") return; // never answers: the client's deadline must end it
      if (input.some((t) => t.includes("POISON"))) {
        // A text this server refuses (too long, a filtered word…): the whole call fails.
        res.writeHead(400, { "content-type": "application/json" }).end('{"error":"input refused"}');
        return;
      }
      let vectors = input.map((t) => embedText(t, model));
      if (state.mode === "wrong-dimension") vectors = vectors.map((v) => v.slice(0, 8));
      if (state.mode === "too-few") vectors = vectors.slice(1);
      // NaN and 1e400 are spliced in as text, the way a broken server would send them.
      const raw = { nan: "NaN", infinite: "1e400" } as Record<string, string>;
      const parts = vectors.map((v, i) => {
        const e = JSON.stringify(v);
        const bad = raw[state.mode];
        return `{"object":"embedding","index":${i},"embedding":${i === 0 && bad ? e.replace(/^\[[^,]+/, `[${bad}`) : e}}`;
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"object":"list","model":${JSON.stringify(model)},"data":[${parts.join(",")}]}`);
    });
  });
  return {
    state,
    async start(): Promise<string> {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const SEALED = "The quarterly offsite will be held in Lisbon this year for everyone";
const API_KEY = "sk-embeddings-test-7f3a9c2e1b5d4f60";

/** A second app on the same store (another process after a restart, or a reconfigured one), served over HTTP. */
async function reopen(s: TestServer, overrides: Partial<Record<keyof Config, unknown>>) {
  const config = loadConfig(
    {},
    {
      dataDir: s.dataDir,
      adminKey: s.adminKey,
      logLevel: "silent",
      port: 0,
      ...s.storageConfig,
      ...overrides,
    },
  );
  const app: HyphaApp = await createApp({ config, clock: s.clock });
  // The embedding lease is held by the first server's gateway: past its TTL, this one may take it.
  s.clock.advance(EMBED_INTERVAL_MS * 4 + 1);
  const url = await app.app.listen({ host: "127.0.0.1", port: 0 });
  const request = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  return {
    app,
    request,
    async close() {
      await app.close();
      s.clock.advance(EMBED_INTERVAL_MS * 4 + 1);
    },
  };
}

describe("hybrid recall: lexical and vector candidates fused behind one Embedder port", () => {
  const fake = fakeEmbeddings();
  let embeddingsUrl: string;
  let s: TestServer;
  let plain: TestServer;
  const embedderConfig = () => ({
    embeddingsUrl,
    embeddingsModel: "concepts-v1",
    embeddingsApiKey: API_KEY,
    embeddingsTimeoutMs: 400,
    egressAllow: ["127.0.0.1"],
  });

  before(async () => {
    embeddingsUrl = await fake.start();
    s = await startServer(embedderConfig());
    plain = await startServer();
  });
  after(async () => {
    await s.close();
    await plain.close();
    await fake.close();
  });

  /** A plaintext tenant (vectors on by default) with a read-write key. */
  async function plainTenant(server: TestServer) {
    const res = await server.request("POST", "/v1/tenants", {
      body: { name: `h${Math.random()}`.replace(".", ""), encryption: "none" },
    });
    assert.equal(res.status, 201, res.text);
    const tenantId = (res.body as { id: string }).id;
    return { tenantId, key: (await server.createKey(tenantId)).key };
  }
  const recall = async (server: TestServer, key: string, query: string, k = 5) => {
    const res = await server.request("POST", "/v1/memories/recall", { key, body: { query, k } });
    assert.equal(res.status, 200, res.text);
    return (res.body as { results: RecallResult[] }).results;
  };
  const status = async (server: TestServer, key: string) => {
    const res = await server.request("GET", "/v1/memories/embeddings/status", { key });
    assert.equal(res.status, 200, res.text);
    return res.body as Status;
  };
  const embedAll = (server: TestServer) => {
    const api = server.hypha.apis.memories;
    assert.ok(api);
    return api.embedAll();
  };
  const recalledEvents = async (server: TestServer, tenantId: string) => {
    const db = await server.hypha.storage.tenant(tenantId);
    const rows = await db.all<{ n: number }>(
      "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'memory.recalled'",
    );
    return Number(rows[0]?.n ?? 0);
  };

  test("a paraphrase ('team retreat' for 'quarterly offsite') comes first with the embedder on and is not found lexically with it off", async () => {
    const on = await plainTenant(s);
    const off = await plainTenant(plain);
    for (const content of [OFFSITE, ...OTHERS]) {
      await s.storeMemory(on.key, { content });
      await plain.storeMemory(off.key, { content });
    }
    assert.equal(await embedAll(s), 3);
    const hybrid = await recall(s, on.key, QUESTION);
    assert.equal(hybrid[0]?.memory.content, OFFSITE);
    assert.deepEqual(
      { ...hybrid[0]?.why.fusion, similarity: undefined },
      { rrf: Math.round((1 / 61) * 1e6) / 1e6, lexical_rank: null, vector_rank: 1, similarity: undefined },
    );
    assert.ok((hybrid[0]?.why.fusion?.similarity ?? 0) > 0.3);
    assert.equal(hybrid[0]?.why.bm25, 0, "no word in common: its relevance is the vector's part alone");

    assert.deepEqual(await recall(plain, off.key, QUESTION), [], "lexical recall cannot find a paraphrase");
    // With the embedder off, nothing about recall changes: no fusion part, relevance is BM25's.
    const lexical = await recall(plain, off.key, "Lisbon offsite");
    assert.equal(lexical[0]?.memory.content, OFFSITE);
    assert.equal(lexical[0]?.why.fusion, undefined);
    assert.equal(lexical[0]?.why.relevance, 1);

    // A query matching both ways shows both signals' parts.
    const both = await recall(s, on.key, "Lisbon offsite");
    assert.equal(both[0]?.memory.content, OFFSITE);
    assert.equal(both[0]?.why.fusion?.lexical_rank, 1);
    assert.equal(both[0]?.why.fusion?.vector_rank, 1);
    assert.ok((both[0]?.why.bm25 ?? 0) > 0);

    const calls = fake.state.calls.filter((c) => c.model === "concepts-v1");
    assert.ok(calls.length >= 2);
    assert.ok(calls.every((c) => c.authorization === `Bearer ${API_KEY}`));
    assert.ok(!s.logs.some((l) => l.includes(API_KEY)), "the embeddings API key never reaches a log");
  });

  test("embeddings are computed after commit, never on the write path; the worker backfills and the status route counts down to zero pending", async () => {
    const t = await plainTenant(s);
    const before = fake.state.calls.length;
    for (let i = 0; i < 40; i++) await s.storeMemory(t.key, { content: `note ${i} about the standup` });
    await s.storeMemory(t.key, { content: OFFSITE });
    assert.equal(fake.state.calls.length, before, "storing called no embedder");
    const pending = await status(s, t.key);
    assert.equal(pending.enabled, true);
    assert.equal(pending.pending, 41);
    assert.equal(pending.embedded, 0);
    assert.equal(await embedAll(s), 41);
    const done = await status(s, t.key);
    assert.deepEqual(done, {
      embedder: `openai:concepts-v1:${DIM}`,
      enabled: true,
      embedded: 41,
      pending: 0,
    });
    const batches = fake.state.calls.slice(before).map((c) => c.input.length);
    assert.ok(Math.max(...batches) <= 32, `batches of at most 32: ${batches}`);
    assert.equal((await recall(s, t.key, QUESTION))[0]?.memory.content, OFFSITE);
  });

  test("memories stored before the embedder was configured are backfilled by the worker of a reconfigured server", async () => {
    const t = await plainTenant(plain);
    for (const content of [OFFSITE, ...OTHERS]) await plain.storeMemory(t.key, { content });
    const second = await reopen(plain, embedderConfig());
    try {
      const st = await second.request("GET", "/v1/memories/embeddings/status", t.key);
      assert.equal((st.body as Status).pending, 3);
      assert.ok(((await second.app.apis.memories?.embedAll()) ?? 0) >= 3);
      const after = await second.request("GET", "/v1/memories/embeddings/status", t.key);
      assert.equal((after.body as Status).pending, 0);
      assert.equal((after.body as Status).embedded, 3);
      const r = await second.request("POST", "/v1/memories/recall", t.key, { query: QUESTION, k: 3 });
      assert.equal((r.body as { results: RecallResult[] }).results[0]?.memory.content, OFFSITE);
    } finally {
      await second.close();
    }
  });

  test("a text the API refuses does not block the others: they are embedded, it stays pending, and the next pass retries it alone", async () => {
    const t = await plainTenant(s);
    await s.storeMemory(t.key, { content: "POISON first note" });
    await s.storeMemory(t.key, { content: OFFSITE });
    await s.storeMemory(t.key, { content: OTHERS[0] as string });
    await embedAll(s);
    assert.deepEqual(
      { ...(await status(s, t.key)), embedder: null },
      { embedder: null, enabled: true, embedded: 2, pending: 1 },
    );
    assert.equal((await recall(s, t.key, QUESTION))[0]?.memory.content, OFFSITE);
    const calls = fake.state.calls.length;
    assert.equal(await embedAll(s), 0);
    assert.deepEqual(
      fake.state.calls.slice(calls).map((c) => c.input),
      [["POISON first note"]],
      "retried once, alone",
    );
  });

  test("a restarted server does not embed again what the same model already embedded", async () => {
    const t = await plainTenant(s);
    for (const content of [OFFSITE, ...OTHERS]) await s.storeMemory(t.key, { content });
    await embedAll(s);
    const second = await reopen(s, embedderConfig());
    try {
      const st = await second.request("GET", "/v1/memories/embeddings/status", t.key);
      assert.deepEqual(st.body, { embedder: null, enabled: true, embedded: 3, pending: 0 });
      const calls = fake.state.calls.length;
      await second.app.apis.memories?.embedAll();
      assert.ok(!fake.state.calls.slice(calls).some((c) => c.input.includes(OFFSITE)));
      const r = await second.request("POST", "/v1/memories/recall", t.key, { query: QUESTION, k: 3 });
      assert.equal((r.body as { results: RecallResult[] }).results[0]?.memory.content, OFFSITE);
    } finally {
      await second.close();
    }
  });

  for (const mode of ["timeout", "wrong-dimension", "nan", "infinite", "too-few"] as const) {
    test(`an embedder answering '${mode}' leaves the memory stored, stores no vector, and recall works lexically (audited)`, async () => {
      const t = await plainTenant(s);
      await s.storeMemory(t.key, { content: OFFSITE });
      fake.state.mode = mode;
      try {
        assert.equal(await embedAll(s), 0);
        const st = await status(s, t.key);
        assert.equal(st.pending, 1);
        assert.equal(st.embedded, 0);
        const lexical = await recall(s, t.key, "Lisbon offsite");
        assert.equal(lexical[0]?.memory.content, OFFSITE);
        assert.equal(
          lexical[0]?.why.fusion,
          undefined,
          "the query's vector failed too: plain lexical recall",
        );
        assert.deepEqual(await recall(s, t.key, QUESTION), []);
        assert.equal(await recalledEvents(s, t.tenantId), 2);
      } finally {
        fake.state.mode = "ok";
      }
      // The next pass retries and succeeds.
      assert.ok((await embedAll(s)) >= 1);
      assert.equal((await status(s, t.key)).pending, 0);
      assert.equal((await recall(s, t.key, QUESTION))[0]?.memory.content, OFFSITE);
    });
  }

  test("an updated memory is embedded again (its old version's vector is dropped), and an erased one never returns through a cached vector", async () => {
    const t = await plainTenant(s);
    const m = await s.storeMemory(t.key, { content: OFFSITE });
    await s.storeMemory(t.key, { content: OTHERS[1] as string });
    await embedAll(s);
    assert.equal((await recall(s, t.key, QUESTION))[0]?.memory.id, m.id, "the cache is built");
    const moved = "The quarterly offsite moved to Porto";
    const patched = await s.request("PATCH", `/v1/memories/${m.id}`, {
      key: t.key,
      body: { content: moved },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.ok(
      !(await recall(s, t.key, QUESTION)).some((r) => r.memory.id === m.id),
      "the old version's vector no longer ranks the memory",
    );
    assert.equal((await status(s, t.key)).pending, 1);
    await embedAll(s);
    const again = await recall(s, t.key, QUESTION);
    assert.equal(again[0]?.memory.id, m.id);
    assert.equal(again[0]?.memory.content, moved);
    const erased = await s.request("DELETE", `/v1/memories/${m.id}`, { key: t.key });
    assert.equal(erased.status, 200, erased.text);
    assert.ok(!(await recall(s, t.key, QUESTION)).some((r) => r.memory.id === m.id));
    const db = await s.hypha.storage.tenant(t.tenantId);
    const rows = await db.all<{ n: number }>(
      "SELECT COUNT(*) AS n FROM memories WHERE embedding IS NOT NULL",
    );
    assert.equal(Number(rows[0]?.n), 1, "only the other memory's vector is left");
  });

  test("every hybrid recall is audited, and another tenant's vectors never appear", async () => {
    const a = await plainTenant(s);
    const b = await plainTenant(s);
    await s.storeMemory(a.key, { content: OTHERS[0] as string });
    const theirs = await s.storeMemory(b.key, { content: OFFSITE });
    await embedAll(s);
    for (let i = 0; i < 3; i++) {
      const results = await recall(s, a.key, QUESTION, 10);
      assert.ok(!results.some((r) => r.memory.id === theirs.id));
      assert.ok(!results.some((r) => r.memory.content === OFFSITE));
    }
    assert.equal(await recalledEvents(s, a.tenantId), 3);
    assert.equal((await status(s, a.key)).embedded, 1, "counts are the caller's tenant only");
    assert.equal((await recall(s, b.key, QUESTION))[0]?.memory.id, theirs.id);
  });

  test("switching the embedder model re-embeds every memory; vectors of the old model are never compared", async () => {
    const t = await plainTenant(s);
    for (const content of [OFFSITE, ...OTHERS]) await s.storeMemory(t.key, { content });
    await embedAll(s);
    const second = await reopen(s, { ...embedderConfig(), embeddingsModel: "concepts-v2" });
    try {
      const before = await second.request("POST", "/v1/memories/recall", t.key, { query: QUESTION, k: 3 });
      assert.deepEqual(
        (before.body as { results: RecallResult[] }).results,
        [],
        "v1 vectors are not searched with a v2 query",
      );
      const st = await second.request("GET", "/v1/memories/embeddings/status", t.key);
      assert.deepEqual(st.body, {
        embedder: `openai:concepts-v2:${DIM}`,
        enabled: true,
        embedded: 0,
        pending: 3,
      });
      assert.ok(((await second.app.apis.memories?.embedAll()) ?? 0) >= 3);
      const after = await second.request("GET", "/v1/memories/embeddings/status", t.key);
      assert.equal((after.body as Status).pending, 0);
      const r = await second.request("POST", "/v1/memories/recall", t.key, { query: QUESTION, k: 3 });
      assert.equal((r.body as { results: RecallResult[] }).results[0]?.memory.content, OFFSITE);
      assert.ok(fake.state.calls.some((c) => c.model === "concepts-v2" && c.input.includes(OFFSITE)));
    } finally {
      await second.close();
    }
  });

  test("an embeddings URL on a private address is refused by the egress guard without HYPHA_EGRESS_ALLOW; recall stays lexical", async () => {
    const guarded = await reopen(s, { ...embedderConfig(), egressAllow: [] });
    try {
      const t = await plainTenant(s);
      await s.storeMemory(t.key, { content: OFFSITE });
      const calls = fake.state.calls.length;
      assert.equal(await guarded.app.apis.memories?.embedAll(), 0);
      const r = await guarded.request("POST", "/v1/memories/recall", t.key, { query: "Lisbon", k: 3 });
      assert.equal((r.body as { results: RecallResult[] }).results[0]?.memory.content, OFFSITE);
      assert.equal(fake.state.calls.length, calls, "nothing reached the embeddings server");
    } finally {
      await guarded.close();
    }
  });

  test("encrypted tenants: vectors are off unless the policy opts in; then they are sealed, and a byte scan finds neither the text nor the vector's float bytes", async () => {
    const { tenantId, key } = await s.seedTenant();
    await embedAll(s); // other tenants' pending memories, out of the way
    await s.storeMemory(key, { content: SEALED });
    const calls = fake.state.calls.length;
    assert.deepEqual(await status(s, key), {
      embedder: `openai:concepts-v1:${DIM}`,
      enabled: false,
      embedded: 0,
      pending: 0,
    });
    await embedAll(s);
    assert.ok(
      !fake.state.calls.slice(calls).some((c) => c.input.includes(SEALED)),
      "an encrypted tenant's text is not sent to the embeddings API by default",
    );
    assert.deepEqual(await recall(s, key, QUESTION), []);

    const put = await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: { embeddings: "on" } });
    assert.equal(put.status, 200, put.text);
    assert.equal((await status(s, key)).pending, 1);
    assert.equal(await embedAll(s), 1);
    assert.equal((await recall(s, key, QUESTION))[0]?.memory.content, SEALED);

    const floats = Buffer.alloc(DIM * 4);
    for (const [i, x] of embedText(SEALED, "concepts-v1").entries()) floats.writeFloatLE(x, i * 4);
    if (!s.database) {
      const dir = join(s.dataDir, "vaults", tenantId);
      for (const name of readdirSync(dir)) {
        const bytes = readFileSync(join(dir, name));
        assert.ok(!bytes.includes("Lisbon"), `${name} holds no plaintext`);
        assert.ok(!bytes.includes(floats), `${name} holds no raw vector`);
      }
    } else {
      const c = new pg.Client({ connectionString: s.database.migrationUrl });
      await c.connect();
      try {
        // Row-level security is forced on the owner too: scope the transaction to the tenant.
        await c.query("BEGIN");
        await c.query("SELECT set_config('hypha.tenant_id', $1, true)", [tenantId]);
        const rows = await c.query<{ embedding: Buffer }>(
          "SELECT embedding FROM hypha_tenant.memories WHERE tenant_id = $1 AND embedding IS NOT NULL",
          [tenantId],
        );
        assert.equal(rows.rows.length, 1);
        for (const r of rows.rows) {
          assert.ok(r.embedding.toString("utf8").startsWith("v1."), "sealed like a field");
          assert.ok(!r.embedding.includes(floats));
        }
        await c.query("COMMIT");
      } finally {
        await c.end();
      }
    }

    // Turning vectors off again erases them.
    await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: { embeddings: "off" } });
    await embedAll(s);
    const db = await s.hypha.storage.tenant(tenantId);
    const left = await db.all<{ n: number }>(
      "SELECT COUNT(*) AS n FROM memories WHERE embedding IS NOT NULL",
    );
    assert.equal(Number(left[0]?.n), 0);
    assert.deepEqual(await recall(s, key, QUESTION), []);
  });
});
