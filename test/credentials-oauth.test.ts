import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type Seen, startReceiver } from "./credentials-helpers.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";

/**
 * A local OAuth 2.0 provider (the edge): authorization codes bound to a PKCE challenge, a token
 * endpoint for both grants, a revocation endpoint, and one API route that wants the current token.
 */
async function startProvider() {
  const codes = new Map<string, { challenge: string; redirect: string }>();
  const live = new Set<string>();
  const refresh = new Set<string>();
  const revoked: string[] = [];
  const grants: Record<string, string>[] = [];
  let expiresIn = 3600;
  const issue = () => {
    const access = `at_${randomBytes(18).toString("base64url")}`;
    const rt = `rt_${randomBytes(18).toString("base64url")}`;
    live.add(access);
    refresh.add(rt);
    return { access_token: access, refresh_token: rt, token_type: "bearer", expires_in: expiresIn };
  };
  const rx = await startReceiver((seen: Seen, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const path = new URL(seen.url, "http://x").pathname;
    if (path === "/token") {
      const form = Object.fromEntries(new URLSearchParams(seen.body));
      grants.push(form);
      if (form.client_id !== "hypha-client" || form.client_secret !== "client-secret-value-123") {
        return json(401, { error: "invalid_client" });
      }
      if (form.grant_type === "authorization_code") {
        const c = codes.get(form.code ?? "");
        codes.delete(form.code ?? "");
        const challenge = createHash("sha256")
          .update(form.code_verifier ?? "")
          .digest("base64url");
        if (!c || c.challenge !== challenge || c.redirect !== form.redirect_uri) {
          return json(400, { error: "invalid_grant" });
        }
        return json(200, issue());
      }
      if (form.grant_type === "refresh_token" && refresh.has(form.refresh_token ?? "")) {
        refresh.delete(form.refresh_token ?? "");
        return json(200, issue());
      }
      return json(400, { error: "invalid_grant" });
    }
    if (path === "/revoke") {
      revoked.push(new URLSearchParams(seen.body).get("token") ?? "");
      return json(200, {});
    }
    if (path === "/api/me") {
      const token = String(seen.headers.authorization ?? "").replace(/^Bearer /, "");
      if (!live.has(token)) return json(401, { error: "invalid_token" });
      // A careless API that echoes the caller's token.
      return json(200, { login: "octo", token });
    }
    json(404, {});
  });
  return {
    ...rx,
    grants,
    revoked,
    /** What the provider does when the person approves: a code bound to the request's challenge. */
    approve(authorizeUrl: string): string {
      const u = new URL(authorizeUrl);
      assert.equal(u.searchParams.get("code_challenge_method"), "S256");
      assert.equal(u.searchParams.get("response_type"), "code");
      const code = randomBytes(12).toString("hex");
      codes.set(code, {
        challenge: u.searchParams.get("code_challenge") ?? "",
        redirect: u.searchParams.get("redirect_uri") ?? "",
      });
      return code;
    },
    invalidateAccessTokens() {
      live.clear();
    },
    setExpiresIn(s: number) {
      expiresIn = s;
    },
  };
}

describe("OAuth 2.0 credentials: authorization code + PKCE, state, refresh, revoke", () => {
  let s: TestServer;
  let idp: Awaited<ReturnType<typeof startProvider>>;
  let tenantId: string;
  let otherTenantId: string;
  let person: string;
  let otherPerson: string;
  let agentKey: string;

  const login = async (t: string, roles: string[]) => {
    const email = `p-${Math.random().toString(36).slice(2, 10)}@example.com`;
    const password = "correct horse battery staple";
    await s.createUser(t, { email, password, roles });
    const res = await s.request("POST", "/v1/auth/login", {
      key: null,
      body: { tenant_id: t, email, password },
    });
    return (res.body as { access_token: string }).access_token;
  };
  const oauthCredential = (t: string, name: string) =>
    s.request("POST", `/v1/tenants/${t}/credentials`, {
      body: {
        name,
        service: "local-idp",
        allowed_hosts: ["http://127.0.0.1:*"],
        injection: { type: "bearer" },
        oauth: {
          authorize_url: `${idp.url}/authorize`,
          token_url: `${idp.url}/token`,
          revoke_url: `${idp.url}/revoke`,
          client_id: "hypha-client",
          client_secret: "client-secret-value-123",
          scopes: ["read:user"],
          redirect_uri: "https://hypha.example.com/oauth/done",
        },
      },
    });
  const start = async (t: string, name: string, key: string) => {
    const res = await s.request("POST", `/v1/tenants/${t}/credentials/${name}/oauth/start`, { key });
    assert.equal(res.status, 200, res.text);
    const url = (res.body as { authorize_url: string }).authorize_url;
    return { url, state: new URL(url).searchParams.get("state") ?? "" };
  };
  const callback = (t: string, name: string, key: string, body: { code: string; state: string }) =>
    s.request("POST", `/v1/tenants/${t}/credentials/${name}/oauth/callback`, { key, body });
  const api = () =>
    s.request("POST", "/v1/proxy/http", {
      key: agentKey,
      body: { credential: "gh", method: "GET", url: `${idp.url}/api/me` },
    });

  before(async () => {
    s = await startServer({ egressAllow: ["127.0.0.1"] });
    idp = await startProvider();
    tenantId = await s.createTenant();
    otherTenantId = await s.createTenant();
    await s.request("PUT", `/v1/tenants/${tenantId}/policy`, { body: { anomaly: { enforce: false } } });
    person = await login(tenantId, ["DEVELOPER"]);
    otherPerson = await login(tenantId, ["DEVELOPER"]);
    agentKey = (
      await s.createKey(tenantId, { scopes: ["write"], capabilities: ["credentials.use", "memories"] })
    ).key;
    assert.equal((await oauthCredential(tenantId, "gh")).status, 201);
    assert.equal((await oauthCredential(otherTenantId, "gh")).status, 201);
  });
  after(async () => {
    await idp.close();
    await s.close();
  });

  test("before a grant the credential is not connected and cannot be used (409)", async () => {
    const res = await api();
    assert.equal(res.status, 409, res.text);
    assert.equal(errorCode(res), "CREDENTIAL_NOT_CONNECTED");
  });

  test("a grant: state and PKCE challenge go out; the callback exchanges the code with the verifier and seals the tokens", async () => {
    const { url, state } = await start(tenantId, "gh", person);
    assert.ok(url.startsWith(`${idp.url}/authorize?`));
    assert.equal(new URL(url).searchParams.get("scope"), "read:user");
    const res = await callback(tenantId, "gh", person, { code: idp.approve(url), state });
    assert.equal(res.status, 200, res.text);
    const c = res.body as { oauth: { connected: boolean; token_expires_at: string } };
    assert.equal(c.oauth.connected, true);
    assert.ok(c.oauth.token_expires_at);
    const grant = idp.grants.at(-1) ?? {};
    assert.equal(grant.grant_type, "authorization_code");
    assert.ok((grant.code_verifier ?? "").length >= 43);
    const db = await s.hypha.storage.tenant(tenantId);
    const row = JSON.stringify(await db.get("SELECT * FROM credentials WHERE name = 'gh'"));
    for (const t of [...idp.grants].map((g) => g.code ?? "")) assert.ok(!row.includes(t) || t === "");
    assert.ok(!row.includes("client-secret-value-123"));
    const ok = await api();
    assert.equal(ok.status, 200, ok.text);
    const out = ok.body as { status: number; body: string };
    assert.equal(out.status, 200);
    // The API echoed the access token: it comes back scrubbed.
    assert.match(out.body, /"token":"\[REDACTED\]"/);
    assert.ok(!row.includes("at_") && !row.includes("rt_"));
  });

  test("the state is refused when forged, replayed, expired, from another tenant or another person", async () => {
    // Forged: a signature that is not this tenant's.
    const forged = await start(tenantId, "gh", person);
    const [payload] = forged.state.split(".");
    const f1 = await callback(tenantId, "gh", person, {
      code: idp.approve(forged.url),
      state: `${payload}.${randomBytes(32).toString("base64url")}`,
    });
    assert.equal(f1.status, 400);
    assert.equal(errorCode(f1), "OAUTH_STATE_INVALID");
    // Another person of the same tenant cannot finish someone else's grant.
    const mine = await start(tenantId, "gh", person);
    const f2 = await callback(tenantId, "gh", otherPerson, {
      code: idp.approve(mine.url),
      state: mine.state,
    });
    assert.equal(f2.status, 400, f2.text);
    // Replayed: the first use spends it.
    const once = await callback(tenantId, "gh", person, { code: idp.approve(mine.url), state: mine.state });
    assert.equal(once.status, 200, once.text);
    const again = await callback(tenantId, "gh", person, { code: idp.approve(mine.url), state: mine.state });
    assert.equal(again.status, 400);
    assert.match(again.text, /already used/);
    // Another tenant's state, presented to this tenant.
    const otherAdmin = (await s.createKey(otherTenantId, { scopes: ["tenant:admin"] })).key;
    const theirs = await start(otherTenantId, "gh", otherAdmin);
    const f3 = await callback(tenantId, "gh", person, { code: idp.approve(theirs.url), state: theirs.state });
    assert.equal(f3.status, 400);
    // Expired: valid for 10 minutes.
    const late = await start(tenantId, "gh", person);
    s.clock.advance(10 * 60_000 + 1000);
    try {
      const f4 = await callback(tenantId, "gh", person, { code: idp.approve(late.url), state: late.state });
      assert.equal(f4.status, 400);
      assert.match(f4.text, /expired/);
    } finally {
      s.clock.advance(-(10 * 60_000 + 1000));
    }
    // Malformed text is refused the same way.
    const f5 = await callback(tenantId, "gh", person, { code: "c", state: "nonsense" });
    assert.equal(f5.status, 400);
  });

  test("an access token near expiry is refreshed before the call; a 401 triggers one refresh and one retry", async () => {
    idp.setExpiresIn(120);
    const grant = await start(tenantId, "gh", person);
    assert.equal(
      (await callback(tenantId, "gh", person, { code: idp.approve(grant.url), state: grant.state })).status,
      200,
    );
    const before = idp.grants.length;
    s.clock.advance(90_000); // within the 60 s refresh margin
    try {
      const res = await api();
      assert.equal(res.status, 200, res.text);
      assert.equal(idp.grants.length, before + 1);
      assert.equal(idp.grants.at(-1)?.grant_type, "refresh_token");
    } finally {
      s.clock.advance(-90_000);
    }
    idp.setExpiresIn(3600);
    idp.invalidateAccessTokens();
    const n = idp.grants.length;
    const after401 = await api();
    assert.equal(after401.status, 200, after401.text);
    assert.equal((after401.body as { status: number }).status, 200);
    assert.equal(idp.grants.length, n + 1);
    assert.equal(idp.grants.at(-1)?.grant_type, "refresh_token");
  });

  test("the refresh worker's pass renews tokens that expire soon", async () => {
    idp.setExpiresIn(200);
    const grant = await start(tenantId, "gh", person);
    assert.equal(
      (await callback(tenantId, "gh", person, { code: idp.approve(grant.url), state: grant.state })).status,
      200,
    );
    assert.ok(s.hypha.services.credentials?.oauthTenants().includes(tenantId));
    const refreshed = await s.hypha.services.credentials?.refreshDue(tenantId, 5 * 60_000);
    assert.equal(refreshed, 1);
    idp.setExpiresIn(3600);
  });

  test("an access token is refused in a memory like any credential value", async () => {
    const res = await api();
    const seen = idp.seen.at(-1);
    const token = String(seen?.headers.authorization ?? "").replace(/^Bearer /, "");
    assert.match(token, /^at_/);
    assert.equal(res.status, 200);
    const mem = await s.request("POST", "/v1/memories", {
      key: agentKey,
      body: { namespace: "n", content: `tok ${token}` },
    });
    assert.equal(mem.status, 422, mem.text);
  });

  test("delete revokes the token at the provider", async () => {
    const del = await s.request("DELETE", `/v1/tenants/${tenantId}/credentials/gh`);
    assert.equal(del.status, 200, del.text);
    assert.ok(idp.revoked.some((t) => t.startsWith("rt_")));
    const db = await s.hypha.storage.tenant(tenantId);
    const ev = await db.get<{ details: string }>(
      "SELECT details FROM audit_events WHERE action = 'credential.deleted'",
    );
    assert.match(ev?.details ?? "", /"revoked_at_provider":true/);
    const all = JSON.stringify(await db.all("SELECT * FROM audit_events"));
    assert.ok(!/at_[A-Za-z0-9_-]{20}|rt_[A-Za-z0-9_-]{20}/.test(all));
  });
});
