import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AppError } from "../../lib/errors.ts";
import { createAdmission, QUEUE_DEPTH } from "./admission.ts";

const refusal = (fn: () => unknown): { reason: string; retryAfter: string } => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "OVERLOADED");
    assert.equal(err.status, 503);
    return { reason: err.details?.[0]?.message ?? "", retryAfter: err.headers?.["retry-after"] ?? "" };
  }
  assert.fail("expected an OVERLOADED refusal");
};

describe("admission (load shedding)", () => {
  test("the process bound refuses the request beyond it, and a released slot admits again", () => {
    const a = createAdmission({ maxInFlight: 2, maxInFlightPerTenant: 10, maxQueueMs: 0 });
    const t1 = a.admit();
    a.admit();
    const r = refusal(() => a.admit());
    assert.equal(r.reason, "in_flight");
    assert.ok(Number(r.retryAfter) >= 1, "a Retry-After of at least one second");
    t1.release();
    t1.release(); // releasing twice frees one slot only
    a.admit();
    refusal(() => a.admit());
    assert.equal(a.stats().refused, 2);
  });

  test("one tenant cannot hold more than its bound; another tenant is still admitted", () => {
    const a = createAdmission({ maxInFlight: 100, maxInFlightPerTenant: 2, maxQueueMs: 0 });
    a.admit().enterTenant("tnt_a");
    a.admit().enterTenant("tnt_a");
    assert.equal(refusal(() => a.admit().enterTenant("tnt_a")).reason, "tenant_in_flight");
    a.admit().enterTenant("tnt_b");
  });

  test("under pressure the tenant holding more than its share is refused first; past twice the limit everyone is", () => {
    let now = 0;
    const a = createAdmission({ maxInFlight: 100, maxInFlightPerTenant: 100, maxQueueMs: 1000 }, () => now);
    const light = a.admit();
    light.enterTenant("tnt_light");
    const held = Array.from({ length: 8 }, () => {
      const t = a.admit();
      t.enterTenant("tnt_hog");
      return t;
    });
    now = 1100; // the oldest request has waited 1.1 s: older than the limit, not yet for long
    assert.equal(a.overloaded(), null);
    a.admit().enterTenant("tnt_hog");
    now = 1600; // older than the limit since 1.1 s, half the limit: a standing queue, pressure
    assert.equal(a.overloaded(), null, "not yet refusing everyone");
    // Eleven in flight over two tenants: a share is five; the hog holds nine, the light tenant one.
    assert.equal(refusal(() => a.admit().enterTenant("tnt_hog")).reason, "tenant_share");
    a.admit().enterTenant("tnt_light");
    now = 2100; // past twice the limit
    assert.equal(a.overloaded(), "queue_time");
    assert.equal(refusal(() => a.admit()).reason, "queue_time");
    held[0]?.release();
    assert.equal(a.overloaded(), "queue_time", "the queue is still as old");
    for (const t of held.slice(1)) t.release();
    assert.equal(a.overloaded(), null, "two requests in flight are not a queue");
    light.release();
  });

  test("the backlog draining ends the overload at once", () => {
    let now = 0;
    const a = createAdmission({ maxInFlight: 100, maxInFlightPerTenant: 100, maxQueueMs: 1000 }, () => now);
    const old = Array.from({ length: QUEUE_DEPTH }, () => a.admit());
    now = 5000;
    assert.equal(a.overloaded(), null, "first seen old: it has yet to stand");
    now = 5500;
    assert.equal(a.overloaded(), "queue_time");
    old[0]?.release();
    assert.equal(a.overloaded(), null);
    a.admit();
  });

  test("one long request is not a queue: others are admitted until several have waited past the limit", () => {
    let now = 0;
    const a = createAdmission({ maxInFlight: 100, maxInFlightPerTenant: 100, maxQueueMs: 250 }, () => now);
    const batch = a.admit();
    batch.enterTenant("tnt_a");
    now = 10_000; // a batch of a thousand memories, still running
    assert.equal(a.overloaded(), null);
    const waiting = Array.from({ length: QUEUE_DEPTH - 1 }, () => {
      const t = a.admit();
      t.enterTenant("tnt_a");
      return t;
    });
    assert.equal(a.overloaded(), null, "the others have only just arrived");
    now = 10_300; // the requests behind it have waited 300 ms: older than the limit
    assert.equal(a.overloaded(), null);
    now = 10_600; // and still, 300 ms on, past twice the limit: a standing queue
    assert.equal(a.overloaded(), "queue_time");
    assert.equal(refusal(() => a.admit()).reason, "queue_time");
    batch.release();
    for (const t of waiting) t.release();
    assert.equal(a.overloaded(), null);
  });

  test("a burst that drains before it stands is served, and the next one must stand on its own", () => {
    let now = 0;
    const a = createAdmission({ maxInFlight: 100, maxInFlightPerTenant: 100, maxQueueMs: 250 }, () => now);
    const burst = Array.from({ length: QUEUE_DEPTH + 4 }, () => {
      const t = a.admit();
      t.enterTenant("tnt_a");
      return t;
    });
    now = 600; // the process was held (a sync), and the burst has waited 600 ms
    const late = a.admit(); // first seen: past twice the limit, but not standing
    late.enterTenant("tnt_a");
    now = 700;
    for (const t of burst) t.release(); // drained within half the limit's time
    assert.equal(a.overloaded(), null);
    const again = Array.from({ length: QUEUE_DEPTH }, () => a.admit());
    now = 1400; // a new queue, 700 ms old when first seen
    assert.equal(a.overloaded(), null, "the earlier stretch ended when the burst drained");
    now = 1525;
    assert.equal(a.overloaded(), "queue_time", "it has stood for half the limit's time");
    late.release();
    for (const t of again) t.release();
    assert.equal(a.overloaded(), null);
  });

  test("long-lived requests hold slots but do not count as a queue", () => {
    let now = 0;
    const a = createAdmission({ maxInFlight: 3, maxInFlightPerTenant: 100, maxQueueMs: 1000 }, () => now);
    a.admit({ long: true });
    now = 60_000;
    assert.equal(a.overloaded(), null, "an hour-long stream is not a backlog");
    a.admit({ long: true });
    a.admit();
    assert.equal(refusal(() => a.admit()).reason, "in_flight", "but it does hold a slot");
  });

  test("heavy requests (exports): a bound per process and one per tenant; a released one admits again", () => {
    const a = createAdmission({
      maxInFlight: 100,
      maxInFlightPerTenant: 100,
      maxQueueMs: 0,
      maxHeavyInFlight: 2,
    });
    const first = a.admit({ heavy: true });
    first.enterTenant("tnt_a");
    const second = a.admit({ heavy: true });
    assert.equal(
      refusal(() => second.enterTenant("tnt_a")).reason,
      "tenant_heavy_in_flight",
      "a tenant runs one export at a time",
    );
    second.release(); // the server releases a refused request's ticket when its response closes
    a.admit({ heavy: true }).enterTenant("tnt_b");
    assert.equal(refusal(() => a.admit({ heavy: true })).reason, "heavy_in_flight");
    a.admit().enterTenant("tnt_a"); // ordinary requests of the same tenant are unaffected
    first.release();
    a.admit({ heavy: true }).enterTenant("tnt_a");
    a.close();
  });

  test("a blocked event loop refuses new requests until the loop is free again", async () => {
    const a = createAdmission({
      maxInFlight: 100,
      maxInFlightPerTenant: 100,
      maxQueueMs: 0,
      maxEventLoopDelayMs: 150,
    });
    try {
      // Start-up work before the first request is not overload: sampling starts with it.
      const until0 = performance.now() + 700;
      while (performance.now() < until0) {
        // synchronous work before any request
      }
      a.admit().release();
      await new Promise((r) => setTimeout(r, 550));
      assert.equal(a.overloaded(), null);
      const until = performance.now() + 700;
      while (performance.now() < until) {
        // synchronous work holding the loop
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(refusal(() => a.admit()).reason, "event_loop");
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal(a.overloaded(), null, "a free loop admits again");
      a.admit();
    } finally {
      a.close();
    }
  });

  test("admitted requests start in arrival order, one per turn of the loop, and the loop goes round between two starts", async () => {
    const a = createAdmission({ maxInFlight: 3, maxInFlightPerTenant: 10, maxQueueMs: 0 });
    const order: string[] = [];
    const tickets = [a.admit(), a.admit(), a.admit()];
    const turns = tickets.map((t, i) =>
      t.turn().then(() => {
        order.push(`start ${i + 1}`);
        // Work that arrives while this one runs (here a timer that falls due during it) is seen
        // before the next start.
        setTimeout(() => order.push(`arrived during ${i + 1}`), 1);
        const until = performance.now() + 5;
        while (performance.now() < until) {
          // the request's synchronous work
        }
      }),
    );
    // Nothing has started yet: a request arriving in the same turn is refused before any work runs.
    assert.deepEqual(order, []);
    assert.equal(refusal(() => a.admit()).reason, "in_flight");
    assert.equal(a.stats().waiting, 3);
    await Promise.all(turns);
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(order, [
      "start 1",
      "arrived during 1",
      "start 2",
      "arrived during 2",
      "start 3",
      "arrived during 3",
    ]);
    assert.equal(a.stats().waiting, 0);
    for (const t of tickets) t.release();
    // With nobody waiting, the next request's turn comes at the next turn of the loop.
    const t = a.admit();
    await t.turn();
    t.release();
    a.close();
  });
});
