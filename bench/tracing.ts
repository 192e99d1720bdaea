/**
 * Tracing overhead on recall: the p50 of recall over HTTP with the OTLP exporter on (sending to a
 * local receiver) and off, in the same run. Each measurement is a fresh server process over the
 * same seeded data directory (tracing is per process); on and off alternate, five of each, and the
 * medians are compared.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Pool } from "undici";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { benchAgent } from "./harness.ts";
import { percentile, writeSection } from "./report.ts";

const ROOT = resolve(import.meta.dirname, "..");
const RUNS = 7;
const RECALLS = 500;

type LocomoTurn = { dia_id: string; text: string; speaker: string };
type LocomoConv = { conversation: Record<string, unknown>; qa: { question: string }[] };

function locomo(): { turns: string[]; questions: string[] } {
  const convs = JSON.parse(
    readFileSync(resolve(ROOT, "../shared/data/locomo/locomo-dev.json"), "utf8"),
  ) as LocomoConv[];
  const turns = convs.flatMap((c) =>
    Object.entries(c.conversation)
      .filter(([name, value]) => /^session_\d+$/.test(name) && Array.isArray(value))
      .flatMap(([, value]) => (value as LocomoTurn[]).map((t) => `${t.speaker}: ${t.text}`)),
  );
  return { turns, questions: convs.flatMap((c) => c.qa.map((q) => q.question)) };
}

/** One measurement: a server in this process, recalls over keep-alive HTTP, the p50 in ms. */
async function child(dataDir: string, adminKey: string, key: string): Promise<void> {
  const config = loadConfig({}, { dataDir, adminKey, logLevel: "silent", port: 0 });
  const app = await createApp({ config });
  const url = await app.app.listen({ host: "127.0.0.1", port: 0 });
  const pool = new Pool(url, { connections: 1 });
  const { questions } = locomo();
  const recall = async (query: string) => {
    const res = await pool.request({
      path: "/v1/memories/recall",
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ query: query.slice(0, 500), k: 10 }),
    });
    await res.body.arrayBuffer();
    if (res.statusCode !== 200) throw new Error(`recall answered ${res.statusCode}`);
  };
  for (const q of questions.slice(0, 50)) await recall(q); // warm-up
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < RECALLS; i++) {
    const t0 = performance.now();
    await recall(questions[(i * 7) % questions.length] ?? "memory");
    times.push(performance.now() - t0);
  }
  // CPU time of the whole process (server, client and, when on, the exporter) per recall: unlike
  // wall-clock time it does not count waiting for a core on a shared machine.
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  await pool.close();
  await app.close();
  process.stdout.write(
    `${JSON.stringify({ p50: percentile(times, 50), p95: percentile(times, 95), cpuMs: (cpu.user + cpu.system) / 1000 / RECALLS })}\n`,
  );
}

function measure(mode: "on" | "off", dataDir: string, adminKey: string, key: string, endpoint: string) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (mode === "on") env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  return new Promise<{ p50: number; p95: number; cpuMs: number }>((done, fail) => {
    const p = spawn(process.execPath, [import.meta.filename, "--child", dataDir, adminKey, key], {
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    p.on("exit", (code) =>
      code === 0 ? done(JSON.parse(out.trim().split("\n").at(-1) ?? "{}")) : fail(new Error(`exit ${code}`)),
    );
  });
}

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-tracing-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  let exports = 0;
  let exportedBytes = 0;
  const receiver = createServer((req, res) => {
    req.on("data", (c: Buffer) => {
      exportedBytes += c.length;
    });
    req.on("end", () => {
      exports += 1;
      // An empty body is a valid answer to a protobuf export.
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  try {
    // Seed once: every LoCoMo turn in one sealed tenant.
    const seeded = await createApp({ config: loadConfig({}, { dataDir, adminKey, logLevel: "silent" }) });
    const { key, actor } = await benchAgent(seeded, { name: "bench-tracing", ratePerMinute: 100_000 });
    const { turns } = locomo();
    for (let i = 0; i < turns.length; i += 500) {
      await seeded.services.memories.store(
        actor,
        turns.slice(i, i + 500).map((content) => ({
          namespace: "conversation",
          content,
          type: "turn",
          tags: [],
          entities: [],
          metadata: {},
          importance: 0.5,
          access: "shared" as const,
        })),
      );
    }
    await seeded.persistAdminKey();
    await seeded.close();

    await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const on: number[] = [];
    const off: number[] = [];
    const cpuOn: number[] = [];
    const cpuOff: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      for (const mode of r % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        const m = await measure(mode, dataDir, adminKey, key, endpoint);
        (mode === "on" ? on : off).push(m.p50);
        (mode === "on" ? cpuOn : cpuOff).push(m.cpuMs);
        process.stdout.write(
          `run ${r + 1} tracing ${mode}: recall p50 ${m.p50.toFixed(3)} ms, CPU ${m.cpuMs.toFixed(3)} ms per recall\n`,
        );
      }
    }
    if (exports === 0) throw new Error("the receiver got no spans with tracing on");
    const pOn = median(on);
    const pOff = median(off);
    const overhead = (pOn / pOff - 1) * 100;
    const cOn = median(cpuOn);
    const cOff = median(cpuOff);
    const cpuOverhead = (cOn / cOff - 1) * 100;
    const md = `## Tracing overhead

Recall p50 over HTTP (keep-alive, one connection, ${RECALLS} LoCoMo questions, k = 10) against
${turns.length} LoCoMo turns in one sealed tenant; each figure is the median of ${RUNS} server processes,
tracing off and on alternating in the same run. On: \`OTEL_EXPORTER_OTLP_ENDPOINT\` set, spans
exported over OTLP/HTTP with the default protobuf encoding to a local receiver (${exports} export requests,
${(exportedBytes / 1024).toFixed(0)} KiB). Load average at the
end of the run: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores; on a shared, loaded machine the
run-to-run spread exceeds the difference measured, so read the overhead against that spread.

| tracing | recall p50 (median of runs) | runs | CPU per recall (median of runs) |
| --- | --- | --- | --- |
| off | ${pOff.toFixed(3)} ms | ${off.map((x) => x.toFixed(3)).join(", ")} | ${cOff.toFixed(3)} ms |
| on | ${pOn.toFixed(3)} ms | ${on.map((x) => x.toFixed(3)).join(", ")} | ${cOn.toFixed(3)} ms |

Overhead on the recall p50: **${overhead.toFixed(1)} %** (aim ≤ 5 %); on the CPU time per recall
(the whole process: server, client and exporter): **${cpuOverhead.toFixed(1)} %**. Reproduce:
\`npm run bench -- tracing --write\`.`;
    process.stdout.write(`${md}\n`);
    writeSection("tracing", md);
  } finally {
    receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child") {
  const [, , , dataDir, adminKey, key] = process.argv;
  if (!dataDir || !adminKey || !key) throw new Error("usage: bench/tracing.ts --child DATA ADMIN_KEY KEY");
  await child(dataDir, adminKey, key);
}
