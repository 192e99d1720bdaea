import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { tenantPolicySchema } from "../src/modules/governance/governance.schemas.ts";
import { createCorpus } from "./corpus.ts";
import { ADMIN, benchAgent, locomoEvidenceRecall, serveProcess } from "./harness.ts";
import { percentile, writeSection } from "./report.ts";

const fmt = (n: number, d = 2) => n.toFixed(d);
const LOAD_KEYS = 400;

async function recallLatency(
  recall: (q: string) => Promise<unknown>,
  queries: string[],
): Promise<{ p50: number; p95: number; p99: number; n: number }> {
  for (const q of queries.slice(0, 50)) await recall(q); // warm-up
  const times: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    await recall(q);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    n: times.length,
  };
}

/** Drives `connections` concurrent keep-alive connections for `seconds`; returns requests per second. */
async function httpThroughput(
  url: string,
  keys: string[],
  connections: number,
  seconds: number,
  queries: string[],
) {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      let i = c;
      while (performance.now() < deadline) {
        const key = keys[i % keys.length] ?? "";
        const t0 = performance.now();
        const res = await pool.request({
          path: "/v1/memories/recall",
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ query: queries[i % queries.length], k: 10 }),
        });
        await res.body.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (res.statusCode === 200) done++;
        else errors++;
        i += connections;
      }
    }),
  );
  await pool.close();
  latencies.sort((a, b) => a - b);
  return { rps: done / seconds, errors, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const config = loadConfig({}, { dataDir, adminKey, logLevel: "silent" });
  const app = await createApp({ config });
  const corpus = createCorpus();
  const queries = Array.from({ length: 1000 }, () => corpus.query());
  const batch = 1000;

  /** Ingests 100k memories into a fresh tenant, measuring recall at 10k and at 100k. */
  async function measure(encryption: "none" | "aes-gcm") {
    const { tenantId, actor } = await benchAgent(app, {
      name: `bench-${encryption}`,
      encryption,
      ratePerMinute: 600,
    });
    const recall = (query: string) =>
      app.services.memories.recall(actor, { query, k: 10, token_budget: 2000, include_quarantined: false });
    let stored = 0;
    let ingestMs = 0;
    const latency: Record<number, Awaited<ReturnType<typeof recallLatency>>> = {};
    for (const target of [10_000, 100_000]) {
      while (stored < target) {
        const items = Array.from({ length: batch }, () => ({
          namespace: "bench",
          content: corpus.sentence(),
          type: "note",
          tags: [`t${Math.floor(corpus.rand() * 50)}`],
          entities: [],
          metadata: {},
          importance: Math.round(corpus.rand() * 100) / 100,
          access: "shared" as const,
        }));
        const t0 = performance.now();
        await app.services.memories.store(actor, items);
        ingestMs += performance.now() - t0;
        stored += batch;
      }
      latency[target] = await recallLatency(recall, queries.slice(0, 500));
    }
    return { tenantId, ingestRate: stored / (ingestMs / 1000), latency };
  }
  const plain = await measure("none");
  const sealed = await measure("aes-gcm");
  const tenantId = sealed.tenantId;

  // LoCoMo: each turn a memory, one tenant per conversation; evidence recall@k.
  const locomo = await locomoEvidenceRecall(app, (id) => ({ name: `locomo-${id}`, agent: "locomo" }));
  await app.close();

  // HTTP throughput against a separate server process on the same data.
  const keys: string[] = [];
  {
    const again = await createApp({ config });
    // Many keys, used in turn: each stays far below its own rate plan, so the figure is the server's.
    for (let i = 0; i < LOAD_KEYS; i++) {
      keys.push(
        (
          await again.services.keys.create(ADMIN, tenantId, {
            agent: `load-${i}`,
            scopes: ["memories:read"],
            rate_limit_per_minute: 600,
          })
        ).key,
      );
    }
    // The anomaly cap (100 a minute per key by default) would otherwise stop keys below their plan.
    await again.services.governance.putPolicy(
      ADMIN,
      tenantId,
      tenantPolicySchema.parse({ anomaly: { max_requests_per_minute: 600 } }),
    );
    await again.close();
  }
  const server = await serveProcess({ dataDir, port: 7497, adminKey });
  const url = "http://127.0.0.1:7497";
  const http1 = await httpThroughput(url, keys, 1, 10, queries);
  const http32 = await httpThroughput(url, keys, 32, 10, queries);
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  rmSync(dataDir, { recursive: true, force: true });

  const lat = (l: { p50: number; p95: number; p99: number } | undefined) =>
    l ? `${fmt(l.p50)} / ${fmt(l.p95)} / ${fmt(l.p99)}` : "n/a";
  const md = `## Core: ingest, recall latency, HTTP throughput, retrieval quality

Synthetic corpus: sentences of 8–30 words from a 30,000-word Zipf vocabulary (s = 1.05) mixed with
English function words; queries are 2–5 content words from the same distribution. One tenant per
mode, one namespace, audit events written for every call (as in production).

| figure | value | aim |
| --- | --- | --- |
| batched ingest, plaintext tenant (service, batches of ${batch}: FTS + labels + audit) | ${fmt(plain.ingestRate, 0)} memories/s | ≥ 5,000 |
| batched ingest, encrypted tenant (the default: AES-256-GCM fields + blind index) | ${fmt(sealed.ingestRate, 0)} memories/s | ≥ 5,000 |
| recall in-process at 10k memories, plaintext, p50 / p95 / p99 | ${lat(plain.latency[10_000])} ms | |
| recall in-process at 100k memories, plaintext, p50 / p95 / p99 | ${lat(plain.latency[100_000])} ms | p50 ≤ 3 ms |
| recall in-process at 10k memories, encrypted, p50 / p95 / p99 | ${lat(sealed.latency[10_000])} ms | |
| recall in-process at 100k memories, encrypted, p50 / p95 / p99 | ${lat(sealed.latency[100_000])} ms | p50 ≤ 3 ms |
| authenticated HTTP recall, 1 connection (100k encrypted memories) | ${fmt(http1.rps, 0)} req/s (p50 ${fmt(http1.p50)} ms, p99 ${fmt(http1.p99)} ms, ${http1.errors} errors) | |
| authenticated HTTP recall, 32 connections (100k encrypted memories) | ${fmt(http32.rps, 0)} req/s (p50 ${fmt(http32.p50)} ms, p99 ${fmt(http32.p99)} ms, ${http32.errors} errors) | |

The HTTP figures come from a separate server process (\`hypha serve\`) driven over loopback by
undici from the benchmark process; both share the machine's two cores.

### Retrieval quality on LoCoMo (no LLM)

Each turn of the five LoCoMo conversations is a memory (one tenant per conversation); each question
with usable evidence is a recall query (${locomo.questions} questions). Evidence recall@k = evidence turns found
in the top k / evidence turns.

| recall@5 | recall@10 |
| --- | --- |
| ${fmt(locomo.at5, 3)} | ${fmt(locomo.at10, 3)} |
`;
  writeSection("core", md);
  process.stdout.write(md);
}

if (import.meta.main) await run();
