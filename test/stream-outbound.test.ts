import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { verifyOutbound } from "../src/modules/connectors/outbound-signing.ts";
import { startServer, type TestServer } from "./harness.ts";

type Frame = { id?: string; event?: string; data?: Record<string, unknown> };

function parseFrames(text: string): Frame[] {
  return text
    .split("\n\n")
    .map((block) => {
      const f: Frame = {};
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) f.id = line.slice(4);
        else if (line.startsWith("event: ")) f.event = line.slice(7);
        else if (line.startsWith("data: ")) f.data = JSON.parse(line.slice(6)) as Record<string, unknown>;
      }
      return f;
    })
    .filter((f) => f.event !== undefined);
}

describe("live tenant stream (SSE)", () => {
  let s: TestServer;
  let tenantId: string;
  let key: string;
  let adminKey: string;

  before(async () => {
    s = await startServer();
    const seeded = await s.seedTenant();
    tenantId = seeded.tenantId;
    key = seeded.key;
    adminKey = (await s.createKey(tenantId, { scopes: ["tenant:admin"] })).key;
  });
  after(() => s.close());

  test("memory writes arrive live on the stream after they commit", async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${s.url}/admin/stream/${tenantId}`, {
      headers: { authorization: `Bearer ${adminKey}` },
      signal: ctrl.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const first = await reader.read(); // the connect preamble
    text += decoder.decode(first.value);
    assert.match(text, /: connected/);
    const stored = await s.storeMemory(key, { content: "streamed memory" });
    while (!text.includes("event: memory.created")) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    ctrl.abort();
    const frames = parseFrames(text);
    const created = frames.find((f) => f.event === "memory.created");
    assert.ok(created?.id);
    assert.deepEqual(created.data?.ids, [stored.id]);
    assert.ok(!text.includes("streamed memory"), "content never goes on the stream");
  });

  test("Last-Event-ID resumes after the last seen event, without repeating or skipping", async () => {
    const a = await s.storeMemory(key, { content: "one" });
    const all = parseFrames(
      (await s.request("GET", `/admin/stream/${tenantId}?follow=false`, { key: adminKey })).text,
    );
    const lastSeen = all.at(-1);
    assert.deepEqual(lastSeen?.data?.ids, [a.id]);
    const b = await s.storeMemory(key, { content: "two" });
    const c = await s.storeMemory(key, { content: "three" });
    const resumed = await s.request("GET", `/admin/stream/${tenantId}?follow=false`, {
      key: adminKey,
      headers: { "last-event-id": lastSeen?.id ?? "" },
    });
    const frames = parseFrames(resumed.text);
    assert.deepEqual(
      frames.map((f) => f.data?.ids),
      [[b.id], [c.id]],
    );
    assert.deepEqual(
      frames.map((f) => Number(f.id)),
      [Number(lastSeen?.id) + 1, Number(lastSeen?.id) + 2],
    );
  });

  test("a Last-Event-ID older than the ring buffer gets a reset event first", async () => {
    for (let i = 0; i < 1005; i++) s.hypha.events.publish(tenantId, "ingest.accepted", { n: i });
    const res = await s.request("GET", `/admin/stream/${tenantId}?follow=false`, {
      key: adminKey,
      headers: { "last-event-id": "1" },
    });
    assert.match(res.text, /^retry: 2000\n\nevent: reset\n/);
    assert.equal(parseFrames(res.text).filter((f) => f.event === "ingest.accepted").length, 1000);
  });

  test("another tenant's stream is 404; a key without tenant:admin is 403; no key is 401", async () => {
    const other = await s.createTenant();
    assert.equal(
      (await s.request("GET", `/admin/stream/${other}?follow=false`, { key: adminKey })).status,
      404,
    );
    assert.equal((await s.request("GET", `/admin/stream/${tenantId}?follow=false`, { key })).status, 403);
    assert.equal(
      (await s.request("GET", `/admin/stream/${tenantId}?follow=false`, { key: null })).status,
      401,
    );
    assert.equal((await s.request("GET", `/admin/stream/${tenantId}?follow=false`)).status, 200);
  });
});

describe("outbound webhooks", () => {
  let s: TestServer;
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: IncomingMessage["headers"]; body: string; url: string }[] = [];
  let respond: (url: string) => { status: number; headers?: Record<string, string> } = () => ({
    status: 204,
  });

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          url: req.url ?? "",
        });
        const r = respond(req.url ?? "");
        res.writeHead(r.status, r.headers ?? {});
        res.end();
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    s = await startServer({ egressAllow: "127.0.0.1/32" });
  });
  after(async () => {
    await s.close();
    await new Promise((ok) => receiver.close(ok));
  });

  test("a real receiver on 127.0.0.1 verifies the X-Hypha-Signature of a memory.created delivery", async () => {
    const { tenantId, key } = await s.seedTenant();
    const sub = await s.request("POST", `/v1/tenants/${tenantId}/webhooks`, {
      body: { url: `${receiverUrl}/ok`, events: ["memory.created"] },
    });
    assert.equal(sub.status, 201, sub.text);
    const { secret } = sub.body as { secret: string };
    const listed = await s.request("GET", `/v1/tenants/${tenantId}/webhooks`);
    assert.ok(!listed.text.includes(secret), "the secret is shown once");
    const memory = await s.storeMemory(key, { content: "outbound" });
    received.length = 0;
    assert.equal(await s.hypha.services.connectors.outbound.drain(), 1);
    assert.equal(received.length, 1);
    const got = received[0];
    assert.ok(got);
    const check = verifyOutbound(
      secret,
      got.headers["x-hypha-signature"] as string,
      got.body,
      s.clock.now(),
      300,
    );
    assert.deepEqual(check, { ok: true, timestamp: Math.floor(s.clock.now() / 1000) });
    assert.equal(
      verifyOutbound(`${secret}x`, got.headers["x-hypha-signature"] as string, got.body, s.clock.now(), 300)
        .ok,
      false,
    );
    const payload = JSON.parse(got.body) as { type: string; data: { ids: string[] } };
    assert.equal(payload.type, "memory.created");
    assert.deepEqual(payload.data.ids, [memory.id]);
    assert.equal(got.headers["x-hypha-event"], "memory.created");
  });

  test("destinations outside the egress policy are refused at subscription", async () => {
    const { tenantId } = await s.seedTenant();
    for (const url of [
      "http://169.254.169.254/latest",
      "http://10.0.0.1/hook",
      "http://[::1]:80/x",
      "http://0x7f000001.example/",
    ]) {
      const res = await s.request("POST", `/v1/tenants/${tenantId}/webhooks`, {
        body: { url, events: ["memory.created"] },
      });
      assert.ok(res.status === 422, `${url} → ${res.status}`);
    }
  });

  test("redirects are not followed; failures retry with backoff and repeated failures disable the subscription", async () => {
    const { tenantId, key } = await s.seedTenant();
    respond = (url) =>
      url.startsWith("/redirect")
        ? { status: 302, headers: { location: `${receiverUrl}/ok` } }
        : { status: 500 };
    const sub = await s.request("POST", `/v1/tenants/${tenantId}/webhooks`, {
      body: { url: `${receiverUrl}/redirect`, events: ["memory.created"] },
    });
    const id = (sub.body as { id: string }).id;
    for (let i = 0; i < 3; i++) await s.storeMemory(key, { content: `m${i}` });
    received.length = 0;
    const outbound = s.hypha.services.connectors.outbound;
    assert.equal(await outbound.drain(), 3);
    assert.ok(
      received.every((r) => r.url === "/redirect"),
      "the redirect target is never requested",
    );
    assert.equal(await outbound.drain(), 0, "nothing is due before the backoff elapses");
    for (let i = 0; i < 10; i++) {
      s.clock.advance(31 * 60_000);
      await outbound.drain();
    }
    const list = await s.request("GET", `/v1/tenants/${tenantId}/webhooks`);
    const view = (list.body as { items: { id: string; status: string; last_error: string }[] }).items.find(
      (w) => w.id === id,
    );
    assert.equal(view?.status, "disabled");
    assert.equal(view?.last_error, "REDIRECT_NOT_FOLLOWED");
    const sent = received.length;
    await s.storeMemory(key, { content: "after disable" });
    s.clock.advance(31 * 60_000);
    await outbound.drain();
    assert.equal(received.length, sent, "a disabled subscription gets nothing");
    respond = () => ({ status: 204 });
  });
});
