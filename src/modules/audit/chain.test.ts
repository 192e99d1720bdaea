import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { manualClock } from "../../lib/clock.ts";
import { deriveSubkey } from "../../lib/crypto/field-cipher.ts";
import {
  type AuditCheckpoint,
  type AuditEvent,
  type AuditEventInput,
  canonicalJson,
  chainHead,
  computeEventHash,
  GENESIS_HASH,
  planRetention,
  type StoredAuditEvent,
  sealEvent,
  signCheckpoint,
  verifyChain,
  verifyCheckpoint,
} from "./chain.ts";

const TENANT = "tnt_a";
const auditKey = deriveSubkey(randomBytes(32), TENANT, "audit-hmac");
const checkpointKey = randomBytes(32);
const MINUTE = 60_000;

function input(i: number): AuditEventInput {
  return {
    tenantId: TENANT,
    actorType: "agent",
    actorId: "key_1",
    action: i % 2 ? "memories.create" : "memories.delete",
    targetIds: [`mem_${i}`],
    outcome: i === 3 ? "denied" : "success",
    requestId: `req_${i}`,
    clientIp: "127.0.0.1",
    userAgent: "test",
    ...(i % 3 === 0 ? { details: { reason: "scope", nested: { b: 1, a: [1, 2] } } } : {}),
  };
}

/** A chain of `n` events, one a minute from 2026-01-01T00:00Z, seq 1..n. */
function buildChain(n: number, key = auditKey): AuditEvent[] {
  const clock = manualClock();
  const events: AuditEvent[] = [];
  for (let i = 1; i <= n; i++) {
    events.push(sealEvent(input(i), chainHead(events), key, clock));
    clock.advance(MINUTE);
  }
  return events;
}

const opts = (extra: { checkpoints?: AuditCheckpoint[]; anchor?: AuditCheckpoint | null } = {}) => ({
  tenantId: TENANT,
  checkpointKey,
  ...extra,
});

function replaceAt(
  events: readonly AuditEvent[],
  seq: number,
  change: Partial<StoredAuditEvent>,
): StoredAuditEvent[] {
  return events.map((e) => (e.seq === seq ? { ...e, ...change } : e));
}

describe("canonicalJson", () => {
  test("sorts keys at every depth and has no whitespace, so key order never changes the bytes", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } }),
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  });

  test("omits undefined properties and refuses values JSON cannot carry faithfully", () => {
    assert.equal(canonicalJson({ a: undefined, b: null }), '{"b":null}');
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1n, () => 1, [undefined], new Date(0)]) {
      assert.throws(() => canonicalJson(bad), TypeError);
    }
  });
});

describe("sealing", () => {
  test("events link: seq counts from 1, the first prevHash is the genesis hash, each next prevHash is the previous hash", () => {
    const events = buildChain(3);
    assert.deepEqual(
      events.map((e) => e.seq),
      [1, 2, 3],
    );
    assert.equal(events[0]?.prevHash, GENESIS_HASH);
    assert.equal(events[1]?.prevHash, events[0]?.hash);
    assert.equal(events[2]?.prevHash, events[1]?.hash);
    assert.equal(events[0]?.ts, "2026-01-01T00:00:00.000Z");
  });

  test("the hash is an HMAC under the audit key: a plain SHA-256 or another key does not reproduce it", () => {
    const [event] = buildChain(1);
    assert.ok(event);
    const { hash, ...rest } = event;
    assert.equal(computeEventHash(rest, auditKey), hash);
    assert.notEqual(computeEventHash(rest, randomBytes(32)), hash);
    assert.notEqual(createHash("sha256").update(canonicalJson(rest)).digest("hex"), hash);
  });

  test("details stored as null hash the same as absent details", () => {
    const [event] = buildChain(1);
    assert.ok(event);
    assert.deepEqual(verifyChain([{ ...event, details: null }], auditKey), {
      ok: true,
      lastSeq: 1,
      count: 1,
    });
  });
});

describe("verifyChain", () => {
  test("an intact chain verifies with its last seq and count", () => {
    const events = buildChain(10);
    assert.deepEqual(verifyChain(events, auditKey), { ok: true, lastSeq: 10, count: 10 });
    const cp = signCheckpoint(
      { tenantId: TENANT, seq: 10, hash: events[9]?.hash ?? "" },
      checkpointKey,
      manualClock(),
    );
    assert.deepEqual(verifyChain(events, auditKey, opts({ checkpoints: [cp] })), {
      ok: true,
      lastSeq: 10,
      count: 10,
    });
    assert.deepEqual(verifyChain([], auditKey), { ok: true, lastSeq: 0, count: 0 });
  });

  test("a modified event is HASH_MISMATCH at its seq", () => {
    const events = buildChain(10);
    assert.deepEqual(
      verifyChain(replaceAt(events, 7, { outcome: "success", action: "memories.read" }), auditKey),
      {
        ok: false,
        firstBadSeq: 7,
        reason: "HASH_MISMATCH",
      },
    );
    assert.deepEqual(verifyChain(replaceAt(events, 6, { details: { reason: "edited" } }), auditKey), {
      ok: false,
      firstBadSeq: 6,
      reason: "HASH_MISMATCH",
    });
  });

  test("a modified event whose hashes were recomputed without the audit key is HASH_MISMATCH at its seq", () => {
    const events = buildChain(10);
    // The attacker rewrites event 4 and re-hashes it and every later event with a key of their own.
    const forged = buildChain(10, randomBytes(32));
    const spliced = [
      ...events.slice(0, 3),
      ...forged.slice(3).map((e, i) => (i === 0 ? { ...e, prevHash: events[2]?.hash ?? "" } : e)),
    ];
    assert.deepEqual(verifyChain(spliced, auditKey), { ok: false, firstBadSeq: 4, reason: "HASH_MISMATCH" });
  });

  test("a deleted event in the middle is SEQUENCE_GAP at the missing seq", () => {
    const events = buildChain(10).filter((e) => e.seq !== 5);
    assert.deepEqual(verifyChain(events, auditKey), { ok: false, firstBadSeq: 5, reason: "SEQUENCE_GAP" });
  });

  test("a deleted event hidden by renumbering the rest is PREV_HASH_MISMATCH at the missing seq", () => {
    const events = buildChain(10)
      .filter((e) => e.seq !== 5)
      .map((e) => (e.seq > 5 ? { ...e, seq: e.seq - 1 } : e));
    assert.deepEqual(verifyChain(events, auditKey), {
      ok: false,
      firstBadSeq: 5,
      reason: "PREV_HASH_MISMATCH",
    });
  });

  test("a deleted first event is SEQUENCE_GAP at 1", () => {
    assert.deepEqual(verifyChain(buildChain(4).slice(1), auditKey), {
      ok: false,
      firstBadSeq: 1,
      reason: "SEQUENCE_GAP",
    });
  });

  test("reordered events are detected at the first displaced seq", () => {
    const events = buildChain(6);
    const [e3, e4] = [events[2], events[3]];
    assert.ok(e3 && e4);
    // Rows returned in the wrong order.
    const swappedRows = [...events.slice(0, 2), e4, e3, ...events.slice(4)];
    assert.deepEqual(verifyChain(swappedRows, auditKey), {
      ok: false,
      firstBadSeq: 3,
      reason: "SEQUENCE_GAP",
    });
    // Seq numbers swapped in the database, so rows still sort ascending.
    const swappedSeq = [...events.slice(0, 2), { ...e4, seq: 3 }, { ...e3, seq: 4 }, ...events.slice(4)];
    assert.deepEqual(verifyChain(swappedSeq, auditKey), {
      ok: false,
      firstBadSeq: 3,
      reason: "PREV_HASH_MISMATCH",
    });
    // Contents swapped but each row keeps its link fields: the HMAC no longer matches.
    const swappedContent = replaceAt(events, 3, {
      action: e4.action,
      targetIds: e4.targetIds,
      outcome: e4.outcome,
    });
    assert.deepEqual(verifyChain(swappedContent, auditKey), {
      ok: false,
      firstBadSeq: 3,
      reason: "HASH_MISMATCH",
    });
  });

  test("a nulled or emptied hash is NULL_HASH at its seq", () => {
    const events = buildChain(8);
    assert.deepEqual(verifyChain(replaceAt(events, 4, { hash: null }), auditKey), {
      ok: false,
      firstBadSeq: 4,
      reason: "NULL_HASH",
    });
    assert.deepEqual(verifyChain(replaceAt(events, 8, { hash: "" }), auditKey), {
      ok: false,
      firstBadSeq: 8,
      reason: "NULL_HASH",
    });
  });

  test("a nulled prevHash is PREV_HASH_MISMATCH at its seq", () => {
    assert.deepEqual(verifyChain(replaceAt(buildChain(5), 2, { prevHash: null }), auditKey), {
      ok: false,
      firstBadSeq: 2,
      reason: "PREV_HASH_MISMATCH",
    });
  });

  test("an event of another tenant spliced in is HASH_MISMATCH", () => {
    const events = replaceAt(buildChain(3), 2, { tenantId: "tnt_b" });
    assert.deepEqual(verifyChain(events, auditKey, opts()), {
      ok: false,
      firstBadSeq: 2,
      reason: "HASH_MISMATCH",
    });
  });

  test("a truncated tail passes without a checkpoint but is TRUNCATED at the first lost seq with one", () => {
    const events = buildChain(10);
    const cp = signCheckpoint(
      { tenantId: TENANT, seq: 10, hash: events[9]?.hash ?? "" },
      checkpointKey,
      manualClock(),
    );
    const truncated = events.slice(0, 8);
    assert.equal(verifyChain(truncated, auditKey).ok, true);
    assert.deepEqual(verifyChain(truncated, auditKey, opts({ checkpoints: [cp] })), {
      ok: false,
      firstBadSeq: 9,
      reason: "TRUNCATED",
    });
    assert.deepEqual(verifyChain([], auditKey, opts({ checkpoints: [cp] })), {
      ok: false,
      firstBadSeq: 1,
      reason: "TRUNCATED",
    });
  });

  test("a chain cut back and grown again past a checkpoint is TRUNCATED after the last matching checkpoint", () => {
    const events = buildChain(10);
    const clockAt = manualClock();
    const at3 = signCheckpoint(
      { tenantId: TENANT, seq: 3, hash: events[2]?.hash ?? "" },
      checkpointKey,
      clockAt,
    );
    const at6 = signCheckpoint(
      { tenantId: TENANT, seq: 6, hash: events[5]?.hash ?? "" },
      checkpointKey,
      clockAt,
    );
    // Truncated at 5 and re-grown by a writer holding the audit key (e.g. the server after a restart).
    const regrown = [...events.slice(0, 5)];
    const clock = manualClock(Date.parse("2026-06-01T00:00:00Z"));
    for (let i = 6; i <= 8; i++) regrown.push(sealEvent(input(i + 100), chainHead(regrown), auditKey, clock));
    assert.deepEqual(verifyChain(regrown, auditKey, opts({ checkpoints: [at6, at3] })), {
      ok: false,
      firstBadSeq: 4,
      reason: "TRUNCATED",
    });
    assert.deepEqual(verifyChain(regrown, auditKey, opts({ checkpoints: [at6] })), {
      ok: false,
      firstBadSeq: 1,
      reason: "TRUNCATED",
    });
  });

  test("a forged, altered or foreign checkpoint is CHECKPOINT_INVALID at its seq", () => {
    const events = buildChain(5);
    const good = signCheckpoint(
      { tenantId: TENANT, seq: 5, hash: events[4]?.hash ?? "" },
      checkpointKey,
      manualClock(),
    );
    const wrongKey = signCheckpoint(
      { tenantId: TENANT, seq: 5, hash: events[4]?.hash ?? "" },
      auditKey,
      manualClock(),
    );
    const moved = { ...good, seq: 3 };
    const foreign = signCheckpoint(
      { tenantId: "tnt_b", seq: 5, hash: events[4]?.hash ?? "" },
      checkpointKey,
      manualClock(),
    );
    assert.deepEqual(verifyCheckpoint(good, checkpointKey, TENANT), { ok: true });
    for (const [cp, seq] of [
      [wrongKey, 5],
      [moved, 3],
      [foreign, 5],
    ] as const) {
      assert.equal(verifyCheckpoint(cp, checkpointKey, TENANT).ok, false);
      assert.deepEqual(verifyChain(events, auditKey, opts({ checkpoints: [cp] })), {
        ok: false,
        firstBadSeq: seq,
        reason: "CHECKPOINT_INVALID",
      });
    }
  });
});

describe("retention", () => {
  const dropBefore = Date.parse("2026-01-01T00:06:00Z"); // events 1..6 are older

  test("dropping old events yields a signed anchor from which the remaining chain still verifies", () => {
    const events = buildChain(10);
    const plan = planRetention(events, auditKey, { ...opts(), dropBefore, clock: manualClock() });
    assert.ok(plan.ok);
    assert.equal(plan.dropThroughSeq, 6);
    assert.equal(plan.dropCount, 6);
    assert.ok(plan.anchor);
    assert.equal(plan.anchor.seq, 6);
    assert.equal(plan.anchor.hash, events[5]?.hash);
    assert.deepEqual(verifyCheckpoint(plan.anchor, checkpointKey, TENANT), { ok: true });

    const remaining = events.filter((e) => e.seq > 6);
    assert.deepEqual(verifyChain(remaining, auditKey, opts({ anchor: plan.anchor })), {
      ok: true,
      lastSeq: 10,
      count: 4,
    });
    // Without the anchor the shortened chain does not verify: its head looks deleted.
    assert.deepEqual(verifyChain(remaining, auditKey), { ok: false, firstBadSeq: 1, reason: "SEQUENCE_GAP" });
    // Rows not yet deleted when the anchor was saved do not break verification.
    assert.deepEqual(verifyChain(events, auditKey, opts({ anchor: plan.anchor })), {
      ok: true,
      lastSeq: 10,
      count: 4,
    });
  });

  test("after retention, tampering is still located: a deleted first kept event is SEQUENCE_GAP at anchor seq + 1", () => {
    const events = buildChain(10);
    const plan = planRetention(events, auditKey, { ...opts(), dropBefore, clock: manualClock() });
    assert.ok(plan.ok && plan.anchor);
    const remaining = events.filter((e) => e.seq > 7);
    assert.deepEqual(verifyChain(remaining, auditKey, opts({ anchor: plan.anchor })), {
      ok: false,
      firstBadSeq: 7,
      reason: "SEQUENCE_GAP",
    });
    const forgedAnchor = { ...plan.anchor, hash: events[6]?.hash ?? "", seq: 7 };
    assert.deepEqual(verifyChain(remaining, auditKey, opts({ anchor: forgedAnchor })), {
      ok: false,
      firstBadSeq: 7,
      reason: "CHECKPOINT_INVALID",
    });
  });

  test("new events append after the anchor when every event was dropped", () => {
    const events = buildChain(3);
    const plan = planRetention(events, auditKey, { ...opts(), dropBefore, clock: manualClock() });
    assert.ok(plan.ok && plan.anchor);
    assert.equal(plan.dropThroughSeq, 3);
    const head = chainHead([], plan.anchor);
    const next = sealEvent(input(4), head, auditKey, manualClock(dropBefore));
    assert.equal(next.seq, 4);
    assert.deepEqual(verifyChain([next], auditKey, opts({ anchor: plan.anchor })), {
      ok: true,
      lastSeq: 4,
      count: 1,
    });
  });

  test("retention refuses to drop from a tampered chain and reports where", () => {
    const events = replaceAt(buildChain(10), 2, { action: "memories.read" });
    const plan = planRetention(events, auditKey, { ...opts(), dropBefore, clock: manualClock() });
    assert.deepEqual(plan, { ok: false, firstBadSeq: 2, reason: "HASH_MISMATCH" });
  });

  test("nothing old enough: nothing to drop and the previous anchor stays", () => {
    const plan = planRetention(buildChain(3), auditKey, { ...opts(), dropBefore: 0, clock: manualClock() });
    assert.deepEqual(plan, { ok: true, dropThroughSeq: null, dropCount: 0, anchor: null });
  });
});
