/**
 * Ingest throughput over GitHub's public webhook corpus (`@octokit/webhooks-examples`, every example
 * of every event type), replayed in a loop with fresh delivery ids: signed deliveries over real HTTP
 * to `POST /v1/ingest/{tenant}/{connector}`, then the worker mapping them (memories for the events
 * that carry meaning, ignored-with-a-reason for the rest). The baseline, measured in the same run on
 * the same server, is the same number of small uniform `issues.opened` deliveries. Figures are
 * medians of several runs.
 *
 * Run: ./node_modules/.bin/node bench/ingest-corpus.ts [--write]   (docs/benchmarks.md only with --write)
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { writeSection } from "./report.ts";

const SECRET = "bench-corpus-secret-0123456789";
const CORPUS = createRequire(import.meta.url)("@octokit/webhooks-examples") as {
  name: string;
  examples: unknown[];
}[];

type Delivery = { event: string; body: string };
type Pass = { ackPerSecond: number; workerPerSecond: number; endToEndPerSecond: number; memories: number };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

export async function run(
  opts: { loops?: number; runs?: number; concurrency?: number; write?: boolean } = {},
) {
  const loops = opts.loops ?? 3;
  const runs = opts.runs ?? 3;
  const concurrency = opts.concurrency ?? 8;
  const write = opts.write ?? process.argv.includes("--write");
  const corpus: Delivery[] = CORPUS.flatMap((e) =>
    e.examples.map((p) => ({ event: e.name, body: JSON.stringify(p) })),
  );
  const replayed = Array.from({ length: loops }, () => corpus).flat();
  const uniform: Delivery[] = replayed.map((_, n) => ({
    event: "issues",
    body: JSON.stringify({
      action: "opened",
      issue: {
        number: n,
        title: `Issue ${n}: login fails on Safari`,
        body: "Steps: open, click, fail.",
        user: { login: "octo" },
      },
      repository: { full_name: "acme/app" },
      sender: { login: "octo" },
    }),
  }));
  const corpusBytes = corpus.reduce((n, d) => n + Buffer.byteLength(d.body), 0);

  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-corpus-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const hypha = await createApp({
    config: loadConfig({}, { dataDir, adminKey, logLevel: "silent", port: 0 }),
  });
  const url = await hypha.app.listen({ host: "127.0.0.1", port: 0 });
  let seq = 0;
  try {
    const call = async (path: string, body: unknown) => {
      const res = await fetch(url + path, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const tenantId = (await call("/v1/tenants", { name: "bench" })).id as string;

    async function pass(deliveries: readonly Delivery[]): Promise<Pass> {
      const connector = await call(`/v1/tenants/${tenantId}/connectors`, {
        name: `gh-${seq++}`,
        config: { source: "github", secret: SECRET, mapping: { namespace: "bench" } },
      });
      const path = connector.ingest_path as string;
      let next = 0;
      let accepted = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < deliveries.length) {
            const n = next++;
            const d = deliveries[n] as Delivery;
            const res = await fetch(url + path, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                "x-github-event": d.event,
                "x-github-delivery": `bench-${seq}-${n}`,
                "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(d.body).digest("hex")}`,
              },
              body: d.body,
            });
            await res.arrayBuffer();
            if (res.status === 202) accepted++;
          }
        }),
      );
      const ackSeconds = (performance.now() - t0) / 1000;
      const w0 = performance.now();
      const processed = await hypha.services.connectors.worker.drain();
      const workerSeconds = (performance.now() - w0) / 1000;
      if (accepted !== deliveries.length || processed !== deliveries.length) {
        throw new Error(`accepted ${accepted}, processed ${processed} of ${deliveries.length}`);
      }
      const health = (await (
        await fetch(`${url}/v1/tenants/${tenantId}/connectors/${connector.id as string}/health`, {
          headers: { authorization: `Bearer ${adminKey}` },
        })
      ).json()) as { outcomes: { stored: number } };
      return {
        ackPerSecond: accepted / ackSeconds,
        workerPerSecond: processed / workerSeconds,
        endToEndPerSecond: processed / (ackSeconds + workerSeconds),
        memories: health.outcomes.stored,
      };
    }

    const corpusRuns: Pass[] = [];
    const baseRuns: Pass[] = [];
    // Alternate, so drift on a shared machine hits both alike.
    for (let r = 0; r < runs; r++) {
      baseRuns.push(await pass(uniform));
      corpusRuns.push(await pass(replayed));
    }
    const m = (xs: Pass[], k: keyof Pass) => median(xs.map((x) => x[k]));
    const result = {
      deliveries: replayed.length,
      corpusExamples: corpus.length,
      eventTypes: CORPUS.length,
      corpusBytes,
      memoriesPerReplay: (corpusRuns[0]?.memories ?? 0) / loops,
      corpus: {
        ackPerSecond: m(corpusRuns, "ackPerSecond"),
        workerPerSecond: m(corpusRuns, "workerPerSecond"),
        endToEndPerSecond: m(corpusRuns, "endToEndPerSecond"),
      },
      baseline: {
        ackPerSecond: m(baseRuns, "ackPerSecond"),
        workerPerSecond: m(baseRuns, "workerPerSecond"),
        endToEndPerSecond: m(baseRuns, "endToEndPerSecond"),
      },
    };
    const ratio = (k: keyof typeof result.corpus) => (result.corpus[k] / result.baseline[k]).toFixed(2);
    if (write) {
      writeSection(
        "ingest-corpus",
        `## Ingest over GitHub's public webhook corpus

Every example of \`@octokit/webhooks-examples\` (${corpus.length} payloads, ${CORPUS.length} event types,
${(corpusBytes / 1024).toFixed(0)} KiB) replayed ${loops}× with fresh delivery ids (${replayed.length} signed deliveries),
${concurrency} concurrent senders over HTTP on 127.0.0.1; then the worker maps the inbox
(${result.memoriesPerReplay} memories per replay of the corpus, the rest ignored with a reason). Baseline: the same number of
small uniform \`issues.opened\` deliveries on the same server in the same run. Medians of ${runs} runs.

| Figure | Corpus | Baseline | Ratio |
| --- | --- | --- | --- |
| Acknowledged (202) | ${result.corpus.ackPerSecond.toFixed(0)} /s | ${result.baseline.ackPerSecond.toFixed(0)} /s | ${ratio("ackPerSecond")} |
| Worker (inbox → memories or ignored) | ${result.corpus.workerPerSecond.toFixed(0)} /s | ${result.baseline.workerPerSecond.toFixed(0)} /s | ${ratio("workerPerSecond")} |
| End to end | ${result.corpus.endToEndPerSecond.toFixed(0)} /s | ${result.baseline.endToEndPerSecond.toFixed(0)} /s | ${ratio("endToEndPerSecond")} |`,
      );
    }
    return result;
  } finally {
    await hypha.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  process.stdout.write(`${JSON.stringify(await run(), null, 2)}\n`);
}
