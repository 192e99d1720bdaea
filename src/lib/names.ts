import { resolve, sep } from "node:path";
import { z } from "zod";

/**
 * Names that may end up in file paths or SQL identifiers are closed alphabets.
 * A namespace is lowercase segments separated by "/" or ".", no "..", no leading separator.
 */
export const NAMESPACE_RE = /^[a-z0-9][a-z0-9_-]{0,62}(?:[./][a-z0-9][a-z0-9_-]{0,62}){0,7}$/;
export const namespaceSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(NAMESPACE_RE, "lowercase letters, digits, '_' and '-', segments joined by '/' or '.'");

export const LABEL_RE = /^[\p{L}\p{N}][\p{L}\p{N} _.:/@#-]{0,127}$/u;
export const labelSchema = z.string().min(1).max(128).regex(LABEL_RE, "letters, digits and _ . : / @ # -");

export const memoryTypeSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, "lowercase letters, digits, '_' and '-'");

/** Joins `parts` under `root` and refuses any result outside it. */
export function safeJoin(root: string, ...parts: string[]): string {
  const base = resolve(root);
  const full = resolve(base, ...parts);
  if (full !== base && !full.startsWith(base + sep)) {
    throw new Error("path escapes its root");
  }
  return full;
}
