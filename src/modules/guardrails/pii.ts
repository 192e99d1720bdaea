import ipaddr from "ipaddr.js";
import type { Finding, PiiType } from "./guardrails.schemas.ts";
import { findNames } from "./names.ts";

/**
 * Rule-based PII detection. Every detector prefers a checksum or a structural rule over a bare
 * shape (Luhn for cards, mod-97 for IBANs, SSA rules for SSNs, ipaddr.js for IPs), and uses nearby
 * context words only to raise the confidence of shapes that are ambiguous on their own (phone
 * numbers, unformatted SSNs). Findings carry offsets and type, never the matched text.
 */
export type PiiFinding = Finding & { type: PiiType };

export type DetectPiiOptions = {
  /** Findings below this confidence are dropped (default 0.5). */
  minConfidence?: number;
  /** Only these types are reported (default all). */
  types?: readonly PiiType[];
  /**
   * Person names from the part-of-speech model and name lexicon as well as the cue rules (default
   * true). `false` keeps the cue rules only: a fraction of the cost, a quarter of the recall.
   */
  personModel?: boolean;
};

// ---------------------------------------------------------------- validators

/** Luhn (mod 10) check over the digits of `digits`. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** IBAN lengths per country (ISO 13616 registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

/** ISO 13616 check: known country, right length, mod-97 remainder 1. Spaces are ignored. */
export function ibanValid(iban: string): boolean {
  const s = iban.replace(/ /g, "").toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s)) return false;
  if (IBAN_LENGTHS[s.slice(0, 2)] !== s.length) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : ch;
    for (const d of value) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

/**
 * SSA rules: area not 000, 666 or 900–999; group not 00; serial not 0000; and not one of the
 * numbers the SSA lists as published in advertising.
 */
export function ssnValid(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  if (area.length !== 3 || group.length !== 2 || serial.length !== 4) return false;
  if (a === 0 || a === 666 || a >= 900) return false;
  if (group === "00" || serial === "0000") return false;
  const joined = `${area}${group}${serial}`;
  if (joined === "078051120" || joined === "219099999") return false;
  if (/^(\d)\1{8}$/.test(joined) || joined === "123456789") return false;
  return true;
}

/** Card brands by issuer prefix and length; a match raises confidence, Luhn alone is weaker. */
function cardBrandKnown(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  const p6 = Number(d.slice(0, 6));
  if (d.startsWith("4")) return n === 13 || n === 16 || n === 19;
  if (p2 >= 51 && p2 <= 55) return n === 16;
  if (p4 >= 2221 && p4 <= 2720) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19;
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
    return n >= 16 && n <= 19;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;
  if (p4 === 2131 || p4 === 1800) return n === 15;
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 12 && n <= 19;
  if (p2 === 62 || p2 === 81) return n >= 16 && n <= 19;
  return false;
}

// ---------------------------------------------------------------- context

/** Words that say a number is a phone number. */
const PHONE_CONTEXT =
  /\b(?:phone|tel|telephone|mobile|cell|cellphone|fax|call(?:ed|ing)?|ring|dial|text|sms|whatsapp|voicemail|hotline|answer(?:ing)?|messages?|reach(?:ed)? (?:me|us)|contact)\b|\bph\b|☎|📞/i;
/** Words that hint at a phone number only when nothing says the number is something else. */
const WEAK_PHONE_CONTEXT = /\b(?:number|no|nr|num|desk|office|home|work|mob|landline)\b/i;
/** Identifiers that share a phone's shape. */
const NOT_PHONE_CONTEXT =
  /\b(?:licen[cs]e|passport|account|acct|order|invoice|ref(?:erence)?|tracking|routing|policy|id|serial|ticket|case|zip|post(?:al|code)|iban|swift|sort code|isbn|vat)\b/i;
/** A number followed by a street name is a house number, not a phone. */
const STREET_AFTER =
  /^[ ,]+(?:\p{Lu}[\p{L}'-]+[ ]){1,3}(?:St|Street|Rd|Road|Ave|Avenue|Blvd|Boulevard|Lane|Ln|Way|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Highway|Hwy)\b/u;
const CARD_CONTEXT = /\b(?:card|cc|credit|debit|visa|mastercard|amex|maestro|payment|pan)\b/i;
const SSN_CONTEXT = /\b(?:ssn|social security|ss#|ssa|tin|taxpayer)\b/i;

function contextAround(text: string, start: number, end: number, before: number, after: number): string {
  return `${text.slice(Math.max(0, start - before), start)} ${text.slice(end, end + after)}`;
}

// ---------------------------------------------------------------- detectors

const EMAIL =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]{1,64}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}(?![\p{L}\p{N}-])/gu;

function findEmails(text: string, out: PiiFinding[]): void {
  for (const m of text.matchAll(EMAIL)) {
    const local = m[0].slice(0, m[0].indexOf("@"));
    if (local.startsWith(".") || local.endsWith(".") || local.includes("..")) continue;
    out.push({ type: "EMAIL", start: m.index, end: m.index + m[0].length, confidence: 0.95 });
  }
}

const CARD = /(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d]|-\d)/g;

function findCards(text: string, out: PiiFinding[]): void {
  for (const m of text.matchAll(CARD)) {
    const raw = m[0];
    const groups = raw.split(/[ -]/);
    if (groups.length > 1) {
      // Printed cards group digits in fours (Amex 4-6-5); anything else is another kind of number.
      const seps = new Set(raw.replace(/\d/g, ""));
      if (seps.size > 1) continue;
      const inner = groups.slice(0, -1);
      const last = groups.at(-1) ?? "";
      if (inner.some((g) => g.length < 4 || g.length > 6) || last.length < 1 || last.length > 6) continue;
    }
    const digits = groups.join("");
    if (/^(\d)\1+$/.test(digits) || !luhnValid(digits)) continue;
    const known = cardBrandKnown(digits);
    const ctx = CARD_CONTEXT.test(contextAround(text, m.index, m.index + raw.length, 40, 20));
    const confidence = known ? (ctx ? 0.98 : 0.9) : ctx ? 0.8 : 0.45;
    out.push({ type: "CREDIT_CARD", start: m.index, end: m.index + raw.length, confidence });
  }
}

const IBAN_START = /(?<![\p{L}\p{N}])([A-Za-z]{2})(\d{2})(?=[ ]?[A-Za-z0-9])/gu;

function findIbans(text: string, out: PiiFinding[]): void {
  for (const m of text.matchAll(IBAN_START)) {
    const country = (m[1] ?? "").toUpperCase();
    const length = IBAN_LENGTHS[country];
    if (length === undefined) continue;
    // Walk forward collecting alphanumerics; a single space is allowed only between groups of 4.
    let i = m.index;
    let count = 0;
    let compact = "";
    while (i < text.length && count < length) {
      const ch = text.charAt(i);
      if (/[A-Za-z0-9]/.test(ch)) {
        compact += ch;
        count++;
        i++;
      } else if (ch === " " && count % 4 === 0 && count > 0 && /[A-Za-z0-9]/.test(text.charAt(i + 1))) {
        i++;
      } else break;
    }
    if (count !== length || /[\p{L}\p{N}]/u.test(text.charAt(i))) continue;
    if (!ibanValid(compact)) continue;
    out.push({ type: "IBAN", start: m.index, end: i, confidence: 0.97 });
  }
}

const SSN = /(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d]|-\d)/g;

function findSsns(text: string, out: PiiFinding[]): void {
  for (const m of text.matchAll(SSN)) {
    const [raw, area = "", sep = "", group = "", serial = ""] = m;
    if (!ssnValid(area, group, serial)) continue;
    const ctx = SSN_CONTEXT.test(contextAround(text, m.index, m.index + raw.length, 50, 10));
    let confidence: number;
    if (sep === "-") confidence = ctx ? 0.97 : 0.85;
    else confidence = ctx ? 0.9 : 0.3;
    out.push({ type: "SSN", start: m.index, end: m.index + raw.length, confidence });
  }
}

const IPV4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)/g;
const IPV6 =
  /(?<![\p{L}\p{N}:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\p{L}\p{N}:])/gu;

function findIps(text: string, out: PiiFinding[]): void {
  for (const m of text.matchAll(IPV4)) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(m[0])) continue;
    out.push({ type: "IP_ADDRESS", start: m.index, end: m.index + m[0].length, confidence: 0.85 });
  }
  for (const m of text.matchAll(IPV6)) {
    const raw = m[0];
    if (!/[0-9A-Fa-f]/.test(raw) || !ipaddr.IPv6.isValid(raw)) continue;
    out.push({ type: "IP_ADDRESS", start: m.index, end: m.index + raw.length, confidence: 0.85 });
  }
}

const PHONE =
  /(?<![\p{L}\p{N}+/-])(?:\+|00)?\(?\d[\d ().-]{5,24}\d(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?(?![\p{N}]|[-.]\d)/giu;
const NANP = /^(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}$/;

function findPhones(text: string, out: PiiFinding[]): void {
  for (const m of text.matchAll(PHONE)) {
    const raw = m[0];
    const ext = /\s?(?:x|ext\.?|extension)\s?\d{1,5}$/i.exec(raw);
    const main = ext ? raw.slice(0, ext.index) : raw;
    const digits = main.replace(/\D/g, "");
    if (digits.length < 7 || digits.length > 15) continue;
    if (/[ ().-]{2}/.test(main.replace(/\) /g, ")").replace(/ \(/g, "("))) continue;
    if ((main.match(/\(/g) ?? []).length !== (main.match(/\)/g) ?? []).length) continue;
    // Dates, times and decimal amounts share the shape.
    if (/^\d{4}-\d{2}-\d{2}|^\d{1,2}[./-]\d{1,2}[./-]\d{4}$/.test(main)) continue;
    if (/^\d+\.\d{1,2}$/.test(main)) continue;
    if (/^(?:\d{1,3}\.){3}\d{1,3}$/.test(main)) continue;
    if (STREET_AFTER.test(text.slice(m.index + raw.length, m.index + raw.length + 60))) continue;
    const around = contextAround(text, m.index, m.index + raw.length, 40, 12);
    const ctx =
      PHONE_CONTEXT.test(around) ||
      (WEAK_PHONE_CONTEXT.test(around) &&
        !NOT_PHONE_CONTEXT.test(text.slice(Math.max(0, m.index - 40), m.index)));
    const international = /^(?:\+|00)/.test(main) && digits.length >= 8;
    const formatted = NANP.test(main) || ext !== null || /\(\d{1,4}\)/.test(main);
    let confidence = 0.35;
    if (international || formatted) confidence = 0.8;
    else if (/^\d{3}-\d{3}-\d{4}$/.test(main)) confidence = 0.75;
    if (ctx) confidence = Math.min(0.95, confidence + 0.35);
    out.push({ type: "PHONE", start: m.index, end: m.index + raw.length, confidence });
  }
}

const NAME_WORD = String.raw`\p{Lu}[\p{Ll}'’-]+(?:-\p{Lu}[\p{Ll}]+)?`;
const INITIAL = String.raw`\p{Lu}\.`;
const NAME_SEQ = `${NAME_WORD}(?:[ ](?:${INITIAL}|${NAME_WORD})){0,2}(?:[ ]${NAME_WORD})?`;
const TITLE_NAME = new RegExp(
  String.raw`\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Madam|Mme|Mlle|Herr|Frau|Sr|Sra)\.?[ ](${NAME_SEQ})`,
  "gu",
);
const CUE_NAME = new RegExp(
  String.raw`\b(?:[Mm]y name is|[Nn]ame:|[Nn]ame is|I am|I'm|[Tt]his is|[Cc]alled|[Nn]amed|Dear|Hi|Hello|Hey|[Ss]igned|[Cc]ontact person:?|[Aa]ttn:?|[Ff]rom:)[ \t]+(${NAME_SEQ})`,
  "gu",
);
const LOWER_CUE_NAME = /\bmy name is[ ]+(\p{Ll}{2,}(?:[ ]\p{Ll}\.?)?[ ]\p{Ll}{2,})(?=[ .,!?]|$)/gu;
const HEADER_NAME = new RegExp(String.raw`^(${NAME_SEQ})[ \t]*$`, "gmu");
const SIGNOFF_NAME = new RegExp(
  String.raw`(?:[Rr]egards|[Ss]incerely|Cheers|Thanks|Thank you|Best|[Yy]ours(?: truly)?|[Ww]ishes)[,!]?[ \t]*\n+[ \t]*(${NAME_SEQ})`,
  "gu",
);
/** Capitalised words that start sentences or label things far more often than they name people. */
const NOT_NAMES = new Set(
  "The A An And Or But If In On At To For Of With From By As Is It This That These Those I We You He She They My Our Your His Her Their Please Thanks Thank Hello Hi Dear Yes No Not Here There Date Name Phone Mobile Fax Desk Email E-mail Address Website Personal Info Suite Apt Street Road Avenue Unit Box Office Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September October November December Team Inc Ltd Sent Subject Regards Sincerely Best Customer Support Service Services Account Card Bank Payment Total Invoice Order Today Tomorrow Yesterday Going Looking Writing Sorry Happy Glad Afraid Sure Just New All Any Some Will Can Could Would Should"
    .split(" ")
    .map((w) => w.toLowerCase()),
);

function pushName(text: string, start: number, name: string, confidence: number, out: PiiFinding[]): void {
  const words = name.split(" ");
  // Trim leading/trailing words that are common capitalised non-names.
  while (words.length > 0 && NOT_NAMES.has((words[0] ?? "").toLowerCase().replace(/\.$/, ""))) {
    start += (words.shift() ?? "").length + 1;
  }
  while (words.length > 0 && NOT_NAMES.has((words.at(-1) ?? "").toLowerCase())) words.pop();
  if (words.length === 0) return;
  const value = words.join(" ");
  if (!/\p{L}{2}/u.test(value)) return;
  out.push({ type: "PERSON", start, end: start + value.length, confidence });
  void text;
}

function findPersons(text: string, out: PiiFinding[], model: boolean): void {
  for (const m of text.matchAll(TITLE_NAME)) {
    const name = m[1] ?? "";
    pushName(text, m.index + m[0].length - name.length, name, 0.85, out);
  }
  for (const m of text.matchAll(CUE_NAME)) {
    const name = m[1] ?? "";
    const words = name.split(" ").length;
    pushName(text, m.index + m[0].length - name.length, name, words >= 2 ? 0.75 : 0.55, out);
  }
  for (const m of text.matchAll(LOWER_CUE_NAME)) {
    const name = m[1] ?? "";
    pushName(text, m.index + m[0].length - name.length, name, 0.6, out);
  }
  for (const m of text.matchAll(SIGNOFF_NAME)) {
    const name = m[1] ?? "";
    pushName(text, m.index + m[0].length - name.length, name, 0.65, out);
  }
  // A document that opens with a line holding only a 2–4 word capitalised name (a CV, a signature
  // card, a letterhead) very often opens with the person's name.
  const first = HEADER_NAME.exec(text.slice(0, text.indexOf("\n") >= 0 ? text.indexOf("\n") : text.length));
  HEADER_NAME.lastIndex = 0;
  if (first && (first[1] ?? "").split(" ").length >= 2 && text.includes("\n")) {
    pushName(text, first.index, first[1] ?? "", 0.6, out);
  }
  if (model) for (const n of findNames(text)) out.push({ type: "PERSON", ...n });
}

// ---------------------------------------------------------------- public

/** When two findings overlap, the more specific type wins (a checksum beats a shape). */
const PRIORITY: Readonly<Record<PiiType, number>> = {
  EMAIL: 7,
  IBAN: 6,
  CREDIT_CARD: 5,
  SSN: 4,
  IP_ADDRESS: 3,
  PHONE: 2,
  PERSON: 1,
};

function resolveOverlaps(findings: PiiFinding[]): PiiFinding[] {
  const ranked = [...findings].sort(
    (a, b) =>
      PRIORITY[b.type] - PRIORITY[a.type] ||
      b.confidence - a.confidence ||
      b.end - b.start - (a.end - a.start),
  );
  const kept: PiiFinding[] = [];
  for (const f of ranked) {
    if (kept.some((k) => k.start < f.end && f.start < k.end)) continue;
    kept.push(f);
  }
  return kept.sort((a, b) => a.start - b.start || a.end - b.end);
}

/**
 * Finds PII in `text`: email addresses, phone numbers, payment cards (Luhn), IBANs (mod-97), US
 * SSNs (SSA rules), IPv4/IPv6 addresses (ipaddr.js) and person names — introduced by a title, a cue
 * ("my name is", "Dear", a sign-off) or a name-only first line, and found by part of speech, a name
 * lexicon and the words around them (see names.ts). Overlapping candidates are resolved
 * to the most specific type; candidates below `minConfidence` are discarded first, so a weak phone
 * shape never hides a strong finding.
 *
 * @example
 * detectPii("mail me at ana@example.org") // [{ type: "EMAIL", start: 11, end: 26, confidence: 0.95 }]
 */
export function detectPii(text: string, options: DetectPiiOptions = {}): PiiFinding[] {
  const min = options.minConfidence ?? 0.5;
  const types = new Set<PiiType>(options.types ?? (Object.keys(PRIORITY) as PiiType[]));
  const all: PiiFinding[] = [];
  if (types.has("EMAIL")) findEmails(text, all);
  if (types.has("CREDIT_CARD")) findCards(text, all);
  if (types.has("IBAN")) findIbans(text, all);
  if (types.has("SSN")) findSsns(text, all);
  if (types.has("IP_ADDRESS")) findIps(text, all);
  if (types.has("PHONE")) findPhones(text, all);
  if (types.has("PERSON")) findPersons(text, all, options.personModel ?? true);
  return resolveOverlaps(all.filter((f) => f.confidence >= min));
}
