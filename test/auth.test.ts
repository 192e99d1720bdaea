import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { errorCode, startServer, type TestServer } from "./harness.ts";
import { login, PASSWORD, refresh, refreshCookie, signedInUser } from "./identity-helpers.ts";

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** Re-signs a token's payload with a header of our choosing and a key of our choosing. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
const headerOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()) as Record<string, unknown>;

describe("users, sign-in and sessions", () => {
  let s: TestServer;
  let tenantId: string;
  before(async () => {
    s = await startServer();
    tenantId = await s.createTenant();
  });
  after(() => s.close());

  test("users are stored with an argon2id hash, never the password, and listings never show it", async () => {
    const id = await s.createUser(tenantId, {
      email: "Ada@Example.com",
      password: PASSWORD,
      roles: ["DEVELOPER"],
    });
    const db = await s.hypha.storage.tenant(tenantId);
    const row = await db.get<{ password_hash: string; email: string }>("SELECT * FROM users WHERE id = ?", [
      id,
    ]);
    assert.match(row?.password_hash ?? "", /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(row?.email, "ada@example.com");
    const list = await s.request("GET", `/v1/tenants/${tenantId}/users`);
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes("argon2") && !list.text.includes(PASSWORD));
  });

  test("a commonly used password is refused with 422 PASSWORD_TOO_COMMON, on create and on change, and nothing is stored", async () => {
    const refused = await s.request("POST", `/v1/tenants/${tenantId}/users`, {
      body: { email: "common@example.com", password: "password1234", roles: ["VIEWER"] },
    });
    assert.equal(refused.status, 422);
    assert.equal(errorCode(refused), "PASSWORD_TOO_COMMON");
    assert.ok(!refused.text.includes("password1234"), "the password is not echoed");
    const list = await s.request("GET", `/v1/tenants/${tenantId}/users`);
    assert.ok(!list.text.includes("common@example.com"), "no user was created");
    const id = await s.createUser(tenantId, {
      email: "change@example.com",
      password: PASSWORD,
      roles: ["VIEWER"],
    });
    const change = await s.request("PATCH", `/v1/tenants/${tenantId}/users/${id}`, {
      body: { password: "change@example.com1" },
    });
    assert.equal(change.status, 422);
    assert.equal(errorCode(change), "PASSWORD_TOO_COMMON");
  });

  test("a weak password, a duplicate email and an unknown role are refused", async () => {
    const weak = await s.request("POST", `/v1/tenants/${tenantId}/users`, {
      body: { email: "w@example.com", password: "short", roles: ["VIEWER"] },
    });
    assert.equal(weak.status, 422);
    await s.createUser(tenantId, { email: "dupe@example.com" });
    const dupe = await s.request("POST", `/v1/tenants/${tenantId}/users`, {
      body: { email: "DUPE@example.com", roles: ["VIEWER"] },
    });
    assert.equal(dupe.status, 409);
    const role = await s.request("POST", `/v1/tenants/${tenantId}/users`, {
      body: { email: "r@example.com", roles: ["ROOT"] },
    });
    assert.equal(role.status, 422);
  });

  test("login answers an access token and sets the refresh token only as an HttpOnly, Secure, SameSite=Strict cookie", async () => {
    const u = await signedInUser(s, tenantId, ["DEVELOPER"]);
    assert.match(u.token, /^eyJ/);
    const claims = claimsOf(u.token);
    assert.equal(claims.tid, tenantId);
    assert.equal(claims.sub, u.userId);
    assert.equal((claims.exp as number) - (claims.iat as number), 900);
    assert.deepEqual(claims.roles, ["DEVELOPER"]);
    const cookie = u.res.headers.getSetCookie().find((c) => c.startsWith("hypha_refresh="));
    assert.match(cookie ?? "", /; HttpOnly/);
    assert.match(cookie ?? "", /; Secure/);
    assert.match(cookie ?? "", /; SameSite=Strict/);
    assert.ok(!u.res.text.includes(u.refresh), "the refresh token is not in the body");
    const db = await s.hypha.storage.tenant(tenantId);
    const stored = await db.all<{ token_hash: string }>("SELECT token_hash FROM sessions");
    assert.ok(stored.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash) && r.token_hash !== u.refresh));
  });

  test("a user token works on memory routes; the memory names the user as its author", async () => {
    const u = await signedInUser(s, tenantId, ["DEVELOPER"]);
    const res = await s.request("POST", "/v1/memories", {
      key: u.token,
      body: { namespace: "ops", content: "from a person" },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal((res.body as { agent: string }).agent, `user:${u.userId}`);
    const got = await s.request("GET", `/v1/memories/${(res.body as { id: string }).id}`, { key: u.token });
    assert.equal(got.status, 200);
  });

  test("wrong password, unknown email, unknown tenant and a disabled user get the same 401", async () => {
    const email = "same@example.com";
    const id = await s.createUser(tenantId, { email, password: PASSWORD, roles: ["VIEWER"] });
    const other = await s.createTenant();
    const answers = [
      await login(s, tenantId, email, "wrong password 123", "10.1.0.1"),
      await login(s, tenantId, "nobody@example.com", PASSWORD, "10.1.0.2"),
      await login(s, other, email, PASSWORD, "10.1.0.3"),
    ];
    await s.request("PATCH", `/v1/tenants/${tenantId}/users/${id}`, { body: { status: "disabled" } });
    answers.push(await login(s, tenantId, email, PASSWORD, "10.1.0.4"));
    for (const a of answers) {
      assert.equal(a.status, 401);
      assert.equal(errorCode(a), "INVALID_CREDENTIALS");
      assert.equal((a.body as { error: { message: string } }).error.message, "invalid credentials");
    }
  });

  test("3 failed logins within 10 minutes lock the account for 1 hour, even for the right password, then it opens", async () => {
    const email = "lock@example.com";
    await s.createUser(tenantId, { email, password: PASSWORD, roles: ["VIEWER"] });
    for (let i = 0; i < 3; i++)
      assert.equal((await login(s, tenantId, email, "not the password!")).status, 401);
    const locked = await login(s, tenantId, email);
    assert.equal(locked.status, 423);
    assert.equal(errorCode(locked), "LOCKED");
    assert.ok(Number(locked.headers.get("retry-after")) > 3000);
    s.clock.advance(59 * 60_000);
    assert.equal((await login(s, tenantId, email)).status, 423);
    s.clock.advance(61_000);
    assert.equal((await login(s, tenantId, email)).status, 200);
  });

  test("failures spread over more than 10 minutes do not lock; an unknown email locks exactly like a known one", async () => {
    const email = "spread@example.com";
    await s.createUser(tenantId, { email, password: PASSWORD, roles: ["VIEWER"] });
    for (let i = 0; i < 4; i++) {
      assert.equal((await login(s, tenantId, email, "not the password!")).status, 401);
      s.clock.advance(6 * 60_000);
    }
    assert.equal((await login(s, tenantId, email)).status, 200);
    for (let i = 0; i < 3; i++) await login(s, tenantId, "ghost@example.com", "not the password!");
    assert.equal((await login(s, tenantId, "ghost@example.com")).status, 423);
  });

  test("a lock survives a restart of the login throttle: it is stored with the user", async () => {
    const email = "persist@example.com";
    const id = await s.createUser(tenantId, { email, password: PASSWORD, roles: ["VIEWER"] });
    for (let i = 0; i < 3; i++) await login(s, tenantId, email, "not the password!");
    const db = await s.hypha.storage.tenant(tenantId);
    const row = await db.get<{ locked_until: number }>("SELECT locked_until FROM users WHERE id = ?", [id]);
    assert.equal(row?.locked_until, s.clock.now() + 3600_000);
    s.clock.advance(3600_001);
  });

  test("a refresh token presented as an access token is rejected", async () => {
    const u = await signedInUser(s, tenantId, ["ADMIN"]);
    for (const path of ["/v1/memories", `/v1/tenants/${tenantId}/users`]) {
      const res = await s.request("GET", path, { key: u.refresh });
      assert.equal(res.status, 401);
      assert.equal(errorCode(res), "INVALID_CREDENTIALS");
    }
  });

  test("refresh rotates the refresh token; the new one works and the old one is spent", async () => {
    const u = await signedInUser(s, tenantId, ["VIEWER"]);
    const r1 = await refresh(s, u.refresh, u.csrf);
    assert.equal(r1.status, 200, r1.text);
    const next = refreshCookie(r1);
    assert.ok(next && next !== u.refresh);
    assert.equal(
      (await s.request("GET", "/v1/memories", { key: (r1.body as { access_token: string }).access_token }))
        .status,
      200,
    );
    const r2 = await refresh(s, next ?? "", u.csrf);
    assert.equal(r2.status, 200);
  });

  test("reusing a spent refresh token revokes its whole family", async () => {
    const u = await signedInUser(s, tenantId, ["VIEWER"]);
    const r1 = await refresh(s, u.refresh, u.csrf);
    const fresh = refreshCookie(r1) ?? "";
    const reuse = await refresh(s, u.refresh, u.csrf);
    assert.equal(reuse.status, 401);
    assert.equal(errorCode(reuse), "CREDENTIALS_REVOKED");
    const after = await refresh(s, fresh, u.csrf);
    assert.equal(after.status, 401, "the token issued before the reuse is revoked too");
    const db = await s.hypha.storage.tenant(tenantId);
    const audit = await db.all("SELECT * FROM audit_events WHERE action = 'auth.refresh_reused'");
    assert.ok(audit.length >= 1);
  });

  test("race: two concurrent refreshes with one refresh token, at most one succeeds and the family is revoked", async () => {
    for (let round = 0; round < 5; round++) {
      const u = await signedInUser(s, tenantId, ["VIEWER"]);
      const [a, b] = await Promise.all([refresh(s, u.refresh, u.csrf), refresh(s, u.refresh, u.csrf)]);
      const ok = [a, b].filter((r) => r.status === 200);
      assert.ok(ok.length <= 1, `round ${round}: ${a.status} ${b.status}`);
      assert.ok([a, b].some((r) => errorCode(r) === "CREDENTIALS_REVOKED"));
      for (const r of ok) {
        const winner = refreshCookie(r) ?? "";
        assert.equal(
          (await refresh(s, winner, u.csrf)).status,
          401,
          "the winner's new token is revoked with the family",
        );
      }
    }
  });

  test("refresh needs the CSRF token of its session and refuses a cross-site Origin", async () => {
    const u = await signedInUser(s, tenantId, ["VIEWER"]);
    const missing = await refresh(s, u.refresh, null);
    assert.equal(missing.status, 403);
    const wrong = await refresh(s, u.refresh, "not-the-token");
    assert.equal(wrong.status, 403);
    const other = await signedInUser(s, tenantId, ["VIEWER"]);
    assert.equal(
      (await refresh(s, u.refresh, other.csrf)).status,
      403,
      "another session's CSRF token does not fit",
    );
    const cross = await refresh(s, u.refresh, u.csrf, { origin: "https://evil.example" });
    assert.equal(cross.status, 403);
    const site = await refresh(s, u.refresh, u.csrf, { "sec-fetch-site": "cross-site" });
    assert.equal(site.status, 403);
    // None of the refused attempts spent the token.
    const ok = await refresh(s, u.refresh, u.csrf, { origin: new URL(s.url).origin });
    assert.equal(ok.status, 200, ok.text);
  });

  test("logout revokes the session family and clears the cookies", async () => {
    const u = await signedInUser(s, tenantId, ["VIEWER"]);
    const noCsrf = await s.request("POST", "/v1/auth/logout", {
      key: null,
      headers: { cookie: `hypha_refresh=${u.refresh}` },
    });
    assert.equal(noCsrf.status, 403);
    const out = await s.request("POST", "/v1/auth/logout", {
      key: null,
      headers: { cookie: `hypha_refresh=${u.refresh}`, "x-csrf-token": u.csrf },
    });
    assert.equal(out.status, 204);
    assert.ok(out.headers.getSetCookie().some((c) => /^hypha_refresh=;.*Max-Age=0/.test(c)));
    assert.equal((await refresh(s, u.refresh, u.csrf)).status, 401);
  });

  test("rotating the tenant's JWT secret invalidates all its access tokens at once, and only its own", async () => {
    const a = await signedInUser(s, tenantId, ["ADMIN"]);
    const otherTenant = await s.createTenant();
    const b = await signedInUser(s, otherTenant, ["VIEWER"]);
    const rot = await s.request("POST", `/v1/tenants/${tenantId}/jwt/rotate`, { key: a.token });
    assert.equal(rot.status, 200);
    const res = await s.request("GET", "/v1/memories", { key: a.token });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), "INVALID_CREDENTIALS");
    assert.equal((await s.request("GET", "/v1/memories", { key: b.token })).status, 200);
    // The session survives: a refresh mints a token with the new secret.
    const r = await refresh(s, a.refresh, a.csrf);
    assert.equal(r.status, 200);
    const token = (r.body as { access_token: string }).access_token;
    assert.equal(headerOf(token).kid, (rot.body as { version: string }).version);
    assert.equal((await s.request("GET", "/v1/memories", { key: token })).status, 200);
  });

  test("a token of tenant A is refused on tenant B's routes, and relabelling its tid breaks the signature", async () => {
    const a = await signedInUser(s, tenantId, ["ADMIN"]);
    const b = await s.createTenant();
    assert.equal((await s.request("GET", `/v1/tenants/${b}/users`, { key: a.token })).status, 404);
    const write = await s.request("POST", `/v1/tenants/${b}/users`, {
      key: a.token,
      body: { email: "x@example.com", roles: ["VIEWER"] },
    });
    assert.equal(write.status, 403);
    assert.equal(errorCode(write), "CROSS_TENANT_FORBIDDEN");
    const [h, , sig] = a.token.split(".");
    const relabelled = `${h}.${b64({ ...claimsOf(a.token), tid: b })}.${sig}`;
    assert.equal((await s.request("GET", "/v1/memories", { key: relabelled })).status, 401);
  });

  test("token attacks at the route: alg none, HS512, embedded jwk, unknown kid, wrong issuer, expiry", async () => {
    const u = await signedInUser(s, tenantId, ["VIEWER"]);
    const claims = claimsOf(u.token);
    const header = headerOf(u.token);
    const db = await s.hypha.storage.tenant(tenantId);
    const stored = await db.get<{ version: string; sealed: string }>(
      "SELECT version, sealed FROM jwt_secrets",
    );
    assert.ok(stored);
    // The secret is sealed at rest; the attacker here is given it, opened with the tenant cipher.
    const cipher = await s.hypha.services.tenantKeys.cipher(tenantId);
    const opened = cipher.decrypt(`jwt:${stored.version}`, "secret", stored.sealed);
    assert.ok(opened.ok);
    const key = opened.plaintext;
    // Sanity: our forger with the real secret and the real header is accepted.
    assert.equal((await s.request("GET", "/v1/memories", { key: forge(header, claims, key) })).status, 200);
    const attacks = [
      `${b64({ alg: "none", typ: "at+jwt", kid: header.kid })}.${b64(claims)}.`,
      `${b64({ alg: "none", typ: "at+jwt", kid: header.kid })}.${b64(claims)}.AAAA`,
      forge({ ...header, alg: "HS512" }, claims, key),
      forge({ ...header, jwk: { kty: "oct", k: "AAAA" } }, claims, key),
      forge({ ...header, jku: "https://evil.example/jwks" }, claims, key),
      forge({ ...header, kid: "v-unknown" }, claims, key),
      forge(header, { ...claims, iss: "someone-else" }, key),
      forge(header, { ...claims, aud: "other" }, key),
      forge(header, { ...claims, roles: ["ADMIN"] }, "a-guessed-secret-that-is-long-enough!!"),
      forge({ ...header, typ: "JWT" }, claims, key),
    ];
    for (const token of attacks) {
      const res = await s.request("GET", "/v1/memories", { key: token });
      assert.equal(res.status, 401, token);
    }
    s.clock.advance(15 * 60_000 + 31_000);
    const expired = await s.request("GET", "/v1/memories", { key: u.token });
    assert.equal(expired.status, 401);
    assert.equal(errorCode(expired), "CREDENTIALS_EXPIRED");
  });

  test("disabling a user rejects their token at once; a demotion applies at once, a promotion at the next refresh", async () => {
    const u = await signedInUser(s, tenantId, ["VIEWER"]);
    const memory = { namespace: "n", content: "x" };
    const patch = (roles: string[]) =>
      s.request("PATCH", `/v1/tenants/${tenantId}/users/${u.userId}`, { body: { roles } });
    assert.equal((await s.request("POST", "/v1/memories", { key: u.token, body: memory })).status, 403);
    await patch(["DEVELOPER"]);
    assert.equal((await s.request("POST", "/v1/memories", { key: u.token, body: memory })).status, 403);
    const r = await refresh(s, u.refresh, u.csrf);
    const promoted = (r.body as { access_token: string }).access_token;
    assert.equal((await s.request("POST", "/v1/memories", { key: promoted, body: memory })).status, 201);
    await patch(["VIEWER"]);
    assert.equal((await s.request("POST", "/v1/memories", { key: promoted, body: memory })).status, 403);
    assert.equal((await s.request("GET", "/v1/memories", { key: promoted })).status, 200);
    await s.request("PATCH", `/v1/tenants/${tenantId}/users/${u.userId}`, { body: { status: "disabled" } });
    const res = await s.request("GET", "/v1/memories", { key: promoted });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), "CREDENTIALS_REVOKED");
    assert.equal(
      (await refresh(s, refreshCookie(r) ?? "", u.csrf)).status,
      401,
      "disabling ends the sessions",
    );
  });

  test("signing a person out everywhere refuses their access and refresh tokens at once; a new sign-in works; audited", async () => {
    const u = await signedInUser(s, tenantId, ["DEVELOPER"]);
    const { email } = (await s.request("GET", `/v1/tenants/${tenantId}/users/${u.userId}`)).body as {
      email: string;
    };
    const second = await login(s, tenantId, email);
    assert.equal((await s.request("GET", "/v1/memories", { key: u.token })).status, 200);
    s.clock.advance(1000);
    const ended = await s.request("DELETE", `/v1/tenants/${tenantId}/users/${u.userId}/sessions`);
    assert.equal(ended.status, 200, ended.text);
    assert.deepEqual(ended.body, { ended: 2 });
    for (const token of [u.token, (second.body as { access_token: string }).access_token]) {
      const res = await s.request("GET", "/v1/memories", { key: token });
      assert.equal(res.status, 401, "an access token issued before is refused before it expires");
      assert.equal(errorCode(res), "CREDENTIALS_REVOKED");
    }
    assert.equal((await refresh(s, u.refresh, u.csrf)).status, 401, "the refresh token is revoked");
    // Signing in again, even within the same second, works.
    const again = await login(s, tenantId, email);
    assert.equal(again.status, 200, again.text);
    const token = (again.body as { access_token: string }).access_token;
    assert.equal((await s.request("GET", "/v1/memories", { key: token })).status, 200);
    const db = await s.hypha.storage.tenant(tenantId);
    const audited = await db.all<{ details: string }>(
      "SELECT details FROM audit_events WHERE action = 'user.sessions_ended' AND target_ids LIKE ?",
      [`%${u.userId}%`],
    );
    assert.deepEqual(
      audited.map((a) => JSON.parse(a.details)),
      [{ sessions: 2 }],
    );
    // A person of another tenant reads as absent.
    const other = await s.createTenant();
    const stranger = await s.createUser(other, { roles: ["VIEWER"] });
    assert.equal(
      (await s.request("DELETE", `/v1/tenants/${tenantId}/users/${stranger}/sessions`)).status,
      404,
    );
  });

  test("a new password set by an ADMIN refuses the person's earlier access tokens at once, not when they expire", async () => {
    const u = await signedInUser(s, tenantId, ["VIEWER"]);
    s.clock.advance(1000);
    const set = await s.request("PATCH", `/v1/tenants/${tenantId}/users/${u.userId}`, {
      body: { password: "a fresh and long passphrase 42" },
    });
    assert.equal(set.status, 200, set.text);
    const res = await s.request("GET", "/v1/memories", { key: u.token });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), "CREDENTIALS_REVOKED");
  });

  test("an admin cannot disable themself or change their own roles", async () => {
    const u = await signedInUser(s, tenantId, ["ADMIN"]);
    const res = await s.request("PATCH", `/v1/tenants/${tenantId}/users/${u.userId}`, {
      key: u.token,
      body: { status: "disabled" },
    });
    assert.equal(res.status, 403);
  });
});

describe("login protection", () => {
  test("each client address is throttled; X-Forwarded-For is ignored unless the peer is a trusted proxy", async () => {
    const s = await startServer({ loginMaxPerAddress: 5 });
    try {
      const t = await s.createTenant();
      const statuses: number[] = [];
      let last: unknown = null;
      for (let i = 0; i < 6; i++) {
        // A different claimed address each time: without a trusted proxy it changes nothing.
        const res = await login(s, t, `n${i}@example.com`, "not the password!", `203.0.113.${i}`);
        statuses.push(res.status);
        last = res.body;
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
      assert.deepEqual((last as { error: { limit: unknown } }).error.limit, {
        name: "sign_in_per_address",
        limit: 5,
        window_seconds: 600,
      });
    } finally {
      await s.close();
    }
    const p = await startServer({ loginMaxPerAddress: 5, trustedProxies: ["127.0.0.1"] });
    try {
      const t = await p.createTenant();
      for (let i = 0; i < 8; i++) {
        const res = await login(p, t, `n${i}@example.com`, "not the password!", `203.0.113.${i}`);
        assert.equal(res.status, 401, "behind a trusted proxy the forwarded address is the client");
      }
      const db = await p.hypha.storage.tenant(t);
      const ips = await db.all<{ client_ip: string }>(
        "SELECT client_ip FROM audit_events WHERE action = 'auth.failed'",
      );
      assert.ok(ips.some((r) => r.client_ip === "203.0.113.3"));
    } finally {
      await p.close();
    }
  });

  test("a Host header outside the allowlist is refused before anything else; an empty list serves any", async () => {
    const s = await startServer({ allowedHosts: ["api.example.com", "127.0.0.1"] });
    try {
      const ok = await s.request("GET", "/healthz", { key: null });
      assert.equal(ok.status, 200, "127.0.0.1:<port> matches 127.0.0.1");
      const { request } = await import("node:http");
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          `${s.url}/v1/tenants`,
          { headers: { host: "evil.example", authorization: `Bearer ${s.adminKey}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.equal(status, 400);
    } finally {
      await s.close();
    }
  });

  test("login, refresh and logout bodies are contracts: unknown fields, bad JSON and other media types are refused", async () => {
    const s = await startServer();
    try {
      const extra = await s.request("POST", "/v1/auth/login", {
        key: null,
        body: { tenant_id: await s.createTenant(), email: "a@example.com", password: "x", admin: true },
      });
      assert.equal(extra.status, 422);
      const bad = await s.request("POST", "/v1/auth/login", { key: null, rawBody: "{" });
      assert.equal(bad.status, 400);
      const text = await s.request("POST", "/v1/auth/login", {
        key: null,
        rawBody: "x",
        headers: { "content-type": "text/plain" },
      });
      assert.equal(text.status, 415);
      const none = await s.request("POST", "/v1/auth/refresh", { key: null });
      assert.equal(none.status, 401);
    } finally {
      await s.close();
    }
  });
});
