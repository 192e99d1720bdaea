/**
 * Hypha beside mem0 OSS in the same run: add and search p50/p95 at 10k conversational memories, with
 * the same embedder on both sides, and the LoCoMo evidence recall@10 of the same searches.
 *
 * mem0 is never a dependency of this repository: the benchmark installs a pinned `mem0ai` (and the
 * `better-sqlite3` its local vector store needs) into a scratch directory under
 * the OS temp dir and imports it from there. The embedder is a deterministic feature-hashing model
 * served on 127.0.0.1 by this process behind an OpenAI-compatible `/v1/embeddings`; it stands in for
 * a real model and is the same for both systems. mem0 adds with `infer: false`, so no LLM is called;
 * its LLM config points at the same local server, which counts (and refuses) any chat call.
 *
 * `node bench/run.ts mem0 [--size=10000] [--queries=200] [--write]`
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import type { Actor } from "../src/platform/auth/actor.ts";
import { conversationalCorpus, loadConversations, turnMemory } from "./conversations.ts";
import { benchAgent } from "./harness.ts";
import { DIM, embeddingsServer, MODEL } from "./hash-embedder.ts";
import { percentile, writeSection } from "./report.ts";

const MEM0_VERSION = "3.3.1";
/**
 * The peer mem0's `memory` vector store and SQLite history import. mem0 asks for ^12.6.2, but 12.x
 * (built on Node's own `ObjectWrap`) aborts the process on Node 24.19+ when the GC finalizes a
 * statement (`RemoveEnvironmentCleanupHook: (env) != nullptr`); 13.x moved to Node-API and ships
 * its prebuilt addon inside the package, so no install script or compiler is needed.
 */
const BETTER_SQLITE3_VERSION = "13.2.0";
const SCRATCH = join(tmpdir(), "hypha-bench-mem0");
const K = 10;
const PASSES = 3;
const WARMUP = 20;
const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** The part of mem0's OSS `Memory` this benchmark uses (the package is loaded untyped, at run time). */
type Mem0Memory = {
  add(
    messages: string,
    config: { userId: string; infer: boolean; metadata?: Record<string, unknown> },
  ): Promise<{ results: { id: string }[] }>;
  search(
    query: string,
    config: { filters: { user_id: string }; topK: number; threshold: number },
  ): Promise<{ results: { id: string }[] }>;
};
type Mem0Module = { Memory: new (config: Record<string, unknown>) => Mem0Memory };

/**
 * Installs mem0 OSS into the scratch directory (its own package.json, never this repository's), once:
 * `npm install --no-save --ignore-scripts`.
 */
function installMem0(): string {
  const entry = join(SCRATCH, "node_modules/mem0ai/dist/oss/index.mjs");
  const version = (pkg: string) => {
    try {
      return (
        JSON.parse(readFileSync(join(SCRATCH, "node_modules", pkg, "package.json"), "utf8")) as {
          version: string;
        }
      ).version;
    } catch {
      return null;
    }
  };
  if (
    existsSync(entry) &&
    version("mem0ai") === MEM0_VERSION &&
    version("better-sqlite3") === BETTER_SQLITE3_VERSION
  ) {
    return entry;
  }
  mkdirSync(SCRATCH, { recursive: true });
  writeFileSync(join(SCRATCH, "package.json"), '{ "name": "hypha-bench-mem0", "private": true }\n');
  process.stdout.write(`installing mem0ai@${MEM0_VERSION} into ${SCRATCH}\n`);
  // mem0 lists some 40 optional peers (one per provider); --legacy-peer-deps leaves them out.
  execFileSync(
    "npm",
    [
      "install",
      "--no-save",
      "--ignore-scripts",
      "--legacy-peer-deps",
      "--no-audit",
      "--no-fund",
      `mem0ai@${MEM0_VERSION}`,
      `better-sqlite3@${BETTER_SQLITE3_VERSION}`,
    ],
    { cwd: SCRATCH, stdio: ["ignore", "inherit", "inherit"] },
  );
  if (!existsSync(entry)) throw new Error(`mem0ai was not installed in ${SCRATCH}`);
  return entry;
}

/** Wall-clock percentiles, and the median CPU time of one call (user + system, unaffected by waiting). */
type Lat = { p50: number; p95: number; cpu: number };
type System = { name: string; search: (q: string) => Promise<string[]> };

/** Percentiles of one sample. */
const lat = (times: number[], cpu: number[]): Lat => {
  const s = [...times].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), cpu: median(cpu) };
};

export async function run(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const size = Number(arg("size") ?? 10_000);
  const convs = loadConversations();
  const sourceTurns = convs.reduce((n, c) => n + c.turns.length, 0);
  const asked = convs.flatMap((c) => c.questions.filter((q) => q.evidence.length > 0));
  const questions = asked.filter((_, i) => i % 2 === 0).slice(0, Number(arg("queries") ?? 200));
  const corpus = conversationalCorpus(convs, size);

  const entry = installMem0();
  const work = mkdtempSync(join(tmpdir(), "hypha-bench-mem0-run-"));
  // Read by mem0 when its module loads: no telemetry, and its notices' state under the run directory.
  process.env.MEM0_TELEMETRY = "false";
  process.env.MEM0_DIR = join(work, "mem0-home");
  const { Memory } = (await import(pathToFileURL(entry).href)) as Mem0Module;
  const emb = await embeddingsServer();

  // Hypha, in-process: two tenants of the default (encrypted) kind, one lexical and one with vectors.
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const config = loadConfig(
    {},
    {
      dataDir: join(work, "hypha"),
      adminKey,
      logLevel: "silent",
      ...emb.config,
    },
  );
  const hypha = await createApp({ config });
  const tenant = async (name: string, embeddings: "on" | "off") =>
    (await benchAgent(hypha, { name, policy: { embeddings } })).actor;
  const lexicalActor = await tenant("mem0-side-lexical", "off");
  const hybridActor = await tenant("mem0-side-hybrid", "on");

  const mem0 = new Memory({
    version: "v1.1",
    embedder: { provider: "openai", config: { apiKey: "bench", model: MODEL, baseURL: emb.url } },
    vectorStore: {
      provider: "memory",
      config: { collectionName: "memories", dimension: DIM, dbPath: join(work, "mem0-vectors.db") },
    },
    llm: { provider: "openai", config: { apiKey: "bench", model: "none", baseURL: emb.llmUrl } },
    historyStore: { provider: "sqlite", config: { historyDbPath: join(work, "mem0-history.db") } },
  });
  const USER = "bench";

  // Adds: one memory per call, sequential, the three stores in turn for each memory (same noise).
  type Sample = { times: number[]; cpu: number[] };
  const sample = (): Sample => ({ times: [], cpu: [] });
  const addTimes: Record<string, Sample> = { lexical: sample(), hybrid: sample(), mem0: sample() };
  const ids: Record<string, string[]> = { lexical: [], hybrid: [], mem0: [] };
  const timed = async <T>(into: Sample | undefined, fn: () => Promise<T>): Promise<T> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await fn();
    into?.times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    into?.cpu.push((c.user + c.system) / 1000);
    return out;
  };
  const hyphaAdd = (actor: Actor, t: (typeof corpus)[number]) =>
    hypha.services.memories.store(actor, [turnMemory(t)]);
  const addsStarted = performance.now();
  for (const [i, t] of corpus.entries()) {
    const [a] = await timed(addTimes.lexical, () => hyphaAdd(lexicalActor, t));
    const [b] = await timed(addTimes.hybrid, () => hyphaAdd(hybridActor, t));
    const m = await timed(addTimes.mem0, () =>
      mem0.add(t.content, { userId: USER, infer: false, metadata: { session_date: t.date } }),
    );
    ids.lexical?.push(a?.id ?? "");
    ids.hybrid?.push(b?.id ?? "");
    ids.mem0?.push(m.results[0]?.id ?? "");
    if ((i + 1) % 2000 === 0) {
      process.stdout.write(`added ${i + 1} (${fmt((performance.now() - addsStarted) / 1000, 0)} s)\n`);
    }
  }
  const mem0Embedded = emb.counts.texts;

  // Hypha embeds off the write path: the worker's pass, driven here until nothing is pending.
  const backfillStarted = performance.now();
  for (let idle = 0; ; ) {
    const stored = (await hypha.apis.memories?.embedAll()) ?? 0;
    const status = await hypha.services.memories.embeddingStatus(hybridActor);
    if (status.pending === 0 && status.embedded >= size) break;
    idle = stored > 0 ? 0 : idle + 1;
    if (idle >= 3) throw new Error(`${status.pending} memories could not be embedded`);
  }
  const backfillSeconds = (performance.now() - backfillStarted) / 1000;

  const hyphaSearch = (actor: Actor) => async (query: string) =>
    (
      await hypha.services.memories.recall(actor, {
        query,
        k: K,
        token_budget: 2000,
        include_quarantined: false,
      })
    ).results.map((r) => r.memory.id);
  const systems: System[] = [
    { name: "lexical", search: hyphaSearch(lexicalActor) },
    { name: "hybrid", search: hyphaSearch(hybridActor) },
    {
      name: "mem0",
      search: async (query) =>
        (await mem0.search(query, { filters: { user_id: USER }, topK: K, threshold: 0 })).results.map(
          (r) => r.id,
        ),
    },
  ];

  // Searches: a warm-up, then PASSES passes of the questions, the systems in turn within each pass.
  const passes: Record<string, Lat[]> = {};
  const ranked: Record<string, string[][]> = {};
  for (const s of systems) for (const q of questions.slice(0, WARMUP)) await s.search(q.question);
  for (let pass = 0; pass < PASSES; pass++) {
    for (const s of systems) {
      const one = sample();
      const got: string[][] = [];
      for (const q of questions) got.push(await timed(one, () => s.search(q.question)));
      const l = lat(one.times, one.cpu);
      passes[s.name] = [...(passes[s.name] ?? []), l];
      if (pass === 0) ranked[s.name] = got;
      process.stdout.write(
        `pass ${pass + 1} ${s.name}: search p50 ${fmt(l.p50)} ms, p95 ${fmt(l.p95)} ms, cpu ${fmt(l.cpu)} ms\n`,
      );
    }
  }

  // Evidence recall@10: the source turns only (index < sourceTurns); their variants do not count.
  const recallAt = (name: string) => {
    const idOf = new Map<string, string>();
    corpus.slice(0, sourceTurns).forEach((t, i) => {
      idOf.set(`${t.conv}:${t.diaId}`, ids[name]?.[i] ?? "");
    });
    let found = 0;
    let total = 0;
    questions.forEach((q, i) => {
      const top = new Set(ranked[name]?.[i] ?? []);
      total += q.evidence.length;
      found += q.evidence.filter((e) => top.has(idOf.get(`${q.conv}:${e}`) ?? "-")).length;
    });
    return found / total;
  };

  const llmCalls = emb.counts.other;
  await hypha.close();
  await emb.close();
  rmSync(work, { recursive: true, force: true });
  if (llmCalls > 0) throw new Error(`mem0 called its LLM ${llmCalls} times with infer: false`);

  const search = (name: string): Lat => ({
    p50: median((passes[name] ?? []).map((l) => l.p50)),
    p95: median((passes[name] ?? []).map((l) => l.p95)),
    cpu: median((passes[name] ?? []).map((l) => l.cpu)),
  });
  /** mem0's figure over this system's, pass by pass (the same minutes of a shared machine), median. */
  const perPass = (name: string, field: keyof Lat) =>
    median((passes.mem0 ?? []).map((m, i) => m[field] / (passes[name]?.[i]?.[field] ?? Number.NaN)));
  const add = (name: string) => lat(addTimes[name]?.times ?? [], addTimes[name]?.cpu ?? []);
  const rows = [
    { name: "lexical", label: "Hypha, lexical (vectors off)" },
    { name: "hybrid", label: "Hypha, hybrid (vectors on, fused)" },
    { name: "mem0", label: `mem0 OSS ${MEM0_VERSION} (\`infer: false\`)` },
  ];
  const m0 = add("mem0");
  const md = `## Beside mem0 OSS (same embedder, 10k memories)

Hypha and [mem0](https://github.com/mem0ai/mem0) OSS (\`mem0ai@${MEM0_VERSION}\`, the \`Memory\` class of
\`mem0ai/oss\`) in the same process and run, over the same ${size.toLocaleString("en")} memories: LoCoMo turns as
\`speaker: text\` (${sourceTurns.toLocaleString("en")} source turns, then the same turns with the speakers renamed),
searched with ${questions.length} real LoCoMo questions, k = ${K} (\`node bench/run.ts mem0\`, on demand: not part of
\`npm run bench\`). mem0 is not a dependency: the benchmark installs it
into a scratch directory (\`npm install --no-save --ignore-scripts\`, plus \`better-sqlite3@${BETTER_SQLITE3_VERSION}\`,
which its local \`memory\` vector store and SQLite history import: mem0 asks for ^12.6.2, but 12.x aborts
the process on Node 24.19+ when the GC finalizes a statement, 13.x does not) and imports it from there.

- **Same embedder, not a real model.** No model service is reachable here, so both systems call one
  OpenAI-compatible \`/v1/embeddings\` served on 127.0.0.1 by the benchmark process: word unigrams and
  bigrams hashed into ${DIM} dimensions, L2-normalised. It is cheap and deterministic and knows no
  synonyms; with a real model each embedding call costs milliseconds more on both sides, and recall differs.
- **mem0 configuration**: embedder \`openai\` pointed at that endpoint; vector store \`memory\` (its
  SQLite file of vectors, brute-force cosine plus its in-process BM25 over every row); history
  \`sqlite\` (its default); telemetry off (\`MEM0_TELEMETRY=false\`); \`add(text, { userId, infer: false })\`,
  so no LLM extracts facts (its LLM config points at the local server, which counted ${llmCalls} chat
  calls); \`search(q, { filters: { user_id }, topK: ${K}, threshold: 0 })\`. Its optional peers (\`natural\`,
  \`compromise\`) are not installed, so it stems with its built-in fallback and finds no query entities.
- **Hypha**: in-process through its service (\`memories.store\` / \`memories.recall\`, k = ${K}), two tenants
  of the default kind (encrypted at rest), one with vectors off (lexical), one with vectors on (hybrid:
  BM25 and vector candidates fused). Every Hypha call also does what mem0 does not: authorization, an
  audit event per call, guardrail screening of the results, encryption and decryption of the rows, and
  the context block. mem0 has none of these.
- **Adds** are one memory per call, sequential, the three stores in turn for each memory; p50/p95 are
  over the ${size.toLocaleString("en")} adds of one pass. mem0 embeds on the write path (${mem0Embedded.toLocaleString("en")}
  embedding calls during the adds); Hypha never does: its embedding worker embeds after commit, in
  batches. Here that backfill took ${fmt(backfillSeconds, 1)} s for the ${size.toLocaleString("en")} memories of the hybrid
  tenant, i.e. ${fmt((backfillSeconds * 1000) / size, 2)} ms a memory, not part of its add figure.
- **Searches**: ${WARMUP} warm-up questions each, then ${PASSES} passes of the ${questions.length} questions, the systems in
  turn within each pass; p50 and p95 are the medians of the passes, the ratios the median of the
  per-pass ratios. Each search embeds its query (hybrid and mem0) through the same endpoint. CPU is the
  median CPU time (user + system) of one call, the embedding endpoint's share included (it runs in the
  same process): on a machine shared with other work, wall-clock times include waiting for a core, CPU
  time does not. Evidence recall@10 = LoCoMo evidence turns (source
  turns only, not their renamed variants) in the top 10 / evidence turns, all five conversations in one
  store, so lower than the per-conversation figures of the recall section. The hashing embedder is
  weaker than BM25 on these questions, so here fusing it lowers Hypha's recall; that says nothing of
  fusion with a real model.

| system | add p50 / p95 (ms) | add CPU (ms) | search p50 / p95 (ms) | search CPU (ms) | evidence recall@10 | mem0 ÷ this: add p50 / search p50 / search CPU |
| --- | --- | --- | --- | --- | --- | --- |
${rows
  .map(({ name, label }) => {
    const a = add(name);
    const s = search(name);
    const ratios =
      name === "mem0"
        ? "—"
        : `${fmt(m0.p50 / a.p50)} / ${fmt(perPass(name, "p50"))} / ${fmt(perPass(name, "cpu"))}`;
    return `| ${label} | ${fmt(a.p50)} / ${fmt(a.p95)} | ${fmt(a.cpu)} | ${fmt(s.p50)} / ${fmt(s.p95)} | ${fmt(s.cpu)} | ${fmt(recallAt(name), 3)} | ${ratios} |`;
  })
  .join("\n")}
`;
  process.stdout.write(md);
  writeSection("mem0", md);
}

if (import.meta.main) await run();
