import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { manualClock } from "../../lib/clock.ts";
import { createMemoryReplayStore, createReplayGuard, deliveryIdFor, KEEP_FOREVER_MS } from "./replay.ts";

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

const DIGEST = "a".repeat(64);

describe("delivery ids per source", () => {
  test("a verifier-provided id (GitHub delivery, webhook-id, jti) names the delivery", () => {
    const r = deliveryIdFor({
      source: "standard",
      verified: { ok: true, deliveryId: "msg_72d3162e" },
      body,
      payload: {},
    });
    assert.deepEqual(r, {
      ok: true,
      deliveryId: "msg_72d3162e",
      derived: false,
      replayKeys: [{ key: "msg_72d3162e" }],
    });
  });

  test("GitHub: the unsigned X-GitHub-Delivery names the row, the body digest is a second key kept for good", () => {
    const a = deliveryIdFor({
      source: "github",
      verified: { ok: true, deliveryId: "72d3162e", signedDigest: DIGEST },
      body,
      payload: {},
    });
    const b = deliveryIdFor({
      source: "github",
      verified: { ok: true, deliveryId: "forged-new-id", signedDigest: DIGEST },
      body,
      payload: {},
    });
    assert.ok(a.ok && b.ok);
    assert.equal(a.deliveryId, "72d3162e");
    assert.equal(a.replayKeys.length, 2);
    assert.deepEqual(a.replayKeys[1], b.replayKeys[1]);
    assert.equal(a.replayKeys[1]?.keepUntilMs, KEEP_FOREVER_MS);
  });

  test("GitHub without X-GitHub-Delivery has no safe id", () => {
    const r = deliveryIdFor({
      source: "github",
      verified: { ok: true, signedDigest: DIGEST },
      body,
      payload: {},
    });
    assert.deepEqual(r, { ok: false, reason: "DELIVERY_ID_MISSING" });
  });

  test("Slack uses the body's event_id, so a retry with a new signature and timestamp is still a replay", () => {
    const payload = { event_id: "Ev0PV52K21" };
    const a = deliveryIdFor({ source: "slack", verified: { ok: true, signedDigest: DIGEST }, body, payload });
    const b = deliveryIdFor({
      source: "slack",
      verified: { ok: true, signedDigest: "b".repeat(64) },
      body,
      payload,
    });
    assert.deepEqual(a, {
      ok: true,
      deliveryId: "Ev0PV52K21",
      derived: false,
      replayKeys: [{ key: "Ev0PV52K21" }],
    });
    assert.deepEqual(a, b);
  });

  test("Slack bodies without event_id (slash commands) are keyed by the digest of the signed content, not the header text", () => {
    const a = deliveryIdFor({
      source: "slack",
      verified: { ok: true, signedDigest: DIGEST },
      body,
      payload: undefined,
    });
    const b = deliveryIdFor({
      source: "slack",
      verified: { ok: true, signedDigest: "b".repeat(64) },
      body,
      payload: undefined,
    });
    assert.ok(a.ok && b.ok);
    assert.match(a.deliveryId, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(a.deliveryId, b.deliveryId);
    assert.equal(
      a.replayKeys[0]?.keepUntilMs,
      undefined,
      "a signed timestamp bounds it: the window is enough",
    );
  });

  test("Stripe uses the event id from the verified body", () => {
    const r = deliveryIdFor({ source: "stripe", verified: { ok: true }, body, payload: { id: "evt_1" } });
    assert.deepEqual(r, { ok: true, deliveryId: "evt_1", derived: false, replayKeys: [{ key: "evt_1" }] });
    const none = deliveryIdFor({ source: "stripe", verified: { ok: true }, body, payload: [] });
    assert.equal(none.ok, false);
  });

  test("generic HMAC without a signed timestamp is keyed by the content digest, kept for good", () => {
    const r = deliveryIdFor({
      source: "generic_hmac",
      verified: { ok: true, signedDigest: DIGEST },
      body,
      payload: {},
    });
    assert.ok(r.ok);
    assert.equal(r.derived, true);
    assert.match(r.deliveryId, /^sha256:/);
    assert.deepEqual(r.replayKeys, [{ key: r.deliveryId, keepUntilMs: KEEP_FOREVER_MS }]);
  });

  test("generic HMAC with a delivery-id header: the header names the row, the content digest is checked too", () => {
    const r = deliveryIdFor({
      source: "generic_hmac",
      verified: { ok: true, deliveryId: "d-1", timestamp: 1_700_000_000, signedDigest: DIGEST },
      body,
      payload: {},
    });
    assert.ok(r.ok);
    assert.equal(r.deliveryId, "d-1");
    assert.equal(r.replayKeys.length, 2);
    assert.equal(r.replayKeys[1]?.keepUntilMs, undefined);
  });

  test("JWT without jti: the signing-input digest, kept at least until the token expires", () => {
    const r = deliveryIdFor({
      source: "jwt",
      verified: { ok: true, claims: { exp: 2_000_000_000 }, signedDigest: DIGEST },
      body,
      payload: {},
    });
    assert.ok(r.ok);
    assert.deepEqual(r.replayKeys, [{ key: r.deliveryId, keepUntilMs: 2_000_000_000_000 }]);
    const far = deliveryIdFor({
      source: "jwt",
      verified: { ok: true, claims: { exp: 1e20 }, signedDigest: DIGEST },
      body,
      payload: {},
    });
    assert.ok(far.ok);
    assert.equal(
      far.replayKeys[0]?.keepUntilMs,
      KEEP_FOREVER_MS,
      "an absurd exp is clamped to a storable time",
    );
  });

  test("an overlong or non-printable sender id is stored as its hash, never verbatim", () => {
    const long = deliveryIdFor({
      source: "stripe",
      verified: { ok: true },
      body,
      payload: { id: "x".repeat(300) },
    });
    const ctl = deliveryIdFor({ source: "stripe", verified: { ok: true }, body, payload: { id: "a\nb" } });
    assert.ok(long.ok && ctl.ok);
    assert.match(long.deliveryId, /^sha256:[0-9a-f]{64}$/);
    assert.match(ctl.deliveryId, /^sha256:[0-9a-f]{64}$/);
  });
});

describe("replay guard over several keys", () => {
  test("a delivery is REPLAYED when any of its keys was seen, and every key is recorded", async () => {
    const clock = manualClock();
    const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
    assert.deepEqual(await guard.checkAll("t", "c", [{ key: "id-1" }, { key: "body" }], 600), { ok: true });
    assert.deepEqual(await guard.checkAll("t", "c", [{ key: "id-2" }, { key: "body" }], 600), {
      ok: false,
      reason: "REPLAYED",
    });
    assert.deepEqual(await guard.check("t", "c", "id-2", 600), { ok: false, reason: "REPLAYED" });
  });

  test("a key kept for good outlives the replay window", async () => {
    const clock = manualClock();
    const guard = createReplayGuard({ store: createMemoryReplayStore({ clock }), clock });
    await guard.checkAll("t", "c", [{ key: "body", keepUntilMs: KEEP_FOREVER_MS }], 600);
    clock.advance(365 * 86_400_000);
    assert.deepEqual(await guard.check("t", "c", "body", 600), { ok: false, reason: "REPLAYED" });
  });
});
