import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { manualClock } from "../../lib/clock.ts";
import { createMemoryReplayStore, createReplayGuard, deliveryIdFor } from "./replay.ts";

const body = Buffer.from("{}");

describe("replay guard", () => {
  test("an id is accepted once and rejected as REPLAYED while the window lasts", async () => {
    const clock = manualClock();
    const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
    assert.deepEqual(await guard.check("tnt_a", "con_a", "d1", 600), { ok: true });
    clock.advance(599_000);
    assert.deepEqual(await guard.check("tnt_a", "con_a", "d1", 600), { ok: false, reason: "REPLAYED" });
  });

  test("after the window has passed the id is accepted again (the timestamp check covers old captures)", async () => {
    const clock = manualClock();
    const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
    await guard.check("tnt_a", "con_a", "d1", 600);
    clock.advance(600_001);
    assert.deepEqual(await guard.check("tnt_a", "con_a", "d1", 600), { ok: true });
  });

  test("ids are scoped per tenant and per connector", async () => {
    const clock = manualClock();
    const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
    assert.equal((await guard.check("tnt_a", "con_a", "d1")).ok, true);
    assert.equal((await guard.check("tnt_b", "con_a", "d1")).ok, true);
    assert.equal((await guard.check("tnt_a", "con_b", "d1")).ok, true);
    assert.equal((await guard.check("tnt_a", "con_a", "d1")).ok, false);
  });

  test("tenant and connector ids cannot be concatenated into a collision", async () => {
    const clock = manualClock();
    const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
    assert.equal((await guard.check("a:b", "c", "d")).ok, true);
    assert.equal((await guard.check("a", "b:c", "d")).ok, true);
  });

  test("concurrent deliveries of one id: exactly one is accepted", async () => {
    const clock = manualClock();
    const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
    const results = await Promise.all(Array.from({ length: 10 }, () => guard.check("t", "c", "same")));
    assert.equal(results.filter((r) => r.ok).length, 1);
  });

  test("the in-memory store stays within maxEntries, pruning expired entries first", async () => {
    const clock = manualClock();
    const store = createMemoryReplayStore({ clock, maxEntries: 3 });
    await store.seen("t", "c", "old", clock.now() + 1000);
    clock.advance(2000);
    for (const id of ["a", "b", "c", "d"]) await store.seen("t", "c", id, clock.now() + 60_000);
    assert.equal(store.size(), 3);
    assert.equal(await store.seen("t", "c", "d", clock.now() + 60_000), true);
  });
});

describe("delivery ids per source", () => {
  test("a verifier-provided id (GitHub delivery, webhook-id, jti) is used as given", () => {
    const r = deliveryIdFor({
      source: "github",
      verified: { ok: true, deliveryId: "72d3162e" },
      headers: {},
      body,
      payload: {},
    });
    assert.deepEqual(r, { ok: true, deliveryId: "72d3162e", derived: false });
  });

  test("GitHub without X-GitHub-Delivery has no safe id", () => {
    const r = deliveryIdFor({ source: "github", verified: { ok: true }, headers: {}, body, payload: {} });
    assert.deepEqual(r, { ok: false, reason: "DELIVERY_ID_MISSING" });
  });

  test("Slack uses the body's event_id, so a retry with a new signature and timestamp is still a replay", () => {
    const headers1 = { "x-slack-signature": "v0=aa", "x-slack-request-timestamp": "1" };
    const headers2 = { "x-slack-signature": "v0=bb", "x-slack-request-timestamp": "2" };
    const payload = { event_id: "Ev0PV52K21" };
    const a = deliveryIdFor({ source: "slack", verified: { ok: true }, headers: headers1, body, payload });
    const b = deliveryIdFor({ source: "slack", verified: { ok: true }, headers: headers2, body, payload });
    assert.deepEqual(a, { ok: true, deliveryId: "Ev0PV52K21", derived: false });
    assert.deepEqual(a, b);
  });

  test("Slack bodies without event_id (slash commands) use a hash of signature and timestamp", () => {
    const headers = { "x-slack-signature": "v0=aa", "x-slack-request-timestamp": "1" };
    const a = deliveryIdFor({ source: "slack", verified: { ok: true }, headers, body, payload: undefined });
    const b = deliveryIdFor({
      source: "slack",
      verified: { ok: true },
      headers: { ...headers, "x-slack-request-timestamp": "2" },
      body,
      payload: undefined,
    });
    assert.ok(a.ok && b.ok);
    assert.match(a.deliveryId, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(a.deliveryId, b.deliveryId);
  });

  test("Stripe uses the event id from the verified body", () => {
    const r = deliveryIdFor({
      source: "stripe",
      verified: { ok: true },
      headers: {},
      body,
      payload: { id: "evt_1" },
    });
    assert.deepEqual(r, { ok: true, deliveryId: "evt_1", derived: false });
    const none = deliveryIdFor({ source: "stripe", verified: { ok: true }, headers: {}, body, payload: [] });
    assert.equal(none.ok, false);
  });

  test("generic HMAC without a delivery-id header falls back to a hash of the signature header", () => {
    const r = deliveryIdFor({
      source: "generic_hmac",
      verified: { ok: true },
      headers: { "x-sig": "abc" },
      body,
      payload: {},
      signatureHeader: "x-sig",
    });
    assert.ok(r.ok);
    assert.equal(r.derived, true);
    assert.match(r.deliveryId, /^sha256:/);
  });

  test("an overlong or non-printable sender id is stored as its hash, never verbatim", () => {
    const long = deliveryIdFor({
      source: "stripe",
      verified: { ok: true },
      headers: {},
      body,
      payload: { id: "x".repeat(300) },
    });
    const ctl = deliveryIdFor({
      source: "stripe",
      verified: { ok: true },
      headers: {},
      body,
      payload: { id: "a\nb" },
    });
    assert.ok(long.ok && ctl.ok);
    assert.match(long.deliveryId, /^sha256:[0-9a-f]{64}$/);
    assert.match(ctl.deliveryId, /^sha256:[0-9a-f]{64}$/);
  });
});
