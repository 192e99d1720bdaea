/**
 * Where a write's bytes go: the pages one call adds to a vault's WAL, by the B-tree each belongs
 * to (SQLite's `dbstat`), in a plaintext tenant already holding 5,000 LoCoMo turns. Every frame of
 * the WAL is a whole page, so this is what "Write amplification per operation" multiplies.
 *
 *   node bench/run.ts wal-pages
 *
 * Each call runs once the checkpoint thread has copied the log (so the log restarts with it); the
 * frames it added are those after the log's length before it, or all of the log if it restarted.
 * An erasure is not shown: the truncating checkpoint after it empties the log before the call
 * returns (erasure.sqlite.test.ts counts its pages before that). Prints only; writes nothing tracked.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { recallBody } from "../src/modules/memories/memories.schemas.ts";
import { conversationalCorpus, loadConversations, turnMemory } from "./conversations.ts";
import { benchAgent } from "./harness.ts";

const PRELOAD = 5_000;
/** Longer than the checkpoint thread's longest wait after a commit (8 s). */
const SETTLE_MS = 9_000;

type Frames = { salt: string; pages: number[] };

/** The frames of the log's current generation (its salt), in order. */
function frames(path: string): Frames {
  let log: Buffer;
  try {
    log = readFileSync(path);
  } catch {
    return { salt: "", pages: [] };
  }
  if (log.length < 32) return { salt: "", pages: [] };
  const pageSize = log.readUInt32BE(8);
  const salt = log.subarray(16, 24).toString("hex");
  const pages: number[] = [];
  for (let off = 32; off + 24 + pageSize <= log.length; off += 24 + pageSize) {
    if (log.subarray(off + 8, off + 16).toString("hex") !== salt) break;
    pages.push(log.readUInt32BE(off));
  }
  return { salt, pages };
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-wal-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const app = await createApp({ config: loadConfig({}, { dataDir, adminKey, logLevel: "silent" }) });
  try {
    const { tenantId, actor: agent } = await benchAgent(app, {
      name: "bench-wal",
      encryption: "none",
      ratePerMinute: 1_000_000,
    });
    const convs = loadConversations();
    const corpus = conversationalCorpus(convs, PRELOAD + 200);
    let next = 0;
    const take = () => turnMemory(corpus[next++ % corpus.length] as (typeof corpus)[number]);
    for (let i = 0; i < PRELOAD; i += 500)
      await app.services.memories.store(agent, Array.from({ length: 500 }, take));
    const [kept] = await app.services.memories.store(agent, [take()]);
    const question = convs[0]?.questions[0]?.question ?? "what did they talk about";
    const vault = join(dataDir, "vaults", tenantId, "vault.db");

    const calls: [string, () => Promise<unknown>][] = [
      ["store one memory", () => app.services.memories.store(agent, [take()])],
      ["store a batch of 50", () => app.services.memories.store(agent, Array.from({ length: 50 }, take))],
      [
        "update one memory",
        () => app.services.memories.update(agent, kept?.id ?? "", { content: take().content }),
      ],
      [
        "recall (k = 10)",
        () => app.services.memories.recall(agent, recallBody.parse({ query: question, k: 10 })),
      ],
    ];
    const lines: string[] = [];
    for (const [name, call] of calls) {
      await sleep(SETTLE_MS);
      const before = frames(`${vault}-wal`);
      await call();
      const after = frames(`${vault}-wal`);
      const added = after.salt === before.salt ? after.pages.slice(before.pages.length) : after.pages;
      const db = new DatabaseSync(vault, { readOnly: true });
      const owner = new Map<number, string>();
      for (const r of db.prepare("SELECT name, pageno, pagetype FROM dbstat").all() as {
        name: string;
        pageno: number;
        pagetype: string;
      }[])
        owner.set(r.pageno, r.pagetype === "leaf" ? r.name : `${r.name} (${r.pagetype})`);
      db.close();
      const by = new Map<string, number>();
      for (const p of added) {
        const o = owner.get(p) ?? "freed or free-list page";
        by.set(o, (by.get(o) ?? 0) + 1);
      }
      const parts = [...by].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o} ${n}`);
      lines.push(`| ${name} | ${added.length} | ${parts.join(", ")} |`);
      process.stdout.write(`${lines.at(-1)}\n`);
    }
    process.stdout.write(
      `\nPages one call adds to the WAL, plaintext tenant of ${PRELOAD.toLocaleString("en")} LoCoMo turns:\n\n| call | pages | by B-tree |\n| --- | --- | --- |\n${lines.join("\n")}\n`,
    );
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
