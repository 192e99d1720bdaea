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

/**
 * A leading `Name:` then a space: who speaks in a memory written as a turn of a conversation
 * (`Caroline: I went to …`, `user: …`), or what the line is (`Note: …`). One word, or up to three
 * capitalised ones (`Mary Ann Lee:`), so a clause that happens to end in a colon names no one.
 */
const SPEAKER_RE =
  /^\s*(\p{L}[\p{L}\p{M}'’.-]*|\p{Lu}[\p{L}\p{M}'’.-]*(?:[ \t]\p{Lu}[\p{L}\p{M}'’.-]*){1,2})[ \t]*:(?:\s|$)/u;
const SPEAKER_MAX = 40;

/** The recall tokens of the speaker named at the start of `text` (see SPEAKER_RE), none when it names none. */
export function speakerTokens(text: string): string[] {
  const name = SPEAKER_RE.exec(text)?.[1];
  return name && name.length <= SPEAKER_MAX ? [...new Set(recallTokens(name))] : [];
}

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const MONTH = "(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?";
const DAY = "(\\d{1,2})(?:st|nd|rd|th)?";
/** Day month year (`8 May, 2023`), month day year (`May 8th, 2023`), ISO (`2023-05-08`, with or without a time). */
const DATE_RES = [
  { re: new RegExp(`\\b${DAY}\\s+(?:of\\s+)?${MONTH},?\\s+(\\d{4})\\b`, "gu"), d: 1, m: 2, y: 3 },
  { re: new RegExp(`\\b${MONTH}\\s+${DAY},?\\s+(\\d{4})\\b`, "gu"), d: 2, m: 1, y: 3 },
  { re: /\b(\d{4})-(\d{2})-(\d{2})(?![\d])/gu, d: 3, m: 2, y: 1 },
] as const;

const monthOf = (s: string) => {
  const n = /^\d+$/.test(s) ? Number(s) - 1 : MONTHS.findIndex((m) => m.startsWith(s.slice(0, 3)));
  return MONTHS[n];
};

/**
 * The dates written in `text`, each as the words a person would use for it: the day, the month's name
 * and the year (`2023-05-08` and `1:56 pm on 8 May, 2023` both give `8 may 2023`), so a question that
 * names a date in words meets a memory that holds it in another form. Folded words, de-duplicated.
 */
export function dateWords(text: string): string[] {
  const folded = foldText(text);
  const out = new Set<string>();
  for (const { re, d, m, y } of DATE_RES) {
    for (const match of folded.matchAll(re)) {
      const day = Number(match[d]);
      const month = monthOf(match[m] ?? "");
      if (!month || day < 1 || day > 31) continue;
      out
        .add(String(day))
        .add(month)
        .add(match[y] ?? "");
    }
  }
  return [...out];
}

/** `dateWords` as recall tokens. */
export function dateTokens(text: string): string[] {
  return [...new Set(dateWords(text).map(recallTerm))];
}

/**
 * The recall index's term for a speaker token: never a word's (a word holds no colon), so a name
 * as speaker and the same name in the text are two terms.
 */
export function speakerTerm(token: string): string {
  return `speaker:${token}`;
}
