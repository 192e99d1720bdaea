import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, type TestServer } from "./harness.ts";

/** An SSE client on a raw socket, so the test decides when (and whether) it reads. */
function rawStream(url: string, path: string, key: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  socket.write(`GET ${path} HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\n\r\n`);
  let text = "";
  let ended = false;
  socket.on("data", (d: Buffer) => {
    // The tail is enough to find the latest id, and keeps the checks cheap on megabytes of events.
    text = (text + d.toString("latin1")).slice(-65_536);
  });
  socket.on("close", () => {
    ended = true;
  });
  socket.on("error", () => {});
  return {
    socket,
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
  };
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

describe("live stream backpressure", () => {
  let s: TestServer;
  let tenantId: string;
  let adminKey: string;

  before(async () => {
    s = await startServer();
    tenantId = (await s.seedTenant()).tenantId;
    adminKey = (await s.createKey(tenantId, { scopes: ["tenant:admin"] })).key;
  });
  after(() => s.close());

  test("a client that stops reading is dropped once its buffer passes the bound; a client that reads gets every event", async () => {
    const path = `/admin/stream/${tenantId}`;
    const slow = rawStream(s.url, path, adminKey);
    const fast = rawStream(s.url, path, adminKey);
    assert.ok(
      await until(() => slow.text.includes(": connected") && fast.text.includes(": connected"), 5000),
    );
    slow.socket.pause();

    // ~24 MB of events, published in small batches that the reading client keeps up with; the
    // paused one fills the kernel buffers and then the server's.
    const pad = "x".repeat(16_000);
    let last = 0;
    for (let batch = 0; batch < 150; batch++) {
      for (let i = 0; i < 10; i++) s.hypha.events.publish(tenantId, "memory.created", { pad });
      last = await s.hypha.events.lastSeq(tenantId);
      assert.ok(
        await until(() => fast.text.includes(`id: ${last}\n`), 10_000),
        `reader caught up to ${last}`,
      );
    }
    assert.equal(fast.ended, false, "the reading client is still connected");

    const dropped = s.logs.some((l) => l.includes('"msg":"stream client fell behind; dropped"'));
    assert.ok(dropped, "the server logged dropping the slow client");
    slow.socket.resume();
    assert.ok(await until(() => slow.ended, 10_000), "the slow client's connection was closed by the server");
    assert.ok(!slow.text.includes(`id: ${last}\n`), "the slow client did not receive everything");
    fast.socket.destroy();
  });

  test("a dropped client resumes with Last-Event-ID from the ring buffer", async () => {
    s.hypha.events.publish(tenantId, "memory.created", { n: 1 });
    const first = await s.hypha.events.lastSeq(tenantId);
    s.hypha.events.publish(tenantId, "memory.created", { n: 2 });
    const second = await s.hypha.events.lastSeq(tenantId);
    const res = await s.request("GET", `/admin/stream/${tenantId}?follow=false`, {
      key: adminKey,
      headers: { "last-event-id": String(first) },
    });
    assert.equal(res.status, 200);
    assert.ok(res.text.includes(`id: ${second}\n`));
    assert.ok(!res.text.includes(`id: ${first}\n`));
  });
});
