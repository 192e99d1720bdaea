import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type OidcIssuer, startOidcIssuer } from "./fixtures/oidc-issuer.ts";
import { errorCode, startServer, type TestServer } from "./harness.ts";

describe("OIDC sign-on per tenant, against a real local issuer", () => {
  let s: TestServer;
  let issuer: OidcIssuer;
  let t: string;
  const nowSec = () => Math.floor(s.clock.now() / 1000);
  const mint = (claims: Record<string, unknown>, kid?: string) =>
    issuer.mintIdToken(
      {
        sub: "idp-user-1",
        aud: "hypha-app",
        email: "ada@example.com",
        email_verified: true,
        groups: ["engineers"],
        ...claims,
      },
      { nowSec: nowSec(), ...(kid ? { kid } : {}) },
    );
  const signIn = (idToken: string, tenantId = t) =>
    s.request("POST", "/v1/auth/oidc", { key: null, body: { tenant_id: tenantId, id_token: idToken } });

  before(async () => {
    issuer = await startOidcIssuer();
    s = await startServer({ oidcAllowInsecureLocal: true });
    t = await s.createTenant();
    const put = await s.request("PUT", `/v1/tenants/${t}/oidc`, {
      body: {
        issuer: issuer.issuer,
        client_id: "hypha-app",
        role_mapping: { claim: "groups", map: { engineers: "DEVELOPER", admins: "ADMIN" } },
      },
    });
    assert.equal(put.status, 200, put.text);
  });
  after(async () => {
    await s.close();
    await issuer.close();
  });

  test("a valid ID token signs in, provisions the user by verified email and maps roles", async () => {
    const res = await signIn(await mint({}));
    assert.equal(res.status, 200, res.text);
    const body = res.body as { access_token: string; user: { id: string; email: string; roles: string[] } };
    assert.deepEqual(body.user.roles, ["DEVELOPER"]);
    assert.equal(body.user.email, "ada@example.com");
    assert.ok(res.headers.getSetCookie().some((c) => c.startsWith("hypha_refresh=")));
    assert.equal(
      (
        await s.request("POST", "/v1/memories", {
          key: body.access_token,
          body: { namespace: "a", content: "x" },
        })
      ).status,
      201,
    );
    const again = await signIn(await mint({ groups: ["admins"] }));
    assert.equal(
      (again.body as { user: { id: string; roles: string[] } }).user.id,
      body.user.id,
      "matched by subject",
    );
    assert.deepEqual(
      (again.body as { user: { roles: string[] } }).user.roles,
      ["ADMIN"],
      "roles follow the provider",
    );
  });

  test("an existing password user is linked by verified email; an unverified email is neither linked nor provisioned", async () => {
    const id = await s.createUser(t, {
      email: "grace@example.com",
      password: "correct horse battery staple",
      roles: ["VIEWER"],
    });
    const unverified = await signIn(
      await mint({ sub: "grace-sub", email: "grace@example.com", email_verified: false }),
    );
    assert.equal(unverified.status, 401);
    const linked = await signIn(await mint({ sub: "grace-sub", email: "grace@example.com" }));
    assert.equal((linked.body as { user: { id: string } }).user.id, id);
    const stranger = await signIn(await mint({ sub: "x", email: "new@example.com", email_verified: false }));
    assert.equal(stranger.status, 401);
  });

  test("a token that maps to no role is refused with 403; wrong audience, issuer or expiry with 401", async () => {
    const none = await signIn(
      await mint({ sub: "norole", email: "norole@example.com", groups: ["marketing"] }),
    );
    assert.equal(none.status, 403);
    assert.equal((await signIn(await mint({ aud: "another-app" }))).status, 401);
    assert.equal((await signIn(await mint({ iss: "https://evil.example" }))).status, 401);
    const old = await issuer.mintIdToken(
      {
        sub: "idp-user-1",
        aud: "hypha-app",
        email: "ada@example.com",
        email_verified: true,
        groups: ["engineers"],
      },
      { nowSec: nowSec() - 2 * 3600, ttlSec: 3600 },
    );
    const expired = await signIn(old);
    assert.equal(expired.status, 401);
    assert.equal(errorCode(expired), "INVALID_CREDENTIALS");
  });

  test("a token of tenant A's provider does not sign in to tenant B (no configuration, or another issuer)", async () => {
    const b = await s.createTenant();
    assert.equal((await signIn(await mint({}), b)).status, 401);
  });

  test("key rotation: a new kid causes one JWKS refetch and then verifies; an unpublished key never does", async () => {
    await signIn(await mint({}));
    const before = issuer.jwksFetches();
    const kid = await issuer.addKey();
    s.clock.advance(61_000);
    const res = await signIn(await mint({}, kid));
    assert.equal(res.status, 200, res.text);
    assert.equal(issuer.jwksFetches(), before + 1);
    const rogue = await issuer.addUnpublishedKey();
    s.clock.advance(61_000);
    assert.equal((await signIn(await mint({}, rogue))).status, 401);
    const storm = issuer.jwksFetches();
    for (let i = 0; i < 5; i++) await signIn(await mint({}, rogue));
    assert.equal(issuer.jwksFetches(), storm, "unknown kids within the cooldown cause no fetch");
  });

  test("a discovery document pointing jwks_uri off the issuer's origin is refused: the foreign JWKS is never fetched and its keys sign nothing in", async () => {
    const rogue = await startOidcIssuer();
    try {
      const tenant = await s.createTenant();
      const put = await s.request("PUT", `/v1/tenants/${tenant}/oidc`, {
        body: {
          issuer: issuer.issuer,
          client_id: "hypha-app",
          role_mapping: { claim: "groups", map: { engineers: "DEVELOPER" } },
        },
      });
      assert.equal(put.status, 200, put.text);
      issuer.setDiscovery({ jwks_uri: rogue.jwksUri });
      const forged = await rogue.mintIdToken(
        {
          iss: issuer.issuer,
          sub: "intruder",
          aud: "hypha-app",
          email: "eve@example.com",
          email_verified: true,
          groups: ["engineers"],
        },
        { nowSec: nowSec() },
      );
      const res = await signIn(forged, tenant);
      assert.equal(res.status, 401, res.text);
      assert.equal(rogue.jwksFetches(), 0, "the off-origin JWKS was never requested");
    } finally {
      issuer.setDiscovery({});
      await rogue.close();
    }
  });

  test("an explicitly configured jwks_uri is used, even on another origin", async () => {
    const keys = await startOidcIssuer();
    try {
      const tenant = await s.createTenant();
      const put = await s.request("PUT", `/v1/tenants/${tenant}/oidc`, {
        body: {
          issuer: issuer.issuer,
          jwks_uri: keys.jwksUri,
          client_id: "hypha-app",
          role_mapping: { claim: "groups", map: { engineers: "DEVELOPER" } },
        },
      });
      assert.equal(put.status, 200, put.text);
      assert.equal((put.body as { jwks_uri?: string }).jwks_uri, keys.jwksUri);
      const token = await keys.mintIdToken(
        {
          iss: issuer.issuer,
          sub: "split-keys",
          aud: "hypha-app",
          email: "kim@example.com",
          email_verified: true,
          groups: ["engineers"],
        },
        { nowSec: nowSec() },
      );
      const res = await signIn(token, tenant);
      assert.equal(res.status, 200, res.text);
      assert.equal(keys.jwksFetches(), 1);
    } finally {
      await keys.close();
    }
  });

  test("without the operator's permission, a provider on a loopback address is refused (egress guard)", async () => {
    const strict = await startServer();
    try {
      const tenant = await strict.createTenant();
      await strict.request("PUT", `/v1/tenants/${tenant}/oidc`, {
        body: {
          issuer: issuer.issuer,
          client_id: "hypha-app",
          role_mapping: { claim: "groups", map: { engineers: "DEVELOPER" } },
        },
      });
      const before = issuer.discoveryFetches();
      const res = await strict.request("POST", "/v1/auth/oidc", {
        key: null,
        body: { tenant_id: tenant, id_token: await mint({}) },
      });
      assert.equal(res.status, 401);
      assert.equal(issuer.discoveryFetches(), before);
    } finally {
      await strict.close();
    }
  });
});
