import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { findSecrets } from "../src/lib/secret-patterns.ts";
import { flushTracing } from "../src/platform/telemetry.ts";
import { startServer, type TestServer } from "./harness.ts";
import { buildFixture, type Fixture, rightfulKey, routeName, SAMPLES } from "./security-suite.ts";

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
};
type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: OtlpValue }[];
  events?: { name: string; attributes?: { key: string; value: OtlpValue }[] }[];
};
type OtlpExport = { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };

/** A local OTLP/HTTP receiver (JSON protocol): the edge the exporter talks to. */
function otlpReceiver() {
  const spans: OtlpSpan[] = [];
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      bodies.push(text);
      if (req.url === "/v1/traces") {
        const parsed = JSON.parse(text) as OtlpExport;
        for (const rs of parsed.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return { spans, bodies, server };
}

const attrs = (s: OtlpSpan) => Object.fromEntries((s.attributes ?? []).map((a) => [a.key, a.value]));
const MARKER = "the quokka hums marmalade sonatas at noon";
const QUERY = "quokka marmalade sonatas";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";

describe("tracing: OTLP export of request and stage spans", () => {
  const receiver = otlpReceiver();
  let s: TestServer;
  let f: Fixture;
  const secrets: string[] = [];

  before(async () => {
    await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve));
    const port = (receiver.server.address() as AddressInfo).port;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = "http/json";
    process.env.OTEL_BSP_SCHEDULE_DELAY = "50";
    s = await startServer({ egressAllow: ["127.0.0.1"] });
    f = await buildFixture(s);
    secrets.push(s.adminKey, f.key, f.adminKey, f.auditKey, f.userToken, f.credentialKey);
    // Every route with its sample request, as the rightful caller.
    for (const r of s.hypha.app.routeTable) {
      const sample = SAMPLES[routeName(r)];
      if (!sample) continue;
      const res = await s.request(r.method, sample.path(f), {
        key: rightfulKey(s, f, sample),
        body: sample.body?.(f),
        ...(sample.headers ? { headers: sample.headers } : {}),
      });
      assert.ok(res.status < 500, `${routeName(r)} → ${res.status}`);
      if (r.url.endsWith("/jwt/rotate")) {
        f.userToken = await f.signIn();
        secrets.push(f.userToken);
      }
    }
    for (const probe of ["/healthz", "/health/ready", "/no/such/route"])
      await s.request("GET", probe, { key: null });
    await s.storeMemory(f.key, { content: MARKER });
    const recalled = await s.request("POST", "/v1/memories/recall", {
      key: f.key,
      body: { query: QUERY, k: 5 },
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
    });
    assert.equal(recalled.status, 200);
    assert.ok(recalled.text.includes("quokka"), "the recall found the marker");
    await s.hypha.sweeper.runOnce();
    await flushTracing();
  });
  after(async () => {
    await s.close();
    receiver.server.close();
  });

  test("a span per request, named by the route template, never the raw URL", () => {
    const names = new Set(receiver.spans.map((sp) => sp.name));
    assert.ok(names.has("POST /v1/memories/recall"), [...names].join(", "));
    assert.ok(names.has("GET /v1/memories/:id"));
    assert.ok(names.has("GET unmatched"));
    for (const sp of receiver.spans) {
      for (const id of [f.memoryId, f.tenantId, f.keyId, f.connectorId]) {
        assert.ok(!sp.name.includes(id), `span name ${sp.name} carries an id`);
      }
    }
  });

  test("child spans for authentication, the governance gate, recall and store stages, the commit, outbound calls and worker jobs", () => {
    const names = new Set(receiver.spans.map((sp) => sp.name));
    for (const stage of [
      "auth.verify",
      "governance.gate",
      "recall.search",
      "recall.rank",
      "recall.decrypt",
      "recall.guardrails",
      "audit.append",
      "store.guardrails",
      "store.seal",
      "store.insert",
      "db.commit",
      "egress.fetch",
      "worker.ttl_sweep",
    ]) {
      assert.ok(names.has(stage), `no ${stage} span`);
    }
    const recall = receiver.spans.filter((sp) => sp.traceId === TRACE_ID);
    const root = recall.find((sp) => sp.name === "POST /v1/memories/recall");
    assert.ok(root);
    const search = recall.find((sp) => sp.name === "recall.search");
    assert.ok(search, "recall.search belongs to the request's trace");
    assert.ok(recall.some((sp) => sp.name === "auth.verify" && sp.parentSpanId === root.spanId));
  });

  test("an incoming traceparent is honoured: the request span continues the caller's trace", () => {
    const root = receiver.spans.find(
      (sp) => sp.traceId === TRACE_ID && sp.name === "POST /v1/memories/recall",
    );
    assert.ok(root, "the request span carries the caller's trace id");
    assert.equal(root.parentSpanId, PARENT_ID);
    assert.equal(attrs(root)["http.response.status_code"]?.intValue, 200);
  });

  test("the trace id appears in the JSON log lines", () => {
    const line = s.logs
      .map((l) => JSON.parse(l) as { msg?: string; route?: string; traceId?: string })
      .find((l) => l.msg === "request" && l.traceId === TRACE_ID);
    assert.ok(line, "the request log line carries the trace id");
    assert.equal(line.route, "/v1/memories/recall");
  });

  test("span attributes carry no secret, no stored content and no query (every route)", () => {
    assert.ok(receiver.spans.length > 100, `only ${receiver.spans.length} spans`);
    // Every string a sample sent, except prefixed ids and enum-like words, plus the marker and query.
    const sent = new Set<string>([MARKER, QUERY, "own memory", "other tenant memory"]);
    const collect = (v: unknown): void => {
      if (typeof v === "string") {
        if (v.length >= 8 && !/^[a-z]+_[0-9A-Za-z]+$/.test(v) && !/^[a-z:._-]+$/.test(v)) sent.add(v);
      } else if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === "object") Object.values(v).forEach(collect);
    };
    for (const sample of Object.values(SAMPLES)) collect(sample.body?.(f));
    let checked = 0;
    for (const sp of receiver.spans) {
      const values = [
        sp.name,
        ...(sp.attributes ?? []).map((a) => String(a.value.stringValue ?? a.value.intValue ?? "")),
        ...(sp.events ?? []).flatMap((e) => [
          e.name,
          ...(e.attributes ?? []).map((a) => String(a.value.stringValue)),
        ]),
      ];
      for (const v of values) {
        checked++;
        assert.deepEqual(findSecrets(v), [], `${sp.name}: a secret shape in an attribute`);
        for (const secret of secrets)
          assert.ok(!v.includes(secret), `${sp.name}: a credential in an attribute`);
        for (const text of sent)
          assert.ok(!v.includes(text), `${sp.name}: sent text ${JSON.stringify(text)} in a span`);
      }
    }
    assert.ok(checked > 500);
    // The raw export bodies too (resource attributes included).
    for (const body of receiver.bodies) {
      for (const secret of secrets) assert.ok(!body.includes(secret));
      assert.ok(!body.includes("quokka"));
    }
  });
});
