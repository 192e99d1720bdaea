/**
 * The recall index against an earlier revision of itself, in one process over one vault: the base
 * revision's `impactSearch` (its `src/` taken from git) and the working tree's take turns on the same
 * LoCoMo questions, pass after pass, and their answers are compared. On a shared machine a figure
 * from another day says little; a ratio measured this way does.
 *
 * `node bench/run.ts recall-ab [--base=HEAD~1] [--size=100000] [--passes=5]`. The base must have the
 * same `impactSearch` signature. Prints total time, p50/p95/p99 per search and the median over
 * passes of the ratio working tree / base; writes nothing tracked.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { filterClause, visibilityClause } from "../src/modules/memories/memories.store.ts";
import { queryTerms } from "../src/modules/memories/recall.ts";
import * as current from "../src/modules/memories/recall-index.ts";
import { plainCodec, queryTokensOf } from "../src/modules/memories/row-codec.ts";
import { authorName } from "../src/platform/auth/actor.ts";
import { conversationalCorpus, loadConversations, turnMemory } from "./conversations.ts";
import { benchAgent } from "./harness.ts";
import { percentile } from "./report.ts";

const ROOT = resolve(import.meta.dirname, "..");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function run(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const base = arg("base") ?? "HEAD~1";
  const size = Number(arg("size") ?? 100_000);
  const passes = Number(arg("passes") ?? 5);
  const rev = execFileSync("git", ["rev-parse", "--short", base], { cwd: ROOT, encoding: "utf8" }).trim();
  // Inside the repository (ignored by git), so the base's imports resolve to the same node_modules.
  const baseDir = join(ROOT, "bench", `.ab-base-${rev}`);
  rmSync(baseDir, { recursive: true, force: true });
  mkdirSync(baseDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-ab-"));
  try {
    execFileSync("sh", ["-c", `git archive --format=tar ${rev} src | tar -x -C "${baseDir}"`], { cwd: ROOT });
    const before = (await import(join(baseDir, "src/modules/memories/recall-index.ts"))) as typeof current;

    const adminKey = generateSecret(KEY_PREFIX.admin);
    const app = await createApp({ config: loadConfig({}, { dataDir, adminKey, logLevel: "silent" }) });
    const { tenantId, actor } = await benchAgent(app, {
      name: "recall-ab",
      encryption: "none",
      policy: { embeddings: "off" },
      scopes: ["memories:write"],
    });
    const convs = loadConversations();
    const corpus = conversationalCorpus(convs, size);
    for (let i = 0; i < corpus.length; i += 1000) {
      await app.services.memories.store(actor, corpus.slice(i, i + 1000).map(turnMemory));
    }
    const db = await app.storage.tenant(tenantId);
    const reader = db.read ?? db;
    const now = Date.now();
    // The clause recall itself builds for an agent of the tenant (memories.service `recall`).
    const vis = visibilityClause({
      tenantId,
      now,
      namespaces: null,
      principal: authorName(actor),
      mode: "read",
      grants: [],
    });
    const fil = filterClause({ excludeQuarantined: true });
    const where = { sql: `${vis.sql} AND ${fil.sql}`, params: [...vis.params, ...fil.params] };
    const questions = convs.flatMap((c) => c.questions.map((q) => q.question)).filter((_, i) => i % 2 === 0);
    const tokens = questions.slice(0, 400).map((q) => queryTokensOf(plainCodec, queryTerms(q)));
    const sides = { base: before, current } as const;
    const search = (side: keyof typeof sides, i: number) => {
      const t = tokens[i];
      if (!t) throw new Error("no such question");
      // As recall calls it: a pool of 80 (k = 10), speaker terms and feedback on.
      return sides[side].impactSearch(reader, t.recall, where, 80, now, {
        speakers: t.speakers,
        feedback: true,
      });
    };
    for (let i = 0; i < 50; i++) for (const side of ["base", "current"] as const) await search(side, i);

    const times = { base: [] as number[], current: [] as number[] };
    const ratios: number[] = [];
    let differing = 0;
    for (let pass = 0; pass < passes; pass++) {
      const total = { base: 0, current: 0 };
      for (let i = 0; i < tokens.length; i++) {
        const answers: Record<string, string> = {};
        // Alternating which goes first, so neither always runs on a warmer cache.
        for (const side of (i + pass) % 2 ? (["base", "current"] as const) : (["current", "base"] as const)) {
          const t0 = performance.now();
          const { candidates } = await search(side, i);
          const ms = performance.now() - t0;
          times[side].push(ms);
          total[side] += ms;
          answers[side] = candidates.map((c) => `${c.seq}:${c.bm25.toFixed(9)}`).join(",");
        }
        if (answers.base !== answers.current) differing++;
      }
      ratios.push(total.current / total.base);
    }
    const line = (side: keyof typeof times) => {
      const t = [...times[side]].sort((a, b) => a - b);
      const sum = t.reduce((a, b) => a + b, 0);
      return `${side.padEnd(8)} total ${sum.toFixed(0)} ms, per search p50 ${percentile(t, 50).toFixed(2)} / p95 ${percentile(t, 95).toFixed(2)} / p99 ${percentile(t, 99).toFixed(2)} ms`;
    };
    process.stdout.write(
      `impactSearch at ${size} memories, ${tokens.length} LoCoMo questions x ${passes} passes, base ${rev}\n${line("base")}\n${line("current")}\ncurrent / base: median ${median(ratios).toFixed(3)} (passes ${ratios.map((r) => r.toFixed(3)).join(", ")}); answers differing: ${differing} of ${tokens.length * passes}\n`,
    );
    await app.close();
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}
