import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";

// Every module resolved from here on, to show that no OpenTelemetry code loads when tracing is off.
const resolved: { specifier: string; parent: string }[] = [];
registerHooks({
  resolve(specifier, context, next) {
    resolved.push({ specifier, parent: context.parentURL ?? "" });
    return next(specifier, context);
  },
});
delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const { TEST_DATABASE_URL } = await import("./pg.ts");
const ROOT = resolve(import.meta.dirname, "..");
const { startServer } = await import("./harness.ts");
type TestServer = Awaited<ReturnType<typeof startServer>>;

describe("tracing off by default; stage histograms always", () => {
  let s: TestServer;
  let tenantA: { tenantId: string; key: string };

  before(async () => {
    s = await startServer({ metricsPerTenant: true, metricsTenantLimit: 1 });
    tenantA = await s.seedTenant();
    const tenantB = await s.seedTenant();
    for (const t of [tenantA, tenantB]) {
      await s.storeMemory(t.key, { content: "the heron waits by the reeds" });
      const res = await s.request("POST", "/v1/memories/recall", {
        key: t.key,
        body: { query: "heron reeds" },
        headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
      });
      assert.equal(res.status, 200);
    }
  });
  after(() => s.close());

  test("without OTEL_EXPORTER_OTLP_ENDPOINT the OpenTelemetry SDK and exporter are not loaded", () => {
    assert.ok(
      resolved.some((r) => r.specifier.endsWith("telemetry.ts")),
      "the facade itself was loaded",
    );
    // prom-client looks up the bare API package for exemplars; nothing else of OpenTelemetry loads.
    const otel = resolved.filter((r) => r.specifier.includes("@opentelemetry"));
    for (const r of otel) {
      assert.equal(r.specifier, "@opentelemetry/api", r.specifier);
      assert.match(r.parent, /node_modules\/prom-client\//);
    }
    assert.ok(
      !resolved.some((r) => /telemetry\.ts$/.test(r.parent) && r.specifier.includes("@opentelemetry")),
    );
  });

  test("without tracing, log lines carry no trace id (not even an incoming traceparent's)", () => {
    const requests = s.logs.filter((l) => l.includes('"request"') && l.includes('"route"'));
    assert.ok(requests.length > 0, `${s.logs.length} lines: ${s.logs.slice(-2).join("")}`);
    for (const l of requests) assert.ok(!l.includes("traceId"), l);
  });

  test("stage timings are Prometheus histograms, per tenant up to the cap and `other` beyond it", async () => {
    const res = await s.request("GET", "/metrics");
    assert.equal(res.status, 200);
    // The log's flush is the embedded store's own (PostgreSQL flushes its WAL itself).
    const stages = ["auth.verify", "governance.gate", "recall.search", "recall.decrypt", "db.commit"];
    if (!TEST_DATABASE_URL) stages.push("db.flush");
    for (const stage of stages) {
      assert.match(
        res.text,
        new RegExp(`hypha_stage_duration_seconds_bucket\\{le="[^"]+",stage="${stage.replace(".", "\\.")}"`),
      );
    }
    const recallTenants = [
      ...res.text.matchAll(/hypha_stage_duration_seconds_count\{stage="recall\.search",tenant="([^"]+)"\}/g),
    ].map((m) => m[1]);
    assert.deepEqual(recallTenants.sort(), [tenantA.tenantId, "other"].sort());
  });

  test("every stage the code times is named in the README's list of stages", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const from = readme.indexOf("  Stages: `");
    const to = readme.indexOf("A per-tenant\n  breakdown", from);
    assert.ok(from >= 0 && to > from, "the README's list of stages is where this test looks for it");
    const list = readme.slice(from, to);
    const stages = new Set<string>();
    for (const file of readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".ts") || file.endsWith(".test.ts")) continue;
      const text = readFileSync(join(ROOT, "src", file), "utf8");
      for (const m of text.matchAll(/\b(?:span|mark)\(\s*"([a-z_]+\.[a-z_]+)"/g)) stages.add(m[1] as string);
    }
    assert.ok(stages.size >= 15, `${stages.size} stages found in src/`);
    for (const stage of stages)
      assert.ok(list.includes(`\`${stage}\``), `${stage} is not in the README's list`);
  });
});
