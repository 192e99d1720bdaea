/**
 * What the hardening changes cost, each against a baseline measured in the same run:
 * - the outbound policy on a read memory: content and every metadata value (`screenMemory`) against
 *   the content alone (what recall inspected before), on LoCoMo dialogue turns with four metadata
 *   values each, the default outbound policy;
 * - the common-password check (zxcvbn-ts) against the argon2id hash it precedes, and its one-time
 *   dictionary build on first use.
 *
 * Medians of 5 runs. Run: ./node_modules/.bin/node bench/hardening.ts [--write]
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { guardrailPolicySchema } from "../src/modules/guardrails/guardrails.schemas.ts";
import { createGuardrails } from "../src/modules/guardrails/guardrails.ts";
import { checkPasswordPolicy, hashPassword } from "../src/modules/identity/passwords.ts";
import type { Memory } from "../src/modules/memories/memories.schemas.ts";
import { memoryOf } from "../src/modules/memories/memory-row.fixture.ts";
import { type OutboundInspect, screenMemory } from "../src/modules/memories/outbound.ts";
import { writeSection } from "./report.ts";

const RUNS = 5;
const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

type Turn = { speaker: string; dia_id: string; text: string };

function locomoMemories(limit: number): Memory[] {
  const raw = JSON.parse(
    readFileSync(resolve(import.meta.dirname, "../../shared/data/locomo/locomo-dev.json"), "utf8"),
  ) as { conversation: Record<string, unknown> }[];
  const out: Memory[] = [];
  for (const sample of raw) {
    for (const [name, value] of Object.entries(sample.conversation)) {
      if (!Array.isArray(value)) continue;
      const date = String(sample.conversation[`${name}_date_time`] ?? "");
      for (const turn of value as Turn[]) {
        out.push(
          memoryOf(turn.text, {
            id: `mem_${out.length}`,
            namespace: "locomo",
            type: "episodic",
            metadata: { speaker: turn.speaker, turn: turn.dia_id, session: name, date },
            agent: "bench",
            owner: "bench",
          }),
        );
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function run(): Promise<string> {
  const guardrails = createGuardrails();
  const policy = guardrailPolicySchema.parse({});
  const inspect: OutboundInspect = async (text) => {
    const v = await guardrails.inspectOutbound(text, { tenantId: "tnt_bench", policy });
    return v.action === "block" ? null : { content: v.text, flagged: v.action !== "allow" };
  };
  const memories = locomoMemories(2000);
  const contentOnly = async () => {
    for (const m of memories) await inspect(m.content);
  };
  const whole = async () => {
    for (const m of memories) await screenMemory(inspect, m);
  };
  await contentOnly();
  await whole();
  const base: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    base.push(await timed(contentOnly));
    full.push(await timed(whole));
  }
  const perMemory = (ms: number) => (ms * 1000) / memories.length;

  const firstCheck = await timed(async () => {
    await checkPasswordPolicy("a first password to build the dictionaries");
  });
  const passwords = [
    "correct horse battery staple",
    "Password123!",
    "purple-elephant-42-kite",
    "qwertyuiop123",
    "tr0ub4dor&3xyz",
    "s3cure-Passphrase-2026",
  ];
  const check: number[] = [];
  const hash: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    check.push(
      (await timed(async () => {
        for (const p of passwords) await checkPasswordPolicy(p, { userInputs: ["ada@example.com"] });
      })) / passwords.length,
    );
    const strong: string[] = [];
    for (const p of passwords) if ((await checkPasswordPolicy(p)).ok) strong.push(p);
    hash.push(
      (await timed(async () => {
        for (const p of strong) await hashPassword(p);
      })) / strong.length,
    );
  }

  const md = [
    "## Hardening: outbound policy on metadata, common-password check",
    "",
    `Outbound policy (default: secrets \`mask\`) over ${memories.length} LoCoMo turns with 4 metadata values each, medians of ${RUNS} runs:`,
    "",
    "| what is inspected | µs per memory | ratio |",
    "| --- | ---: | ---: |",
    `| content only (baseline, recall before) | ${perMemory(median(base)).toFixed(1)} | 1.00 |`,
    `| content and metadata (\`screenMemory\`, every read path now) | ${perMemory(median(full)).toFixed(1)} | ${(median(full) / median(base)).toFixed(2)} |`,
    "",
    `Password policy with the common-password check (zxcvbn-ts), per password, medians of ${RUNS} runs:`,
    "",
    "| step | ms | ratio to the hash |",
    "| --- | ---: | ---: |",
    `| argon2id hash (m=19456 KiB, t=2; baseline) | ${median(hash).toFixed(1)} | 1.00 |`,
    `| policy check, dictionaries built | ${median(check).toFixed(1)} | ${(median(check) / median(hash)).toFixed(2)} |`,
    `| first check in a process (imports and builds the dictionaries, once) | ${firstCheck.toFixed(0)} | ${(firstCheck / median(hash)).toFixed(1)} |`,
  ].join("\n");
  if (process.argv.includes("--write")) writeSection("hardening", md);
  console.log(md);
  return md;
}

if (import.meta.main) await run();
