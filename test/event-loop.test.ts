/**
 * Long work gives the event loop turns: verifying a long audit chain, exporting many memories and
 * storing a large batch let other callbacks run while they go on. Asserted as behaviour (turns of
 * the loop seen during the work), never as a duration.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./harness.ts";

const origin = { requestId: "req_loop", ip: "127.0.0.1", userAgent: "test" };

/** Runs `work` while counting turns of the event loop (a setImmediate that re-arms itself). */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const value = await work();
  done = true;
  return { value, turns };
}

describe("long work yields to the event loop", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  async function agent() {
    const { tenantId, key } = await s.seedTenant();
    const v = await s.hypha.services.keys.verify(key, origin);
    if (!v.ok) throw new Error("the test key did not verify");
    return { tenantId, actor: v.actor };
  }

  const memory = (i: number) => ({
    namespace: "loop",
    content: `Turn ${i}: we talked about the harbour walk and the bakery on Rua Augusta`,
    type: "note",
    tags: [],
    entities: [`person${i % 7}`],
    metadata: {},
    importance: 0.5,
    access: "shared" as const,
  });

  test("verifying a chain of 3,000 events gives other callbacks turns, and the chain verifies", async () => {
    const { tenantId } = await agent();
    const db = await s.hypha.storage.tenant(tenantId);
    const now = s.clock.now();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 3_000; i++) {
        await s.hypha.services.trail.append(
          tx,
          { tenantId, actor: { type: "agent", id: "loop" }, action: "memory.read", targetIds: [`mem_${i}`] },
          now,
        );
      }
    });
    await s.hypha.services.trail.flush();
    const { value, turns } = await turnsDuring(() => s.hypha.services.trail.verify(tenantId));
    assert.equal(value.ok, true, JSON.stringify(value));
    assert.ok((value.count ?? 0) >= 3_000);
    assert.ok(turns >= 2, `the loop turned ${turns} times during verification`);
  });

  test("an export of 1,200 memories gives other callbacks a turn every 50 rows, and every memory is exported", async () => {
    const { actor } = await agent();
    for (let i = 0; i < 1_200; i += 100) {
      await s.hypha.services.memories.store(
        actor,
        Array.from({ length: 100 }, (_, j) => memory(i + j)),
      );
    }
    const { value: lines, turns } = await turnsDuring(async () => {
      const out: string[] = [];
      for await (const chunk of await s.hypha.services.memories.export(actor, { includeHistory: false })) {
        out.push(...chunk.split("\n").filter(Boolean));
      }
      return out;
    });
    assert.equal(lines.length, 1_200);
    assert.equal(new Set(lines.map((l) => (JSON.parse(l) as { id: string }).id)).size, 1_200);
    assert.ok(turns >= 1_200 / 50, `the loop turned ${turns} times during the export`);
  });

  test("a batch of 100 memories gives other callbacks a turn, and is stored whole", async () => {
    const { actor } = await agent();
    const { value, turns } = await turnsDuring(() =>
      s.hypha.services.memories.store(
        actor,
        Array.from({ length: 100 }, (_, i) => memory(i)),
      ),
    );
    assert.equal(value.length, 100);
    assert.ok(turns >= 1, `the loop turned ${turns} times during the batch`);
  });
});
