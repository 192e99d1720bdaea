import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hash } from "@node-rs/argon2";
import { checkPasswordPolicy, hashPassword, needsRehash, verifyPassword } from "./passwords.ts";

const GOOD = "correct horse battery staple";

describe("password hashing", () => {
  test("hashes are argon2id with m=19456 KiB, t=2, p=1 and a per-hash salt", async () => {
    const a = await hashPassword(GOOD);
    const b = await hashPassword(GOOD);
    assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.notEqual(a, b);
    assert.equal(needsRehash(a), false);
  });

  test("the right password verifies; a wrong one, a malformed hash and an unknown user do not", async () => {
    const stored = await hashPassword(GOOD);
    assert.equal(await verifyPassword(stored, GOOD), true);
    assert.equal(await verifyPassword(stored, `${GOOD}!`), false);
    assert.equal(await verifyPassword("$argon2id$not-a-hash", GOOD), false);
    assert.equal(await verifyPassword(null, GOOD), false);
    assert.equal(await verifyPassword(stored, "x".repeat(5000)), false);
  });

  test("passwords are NFKC-normalised, so the same text typed two ways verifies", async () => {
    const composed = "café horse battery";
    const decomposed = "cafe\u0301 horse battery";
    const stored = await hashPassword(composed);
    assert.equal(await verifyPassword(stored, decomposed), true);
  });

  test("needsRehash flags weaker parameters, other argon2 variants and garbage", async () => {
    const weak = await hash(GOOD, { memoryCost: 4096, timeCost: 1, parallelism: 1 });
    assert.equal(needsRehash(weak), true);
    const argon2i = await hash(GOOD, { algorithm: 1, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    assert.equal(needsRehash(argon2i), true);
    assert.equal(needsRehash("$2b$10$abcdefghijklmnopqrstuv"), true);
  });

  test("hashPassword refuses a password that fails the policy", async () => {
    await assert.rejects(hashPassword("short"), RangeError);
  });
});

describe("password policy", () => {
  test("accepts 12 to 256 characters counted as code points", () => {
    assert.deepEqual(checkPasswordPolicy("abcdefghijkl"), { ok: true });
    assert.deepEqual(checkPasswordPolicy("ab".repeat(128)), { ok: true });
    assert.deepEqual(checkPasswordPolicy("🔑🐍🔑🐍🔑🐍🔑🐍🔑🐍🔑🐍"), { ok: true });
  });

  test("rejects too short, too long, one repeated character and non-strings with stable reasons", () => {
    assert.equal(checkPasswordPolicy("abcdefghijk").ok, false);
    assert.deepEqual(
      [
        checkPasswordPolicy("abcdefghijk"),
        checkPasswordPolicy(`${"ab".repeat(128)}c`),
        checkPasswordPolicy("aaaaaaaaaaaaaaaa"),
        checkPasswordPolicy(12345678901234),
      ].map((r) => (r.ok ? "ok" : r.reason)),
      ["TOO_SHORT", "TOO_LONG", "SINGLE_CHARACTER", "NOT_A_STRING"],
    );
  });
});
