import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AppError } from "../../lib/errors.ts";
import { createAdmission } from "./admission.ts";

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
    now = 1500; // the oldest request has waited 1.5 s: pressure
    assert.equal(a.overloaded(), null, "not yet refusing everyone");
    // Ten in flight over two tenants: a share is five; the hog holds eight, the light tenant one.
    assert.equal(refusal(() => a.admit().enterTenant("tnt_hog")).reason, "tenant_share");
    a.admit().enterTenant("tnt_light");
    now = 2500; // past twice the limit
    assert.equal(a.overloaded(), "queue_time");
    assert.equal(refusal(() => a.admit()).reason, "queue_time");
    for (const t of held) t.release();
    assert.equal(a.overloaded(), "queue_time", "the light tenant's first request is still the oldest");
    light.release();
  });

  test("the backlog draining ends the overload at once", () => {
    let now = 0;
    const a = createAdmission({ maxInFlight: 100, maxInFlightPerTenant: 100, maxQueueMs: 1000 }, () => now);
    const old = a.admit();
    now = 5000;
    assert.equal(a.overloaded(), "queue_time");
    old.release();
    assert.equal(a.overloaded(), null);
    a.admit();
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
});
