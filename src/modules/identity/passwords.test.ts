import assert from "node:assert/strict";
import { createHash } from "node:crypto";
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

/** 256 code points that no dictionary or pattern explains (hex of a fixed hash chain). */
const LONG_RANDOM =
  createHash("sha512").update("a").digest("hex") + createHash("sha512").update("b").digest("hex");

describe("password policy", () => {
  test("accepts 12 to 256 characters counted as code points", async () => {
    assert.deepEqual(await checkPasswordPolicy("Kx9#mQ2$vLp8"), { ok: true });
    assert.equal([...LONG_RANDOM].length, 256);
    assert.deepEqual(await checkPasswordPolicy(LONG_RANDOM), { ok: true });
    assert.deepEqual(await checkPasswordPolicy("🔑🐍🦊🌵🎲🧭🪁🍋🛶🎻🧩🌋"), { ok: true });
  });

  test("rejects too short, too long, one repeated character and non-strings with stable reasons", async () => {
    assert.equal((await checkPasswordPolicy("abcdefghijk")).ok, false);
    assert.deepEqual(
      [
        await checkPasswordPolicy("abcdefghijk"),
        await checkPasswordPolicy(`${LONG_RANDOM}c`),
        await checkPasswordPolicy("aaaaaaaaaaaaaaaa"),
        await checkPasswordPolicy(12345678901234),
      ].map((r) => (r.ok ? "ok" : r.reason)),
      ["TOO_SHORT", "TOO_LONG", "SINGLE_CHARACTER", "NOT_A_STRING"],
    );
  });

  test("commonly used and easily guessed passwords are refused as TOO_COMMON (NIST SP 800-63B blocklist)", async () => {
    const common = [
      "password1234",
      "Password123!",
      "qwertyuiop123",
      "1q2w3e4r5t6y",
      "iloveyou2024",
      "p@ssw0rd2024",
      "monkey123456",
      "welcome12345",
      "letmeinletmein",
      "abcdefghijkl",
      "ab".repeat(128),
      "🔑🐍🔑🐍🔑🐍🔑🐍🔑🐍🔑🐍",
    ];
    const verdicts: [string, string][] = [];
    for (const p of common) {
      const r = await checkPasswordPolicy(p);
      verdicts.push([p, r.ok ? "ok" : r.reason]);
    }
    assert.deepEqual(
      verdicts,
      common.map((p) => [p, "TOO_COMMON"]),
    );
  });

  test("a password made of the account's own email is refused as TOO_COMMON", async () => {
    const email = "ada.lovelace@example.com";
    assert.equal((await checkPasswordPolicy("adalovelace1815")).ok, true, "fine for someone else");
    const own = await checkPasswordPolicy("adalovelace1815", { userInputs: [email] });
    assert.deepEqual(own.ok ? "ok" : own.reason, "TOO_COMMON");
  });

  test("passphrases and random strings pass: no composition rules", async () => {
    for (const p of [
      "correct horse battery staple",
      "purple-elephant-42-kite",
      "tr0ub4dor&3xyz",
      "a long passphrase here",
    ]) {
      assert.deepEqual([p, await checkPasswordPolicy(p)], [p, { ok: true }]);
    }
  });
});
