import { findSecrets } from "../../lib/secret-patterns.ts";
import type { Finding } from "./guardrails.schemas.ts";

/**
 * Secret detection over the shared registry in src/lib/secret-patterns.ts, so the guardrails,
 * the log redactor and the audit writer agree on what a secret looks like. Finding types are
 * `secret:<pattern name>`; overlapping matches (a JWT inside a Bearer header) are kept apart so each
 * shape is reported, and masking merges them.
 */
export function detectSecrets(text: string): Finding[] {
  return findSecrets(text)
    .map((s) => ({
      type: `secret:${s.name}`,
      start: s.start,
      end: s.end,
      confidence: s.name === "password_assignment" ? 0.8 : 0.95,
    }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
}
