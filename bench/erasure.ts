/**
 * Erasure cost against tenant size: a GDPR erasure by entity that removes the same handful of
 * memories from a tenant of 10k and of 100k memories (LoCoMo turns), in-process, median of several
 * erasures each. The guarantee being measured: the cost follows what is erased, not the tenant.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { memoryInput } from "../src/modules/memories/memories.schemas.ts";
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

async function measure(size: number, encryption: "aes-gcm" | "none", runs = 7): Promise<number> {
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
    const tenant = await app.services.tenants.create(admin, { name: "erasure", encryption });
    const { key } = await app.services.keys.create(admin, tenant.id, { agent: "bench", scopes: ["admin"] });
    const verified = await app.services.keys.verify(key, admin.origin);
    if (!verified.ok) throw new Error("key did not verify");
    const actor = verified.actor;
    const texts = turns();
    const batches = Math.ceil(size / 1000);
    // Five memories per erasure target, spread from the oldest index segments to the newest.
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
        actor,
        memories.map((m) => memoryInput.parse(m)),
      );
    }
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await app.services.memories.bulkDelete(actor, { entity: `erase-${r}` });
      times.push(performance.now() - t0);
    }
    return percentile(
      times.sort((a, b) => a - b),
      50,
    );
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const rows: string[] = [];
  for (const encryption of ["none", "aes-gcm"] as const) {
    const small = await measure(10_000, encryption);
    const large = await measure(100_000, encryption);
    rows.push(
      `| ${encryption === "none" ? "plaintext" : "encrypted"} | ${small.toFixed(1)} | ${large.toFixed(1)} | ${(large / small).toFixed(2)} |`,
    );
    process.stdout.write(`${rows.at(-1)}\n`);
  }
  const md = [
    "## GDPR erasure against tenant size",
    "",
    "GDPR erasure by entity, each removing the same five memories (spread from the oldest to the newest) from a tenant of 10k or 100k LoCoMo turns, in-process, median of 7 erasures (`node bench/run.ts erasure`). Aim: flat within 2× from 10k to 100k.",
    "",
    "| tenant | 10k memories (ms) | 100k memories (ms) | ratio |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
  writeSection("erasure", md);
}
