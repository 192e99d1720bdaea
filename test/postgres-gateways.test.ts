import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createApp, type HyphaApp } from "../src/app.ts";
import { loadConfig } from "../src/lib/config.ts";
import { startServer, type TestServer } from "./harness.ts";
import { TEST_DATABASE_URL } from "./pg.ts";

const SECRET = "gh-secret-0123456789abcdef";

/** Two gateways over one PostgreSQL database: the second is a full app on the first one's store. */
describe("two gateways on one PostgreSQL database", {
  skip: TEST_DATABASE_URL ? false : "HYPHA_TEST_DATABASE_URL is not set",
}, () => {
  let s: TestServer;
  let second: HyphaApp;
  before(async () => {
    s = await startServer({ sweepIntervalSeconds: 60, egressAllow: "127.0.0.1/32" });
    second = await createApp({
      config: loadConfig(
        {},
        {
          dataDir: s.dataDir,
          adminKey: s.adminKey,
          logLevel: "silent",
          port: 0,
          sweepIntervalSeconds: 60,
          egressAllow: "127.0.0.1/32",
          ...s.storageConfig,
        },
      ),
      clock: s.clock,
    });
  });
  after(async () => {
    await second.close();
    await s.close();
  });

  test("inbox: gateways draining together process each delivery exactly once (claimed with SKIP LOCKED)", async () => {
    const { tenantId, key } = await s.seedTenant();
    const res = await s.request("POST", `/v1/tenants/${tenantId}/connectors`, {
      body: { name: "gh", config: { source: "github", secret: SECRET, mapping: { namespace: "gh" } } },
    });
    assert.equal(res.status, 201, res.text);
    const path = (res.body as { ingest_path: string }).ingest_path;
    const n = 24;
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify({
        action: "opened",
        issue: {
          number: i,
          title: `Issue ${i}`,
          body: "details",
          user: { login: "octo" },
          html_url: `https://x/${i}`,
        },
        repository: { full_name: "acme/app" },
        sender: { login: "octo" },
      });
      const sig = createHmac("sha256", SECRET).update(body).digest("hex");
      const r = await s.request("POST", path, {
        key: null,
        rawBody: body,
        headers: {
          "content-type": "application/json",
          "x-github-event": "issues",
          "x-github-delivery": `d-${i}`,
          "x-hub-signature-256": `sha256=${sig}`,
        },
      });
      assert.equal(r.status, 202, r.text);
    }
    const counts = await Promise.all([
      s.hypha.services.connectors.worker.drain(),
      second.services.connectors.worker.drain(),
      s.hypha.services.connectors.worker.drain(),
      second.services.connectors.worker.drain(),
    ]);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      n,
    );
    const list = await s.request("GET", "/v1/memories?limit=200&namespace=gh", { key });
    const items = (list.body as { items: { metadata: { delivery_id: string } }[] }).items;
    assert.equal(items.length, n);
    assert.equal(new Set(items.map((m) => m.metadata.delivery_id)).size, n);
  });

  test("a memory written through one gateway is read and recalled through the other", async () => {
    const { key } = await s.seedTenant();
    const m = await s.storeMemory(key, { content: "the quartz gateway handshake" });
    const url = await second.app.listen({ host: "127.0.0.1", port: 0 });
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const read = await fetch(`${url}/v1/memories/${m.id}`, { headers });
    assert.equal(read.status, 200);
    const recall = await fetch(`${url}/v1/memories/recall`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: "quartz handshake" }),
    });
    const body = (await recall.json()) as { results: { memory: { id: string } }[] };
    assert.equal(body.results[0]?.memory.id, m.id);
  });

  test("the TTL sweeper runs on one gateway at a time (lease), and another takes over once it lapses", async () => {
    const { key } = await s.seedTenant();
    const m = await s.storeMemory(key, { content: "short lived", ttl_seconds: 60 });
    s.clock.advance(120_000);
    assert.ok((await s.hypha.sweeper.runOnce()) >= 1);
    const again = await s.storeMemory(key, { content: "short lived too", ttl_seconds: 60 });
    s.clock.advance(61_000);
    assert.equal(await second.sweeper.runOnce(), 0, "the first gateway holds the lease");
    s.clock.advance(120_000);
    assert.ok((await second.sweeper.runOnce()) >= 1, "taken over once the lease lapsed");
    assert.notEqual(m.id, again.id);
  });

  test("outbound: gateways sending together deliver each notice exactly once (claimed with SKIP LOCKED)", async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      received.push(String(req.headers["x-hypha-delivery"]));
      req.resume();
      req.on("end", () => {
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const { tenantId, key } = await s.seedTenant();
      const sub = await s.request("POST", `/v1/tenants/${tenantId}/webhooks`, {
        body: { url, events: ["memory.created"] },
      });
      assert.equal(sub.status, 201, sub.text);
      const n = 12;
      for (let i = 0; i < n; i++) await s.storeMemory(key, { content: `notice ${i}` });
      const sent = await Promise.all([
        s.hypha.services.connectors.outbound.drain(),
        second.services.connectors.outbound.drain(),
        s.hypha.services.connectors.outbound.drain(),
        second.services.connectors.outbound.drain(),
      ]);
      assert.equal(
        sent.reduce((a, b) => a + b, 0),
        n,
      );
      assert.equal(received.length, n);
      assert.equal(new Set(received).size, n);
    } finally {
      await new Promise((ok) => receiver.close(ok));
    }
  });

  test("hypha doctor on a gateway's data directory checks the PostgreSQL store and its migrations", () => {
    const r = spawnSync(process.execPath, ["bin/hypha.js", "doctor", "--data", s.dataDir], {
      env: {
        ...process.env,
        HYPHA_ADMIN_KEY: s.adminKey,
        HYPHA_DATABASE_URL: s.database?.url,
        HYPHA_DATABASE_MIGRATION_URL: s.database?.migrationUrl,
      },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok +PostgreSQL database answers with every migration applied/);
  });
});
