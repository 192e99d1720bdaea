/**
 * Guardrails quality and speed on public corpora:
 * - PII precision/recall per type on the Presidio synthetic set (span-level, ≥ 50 % overlap of the
 *   gold span with the same type);
 * - prompt-injection detection on BIPIA text attacks embedded in its benign emails (prepend,
 *   middle, append) and the false-positive rate on the benign emails alone;
 * - detector latency per KB of text.
 *
 * Run: ./node_modules/.bin/node bench/guardrails.ts
 */
import { performance } from "node:perf_hooks";
import {
  EMBED_POSITIONS,
  embedAttack,
  loadBipia,
  loadPresidio,
  scoreInjection,
  scorePii,
} from "../src/modules/guardrails/evaluation.ts";
import { createGuardrails } from "../src/modules/guardrails/guardrails.ts";
import { detectInjection } from "../src/modules/guardrails/injection.ts";
import { detectPii } from "../src/modules/guardrails/pii.ts";
import { sanitize } from "../src/modules/guardrails/sanitize.ts";
import { detectSecrets } from "../src/modules/guardrails/secrets.ts";
import { percentile, writeSection } from "./report.ts";

const f3 = (n: number) => n.toFixed(3);

/** Splits the corpora's texts into documents of about `size` characters. */
function documents(texts: readonly string[], size: number): string[] {
  const docs: string[] = [];
  let cur = "";
  for (const t of texts) {
    cur += `${t}\n\n`;
    if (cur.length >= size) {
      docs.push(cur);
      cur = "";
    }
  }
  if (cur.length > 0) docs.push(cur);
  return docs;
}

async function latencyRows(texts: readonly string[]): Promise<string[]> {
  const guardrails = createGuardrails();
  const ctx = { tenantId: "tnt_bench" };
  const detectors: { name: string; run: (t: string) => unknown }[] = [
    { name: "sanitize", run: sanitize },
    { name: "detectPii", run: (t) => detectPii(t) },
    { name: "detectSecrets", run: detectSecrets },
    { name: "detectInjection", run: detectInjection },
    { name: "inspectInbound (all, no judge)", run: (t) => guardrails.inspectInbound(t, ctx) },
  ];
  const rows: string[] = [];
  for (const size of [1024, 16_384]) {
    const docs = documents(texts, size);
    for (const d of detectors) {
      for (const doc of docs.slice(0, 5)) await d.run(doc); // warm-up
      const perKb: number[] = [];
      for (let round = 0; round < 3; round++) {
        for (const doc of docs) {
          const t0 = performance.now();
          await d.run(doc);
          perKb.push((performance.now() - t0) / (Buffer.byteLength(doc) / 1024));
        }
      }
      perKb.sort((a, b) => a - b);
      rows.push(
        `| ${d.name} | ~${size / 1024} KB | ${perKb.length} | ${f3(percentile(perKb, 50))} | ${f3(percentile(perKb, 95))} |`,
      );
    }
  }
  return rows;
}

export async function run(): Promise<void> {
  const presidio = loadPresidio();
  const bipia = loadBipia();
  const pii = scorePii(presidio);
  // 0.5: ingested deliveries (and the engine default); 0.7: memory writes by agents and people.
  const thresholds = [0.4, 0.5, 0.7, 0.8];
  const injection = thresholds.map((t) => scoreInjection(bipia, t));
  const main = injection[1];
  if (!main) throw new Error("missing default-threshold score");

  const texts = [
    ...presidio.map((p) => p.full_text),
    ...bipia.emails,
    ...bipia.emails.map((e, i) => {
      const attack = bipia.attacks[i % bipia.attacks.length]?.text ?? "";
      return embedAttack(e, attack, EMBED_POSITIONS[i % 3] ?? "append");
    }),
  ];
  const latency = await latencyRows(texts);

  const md = [
    "## Guardrails",
    "",
    `### PII detection — Presidio synthetic set (${presidio.length} sentences)`,
    "",
    "A prediction is a true positive when its type equals the gold type and it covers at least 50 % of a",
    "not-yet-matched gold span; each gold span matches once. Unmatched predictions are false positives",
    "(including text the corpus leaves unlabelled); unmatched gold spans are false negatives. Other gold",
    "types (addresses, organisations, dates …) are not detected and not scored.",
    "",
    "| type | TP | FP | FN | precision | recall |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...pii.map((s) => `| ${s.type} | ${s.tp} | ${s.fp} | ${s.fn} | ${f3(s.precision)} | ${f3(s.recall)} |`),
    "",
    `### Prompt injection — BIPIA (${bipia.attacks.length} text attacks × ${bipia.emails.length} benign emails × 3 positions)`,
    "",
    "Each attack is embedded into each benign email three ways: prepended on its own line, appended on",
    "its own line, and inserted at the sentence or line boundary closest to the middle. Detected = an",
    "injection finding at or above the threshold (the inbound check with no LLM judge; 0.5 is the",
    "default policy). The false-positive rate is over the benign emails alone. The rules are general",
    "(override phrases, delimiters, directives aimed at the model's reply, assistant-task imperatives,",
    "request questions) but were written knowing the corpus' attack categories, so treat these figures",
    "as an upper bound for unseen attack styles.",
    "",
    "| threshold | trials | detected | detection rate | prepend | middle | append | benign FP | FPR |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...injection.map(
      (s) =>
        `| ${s.threshold} | ${s.trials} | ${s.detected} | ${f3(s.detectionRate)} | ${f3(s.byPosition.prepend)} | ${f3(s.byPosition.middle)} | ${f3(s.byPosition.append)} | ${s.falsePositives}/${s.benign} | ${f3(s.falsePositiveRate)} |`,
    ),
    "",
    "Detection rate per attack category at the default threshold:",
    "",
    "| category | rate |",
    "| --- | ---: |",
    ...main.byCategory.map((c) => `| ${c.category} | ${f3(c.rate)} |`),
    "",
    "### Latency",
    "",
    "Milliseconds per KB of UTF-8 text, over the corpora's texts joined into ~1 KB and ~16 KB documents,",
    "3 rounds after warm-up.",
    "",
    "| detector | document | samples | p50 ms/KB | p95 ms/KB |",
    "| --- | --- | ---: | ---: | ---: |",
    ...latency,
  ].join("\n");
  writeSection("guardrails", md);
  console.log(md);
}

if (import.meta.main) await run();
