/**
 * Verified ingestion rate: signed GitHub deliveries sent over real HTTP to
 * `POST /v1/ingest/{tenant}/{connector}` (HMAC check, replay record, durable inbox row, 202), then
 * the worker turning them into memories. Reports acknowledgements per second, end-to-end
 * deliveries-to-memories per second, and the ingest latency percentiles.
 *
 * Run: ./node_modules/.bin/node bench/ingest.ts [--write]   (docs/benchmarks.md only with --write)
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { generateSecret, KEY_PREFIX } from "../src/lib/secrets.ts";
import { percentile, writeSection } from "./report.ts";

const SECRET = "bench-secret-0123456789abcdef";

export async function run(opts: { deliveries?: number; concurrency?: number } = {}) {
  const total = opts.deliveries ?? 2000;
  const concurrency = opts.concurrency ?? 16;
  const dataDir = mkdtempSync(join(tmpdir(), "hypha-bench-ingest-"));
  const adminKey = generateSecret(KEY_PREFIX.admin);
  const hypha = await createApp({
    config: loadConfig({}, { dataDir, adminKey, logLevel: "silent", port: 0 }),
  });
  const url = await hypha.app.listen({ host: "127.0.0.1", port: 0 });
  try {
    const call = async (path: string, body: unknown) => {
      const res = await fetch(url + path, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const tenantId = (await call("/v1/tenants", { name: "bench" })).id as string;
    const connector = await call(`/v1/tenants/${tenantId}/connectors`, {
      name: "gh",
      config: { source: "github", secret: SECRET, mapping: { namespace: "bench" } },
    });
    const path = connector.ingest_path as string;
    const bodies = Array.from({ length: total }, (_, n) =>
      JSON.stringify({
        action: "opened",
        issue: {
          number: n,
          title: `Issue ${n}: login fails on Safari`,
          body: "Steps: open, click, fail. ".repeat(10),
          user: { login: "octo" },
        },
        repository: { full_name: "acme/app" },
        sender: { login: "octo" },
      }),
    );

    const latencies: number[] = [];
    let next = 0;
    let accepted = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const n = next++;
          const body = bodies[n] ?? "";
          const s = performance.now();
          const res = await fetch(url + path, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-github-event": "issues",
              "x-github-delivery": `bench-${n}`,
              "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
            },
            body,
          });
          await res.arrayBuffer();
          latencies.push(performance.now() - s);
          if (res.status === 202) accepted++;
        }
      }),
    );
    const ackSeconds = (performance.now() - t0) / 1000;
    const w0 = performance.now();
    const processed = await hypha.services.connectors.worker.drain();
    const workerSeconds = (performance.now() - w0) / 1000;
    latencies.sort((a, b) => a - b);
    const result = {
      deliveries: total,
      accepted,
      processed,
      ackPerSecond: accepted / ackSeconds,
      workerPerSecond: processed / workerSeconds,
      endToEndPerSecond: processed / (ackSeconds + workerSeconds),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
    if (process.argv.includes("--write"))
      writeSection(
        "ingest",
        `## Verified webhook ingestion

${total} signed GitHub \`issues\` deliveries (~400 B each), ${concurrency} concurrent senders over HTTP on
127.0.0.1, one tenant, one connector; then the worker turns the inbox into memories.

| Figure | Value |
| --- | --- |
| Acknowledged (202: verified, replay-checked, committed to the inbox) | ${result.ackPerSecond.toFixed(0)} deliveries/s |
| Worker (inbox → memories, one transaction per delivery) | ${result.workerPerSecond.toFixed(0)} deliveries/s |
| End to end (delivery to memory) | ${result.endToEndPerSecond.toFixed(0)} deliveries/s |
| Ingest latency p50 / p99 | ${result.p50.toFixed(2)} ms / ${result.p99.toFixed(2)} ms |`,
      );
    return result;
  } finally {
    await hypha.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  process.stdout.write(`${JSON.stringify(await run(), null, 2)}\n`);
}
