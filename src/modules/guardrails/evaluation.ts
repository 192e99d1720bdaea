import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { PiiType } from "./guardrails.schemas.ts";
import { detectPii } from "./pii.ts";

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
export function scorePii(items: readonly PresidioItem[]): TypeScore[] {
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
    for (const p of detectPii(item.full_text)) {
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
