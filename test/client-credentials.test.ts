import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createHyphaClient } from "../src/client/index.ts";
import { LOCAL, startReceiver, tokenValue } from "./credentials-helpers.ts";
import { startServer, type TestServer } from "./harness.ts";

describe("typed client: credential broker operations", () => {
  let s: TestServer;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    s = await startServer({ egressAllow: ["127.0.0.1"] });
    rx = await startReceiver();
  });
  after(async () => {
    await rx.close();
    await s.close();
  });

  test("create, list, get, rotate, proxy, start a grant and delete round-trip through the client", async () => {
    const admin = createHyphaClient({ url: s.url, key: s.adminKey });
    const tenant = await admin.createTenant({ name: "client-credentials" });
    const value = tokenValue();
    const created = await admin.createCredential(tenant.id, {
      name: "svc",
      service: "svc",
      allowed_hosts: [LOCAL],
      injection: { type: "header", name: "X-Key" },
      secret: value,
    });
    assert.equal(created.name, "svc");
    assert.equal((await admin.listCredentials(tenant.id)).items.length, 1);
    assert.equal((await admin.getCredential(tenant.id, "svc")).service, "svc");
    const next = tokenValue();
    assert.ok((await admin.rotateCredential(tenant.id, "svc", { secret: next })).rotated_at);
    const agent = await admin.createKey(tenant.id, {
      agent: "a",
      scopes: ["write"],
      capabilities: ["credentials.use.svc"],
    });
    const client = createHyphaClient({ url: s.url, key: agent.key });
    const res = await client.proxyHttp({ credential: "svc", method: "GET", url: `${rx.url}/c` });
    assert.ok("body" in res && res.status === 200);
    assert.equal(rx.seen.at(-1)?.headers["x-key"], next);
    await admin.createCredential(tenant.id, {
      name: "idp",
      service: "idp",
      allowed_hosts: ["api.idp.example.com"],
      injection: { type: "bearer" },
      oauth: {
        authorize_url: "https://idp.example.com/authorize",
        token_url: "https://idp.example.com/token",
        client_id: "c",
        redirect_uri: "https://hypha.example.com/cb",
      },
    });
    const owner = await admin.createKey(tenant.id, { agent: "owner", scopes: ["tenant:admin"] });
    const ownerClient = createHyphaClient({ url: s.url, key: owner.key });
    const grant = await ownerClient.startCredentialOAuth(tenant.id, "idp");
    assert.match(grant.authorize_url, /code_challenge_method=S256/);
    await assert.rejects(
      ownerClient.completeCredentialOAuth(tenant.id, "idp", { code: "c", state: "x.y" }),
      /OAUTH_STATE_INVALID|state/,
    );
    assert.equal((await admin.deleteCredential(tenant.id, "svc")).name, "svc");
  });
});
