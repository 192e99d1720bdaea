import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createHyphaClient, HyphaError } from "../src/client/index.ts";
import { startServer, type TestServer } from "./harness.ts";
import { PASSWORD } from "./identity-helpers.ts";

describe("typed client: identity and access", () => {
  let s: TestServer;
  let tenantId: string;
  before(async () => {
    s = await startServer();
    tenantId = await s.createTenant();
  });
  after(() => s.close());

  test("users, sign-in, refresh and logout round-trip through the client; a spent refresh token is refused", async () => {
    const admin = createHyphaClient({ url: s.url, key: s.adminKey });
    const user = await admin.createUser(tenantId, {
      email: "client-ada@example.com",
      password: PASSWORD,
      roles: ["ADMIN"],
    });
    assert.equal((await admin.getUser(tenantId, user.id)).email, "client-ada@example.com");
    assert.ok((await admin.listUsers(tenantId)).items.some((u) => u.id === user.id));

    const anonymous = createHyphaClient({ url: s.url, key: "" });
    const signed = await anonymous.login({ tenant_id: tenantId, email: user.email, password: PASSWORD });
    assert.ok(signed.refresh_token, "the refresh token is read from the cookie");
    const asUser = createHyphaClient({ url: s.url, key: signed.access_token });
    assert.equal(
      ((await asUser.storeMemory({ namespace: "c", content: "by a person" })) as { agent: string }).agent,
      `user:${user.id}`,
    );

    const refreshed = await anonymous.refreshSession({
      refresh_token: signed.refresh_token ?? "",
      csrf_token: signed.csrf_token ?? "",
    });
    assert.notEqual(refreshed.refresh_token, signed.refresh_token);
    await assert.rejects(
      anonymous.refreshSession({
        refresh_token: signed.refresh_token ?? "",
        csrf_token: signed.csrf_token ?? "",
      }),
      (e: unknown) => e instanceof HyphaError && e.status === 401,
    );
    const again = await anonymous.login({ tenant_id: tenantId, email: user.email, password: PASSWORD });
    await anonymous.logout({ refresh_token: again.refresh_token ?? "", csrf_token: again.csrf_token ?? "" });
    await assert.rejects(
      anonymous.refreshSession({
        refresh_token: again.refresh_token ?? "",
        csrf_token: again.csrf_token ?? "",
      }),
      (e: unknown) => e instanceof HyphaError && e.status === 401,
    );
    await admin.updateUser(tenantId, user.id, { roles: ["VIEWER"] });
    assert.deepEqual((await admin.getUser(tenantId, user.id)).roles, ["VIEWER"]);
    const live = await anonymous.login({ tenant_id: tenantId, email: user.email, password: PASSWORD });
    assert.deepEqual(await admin.endUserSessions(tenantId, user.id), { ended: 1 }, "one live session ended");
    await assert.rejects(
      anonymous.refreshSession({
        refresh_token: live.refresh_token ?? "",
        csrf_token: live.csrf_token ?? "",
      }),
      (e: unknown) => e instanceof HyphaError && e.status === 401,
    );
  });

  test("key rotation, grants, OIDC configuration and JWT rotation through the client", async () => {
    const admin = createHyphaClient({ url: s.url, key: s.adminKey });
    const key = await admin.createKey(tenantId, { agent: "rotating", scopes: ["read"] });
    const rotated = await admin.rotateKey(tenantId, key.id, { grace_seconds: 60 });
    assert.notEqual(rotated.id, key.id);
    assert.match(rotated.key, /^hyk_/);

    const grant = await admin.createGrant(tenantId, { grantee: "team-a", namespace: "team-b" });
    assert.ok((await admin.listGrants(tenantId)).items.some((g) => g.id === grant.id));
    assert.ok((await admin.revokeGrant(tenantId, grant.id)).revoked_at);

    const oidc = await admin.putOidcConfig(tenantId, {
      issuer: "https://idp.example.com",
      client_id: "hypha",
      role_mapping: { claim: "groups", map: { engineers: "DEVELOPER" } },
    });
    assert.equal((await admin.getOidcConfig(tenantId)).issuer, oidc.issuer);
    assert.ok((await admin.rotateTenantJwtSecret(tenantId)).version);
  });
});
