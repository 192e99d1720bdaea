import type { Finding } from "./guardrails.schemas.ts";
import { PII_TYPES } from "./guardrails.schemas.ts";

const PII = new Set<string>(PII_TYPES);

/**
 * The placeholder that replaces a finding: `[EMAIL]`, `[CREDIT_CARD]`… for PII,
 * `[REDACTED:<name>]` for a secret (the same marker the log redactor writes), `[REMOVED]` otherwise.
 */
export function placeholderFor(type: string): string {
  if (PII.has(type)) return `[${type}]`;
  if (type.startsWith("secret:")) return `[REDACTED:${type.slice("secret:".length)}]`;
  return "[REMOVED]";
}

/**
 * Replaces the spans of `findings` in `text` with typed placeholders. Overlapping spans are merged
 * into one replaced region, named after the finding with the highest confidence (then the longest,
 * then the earliest), so a card number inside a flagged phone shape still reads `[CREDIT_CARD]`.
 * Spans outside the text are clipped; empty spans are ignored.
 *
 * @example
 * maskSpans("mail ana@x.io now", [{ type: "EMAIL", start: 5, end: 13, confidence: 0.9 }]) // "mail [EMAIL] now"
 */
export function maskSpans(text: string, findings: readonly Finding[]): string {
  const spans = findings
    .map((f) => ({ ...f, start: Math.max(0, f.start), end: Math.min(text.length, f.end) }))
    .filter((f) => f.end > f.start)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const regions: { start: number; end: number; best: Finding }[] = [];
  for (const f of spans) {
    const last = regions.at(-1);
    if (last && f.start < last.end) {
      last.end = Math.max(last.end, f.end);
      const b = last.best;
      const better =
        f.confidence > b.confidence || (f.confidence === b.confidence && f.end - f.start > b.end - b.start);
      if (better) last.best = f;
    } else regions.push({ start: f.start, end: f.end, best: f });
  }
  let out = "";
  let cursor = 0;
  for (const r of regions) {
    out += text.slice(cursor, r.start) + placeholderFor(r.best.type);
    cursor = r.end;
  }
  return out + text.slice(cursor);
}
