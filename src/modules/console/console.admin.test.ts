import assert from "node:assert/strict";
import { test } from "node:test";
import { manualClock } from "../../lib/clock.ts";
import { ADMIN_SESSION_TTL_MS, createAdminSessions } from "./console.admin.ts";
import { adminNext } from "./console.routes.ts";

const origin = { requestId: "req_unit0001", ip: "127.0.0.1", userAgent: null };
const KEY = "hypha_admin_correct-horse";

function sessions() {
  const clock = manualClock();
  return { clock, s: createAdminSessions({ clock, verifyAdminKey: (k) => k === KEY }) };
}

test("a wrong admin key starts no session; the right one starts a random hcs_ id that is not the key", () => {
  const { s } = sessions();
  assert.equal(s.start("wrong"), null);
  const a = s.start(KEY);
  const b = s.start(KEY);
  assert.ok(a && b);
  assert.match(a.id, /^hcs_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a.id, b.id);
  assert.ok(!a.id.includes(KEY));
  const v = s.verify(a.id, origin);
  assert.ok(v?.ok);
  assert.equal(v.kind, "admin_session");
  assert.equal(v.actor.type, "instance_admin");
});

test("a session expires 30 minutes after sign-in, never extended by use", () => {
  const { s, clock } = sessions();
  const a = s.start(KEY);
  assert.ok(a);
  clock.advance(ADMIN_SESSION_TTL_MS - 1000);
  assert.equal(s.verify(a.id, origin)?.ok, true);
  clock.advance(1000);
  assert.deepEqual(s.verify(a.id, origin), { ok: false, code: "CREDENTIALS_EXPIRED" });
  assert.deepEqual(s.verify(a.id, origin), { ok: false, code: "INVALID_CREDENTIALS" });
});

test("sign-out forgets a session at once; forged and foreign values are refused or left to the usual verifier", () => {
  const { s } = sessions();
  const a = s.start(KEY);
  assert.ok(a);
  assert.equal(s.end(a.id), true);
  assert.equal(s.end(a.id), false);
  assert.deepEqual(s.verify(a.id, origin), { ok: false, code: "INVALID_CREDENTIALS" });
  assert.deepEqual(s.verify(`hcs_${"A".repeat(43)}`, origin), { ok: false, code: "INVALID_CREDENTIALS" });
  assert.deepEqual(s.verify("hcs_short", origin), { ok: false, code: "INVALID_CREDENTIALS" });
  // Not an admin session id (a person's token, an agent key): not this verifier's to judge.
  assert.equal(s.verify("eyJhbGciOiJIUzI1NiJ9.e30.x", origin), null);
  assert.equal(s.verify(KEY, origin), null);
});

test("live sessions are bounded: beyond 32, signing in ends the oldest", () => {
  const { s } = sessions();
  const first = s.start(KEY);
  assert.ok(first);
  for (let i = 0; i < 32; i++) s.start(KEY);
  assert.deepEqual(s.verify(first.id, origin), { ok: false, code: "INVALID_CREDENTIALS" });
});

test("after signing in, the admin goes to an instance page only", () => {
  assert.equal(adminNext("/console/admin/tenants"), "/console/admin/tenants");
  for (const next of [
    "/console",
    "/console/agents",
    "/console/admin/login",
    "//evil.example",
    "https://x",
    undefined,
  ]) {
    assert.equal(adminNext(next), "/console/admin/killswitch", String(next));
  }
});
