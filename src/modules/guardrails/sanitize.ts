import type { Finding } from "./guardrails.schemas.ts";

/** Kinds of characters the sanitiser removes. */
export type RemovedKind = "tag_character" | "bidi_control" | "zero_width" | "control_character";

export type SanitizeResult =
  | { ok: true; text: string; removed: Finding[]; normalized: boolean }
  | { ok: false; reason: "LONE_SURROGATE"; index: number };

function between(cp: number, lo: number, hi: number): boolean {
  return cp >= lo && cp <= hi;
}

/**
 * Classifies one code point. Tag characters render as nothing but models read them, so they
 * smuggle whole hidden instructions; supplementary variation selectors (U+E0100–U+E01EF) are used
 * the same way. Bidi embeddings, overrides, isolates and marks make a reader see another order than
 * a model reads. Zero-width and filler characters (Hangul fillers included) split or hide words.
 * C0 and C1 controls other than tab and line feed have no place in stored text.
 */
function kindOf(cp: number): RemovedKind | undefined {
  if (between(cp, 0xe0000, 0xe007f) || between(cp, 0xe0100, 0xe01ef)) return "tag_character";
  if (
    cp === 0x061c ||
    cp === 0x200e ||
    cp === 0x200f ||
    between(cp, 0x202a, 0x202e) ||
    between(cp, 0x2066, 0x2069)
  )
    return "bidi_control";
  if (
    cp === 0x00ad ||
    cp === 0x115f ||
    cp === 0x1160 ||
    cp === 0x180e ||
    between(cp, 0x200b, 0x200d) ||
    between(cp, 0x2060, 0x2064) ||
    cp === 0x3164 ||
    cp === 0xfeff
  )
    return "zero_width";
  if ((cp <= 0x1f && cp !== 0x09 && cp !== 0x0a) || between(cp, 0x7f, 0x9f)) return "control_character";
  return undefined;
}

const PICTOGRAPHIC_START = /^\p{Extended_Pictographic}/u;

/** True for the code point that may precede a joiner inside an emoji sequence. */
function joinsEmoji(prev: string): boolean {
  const cp = prev.codePointAt(0) ?? 0;
  return PICTOGRAPHIC_START.test(prev) || between(cp, 0x1f3fb, 0x1f3ff) || cp === 0xfe0f;
}

/** Index of the first unpaired UTF-16 surrogate, or -1. */
export function loneSurrogateIndex(text: string): number {
  if (text.isWellFormed()) return -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = text.charCodeAt(i + 1);
      if (n >= 0xdc00 && n <= 0xdfff) {
        i++;
        continue;
      }
      return i;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

/**
 * Cleans text before it is stored or shown to a model: rejects lone surrogates (they cannot be
 * encoded as UTF-8 and break downstream parsers), strips hidden and control characters, and
 * normalises to NFC so visually equal strings compare equal. The zero-width joiner is kept
 * between two pictographs, where it builds an emoji sequence rather than hiding anything.
 *
 * `removed` lists runs of removed characters by kind, with offsets into the input.
 *
 * @example
 * sanitize("pay\u200Bpal") // { ok: true, text: "paypal", removed: [{ type: "zero_width", start: 3, end: 4, ... }] }
 */
export function sanitize(text: string): SanitizeResult {
  const bad = loneSurrogateIndex(text);
  if (bad >= 0) return { ok: false, reason: "LONE_SURROGATE", index: bad };

  let suspicious = false;
  for (let i = 0; i < text.length && !suspicious; i++) {
    const c = text.charCodeAt(i);
    suspicious = c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0xad || c >= 0x0600;
  }
  if (!suspicious) {
    const normalizedText = text.normalize("NFC");
    return { ok: true, text: normalizedText, removed: [], normalized: normalizedText !== text };
  }
  const removed: Finding[] = [];
  let out = "";
  let prev = "";
  let index = 0;
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] ?? "";
    let kind = kindOf(ch.codePointAt(0) ?? 0);
    if (kind === "zero_width" && ch === "\u200D") {
      const next = chars[i + 1] ?? "";
      if (joinsEmoji(prev) && PICTOGRAPHIC_START.test(next)) kind = undefined;
    }
    if (kind === undefined) {
      out += ch;
      prev = ch;
    } else {
      const last = removed.at(-1);
      if (last && last.type === kind && last.end === index) last.end = index + ch.length;
      else removed.push({ type: kind, start: index, end: index + ch.length, confidence: 1 });
    }
    index += ch.length;
  }
  const normalizedText = out.normalize("NFC");
  return { ok: true, text: normalizedText, removed, normalized: normalizedText !== out };
}
