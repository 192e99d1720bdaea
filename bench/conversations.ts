/**
 * The conversational corpus: LoCoMo turns (from ../shared/data/locomo) indexed as a user would,
 * `speaker: text` with the session date in metadata, and variants of them (the same turns spoken
 * by other people) to reach sizes beyond the few thousand turns of the source.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const LOCOMO_DEV = resolve(import.meta.dirname, "../../shared/data/locomo/locomo-dev.json");

/** LoCoMo's question categories. */
export const CATEGORY: Record<number, string> = {
  1: "multi-hop",
  2: "temporal",
  3: "open-domain",
  4: "single-hop",
  5: "adversarial",
};

type RawTurn = { dia_id: string; text: string; speaker: string };
type RawConv = {
  sample_id: string;
  conversation: Record<string, unknown>;
  qa: { question: string; evidence?: string[]; category: number }[];
};

export type Turn = { conv: string; diaId: string; speaker: string; text: string; date: string };
export type Question = { conv: string; question: string; category: number; evidence: string[] };
export type Conversation = { id: string; speakers: string[]; turns: Turn[]; questions: Question[] };

export function loadConversations(path = LOCOMO_DEV): Conversation[] {
  const raw = JSON.parse(readFileSync(path, "utf8")) as RawConv[];
  return raw.map((conv) => {
    const c = conv.conversation;
    const turns: Turn[] = [];
    const sessions = Object.keys(c)
      .map((k) => /^session_(\d+)$/.exec(k))
      .filter((m): m is RegExpExecArray => m !== null && Array.isArray(c[m[0]]))
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const n of sessions) {
      const date = String(c[`session_${n}_date_time`] ?? "");
      for (const t of c[`session_${n}`] as RawTurn[]) {
        turns.push({ conv: conv.sample_id, diaId: t.dia_id, speaker: t.speaker, text: t.text, date });
      }
    }
    const ids = new Set(turns.map((t) => t.diaId));
    const questions = conv.qa.map((qa) => ({
      conv: conv.sample_id,
      question: qa.question,
      category: qa.category,
      evidence: (qa.evidence ?? []).flatMap((e) => e.split(/[;,\s]+/)).filter((e) => ids.has(e)),
    }));
    const speakers = [String(c.speaker_a ?? ""), String(c.speaker_b ?? "")];
    return { id: conv.sample_id, speakers, turns, questions };
  });
}

const NAMES =
  `Aaron Abigail Adrian Aisha Alan Alice Amara Amir Ana Andre Anya Arjun Ava Beatriz Ben Bianca Boris
Camila Carlos Chen Chloe Clara Daniel Dara Diego Dmitri Elena Eli Emeka Emma Enzo Farah Felix Fatima Gabriel Grace
Hana Hugo Ibrahim Ines Isaac Ivy Jamal Jana Javier Jin Joao Julia Kai Karin Kenji Laila Lars Leo Lina Lucas Maya
Mateo Mei Mira Nadia Nina Noah Omar Olga Oscar Paula Pedro Priya Quinn Rafael Rania Ravi Rosa Sami Sara Sofia Tariq
Tess Theo Uma Victor Vera Wei Yara Yusuf Zara Zoe`.split(/\s+/);

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A corpus turn as a user stores it: a shared conversation turn with its session date in metadata. */
export const turnMemory = (t: { content: string; date: string }) => ({
  namespace: "conversation",
  type: "turn",
  content: t.content,
  tags: [],
  entities: [],
  metadata: { session_date: t.date },
  importance: 0.5,
  access: "shared" as const,
});

/**
 * `n` memories: the turns of every conversation in order, then again with the speakers renamed
 * (variant v gives each conversation another pair of names), until `n` are produced.
 */
export function conversationalCorpus(convs: readonly Conversation[], n: number) {
  const out: { content: string; date: string; diaId: string; conv: string }[] = [];
  for (let v = 0; out.length < n; v++) {
    for (const [ci, conv] of convs.entries()) {
      const rename = new Map<string, string>();
      conv.speakers.forEach((s, si) => {
        rename.set(s, v === 0 ? s : (NAMES[(v * 13 + ci * 5 + si * 7) % NAMES.length] ?? s));
      });
      const re = new RegExp(`\\b(${conv.speakers.map(escapeRe).join("|")})\\b`, "g");
      for (const t of conv.turns) {
        if (out.length >= n) return out;
        const swap = (s: string) => (v === 0 ? s : s.replace(re, (m) => rename.get(m) ?? m));
        out.push({
          content: `${swap(t.speaker)}: ${swap(t.text)}`,
          date: t.date,
          diaId: t.diaId,
          conv: t.conv,
        });
      }
    }
  }
  return out;
}
