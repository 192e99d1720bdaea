import assert from "node:assert/strict";
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
});
