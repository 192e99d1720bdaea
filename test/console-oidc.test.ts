import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { configureConsoleOidc, mergeCookies } from "./console-helpers.ts";
import { type OidcIssuer, startOidcIssuer } from "./fixtures/oidc-issuer.ts";
import { startServer, type TestServer } from "./harness.ts";

/**
 * The console's OIDC sign-in driven over HTTP as a browser drives it (the provider is a real local
 * issuer): each protection is broken alone, the others kept, so each one is what refuses.
 */
describe("console OIDC sign-in over HTTP: state, its browser binding and the nonce", () => {
  let s: TestServer;
  let idp: OidcIssuer;
  let tenantId: string;
  const person = { sub: "sso-1", email: "sso@example.com", email_verified: true, groups: ["ops"] };

  /** A browser starts a sign-in and the provider sends it back: the callback URL and its cookie jar. */
  async function toCallback(): Promise<{ callback: string; jar: string }> {
    const start = await fetch(`${s.url}/console/login/oidc?tenant_id=${tenantId}`, { redirect: "manual" });
    assert.equal(start.status, 200);
    const jar = mergeCookies("", start.headers.getSetCookie());
    assert.match(jar, /hypha_console_oidc=[A-Za-z0-9_-]{43}/);
    const page = await start.text();
    const authorize = /content="0;url=([^"]+)"/.exec(page)?.[1]?.replaceAll("&amp;", "&") ?? "";
    assert.ok(authorize.startsWith(idp.issuer), page);
    const back = await fetch(authorize, { redirect: "manual" });
    assert.equal(back.status, 302);
    const callback = back.headers.get("location") ?? "";
    assert.ok(callback.startsWith(`${s.url}/console/login/oidc/callback?`), callback);
    return { callback, jar };
  }
  const finish = async (callback: string, jar: string | null) => {
    const res = await fetch(callback, { redirect: "manual", ...(jar ? { headers: { cookie: jar } } : {}) });
    const setCookies = res.headers.getSetCookie();
    return {
      status: res.status,
      location: res.headers.get("location"),
      text: await res.text(),
      signedIn: setCookies.some((c) => /(^|_)hypha_console=[^;]/.test(c)),
    };
  };
  const provisioned = async (email: string) => {
    const users = await s.request("GET", `/v1/tenants/${tenantId}/users`);
    return (users.body as { items: { email: string }[] }).items.some((u) => u.email === email);
  };

  /** Drives a whole sign-in as far as it goes: whether a session came of it. */
  async function attempt(): Promise<{ started: number; signedIn: boolean }> {
    const start = await fetch(`${s.url}/console/login/oidc?tenant_id=${tenantId}`, { redirect: "manual" });
    const page = await start.text();
    if (start.status !== 200) return { started: start.status, signedIn: false };
    const jar = mergeCookies("", start.headers.getSetCookie());
    const authorize = /content="0;url=([^"]+)"/.exec(page)?.[1]?.replaceAll("&amp;", "&") ?? "";
    const back = await fetch(authorize, { redirect: "manual" });
    const res = await finish(back.headers.get("location") ?? "", jar);
    return { started: start.status, signedIn: res.signedIn };
  }

  before(async () => {
    s = await startServer({ consoleInsecureHttp: true, oidcAllowInsecureLocal: true });
    idp = await startOidcIssuer();
    tenantId = await s.createTenant();
    await configureConsoleOidc(s, tenantId, idp.issuer);
  });
  after(async () => {
    await s?.close();
    await idp?.close();
  });

  test("OIDC: a callback replayed WITH the starting browser's cookie is refused: the state is spent, the code is not redeemed again", async () => {
    idp.signInAs(person, () => Math.floor(s.clock.now() / 1000));
    const { callback, jar } = await toCallback();
    const tokensBefore = idp.tokenRequests().length;
    const first = await finish(callback, jar);
    assert.equal(first.status, 200, first.text);
    assert.ok(first.signedIn);
    assert.equal(idp.tokenRequests().length, tokensBefore + 1);
    // The same callback, the same browser, the same binding cookie: only the state is spent.
    const replay = await finish(callback, jar);
    assert.ok(!replay.signedIn, replay.text);
    assert.equal(replay.status, 303);
    assert.match(replay.location ?? "", /^\/console\/login\?/);
    assert.equal(
      idp.tokenRequests().length,
      tokensBefore + 1,
      "the replayed code never reached the provider",
    );
  });

  test("OIDC: a callback without the starting browser's cookie, or with another browser's, is refused before the code is redeemed", async () => {
    idp.signInAs(person, () => Math.floor(s.clock.now() / 1000));
    const other = await toCallback();
    const tokensBefore = idp.tokenRequests().length;
    for (const jar of [null, other.jar]) {
      const fresh = await toCallback();
      const res = await finish(fresh.callback, jar);
      assert.equal(res.status, 403, res.text);
      assert.ok(!res.signedIn);
    }
    assert.equal(idp.tokenRequests().length, tokensBefore);
  });

  test("OIDC: an ID token whose nonce is not this sign-in's is refused, and provisions nobody", async () => {
    const stranger = { ...person, sub: "sso-2", email: "nonce@example.com" };
    idp.signInAs({ ...stranger, nonce: "not-this-sign-in" }, () => Math.floor(s.clock.now() / 1000));
    const { callback, jar } = await toCallback();
    const tokensBefore = idp.tokenRequests().length;
    const res = await finish(callback, jar);
    assert.equal(idp.tokenRequests().length, tokensBefore + 1, "the code was redeemed: the nonce refused it");
    assert.ok(!res.signedIn, res.text);
    assert.equal(res.status, 303);
    assert.match(res.location ?? "", /^\/console\/login\?/);
    assert.equal(await provisioned(stranger.email), false);
    // The same person with the provider's right nonce signs in: only the nonce was wrong.
    idp.signInAs(stranger, () => Math.floor(s.clock.now() / 1000));
    const again = await toCallback();
    assert.ok((await finish(again.callback, again.jar)).signedIn);
    assert.equal(await provisioned(stranger.email), true);
  });

  test("OIDC: oidcAllowInsecureLocal opens the issuer's host only: a token_endpoint on another loopback host is never sent the code", async () => {
    const seen: string[] = [];
    const elsewhere: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((ok) => elsewhere.listen(0, "127.0.0.2", ok));
    const { port } = elsewhere.address() as AddressInfo;
    try {
      idp.signInAs(person, () => Math.floor(s.clock.now() / 1000));
      for (const token of [
        `http://127.0.0.2:${port}/token`,
        `http://[::ffff:127.0.0.2]:${port}/token`,
        `http://localhost:${port}/token`,
      ]) {
        idp.setDiscovery({ token_endpoint: token });
        const r = await attempt();
        assert.ok(!r.signedIn, token);
      }
      assert.deepEqual(seen, [], "nothing reached the other host");
    } finally {
      idp.setDiscovery({});
      await new Promise<void>((ok) => elsewhere.close(() => ok()));
    }
    // The issuer's own endpoints still work: only the foreign one was refused.
    assert.ok((await attempt()).signedIn);
  });

  test("OIDC: the token endpoint must be on the issuer's origin (as the identity module requires of jwks_uri): the provider is not asked to redeem anything", async () => {
    idp.signInAs(person, () => Math.floor(s.clock.now() / 1000));
    const origin = new URL(idp.issuer);
    const otherPort = `http://127.0.0.1:${Number(origin.port) === 65535 ? 1 : Number(origin.port) + 1}/token`;
    for (const token of [otherPort, "https://idp.example/token", "ftp://127.0.0.1/token"]) {
      idp.setDiscovery({ token_endpoint: token });
      const before_ = idp.tokenRequests().length;
      const r = await attempt();
      assert.ok(!r.signedIn, token);
      assert.notEqual(r.started, 200, `${token}: refused when the sign-in starts`);
      assert.equal(idp.tokenRequests().length, before_);
    }
    idp.setDiscovery({});
  });

  test("OIDC: a discovery document naming another issuer is refused when the sign-in starts", async () => {
    idp.signInAs(person, () => Math.floor(s.clock.now() / 1000));
    idp.setDiscovery({ issuer: "https://someone-else.example" });
    try {
      const r = await attempt();
      assert.notEqual(r.started, 200);
      assert.ok(!r.signedIn);
    } finally {
      idp.setDiscovery({});
    }
  });

  test("OIDC: a confidential client at a token endpoint elsewhere (as Google's): the configured token_endpoint gets the code with the client secret as HTTP Basic; the secret is never shown and is stored sealed", async () => {
    const SECRET = "GOCSPX-test-client-secret/+=%";
    const hits: string[] = [];
    // Another origin (another port) that forwards to the provider's own /token, as Google's
    // oauth2.googleapis.com answers for accounts.google.com.
    const elsewhere: Server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c: Buffer) => {
        raw += c.toString("utf8");
      });
      req.on("end", () => {
        hits.push(`${req.method} ${req.url}`);
        fetch(`${idp.issuer}/token`, {
          method: "POST",
          headers: {
            "content-type": req.headers["content-type"] ?? "",
            ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          },
          body: raw,
        })
          .then(async (r) => {
            res.writeHead(r.status, { "content-type": "application/json" });
            res.end(await r.text());
          })
          .catch(() => {
            res.writeHead(502);
            res.end();
          });
      });
    });
    await new Promise<void>((ok) => elsewhere.listen(0, "127.0.0.1", ok));
    const { port } = elsewhere.address() as AddressInfo;
    const configure = (extra: Record<string, unknown>) =>
      s.request("PUT", `/v1/tenants/${tenantId}/oidc`, {
        body: {
          issuer: idp.issuer,
          client_id: "hypha-console",
          token_endpoint: `http://127.0.0.1:${port}/token`,
          role_mapping: { claim: "groups", map: { ops: "ADMIN" } },
          auto_provision: true,
          ...extra,
        },
      });
    idp.requireClientSecret(SECRET);
    try {
      idp.signInAs(person, () => Math.floor(s.clock.now() / 1000));
      const set = await configure({ client_secret: SECRET });
      assert.equal(set.status, 200, set.text);
      assert.equal((set.body as { client_secret_configured: boolean }).client_secret_configured, true);
      const shown = await s.request("GET", `/v1/tenants/${tenantId}/oidc`);
      assert.equal((shown.body as { client_secret_configured: boolean }).client_secret_configured, true);
      for (const text of [set.text, shown.text]) {
        assert.ok(!text.includes("GOCSPX") && !text.includes('"client_secret"'), text);
      }
      const db = await s.hypha.storage.tenant(tenantId);
      const rows = [
        ...(await db.all<{ v: string }>("SELECT config AS v FROM oidc_config")),
        ...(await db.all<{ v: string }>("SELECT COALESCE(details, '') AS v FROM audit_events")),
      ];
      assert.ok(
        rows.length > 1 && rows.every((r) => !r.v.includes("GOCSPX")),
        "sealed at rest, never audited",
      );

      const before_ = idp.tokenRequests().length;
      assert.ok((await attempt()).signedIn, "signed in through the configured endpoint");
      assert.deepEqual(hits, ["POST /token"]);
      assert.equal(idp.tokenRequests().length, before_ + 1);
      const [id, secret] = (idp.tokenRequests().at(-1)?.basic ?? "")
        .split(":")
        .map((p) => new URLSearchParams(`v=${p}`).get("v"));
      assert.deepEqual([id, secret], ["hypha-console", SECRET], "form-encoded, then Basic");

      // Omitted on a later PUT for the same client: kept. null: removed, and the provider refuses.
      assert.equal((await configure({})).status, 200);
      assert.ok((await attempt()).signedIn, "the stored secret was kept");
      const removed = await configure({ client_secret: null });
      assert.equal((removed.body as { client_secret_configured: boolean }).client_secret_configured, false);
      assert.ok(!(await attempt()).signedIn, "without the secret the provider redeems nothing");
      assert.equal(idp.tokenRequests().at(-1)?.basic, null);
      // A configured endpoint in clear text off loopback is refused before anything is sent.
      assert.equal((await configure({ token_endpoint: "http://tokens.example.com/token" })).status, 200);
      const plain = idp.tokenRequests().length;
      assert.notEqual((await attempt()).started, 200);
      assert.equal(idp.tokenRequests().length, plain);
    } finally {
      idp.requireClientSecret(null);
      await configureConsoleOidc(s, tenantId, idp.issuer);
      await new Promise<void>((ok) => elsewhere.close(() => ok()));
    }
  });
});

describe("console OIDC sign-in over https: the binding cookie cannot be planted by a sibling host", () => {
  let s: TestServer;
  let idp: OidcIssuer;
  let tenantId: string;

  before(async () => {
    s = await startServer({ oidcAllowInsecureLocal: true });
    idp = await startOidcIssuer();
    tenantId = await s.createTenant();
    await configureConsoleOidc(s, tenantId, idp.issuer);
  });
  after(async () => {
    await s?.close();
    await idp?.close();
  });

  test("OIDC: served over https, the binding cookie is __Host- prefixed (Secure, Path=/, no Domain), and the callback reads it", async () => {
    idp.signInAs({ sub: "sso-h", email: "host@example.com", email_verified: true, groups: ["ops"] }, () =>
      Math.floor(s.clock.now() / 1000),
    );
    const start = await fetch(`${s.url}/console/login/oidc?tenant_id=${tenantId}`, { redirect: "manual" });
    const page = await start.text();
    assert.equal(start.status, 200, page);
    const line = start.headers.getSetCookie().find((c) => c.includes("hypha_console_oidc=")) ?? "";
    assert.match(line, /^__Host-hypha_console_oidc=[A-Za-z0-9_-]{43};/);
    assert.match(line, /; Path=\/;/);
    assert.match(line, /; Secure;/);
    assert.match(line, /SameSite=Lax/);
    assert.doesNotMatch(line, /domain=/i);
    const jar = mergeCookies("", start.headers.getSetCookie());
    const authorize = /content="0;url=([^"]+)"/.exec(page)?.[1]?.replaceAll("&amp;", "&") ?? "";
    const back = await fetch(authorize, { redirect: "manual" });
    // The test talks plain http to the server the browser would reach over https.
    const callback = (back.headers.get("location") ?? "").replace(/^https:/, "http:");
    // A cookie of the old name (what a sibling host could set with a Domain) binds nothing.
    const planted = jar.replace("__Host-hypha_console_oidc", "__Secure-hypha_console_oidc");
    const refused = await fetch(callback, { redirect: "manual", headers: { cookie: planted } });
    assert.equal(refused.status, 403, await refused.text());
    const again = await fetch(`${s.url}/console/login/oidc?tenant_id=${tenantId}`, { redirect: "manual" });
    const page2 = await again.text();
    const jar2 = mergeCookies("", again.headers.getSetCookie());
    const authorize2 = /content="0;url=([^"]+)"/.exec(page2)?.[1]?.replaceAll("&amp;", "&") ?? "";
    const back2 = await fetch(authorize2, { redirect: "manual" });
    const callback2 = (back2.headers.get("location") ?? "").replace(/^https:/, "http:");
    const done = await fetch(callback2, { redirect: "manual", headers: { cookie: jar2 } });
    assert.equal(done.status, 200, await done.text());
    assert.ok(
      done.headers.getSetCookie().some((c) => c.startsWith("__Host-hypha_console=") && !/max-age=0/i.test(c)),
    );
    const cleared = done.headers.getSetCookie().find((c) => c.startsWith("__Host-hypha_console_oidc=")) ?? "";
    assert.match(cleared, /Max-Age=0/);
    assert.match(cleared, /; Path=\/;/);
  });
});

describe("console OIDC sign-in: one client address cannot fill the sign-ins in progress", () => {
  let s: TestServer;
  let idp: OidcIssuer;
  let tenantId: string;

  before(async () => {
    s = await startServer({
      consoleInsecureHttp: true,
      oidcAllowInsecureLocal: true,
      trustedProxies: ["127.0.0.1/32"],
      loginMaxPerAddress: 4,
    });
    idp = await startOidcIssuer();
    tenantId = await s.createTenant();
    await configureConsoleOidc(s, tenantId, idp.issuer);
  });
  after(async () => {
    await s?.close();
    await idp?.close();
  });

  const start = (ip: string) =>
    fetch(`${s.url}/console/login/oidc?tenant_id=${tenantId}`, {
      redirect: "manual",
      headers: { "x-forwarded-for": ip },
    }).then(async (r) => ({ status: r.status, text: await r.text() }));

  test("OIDC: past its allowance (HYPHA_LOGIN_MAX_PER_ADDRESS) an address is refused with 429; other addresses still start, and the place frees when the flows expire", async () => {
    for (let i = 0; i < 4; i++) assert.equal((await start("203.0.113.7")).status, 200);
    const over = await start("203.0.113.7");
    assert.equal(over.status, 429, over.text);
    assert.equal((await start("198.51.100.1")).status, 200, "another address is not locked out");
    s.clock.advance(10 * 60_000 + 1000);
    assert.equal((await start("203.0.113.7")).status, 200, "expired flows free their place");
  });
});
