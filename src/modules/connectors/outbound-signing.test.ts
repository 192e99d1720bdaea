import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import { signOutbound, verifyOutbound } from "./outbound-signing.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const T = NOW / 1000;
const SECRET = "whsec_test";
const BODY = '{"ok":true}';

describe("outbound signing (X-Hypha-Signature)", () => {
  test("the header is t=<unix seconds>,v1=<hex HMAC-SHA256 of '{t}.{body}'> exactly as documented", () => {
    const expected = createHmac("sha256", SECRET).update(`${T}.${BODY}`).digest("hex");
    assert.equal(signOutbound(SECRET, BODY, NOW + 999), `t=${T},v1=${expected}`);
  });

  test("a receiver accepts what was signed, within tolerance either side", () => {
    const header = signOutbound(SECRET, BODY, NOW);
    assert.deepEqual(verifyOutbound(SECRET, header, BODY, NOW + 299_000, 300), { ok: true, timestamp: T });
    assert.deepEqual(verifyOutbound(SECRET, header, Buffer.from(BODY), NOW - 299_000, 300), {
      ok: true,
      timestamp: T,
    });
  });

  test("a changed body, a re-serialised body or another secret is SIGNATURE_MISMATCH", () => {
    const header = signOutbound(SECRET, '{"ok": true}', NOW);
    const reserialised = JSON.stringify(JSON.parse('{"ok": true}'));
    assert.deepEqual(verifyOutbound(SECRET, header, reserialised, NOW, 300), {
      ok: false,
      reason: "SIGNATURE_MISMATCH",
    });
    assert.deepEqual(verifyOutbound("other", header, '{"ok": true}', NOW, 300), {
      ok: false,
      reason: "SIGNATURE_MISMATCH",
    });
  });

  test("a moved timestamp breaks the signature (t is signed)", () => {
    const header = signOutbound(SECRET, BODY, NOW).replace(`t=${T}`, `t=${T + 1}`);
    assert.deepEqual(verifyOutbound(SECRET, header, BODY, NOW, 300), {
      ok: false,
      reason: "SIGNATURE_MISMATCH",
    });
  });

  test("stale and far-future timestamps are rejected", () => {
    const header = signOutbound(SECRET, BODY, NOW);
    assert.deepEqual(verifyOutbound(SECRET, header, BODY, NOW + 301_000, 300), {
      ok: false,
      reason: "TIMESTAMP_STALE",
    });
    assert.deepEqual(verifyOutbound(SECRET, header, BODY, NOW - 301_000, 300), {
      ok: false,
      reason: "TIMESTAMP_IN_FUTURE",
    });
  });

  test("during rotation each secret gets a v1 and a receiver holding either one accepts", () => {
    const header = signOutbound(["old-secret", "new-secret"], BODY, NOW);
    assert.equal(header.split(",").length, 3);
    assert.equal(verifyOutbound("old-secret", header, BODY, NOW, 300).ok, true);
    assert.equal(verifyOutbound("new-secret", header, BODY, NOW, 300).ok, true);
  });

  test("malformed headers, missing parts and an unset secret are rejected with stable reasons", () => {
    const v1 = "a".repeat(64);
    const cases: [string | undefined, string][] = [
      [undefined, "SIGNATURE_MISSING"],
      [`t=${T}`, "SIGNATURE_MISSING"],
      [`v1=${v1}`, "MALFORMED_HEADER"],
      [`t=${T},t=${T},v1=${v1}`, "MALFORMED_HEADER"],
      [`t=-1,v1=${v1}`, "MALFORMED_HEADER"],
      [`t=${T},v1=${v1.slice(2)}`, "MALFORMED_HEADER"],
      [`t=${T},garbage`, "MALFORMED_HEADER"],
    ];
    for (const [header, reason] of cases) {
      assert.deepEqual(verifyOutbound(SECRET, header, BODY, NOW, 300), { ok: false, reason }, String(header));
    }
    assert.deepEqual(verifyOutbound(undefined, signOutbound(SECRET, BODY, NOW), BODY, NOW, 300), {
      ok: false,
      reason: "NO_SECRET_CONFIGURED",
    });
    assert.throws(() => signOutbound("", BODY, NOW));
  });

  test("unknown schemes in the header are ignored so the format can grow", () => {
    const header = `${signOutbound(SECRET, BODY, NOW)},v2=zzz`;
    assert.equal(verifyOutbound(SECRET, header, BODY, NOW, 300).ok, true);
  });
});
