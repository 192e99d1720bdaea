import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { migrate, openSqliteDatabase } from "../../platform/storage/sqlite.ts";
import { memoriesMigrations } from "./memories.migrations.ts";
import { memoriesStore, type NewRow } from "./memories.store.ts";
import { memoryRow } from "./memory-row.fixture.ts";
import {
  BM25_B,
  BM25_K1,
  CONTEXT_WEIGHT,
  FEEDBACK,
  idfOf,
  impactSearch,
  SPEAKER_IMPACT,
  SPEAKER_WEIGHT,
} from "./recall-index.ts";
import { plainCodec } from "./row-codec.ts";
import { recallTokens } from "./tokens.ts";

const WORDS =
  "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split(" ");

function rand(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Private: no neighbouring context, so scores are plain BM25 and comparable to a brute force. */
const row = (i: number, content: string, extra: Partial<NewRow> = {}): NewRow =>
  memoryRow(i, content, { access: "private", ...extra });

async function vault() {
  const dir = mkdtempSync(join(tmpdir(), "hypha-search-"));
  const db = openSqliteDatabase(join(dir, "vault.db"));
  await migrate(db, memoriesMigrations.tenant);
  return {
    db,
    done: () => {
      (db as unknown as { close(): void }).close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** BM25 over every memory, the way the index defines it (average length as at each write). */
function bruteForce(
  texts: readonly string[],
  avgAtWrite: readonly number[],
  query: string[],
  keep: (i: number) => boolean,
) {
  const docs = texts.map((t) => recallTokens(t));
  const df = new Map<string, number>();
  for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
  return docs
    .map((d, i) => {
      let score = 0;
      for (const q of query) {
        const f = d.filter((t) => t === q).length;
        if (f === 0) continue;
        const norm = BM25_K1 * (1 - BM25_B + (BM25_B * d.length) / Math.max(avgAtWrite[i] ?? 1, 1));
        const impact = Math.max(1, Math.round((1000 * f * (BM25_K1 + 1)) / (f + norm)));
        score += (idfOf(df.get(q) ?? 0, docs.length) * impact) / 1000;
      }
      return { i, score };
    })
    .filter((x) => x.score > 0 && keep(x.i))
    .sort((a, b) => b.score - a.score || b.i - a.i);
}

/** Stores `count` random texts (row `i + 1` with `extra(i)`), remembering each text and the average length at its write. */
async function seed(
  db: Awaited<ReturnType<typeof vault>>["db"],
  count: number,
  seedValue: number,
  extra: (i: number) => Partial<NewRow>,
  /** Written in one `insertMany` instead of one insert each. */
  together = false,
) {
  const r = rand(seedValue);
  const texts: string[] = [];
  const avgAtWrite: number[] = [];
  let total = 0;
  const rows: NewRow[] = [];
  for (let i = 0; i < count; i++) {
    const n = 3 + Math.floor(r() * 12);
    const text = Array.from({ length: n }, () => WORDS[Math.floor(r() ** 2 * WORDS.length)]).join(" ");
    avgAtWrite.push(i === 0 ? recallTokens(text).length : total / i);
    total += recallTokens(text).length;
    texts.push(text);
    rows.push(row(i + 1, text, extra(i)));
  }
  await db.transaction(async (tx) => {
    if (together)
      await memoriesStore.insertMany(
        tx,
        rows.map((r) => plainCodec.seal(r)),
      );
    else for (const r of rows) await memoriesStore.insert(tx, r);
  });
  return { texts, avgAtWrite };
}

for (const together of [false, true])
  test(`the recall index returns exactly the BM25 top k, with and without filters hiding most matches (${together ? "written as one batch" : "written one at a time"})`, async () => {
    const { db, done } = await vault();
    try {
      const { texts, avgAtWrite } = await seed(
        db,
        600,
        7,
        (i) => ({ namespace: i % 10 === 0 ? "rare" : "n" }),
        together,
      );
      for (const q of ["alpha sigma", "rho pi xi", "beta", "omicron gamma delta lambda"]) {
        const tokens = plainCodec.recallTokens(q.split(" "));
        const cases: [{ sql: string; params: string[] }, (i: number) => boolean][] = [
          [{ sql: "1", params: [] }, () => true],
          [{ sql: "m.namespace = ?", params: ["rare"] }, (i) => i % 10 === 0],
        ];
        for (const [where, keep] of cases) {
          const got = await impactSearch(db.read ?? db, tokens, where, 10, 0);
          const want = bruteForce(texts, avgAtWrite, tokens, keep).slice(0, 10);
          assert.deepEqual(
            got.candidates.map((c) => Math.round(c.bm25 * 1e6)),
            want.map((w) => Math.round(w.score * 1e6)),
            `scores for "${q}" (${where.sql})`,
          );
          if (where.sql === "1") assert.ok(got.stats.rowsChecked < 600, "not every memory is checked");
        }
      }
    } finally {
      done();
    }
  });

test("with neighbouring-turn context, the index still returns exactly the top k a brute force finds", async () => {
  const { db, done } = await vault();
  try {
    // Runs of turns of two conversations interleaved, with a private note now and then.
    const kinds = Array.from({ length: 800 }, (_, i) =>
      i % 13 === 0 ? "private" : Math.floor(i / 7) % 2 === 0 ? "a" : "b",
    );
    const { texts, avgAtWrite } = await seed(db, 800, 11, (i) =>
      kinds[i] === "private" ? {} : { access: "shared", namespace: `conv-${kinds[i]}` },
    );
    for (const q of ["alpha sigma", "rho pi xi", "beta", "omicron gamma delta lambda", "kappa mu"]) {
      const tokens = plainCodec.recallTokens(q.split(" "));
      const own = new Map(bruteForce(texts, avgAtWrite, tokens, () => true).map((x) => [x.i, x.score]));
      const lend = (i: number, j: number) =>
        kinds[j] !== undefined && kinds[j] === kinds[i] && kinds[i] !== "private" ? (own.get(j) ?? 0) : 0;
      const want = [...own.entries()]
        .map(([i, score]) => ({
          i,
          score:
            score +
            CONTEXT_WEIGHT * Math.max(lend(i, i - 1), lend(i, i + 1)) +
            CONTEXT_WEIGHT ** 2 * Math.max(lend(i, i - 2), lend(i, i + 2)),
        }))
        .filter((x) => x.i % 4 !== 0)
        .sort((a, b) => b.score - a.score || b.i - a.i)
        .slice(0, 25);
      // Seq = index + 1: hide every memory whose index is a multiple of 4, as a filter would.
      const got = await impactSearch(
        db.read ?? db,
        tokens,
        { sql: "(m.seq - 1) % 4 <> 0", params: [] },
        25,
        0,
      );
      assert.deepEqual(
        got.candidates.map((c) => [c.seq - 1, Math.round(c.bm25 * 1e6)]),
        want.map((w) => [w.i, Math.round(w.score * 1e6)]),
        `top 25 for "${q}"`,
      );
      assert.ok(got.stats.rowsChecked < 200, `rows checked for "${q}": ${got.stats.rowsChecked}`);
    }
  } finally {
    done();
  }
});

test("searches running at once answer exactly what each answers alone (no working array is shared)", async () => {
  const { db, done } = await vault();
  try {
    await seed(db, 3_000, 13, (i) => ({ access: "shared", namespace: `conv-${Math.floor(i / 50) % 3}` }));
    const reader = db.read ?? db;
    const queries = [
      "alpha sigma",
      "rho pi xi",
      "beta",
      "omicron gamma delta lambda",
      "kappa mu",
      "alpha beta",
    ];
    // A filter hiding two matches in three: each search checks its rows in several statements, so
    // searches run at once interleave at every one of them.
    const where = { sql: "m.seq % 3 = 0", params: [] };
    const search = async (q: string) => {
      const { candidates } = await impactSearch(reader, plainCodec.recallTokens(q.split(" ")), where, 40, 0, {
        feedback: true,
      });
      return candidates.map((c) => `${c.seq}:${c.bm25}:${c.context}:${c.feedback}`);
    };
    const alone: string[][] = [];
    for (const q of queries) alone.push(await search(q));
    assert.ok(alone.every((a) => a.length === 40));
    // Started a few turns apart, so searches start and finish while others are between statements.
    const running: Promise<string[]>[] = [];
    for (const q of [...queries, ...queries, ...queries]) {
      running.push(search(q));
      for (let turn = 0; turn < 3; turn++) await Promise.resolve();
    }
    const together = await Promise.all(running);
    for (const [i, got] of together.entries()) {
      const q = i % queries.length;
      assert.deepEqual(got, alone[q], `"${queries[q]}"`);
    }
  } finally {
    done();
  }
});

test("building a large vault's lists gives the event loop turns, and the first search is exact", async () => {
  const { db, done } = await vault();
  try {
    const { texts, avgAtWrite } = await seed(db, 11_000, 5, () => ({}));
    const tokens = plainCodec.recallTokens(["sigma", "rho"]);
    let turns = 0;
    let spinning = true;
    const spin = () => {
      if (!spinning) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const got = await impactSearch(db.read ?? db, tokens, { sql: "1", params: [] }, 10, 0);
    spinning = false;
    assert.ok(turns >= 2, `the loop turned ${turns} times while the lists were built`);
    const want = bruteForce(texts, avgAtWrite, tokens, () => true).slice(0, 10);
    assert.deepEqual(
      got.candidates.map((c) => Math.round(c.bm25 * 1e6)),
      want.map((w) => Math.round(w.score * 1e6)),
    );
  } finally {
    done();
  }
});

test("the in-memory lists follow commits: new and removed memories, never a rolled-back write", async () => {
  const { db, done } = await vault();
  try {
    const reader = db.read ?? db;
    const search = async (q: string) =>
      (
        await impactSearch(reader, plainCodec.recallTokens([q]), { sql: "1", params: [] }, 10, 0)
      ).candidates.map((c) => c.id);
    const seq = await db.transaction((tx) => memoriesStore.insert(tx, row(1, "lisbon offsite")));
    assert.equal((await search("lisbon")).length, 1);
    await db.transaction((tx) => memoriesStore.insert(tx, row(2, "lisbon again")));
    assert.equal((await search("lisbon")).length, 2, "a memory committed after the lists were built");
    await assert.rejects(
      db.transaction(async (tx) => {
        await memoriesStore.insert(tx, row(3, "lisbon rolled back"));
        throw new Error("abort");
      }),
    );
    assert.equal((await search("lisbon")).length, 2, "a rolled-back write is not in the lists");
    await db.transaction((tx) => memoriesStore.retire(tx, seq));
    assert.deepEqual(await search("offsite"), [], "a retired version leaves the index");
    await db.transaction((tx) => memoriesStore.hardDelete(tx, "t", [row(2, "").id]));
    assert.deepEqual(await search("lisbon"), []);
    assert.deepEqual(
      await db.all("SELECT term FROM recall_terms WHERE term IN ('lisbon', 'offsit')"),
      [],
      "terms no memory uses leave the vocabulary",
    );
  } finally {
    done();
  }
});

test("a limit that is not a positive finite number answers nothing, at once", async () => {
  const { db, done } = await vault();
  try {
    await db.transaction((tx) => memoriesStore.insert(tx, row(1, "lisbon offsite")));
    const reader = db.read ?? db;
    const search = (limit: number) =>
      impactSearch(reader, plainCodec.recallTokens(["lisbon"]), { sql: "1", params: [] }, limit, 0);
    assert.equal((await search(10)).candidates.length, 1);
    for (const limit of [Number.NaN, 0, -1, Number.POSITIVE_INFINITY])
      assert.deepEqual((await search(limit)).candidates, [], `limit ${limit}`);
  } finally {
    done();
  }
});

test("a batch written together is indexed exactly as its memories written one at a time", async () => {
  const one = await vault();
  const many = await vault();
  try {
    const next = rand(11);
    const rows = Array.from({ length: 150 }, (_, i) => {
      const words = Array.from(
        { length: 2 + Math.floor(next() * 12) },
        () => WORDS[Math.floor(next() * WORDS.length)],
      );
      return row(i, `${i % 3 === 0 ? "Caroline: " : ""}${words.join(" ")}`, {
        tags: JSON.stringify(i % 4 === 0 ? ["travel"] : []),
        entities: JSON.stringify(i % 5 === 0 ? ["lisbon", "maria"] : []),
        is_current: i % 17 === 5 ? 0 : 1,
      });
    });
    const entries = rows.map((r) => plainCodec.seal(r));
    // Some memories exist first, so the batch's lengths are normalised against a non-empty index.
    for (const db of [one.db, many.db])
      await db.transaction(async (tx) => {
        for (let i = 0; i < 20; i++)
          await memoriesStore.insert(tx, row(1000 + i, `${WORDS[i % WORDS.length]} seed`));
      });
    const singly: number[] = [];
    for (const e of entries)
      singly.push(await one.db.transaction((tx) => memoriesStore.insert(tx, e.row, e.index)));
    const together = await many.db.transaction((tx) => memoriesStore.insertMany(tx, entries));
    assert.deepEqual(together, singly, "the same sequence numbers, in the order given");
    for (const sql of [
      "SELECT seq, is_current, hex(recall_terms) AS terms FROM memories ORDER BY seq",
      "SELECT id, term, df FROM recall_terms ORDER BY id",
      "SELECT docs, tokens FROM recall_stats",
      "SELECT gen, seq, added FROM recall_log ORDER BY gen",
      "SELECT seq, kind, value FROM memory_labels ORDER BY seq, kind, value",
    ])
      assert.deepEqual(await many.db.all(sql), await one.db.all(sql), sql);
    assert.ok(
      ((await many.db.all("SELECT 1 FROM memory_labels")) as unknown[]).length > 0,
      "labels were written",
    );
  } finally {
    one.done();
    many.done();
  }
});

test("a query naming a memory's speaker adds the speaker part to that memory only, not to one that addresses them", async () => {
  const { db, done } = await vault();
  try {
    const turns = [
      "Melanie: we painted a sunrise by the lake",
      "Caroline: Melanie, your sunrise painting is lovely",
      "Melanie: thanks, painting calms me",
      "Caroline: I went to a support group",
    ];
    await db.transaction(async (tx) => {
      for (const [i, t] of turns.entries()) await memoriesStore.insert(tx, row(i + 1, t));
    });
    const reader = db.read ?? db;
    const q = ["melanie", "sunrise"];
    const where = { sql: "1", params: [] };
    const plain = await impactSearch(reader, plainCodec.recallTokens(q), where, 10, 0);
    const withSpeaker = await impactSearch(reader, plainCodec.recallTokens(q), where, 10, 0, {
      speakers: plainCodec.speakerTokens(q),
    });
    const part = (r: typeof plain, seq: number) => r.candidates.find((c) => c.seq === seq);
    // The speaker term "speaker:melani" is held by turns 1 and 3 of 4, with a fixed impact.
    const want = (SPEAKER_WEIGHT * idfOf(2, 4) * SPEAKER_IMPACT) / 1000;
    assert.ok(Math.abs((part(withSpeaker, 1)?.speaker ?? 0) - want) < 1e-9);
    assert.ok(Math.abs((part(withSpeaker, 1)?.bm25 ?? 0) - (part(plain, 1)?.bm25 ?? 0) - want) < 1e-9);
    assert.equal(part(withSpeaker, 2)?.speaker, 0, "turn 2 names Melanie but is Caroline's");
    assert.ok(part(plain, 3) && part(plain, 3)?.speaker === 0, "no speaker part unless asked for");
    assert.equal(part(withSpeaker, 4), undefined, "the speaker term alone never matches a memory");
  } finally {
    done();
  }
});

test("pseudo-relevance feedback brings a memory that shares no word with the query but shares rare words with the best match", async () => {
  const { db, done } = await vault();
  try {
    // Private memories: no neighbouring context, so only feedback can bring the last one.
    const texts = [
      "the quarterly audit found a ledger discrepancy in the zurich office",
      "ledger discrepancy zurich reconciliation pending",
      ...Array.from(
        { length: 60 },
        (_, i) => `${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]} note ${i}`,
      ),
    ];
    await db.transaction(async (tx) => {
      for (const [i, t] of texts.entries()) await memoriesStore.insert(tx, row(i + 1, t));
    });
    const reader = db.read ?? db;
    const tokens = plainCodec.recallTokens(["quarterly", "audit"]);
    const all = { sql: "1", params: [] };
    const without = await impactSearch(reader, tokens, all, 10, 0);
    assert.deepEqual(
      without.candidates.map((c) => c.seq),
      [1],
    );
    const withFeedback = await impactSearch(reader, tokens, all, 10, 0, { feedback: true });
    const found = withFeedback.candidates.find((c) => c.seq === 2);
    assert.ok(found, "the memory about the same ledger discrepancy is found");
    assert.ok(found.feedback > 0 && Math.abs(found.feedback - found.bm25) < 1e-9, "all of it from feedback");
    assert.equal(withFeedback.candidates[0]?.seq, 1, "the match itself stays first");
    assert.ok(withFeedback.stats.feedbackTerms > 0 && withFeedback.stats.feedbackTerms <= FEEDBACK.terms);

    // The best match hidden from the caller lends no feedback terms: nothing it holds leaks into the ranking.
    const hidden = await impactSearch(reader, tokens, { sql: "m.seq <> 1", params: [] }, 10, 0, {
      feedback: true,
    });
    assert.deepEqual(hidden.candidates, []);
    assert.equal(hidden.stats.feedbackTerms, 0);
  } finally {
    done();
  }
});
