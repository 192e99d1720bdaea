import { stemmer } from "stemmer";

const WORD_RE = /[\p{L}\p{N}]+/gu;

/** Lowercase, compatibility-normalised, without diacritics: the same folding FTS5's unicode61 does. */
export function foldText(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .normalize("NFC");
}

/** One stemmed token (Porter), for a word already folded. */
export function stemToken(word: string): string {
  return /^[a-z]+$/.test(word) ? stemmer(word) : word;
}

/**
 * The words of `text` folded and Porter-stemmed in JS, so the same function on a query finds the
 * same tokens (the base of `recallTokens`). Prefix and fuzzy matching are lost once tokens are hashed.
 */
export function indexTokens(text: string): string[] {
  const out: string[] = [];
  for (const m of foldText(text).matchAll(WORD_RE)) out.push(stemToken(m[0]));
  return out;
}

/**
 * The recall index's tokens for `text`: `indexTokens` with a final `y` read as `i`, because Porter
 * turns a final `y` into `i` only on some paths ("deployed" → "deploi", "deployments" → "deploy").
 */
export function recallTokens(text: string): string[] {
  return indexTokens(text).map(finalY);
}

/** The recall index's token for one word already folded (as `recallTokens` of it, without folding again). */
export function recallTerm(foldedWord: string): string {
  return finalY(stemToken(foldedWord));
}

const finalY = (t: string) => (t.length > 2 && t.endsWith("y") ? `${t.slice(0, -1)}i` : t);
