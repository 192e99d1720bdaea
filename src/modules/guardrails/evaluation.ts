import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { PiiType } from "./guardrails.schemas.ts";
import { detectInjection, injectionScore } from "./injection.ts";
import { type DetectPiiOptions, detectPii } from "./pii.ts";

/**
 * Scoring of the detectors against public corpora (shared by the benchmark and the corpus test).
 * The corpora live outside the repository, in the shared data folder next to it.
 */
export const DATA_DIR = resolve(import.meta.dirname, "../../..", "../shared/data");

/** Gold entity names of the Presidio synthetic set mapped to the detector's types. */
export const GOLD_TYPE: Readonly<Record<string, PiiType>> = {
  EMAIL_ADDRESS: "EMAIL",
  PHONE_NUMBER: "PHONE",
  CREDIT_CARD: "CREDIT_CARD",
  IBAN_CODE: "IBAN",
  US_SSN: "SSN",
  IP_ADDRESS: "IP_ADDRESS",
  PERSON: "PERSON",
};

type PresidioItem = {
  full_text: string;
  spans: { entity_type: string; start_position: number; end_position: number }[];
};

export type TypeScore = {
  type: PiiType;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
};

export function loadPresidio(path = resolve(DATA_DIR, "pii/presidio-synth-dev.json")): PresidioItem[] {
  return JSON.parse(readFileSync(path, "utf8")) as PresidioItem[];
}

/**
 * Span-level scoring per type. A prediction is a true positive when it has the gold span's type and
 * covers at least half of a not-yet-matched gold span; each gold span is matched at most once.
 * Unmatched predictions are false positives (including spans of another gold type or of text the
 * corpus leaves unlabelled); unmatched gold spans are false negatives.
 */
export function scorePii(items: readonly PresidioItem[], options: DetectPiiOptions = {}): TypeScore[] {
  const counts = new Map<PiiType, { tp: number; fp: number; fn: number }>();
  for (const t of Object.values(GOLD_TYPE)) counts.set(t, { tp: 0, fp: 0, fn: 0 });
  for (const item of items) {
    const gold = item.spans
      .filter((s) => GOLD_TYPE[s.entity_type] !== undefined)
      .map((s) => ({
        type: GOLD_TYPE[s.entity_type] as PiiType,
        start: s.start_position,
        end: s.end_position,
        hit: false,
      }));
    for (const p of detectPii(item.full_text, options)) {
      const c = counts.get(p.type);
      if (!c) continue;
      const match = gold.find((g) => {
        if (g.hit || g.type !== p.type) return false;
        const overlap = Math.min(g.end, p.end) - Math.max(g.start, p.start);
        return overlap >= 0.5 * (g.end - g.start);
      });
      if (match) {
        match.hit = true;
        c.tp++;
      } else c.fp++;
    }
    for (const g of gold) {
      const c = counts.get(g.type);
      if (c && !g.hit) c.fn++;
    }
  }
  return [...counts].map(([type, c]) => ({
    type,
    ...c,
    precision: c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp),
    recall: c.tp + c.fn === 0 ? 1 : c.tp / (c.tp + c.fn),
  }));
}

// ---------------------------------------------------------------- prompt injection (BIPIA)

export type EmbedPosition = "prepend" | "middle" | "append";
export const EMBED_POSITIONS: readonly EmbedPosition[] = ["prepend", "middle", "append"];

/** Attacks by category and the benign documents they are embedded into. */
export type InjectionCorpus = { attacks: { category: string; text: string }[]; benign: string[] };

const BIPIA_DIR = resolve(DATA_DIR, "prompt-injection/bipia");

/** BIPIA's text attacks (test split) and its benign emails. */
export function loadBipia(dir = BIPIA_DIR): InjectionCorpus {
  const byCategory = JSON.parse(readFileSync(resolve(dir, "text_attack_test.json"), "utf8")) as Record<
    string,
    string[]
  >;
  const attacks = Object.entries(byCategory).flatMap(([category, list]) =>
    list.map((text) => ({ category, text })),
  );
  const emails = readFileSync(resolve(dir, "email_test.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { context: string }).context);
  return { attacks, benign: emails };
}

/**
 * BIPIA's code attacks (training split: an instruction to put a code block into the reader's code)
 * and its benign programming contexts (Stack Overflow answers, one document per context).
 */
export function loadBipiaCode(dir = BIPIA_DIR): InjectionCorpus {
  const byCategory = JSON.parse(readFileSync(resolve(dir, "code_attack_train.json"), "utf8")) as Record<
    string,
    string[]
  >;
  const attacks = Object.entries(byCategory).flatMap(([category, list]) =>
    list.map((text) => ({ category, text })),
  );
  const benign = readFileSync(resolve(dir, "code_train.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { context: string[] }).context.join("\n"));
  return { attacks, benign };
}

/** The corpus restricted to some attack categories (a held-out half, one category …). */
export function withCategories(data: InjectionCorpus, categories: readonly string[]): InjectionCorpus {
  return { attacks: data.attacks.filter((a) => categories.includes(a.category)), benign: data.benign };
}

/**
 * Puts an attack into a benign document (an email, a programming answer) the way an attacker controlling part of a delivery would:
 * `prepend` — the attack, a line break, the email; `append` — the email, a line break, the attack;
 * `middle` — the attack, followed by a space, inserted at the sentence or line boundary closest to
 * the middle of the email (after `.`, `!` or `?` plus whitespace, or after a line break), or
 * appended on its own line when the email has no inner boundary.
 */
export function embedAttack(email: string, attack: string, position: EmbedPosition): string {
  if (position === "prepend") return `${attack}\n${email}`;
  if (position === "append") return `${email}\n${attack}`;
  const mid = email.length / 2;
  let best = -1;
  for (const m of email.matchAll(/[.!?]\s+|\n/g)) {
    const at = m.index + m[0].length;
    if (at >= email.length) continue;
    if (best < 0 || Math.abs(at - mid) < Math.abs(best - mid)) best = at;
  }
  if (best < 0) return `${email}\n${attack}`;
  return `${email.slice(0, best)}${attack} ${email.slice(best)}`;
}

export type InjectionScore = {
  threshold: number;
  trials: number;
  detected: number;
  detectionRate: number;
  byPosition: Record<EmbedPosition, number>;
  byCategory: { category: string; rate: number }[];
  benign: number;
  falsePositives: number;
  falsePositiveRate: number;
};

/**
 * Detection = some injection finding at or above `threshold` (what the inbound injection check of
 * the guardrails does with no judge). Every attack is embedded into every benign email at every
 * position; the false-positive rate is over the benign emails alone.
 */
export function scoreInjection(data: InjectionCorpus, threshold = 0.5): InjectionScore {
  const hit = (text: string) => injectionScore(detectInjection(text)) >= threshold;
  const byPosition: Record<EmbedPosition, number> = { prepend: 0, middle: 0, append: 0 };
  const perCategory = new Map<string, { hit: number; total: number }>();
  let detected = 0;
  let trials = 0;
  for (const attack of data.attacks) {
    const cat = perCategory.get(attack.category) ?? { hit: 0, total: 0 };
    perCategory.set(attack.category, cat);
    for (const email of data.benign) {
      for (const position of EMBED_POSITIONS) {
        trials++;
        cat.total++;
        if (hit(embedAttack(email, attack.text, position))) {
          detected++;
          cat.hit++;
          byPosition[position]++;
        }
      }
    }
  }
  const perPositionTrials = data.attacks.length * data.benign.length;
  const falsePositives = data.benign.filter(hit).length;
  return {
    threshold,
    trials,
    detected,
    detectionRate: trials === 0 ? 0 : detected / trials,
    byPosition: {
      prepend: byPosition.prepend / perPositionTrials,
      middle: byPosition.middle / perPositionTrials,
      append: byPosition.append / perPositionTrials,
    },
    byCategory: [...perCategory].map(([category, c]) => ({ category, rate: c.hit / c.total })),
    benign: data.benign.length,
    falsePositives,
    falsePositiveRate: data.benign.length === 0 ? 0 : falsePositives / data.benign.length,
  };
}
