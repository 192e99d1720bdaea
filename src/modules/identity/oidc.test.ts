import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type OidcIssuer, startOidcIssuer } from "../../../test/fixtures/oidc-issuer.ts";
import { manualClock } from "../../lib/clock.ts";
import { createOidcVerifier, mapOidcRoles, type OidcTenantConfig, oidcTenantConfigSchema } from "./oidc.ts";

const CLIENT_ID = "hypha-client";

function configFor(issuer: OidcIssuer, overrides: Partial<OidcTenantConfig> = {}): OidcTenantConfig {
  return {
    issuer: issuer.issuer,
    clientId: CLIENT_ID,
    roleMapping: { claim: "groups", map: { "hypha-admins": "ADMIN", engineers: "DEVELOPER" } },
    ...overrides,
  };
}

function setup(issuer: OidcIssuer, overrides: Partial<OidcTenantConfig> = {}, extra = {}) {
  const clock = manualClock();
  const verifier = createOidcVerifier({
    config: configFor(issuer, overrides),
    clock,
    allowLoopbackHttp: true,
    jwksTtlMs: 10 * 60_000,
    unknownKidCooldownMs: 60_000,
    ...extra,
  });
  const nowSec = () => Math.floor(clock.now() / 1000);
  const mint = (
    claims: Record<string, unknown> = {},
    options: { kid?: string; header?: Record<string, unknown> } = {},
  ) =>
    issuer.mintIdToken(
      { sub: "user-1", aud: CLIENT_ID, groups: ["engineers"], ...claims },
      { nowSec: nowSec(), ...options },
    );
  return { clock, verifier, nowSec, mint };
}

describe("OIDC ID token verification against a real local issuer", () => {
  let issuer: OidcIssuer;
  before(async () => {
    issuer = await startOidcIssuer();
  });
  after(() => issuer.close());

  test("a valid ID token verifies and yields subject, email and mapped roles", async () => {
    const { verifier, mint } = setup(issuer);
    const token = await mint({
      email: "ada@example.com",
      email_verified: true,
      groups: ["engineers", "other"],
    });
    const result = await verifier.verifyIdToken(token);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.subject, "user-1");
    assert.equal(result.email, "ada@example.com");
    assert.equal(result.emailVerified, true);
    assert.deepEqual(result.roles, ["DEVELOPER"]);
  });

  test("a token from another issuer is rejected as WRONG_ISSUER", async () => {
    const { verifier, mint } = setup(issuer);
    const result = await verifier.verifyIdToken(await mint({ iss: "https://evil.example" }));
    assert.deepEqual(result, { ok: false, reason: "WRONG_ISSUER" });
  });

  test("a token for another client is rejected as WRONG_AUDIENCE", async () => {
    const { verifier, mint } = setup(issuer);
    const result = await verifier.verifyIdToken(await mint({ aud: "someone-else" }));
    assert.deepEqual(result, { ok: false, reason: "WRONG_AUDIENCE" });
  });

  test("several audiences without azp naming us are rejected as AZP_MISMATCH", async () => {
    const { verifier, mint } = setup(issuer);
    const result = await verifier.verifyIdToken(await mint({ aud: [CLIENT_ID, "other"] }));
    assert.deepEqual(result, { ok: false, reason: "AZP_MISMATCH" });
    const withAzp = await verifier.verifyIdToken(await mint({ aud: [CLIENT_ID, "other"], azp: CLIENT_ID }));
    assert.equal(withAzp.ok, true);
  });

  test("an expired token is rejected as EXPIRED after exp plus the skew", async () => {
    const { verifier, mint, clock } = setup(issuer);
    const token = await mint();
    clock.advance((3600 + 29) * 1000);
    assert.equal((await verifier.verifyIdToken(token)).ok, true);
    clock.advance(2000);
    assert.deepEqual(await verifier.verifyIdToken(token), { ok: false, reason: "EXPIRED" });
  });

  test("nbf and iat in the future beyond the skew are rejected", async () => {
    const { verifier, mint, nowSec } = setup(issuer);
    assert.deepEqual(await verifier.verifyIdToken(await mint({ nbf: nowSec() + 120 })), {
      ok: false,
      reason: "NOT_YET_VALID",
    });
    assert.deepEqual(await verifier.verifyIdToken(await mint({ iat: nowSec() + 120 })), {
      ok: false,
      reason: "ISSUED_IN_FUTURE",
    });
  });

  test("a nonce is enforced when given", async () => {
    const { verifier, mint } = setup(issuer);
    const token = await mint({ nonce: "n-123" });
    assert.equal((await verifier.verifyIdToken(token, { nonce: "n-123" })).ok, true);
    assert.deepEqual(await verifier.verifyIdToken(token, { nonce: "n-456" }), {
      ok: false,
      reason: "NONCE_MISMATCH",
    });
    const without = await mint();
    assert.deepEqual(await verifier.verifyIdToken(without, { nonce: "n-123" }), {
      ok: false,
      reason: "NONCE_MISMATCH",
    });
  });

  test("only RS256 and ES256 are accepted: an HS256 token keyed with the public key material is refused", async () => {
    const { verifier, nowSec } = setup(issuer);
    const [kid] = issuer.publishedKids();
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const input = `${enc({ alg: "HS256", kid })}.${enc({ iss: issuer.issuer, aud: CLIENT_ID, sub: "x", iat: nowSec(), exp: nowSec() + 60 })}`;
    const forged = `${input}.${createHmac("sha256", "public-key-bytes").update(input).digest("base64url")}`;
    assert.deepEqual(await verifier.verifyIdToken(forged), { ok: false, reason: "ALG_NOT_ALLOWED" });
  });

  test("a token carrying its own key (jwk/jku header) is refused and causes no JWKS fetch", async () => {
    const { verifier, mint } = setup(issuer);
    await verifier.verifyIdToken(await mint());
    const before = issuer.jwksFetches();
    const jku = await mint({}, { header: { jku: "https://attacker.example/jwks", kid: "attacker" } });
    assert.deepEqual(await verifier.verifyIdToken(jku), { ok: false, reason: "FORBIDDEN_HEADER" });
    assert.equal(issuer.jwksFetches(), before);
  });

  test("the JWKS and discovery are fetched once across many verifications, and again after the TTL", async () => {
    const { verifier, mint, clock } = setup(issuer);
    const jwksBefore = issuer.jwksFetches();
    const discoveryBefore = issuer.discoveryFetches();
    const token = await mint();
    const results = await Promise.all(Array.from({ length: 50 }, () => verifier.verifyIdToken(token)));
    assert.ok(results.every((r) => r.ok));
    assert.equal(issuer.jwksFetches() - jwksBefore, 1);
    assert.equal(issuer.discoveryFetches() - discoveryBefore, 1);
    clock.advance(10 * 60_000);
    assert.equal((await verifier.verifyIdToken(await mint())).ok, true);
    assert.equal(issuer.jwksFetches() - jwksBefore, 2);
  });

  test("a discovery document whose issuer differs from the configured one fails as DISCOVERY_FAILED, retried only after the cooldown", async () => {
    const { verifier, mint, clock } = setup(issuer, { issuer: `${issuer.issuer}/` });
    const before = issuer.discoveryFetches();
    const token = await mint();
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(await verifier.verifyIdToken(token), { ok: false, reason: "DISCOVERY_FAILED" });
    }
    assert.equal(issuer.discoveryFetches() - before, 1);
    clock.advance(60_000);
    await verifier.verifyIdToken(token);
    assert.equal(issuer.discoveryFetches() - before, 2);
  });

  test("plain http to the provider is refused unless explicitly allowed for loopback", async () => {
    const { verifier, mint } = setup(issuer, {}, { allowLoopbackHttp: false });
    assert.deepEqual(await verifier.verifyIdToken(await mint()), { ok: false, reason: "DISCOVERY_FAILED" });
  });

  test("an ES256 issuer is accepted", async () => {
    const ecIssuer = await startOidcIssuer({ alg: "ES256" });
    try {
      const { verifier, mint } = setup(ecIssuer);
      const result = await verifier.verifyIdToken(await mint());
      assert.equal(result.ok, true);
    } finally {
      await ecIssuer.close();
    }
  });
});

describe("OIDC key rotation and unknown kids", () => {
  test("an unknown kid causes one refetch and then succeeds after rotation; the retired key is then unknown", async () => {
    const issuer = await startOidcIssuer();
    try {
      const { verifier, mint, clock } = setup(issuer);
      const [oldKid] = issuer.publishedKids();
      assert.equal((await verifier.verifyIdToken(await mint())).ok, true);
      assert.equal(issuer.jwksFetches(), 1);

      clock.advance(61_000);
      const newKid = await issuer.addKey();
      issuer.retireKey(oldKid ?? "");
      const rotated = await verifier.verifyIdToken(await mint({}, { kid: newKid }));
      assert.ok(rotated.ok, JSON.stringify(rotated));
      assert.equal(issuer.jwksFetches(), 2);

      const stale = await verifier.verifyIdToken(await mint({}, { kid: oldKid }));
      assert.deepEqual(stale, { ok: false, reason: "UNKNOWN_KID" });
      assert.equal(issuer.jwksFetches(), 2, "within the cooldown an unknown kid fetches nothing");
    } finally {
      await issuer.close();
    }
  });

  test("a kid still unknown after the refetch is rejected, and a burst of unknown kids costs one fetch per cooldown", async () => {
    const issuer = await startOidcIssuer();
    try {
      const { verifier, mint, clock } = setup(issuer);
      assert.equal((await verifier.verifyIdToken(await mint())).ok, true);
      const ghost = await issuer.addUnpublishedKey();
      const forged = await mint({}, { kid: ghost });

      clock.advance(61_000);
      const burst = await Promise.all(Array.from({ length: 25 }, () => verifier.verifyIdToken(forged)));
      assert.ok(burst.every((r) => !r.ok && r.reason === "UNKNOWN_KID"));
      assert.equal(issuer.jwksFetches(), 2);

      for (let i = 0; i < 25; i++) {
        clock.advance(1000);
        assert.deepEqual(await verifier.verifyIdToken(forged), { ok: false, reason: "UNKNOWN_KID" });
      }
      assert.equal(issuer.jwksFetches(), 2, "no refetch inside the 60 s cooldown");
      clock.advance(60_000);
      await verifier.verifyIdToken(forged);
      assert.equal(issuer.jwksFetches(), 3);
    } finally {
      await issuer.close();
    }
  });
});

describe("role mapping per provider shape", () => {
  const map = {
    "hypha-admins": "ADMIN",
    auditors: "AUDIT_ADMIN",
    engineers: "DEVELOPER",
    readers: "VIEWER",
  } as const;

  test("Okta: groups claim", () => {
    const roles = mapOidcRoles({ groups: ["Everyone", "engineers", "auditors"] }, { claim: "groups", map });
    assert.deepEqual(roles, ["AUDIT_ADMIN", "DEVELOPER"]);
  });

  test("Auth0: roles claim and a namespaced custom claim (dots in the claim name are not a path)", () => {
    assert.deepEqual(mapOidcRoles({ roles: ["hypha-admins"] }, { claim: "roles", map }), ["ADMIN"]);
    const namespaced = { "https://hypha.example/roles": ["readers", "engineers"] };
    assert.deepEqual(mapOidcRoles(namespaced, { claim: "https://hypha.example/roles", map }), [
      "DEVELOPER",
      "VIEWER",
    ]);
  });

  test("Keycloak: realm_access.roles and resource_access.<client>.roles", () => {
    const claims = {
      realm_access: { roles: ["offline_access", "readers"] },
      resource_access: { "hypha-client": { roles: ["hypha-admins"] }, other: { roles: ["engineers"] } },
    };
    assert.deepEqual(mapOidcRoles(claims, { claim: "realm_access.roles", map }), ["VIEWER"]);
    assert.deepEqual(mapOidcRoles(claims, { claim: "resource_access.hypha-client.roles", map }), ["ADMIN"]);
    assert.deepEqual(mapOidcRoles(claims, { claim: "resource_access.missing.roles", map }), []);
  });

  test("Google: no role claim gives the default role, or none", () => {
    const google = { sub: "1", email: "a@gmail.com", email_verified: true, hd: "example.com" };
    assert.deepEqual(mapOidcRoles(google, { claim: "groups", map }, "VIEWER"), ["VIEWER"]);
    assert.deepEqual(mapOidcRoles(google, { claim: "groups", map }), []);
  });

  test("unmapped values, non-strings and prototype keys grant nothing; a lone string counts", () => {
    assert.deepEqual(
      mapOidcRoles({ groups: ["toString", "__proto__", 7, null] }, { claim: "groups", map }),
      [],
    );
    assert.deepEqual(mapOidcRoles({ groups: "engineers" }, { claim: "groups", map }), ["DEVELOPER"]);
    const proto = JSON.parse('{"resource_access":{"__proto__":{"roles":["hypha-admins"]}}}');
    assert.deepEqual(mapOidcRoles(proto, { claim: "resource_access.__proto__.roles", map }), ["ADMIN"]);
    assert.deepEqual(mapOidcRoles({}, { claim: "resource_access.constructor.roles", map }), []);
  });

  test("the tenant config schema accepts the documented claim shapes and refuses others", () => {
    const base = { issuer: "https://idp.example", clientId: "c", roleMapping: { claim: "groups", map } };
    for (const claim of [
      "roles",
      "groups",
      "realm_access.roles",
      "resource_access.hypha.roles",
      "https://x.example/roles",
    ]) {
      assert.equal(
        oidcTenantConfigSchema.safeParse({ ...base, roleMapping: { claim, map } }).success,
        true,
        claim,
      );
    }
    for (const claim of ["email", "realm_access", "resource_access..roles", "http://x.example/roles"]) {
      assert.equal(
        oidcTenantConfigSchema.safeParse({ ...base, roleMapping: { claim, map } }).success,
        false,
        claim,
      );
    }
    assert.equal(
      oidcTenantConfigSchema.safeParse({ ...base, roleMapping: { claim: "groups", map: { a: "ROOT" } } })
        .success,
      false,
    );
  });
});
