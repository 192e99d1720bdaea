/**
 * Credential proxy overhead: the latency of POST /v1/proxy/http against a direct call to the same
 * local receiver, measured in one run, with the broker embedded (one process) and with `hypha proxy`
 * as a second process behind its unix socket. The receiver answers with a realistic JSON body (the
 * first LoCoMo session, ~3 KB) that the broker scans for echoes of the secret.
 *
 * Run: ./node_modules/.bin/node bench/proxy.ts [--write]   (--write updates docs/benchmarks.md)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { request } from "undici";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { percentile, writeSection } from "./report.ts";

const ROOT = resolve(import.meta.dirname, "..");
const NODE = resolve(ROOT, "node_modules/.bin/node");
const CALLS = 400;
const WARMUP = 50;
const ROUNDS = 3;

type Stats = { p50: number; p99: number };

async function measure(fn: () => Promise<void>): Promise<Stats> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function startProxyProcess(dir: string, socket: string, token: string): Promise<ChildProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("HYPHA_")) env[k] = v;
  const child = spawn(NODE, ["bin/hypha.js", "proxy", "--data", dir, "--socket", socket], {
    cwd: ROOT,
    env: { ...env, HYPHA_PROXY_TOKEN: token, HYPHA_EGRESS_ALLOW: "127.0.0.1", HYPHA_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error(`proxy did not start:\n${out}`)), 30_000);
    const poll = setInterval(async () => {
      try {
        const { statSync } = await import("node:fs");
        statSync(socket);
        clearInterval(poll);
        clearTimeout(timer);
        res();
      } catch {
        // not yet
      }
    }, 50);
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("exit", (code) => rej(new Error(`proxy exited ${code}:\n${out}`)));
  });
  return child;
}

/** A server (embedded broker, or forwarding to a proxy process) with one credential and one key. */
async function gateway(dataDir: string, extra: Record<string, unknown>) {
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const config = loadConfig(
    {},
    {
      dataDir,
      adminKey,
      logLevel: "silent",
      port: 0,
      egressAllow: ["127.0.0.1"],
      rateLimitPerMinute: 100_000,
      ...extra,
    },
  );
  const app = await createApp({ config });
  const url = await app.app.listen({ host: "127.0.0.1", port: 0 });
  const call = async (method: string, path: string, body: unknown, key = adminKey) => {
    const res = await request(url + path, {
      method: method as "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${path}: ${res.statusCode} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const tenant = (await call("POST", "/v1/tenants", { name: `bench-${randomBytes(3).toString("hex")}` }))
    .id as string;
  await call("PUT", `/v1/tenants/${tenant}/policy`, { anomaly: { enforce: false } });
  const key = (
    await call("POST", `/v1/tenants/${tenant}/keys`, {
      agent: "bench",
      scopes: ["write"],
      capabilities: ["credentials.use"],
    })
  ).key as string;
  await call("POST", `/v1/tenants/${tenant}/credentials`, {
    name: "bench",
    service: "bench",
    allowed_hosts: ["http://127.0.0.1:*"],
    injection: { type: "bearer" },
    secret: `tok_${randomBytes(24).toString("base64url")}`,
  });
  return { app, url, key };
}

export async function run(): Promise<void> {
  const locomo = JSON.parse(readFileSync(resolve(ROOT, "../shared/data/locomo/locomo-dev.json"), "utf8")) as {
    conversation: { session_1: unknown };
  }[];
  const payload = JSON.stringify(locomo[0]?.conversation.session_1 ?? []);
  const receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(payload);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api`;

  const root = mkdtempSync(join(tmpdir(), "hypha-bench-proxy-"));
  const token = randomBytes(32).toString("base64url");
  const socket = join(root, "run", "proxy.sock");
  const proxyChild = await startProxyProcess(join(root, "proxy"), socket, token);
  const embedded = await gateway(join(root, "embedded"), {});
  const split = await gateway(join(root, "split"), { proxySocket: socket, proxyToken: token });

  const direct = async () => {
    const res = await request(target, { method: "GET", headers: { authorization: "Bearer direct" } });
    await res.body.text();
  };
  const via = (g: { url: string; key: string }) => async () => {
    const res = await request(`${g.url}/v1/proxy/http`, {
      method: "POST",
      headers: { authorization: `Bearer ${g.key}`, "content-type": "application/json" },
      body: JSON.stringify({ credential: "bench", method: "GET", url: target }),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`proxy: ${res.statusCode} ${text}`);
  };

  // The same chokepoint without an outbound call: reading the credential's metadata.
  const metadata = async () => {
    const res = await request(`${embedded.url}/v1/proxy/http`, {
      method: "POST",
      headers: { authorization: `Bearer ${embedded.key}`, "content-type": "application/json" },
      body: JSON.stringify({ credential: "bench", method: "GET", url: "https://outside.example/" }),
    });
    await res.body.text();
    if (res.statusCode !== 403) throw new Error(`refusal: ${res.statusCode}`);
  };
  const runs = {
    direct: [] as Stats[],
    refused: [] as Stats[],
    embedded: [] as Stats[],
    split: [] as Stats[],
  };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      runs.direct.push(await measure(direct));
      runs.refused.push(await measure(metadata));
      runs.embedded.push(await measure(via(embedded)));
      runs.split.push(await measure(via(split)));
    }
  } finally {
    await embedded.app.close();
    await split.app.close();
    proxyChild.kill("SIGTERM");
    receiver.close();
    rmSync(root, { recursive: true, force: true });
  }
  const agg = (xs: Stats[]) => ({ p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)) });
  const d = agg(runs.direct);
  const e = agg(runs.embedded);
  const s = agg(runs.split);
  const refused = agg(runs.refused);
  const row = (name: string, x: Stats) =>
    `| ${name} | ${x.p50.toFixed(2)} / ${x.p99.toFixed(2)} ms | +${(x.p50 - d.p50).toFixed(2)} ms (${(x.p50 / d.p50).toFixed(1)}×) |`;
  const md = `## Credential proxy overhead

Sequential GET calls (${CALLS} per round after ${WARMUP} warm-up calls, median of ${ROUNDS} rounds) to one
local receiver answering a ~${Math.round(payload.length / 1024)} KB JSON body (the first LoCoMo session).
"Direct" is undici straight to the receiver; the proxied calls go through authentication, the
capability and binding checks, the egress guard (a fresh pinned connection per call), injection,
scrubbing of the response and the audit events, committed before the answer.

| path | p50 / p99 | p50 overhead vs direct |
| --- | --- | --- |
| direct to the receiver (baseline) | ${d.p50.toFixed(2)} / ${d.p99.toFixed(2)} ms | — |
${row("POST /v1/proxy/http refused by the host binding (no outbound call; the denial audited)", refused)}
${row("POST /v1/proxy/http, broker embedded (one process)", e)}
${row("POST /v1/proxy/http, hypha proxy as a second process (unix socket)", s)}
`;
  process.stdout.write(`${md}\n`);
  if (process.argv.includes("--write")) writeSection("proxy", md);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
