/**
 * Throughput with 1, 2 and 3 gateways on one PostgreSQL database and one Redis: three `hypha serve`
 * processes share the database, the Redis and the secrets; a closed-loop load (a fixed number of
 * requests in flight, half recalls of LoCoMo questions and half single stores of LoCoMo turns) is
 * spread round-robin over the first N of them for a fixed time. Rounds alternate the order of N, and
 * each figure is the median of the rounds; 1 gateway is the baseline of the same run.
 *
 *   node bench/run.ts gateways [--seconds=15] [--rounds=3] [--write]
 *
 * `HYPHA_BENCH_DATABASE_URL` (a role that may create databases; default the local test server) and
 * `HYPHA_BENCH_REDIS_URL` (default redis://127.0.0.1:6379).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Pool } from "undici";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { freshDatabase } from "../test/pg.ts";
import { percentile, writeSection } from "./report.ts";
import { freePort } from "./soak.ts";

const ROOT = resolve(import.meta.dirname, "..");
const GATEWAYS = 3;
const IN_FLIGHT = Number(process.argv.find((a) => a.startsWith("--in-flight="))?.slice(12) ?? 24);
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const SECONDS = Number(arg("seconds") ?? 15);
const ROUNDS = Number(arg("rounds") ?? 3);
const KEYS = 40;
const TENANTS = 4;

type Gateway = { url: string; proc: ChildProcess; stderr: string[] };

function locomo(): { turns: string[]; questions: string[] } {
  const convs = JSON.parse(readFileSync(resolve(ROOT, "../shared/data/locomo/locomo-dev.json"), "utf8")) as {
    conversation: Record<string, unknown>;
    qa: { question: string }[];
  }[];
  const turns = convs.flatMap((c) =>
    Object.entries(c.conversation)
      .filter(([k, v]) => /^session_\d+$/.test(k) && Array.isArray(v))
      .flatMap(([, v]) => (v as { speaker: string; text: string }[]).map((t) => `${t.speaker}: ${t.text}`)),
  );
  return { turns, questions: convs.flatMap((c) => c.qa.map((q) => q.question)) };
}

async function startGateway(env: NodeJS.ProcessEnv, dataDir: string): Promise<Gateway> {
  const port = await freePort();
  const stderr: string[] = [];
  const proc = spawn(process.execPath, [resolve(ROOT, "bin/hypha.js"), "serve"], {
    env: { ...env, HYPHA_DATA_DIR: dataDir, HYPHA_PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  proc.stderr?.on("data", (c: Buffer) => stderr.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`gateway exited: ${stderr.join("")}`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return { url, proc, stderr };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gateway did not become ready: ${stderr.join("")}`);
}

async function stopGateway(g: Gateway): Promise<void> {
  if (g.proc.exitCode !== null) return;
  const exited = new Promise((r) => g.proc.once("exit", r));
  g.proc.kill("SIGTERM");
  await exited;
}

async function json(url: string, method: string, key: string, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${await res.text()}`);
  return res.json() as Promise<Record<string, unknown>>;
}

/** One measurement: the load spread over `gateways` for SECONDS; requests/s and latency. */
async function measure(
  gateways: Gateway[],
  keys: string[],
  corpus: { turns: string[]; questions: string[] },
) {
  const pools = gateways.map((g) => new Pool(g.url, { connections: IN_FLIGHT }));
  const times: number[] = [];
  let errors = 0;
  const refused = new Map<number, number>();
  let sent = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const n = sent++;
      const key = keys[n % keys.length] as string;
      const pool = pools[n % pools.length] as Pool;
      const recall = n % 2 === 0;
      const body = recall
        ? { query: (corpus.questions[n % corpus.questions.length] ?? "").slice(0, 500), k: 10 }
        : { namespace: "bench", content: corpus.turns[n % corpus.turns.length] };
      const t0 = performance.now();
      const res = await pool.request({
        path: recall ? "/v1/memories/recall" : "/v1/memories",
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await res.body.arrayBuffer();
      if (res.statusCode >= 300) {
        errors++;
        refused.set(res.statusCode, (refused.get(res.statusCode) ?? 0) + 1);
      } else times.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => worker()));
  await Promise.all(pools.map((p) => p.close()));
  times.sort((a, b) => a - b);
  if (refused.size > 0)
    process.stdout.write(`  answers other than 2xx: ${JSON.stringify(Object.fromEntries(refused))}\n`);
  return { rps: times.length / SECONDS, p50: percentile(times, 50), p99: percentile(times, 99), errors };
}

export async function run(): Promise<void> {
  const db = await freshDatabase(
    process.env.HYPHA_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  );
  const root = mkdtempSync(join(tmpdir(), "hypha-bench-gateways-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    HYPHA_DATABASE_URL: db.url,
    HYPHA_DATABASE_MIGRATION_URL: db.migrationUrl,
    HYPHA_REDIS_URL: process.env.HYPHA_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
    HYPHA_REDIS_PREFIX: `hypha-bench-${randomBytes(4).toString("hex")}:`,
    HYPHA_MASTER_KEY: randomBytes(32).toString("base64"),
    HYPHA_ADMIN_KEY: adminKey,
    HYPHA_LOG_LEVEL: "warn",
    HYPHA_RATE_LIMIT_PER_MINUTE: "100000",
  };
  const gateways: Gateway[] = [];
  try {
    // The first gateway provisions the database and the secret files; the others get copies of
    // those files (what every gateway must share), each in its own data directory.
    const first = join(root, "g1");
    gateways.push(await startGateway(env, first));
    for (let i = 2; i <= GATEWAYS; i++) {
      const dir = join(root, `g${i}`);
      mkdirSync(dir, { mode: 0o700 });
      cpSync(join(first, "secrets"), join(dir, "secrets"), { recursive: true });
      gateways.push(await startGateway(env, dir));
    }
    const g1 = gateways[0] as Gateway;
    const corpus = locomo();
    // Keys' rate plans top out at 600 a minute: enough keys that the plans never bind, and an
    // anomaly cap that admits the load. Each tenant is seeded with the conversational corpus.
    const byTenant: string[][] = [];
    for (let t = 0; t < TENANTS; t++) {
      const tenant = await json(`${g1.url}/v1/tenants`, "POST", adminKey, { name: `bench-gateways-${t}` });
      const own: string[] = [];
      for (let i = 0; i < KEYS / TENANTS; i++) {
        const created = await json(`${g1.url}/v1/tenants/${tenant.id}/keys`, "POST", adminKey, {
          agent: `bench-${i}`,
          scopes: ["memories:read", "memories:write"],
          rate_limit_per_minute: 600,
        });
        own.push(String(created.key));
      }
      await json(`${g1.url}/v1/tenants/${tenant.id}/policy`, "PUT", adminKey, {
        anomaly: { max_requests_per_minute: 100_000 },
      });
      for (let i = 0; i < corpus.turns.length; i += 100) {
        const memories = corpus.turns.slice(i, i + 100).map((content) => ({ namespace: "bench", content }));
        await json(`${g1.url}/v1/memories`, "POST", own[0] as string, { memories });
      }
      byTenant.push(own);
    }
    // Interleaved, so consecutive requests go to different tenants.
    const keys = (byTenant[0] ?? []).flatMap((_, i) => byTenant.map((own) => own[i] as string));
    const results = new Map<number, { rps: number; p50: number; p99: number; errors: number }[]>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [1, 2, 3] : [3, 2, 1];
      for (const n of order) {
        const r = await measure(gateways.slice(0, n), keys, corpus);
        results.set(n, [...(results.get(n) ?? []), r]);
        process.stdout.write(
          `round ${round + 1}, ${n} gateway(s): ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors\n`,
        );
      }
    }
    const med = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    const base = med((results.get(1) ?? []).map((r) => r.rps));
    const rows = [1, 2, 3].map((n) => {
      const rs = results.get(n) ?? [];
      const rps = med(rs.map((r) => r.rps));
      return `| ${n} | ${rps.toFixed(0)} | ${(rps / base).toFixed(2)} | ${med(rs.map((r) => r.p50)).toFixed(1)} / ${med(rs.map((r) => r.p99)).toFixed(1)} ms | ${rs.reduce((a, r) => a + r.errors, 0)} |`;
    });
    const md = `## Gateways on one PostgreSQL database

Three \`hypha serve\` processes on one PostgreSQL database and one Redis (same secrets, own data
directories), all on this machine with the load generator. Closed loop: ${IN_FLIGHT} requests in
flight, half recalls of LoCoMo questions and half single stores of LoCoMo turns, spread round-robin
over the first N gateways for ${SECONDS} s, into ${TENANTS} tenants each seeded with ${corpus.turns.length} LoCoMo turns
(the requests cycle through the tenants);
${ROUNDS} rounds alternating the order, medians. One gateway is the baseline of the same run.

| gateways | requests/s | ÷ 1 gateway | p50 / p99 | errors |
| --- | --- | --- | --- | --- |
${rows.join("\n")}

What two cores allow: the gateways, PostgreSQL, Redis and the load generator share ${cpus().length} cores (load
average ${loadavg()[0]?.toFixed(1)} at the end), so more gateways add processes competing for the same CPU
rather than capacity; the figure shows that adding gateways costs little (shared state goes through
Redis and the database), not how they scale on separate machines.`;
    process.stdout.write(`${md}\n`);
    writeSection("gateways", md);
  } finally {
    for (const g of gateways) await stopGateway(g);
    rmSync(root, { recursive: true, force: true });
    await db.drop();
  }
}
