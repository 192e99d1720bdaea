import { createRequire } from "node:module";

/**
 * Person-name detection from part-of-speech tags, a name lexicon and the words around a candidate.
 *
 * wink-nlp with its English web model tokenises the text and tags parts of speech; compromise
 * contributes its lexicon of given names, family names, places and organisations (its tagger is
 * not run — the lexicon is a lookup table). A candidate is a run of capitalised proper-noun tokens,
 * with initials and name particles inside. Evidence for a person adds up — a title or a cue before
 * the run ("my name is", "directed by"), a verb or possessive of a person after it ("… lives at",
 * "…'s daughter"), a given name from the lexicon, the First [M.] Last shape — and evidence for
 * something else takes away: a street word or house number, an organisation suffix, a place from
 * the lexicon, a common English word. Both models ship inside their npm packages; nothing is
 * downloaded at run time.
 */
export type NameSpan = { start: number; end: number; confidence: number };

type Token = { value: string; lower: string; pos: string; start: number; end: number; space: string };

type WinkDoc = { tokens(): { out(f: unknown): string[] } };
type Wink = {
  readDoc(text: string): WinkDoc;
  its: { value: unknown; pos: unknown; precedingSpaces: unknown };
};
type Lexicon = Record<string, string | string[]>;

let loaded: { wink: Wink; lexicon: Lexicon } | undefined;

/**
 * Loads the tagger and the lexicon now (about a second, once per process). A server calls it before
 * it listens: on the first screened request it would hold the event loop long enough to be taken for
 * overload. Otherwise they load on first use.
 */
export function loadNameModels(): void {
  models();
}

/** The tagger and the lexicon, loaded on first use. */
function models(): { wink: Wink; lexicon: Lexicon } {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const winkNLP = require("wink-nlp") as (model: unknown, pipe: string[]) => Wink;
    const wink = winkNLP(require("wink-eng-lite-web-model"), ["pos"]);
    const compromise = require("compromise") as { world(): { model: { one: { lexicon: Lexicon } } } };
    loaded = { wink, lexicon: compromise.world().model.one.lexicon };
  }
  return loaded;
}

/**
 * The tagger splits words at letters beyond Latin-1 ("Jožef" → "Jo", "ž", "ef"). Each such letter is
 * replaced by its base letter (or a placeholder of the same case) one UTF-16 unit for one, so the
 * offsets of the folded text are those of the original.
 */
function fold(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ch = text.charAt(i);
    if (c <= 0xff || !/\p{L}|\p{M}/u.test(ch)) {
      out += ch;
      continue;
    }
    const base = ch.normalize("NFD").charAt(0);
    if (base.charCodeAt(0) <= 0xff && base !== ch) out += base;
    else if (/\p{M}/u.test(ch)) out += "a";
    else out += ch === ch.toLowerCase() ? "a" : "A";
  }
  return out;
}

function tokenize(text: string): Token[] {
  const { wink } = models();
  // The tagger slows down sharply on very long tokens; no name is one (same length, spaces instead).
  const doc = wink.readDoc(fold(text).replace(/\S{64,}/g, (run) => " ".repeat(run.length)));
  const values = doc.tokens().out(wink.its.value);
  const pos = doc.tokens().out(wink.its.pos);
  const spaces = doc.tokens().out(wink.its.precedingSpaces);
  const out: Token[] = [];
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    const space = spaces[i] ?? "";
    at += space.length;
    const end = at + (values[i] ?? "").length;
    const value = text.slice(at, end);
    out.push({ value, lower: value.toLowerCase(), pos: pos[i] ?? "X", start: at, end, space });
    at = end;
  }
  return joinHyphenated(out);
}

/** "Mayo-Walters" and "McDowell-Smith" come back as three tokens; a name is one word. */
function joinHyphenated(toks: Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Token;
    const dash = toks[i + 1];
    const next = toks[i + 2];
    if (
      dash?.value === "-" &&
      dash.space === "" &&
      next?.space === "" &&
      /^\p{Lu}/u.test(t.value) &&
      /^\p{Lu}/u.test(next.value)
    ) {
      const value = `${t.value}-${next.value}`;
      out.push({ ...t, value, lower: value.toLowerCase(), end: next.end });
      i += 2;
    } else out.push(t);
  }
  return out;
}

function tags(word: string): readonly string[] {
  const t = models().lexicon[word.toLowerCase()];
  return t === undefined ? [] : Array.isArray(t) ? t : [t];
}

const NAME_TAGS = new Set(["FemaleName", "MaleName", "FirstName", "LastName", "Person"]);
const PLACE_TAGS = new Set(["City", "Country", "Place", "Region", "Demonym", "Organization", "SportsTeam"]);
const isGiven = (w: string) =>
  tags(w).some((t) => t === "FemaleName" || t === "MaleName" || t === "FirstName");
const isFamily = (w: string) => tags(w).includes("LastName");
const isPlace = (w: string) => tags(w).some((t) => PLACE_TAGS.has(t));
/** A word the lexicon knows only as something other than a name ("Excuse", "Southern", "Guilty"). */
const isCommonWord = (w: string) => {
  const t = tags(w);
  // Rare nouns the lexicon tags only as "Noun" are often given names too (Alma, Crystal, Rose).
  return t.length > 0 && !t.some((x) => NAME_TAGS.has(x)) && !(t.length === 1 && t[0] === "Noun");
};
/** Endings of family names across languages (patronymics, Slavic, Nordic, Iberian, Greek, Armenian). */
const FAMILY_SUFFIX =
  /(?:sson|sen|son|dóttir|dottir|ović|ovič|ević|evič|ić|ič|ová|ova|eva|ski|ska|sky|skaya|skiy|enko|chuk|czyk|wicz|vich|ovich|ev|ov|in|ez|es|escu|eanu|poulos|opoulos|akis|idis|ian|yan|oglu|oğlu|ucci|etti|elli|ini|ino|mann|berg|ström|qvist|kvist|strand|lund|gren|holm|nen|inen|lainen|ald|ard|ley|ton|ford|well|wood)$/iu;

/** A capitalised word; inner capitals only after a name prefix (McDowell, LeBlanc, not TypeError). */
const CAPITALISED =
  /^(?:Mc|Mac|O['’]|D['’]|Di|De|Da|Du|La|Le|Van|Von|Fitz|Al-|El-)?\p{Lu}[\p{Ll}\p{M}'’]*\p{Ll}[\p{Ll}\p{M}'’]*(?:-\p{Lu}[\p{Ll}\p{M}'’]+)*$/u;
/^(?:Mc|Mac|O'|D'|Di|De|La|Le|Van)?\p{Lu}[\p{Ll}\p{M}'’]*\p{Ll}[\p{L}\p{M}'’]*(?:-\p{Lu}[\p{Ll}\p{M}'’]+)*$/u;
const INITIAL = /^\p{Lu}\.?$/u;
const PARTICLES = new Set(
  "de da das do dos du van von der den del della di la le bin ibn al el ten ter y".split(" "),
);
const TITLES = new Set("mr mrs ms miss mx dr prof sir dame madam mme mlle herr frau sr sra st".split(" "));

/** Words that make the run an address. */
const STREET =
  /^(?:street|st|avenue|ave|road|rd|lane|ln|boulevard|blvd|drive|dr|court|ct|place|pl|square|sq|terrace|highway|hwy|way|suite|apt|apartment|unit|box|floor|building|rue|via|vicolo|calle|avenida|rua|strada|piazza|plaza|allee|gasse|platz|utca|út|tér|ulica|pass|parkway|pkwy|crescent|close|row|walk|hill|park|bridge|corner|postbox|route|gateway|turnpike|loop|radial|harbor|harbour|mall|bypass|coves?|creek|crossing|estates?|expressway|extension|field|fields|flats?|ford|forest|fork|freeway|garden|gardens|glen|green|grove|heights|hollow|island|junction|key|knolls?|lake|lakes|landing|light|lights|lodge|manor|meadows?|mews|mill|mills|mission|motorway|mount|mountain|orchard|oval|overpass|path|pike|pines|plains?|point|points|port|prairie|ranch|rapids|ridge|river|shoals?|shore|shores|skyway|spring|springs|spur|station|stream|summit|throughway|trace|track|trafficway|trail|tunnel|underpass|union|valley|viaduct|view|villages?|ville|vista|wells?|info|kapu|nord|syd)$|^\p{L}{3,}(?:katu|kuja|tie|vej|vejen|gade|gata|gatan|vägen|veien|vegen|straße|strasse|weg|laan|straat|plein|gasse|utca|ulica|cesta|sokak|caddesi|polku|raitti|brekka|stræti|braut|stígur)$/iu;
/** Words that make the run an organisation. */
const ORG =
  /^(?:inc|corp|corporation|co|company|companies|ltd|llc|llp|pllc|lp|pc|pty|plc|sarl|srl|spa|kg|kk|gmbh|ag|sa|sas|bv|nv|oy|ab|as|group|holdings|bank|insurance|technologies|technology|tech|systems|solutions|services|partners|associates|foundation|institute|university|college|school|academy|hospital|clinic|orchestra|band|records|studios|media|tv|radio|weekly|times|news|magazine|journal|club|society|association|agency|department|ministry|council|committee|party|church|hotel|restaurant|cafe|airlines|motors|labs|software|networks|energy|industries|enterprises|international|global|capital|ventures|consulting|trust|union|federation|league|festival|awards|explorer|data)$/iu;

/** Cue words before a name, by strength. */
const STRONG_BEFORE =
  /(?:\bmy name is|\bname is|\bname:|\bnamed|\bcalled|\b(?:named|called) (?:him|her|them|me|it)|\bcall me|\bi'?m|\bi am|\bthis is|\bdear|\bhi|\bhello|\bhey|\bsigned|\bregards,?|\bsincerely,?|\bthanks,?|\bcontact person:?|\battn:?|\bfrom:|\bto:|\bcc:|\bauthor:?|\bby:|\bsurname(?: is)?:?|\blast name(?: is)?:?|\bfirst name(?: is)?:?|\bmaiden name(?: is)?|\bdirected by:?|\bstarring|\bfeaturing|\bfeat\.|\bproduced by|\bname\b[^.?!]{0,30}\?(?:\s*user:)?|\bwritten by|\bsung by|\bperformed by|\b(?:co-?)?(?:founders?|members|authors|speakers|winners|candidates|owners|partners|hosts|guests)(?::| (?:were|are|include|included))|\bmr\.?|\bmrs\.?|\bms\.?|\bdr\.?|\bprof\.?)$/iu;
const MEDIUM_BEFORE =
  /(?:\bby|\bwith|\bsays|\bsaid|\bthanks to|\baccording to|\bproducer|\bsinger|\bsongwriter|\bauthor|\bdirector|\bactor|\bactress|\bwriter|\bartist|\bwife|\bhusband|\bson|\bdaughter|\bkid|\bchild|\bmother|\bfather|\bbrother|\bsister|\bfriend|\bcolleague|\bmanager|\bboss|\bpartner|\bguardian|\bpatient|\bcustomer|\bclient|\buser|\bemployee|\bowner|\bholder|\bask|\bgiven|\bgave|\bname|\bmeet|\bmet|\btold|\bremind|\bremove|\badd|\bchange it to|\bto|\bfollow up with|\bnot by|\band|\bsee|\bvisit(?:ed)?|\bcontact|\bemail|\bcall|\btext|\bnote from|\bassigned to|\bunder|\bshouted at|\btold|\bto|\bsaid \p{Lu}\p{Ll}+ to)$/iu;
/** Prepositions that usually introduce a place or an organisation. */
const PLACE_BEFORE =
  /(?:\bin|\bat|\bfrom|\bnear|\bof|\bacross|\btoward|\btowards|\bwork for|\bworks for|\bjoined|\bvia|\bon)$/iu;

const PERSON_AFTER =
  /^(?:'s\b|’s\b|\s*:\s*\S|,? (?:who|whose|whom)\b|,? (?:lives?|lived|living|said|says|explained|told|wrote|writes|asked|replied|answered|sang|sings|sung|played|plays|directed|starred|stars|was born|is born|born|died|dies|flew|went|came|comes|moved|works|worked|spent|met|married|will|would|has|had|have|shouted|yelled|whispered|cried|smiled|laughed|began|begins|started|joined|left|decided|wants|wanted|needs|needed|likes|liked|loves|loved|thinks|thought|knows|knew|emailed|texted|visited|bought|sold|paid|sent|received|won|became|remained|stayed|arrived|returned|graduated|studied|retired|resigned|agreed|signed|insisted|added|noted|confirmed|announced|admitted|recalled|hopes|hoped|is (?:a|an|the|my|our|not|from|in|at|on|currently|going|looking|interested|retired|no longer|still|very|so|really|always|never|too|quite)|was (?:a|an|the|my|our|not|born|from|in|at|on|also|going|influenced|recorded)|and (?:I|me|my|his|her)\b|(?:himself|herself)|(?:a|an) [a-z]+ (?:from|at|in)\b|\(\d|\d{1,3},? (?:years|yo)\b)|,? (?:\p{Lu}\p{Ll}+,? )?(?:aged|age) \d|(?:,? and|,) \p{Lu}\p{Ll}+ (?:were|are|have|had)\b|, (?:the |a |an |our |my |your )?[\p{L} -]{2,40}, (?:said|says|added|explained|told|wrote|asked|noted)\b)/u;
const PLACE_AFTER = /^(?:,?\s*\d|,? (?:\p{Lu}{2}\b|\d{4,})|\s+\d)/u;

/** How far line boundaries are looked for: bounded, so a text without line breaks stays linear. */
const LINE_WINDOW = 200;

/** Start of the line holding `pos`, or -1 when that lies more than LINE_WINDOW characters back. */
function lineStartOf(text: string, pos: number): number {
  const from = Math.max(0, pos - LINE_WINDOW);
  const k = text.slice(from, pos).lastIndexOf("\n");
  if (k >= 0) return from + k + 1;
  return from === 0 ? 0 : -1;
}

/** End of the line holding `pos`, or -1 when that lies more than LINE_WINDOW characters ahead. */
function lineEndOf(text: string, pos: number): number {
  const k = text.slice(pos, pos + LINE_WINDOW).indexOf("\n");
  if (k >= 0) return pos + k;
  return pos + LINE_WINDOW >= text.length ? text.length : -1;
}

function beforeText(text: string, start: number): string {
  const lineStart = lineStartOf(text, start);
  return text
    .slice(Math.max(lineStart, start - 40), start)
    .replace(/[\s>"'“‘(]+$/u, "")
    .trimStart();
}

type Candidate = {
  start: number;
  end: number;
  score: number;
  given: boolean;
  /** A family name by the lexicon or by its ending. */
  family: boolean;
  placey: boolean;
};

/**
 * Finds person names. Each candidate run is scored from the evidence around it; runs joined into a
 * list ("Kónya, Becker and Vasquez") share the evidence of their members; only runs that reach 0.5
 * are reported, with a confidence that grows with the score (at most 0.9: a name is never certain).
 *
 * @example
 * findNames("Mohmad R. Vizirov will be talking in the conference") // [{ start: 0, end: 17, … }]
 */
export function findNames(text: string): NameSpan[] {
  if (!/\p{Lu}\p{Ll}/u.test(text)) return [];
  const toks = tokenize(text);
  const cands: Candidate[] = [];
  let i = 0;
  while (i < toks.length) {
    const t = toks[i] as Token;
    if (!isNameWord(t)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < toks.length) {
      const u = toks[j] as Token;
      if (u.space.includes("\n") || u.space.length > 1) break;
      const next = toks[j + 1];
      if (isNameWord(u) || (CAPITALISED.test(u.value) && (isFamily(u.value) || !isCommonWord(u.value)))) j++;
      else if (INITIAL.test(u.value) && next && !next.space.includes("\n") && isNameWord(next)) j++;
      else if (PARTICLES.has(u.value) && next && isNameWord(next)) j++;
      else break;
    }
    const c = scoreRun(text, toks, i, j);
    if (c) cands.push(c);
    i = j;
  }
  shareListEvidence(text, cands);
  return cands
    .filter((c) => c.score >= 0.5)
    .map((c) => ({ start: c.start, end: c.end, confidence: Math.min(0.9, 0.4 + c.score / 2) }));
}

/** Members of "A, B and C" are people together or not at all. */
function shareListEvidence(text: string, cands: Candidate[]): void {
  let k = 0;
  while (k < cands.length) {
    let m = k;
    while (m + 1 < cands.length) {
      const gap = text.slice((cands[m] as Candidate).end, (cands[m + 1] as Candidate).start);
      if (/^(?:,\s?|,? (?:and|&|or) )$/.test(gap)) m++;
      else break;
    }
    const last = cands[m];
    const lastGap = m > k && last ? text.slice((cands[m - 1] as Candidate).end, last.start) : "";
    if (m > k && /(?:and|&|or) $/.test(lastGap)) {
      const group = cands.slice(k, m + 1);
      const first = group[0] as Candidate;
      const after = text.slice((group.at(-1) as Candidate).end, (group.at(-1) as Candidate).end + 30);
      // "Marshall, Hernandez and Simpson" alone on a line, or after a colon, is a firm's name.
      const lineStart = lineStartOf(text, first.start);
      const lineBefore = text.slice(Math.max(lineStart, first.start - LINE_WINDOW), first.start);
      const firmLike = (lineStart >= 0 && /^[\s>]*$/.test(lineBefore)) || /:\s*$/.test(lineBefore);
      const people =
        group.filter((c) => c.given).length * 2 >= group.length ||
        (!firmLike && group.filter((c) => c.family).length * 2 >= group.length) ||
        group.some((c) => c.score >= 0.5) ||
        /^ (?:were|are|have|had|met|went)\b/.test(after);
      if (people && !group.some((c) => c.placey))
        for (const c of group) c.score = Math.max(c.score, 0.5) + 0.1;
    }
    k = m + 1;
  }
}

/** Literals of programming languages that read as capitalised words. */
const CODE_WORDS = new Set(["None", "True", "False", "Null", "NaN", "Nil", "Undefined", "Infinity", "Self"]);

function isNameWord(t: Token): boolean {
  if (CODE_WORDS.has(t.value)) return false;
  if (!CAPITALISED.test(t.value) || /^I['’]/.test(t.value)) return false;
  if (t.pos === "PROPN" || t.pos === "X") return true;
  return tags(t.value).some((x) => NAME_TAGS.has(x));
}

/** Labels of forms and headers that sit at a line start before a colon. */
const LABEL =
  /^(?:name|phone|mobile|fax|email|e-mail|address|website|date|title|subject|user|bot|agent|customer|note|notes|personal|info|answer|question|company|time|where|when|who|what|from|to|cc|re|desk|office|home|work|cell|tel|home)$/i;
/** "… is a design agency": an organisation introduced by what it is. */
const ORG_AFTER =
  /^,? (?:is|was|are|were) (?:an?|the|one of the) (?:[\w-]+ ){0,3}(?:agency|company|firm|startup|start-up|business|brand|organi[sz]ation|corporation|band|group|studio|label|charity|non-profit|nonprofit|501\(c\)\(?3\)?|bank|store|shop|restaurant|provider|platform|manufacturer|retailer|publisher|network|school|university|brainchild|film|movie|song|album|book|novel|series|show|game|app|product|city|town|village|country|region|river|lake|mountain)\b/i;

function scoreRun(text: string, toks: Token[], i: number, j: number): Candidate | undefined {
  const run = toks.slice(i, j);
  // Trim leading words that are a title or a common word capitalised at a sentence start.
  let first = 0;
  while (first < run.length - 1) {
    const w = run[first] as Token;
    if (TITLES.has(w.lower.replace(/\.$/, "")) || (isCommonWord(w.value) && !isFamily(w.value))) first++;
    else break;
  }
  const words = run.slice(first).filter((w) => !INITIAL.test(w.value) && !PARTICLES.has(w.value));
  if (words.length === 0 || words.length > 4) return undefined;
  const start = (run[first] as Token).start;
  const end = (run.at(-1) as Token).end;
  const prevTok = toks[i + first - 1];
  const nextTok = toks[j];
  const before = beforeText(text, start);
  const after = text.slice(end, end + 60);
  const lineStart = lineStartOf(text, start);
  const lineEnd = lineEndOf(text, end);
  const atLineStart = lineStart >= 0 && /^[\s>]*$/.test(text.slice(lineStart, start));
  const wholeLine = atLineStart && lineEnd >= 0 && /^\s*$/.test(text.slice(end, lineEnd));

  if (words.some((w) => STREET.test(w.value) || ORG.test(w.value))) return undefined;
  const nextWord =
    nextTok && !nextTok.space.includes("\n") && /^\p{Lu}/u.test(nextTok.value) ? nextTok.value : "";
  if (ORG.test(nextWord) || STREET.test(nextWord)) return undefined;
  if (ORG_AFTER.test(after) || /^\s*:\s*[+(\d]/.test(after)) return undefined;
  if (words.length === 1 && LABEL.test((words[0] as Token).value) && /^\s*:/.test(after)) return undefined;
  // "Barlow & Williams PLLC": the first partner of a firm's name.
  const firm = /^(?:,? (?:& |and )?\p{Lu}[\p{L}'’-]+)+,? (\p{Lu}[\p{L}.]+)/u.exec(after);
  if (firm && ORG.test((firm[1] ?? "").replace(/\.$/, ""))) return undefined;
  if (prevTok && /^\d/.test(prevTok.value) && !text.slice(prevTok.end, start).includes("\n"))
    return undefined;
  // Code, not prose: "->None", "np.Numpy", "self.Name".
  if (/(?:->|[.=_/\\[])$/.test(text.slice(Math.max(0, start - 2), start))) return undefined;

  const single = words.length === 1 ? (words[0] as Token) : undefined;
  const given = isGiven((words[0] as Token).value);
  const placeBefore = PLACE_BEFORE.test(before) && !STRONG_BEFORE.test(before);
  const phrase = run
    .slice(first)
    .map((w) => w.value)
    .join(" ");
  const allPlaces = isPlace(phrase) || words.every((w) => isPlace(w.value) && !isGiven(w.value));
  const placeAfter =
    PLACE_AFTER.test(after) ||
    (/^, (\p{Lu}\p{Ll}+)/u.test(after) && isPlace(/^, (\p{Lu}\p{Ll}+)/u.exec(after)?.[1] ?? ""));
  const previousLine = wholeLine
    ? (text
        .slice(Math.max(0, lineStart - 1 - LINE_WINDOW), Math.max(0, lineStart - 1))
        .split("\n")
        .at(-1) ?? "")
    : "";
  let score = 0;
  if (given) score += 0.35;
  if (words.some((w) => isFamily(w.value))) score += 0.2;
  if (words.length >= 2) score += 0.4;
  if (words.length >= 2 && FAMILY_SUFFIX.test((words.at(-1) as Token).value)) score += 0.15;
  if (run.slice(first).some((w) => INITIAL.test(w.value))) score += 0.3;
  if (STRONG_BEFORE.test(before)) score += 0.6;
  else if (MEDIUM_BEFORE.test(before)) score += 0.25;
  if (PERSON_AFTER.test(after)) score += 0.35;
  else if (nextTok?.pos === "VERB" && !nextTok.space.includes("\n")) score += 0.25;
  // Speaker of a dialogue line ("Matthew: Remember me …"), not a form label ("Phone:").
  if (single && /^\s*:\s*\S/.test(after) && atLineStart && !LABEL.test(single.value)) score += 0.3;
  // Addressed by name: "Leif, can I …", "Remember me, Mary?".
  if (
    /^,\s*(?:can|could|would|will|please|I|you|we|do|did|are|is)\b/u.test(after) &&
    /^$|[.!?:]$/.test(before)
  )
    score += 0.35;
  if (/,$/.test(before) && /^\s*[?!]/.test(after)) score += 0.35;
  // A name alone on the first line opens a CV, a letterhead or a signature card.
  if (wholeLine && words.length >= 2 && /^[\s>]*$/.test(text.slice(0, Math.min(lineStart, LINE_WINDOW + 1))))
    score += 0.4;

  if (single && isCommonWord(single.value) && !isFamily(single.value) && !STRONG_BEFORE.test(before))
    score -= 0.6;
  // Names rarely take an article: "the Packager", "a Transunion".
  if (single && /\b(?:the|a|an)$/i.test(before)) score -= 0.3;
  // A single word no lexicon knows, in a person's position, is most often a foreign name.
  if (single && tags(single.value).length === 0 && score > 0 && !/^['’]s\b/.test(after)) score += 0.15;
  if (allPlaces) score -= 0.6;
  if (placeBefore) score -= 0.25;
  if (placeAfter) score -= /^[ \t]+\d+\b(?! (?:years|yo|y\/o))/.test(after) ? 0.5 : 0.3;
  // A line of an address block, below a line with a house number or a unit.
  if (wholeLine && lineStart > 0 && /\d|\b(?:apt|suite|unit|box)\b/i.test(previousLine)) score -= 0.3;
  const family = words.some((w) => isFamily(w.value) || FAMILY_SUFFIX.test(w.value));
  return { start, end, score, given, family, placey: allPlaces || placeBefore || placeAfter };
}
