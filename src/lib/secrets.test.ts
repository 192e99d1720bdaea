import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkSecretStrength,
  constantTimeEqual,
  displayStart,
  generateSecret,
  KEY_PREFIX,
  sha256Hex,
} from "./secrets.ts";

test("generated keys carry their prefix and 256 random bits", () => {
  const a = generateSecret(KEY_PREFIX.agent);
  assert.match(a, /^hyk_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, generateSecret(KEY_PREFIX.agent));
  assert.equal(checkSecretStrength(a).ok, true);
});

test("weak secrets are refused with a reason", () => {
  for (const weak of [
    "short",
    "a".repeat(40),
    "abcabcabcabcabcabcabcabcabcabcabcabc",
    "my-password-is-long-enough-but-bad-1234",
    "0123456789abcdefghijABCDEFGHIJ!!",
  ]) {
    const r = checkSecretStrength(weak);
    assert.equal(r.ok, false, weak);
  }
});

test("constant-time comparison is exact", () => {
  assert.equal(constantTimeEqual("abc", "abc"), true);
  assert.equal(constantTimeEqual("abc", "abd"), false);
  assert.equal(constantTimeEqual("abc", "abcd"), false);
});

test("display start shows only the prefix and a few characters", () => {
  const k = generateSecret(KEY_PREFIX.agent);
  assert.equal(displayStart(k).length, 12);
  assert.equal(sha256Hex("x").length, 64);
});
