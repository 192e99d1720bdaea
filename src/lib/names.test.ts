import assert from "node:assert/strict";
import { test } from "node:test";
import { idPattern, newId } from "./ids.ts";
import { NAMESPACE_RE, safeJoin } from "./names.ts";

test("namespaces are closed lowercase segments: no traversal, no absolute paths, no empty segments", () => {
  for (const ok of ["default", "team/notes", "a.b/c-d_e", "x1"]) assert.ok(NAMESPACE_RE.test(ok), ok);
  for (const bad of ["", "../x", "a/../b", "/abs", "a//b", "A", "a\\b", "a/", ".a", "a/.b", "a b"]) {
    assert.ok(!NAMESPACE_RE.test(bad), bad);
  }
});

test("safeJoin refuses any path that leaves its root", () => {
  assert.equal(safeJoin("/data", "vaults", "x"), "/data/vaults/x");
  assert.throws(() => safeJoin("/data", "../etc"));
  assert.throws(() => safeJoin("/data", "vaults/../../etc"));
  assert.throws(() => safeJoin("/data", "/etc/passwd"));
});

test("ids are prefixed, match their pattern and sort by creation time", () => {
  const a = newId("memory", 1000);
  const b = newId("memory", 2000);
  assert.match(a, idPattern("memory"));
  assert.ok(a < b);
  assert.ok(!idPattern("tenant").test(a));
});

test("ids made in the same millisecond are distinct, across many refills of the random pool", () => {
  const ids = Array.from({ length: 5_000 }, () => newId("event", 1000));
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, idPattern("event"));
  // The random part is not one pattern repeated: every character of the alphabet appears.
  const chars = new Set(ids.flatMap((id) => [...id.slice(-16)]));
  assert.equal(chars.size, 32);
});
