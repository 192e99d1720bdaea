import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";

/** A local stand-in for an OpenAI-compatible API that calls every text an injection. */
function fakeJudge(): Promise<{ server: Server; url: string; requests: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({ choices: [{ message: { content: '{"injection": true, "confidence": 0.95}' } }] }),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/v1`, requests: () => count });
    }),
  );
}

describe("the optional LLM judge", () => {
  let judge: Awaited<ReturnType<typeof fakeJudge>>;
  before(async () => {
    judge = await fakeJudge();
  });
  after(() => new Promise<void>((r) => judge.server.close(() => r())));

  test("its address passes the egress guard: a loopback judge is not called unless allowed, and writes fall back to the rules", async () => {
    const s: TestServer = await startServer({ judgeUrl: judge.url, judgeModel: "guard" });
    try {
      const { key } = await s.seedTenant();
      const before = judge.requests();
      const res = await s.request("POST", "/v1/memories", {
        key,
        body: { namespace: "notes", content: "The quarterly report is due on Friday." },
      });
      assert.equal(res.status, 201);
      assert.equal((res.body as { quarantined: boolean }).quarantined, false);
      assert.equal(judge.requests(), before, "the guard refused the loopback address");
    } finally {
      await s.close();
    }
  });

  test("when the operator allows its address, the judge is consulted on writes and its verdict counts", async () => {
    const s: TestServer = await startServer({
      judgeUrl: judge.url,
      judgeModel: "guard",
      egressAllow: ["127.0.0.1"],
    });
    try {
      const { key } = await s.seedTenant();
      const before = judge.requests();
      const res = await s.request("POST", "/v1/memories", {
        key,
        body: { namespace: "notes", content: "The quarterly report is due on Friday." },
      });
      assert.equal(res.status, 201);
      assert.ok(judge.requests() > before, "the judge was asked");
      assert.equal(
        (res.body as { quarantined: boolean }).quarantined,
        true,
        "its verdict quarantined the write",
      );
    } finally {
      await s.close();
    }
  });

  test("a judge URL without a model stops start-up with a message naming the setting", async () => {
    const { loadConfig } = await import("../src/lib/config.ts");
    assert.throws(() => loadConfig({ HYPHA_JUDGE_URL: "http://127.0.0.1:1/v1" }), /HYPHA_JUDGE_MODEL/);
  });
});
