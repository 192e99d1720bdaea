import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { containsKnownValue, fingerprintSet, fingerprintsOf } from "./fingerprints.ts";

const key = randomBytes(32);
const secret = `ghp_${randomBytes(20).toString("base64url")}`;
const other = `xoxb-${randomBytes(30).toString("hex")}`;
const set = fingerprintSet(fingerprintsOf(key, [secret, other, "short"]));

test("a known value is found alone, inside prose, inside JSON and glued to punctuation", () => {
  for (const text of [secret, `token: ${secret}.`, `{"a":"Bearer ${secret}"}`, `x${other}y`]) {
    assert.equal(containsKnownValue(key, set, text), true, text);
  }
});

test("near misses, other keys' fingerprints and values under the minimum length are not matches", () => {
  assert.equal(containsKnownValue(key, set, secret.slice(1)), false);
  assert.equal(containsKnownValue(key, set, `${secret.slice(0, 10)} ${secret.slice(10)}`), false);
  assert.equal(containsKnownValue(randomBytes(32), set, secret), false);
  assert.equal(containsKnownValue(key, set, "short"), false);
  assert.equal(containsKnownValue(key, fingerprintSet([]), secret), false);
});

test("fingerprints reveal neither the value nor its prefix", () => {
  const prints = fingerprintsOf(key, [secret]);
  assert.equal(prints.length, 1);
  assert.ok(!prints[0]?.includes(secret.slice(0, 6)));
  assert.match(prints[0] ?? "", /^\d+:[0-9a-f]{32}$/);
});
