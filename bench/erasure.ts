/**
 * Erasure cost against tenant size: a GDPR erasure by entity that removes the same handful of
 * memories from a tenant of 10k and of 100k memories (LoCoMo turns), in-process, median of several
 * erasures each. The guarantee being measured: the cost follows what is erased, not the tenant.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type HyphaApp as App, createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { memoryInput } from "../src/modules/memories/memories.schemas.ts";
import type { EncryptionMode as Encryption } from "../src/modules/tenants/tenants.schemas.ts";
import type { Actor } from "../src/platform/auth/actor.ts";
import { percentile, writeSection } from "./report.ts";

const LOCOMO = resolve(import.meta.dirname, "../../shared/data/locomo/locomo-dev.json");

function turns(): string[] {
  const convs = JSON.parse(readFileSync(LOCOMO, "utf8")) as { conversation: Record<string, unknown> }[];
  const out: string[] = [];
  for (const c of convs)
    for (const [k, v] of Object.entries(c.conversation))
      if (/^session_\d+$/.test(k) && Array.isArray(v))
        for (const t of v as { speaker: string; text: string }[]) out.push(`${t.speaker}: ${t.text}`);
  return out;
}

type Tenant = { actor: Actor; size: number };

/** A tenant of `size` memories (LoCoMo turns) holding five memories per erasure target `erase-<r>`. */
async function seed(
  app: App,
  admin: Actor,
  size: number,
  encryption: Encryption,
  runs: number,
): Promise<Tenant> {
  const tenant = await app.services.tenants.create(admin, { name: `erasure-${size}`, encryption });
  const { key } = await app.services.keys.create(admin, tenant.id, { agent: "bench", scopes: ["admin"] });
  const verified = await app.services.keys.verify(key, admin.origin);
  if (!verified.ok) throw new Error("key did not verify");
  const texts = turns();
  const batches = Math.ceil(size / 1000);
  // Five memories per erasure target, spread from the oldest rows to the newest.
  const targetBatches = new Set(Array.from({ length: 5 }, (_, k) => Math.floor((k * batches) / 5)));
  for (let b = 0; b < batches; b++) {
    const memories = Array.from({ length: Math.min(1000, size - b * 1000) }, (_, j) => ({
      namespace: "bench",
      content: `${texts[(b * 1000 + j) % texts.length]} (${b * 1000 + j})`,
      entities: [`person-${(b * 1000 + j) % 5000}`],
    }));
    if (targetBatches.has(b))
      for (let r = 0; r < runs; r++) {
        memories.push({
          namespace: "bench",
          content: `${texts[r] ?? ""} (target ${r})`,
          entities: [`erase-${r}`],
        });
      }
    await app.services.memories.store(
      verified.actor,
      memories.map((m) => memoryInput.parse(m)),
    );
  }
  return { actor: verified.actor, size };
}

type Figures = { wall: number; cpu: number };

/**
 * Median wall and CPU time of `runs` erasures in a tenant of 10k and one of 100k memories, both in one
 * instance. The erasures alternate between the two tenants (which goes first alternates too), so a
 * machine that slows down or speeds up during the run weighs on both sizes alike.
 */
async function measure(encryption: Encryption, runs: number): Promise<[Figures, Figures]> {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-erasure-"));
  const config = loadConfig({}, { dataDir, adminKey: generateSecret(KEY_PREFIX.admin), logLevel: "silent" });
  const app = await createApp({ config });
  try {
    const admin: Actor = {
      type: "instance_admin",
      id: "instance_admin",
      tenantId: null,
      origin: { requestId: "req_bench", ip: "127.0.0.1", userAgent: null },
    };
    const tenants = [
      await seed(app, admin, 10_000, encryption, runs),
      await seed(app, admin, 100_000, encryption, runs),
    ];
    const wall = tenants.map(() => [] as number[]);
    const cpu = tenants.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const t = tenants[i] as Tenant;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const { deleted } = await app.services.memories.bulkDelete(t.actor, { entity: `erase-${r}` });
        wall[i]?.push(performance.now() - t0);
        const used = process.cpuUsage(cpu0);
        cpu[i]?.push((used.user + used.system) / 1000);
        if (deleted !== 5) throw new Error(`erasure ${r} removed ${deleted} memories, not 5`);
      }
    }
    const median = (xs: number[] | undefined) =>
      percentile(
        [...(xs ?? [])].sort((a, b) => a - b),
        50,
      );
    return [
      { wall: median(wall[0]), cpu: median(cpu[0]) },
      { wall: median(wall[1]), cpu: median(cpu[1]) },
    ];
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Erasures per tenant size (each removes its own five memories). */
const RUNS = 15;

export async function run(): Promise<void> {
  const rows: string[] = [];
  for (const encryption of ["none", "aes-gcm"] as const) {
    const [small, large] = await measure(encryption, RUNS);
    rows.push(
      `| ${encryption === "none" ? "plaintext" : "encrypted"} | ${small.wall.toFixed(1)} | ${large.wall.toFixed(1)} | ${(large.wall / small.wall).toFixed(2)} | ${small.cpu.toFixed(1)} | ${large.cpu.toFixed(1)} | ${(large.cpu / small.cpu).toFixed(2)} |`,
    );
    process.stdout.write(`${rows.at(-1)}\n`);
  }
  const md = [
    "## GDPR erasure against tenant size",
    "",
    `GDPR erasure by entity, each removing the same five memories (spread from the oldest to the newest) from a tenant of 10k or 100k LoCoMo turns, in-process, median of ${RUNS} erasures per size (\`node bench/erasure.ts\`). Both tenants live in one instance and the erasures alternate between them, so the ratio compares the two sizes under the same load of the machine. Wall time includes the checkpoint that takes the erased words out of the files (two fsyncs); CPU time is the process's, all threads. Aim: flat within 2× from 10k to 100k.`,
    "",
    "| tenant | 10k wall (ms) | 100k wall (ms) | ratio | 10k CPU (ms) | 100k CPU (ms) | ratio |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "What an erasure of five memories does is the same at both sizes: index lookups only (no statement scans a table, foreign-key cascades included: `erasure.sqlite.test.ts`), about 45 pages written to the WAL at 10k and 48 at 100k (the B-trees are one level deeper), and the checkpoint that copies those pages into the database file and syncs it, which is most of the wall time. Until 2026-11-30 this benchmark measured the 10k tenant and then the 100k tenant one after the other, each right after its own load, and reported 2.33× (plaintext) and 2.18× (encrypted); on this shared two-core machine the same code measured that way gave 3.50× and 0.59× in one run and 1.09× and 0.72× in the next: that ratio followed the machine's load at the time of each measurement, not the tenant.",
  ].join("\n");
  writeSection("erasure", md);
}

if (import.meta.main) await run();
