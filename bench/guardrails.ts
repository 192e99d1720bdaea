/**
 * Guardrails quality and speed on public corpora:
 * - PII precision/recall per type on the Presidio synthetic set (span-level, ≥ 50 % overlap of the
 *   gold span with the same type), with person names by the model and, in the same run, by the cue
 *   rules alone;
 * - prompt-injection detection on BIPIA text attacks embedded in its benign emails and on BIPIA
 *   code attacks embedded in its benign programming answers (prepend, middle, append), and the
 *   false-positive rate on the benign documents alone;
 * - detector latency per KB of text (medians and p95 over documents and rounds).
 *
 * Run: ./node_modules/.bin/node bench/guardrails.ts [--write]   (--write rewrites docs/benchmarks.md)
 */
import { performance } from "node:perf_hooks";
import { findCodeAttacks } from "../src/modules/guardrails/code-attack.ts";
import {
  EMBED_POSITIONS,
  embedAttack,
  type InjectionScore,
  loadBipia,
  loadBipiaCode,
  loadPresidio,
  scoreInjection,
  scorePii,
  withCategories,
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
    { name: "detectPii, person cue rules only (baseline)", run: (t) => detectPii(t, { personModel: false }) },
    { name: "detectSecrets", run: detectSecrets },
    { name: "detectInjection", run: detectInjection },
    { name: "of which findCodeAttacks", run: findCodeAttacks },
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

const injectionRow = (s: InjectionScore) =>
  `| ${s.threshold} | ${s.trials} | ${s.detected} | ${f3(s.detectionRate)} | ${f3(s.byPosition.prepend)} | ${f3(s.byPosition.middle)} | ${f3(s.byPosition.append)} | ${s.falsePositives}/${s.benign} | ${f3(s.falsePositiveRate)} |`;

export async function run(): Promise<void> {
  const presidio = loadPresidio();
  const bipia = loadBipia();
  const code = loadBipiaCode();
  const pii = scorePii(presidio);
  const piiRules = scorePii(presidio, { personModel: false }).find((s) => s.type === "PERSON");
  // 0.5: ingested deliveries (and the engine default); 0.7: memory writes by agents and people.
  const thresholds = [0.4, 0.5, 0.7, 0.8];
  const injection = thresholds.map((t) => scoreInjection(bipia, t));
  const main = injection[1];
  if (!main) throw new Error("missing default-threshold score");
  const codeScores = thresholds.map((t) => scoreInjection(code, t));
  const codeMain = codeScores[1];
  if (!codeMain) throw new Error("missing default-threshold score");
  const categories = [...new Set(code.attacks.map((a) => a.category))];
  const halves = [categories.slice(0, 5), categories.slice(5)].map((c) => ({
    categories: c,
    score: scoreInjection(withCategories(code, c), 0.5),
  }));
  // Each half of an attack alone: the code block without the sentence, the sentence without code.
  const payloadOnly = scoreInjection(
    { ...code, attacks: code.attacks.map((a) => ({ ...a, text: a.text.split("\n").slice(1).join("\n") })) },
    0.5,
  );
  const directiveOnly = scoreInjection(
    { ...code, attacks: code.attacks.map((a) => ({ ...a, text: a.text.split("\n")[0] ?? "" })) },
    0.5,
  );

  const texts = [
    ...presidio.map((p) => p.full_text),
    ...bipia.benign,
    ...code.benign,
    ...bipia.benign.map((e, i) => {
      const attack = bipia.attacks[i % bipia.attacks.length]?.text ?? "";
      return embedAttack(e, attack, EMBED_POSITIONS[i % 3] ?? "append");
    }),
    ...code.benign.map((c, i) => {
      const attack = code.attacks[i % code.attacks.length]?.text ?? "";
      return embedAttack(c, attack, EMBED_POSITIONS[i % 3] ?? "append");
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
    ...(piiRules
      ? [
          `| PERSON, cue rules only (baseline, same run) | ${piiRules.tp} | ${piiRules.fp} | ${piiRules.fn} | ${f3(piiRules.precision)} | ${f3(piiRules.recall)} |`,
        ]
      : []),
    "",
    "Person names come from wink-nlp's part-of-speech tags (English web model) and compromise's",
    "lexicon of given names, family names, places and organisations, scored with the words around each",
    "candidate (titles, cues, verbs of a person, street and organisation words); the cue rules (titles,",
    '"my name is", sign-offs) still run beside them. No name from the corpus is in the rules. Sentences',
    "written all in lower case are mostly missed (the model relies on capitals).",
    "",
    `### Prompt injection — BIPIA text attacks (${bipia.attacks.length} attacks × ${bipia.benign.length} benign emails × 3 positions)`,
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
    ...injection.map(injectionRow),
    "",
    "Detection rate per attack category at the default threshold:",
    "",
    "| category | rate |",
    "| --- | ---: |",
    ...main.byCategory.map((c) => `| ${c.category} | ${f3(c.rate)} |`),
    "",
    `### Prompt injection — BIPIA code attacks (${code.attacks.length} attacks × ${code.benign.length} programming answers × 3 positions)`,
    "",
    "Each attack is a sentence telling the reader to put a code block into their own code, followed by",
    "the block (cookie theft, exfiltration, download-and-run, mining, sabotage …); it is embedded into",
    "each benign Stack Overflow answer of BIPIA's code task as above. The rules describe intent — a",
    "directive aimed at the reader's own code, and harmful behaviour in code (a sensitive source beside",
    "a network sink, a download beside an execution, a fetched file pushed to nearby machines, or an act",
    "harmful by itself) — not the training snippets; they were written with all ten categories in view,",
    "so the halves below are a consistency check, not a held-out result. The false-positive rate is over",
    "the 50 benign answers alone.",
    "",
    "| threshold | trials | detected | detection rate | prepend | middle | append | benign FP | FPR |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...codeScores.map(injectionRow),
    "",
    "| split at the default threshold | detection rate | benign FP |",
    "| --- | ---: | ---: |",
    ...halves.map(
      (h) =>
        `| categories ${h.categories.join(", ")} | ${f3(h.score.detectionRate)} | ${h.score.falsePositives}/${h.score.benign} |`,
    ),
    `| code block alone (no directive) | ${f3(payloadOnly.detectionRate)} | |`,
    `| directive alone (no code block) | ${f3(directiveOnly.detectionRate)} | |`,
    "",
    "Detection rate per attack category at the default threshold:",
    "",
    "| category | rate |",
    "| --- | ---: |",
    ...codeMain.byCategory.map((c) => `| ${c.category} | ${f3(c.rate)} |`),
    "",
    "### Latency",
    "",
    "Milliseconds per KB of UTF-8 text, over the corpora's texts (Presidio sentences, emails, programming",
    "answers, with and without attacks) joined into ~1 KB and ~16 KB documents, 3 rounds after warm-up.",
    "The cue-rules-only PII row is the baseline for the cost of the name model, measured in the same run;",
    "`findCodeAttacks` is the part of `detectInjection` that the code rules add.",
    "",
    "| detector | document | samples | p50 ms/KB | p95 ms/KB |",
    "| --- | --- | ---: | ---: | ---: |",
    ...latency,
  ].join("\n");
  if (process.argv.includes("--write")) writeSection("guardrails", md);
  console.log(md);
}

if (import.meta.main) await run();
