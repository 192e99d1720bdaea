/**
 * The one registry of secret shapes. Log redaction, error scrubbing, the audit writer and the
 * guardrails' secret detector all read it, so a shape added here is caught everywhere.
 */
export type SecretPattern = { name: string; pattern: RegExp };

export const SECRET_PATTERNS: readonly SecretPattern[] = [
  { name: "hypha_key", pattern: /\bhy[akm]_[A-Za-z0-9_-]{20,}/g },
  {
    name: "private_key",
    pattern: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )?PRIVATE KEY-----/g,
  },
  { name: "jwt", pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { name: "bearer", pattern: /\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/gi },
  { name: "aws_access_key", pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { name: "github_token", pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b/g },
  { name: "slack_token", pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { name: "stripe_key", pattern: /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  { name: "stripe_webhook_secret", pattern: /\bwhsec_[A-Za-z0-9+/=]{16,}/g },
  { name: "openai_key", pattern: /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g },
  { name: "google_api_key", pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g },
  { name: "gitlab_token", pattern: /\bglpat-[A-Za-z0-9_-]{20,}/g },
  { name: "npm_token", pattern: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { name: "huggingface_token", pattern: /\bhf_[A-Za-z0-9]{30,}\b/g },
  { name: "sendgrid_key", pattern: /\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g },
  {
    // A 40-character AWS secret access key, recognisable only by the name written before it.
    name: "aws_secret_key",
    pattern:
      /(?<=\b(?:aws[_-]?)?secret[_-]?(?:access[_-]?)?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])/gi,
  },
  {
    name: "password_assignment",
    pattern:
      /(?<=\b(?:password|passwd|pwd|passphrase|client_secret|api[_-]?key|access[_-]?token|auth[_-]?token|(?:aws[_-]?)?secret[_-]?(?:access[_-]?)?key)["']?\s*[:=]\s*["']?)(?!\[REDACTED)[^\s"',;]{6,256}/gi,
  },
  { name: "url_password", pattern: /(?<=[a-z][a-z0-9+.-]*:\/\/[^\s:/@]{1,128}:)[^\s@/]{1,256}(?=@)/gi },
];

/** Replaces every registered secret shape in `text` with `[REDACTED:<name>]`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const { name, pattern } of SECRET_PATTERNS) {
    pattern.lastIndex = 0;
    out = out.replace(pattern, `[REDACTED:${name}]`);
  }
  return out;
}

/** Finds every registered secret shape in `text`, with offsets. */
export function findSecrets(text: string): { name: string; start: number; end: number }[] {
  const found: { name: string; start: number; end: number }[] = [];
  for (const { name, pattern } of SECRET_PATTERNS) {
    pattern.lastIndex = 0;
    for (const m of text.matchAll(pattern)) {
      found.push({ name, start: m.index, end: m.index + m[0].length });
    }
  }
  return found;
}

/** Deep-copies `value`, redacting secret shapes in every string (bounded depth and breadth). */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.slice(0, 200).map((v) => redactDeep(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, 200)) out[k] = redactDeep(v, depth + 1);
  return out;
}
