import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { createTenantCipher, deriveSubkey, parseFieldCiphertext, SUBKEY_PURPOSES } from "./field-cipher.ts";

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const cipherA = createTenantCipher(keyA, "tnt_a");

function flipPayloadByte(ciphertext: string, index: number): string {
  const [format, version, payload] = ciphertext.split(".");
  const raw = Buffer.from(payload ?? "", "base64url");
  const at = index < 0 ? raw.length + index : index;
  raw[at] = (raw[at] ?? 0) ^ 0x01;
  return `${format}.${version}.${raw.toString("base64url")}`;
}

describe("field encryption", () => {
  test("round trip: strings (including empty and non-ASCII) and binary values decrypt to the input", () => {
    for (const text of ["", "hello", "ünïcödé ✓ 🍄", "x".repeat(100_000)]) {
      const stored = cipherA.encrypt("mem_1", "content", text);
      assert.deepEqual(cipherA.decryptString("mem_1", "content", stored), { ok: true, plaintext: text });
    }
    const bytes = randomBytes(257);
    const stored = cipherA.encrypt("mem_1", "blob", bytes);
    const back = cipherA.decrypt("mem_1", "blob", stored);
    assert.ok(back.ok);
    assert.deepEqual(back.plaintext, bytes);
  });

  test("the ciphertext is self-describing: format, key version, then base64url(iv | ciphertext | tag)", () => {
    const stored = createTenantCipher(keyA, "tnt_a", { keyVersion: 3 }).encrypt("mem_1", "content", "abc");
    assert.match(stored, /^v1\.3\.[A-Za-z0-9_-]+$/);
    const parsed = parseFieldCiphertext(stored);
    assert.equal(parsed?.keyVersion, 3);
    assert.equal(parsed?.iv.length, 12);
    assert.equal(parsed?.tag.length, 16);
    assert.equal(parsed?.body.length, 3);
  });

  test("encrypting the same value twice gives different ciphertexts (random IV)", () => {
    assert.notEqual(cipherA.encrypt("mem_1", "content", "same"), cipherA.encrypt("mem_1", "content", "same"));
  });

  test("a different data key cannot decrypt (AUTH_FAILED)", () => {
    const stored = cipherA.encrypt("mem_1", "content", "secret");
    const result = createTenantCipher(keyB, "tnt_a").decrypt("mem_1", "content", stored);
    assert.deepEqual(result, { ok: false, reason: "AUTH_FAILED" });
  });

  test("a ciphertext swapped to another record fails to decrypt", () => {
    const stored = cipherA.encrypt("mem_1", "content", "secret");
    assert.deepEqual(cipherA.decrypt("mem_2", "content", stored), { ok: false, reason: "AUTH_FAILED" });
  });

  test("a ciphertext swapped to another field of the same record fails to decrypt", () => {
    const stored = cipherA.encrypt("mem_1", "content", "secret");
    assert.deepEqual(cipherA.decrypt("mem_1", "title", stored), { ok: false, reason: "AUTH_FAILED" });
  });

  test("a ciphertext moved to another tenant fails to decrypt, even if both tenants had the same data key", () => {
    const stored = cipherA.encrypt("mem_1", "content", "secret");
    assert.deepEqual(createTenantCipher(keyB, "tnt_b").decrypt("mem_1", "content", stored), {
      ok: false,
      reason: "AUTH_FAILED",
    });
    assert.deepEqual(createTenantCipher(keyA, "tnt_b").decrypt("mem_1", "content", stored), {
      ok: false,
      reason: "AUTH_FAILED",
    });
  });

  test("ids that differ only in where a separator falls do not share associated data", () => {
    const stored = cipherA.encrypt("a.b", "c", "secret");
    assert.equal(cipherA.decrypt("a", "b.c", stored).ok, false);
  });

  test("flipping any single byte of IV, body or tag fails to decrypt", () => {
    const stored = cipherA.encrypt("mem_1", "content", "tamper with me");
    const length = parseFieldCiphertext(stored)?.iv.length ?? 0;
    for (const index of [0, length - 1, length, length + 5, -16, -1]) {
      assert.deepEqual(cipherA.decrypt("mem_1", "content", flipPayloadByte(stored, index)), {
        ok: false,
        reason: "AUTH_FAILED",
      });
    }
  });

  test("a changed key version digit fails (the version is authenticated too)", () => {
    const stored = cipherA.encrypt("mem_1", "content", "x");
    const other = new Map([[2, keyA]]);
    const cipher = createTenantCipher(keyA, "tnt_a", { previousKeys: other });
    assert.deepEqual(cipher.decrypt("mem_1", "content", stored.replace(/^v1\.1\./, "v1.2.")), {
      ok: false,
      reason: "AUTH_FAILED",
    });
  });

  test("a truncated ciphertext fails: short of a tag is MALFORMED, a cut tag is AUTH_FAILED", () => {
    const stored = cipherA.encrypt("mem_1", "content", "some longer plaintext value");
    const [format, version, payload] = stored.split(".");
    const raw = Buffer.from(payload ?? "", "base64url");
    const cut = (n: number) => `${format}.${version}.${raw.subarray(0, n).toString("base64url")}`;
    assert.deepEqual(cipherA.decrypt("mem_1", "content", cut(raw.length - 1)), {
      ok: false,
      reason: "AUTH_FAILED",
    });
    assert.deepEqual(cipherA.decrypt("mem_1", "content", cut(20)), { ok: false, reason: "MALFORMED" });
    assert.deepEqual(cipherA.decrypt("mem_1", "content", stored.slice(0, 5)), {
      ok: false,
      reason: "MALFORMED",
    });
  });

  test("non-canonical or foreign text is MALFORMED, never decrypted", () => {
    const stored = cipherA.encrypt("mem_1", "content", "x");
    for (const bad of [
      "",
      "plain text",
      `v2${stored.slice(2)}`,
      `${stored}=`,
      `${stored}.x`,
      stored.replace(".1.", ".01."),
    ]) {
      assert.deepEqual(cipherA.decrypt("mem_1", "content", bad), { ok: false, reason: "MALFORMED" }, bad);
    }
  });

  test("data key rotation: old versions decrypt through previousKeys; an unknown version is UNKNOWN_KEY_VERSION", () => {
    const old = cipherA.encrypt("mem_1", "content", "from v1");
    const keyV2 = randomBytes(32);
    const v2 = createTenantCipher(keyV2, "tnt_a", { keyVersion: 2, previousKeys: new Map([[1, keyA]]) });
    assert.deepEqual(v2.decryptString("mem_1", "content", old), { ok: true, plaintext: "from v1" });
    assert.match(v2.encrypt("mem_1", "content", "new"), /^v1\.2\./);
    const v2only = createTenantCipher(keyV2, "tnt_a", { keyVersion: 2 });
    assert.deepEqual(v2only.decrypt("mem_1", "content", old), { ok: false, reason: "UNKNOWN_KEY_VERSION" });
  });
});

describe("blind index and subkeys", () => {
  test("the blind index is deterministic within a tenant and differs across tenants", () => {
    const again = createTenantCipher(keyA, "tnt_a");
    assert.equal(cipherA.blindIndex("alice@example.com"), again.blindIndex("alice@example.com"));
    assert.match(cipherA.blindIndex("alice@example.com"), /^[0-9a-f]{32}$/);
    assert.notEqual(cipherA.blindIndex("alice@example.com"), cipherA.blindIndex("bob@example.com"));
    assert.notEqual(
      cipherA.blindIndex("alice@example.com"),
      createTenantCipher(keyB, "tnt_b").blindIndex("alice@example.com"),
    );
    assert.notEqual(
      cipherA.blindIndex("alice@example.com"),
      createTenantCipher(keyA, "tnt_b").blindIndex("alice@example.com"),
      "the tenant id alone separates indexes",
    );
  });

  test("blind indexes of different scopes do not match, so columns cannot be joined on them", () => {
    assert.notEqual(cipherA.blindIndex("x", "email"), cipherA.blindIndex("x", "phone"));
  });

  test("each purpose gets a distinct 32-byte subkey, none equal to the data key", () => {
    const keys = SUBKEY_PURPOSES.map((p) => cipherA.subkey(p).toString("hex"));
    assert.equal(new Set(keys).size, SUBKEY_PURPOSES.length);
    assert.ok(!keys.includes(keyA.toString("hex")));
    assert.equal(cipherA.subkey("audit-hmac").length, 32);
    assert.deepEqual(cipherA.subkey("audit-hmac"), deriveSubkey(keyA, "tnt_a", "audit-hmac"));
    assert.notDeepEqual(deriveSubkey(keyA, "tnt_a", "audit-hmac"), deriveSubkey(keyA, "tnt_b", "audit-hmac"));
  });
});
