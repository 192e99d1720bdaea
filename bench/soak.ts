/**
 * Soak: a paced, open-loop mixed load against one `hypha serve` process on loopback, for a set
 * time, with per-minute latency per operation, refusals (503 OVERLOADED), timeouts, the server's
 * RSS, bytes it wrote to disk, and its event-loop lag. Open loop: requests leave on schedule
 * whether or not earlier ones finished, as real clients do, so a slow server builds a backlog
 * instead of slowing the load down.
 *
 *   node bench/run.ts soak                       80 req/s for 15 minutes
 *   node bench/run.ts soak --rate=160 --minutes=5
 *   node bench/run.ts soak --search --minutes=3  highest rate whose p99 stays ≤ 250 ms
 *   node bench/run.ts soak --search --rate=120 --hi=140   the same, below a rate known not to hold
 *   node bench/run.ts soak --search --lo=80 --rate=100 --hi=120   between a rate known to hold and one known not to
 *
 * The mix (4 tenants: two encrypted, one plaintext, one markdown): 50% recall, 30% single store,
 * 8% batches of 50, 5% update, 4% delete, 2% GDPR erasure by entity, 1% export. Content is
 * LoCoMo conversation turns; recall queries are LoCoMo's questions.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { percentile, writeSection } from "./report.ts";

const ROOT = resolve(import.meta.dirname, "..");
const LOCOMO = resolve(ROOT, "../shared/data/locomo/locomo-dev.json");
const TIMEOUT_MS = 60_000;

type Op = "recall" | "store" | "batch" | "update" | "delete" | "erase" | "export";
const MIX: readonly [Op, number][] = [
  ["recall", 0.5],
  ["store", 0.3],
  ["batch", 0.08],
  ["update", 0.05],
  ["delete", 0.04],
  ["erase", 0.02],
  ["export", 0.01],
];

function arg(name: string): string | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

type Corpus = { turns: string[]; questions: string[]; speakers: string[] };
function loadCorpus(): Corpus {
  const convs = JSON.parse(readFileSync(LOCOMO, "utf8")) as {
    conversation: Record<string, unknown>;
    qa: { question: string }[];
  }[];
  const turns: string[] = [];
  const questions: string[] = [];
  const speakers = new Set<string>();
  for (const c of convs) {
    for (const [k, v] of Object.entries(c.conversation)) {
      if (!/^session_\d+$/.test(k) || !Array.isArray(v)) continue;
      for (const t of v as { speaker: string; text: string }[]) {
        turns.push(`${t.speaker}: ${t.text}`);
        speakers.add(t.speaker.toLowerCase());
      }
    }
    for (const q of c.qa) questions.push(q.question);
  }
  return { turns, questions, speakers: [...speakers] };
}

/** A free TCP port on loopback (for a server the benchmark starts). */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? ok(addr.port) : fail(new Error("no port"))));
    });
  });
}

type Server = { url: string; pid: number; adminKey: string; dataDir: string; stop(): Promise<void> };

/** Bytes of every file under `dir` (the data folder's size on disk, as the operator sees it). */
function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  }
  return n;
}

async function startServer(): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-soak-"));
  const port = await freePort();
  const adminKey = `hya_${randomBytes(32).toString("base64url")}`;
  const child = spawn(resolve(ROOT, "node_modules/.bin/node"), [resolve(ROOT, "bin/hypha.js"), "serve"], {
    env: {
      ...process.env,
      HYPHA_DATA_DIR: dataDir,
      HYPHA_PORT: String(port),
      HYPHA_ADMIN_KEY: adminKey,
      HYPHA_LOG_LEVEL: "warn",
      HYPHA_RATE_LIMIT_PER_MINUTE: "100000",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid ?? 0,
    adminKey,
    dataDir,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** What a failed request ran into: the socket error's code (ECONNRESET, UND_ERR_SOCKET …) or the error's name. */
function errorKind(err: unknown): string {
  const cause =
    err instanceof Error ? (err.cause as { code?: string; name?: string } | undefined) : undefined;
  if (cause?.code) return cause.code;
  if (cause?.name && cause.name !== "Error") return cause.name;
  return err instanceof Error ? err.name : "unknown";
}

function procStats(pid: number): { rssMb: number; writeBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const io = readFileSync(`/proc/${pid}/io`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const writeBytes = Number(/write_bytes:\s+(\d+)/.exec(io)?.[1] ?? 0);
  return { rssMb: rss, writeBytes };
}

/** The server's metrics, as Prometheus text. */
async function metricsText(srv: Server): Promise<string> {
  const r = await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${srv.adminKey}` } });
  return r.text();
}

async function eventLoopLagP99(srv: Server): Promise<number> {
  const text = await metricsText(srv);
  return Number(/^hypha_nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1] ?? Number.NaN) * 1000;
}

/**
 * A stage's timing histogram in the server's `metrics`: how many times it ran (`count`) or the
 * seconds it took in all (`sum`); 0 when it never ran.
 */
function stageTotal(metrics: string, stage: string, total: "count" | "sum"): number {
  const re = new RegExp(`^hypha_stage_duration_seconds_${total}\\{stage="${stage}"\\} (\\S+)`, "m");
  return Number(re.exec(metrics)?.[1] ?? 0);
}

/**
 * `kind` names what went wrong when the request got no answer or a 5xx other than 503, and why a
 * 503 was refused (the admission reason it names).
 */
type Sample = { op: Op; ms: number; status: number; minute: number; kind?: string };

export type SoakResult = {
  rate: number;
  minutes: number;
  perMinute: {
    minute: number;
    sent: number;
    served: number;
    refused: number;
    timeouts: number;
    errors: number;
    errorKinds: Record<string, number>;
    /** Refusals (503) by operation. */
    refusedBy: Record<string, number>;
    /** Refusals by the reason they name. */
    refusedFor: Record<string, number>;
    /** How long a refusal took to arrive (p50, p99 ms). */
    refusedMs: { p50: number; p99: number } | null;
    p50: Partial<Record<Op, number>>;
    p99: Partial<Record<Op, number>>;
    rssMb: number;
    writeMb: number;
    lagP99Ms: number;
    /** The load generator's own event-loop lag (p99 ms): how late it reads the answers it times. */
    clientLagP99Ms: number;
  }[];
  overall: {
    p50: Partial<Record<Op, number>>;
    p99: Partial<Record<Op, number>>;
    refused: number;
    timeouts: number;
    /** Requests unanswered after the timeout, by operation. */
    timedOutBy: Record<string, number>;
    errors: number;
    /** Errors counted by operation and kind ("store ECONNRESET": n). */
    errorKinds: Record<string, number>;
    /** Refusals (503) by operation. */
    refusedBy: Record<string, number>;
    /** Refusals by the reason they name. */
    refusedFor: Record<string, number>;
    /** How long a refusal took to arrive (p50, p99 ms). */
    refusedMs: { p50: number; p99: number } | null;
    served: number;
  };
  bytesStored: number;
  bytesWritten: number;
  /** The data folder's size at the end of the run. */
  folder: number;
  /** Commits to the embedded store, and flushes of its log to disk (each write waits for one). */
  commits: number;
  flushes: number;
  /** Truncating checkpoints after erasures, which hold the serving thread: how many, seconds in all. */
  compactions: { count: number; seconds: number };
};

export async function soak(rate: number, minutes: number): Promise<SoakResult> {
  const corpus = loadCorpus();
  const srv = await startServer();
  const api = async (method: string, path: string, key: string, body?: unknown) => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await r.text();
    const answer = text ? (JSON.parse(text.split("\n")[0] ?? "null") as unknown) : null;
    // A refusal names its reason (admission.ts `OverloadReason`) in its first detail.
    const reason =
      r.status === 503
        ? (answer as { error?: { details?: { message?: string }[] } } | null)?.error?.details?.[0]?.message
        : undefined;
    return { status: r.status, body: answer, text, reason };
  };
  let seed = 7;
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  // A key's rate plan is at most 600 a minute: each tenant's share of the load is spread over keys.
  const keysPerTenant = Math.max(1, Math.ceil((rate * 60) / 4 / 500));
  const tenants: { id: string; keys: string[]; ids: string[]; readonly key: string }[] = [];
  for (const [i, mode] of (
    [
      { encryption: "aes-gcm" },
      { encryption: "aes-gcm" },
      { encryption: "none" },
      { encryption: "none", storage: "markdown" },
    ] as const
  ).entries()) {
    const t = await api("POST", "/v1/tenants", srv.adminKey, { name: `soak-${i}`, ...mode });
    const id = (t.body as { id: string }).id;
    const keys: string[] = [];
    for (let n = 0; n < keysPerTenant; n++) {
      const k = await api("POST", `/v1/tenants/${id}/keys`, srv.adminKey, {
        agent: `soak-${n}`,
        scopes: ["admin"],
        rate_limit_per_minute: 600,
      });
      keys.push((k.body as { key: string }).key);
    }
    // Each key's anomaly cap must admit its share of the load.
    await api("PUT", `/v1/tenants/${id}/policy`, keys[0] ?? "", {
      anomaly: { max_requests_per_minute: 100_000 },
    });
    tenants.push({
      id,
      keys,
      ids: [],
      get key() {
        return pick(keys);
      },
    });
  }

  const entityOf = (text: string) => {
    const speaker = text.slice(0, text.indexOf(":")).toLowerCase();
    return speaker || pick(corpus.speakers);
  };
  // Content the server acknowledged storing (stores, batches and updates answered 2xx): a refused
  // write stores nothing.
  let bytesStored = 0;
  const memory = () => {
    const content = pick(corpus.turns);
    return { namespace: "soak", content, entities: [entityOf(content)] };
  };
  const stored = (...contents: string[]) => {
    for (const c of contents) bytesStored += Buffer.byteLength(c);
  };

  /** One operation's answer: its status, and a refusal's reason. */
  async function run(op: Op, t: (typeof tenants)[number]): Promise<{ status: number; reason?: string }> {
    switch (op) {
      case "recall":
        return api("POST", "/v1/memories/recall", t.key, { query: pick(corpus.questions), k: 10 });
      case "store": {
        const m = memory();
        const r = await api("POST", "/v1/memories", t.key, m);
        if (r.status === 201) {
          t.ids.push((r.body as { id: string }).id);
          stored(m.content);
        }
        return r;
      }
      case "batch": {
        const memories = Array.from({ length: 50 }, memory);
        const r = await api("POST", "/v1/memories", t.key, { memories });
        if (r.status === 201) {
          for (const m of (r.body as { memories: { id: string }[] }).memories) t.ids.push(m.id);
          stored(...memories.map((m) => m.content));
        }
        return r;
      }
      case "update": {
        const id = t.ids.length ? pick(t.ids) : null;
        if (!id) return { status: 0 };
        const content = pick(corpus.turns);
        const r = await api("PATCH", `/v1/memories/${id}`, t.key, { content });
        if (r.status === 200) stored(content);
        return r;
      }
      case "delete": {
        const i = Math.floor(rand() * t.ids.length);
        const id = t.ids[i];
        if (!id) return { status: 0 };
        t.ids.splice(i, 1);
        return api("DELETE", `/v1/memories/${id}`, t.key);
      }
      case "erase":
        return api("DELETE", "/v1/memories", t.key, { entity: pick(corpus.speakers) });
      case "export":
        return api("GET", "/v1/memories/export", t.key);
    }
  }

  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  const end = start + minutes * 60_000;
  const intervalMs = 1000 / rate;
  const perMinuteSystem: { rssMb: number; writeMb: number; lagP99Ms: number; clientLagP99Ms: number }[] = [];
  // The load generator shares the cores: its own lag is part of every latency it reports.
  const clientLag = monitorEventLoopDelay({ resolution: 10 });
  clientLag.enable();
  const takeClientLag = () => {
    const p99 = clientLag.percentile(99) / 1e6;
    clientLag.reset();
    return p99;
  };
  const io0 = procStats(srv.pid).writeBytes;
  let minuteMark = start + 60_000;
  let sent = 0;
  let next = start;
  while (performance.now() < end) {
    const now = performance.now();
    if (now >= minuteMark) {
      const s = procStats(srv.pid);
      perMinuteSystem.push({
        rssMb: s.rssMb,
        writeMb: (s.writeBytes - io0) / 2 ** 20,
        lagP99Ms: await eventLoopLagP99(srv).catch(() => Number.NaN),
        clientLagP99Ms: takeClientLag(),
      });
      minuteMark += 60_000;
    }
    if (now < next) {
      await new Promise((r) => setTimeout(r, Math.min(next - now, 50)));
      continue;
    }
    next += intervalMs;
    sent++;
    let r = rand();
    let op: Op = "recall";
    for (const [name, share] of MIX) {
      if (r < share) {
        op = name;
        break;
      }
      r -= share;
    }
    const t = pick(tenants);
    const minute = Math.floor((now - start) / 60_000);
    const t0 = performance.now();
    const p: Promise<void> = run(op, t)
      .then(
        ({ status, reason }) => {
          const kind = status >= 500 && status !== 503 ? `HTTP ${status}` : (reason ?? undefined);
          samples.push({ op, ms: performance.now() - t0, status, minute, ...(kind ? { kind } : {}) });
        },
        (err: unknown) => {
          const timeout = err instanceof Error && err.name === "TimeoutError";
          samples.push({
            op,
            ms: performance.now() - t0,
            status: timeout ? -1 : -2,
            minute,
            kind: errorKind(err),
          });
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const s = procStats(srv.pid);
  const lastLag = await eventLoopLagP99(srv).catch(() => Number.NaN);
  if (perMinuteSystem.length < minutes)
    perMinuteSystem.push({
      rssMb: s.rssMb,
      writeMb: (s.writeBytes - io0) / 2 ** 20,
      lagP99Ms: lastLag,
      clientLagP99Ms: takeClientLag(),
    });
  clientLag.disable();
  const bytesWritten = s.writeBytes - io0;
  const folder = folderBytes(srv.dataDir);
  const metrics = await metricsText(srv).catch(() => "");
  const commits = stageTotal(metrics, "db.commit", "count");
  const flushes = stageTotal(metrics, "db.flush", "count");
  const compactions = {
    count: stageTotal(metrics, "db.compact", "count"),
    seconds: stageTotal(metrics, "db.compact", "sum"),
  };
  await srv.stop();

  const stats = (xs: Sample[]) => {
    const refused = xs.filter((x) => x.status === 503);
    const refusedMs = refused.map((x) => x.ms).sort((a, b) => a - b);
    const p50: Partial<Record<Op, number>> = {};
    const p99: Partial<Record<Op, number>> = {};
    for (const [op] of MIX) {
      const ms = xs
        .filter((x) => x.op === op && x.status >= 200 && x.status < 300)
        .map((x) => x.ms)
        .sort((a, b) => a - b);
      if (ms.length) {
        p50[op] = percentile(ms, 50);
        p99[op] = percentile(ms, 99);
      }
    }
    const timedOut = xs.filter((x) => x.status === -1);
    return {
      p50,
      p99,
      served: xs.filter((x) => x.status >= 200 && x.status < 300).length,
      refused: refused.length,
      refusedMs: refusedMs.length ? { p50: percentile(refusedMs, 50), p99: percentile(refusedMs, 99) } : null,
      refusedBy: countBy(refused, (x) => x.op),
      refusedFor: countBy(refused, (x) => x.kind ?? "unnamed"),
      timeouts: timedOut.length,
      timedOutBy: countBy(timedOut, (x) => x.op),
      errors: xs.filter((x) => x.status === -2 || (x.status >= 500 && x.status !== 503)).length,
      errorKinds: countBy(
        xs.filter((x) => x.kind && x.status !== -1 && x.status !== 503),
        (x) => `${x.op} ${x.kind}`,
      ),
    };
  };
  const perMinute = Array.from({ length: minutes }, (_, m) => {
    const xs = samples.filter((x) => x.minute === m);
    const sys = perMinuteSystem[m] ?? {
      rssMb: Number.NaN,
      writeMb: Number.NaN,
      lagP99Ms: Number.NaN,
      clientLagP99Ms: Number.NaN,
    };
    return { minute: m + 1, sent: xs.length, ...stats(xs), ...sys };
  });
  void sent;
  return {
    rate,
    minutes,
    perMinute,
    overall: stats(samples),
    bytesStored,
    bytesWritten,
    folder,
    commits,
    flushes,
    compactions,
  };
}

/** How many of `xs` fall under each key. */
const countBy = <T>(xs: readonly T[], key: (x: T) => string): Record<string, number> =>
  Object.fromEntries([...Map.groupBy(xs, key)].map(([k, v]) => [k, v.length]));

const f = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? "–" : x < 10 ? x.toFixed(1) : x.toFixed(0);

const kinds = (k: Record<string, number>) => {
  const parts = Object.entries(k).sort((a, b) => b[1] - a[1]);
  return parts.length
    ? ` Errors by operation and kind: ${parts.map(([name, n]) => `${name} ${n}`).join(", ")}.`
    : "";
};

/** Counts by name, largest first: `name n, name n`. */
const list = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");

const refusals = (k: Record<string, number>, why: Record<string, number>) =>
  Object.keys(k).length ? ` Refused by operation: ${list(k)}; by the reason given: ${list(why)}.` : "";

/**
 * The least a durable write can cost: the operating system writes a file in pages of 4 KiB, so each
 * flush of the log writes at least one, whatever the commits before it changed.
 */
const flushFloor = (r: SoakResult) =>
  r.flushes > 0
    ? ` Commits ${r.commits} (${(r.commits / (r.minutes * 60)).toFixed(0)}/s), log flushes ${r.flushes} (${(r.flushes / (r.minutes * 60)).toFixed(0)}/s): one 4 KiB page per flush alone would be ${((r.flushes * 4096) / Math.max(1, r.bytesStored)).toFixed(1)}× the content.`
    : "";

const compactionLine = (r: SoakResult) =>
  r.compactions.count > 0
    ? ` Truncating checkpoints after erasures (on the serving thread): ${r.compactions.count}, ${r.compactions.seconds.toFixed(1)} s in all, ${((r.compactions.seconds * 1000) / r.compactions.count).toFixed(1)} ms each on average.`
    : "";

function table(r: SoakResult): string {
  const rows = r.perMinute.map(
    (m) =>
      `| ${m.minute} | ${m.sent} | ${m.refused} | ${m.timeouts} | ${m.errors} | ${f(m.p50.recall)} / ${f(m.p99.recall)} | ${f(m.p50.store)} / ${f(m.p99.store)} | ${f(m.p50.batch)} / ${f(m.p99.batch)} | ${f(m.p50.erase)} / ${f(m.p99.erase)} | ${f(m.p99.export)} | ${f(m.rssMb)} | ${f(m.writeMb)} | ${f(m.lagP99Ms)} | ${f(m.clientLagP99Ms)} | ${m.refusedMs ? `${f(m.refusedMs.p50)} / ${f(m.refusedMs.p99)}` : "–"} |`,
  );
  return [
    `Offered ${r.rate} requests/s for ${r.minutes} min: ${r.overall.served} served, ${r.overall.refused} refused (503), ${r.overall.timeouts} timeouts${r.overall.timeouts ? ` (${list(r.overall.timedOutBy)})` : ""}, ${r.overall.errors} errors. Overall p50 / p99 (ms): recall ${f(r.overall.p50.recall)} / ${f(r.overall.p99.recall)}, store ${f(r.overall.p50.store)} / ${f(r.overall.p99.store)}. Bytes written per byte stored: ${(r.bytesWritten / Math.max(1, r.bytesStored)).toFixed(1)} (${(r.bytesWritten / 2 ** 20).toFixed(0)} MiB written for ${(r.bytesStored / 2 ** 20).toFixed(1)} MiB of content); per byte of the data folder at the end: ${(r.bytesWritten / Math.max(1, r.folder)).toFixed(1)} (${(r.folder / 2 ** 20).toFixed(0)} MiB).${flushFloor(r)}${compactionLine(r)}${refusals(r.overall.refusedBy, r.overall.refusedFor)}${r.overall.refusedMs ? ` Refusals arrived in p50 / p99 ${f(r.overall.refusedMs.p50)} / ${f(r.overall.refusedMs.p99)} ms.` : ""}${kinds(r.overall.errorKinds)}`,
    "",
    "| min | sent | 503 | timeouts | errors | recall p50/p99 ms | store p50/p99 | batch p50/p99 | erase p50/p99 | export p99 | RSS MiB | written MiB (cum.) | loop lag p99 ms | load generator's lag p99 ms | 503 arrived p50/p99 ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** The share of requests a rate may shed (503, exports aside) and still count as sustained. */
const SHED_TOLERANCE = 0.001;

export async function run(): Promise<void> {
  const minutes = Number(arg("minutes") ?? 15);
  const sections: string[] = [
    "Open-loop mixed load on loopback, server and load generator on the same machine (`node bench/run.ts soak`). The mix: 50% recall, 30% store, 8% batches of 50, 5% update, 4% delete, 2% GDPR erasure by entity, 1% export over four tenants (two encrypted, one plaintext, one markdown); LoCoMo turns as content, LoCoMo questions as queries. Latencies are timed by the load generator, from the request sent to its answer read; its own event-loop lag (a column below) is part of them. 503s are refusals by admission control: how fast they arrived is a column too.",
  ];
  if (process.argv.includes("--search")) {
    // Doubling, then bisection, on the highest rate whose recall and store p99 stay ≤ 250 ms with
    // no timeouts or errors and at most one request in a thousand shed (503) beyond exports (bounded
    // by policy at any rate: two per process, one per tenant); each step is a fresh server and a run
    // of `--minutes`.
    const shed = (r: SoakResult) => r.overall.refused - (r.overall.refusedBy.export ?? 0);
    const sent = (r: SoakResult) =>
      r.overall.served + r.overall.refused + r.overall.timeouts + r.overall.errors;
    const ok = (r: SoakResult) =>
      r.overall.timeouts === 0 &&
      r.overall.errors === 0 &&
      (r.overall.p99.recall ?? Infinity) <= 250 &&
      (r.overall.p99.store ?? Infinity) <= 250 &&
      shed(r) <= SHED_TOLERANCE * sent(r);
    // `--hi=N`: a rate already known not to hold (from a shorter run), so the search bisects at once;
    // `--lo=N`: one already known to hold for as long.
    let lo = Number(arg("lo") ?? 0);
    let hi = Number(arg("hi") ?? 0);
    let rate = Number(arg("rate") ?? 20);
    const tried: string[] = [];
    for (;;) {
      const r = await soak(rate, minutes);
      tried.push(
        `| ${rate} | ${ok(r) ? "yes" : "no"} | ${f(r.overall.p99.recall)} | ${f(r.overall.p99.store)} | ${r.overall.refused} (exports ${r.overall.refusedBy.export ?? 0}; others ${((100 * shed(r)) / Math.max(1, sent(r))).toFixed(2)} % of ${sent(r)}; ${list(r.overall.refusedFor)}) | ${r.overall.timeouts} |`,
      );
      process.stdout.write(`${tried.at(-1)}\n`);
      if (ok(r)) lo = rate;
      else hi = rate;
      if (hi === 0) rate *= 2;
      else if (hi - lo <= Math.max(5, lo * 0.1)) break;
      else rate = Math.round((lo + hi) / 2);
    }
    const bound = arg("hi");
    const floor = arg("lo");
    sections.push(
      `Highest sustained rate with recall and store p99 ≤ 250 ms, no timeouts or errors, and at most ${100 * SHED_TOLERANCE} % of requests refused (503) besides exports (two per process and one per tenant, by policy), over ${minutes}-minute steps: **${lo} requests/s**.${bound ? ` The search started below ${bound} requests/s, a rate that had not held in a shorter run.` : ""}${floor ? ` ${floor} requests/s was taken as held (it had held for as long).` : ""}`,
      [
        "| offered req/s | held | recall p99 ms | store p99 ms | 503 | timeouts |",
        "|---|---|---|---|---|---|",
        ...tried,
      ].join("\n"),
    );
  } else {
    const rate = Number(arg("rate") ?? 80);
    const r = await soak(rate, minutes);
    sections.push(table(r));
  }
  const md = sections.join("\n\n");
  process.stdout.write(`${md}\n`);
  writeSection(process.argv.includes("--search") ? "soak-search" : `soak-${arg("rate") ?? 80}`, md);
}
